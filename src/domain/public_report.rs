//! The public's hazards (issue 13): citizens' photo reports (随手拍), 12345 hotline tickets and Open311
//! requests, as one **public report** waiting for a dispatcher. The words, codes and limits the page, the
//! hotline form, Open311 and the moderation queue share; the schema is migration 0018, whose check
//! constraints list the same codes. No I/O.

use super::site::{SiteKind, SiteSource};

crate::domain::site::coded_enum! {
    /// How a report came (`public_report_channel_known`).
    Channel {
        // The public report page, `/report.html`.
        Citizen = "citizen",
        // A 12345 hotline ticket, entered on the form or imported from the hotline's export.
        Hotline = "hotline",
        // A civic platform or app over Open311 GeoReport v2.
        Open311 = "open311",
    }
}

impl Channel {
    /// The `source` a site opened from a report of this channel gets.
    pub fn site_source(self) -> SiteSource {
        match self {
            Channel::Citizen | Channel::Open311 => SiteSource::CitizenPhoto,
            Channel::Hotline => SiteSource::Hotline,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Channel::Citizen => "随手拍",
            Channel::Hotline => "12345热线",
            Channel::Open311 => "Open311",
        }
    }
}

crate::domain::site::coded_enum! {
    /// Where moderation stands (`public_report_status_known`): waiting, accepted into the ledger (an
    /// observation of a new or nearby site), merged into a named site, or rejected with a public reason.
    ReportStatus {
        Received = "received",
        Accepted = "accepted",
        Merged = "merged",
        Rejected = "rejected",
    }
}

crate::domain::site::coded_enum! {
    /// What the public reads (tracking page, Open311): kept by the database's triggers from the moderation
    /// status and the site's status (`public_report_public_status` in migration 0018, the one statement of
    /// the rule; `tests/it/moderation.rs` walks it through the lifecycle).
    PublicStatus {
        Received = "received",
        InProgress = "in_progress",
        Fixed = "fixed",
        NotAccepted = "not_accepted",
    }
}

impl PublicStatus {
    /// Chinese, as the tracking page says it.
    pub fn label(self) -> &'static str {
        match self {
            PublicStatus::Received => "已受理，待核实",
            PublicStatus::InProgress => "处理中",
            PublicStatus::Fixed => "已整改",
            PublicStatus::NotAccepted => "不予受理",
        }
    }

    /// Open311's two statuses.
    pub fn open311(self) -> &'static str {
        match self {
            PublicStatus::Received | PublicStatus::InProgress => "open",
            PublicStatus::Fixed | PublicStatus::NotAccepted => "closed",
        }
    }
}

/// A hazard category the public chooses from: a short list in plain words, which is also Open311's service
/// list (`service_code` = `code`). Accepting a report opens a site of `kind` with `hazard_types`, which the
/// dispatcher may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Category {
    pub code: &'static str,
    pub name: &'static str,
    pub name_en: &'static str,
    /// One line for the public page and Open311's `description`.
    pub description: &'static str,
    pub kind: SiteKind,
    /// Hazard type codes (migration 0001's `hazard_type`).
    pub hazard_types: &'static [&'static str],
    /// Open311 `keywords`.
    pub keywords: &'static str,
}

