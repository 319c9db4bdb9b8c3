//! The public report page's submission (issue 13, 随手拍) and its abuse limits, without a CAPTCHA service:
//! what the page sends and its validation, the sender's salted hashes, and the stateless proof-of-work
//! challenge. No I/O: the counters live in `db::citizen`, the handler is `http::citizen`.
//!
//! The limits, each a setting ([`PublicLimits`]):
//! - a proof of work: the page asks `GET /api/v1/public/challenge` for a challenge the server signs (HMAC
//!   with the database's shared secret, an expiry and the difficulty inside) and finds a nonce whose SHA-256
//!   with the challenge starts with `difficulty_bits` zero bits (about a second on a phone at 16 bits); a
//!   challenge is good for one submission. It costs a person nothing and a script sending thousands CPU time;
//! - a honeypot field (`website`), hidden from people by the page: a form-filling robot fills it in;
//! - per address and per device counters (hourly and daily), and a county-wide daily cap;
//! - the photo limits (bytes, pixels, 1–3 photos) and the description's length.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::coords::{self, SourceCrs};
use super::photo_evidence::PhotoEvidenceInput;
use super::public_report::{self, Category};

/// The abuse limits of the public report page (`http::Settings::public_limits`, CLI `--public-*`).
#[derive(Debug, Clone, Copy)]
pub struct PublicLimits {
    /// Reports from one address (an IPv4 address, an IPv6 /64) per hour.
    pub per_address_hour: i32,
    /// Reports from one device (the page's id) per county day.
    pub per_device_day: i32,
    /// Reports from everyone per county day: past it the page says to call the hotline.
    pub per_day: i32,
    /// Leading zero bits of the proof of work; 0 turns it off.
    pub pow_bits: u8,
    /// How long a challenge may be solved and used.
    pub challenge_ttl: chrono::Duration,
    /// A description's length, characters (at most `public_report::DESCRIPTION_CHARS_MAX`).
    pub description_chars_max: usize,
}

impl Default for PublicLimits {
    fn default() -> Self {
        PublicLimits {
            per_address_hour: 5,
            per_device_day: 10,
            per_day: 300,
            pow_bits: 16,
            challenge_ttl: chrono::Duration::minutes(15),
            description_chars_max: 500,
        }
    }
}

/// Most proof-of-work bits a setting may ask: 2²⁴ hashes is already half a minute on a slow phone.
pub const POW_BITS_MAX: u8 = 24;

/// The JSON part of `POST /api/v1/public/reports`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportInput {
    /// Made by the page per draft, so a retried submission is recognised.
    pub submission_id: Uuid,
    /// A code of `GET /api/v1/public/categories`.
    pub category: String,
    #[serde(default)]
    pub description: String,
    /// `[longitude, latitude]` in `crs`.
    pub point: [f64; 2],
    #[serde(default)]
    pub crs: SourceCrs,
    /// The fix's accuracy, metres (absent when the point was tapped on the map).
    pub accuracy_m: Option<f64>,
    /// For a call back, optional; only dispatchers ever read it.
    pub phone: Option<String>,
    /// The page's own random id, kept in the browser: the per-device limit's key.
    pub device_id: String,
    /// The honeypot: a field the page hides from people. Anything in it refuses the report.
    #[serde(default)]
    pub website: String,
    /// From `GET /api/v1/public/challenge`, and the nonce that solves it.
    #[serde(default)]
    pub challenge: String,
    #[serde(default)]
    pub nonce: String,
    /// What the phone read from each original photo before resizing it (its EXIF: time, place, direction,
    /// camera, size), one entry per photo in the photos' order. Optional: evidence for staff, never public.
    #[serde(default)]
    pub photo_evidence: Option<Vec<PhotoEvidenceInput>>,
}

/// A submission that passed every check of its fields.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidReport {
    pub submission_id: Uuid,
    pub category: &'static Category,
    pub description: String,
    /// WGS-84.
    pub point: (f64, f64),
    pub crs: SourceCrs,
    pub accuracy_m: Option<f64>,
    pub phone: Option<String>,
    pub device_id: String,
}

