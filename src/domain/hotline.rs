//! 12345 hotline tickets (热线工单, issue 13): what a ticket holds once checked, the rules both the entry form
//! and the platform's CSV export go through, and the hotline's own category words mapped to the public
//! categories. The ticket number (工单号) is the key: the same number twice is the same ticket. No I/O.

use chrono::{DateTime, Utc};

use super::coords::{self, SourceCrs};
use super::public_report::{
    ADDRESS_CHARS_MAX, CATEGORIES, CONTACT_NAME_CHARS_MAX, DESCRIPTION_CHARS_MAX, TICKET_NO_CHARS_MAX, category,
    normalise_phone,
};

/// A ticket as the form or a CSV row gives it: text as typed, the point (if any) still in `crs`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketInput<'a> {
    pub ticket_no: Option<&'a str>,
    /// `None`: now (the form, while the caller is on the line).
    pub called_at: Option<DateTime<Utc>>,
    pub description: Option<&'a str>,
    pub address: Option<&'a str>,
    pub point: Option<(f64, f64)>,
    pub crs: SourceCrs,
    /// A public category's code (`None`: `other`).
    pub category: Option<&'a str>,
    pub caller_phone: Option<&'a str>,
    pub caller_name: Option<&'a str>,
}

/// A checked ticket, ready to store as a public report of the hotline channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub ticket_no: String,
    pub called_at: DateTime<Utc>,
    pub description: String,
    pub address: Option<String>,
    /// WGS-84 longitude and latitude, converted from `crs`.
    pub point: Option<(f64, f64)>,
    pub crs: SourceCrs,
    pub category: &'static str,
    /// Normalised (`normalise_phone`).
    pub caller_phone: Option<String>,
    pub caller_name: Option<String>,
}

/// Why a ticket is refused: the field (as the API names it) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError { field, message: message.into() }
}

/// Text trimmed, and `None` when nothing is left.
fn given(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|t| !t.is_empty())
}

/// The ticket number's form: letters, digits, `-` and `_`, 1–40 (`public_report_ticket_no_format`).
pub fn check_ticket_no(text: Option<&str>) -> Result<String, FieldError> {
    let no = given(text).ok_or_else(|| refuse("ticket_no", "the ticket number (工单号) is required"))?;
    if no.chars().count() > TICKET_NO_CHARS_MAX {
        return Err(refuse("ticket_no", format!("a ticket number has at most {TICKET_NO_CHARS_MAX} characters")));
    }
    if !no.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(refuse("ticket_no", "a ticket number holds letters, digits, '-' and '_' only"));
    }
    Ok(no.to_owned())
}

/// Checks a ticket: a number, a description, a place (an address or a point inside China, or both), a known
/// category, a call time no later than now (a minute's grace for clocks), and the caller's phone and name
/// within their limits.
pub fn check(input: &TicketInput<'_>, now: DateTime<Utc>) -> Result<Ticket, FieldError> {
    let ticket_no = check_ticket_no(input.ticket_no)?;
    let called_at = input.called_at.unwrap_or(now);
    if called_at > now + chrono::Duration::minutes(1) {
        return Err(refuse("called_at", "the call's time is in the future"));
    }
    let description =
        given(input.description).ok_or_else(|| refuse("description", "say what the caller reported (诉求内容)"))?;
    if description.chars().count() > DESCRIPTION_CHARS_MAX {
        return Err(refuse("description", format!("a description has at most {DESCRIPTION_CHARS_MAX} characters")));
    }
    let address = given(input.address);
    if address.is_some_and(|a| a.chars().count() > ADDRESS_CHARS_MAX) {
        return Err(refuse("address", format!("an address has at most {ADDRESS_CHARS_MAX} characters")));
    }
    let point = match input.point {
        None => None,
        Some((lon, lat)) => {
            if !(lon.is_finite() && lat.is_finite() && coords::in_china(lon, lat)) {
                return Err(refuse(
                    "location",
                    format!("({lon}, {lat}) is not a point in China (longitude, latitude)"),
                ));
            }
            Some(coords::to_wgs84(input.crs, lon, lat))
        }
    };
    if address.is_none() && point.is_none() {
        return Err(refuse("address", "give the address (事发地址) or pick the place on the map"));
    }
    let category = match given(input.category) {
        None => "other",
        Some(code) => category(code).map(|c| c.code).ok_or_else(|| {
            let codes: Vec<&str> = CATEGORIES.iter().map(|c| c.code).collect();
            refuse("category", format!("unknown category {code:?}; use one of {}", codes.join(", ")))
        })?,
    };
    let caller_phone =
        given(input.caller_phone).map(normalise_phone).transpose().map_err(|e| refuse("caller_phone", e))?;
    let caller_name = given(input.caller_name);
    if caller_name.is_some_and(|n| n.chars().count() > CONTACT_NAME_CHARS_MAX) {
        return Err(refuse("caller_name", format!("a name has at most {CONTACT_NAME_CHARS_MAX} characters")));
    }
    Ok(Ticket {
        ticket_no,
        called_at,
        description: description.to_owned(),
        address: address.map(str::to_owned),
        point,
        crs: input.crs,
        category,
        caller_phone,
        caller_name: caller_name.map(str::to_owned),
    })
}

/// The hotline platform's own category words, per public category. A ticket's 诉求类别 maps to a public
/// category only where exactly one category's words appear in it ("clear"); otherwise it is `other`, and the
/// dispatcher chooses when accepting.
const HOTLINE_WORDS: &[(&str, &[&str])] = &[
    ("sign_marking", &["标志", "标线", "标牌", "指示牌", "警示牌"]),
    ("intersection", &["路口", "交叉口", "红绿灯", "信号灯", "减速带"]),
    ("curve_slope", &["急弯", "弯道", "陡坡", "长下坡"]),
    ("barrier", &["护栏", "防护栏", "临水", "临崖", "防撞"]),
    ("lighting", &["路灯", "照明"]),
    ("pavement", &["坑", "路面", "破损", "塌陷", "积水", "井盖"]),
    ("roadside", &["占道", "晒粮", "堆物", "堆放", "摆摊", "遮挡", "树木"]),
    ("school_zone", &["学校", "校车", "校园", "幼儿园"]),
];

