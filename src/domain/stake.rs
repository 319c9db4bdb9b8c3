//! Stakes (桩号, chainage): `K12+300` is 12 300 m from the route origin along the centre line (DOMAIN.md §4).
//!
//! A stake is kilometres, `+`, then exactly three digits of metres, with optional decimals (`K7+814.19`) and an
//! optional `ZK`/`YK` prefix for the left/right carriageway of a divided road. Stakes are not true distances:
//! chainage breaks (断链) are modelled elsewhere, this module only reads and writes the notation.
//!
//! Parsing is hand-written (no regex) so that each kind of mistake gets its own message saying how to fix it.

use std::fmt;
use std::str::FromStr;

/// Longest stake text accepted, in characters after trimming; the longest valid stake, `ZK9999+999.999`, has 14.
pub const STAKE_TEXT_CHARS_MAX: usize = 32;
/// Most digits allowed for the kilometres, so at most K9999 (9 999 km: longer than any route).
pub const STAKE_KM_DIGITS_MAX: usize = 4;
/// Most decimal digits allowed after the metres: millimetres, far finer than any survey of a road.
/// Keeping this bound makes [`Stake`]'s `Display` output re-parse to exactly the same value.
pub const STAKE_DECIMALS_MAX: usize = 3;
/// Largest stake value, in metres: `K9999+999.999`.
pub const STAKE_METRES_MAX: f64 = 9_999_999.999;

/// The expected form, quoted in every parse error so the user sees how to fix the input.
const EXPECTED_FORM: &str = "K12+300 (kilometres + three-digit metres, optional ZK/YK prefix)";

/// Which carriageway a stake is measured along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Carriageway {
    /// An undivided road, or the centre line: prefix `K`.
    Single,
    /// The left carriageway of a divided road (左幅): prefix `ZK`.
    Left,
    /// The right carriageway of a divided road (右幅): prefix `YK`.
    Right,
}

impl Carriageway {
    /// The stake prefix for this carriageway: `K`, `ZK` or `YK`.
    pub fn prefix(self) -> &'static str {
        match self {
            Carriageway::Single => "K",
            Carriageway::Left => "ZK",
            Carriageway::Right => "YK",
        }
    }
}

/// A position along a route, as written on a stake: carriageway plus metres from the route origin.
///
/// Invariant (upheld by [`Stake::parse`] and [`Stake::new`]): `metres` is finite and in
/// `0.0..=STAKE_METRES_MAX`. `Display` writes millimetre precision, so values from `parse` round-trip exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Stake {
    pub carriageway: Carriageway,
    /// Metres from the route origin by the stake numbering (not necessarily true distance, see 断链).
    pub metres: f64,
}

/// Why a stake could not be read or built.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StakeError {
    #[error("stake is empty: expected the form {form}", form = EXPECTED_FORM)]
    Empty,
    /// The text (trimmed) is longer than [`STAKE_TEXT_CHARS_MAX`]; it is not echoed back.
    #[error(
        "stake is {chars} characters long, more than the {max} allowed: expected the form {form}",
        max = STAKE_TEXT_CHARS_MAX,
        form = EXPECTED_FORM
    )]
    TooLong { chars: usize },
    /// The text (trimmed, at most [`STAKE_TEXT_CHARS_MAX`] characters) and what is wrong with it.
    #[error("stake {text:?} is not of the form {form}: {problem}", form = EXPECTED_FORM)]
    Malformed { text: String, problem: &'static str },
    /// [`Stake::new`] was given a value that no stake can have.
    #[error("stake of {metres} m is out of range: it must be a number from 0 to {max} m", max = STAKE_METRES_MAX)]
    OutOfRange { metres: f64 },
}

impl Stake {
    /// The stake of a measure derived from a road (not typed by a person): on the centre line, to the metre,
    /// never below K0+000. `None` for a measure no stake can have (NaN, beyond K9999).
    pub fn derived(metres: f64) -> Option<Stake> {
        Stake::new(Carriageway::Single, metres.max(0.0).round()).ok()
    }

    /// Builds a stake from a number of metres (e.g. read back from the database), checking the invariant.
    pub fn new(carriageway: Carriageway, metres: f64) -> Result<Stake, StakeError> {
        // Written so that NaN fails too.
        if (0.0..=STAKE_METRES_MAX).contains(&metres) {
            Ok(Stake { carriageway, metres })
        } else {
            Err(StakeError::OutOfRange { metres })
        }
    }