/// A field that breaks a rule: which, and why (for a 422).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {why}")]
pub struct FieldError {
    pub field: &'static str,
    pub why: String,
}

fn refuse(field: &'static str, why: impl Into<String>) -> FieldError {
    FieldError { field, why: why.into() }
}

impl ReportInput {
    pub fn validate(self, limits: &PublicLimits) -> Result<ValidReport, FieldError> {
        let category = public_report::category(&self.category).ok_or_else(|| {
            refuse(
                "category",
                format!(
                    "unknown code {:?}; see GET /api/v1/public/categories",
                    self.category.chars().take(40).collect::<String>()
                ),
            )
        })?;
        let description = self.description.trim().to_string();
        let chars_max = limits.description_chars_max.min(public_report::DESCRIPTION_CHARS_MAX);
        let chars = description.chars().count();
        if chars > chars_max {
            return Err(refuse("description", format!("is {chars} characters; at most {chars_max}")));
        }
        if description.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(refuse("description", "holds control characters"));
        }
        let [lon, lat] = self.point;
        if !coords::in_china(lon, lat) {
            return Err(refuse(
                "point",
                format!("[{lon}, {lat}] is not in China: send [longitude, latitude] in degrees"),
            ));
        }
        let point = coords::to_wgs84(self.crs, lon, lat);
        if let Some(a) = self.accuracy_m
            && !(a.is_finite() && (0.0..=10_000.0).contains(&a))
        {
            return Err(refuse("accuracy_m", "is metres between 0 and 10000"));
        }
        let phone = match self.phone.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => Some(public_report::normalise_phone(p).map_err(|why| refuse("phone", why))?),
            None => None,
        };
        let device_id = self.device_id;
        if !(8..=64).contains(&device_id.len())
            || !device_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(refuse("device_id", "is 8 to 64 letters, digits, '-' or '_' (the page makes it)"));
        }
        Ok(ValidReport {
            submission_id: self.submission_id,
            category,
            description,
            point,
            crs: self.crs,
            accuracy_m: self.accuracy_m,
            phone,
            device_id,
        })
    }
}

/// HMAC-SHA256 (RFC 2104) over SHA-256's 64-byte blocks.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// A sender's key as stored: the salted SHA-256 of `kind` and `value`, never the value itself.
pub fn salted_hash(secret: &[u8; 32], kind: &str, value: &str) -> [u8; 32] {
    Sha256::new().chain_update(secret).chain_update(kind).chain_update([0]).chain_update(value).finalize().into()
}

/// The part of a client's address that names one subscriber: an IPv4 address, or an IPv6 address's /64 (a
/// phone or a home gets a whole /64 and may use any address in it).
pub fn address_key(addr: &str) -> String {
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
        Ok(v4) => v4.to_string(),
        Err(_) => addr.chars().take(64).collect(),
    }
}

/// A signed challenge: `v1.<expires unix s>.<bits>.<16 random hex>.<HMAC hex>`.
pub fn make_challenge(secret: &[u8; 32], now: DateTime<Utc>, limits: &PublicLimits) -> (String, DateTime<Utc>) {
    // Whole seconds, as the challenge says it.
    let expires = DateTime::from_timestamp((now + limits.challenge_ttl).timestamp(), 0).unwrap_or(now);
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).expect("the operating system's random source works");
    let body = format!("v1.{}.{}.{}", expires.timestamp(), limits.pow_bits.min(POW_BITS_MAX), hex::encode(random));
    let mac = hex::encode(&hmac_sha256(secret, body.as_bytes())[..16]);
    (format!("{body}.{mac}"), expires)
}

/// Why a proof of work is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    #[error("the challenge is missing or was not made by this service; ask GET /api/v1/public/challenge")]
    Invalid,
    #[error("the challenge has expired; ask GET /api/v1/public/challenge for a new one")]
    Expired,
    #[error("the nonce does not solve the challenge")]
    Unsolved,
}