/// The public categories (`public_report_category_known`), in the order the page shows them.
pub const CATEGORIES: &[Category] = &[
    Category {
        code: "sign_marking",
        name: "标志标线缺失或看不清",
        name_en: "Missing or faded signs or markings",
        description: "警告标志、让行标志缺失、损坏或被遮挡，路面标线磨损看不清。",
        kind: SiteKind::Spot,
        hazard_types: &["signs_markings_missing"],
        keywords: "标志,标线,sign,marking",
    },
    Category {
        code: "intersection",
        name: "路口危险（无减速、无警示）",
        name_en: "Dangerous junction",
        description: "平交路口没有减速带、警示桩、警示灯，或视线被挡，车辆容易相撞。",
        kind: SiteKind::Intersection,
        hazard_types: &["no_speed_control", "no_warning_posts"],
        keywords: "路口,交叉口,junction,intersection",
    },
    Category {
        code: "curve_slope",
        name: "急弯陡坡无提示",
        name_en: "Sharp bend or steep slope without warning",
        description: "急弯、连续弯、陡坡处没有提示标志或减速设施。",
        kind: SiteKind::Spot,
        hazard_types: &["sharp_curve"],
        keywords: "急弯,陡坡,bend,slope",
    },
    Category {
        code: "barrier",
        name: "临水临崖无护栏",
        name_en: "No guardrail by water or a drop",
        description: "道路临河、临沟、临崖处没有护栏，或护栏损坏。",
        kind: SiteKind::Spot,
        hazard_types: &["water_adjacent", "guardrail_missing"],
        keywords: "护栏,临水,guardrail,barrier",
    },
    Category {
        code: "lighting",
        name: "夜间无照明",
        name_en: "No lighting at night",
        description: "路口或村镇路段夜间没有路灯，或路灯、警示灯不亮。",
        kind: SiteKind::Spot,
        hazard_types: &["no_lighting_section"],
        keywords: "路灯,照明,light,lamp",
    },
    Category {
        code: "pavement",
        name: "路面坑洼、积水",
        name_en: "Potholes or standing water",
        description: "路面坑槽、塌陷、积水，影响行车安全。",
        kind: SiteKind::Spot,
        hazard_types: &["pavement_defect"],
        keywords: "坑洼,积水,pothole,flooding",
    },
    Category {
        code: "roadside",
        name: "占道晒粮、堆物、遮挡视线",
        name_en: "Crops, stalls or objects on the road",
        description: "晒粮、摆摊、堆放物料占用道路，或树木、广告牌遮挡视线。",
        kind: SiteKind::Spot,
        hazard_types: &["crop_drying", "stalls_stacking"],
        keywords: "晒粮,占道,obstruction",
    },
    Category {
        code: "school_zone",
        name: "学校周边不安全",
        name_en: "Unsafe near a school",
        description: "学校门口、校车停靠点没有减速、警示或安全设施。",
        kind: SiteKind::Spot,
        hazard_types: &["school_zone"],
        keywords: "学校,校车,school",
    },
    Category {
        code: "other",
        name: "其他道路安全隐患",
        name_en: "Other road hazard",
        description: "以上都不是的道路交通安全隐患，请在描述中说明。",
        kind: SiteKind::Spot,
        hazard_types: &[],
        keywords: "其他,other",
    },
];

/// The category with this code.
pub fn category(code: &str) -> Option<&'static Category> {
    CATEGORIES.iter().find(|c| c.code == code)
}

/// A report's description: what the citizen or caller said (`public_report_description_length`).
pub const DESCRIPTION_CHARS_MAX: usize = 2000;
/// A hotline ticket's address in words (`public_report_address_length`).
pub const ADDRESS_CHARS_MAX: usize = 200;
/// The public part of a decision's reason (`public_report_public_reason_length`).
pub const PUBLIC_REASON_CHARS_MAX: usize = 500;
/// Staff's own note on a report (`public_report_internal_note_length`).
pub const INTERNAL_NOTE_CHARS_MAX: usize = 2000;
/// Photos of one citizen report.
pub const PHOTOS_MAX: usize = 3;
/// A reporter's name (`public_report_contact_name_length`).
pub const CONTACT_NAME_CHARS_MAX: usize = 64;
/// A reporter's e-mail (`public_report_contact_email_length`).
pub const CONTACT_EMAIL_CHARS_MAX: usize = 254;
/// A hotline ticket number (`public_report_ticket_no_format`).
pub const TICKET_NO_CHARS_MAX: usize = 40;
/// Open sites within this distance of a report are offered to the dispatcher as the site it belongs to.
pub const NEARBY_SITE_RADIUS_M: f64 = 50.0;