    /// Reads a stake such as `K12+300`, `K7+814.19`, `ZK3+050` or `yk0+000`.
    ///
    /// Prefixes are case-insensitive and surrounding whitespace is ignored. The kilometres are 1 to 4 digits,
    /// the metres after `+` exactly 3 digits (000 to 999), optionally followed by `.` and 1 to 3 decimals.
    pub fn parse(text: &str) -> Result<Stake, StakeError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(StakeError::Empty);
        }
        let chars = trimmed.chars().count();
        if chars > STAKE_TEXT_CHARS_MAX {
            return Err(StakeError::TooLong { chars });
        }
        let malformed = |problem| StakeError::Malformed { text: trimmed.to_owned(), problem };

        // Everything valid is ASCII, so work on bytes: a non-ASCII byte simply never matches.
        let (carriageway, rest) = match trimmed.as_bytes() {
            [b'Z' | b'z', b'K' | b'k', rest @ ..] => (Carriageway::Left, rest),
            [b'Y' | b'y', b'K' | b'k', rest @ ..] => (Carriageway::Right, rest),
            [b'K' | b'k', rest @ ..] => (Carriageway::Single, rest),
            _ => return Err(malformed("it must start with K, ZK or YK")),
        };

        let (km_digits, rest) = split_digits(rest);
        if km_digits.is_empty() || km_digits.len() > STAKE_KM_DIGITS_MAX {
            return Err(malformed("the kilometres after K must be 1 to 4 digits"));
        }

        let [b'+', rest @ ..] = rest else {
            return Err(malformed("the kilometres must be followed by +"));
        };

        let (metre_digits, rest) = split_digits(rest);
        if metre_digits.len() != 3 {
            return Err(malformed("the metres after + must be exactly three digits, 000 to 999"));
        }

        let (decimal_digits, rest) = match rest {
            [b'.', rest @ ..] => {
                let (decimals, rest) = split_digits(rest);
                if decimals.is_empty() || decimals.len() > STAKE_DECIMALS_MAX {
                    return Err(malformed("a decimal point must be followed by 1 to 3 digits (down to millimetres)"));
                }
                (decimals, rest)
            }
            _ => (&[][..], rest),
        };

        if !rest.is_empty() {
            return Err(malformed("nothing may follow the metres (no units or spaces)"));
        }

        // Sum in whole millimetres and divide once: the result is the f64 nearest the decimal text, so
        // `K7+814.19` gives exactly `7814.19`. At most 10^10 mm, so u64 cannot overflow.
        let mut decimal_mm = digits_value(decimal_digits);
        for _ in decimal_digits.len()..STAKE_DECIMALS_MAX {
            decimal_mm *= 10;
        }
        let total_mm = digits_value(km_digits) * 1_000_000 + digits_value(metre_digits) * 1_000 + decimal_mm;
        Ok(Stake { carriageway, metres: total_mm as f64 / 1_000.0 })
    }
}

impl FromStr for Stake {
    type Err = StakeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Stake::parse(text)
    }
}

/// Splits off the leading ASCII digits.
fn split_digits(bytes: &[u8]) -> (&[u8], &[u8]) {
    let digit_count = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    bytes.split_at(digit_count)
}

/// The value of a run of ASCII digits; callers bound its length (at most 4 digits here).
fn digits_value(digits: &[u8]) -> u64 {
    digits.iter().fold(0, |value, digit| value * 10 + u64::from(digit - b'0'))
}