/// Checks a solved challenge; `Ok` with its expiry (the end of its single use).
pub fn check_pow(
    secret: &[u8; 32],
    challenge: &str,
    nonce: &str,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, PowError> {
    if challenge.len() > 128 || nonce.is_empty() || nonce.len() > 32 {
        return Err(if nonce.is_empty() && !challenge.is_empty() { PowError::Unsolved } else { PowError::Invalid });
    }
    let (body, mac) = challenge.rsplit_once('.').ok_or(PowError::Invalid)?;
    let expected = hex::encode(&hmac_sha256(secret, body.as_bytes())[..16]);
    if !crate::secrets::constant_time_eq(mac.as_bytes(), expected.as_bytes()) {
        return Err(PowError::Invalid);
    }
    let mut parts = body.split('.');
    let (Some("v1"), Some(expires), Some(bits)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(PowError::Invalid);
    };
    let expires = expires.parse::<i64>().ok().and_then(|s| DateTime::from_timestamp(s, 0)).ok_or(PowError::Invalid)?;
    let bits: u8 = bits.parse().map_err(|_| PowError::Invalid)?;
    if expires < now {
        return Err(PowError::Expired);
    }
    if leading_zero_bits(&pow_hash(challenge, nonce)) < u32::from(bits) {
        return Err(PowError::Unsolved);
    }
    Ok(expires)
}

/// What the page hashes: SHA-256 of `<challenge>.<nonce>`.
pub fn pow_hash(challenge: &str, nonce: &str) -> [u8; 32] {
    Sha256::new().chain_update(challenge).chain_update(".").chain_update(nonce).finalize().into()
}

pub fn leading_zero_bits(hash: &[u8]) -> u32 {
    let mut bits = 0;
    for &b in hash {
        if b == 0 {
            bits += 8;
        } else {
            return bits + b.leading_zeros();
        }
    }
    bits
}

/// Solves a challenge as the page does (tests and the demo): the first decimal nonce that works.
pub fn solve(challenge: &str, bits: u8) -> String {
    (0u64..).map(|n| n.to_string()).find(|n| leading_zero_bits(&pow_hash(challenge, n)) >= u32::from(bits)).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> ReportInput {
        serde_json::from_value(serde_json::json!({
            "submission_id": "0b9c1f6e-9d7c-4a59-8f57-1df0b4f7a001", "category": "barrier",
            "description": "  护栏断了  ", "point": [120.55, 31.87], "crs": "gcj02", "accuracy_m": 8.0,
            "phone": "138 1234 5678", "device_id": "dev-0123456789",
        }))
        .unwrap()
    }

    #[test]
    fn a_good_submission_is_trimmed_normalised_and_converted() {
        let v = input().validate(&PublicLimits::default()).unwrap();
        assert_eq!(v.category.code, "barrier");
        assert_eq!(v.description, "护栏断了");
        assert_eq!(v.phone.as_deref(), Some("13812345678"));
        assert!((v.point.0 - 120.55).abs() > 1e-4, "GCJ-02 was converted to WGS-84");
    }

    #[test]
    fn each_bad_field_is_named() {
        let limits = PublicLimits { description_chars_max: 5, ..PublicLimits::default() };
        let field = |edit: fn(&mut ReportInput)| {
            let mut i = input();
            edit(&mut i);
            i.validate(&limits).unwrap_err().field
        };
        assert_eq!(field(|i| i.category = "potholes".into()), "category");
        assert_eq!(field(|i| i.description = "一二三四五六".into()), "description");
        assert_eq!(field(|i| i.point = [2.35, 48.85]), "point");
        assert_eq!(field(|i| i.point = [f64::NAN, 31.0]), "point");
        assert_eq!(field(|i| i.phone = Some("call me".into())), "phone");
        assert_eq!(field(|i| i.device_id = "x".into()), "device_id");
        assert_eq!(field(|i| i.accuracy_m = Some(-1.0)), "accuracy_m");
    }

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex::encode(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_challenge_is_solved_checked_and_refused_when_forged_expired_or_unsolved() {
        let secret = [7u8; 32];
        let now = Utc::now();
        let limits = PublicLimits { pow_bits: 8, ..PublicLimits::default() };
        let (challenge, expires) = make_challenge(&secret, now, &limits);
        let nonce = solve(&challenge, 8);
        assert_eq!(check_pow(&secret, &challenge, &nonce, now), Ok(expires));
        let wrong = (0u64..).map(|n| n.to_string()).find(|n| leading_zero_bits(&pow_hash(&challenge, n)) < 8).unwrap();
        assert_eq!(check_pow(&secret, &challenge, &wrong, now), Err(PowError::Unsolved));
        assert_eq!(check_pow(&[8u8; 32], &challenge, &nonce, now), Err(PowError::Invalid));
        let easier = challenge.replacen(".8.", ".0.", 1);
        assert_eq!(check_pow(&secret, &easier, "0", now), Err(PowError::Invalid));
        let later = now + chrono::Duration::minutes(16);
        assert_eq!(check_pow(&secret, &challenge, &nonce, later), Err(PowError::Expired));
        assert_eq!(check_pow(&secret, "", "", now), Err(PowError::Invalid));
    }

    /// Fuzzing (issue 14): a challenge and nonce as anyone may send them never panic the check, and only a
    /// challenge this secret signed, unexpired and solved, passes; any report JSON validates or names a field.
    #[test]
    fn fuzz_pow_and_report_checks_never_panic() {
        let secret = [3u8; 32];
        let now = Utc::now();
        let limits = PublicLimits { pow_bits: 2, ..PublicLimits::default() };
        let (good, _) = make_challenge(&secret, now, &limits);
        crate::fuzz_tests::fuzz("public_pow", 512, |u| {
            let challenge = if u.arbitrary()? { good.clone() } else { u.arbitrary::<String>()? };
            let nonce: String = u.arbitrary()?;
            if check_pow(&secret, &challenge, &nonce, now).is_ok() {
                assert_eq!(challenge, good, "only the signed challenge passes");
                assert!(leading_zero_bits(&pow_hash(&challenge, &nonce)) >= 2);
            }
            let codes: Vec<&str> = public_report::CATEGORIES.iter().map(|c| c.code).collect();
            let input = ReportInput {
                submission_id: Uuid::from_bytes(u.arbitrary()?),
                category: if u.arbitrary()? { (*u.choose(&codes)?).to_string() } else { u.arbitrary()? },
                description: u.arbitrary()?,
                point: if u.arbitrary()? {
                    [u.int_in_range(73..=135)? as f64, u.int_in_range(3..=53)? as f64]
                } else {
                    u.arbitrary()?
                },
                crs: *u.choose(&SourceCrs::ALL)?,
                accuracy_m: u.arbitrary()?,
                phone: u.arbitrary()?,
                device_id: u.arbitrary()?,
                website: String::new(),
                challenge: String::new(),
                nonce: String::new(),
                photo_evidence: None,
            };
            let device = input.device_id.clone();
            match input.validate(&limits) {
                Ok(v) => {
                    assert!(v.description.chars().count() <= limits.description_chars_max);
                    assert!(coords::in_china(v.point.0, v.point.1) || v.crs != SourceCrs::Wgs84);
                    assert!((8..=64).contains(&v.device_id.len()));
                }
                Err(e) => assert!(!e.why.is_empty()),
            }
            let _ = address_key(&device);
            Ok(())
        });
    }

    #[test]
    fn addresses_are_keyed_by_subscriber() {
        assert_eq!(address_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), address_key("2001:db8:1:2:bbbb::9"));
        assert_eq!(address_key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_ne!(salted_hash(&[1; 32], "addr", "a"), salted_hash(&[2; 32], "addr", "a"));
    }
}