/// The public category of a hotline category word (or a public category's code or name as written).
pub fn category_of_words(text: &str) -> &'static str {
    let text = text.trim();
    if let Some(c) = CATEGORIES.iter().find(|c| c.code.eq_ignore_ascii_case(text) || c.name == text) {
        return c.code;
    }
    let mut found = HOTLINE_WORDS.iter().filter(|(_, words)| words.iter().any(|w| text.contains(w)));
    match (found.next(), found.next()) {
        (Some((code, _)), None) => code,
        _ => "other",
    }
}

/// The fields a stored ticket and a new one with the same number differ in (empty: the same ticket).
/// Points within a millimetre's worth of a degree are the same point; `contact_kept` false (the contact data
/// was purged after the retention period) leaves the caller's phone and name out of the comparison.
pub fn differences(stored: &Ticket, new: &Ticket, contact_kept: bool) -> Vec<&'static str> {
    let mut fields = Vec::new();
    if stored.called_at != new.called_at {
        fields.push("called_at");
    }
    if stored.description != new.description {
        fields.push("description");
    }
    if stored.address != new.address {
        fields.push("address");
    }
    let same_point = match (stored.point, new.point) {
        (None, None) => true,
        (Some(a), Some(b)) => (a.0 - b.0).abs() < 1e-8 && (a.1 - b.1).abs() < 1e-8,
        _ => false,
    };
    if !same_point {
        fields.push("location");
    }
    if stored.category != new.category {
        fields.push("category");
    }
    if contact_kept && stored.caller_phone != new.caller_phone {
        fields.push("caller_phone");
    }
    if contact_kept && stored.caller_name != new.caller_name {
        fields.push("caller_name");
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> TicketInput<'static> {
        TicketInput {
            ticket_no: Some(" GD20261207-0001 "),
            description: Some("村口路灯不亮"),
            address: Some("杨舍镇东街村口"),
            caller_phone: Some("138 1234 5678"),
            ..TicketInput::default()
        }
    }

    #[test]
    fn a_ticket_is_checked_field_by_field() {
        let now = Utc::now();
        let t = check(&input(), now).unwrap();
        assert_eq!(t.ticket_no, "GD20261207-0001");
        assert_eq!(t.called_at, now);
        assert_eq!(t.category, "other");
        assert_eq!(t.caller_phone.as_deref(), Some("13812345678"));
        let field = |i: TicketInput| check(&i, now).unwrap_err().field;
        assert_eq!(field(TicketInput { ticket_no: None, ..input() }), "ticket_no");
        assert_eq!(field(TicketInput { ticket_no: Some("GD/1"), ..input() }), "ticket_no");
        assert_eq!(field(TicketInput { ticket_no: Some(&"1".repeat(41)), ..input() }), "ticket_no");
        assert_eq!(field(TicketInput { description: Some("  "), ..input() }), "description");
        assert_eq!(field(TicketInput { address: None, ..input() }), "address");
        assert_eq!(field(TicketInput { address: Some(&"路".repeat(201)), ..input() }), "address");
        assert_eq!(field(TicketInput { point: Some((10.0, 50.0)), ..input() }), "location");
        assert_eq!(field(TicketInput { category: Some("potholes"), ..input() }), "category");
        assert_eq!(field(TicketInput { caller_phone: Some("12ab"), ..input() }), "caller_phone");
        assert_eq!(field(TicketInput { caller_name: Some(&"名".repeat(65)), ..input() }), "caller_name");
        let later = now + chrono::Duration::hours(1);
        assert_eq!(field(TicketInput { called_at: Some(later), ..input() }), "called_at");
    }

    #[test]
    fn a_point_alone_places_a_ticket_and_is_converted_to_wgs84() {
        let t = check(
            &TicketInput { address: None, point: Some((120.56, 31.87)), crs: SourceCrs::Gcj02, ..input() },
            Utc::now(),
        )
        .unwrap();
        let (lon, lat) = t.point.unwrap();
        assert!((lon - 120.56).abs() > 1e-4 && (lon - 120.56).abs() < 0.01, "{lon}");
        assert!((lat - 31.87).abs() < 0.01, "{lat}");
    }

    #[test]
    fn hotline_words_map_to_a_category_only_where_clear() {
        assert_eq!(category_of_words("道路设施-路灯不亮"), "lighting");
        assert_eq!(category_of_words("交通设施/护栏损坏"), "barrier");
        assert_eq!(category_of_words("路面坑洼"), "pavement");
        assert_eq!(category_of_words("学校门口"), "school_zone");
        assert_eq!(category_of_words("pavement"), "pavement");
        assert_eq!(category_of_words("夜间无照明"), "lighting");
        // Two categories' words: not clear.
        assert_eq!(category_of_words("学校路口"), "other");
        assert_eq!(category_of_words("噪音扰民"), "other");
    }

    #[test]
    fn differences_name_the_fields() {
        let now = Utc::now();
        let a = check(&input(), now).unwrap();
        assert!(differences(&a, &a, true).is_empty());
        let b = check(&TicketInput { description: Some("别的"), caller_phone: None, ..input() }, now).unwrap();
        assert_eq!(differences(&a, &b, true), ["description", "caller_phone"]);
        assert_eq!(differences(&a, &b, false), ["description"]);
    }
}