impl fmt::Display for Stake {
    /// Canonical text: prefix, kilometres without leading zeros, `+`, three-digit metres, then decimals
    /// rounded to the millimetre with trailing zeros removed: `K12+300`, `K7+814.19`, `ZK3+050`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = self.carriageway.prefix();
        if !(self.metres.is_finite() && self.metres >= 0.0) {
            // Only reachable by building a Stake with bad fields by hand. Write something visibly wrong that
            // will not parse back, rather than a plausible stake such as K0+000.
            return write!(f, "{prefix}(invalid: {} m)", self.metres);
        }
        // Round once, in whole millimetres, so 999.9996 m carries into K1+000 instead of printing K0+1000.
        let total_mm = (self.metres * 1_000.0).round() as u64;
        let km = total_mm / 1_000_000;
        let metres = total_mm / 1_000 % 1_000;
        let mm = total_mm % 1_000;
        write!(f, "{prefix}{km}+{metres:03}")?;
        if mm != 0 {
            let decimals = format!("{mm:03}");
            write!(f, ".{}", decimals.trim_end_matches('0'))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stake(carriageway: Carriageway, metres: f64) -> Stake {
        Stake { carriageway, metres }
    }

    fn malformed(text: &str, problem: &'static str) -> StakeError {
        StakeError::Malformed { text: text.to_owned(), problem }
    }

    const START: &str = "it must start with K, ZK or YK";
    const KM: &str = "the kilometres after K must be 1 to 4 digits";
    const PLUS: &str = "the kilometres must be followed by +";
    const METRES: &str = "the metres after + must be exactly three digits, 000 to 999";
    const DECIMALS: &str = "a decimal point must be followed by 1 to 3 digits (down to millimetres)";
    const TRAILING: &str = "nothing may follow the metres (no units or spaces)";

    #[test]
    fn parse_accepts_valid_stakes() {
        use Carriageway::{Left, Right, Single};
        let cases = [
            ("K12+300", Single, 12_300.0),
            ("K7+814.19", Single, 7_814.19),
            ("ZK3+050", Left, 3_050.0),
            ("YK0+000", Right, 0.0),
            ("k12+300", Single, 12_300.0),
            ("zk3+050", Left, 3_050.0),
            ("Yk0+001", Right, 1.0),
            ("zK3+050", Left, 3_050.0),
            ("  K12+300\t", Single, 12_300.0),
            ("\nZK3+050 ", Left, 3_050.0),
            ("K0+000.5", Single, 0.5),
            ("K0+000.001", Single, 0.001),
            ("K7+814.190", Single, 7_814.19),
            ("K12+300.0", Single, 12_300.0),
            ("K012+300", Single, 12_300.0),
            ("K0012+999", Single, 12_999.0),
            ("K1+000", Single, 1_000.0),
            ("K9999+999.999", Single, 9_999_999.999),
            ("YK9999+999.999", Right, 9_999_999.999),
        ];
        for (text, carriageway, metres) in cases {
            assert_eq!(Stake::parse(text), Ok(stake(carriageway, metres)), "{text:?}");
            assert_eq!(text.parse::<Stake>(), Ok(stake(carriageway, metres)), "{text:?}");
        }
    }

    #[test]
    fn parse_rejects_malformed_stakes_saying_what_is_wrong() {
        let cases = [
            ("K12+1000", malformed("K12+1000", METRES)),
            ("K+300", malformed("K+300", KM)),
            ("K12+30", malformed("K12+30", METRES)),
            ("K12+", malformed("K12+", METRES)),
            ("K12+3000", malformed("K12+3000", METRES)),
            ("12+300", malformed("12+300", START)),
            ("+300", malformed("+300", START)),
            ("XK1+000", malformed("XK1+000", START)),
            ("Z12+300", malformed("Z12+300", START)),
            ("K12+300m", malformed("K12+300m", TRAILING)),
            ("K12+300 m", malformed("K12+300 m", TRAILING)),
            ("K12+300+100", malformed("K12+300+100", TRAILING)),
            ("K12-300", malformed("K12-300", PLUS)),
            ("K12300", malformed("K12300", KM)),
            ("K1230", malformed("K1230", PLUS)),
            ("K12 +300", malformed("K12 +300", PLUS)),
            ("K12+ 300", malformed("K12+ 300", METRES)),
            ("K 12+300", malformed("K 12+300", KM)),
            ("KK12+300", malformed("KK12+300", KM)),
            ("K-1+000", malformed("K-1+000", KM)),
            ("K12345+000", malformed("K12345+000", KM)),
            ("K12+300.", malformed("K12+300.", DECIMALS)),
            ("K12+300.1234", malformed("K12+300.1234", DECIMALS)),
            ("K12+300,5", malformed("K12+300,5", TRAILING)),
            ("K12+300.5.5", malformed("K12+300.5.5", TRAILING)),
            // NaN-like and float-like input: only digits are ever read, so these cannot sneak through `f64::from_str`.
            ("NaN", malformed("NaN", START)),
            ("KNaN+300", malformed("KNaN+300", KM)),
            ("K12+NaN", malformed("K12+NaN", METRES)),
            ("K12+inf", malformed("K12+inf", METRES)),
            ("Kinf+000", malformed("Kinf+000", KM)),
            ("K1e3+000", malformed("K1e3+000", PLUS)),
            ("K12+3e2", malformed("K12+3e2", METRES)),
            ("K12+300e0", malformed("K12+300e0", TRAILING)),
            // Full-width characters typed with a Chinese input method are not silently accepted.
            ("Ｋ12+300", malformed("Ｋ12+300", START)),
            ("K12＋300", malformed("K12＋300", PLUS)),
            ("K１２+300", malformed("K１２+300", KM)),
        ];
        for (text, want) in cases {
            assert_eq!(Stake::parse(text), Err(want), "{text:?}");
        }
    }

    #[test]
    fn parse_rejects_empty_and_blank_text() {
        for text in ["", " ", "\t\n "] {
            assert_eq!(Stake::parse(text), Err(StakeError::Empty), "{text:?}");
        }
    }

    #[test]
    fn parse_rejects_text_longer_than_the_limit_in_characters() {
        let very_long = "K1+000".repeat(1_000);
        let cases = [
            // 33 ASCII characters.
            ("K12+300.1234567890123456789012345", 33),
            // 16 characters but 48 bytes: the limit counts characters.
            ("桩号桩号桩号桩号桩号桩号桩号桩号", 16),
            // 33 characters of which 3 multi-byte.
            ("桩号K12+300.12345678901234567890123", 33),
            (very_long.as_str(), 6_000),
        ];
        for (text, chars) in cases {
            let want =
                if chars > STAKE_TEXT_CHARS_MAX { StakeError::TooLong { chars } } else { malformed(text, START) };
            assert_eq!(Stake::parse(text), Err(want), "{text:?}");
        }
        // Exactly at the limit the length is fine and the form is what gets reported.
        let at_limit = "K12+300.123456789012345678901234";
        assert_eq!(at_limit.chars().count(), STAKE_TEXT_CHARS_MAX);
        assert_eq!(Stake::parse(at_limit), Err(malformed(at_limit, DECIMALS)));
        // Surrounding whitespace does not count.
        let padded = format!("{}K12+300{}", " ".repeat(40), " ".repeat(40));
        assert_eq!(Stake::parse(&padded), Ok(stake(Carriageway::Single, 12_300.0)));
    }

    #[test]
    fn error_messages_say_what_is_wrong_and_show_the_expected_form() {
        let cases = [
            (
                Stake::parse("K12-300").unwrap_err(),
                "stake \"K12-300\" is not of the form K12+300 (kilometres + three-digit metres, optional \
                 ZK/YK prefix): the kilometres must be followed by +",
            ),
            (
                Stake::parse(" K12+30 ").unwrap_err(),
                "stake \"K12+30\" is not of the form K12+300 (kilometres + three-digit metres, optional \
                 ZK/YK prefix): the metres after + must be exactly three digits, 000 to 999",
            ),
            (
                Stake::parse("").unwrap_err(),
                "stake is empty: expected the form K12+300 (kilometres + three-digit metres, optional ZK/YK \
                 prefix)",
            ),
            (
                Stake::parse(&"9".repeat(40)).unwrap_err(),
                "stake is 40 characters long, more than the 32 allowed: expected the form K12+300 \
                 (kilometres + three-digit metres, optional ZK/YK prefix)",
            ),
            (
                Stake::new(Carriageway::Single, -1.5).unwrap_err(),
                "stake of -1.5 m is out of range: it must be a number from 0 to 9999999.999 m",
            ),
        ];
        for (err, want) in cases {
            assert_eq!(err.to_string(), want);
        }
    }

    #[test]
    fn new_checks_the_range() {
        let cases = [
            (0.0, true),
            (12_300.0, true),
            (7_814.19, true),
            (STAKE_METRES_MAX, true),
            (-0.001, false),
            (10_000_000.0, false),
            (f64::INFINITY, false),
            (f64::NEG_INFINITY, false),
        ];
        for (metres, ok) in cases {
            let want = if ok { Ok(stake(Carriageway::Right, metres)) } else { Err(StakeError::OutOfRange { metres }) };
            assert_eq!(Stake::new(Carriageway::Right, metres), want, "{metres}");
        }
        // NaN != NaN, so match instead of comparing.
        assert!(matches!(
            Stake::new(Carriageway::Single, f64::NAN),
            Err(StakeError::OutOfRange { metres }) if metres.is_nan()
        ));
    }

    #[test]
    fn display_writes_canonical_text() {
        use Carriageway::{Left, Right, Single};
        let cases = [
            (stake(Single, 12_300.0), "K12+300"),
            (stake(Single, 7_814.19), "K7+814.19"),
            (stake(Left, 3_050.0), "ZK3+050"),
            (stake(Right, 0.0), "YK0+000"),
            (stake(Single, 0.5), "K0+000.5"),
            (stake(Single, 0.001), "K0+000.001"),
            (stake(Single, 1_000.05), "K1+000.05"),
            (stake(Single, 12_000.0), "K12+000"),
            (stake(Single, 999.0), "K0+999"),
            (stake(Single, STAKE_METRES_MAX), "K9999+999.999"),
            // Rounded to the millimetre, with the carry going all the way into the kilometres.
            (stake(Single, 7_814.190_4), "K7+814.19"),
            (stake(Single, 7_814.199_6), "K7+814.2"),
            (stake(Single, 999.999_6), "K1+000"),
            (stake(Single, 0.0004), "K0+000"),
            // Invariant broken by hand: visibly wrong, never a plausible stake.
            (stake(Single, -5.0), "K(invalid: -5 m)"),
            (stake(Left, f64::NAN), "ZK(invalid: NaN m)"),
            (stake(Right, f64::INFINITY), "YK(invalid: inf m)"),
        ];
        for (stake, want) in cases {
            assert_eq!(stake.to_string(), want, "{stake:?}");
        }
    }

    #[test]
    fn parse_then_display_gives_canonical_text() {
        let cases = [
            ("K12+300", "K12+300"),
            ("K7+814.19", "K7+814.19"),
            ("ZK3+050", "ZK3+050"),
            ("YK0+000", "YK0+000"),
            ("K9999+999.999", "K9999+999.999"),
            ("k12+300", "K12+300"),
            (" zk003+050.500 ", "ZK3+050.5"),
            ("K7+814.190", "K7+814.19"),
            ("K12+300.000", "K12+300"),
            ("yK0000+000.0", "YK0+000"),
        ];
        for (text, want) in cases {
            assert_eq!(Stake::parse(text).unwrap().to_string(), want, "{text:?}");
        }
    }

    #[test]
    fn display_then_parse_gives_back_the_same_stake() {
        // Every millimetre value that parse can produce must survive Display exactly; sample the awkward ones
        // (decimal fractions that binary floating point cannot represent, and every carry boundary).
        let millimetres: [u64; 14] = [
            0,
            1,
            10,
            100,
            190,
            999,
            1_000,
            999_999,
            1_000_000,
            7_814_190,
            12_300_001,
            123_456_789,
            9_999_999_998,
            9_999_999_999,
        ];
        for carriageway in [Carriageway::Single, Carriageway::Left, Carriageway::Right] {
            for mm in millimetres {
                let original = stake(carriageway, mm as f64 / 1_000.0);

                let reparsed = Stake::parse(&original.to_string());

                assert_eq!(reparsed, Ok(original.clone()), "{original:?} -> {original}");
            }
        }
        // And every decimal ending within one metre.
        for mm in 0..1_000_u64 {
            let original = stake(Carriageway::Single, (7_814_000 + mm) as f64 / 1_000.0);
            assert_eq!(Stake::parse(&original.to_string()), Ok(original.clone()), "{original}");
        }
    }

    #[test]
    fn carriageway_prefixes_and_serde_names() {
        let cases = [
            (Carriageway::Single, "K", "\"single\""),
            (Carriageway::Left, "ZK", "\"left\""),
            (Carriageway::Right, "YK", "\"right\""),
        ];
        for (carriageway, prefix, json) in cases {
            assert_eq!(carriageway.prefix(), prefix);
            assert_eq!(serde_json::to_string(&carriageway).unwrap(), json);
            assert_eq!(serde_json::from_str::<Carriageway>(json).unwrap(), carriageway);
        }
    }
}