/// A phone number as a reporter writes it, normalised: digits with an optional leading `+`, spaces and
/// hyphens dropped; 5 to 20 digits (a mobile, a landline with its area code, an extension).
pub fn normalise_phone(text: &str) -> Result<String, String> {
    let trimmed = text.trim();
    if trimmed.chars().count() > 32 {
        return Err("a phone number has at most 20 digits".into());
    }
    let mut out = String::new();
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '+' if i == 0 => out.push('+'),
            '0'..='9' => out.push(c),
            ' ' | '-' => {}
            _ => return Err(format!("a phone number holds digits only, not {c:?}")),
        }
    }
    let digits = out.trim_start_matches('+').len();
    if !(5..=20).contains(&digits) {
        return Err("a phone number has 5 to 20 digits".into());
    }
    Ok(out)
}

/// A phone number as everyone but a dispatcher sees it: the first three and last four digits of a mobile
/// (`138****5678`), only the last two of anything shorter.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    let n = chars.len();
    if n >= 11 {
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[n - 4..].iter().collect();
        format!("{head}{}{tail}", "*".repeat(n - 7))
    } else {
        let keep = n.min(2);
        let tail: String = chars[n - keep..].iter().collect();
        format!("{}{tail}", "*".repeat(n - keep))
    }
}

/// An e-mail address as everyone but a dispatcher sees it: its first character and its domain.
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// A new tracking token: 16 random bytes as 32 hex digits (`public_report_tracking_token_format`).
pub fn tracking_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    hex::encode(bytes)
}

/// Whether `text` has a tracking token's form (checked before any database read).
pub fn is_tracking_token(text: &str) -> bool {
    text.len() == 32 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_names_known_hazard_types_and_unique_codes() {
        let schema = include_str!("../../migrations/0001_schema_v1.sql");
        let constraint = include_str!("../../migrations/0018_public_reports.sql");
        for (i, c) in CATEGORIES.iter().enumerate() {
            assert!(constraint.contains(&format!("'{}'", c.code)), "{} is not in the check constraint", c.code);
            assert!(CATEGORIES[..i].iter().all(|o| o.code != c.code), "{} twice", c.code);
            for h in c.hazard_types {
                assert!(schema.contains(&format!("('{h}', ")), "{h} of {} is not a hazard type", c.code);
            }
        }
        assert_eq!(category("barrier").map(|c| c.kind), Some(SiteKind::Spot));
        assert_eq!(category("nothing"), None);
    }

    #[test]
    fn open311_reads_two_statuses() {
        assert_eq!(PublicStatus::Fixed.open311(), "closed");
        assert_eq!(PublicStatus::NotAccepted.open311(), "closed");
        assert_eq!(PublicStatus::InProgress.open311(), "open");
        assert_eq!(PublicStatus::Received.open311(), "open");
    }

    #[test]
    fn phones_are_normalised_and_masked() {
        assert_eq!(normalise_phone(" 138-1234 5678 ").as_deref(), Ok("13812345678"));
        assert_eq!(normalise_phone("+86 138 1234 5678").as_deref(), Ok("+8613812345678"));
        assert!(normalise_phone("1234").is_err());
        assert!(normalise_phone("138x").unwrap_err().contains("'x'"));
        assert!(normalise_phone("1+38123").is_err());
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("+8613812345678"), "+86*******5678");
        assert_eq!(mask_phone("58881234"), "******34");
        assert_eq!(mask_email("zhang@example.cn"), "z***@example.cn");
        assert_eq!(mask_email("nonsense"), "***");
    }

    #[test]
    fn tracking_tokens_have_their_form() {
        let t = tracking_token();
        assert!(is_tracking_token(&t), "{t}");
        assert_ne!(t, tracking_token());
        assert!(!is_tracking_token(&t.to_uppercase()));
        assert!(!is_tracking_token(&t[..31]));
    }
}
