//! Sites, their kinds, statuses and checklist states (DOMAIN.md §2, §3, §6).

/// Declares a string-coded enum: serde, `as_str`, `ALL` and `FromStr` agree with the schema's check
/// constraints, which list the same codes.
macro_rules! coded_enum {
    // `$code` is a `tt`, not a `literal`: a `literal` fragment reaches derive macros wrapped in an invisible
    // group, which serde reads but utoipa's `ToSchema` does not (it would name the variants, not the codes).
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $code:tt),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize, ::utoipa::ToSchema)]
        pub enum $name {
            $(#[serde(rename = $code)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $code),+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::domain::site::UnknownCode;

            fn from_str(s: &str) -> Result<Self, $crate::domain::site::UnknownCode> {
                match s {
                    $($code => Ok($name::$variant),)+
                    _ => Err($crate::domain::site::UnknownCode {
                        what: stringify!($name),
                        given: s.chars().take(64).collect(),
                        accepted: &[$($code),+],
                    }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use coded_enum;

/// A code that is not one of the accepted values; the message lists them.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("unknown {what} {given:?}; accepted values: {}", accepted.join(", "))]
pub struct UnknownCode {
    pub what: &'static str,
    pub given: String,
    pub accepted: &'static [&'static str],
}

coded_enum! {
    /// What kind of place a site is; decides its geometry and its checklist.
    SiteKind {
        Intersection = "intersection",
        Section = "section",
        Spot = "spot",
    }
}

impl SiteKind {
    /// The built-in checklist template for this kind (DOMAIN.md §2).
    pub fn template_code(self) -> &'static str {
        match self {
            SiteKind::Intersection => "five_must_haves",
            SiteKind::Section | SiteKind::Spot => "three_ones",
        }
    }

    /// Sections are lines; intersections and spots are points.
    pub fn is_line(self) -> bool {
        self == SiteKind::Section
    }
}

coded_enum! {
    /// Where a site is in the close-out lifecycle (建账销号, DOMAIN.md §6).
    SiteStatus {
        Reported = "reported",
        Verified = "verified",
        Rejected = "rejected",
        Duplicate = "duplicate",
        Assigned = "assigned",
        InProgress = "in_progress",
        PendingReview = "pending_review",
        Closed = "closed",
        Reopened = "reopened",
        Cancelled = "cancelled",
    }
}

impl SiteStatus {
    /// Open sites still need work; a new observation nearby joins an open site rather than opening one.
    pub fn is_open(self) -> bool {
        !matches!(self, SiteStatus::Rejected | SiteStatus::Duplicate | SiteStatus::Closed | SiteStatus::Cancelled)
    }

    /// The codes of the open statuses, for SQL `= any($1)`.
    pub fn open_codes() -> Vec<&'static str> {
        SiteStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.as_str()).collect()
    }
}

coded_enum! {
    /// Where a site was first found (DOMAIN.md §6, `site_source_known`; Chinese labels in `labels::SOURCES`).
    SiteSource {
        Patrol = "patrol",
        CitizenPhoto = "citizen_photo",
        Hotline = "hotline",
        CrashAnalysis = "crash_analysis",
        Drone = "drone",
        SmartPatrol = "smart_patrol",
        LeadershipInspection = "leadership_inspection",
        OtherDepartment = "other_department",
    }
}

coded_enum! {
    /// Hazard level (隐患等级, DOMAIN.md §6): 一般, 较大, 重大. Decides the default deadline.
    HazardLevel {
        General = "general",
        Significant = "significant",
        Major = "major",
    }
}

coded_enum! {
    /// Rectification mode (DOMAIN.md §6): 立行立改 immediately, 限期整改 by a deadline, 工程整改 as a capital
    /// project with interim measures.
    RectificationMode {
        Immediate = "immediate",
        Deadline = "deadline",
        Project = "project",
    }
}

coded_enum! {
    /// Listed supervision (挂牌督办): by whom a site is listed, or `none`.
    SupervisionLevel {
        None = "none",
        Town = "town",
        County = "county",
        Prefecture = "prefecture",
        Province = "province",
    }
}

coded_enum! {
    /// The state of one checklist item at a site.
    ItemState {
        Missing = "missing",
        Damaged = "damaged",
        Installed = "installed",
        Verified = "verified",
        NotApplicable = "not_applicable",
    }
}

impl ItemState {
    /// Counts towards the "3/5" summary: the item is there (or is not needed here).
    pub fn is_in_place(self) -> bool {
        matches!(self, ItemState::Installed | ItemState::Verified | ItemState::NotApplicable)
    }
}

/// Distance within which a new observation joins an open site of the same kind (DOMAIN.md §3).
pub const REPEAT_VISIT_RADIUS_M: f64 = 30.0;

/// Longest site code accepted as input: `YH-` and a ledger number far beyond any county's.
const SITE_CODE_CHARS_MAX: usize = 16;

/// Whether `text` is a site code (ledger number) as the database writes them: `YH-` and at least six digits
/// (`site_code_format` in migration 0006). Vector tiles name a site by the number alone.
pub fn is_site_code(text: &str) -> bool {
    text.len() <= SITE_CODE_CHARS_MAX
        && text.strip_prefix("YH-").is_some_and(|n| n.len() >= 6 && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_codes() {
        for good in ["YH-000001", "YH-123456", "YH-1234567"] {
            assert!(is_site_code(good), "{good}");
        }
        for bad in ["YH-00001", "yh-000001", "YH-00000a", "XX-000001", "YH-", "", "YH-0000000000000000"] {
            assert!(!is_site_code(bad), "{bad}");
        }
    }

    #[test]
    fn codes_round_trip_through_from_str_and_serde() {
        for status in SiteStatus::ALL {
            assert_eq!(status.as_str().parse::<SiteStatus>().unwrap(), *status);
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        for kind in SiteKind::ALL {
            assert_eq!(kind.as_str().parse::<SiteKind>().unwrap(), *kind);
        }
    }

    #[test]
    fn unknown_code_message_lists_accepted_values() {
        let err = "crossing".parse::<SiteKind>().unwrap_err();
        assert_eq!(err.to_string(), "unknown SiteKind \"crossing\"; accepted values: intersection, section, spot");
    }

    #[test]
    fn open_statuses() {
        assert_eq!(
            SiteStatus::open_codes(),
            vec!["reported", "verified", "assigned", "in_progress", "pending_review", "reopened"]
        );
    }

    #[test]
    fn kinds_map_to_the_built_in_templates() {
        assert_eq!(SiteKind::Intersection.template_code(), "five_must_haves");
        assert_eq!(SiteKind::Spot.template_code(), "three_ones");
        assert_eq!(SiteKind::Section.template_code(), "three_ones");
    }
}
