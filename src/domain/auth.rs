//! Who may do what: roles (DOMAIN.md §6), the scope of sites a user sees, and the rules for names and
//! passwords. Pure: the HTTP layer asks these questions, the database layer applies the scope in SQL.

use chrono::Duration;
use uuid::Uuid;

use super::site::UnknownCode;

crate::domain::site::coded_enum! {
    /// A role; a user has one or more.
    Role {
        Inspector = "inspector",
        TownOfficer = "town_officer",
        UnitOfficer = "unit_officer",
        Dispatcher = "dispatcher",
        Reviewer = "reviewer",
        Leader = "leader",
        Admin = "admin",
        // A smart-patrol or drone system (巡检系统): an account whose API token sends detections and does
        // nothing else (`Actor::is_detector_only`).
        Detector = "detector",
        // A 12345 hotline operator (热线): enters and imports hotline tickets and reads the public reports'
        // queue; sees no site.
        Hotline = "hotline",
    }
}

/// What an action needs. Each maps to the roles that grant it (see `docs/authz.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Record an observation anywhere (inspectors).
    RecordObservation,
    /// Manage accounts: list, create, disable, reset passwords.
    ManageUsers,
    /// Import a county's towns, roads, chainage breaks and organisations.
    ImportPlaces,
    /// Publish a weekly summary, monthly bulletin or ranking, and prepare their drafts.
    PublishReports,
    /// Send patrol and drone detections (`POST /api/v1/detections`): detection systems only.
    SendDetections,
    /// Read the candidates queue (black spots and detections waiting for a person) and detection images.
    ReadCandidates,
    /// Confirm a candidate into the ledger or dismiss it (dispatchers, 市交安办).
    DecideCandidates,
    /// Import a file of detections a patrol or drone system exported (dispatchers and admins).
    ImportDetections,
    /// Import crash records from the police crash database's exports.
    ImportCrashes,
    /// Read every crash record and the imports (town officers read their own town's crashes only).
    ReadCrashes,
    /// Read the public reports' queue (citizen reports, hotline tickets, Open311 requests) and their photos.
    /// A report's contact details are read in full by dispatchers only (`SeeReporterContact`), masked for
    /// everyone else.
    ReadPublicReports,
    /// See a reporter's phone number, e-mail and name in full (dispatchers, who call back).
    SeeReporterContact,
    /// Accept a public report into the ledger, merge it into a site, or reject it (dispatchers, 市交安办).
    ModeratePublicReports,
    /// Enter a 12345 hotline ticket or import a file of them (hotline operators and dispatchers).
    EnterHotlineTickets,
    /// Issue and revoke the Open311 keys of client systems (admins).
    ManageOpen311Clients,
}

impl Permission {
    fn granted_by(self) -> &'static [Role] {
        match self {
            Permission::RecordObservation => &[Role::Inspector],
            Permission::ManageUsers | Permission::ImportPlaces => &[Role::Admin],
            Permission::PublishReports => &[Role::Dispatcher, Role::Leader, Role::Admin],
            Permission::SendDetections => &[Role::Detector],
            Permission::ReadCandidates => {
                &[Role::Dispatcher, Role::Reviewer, Role::Leader, Role::Admin, Role::TownOfficer]
            }
            Permission::DecideCandidates => &[Role::Dispatcher],
            Permission::ImportDetections => &[Role::Dispatcher, Role::Admin],
            Permission::ImportCrashes => &[Role::Dispatcher, Role::Admin],
            Permission::ReadCrashes => &[Role::Dispatcher, Role::Reviewer, Role::Leader, Role::Admin],
            Permission::ReadPublicReports => {
                &[Role::Dispatcher, Role::Hotline, Role::Reviewer, Role::Leader, Role::Admin]
            }
            Permission::SeeReporterContact | Permission::ModeratePublicReports => &[Role::Dispatcher],
            Permission::EnterHotlineTickets => &[Role::Hotline, Role::Dispatcher],
            Permission::ManageOpen311Clients => &[Role::Admin],
        }
    }
}

/// The sites a user may see: every site, or those in their town, or those assigned to their unit (or both
/// when they hold both roles). Anything outside answers 404, so that its existence does not leak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SiteScope {
    pub all: bool,
    pub town_id: Option<i32>,
    pub unit_id: Option<i32>,
}

/// The signed-in user, as every handler sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub user_id: Uuid,
    pub name: String,
    pub display_name: String,
    pub roles: Vec<Role>,
    pub organisation_id: i32,
    /// The town of the user's organisation, for town officers.
    pub town_id: Option<i32>,
}

impl Actor {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn can(&self, permission: Permission) -> bool {
        permission.granted_by().iter().any(|r| self.has(*r))
    }

    /// A detection system's account: it holds no role but `detector`, so every route except sending
    /// detections refuses it (`http::auth`), whatever else a permission or scope would say.
    pub fn is_detector_only(&self) -> bool {
        !self.roles.is_empty() && self.roles.iter().all(|r| *r == Role::Detector)
    }

    /// A 12345 hotline operator's account: it holds no role but `hotline`, so it sees no site and reaches only
    /// the hotline's routes and the public reports' queue (`http::auth::HOTLINE_PATHS`).
    pub fn is_hotline_only(&self) -> bool {
        !self.roles.is_empty() && self.roles.iter().all(|r| *r == Role::Hotline)
    }

    /// The candidates a user reads: every one for the county-wide roles, their own town's for a town officer
    /// (`None`: all; `Some(None)`: none, a town officer without a town).
    pub fn candidate_town(&self) -> Option<Option<i32>> {
        let county_wide = [Role::Dispatcher, Role::Reviewer, Role::Leader, Role::Admin];
        if county_wide.iter().any(|r| self.has(*r)) { None } else { Some(self.town_id) }
    }

    /// City-wide roles read every site. Inspectors do too: they record hazards anywhere and need to see what
    /// is already known where they stand. Town and unit officers see their own.
    pub fn site_scope(&self) -> SiteScope {
        let city_wide = [Role::Inspector, Role::Dispatcher, Role::Reviewer, Role::Leader, Role::Admin];
        SiteScope {
            all: city_wide.iter().any(|r| self.has(*r)),
            town_id: if self.has(Role::TownOfficer) { self.town_id } else { None },
            unit_id: if self.has(Role::UnitOfficer) { Some(self.organisation_id) } else { None },
        }
    }

    /// An inspector may correct their own observation for a while after recording it, not someone else's and
    /// not forever (the record is evidence).
    pub fn may_edit_observation(&self, author: Uuid, age: Duration, window: Duration) -> Result<(), EditRefusal> {
        if author != self.user_id {
            return Err(EditRefusal::NotYours);
        }
        if !self.has(Role::Inspector) {
            return Err(EditRefusal::NotInspector);
        }
        if age > window {
            return Err(EditRefusal::TooLate { window_hours: window.num_hours() });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditRefusal {
    #[error("only the inspector who recorded an observation may change it")]
    NotYours,
    #[error("changing observations needs the inspector role")]
    NotInspector,
    #[error("observations can be changed for {window_hours} hours after they are recorded; record a new one instead")]
    TooLate { window_hours: i64 },
}

pub const PASSWORD_CHARS_MIN: usize = 10;
/// Argon2 cost grows with input; a sane bound keeps a sign-in from becoming a denial of service.
pub const PASSWORD_BYTES_MAX: usize = 256;
pub const DISPLAY_NAME_CHARS_MAX: usize = 64;

/// Sign-in names: lowercase ASCII letters, digits, `.`, `-`, `_`, 2–32 characters, starting with a letter or
/// digit (the same rule as the `app_user_name_format` constraint).
pub fn check_user_name(name: &str) -> Result<(), String> {
    let ok = (2..=32).contains(&name.len())
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "name {:?}: use 2 to 32 lowercase letters, digits, '.', '-' or '_', starting with a letter or digit",
            name.chars().take(40).collect::<String>()
        ))
    }
}

/// The OWASP minimum for a system with throttled sign-in: length, not composition rules.
pub fn check_password(password: &str, user_name: &str) -> Result<(), String> {
    if password.chars().count() < PASSWORD_CHARS_MIN {
        return Err(format!("the password needs at least {PASSWORD_CHARS_MIN} characters"));
    }
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(format!("the password may have at most {PASSWORD_BYTES_MAX} bytes"));
    }
    if password.eq_ignore_ascii_case(user_name) {
        return Err("the password must not be the user name".into());
    }
    Ok(())
}

/// Parses role codes, all or nothing.
pub fn parse_roles(codes: &[String]) -> Result<Vec<Role>, UnknownCode> {
    let mut roles = codes.iter().map(|c| c.parse::<Role>()).collect::<Result<Vec<_>, _>>()?;
    roles.sort_by_key(|r| r.as_str());
    roles.dedup();
    Ok(roles)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(roles: &[Role]) -> Actor {
        Actor {
            user_id: Uuid::nil(),
            name: "u".into(),
            display_name: "U".into(),
            roles: roles.to_vec(),
            organisation_id: 7,
            town_id: Some(3),
        }
    }

    #[test]
    fn scopes_by_role() {
        let cases = [
            (vec![Role::Inspector], SiteScope { all: true, town_id: None, unit_id: None }),
            (vec![Role::TownOfficer], SiteScope { all: false, town_id: Some(3), unit_id: None }),
            (vec![Role::UnitOfficer], SiteScope { all: false, town_id: None, unit_id: Some(7) }),
            (vec![Role::TownOfficer, Role::UnitOfficer], SiteScope { all: false, town_id: Some(3), unit_id: Some(7) }),
            (vec![Role::Leader], SiteScope { all: true, town_id: None, unit_id: None }),
            (vec![Role::Dispatcher], SiteScope { all: true, town_id: None, unit_id: None }),
            (vec![Role::Reviewer], SiteScope { all: true, town_id: None, unit_id: None }),
            (vec![Role::Admin], SiteScope { all: true, town_id: None, unit_id: None }),
            (vec![Role::Detector], SiteScope { all: false, town_id: None, unit_id: None }),
        ];
        for (roles, scope) in cases {
            assert_eq!(actor(&roles).site_scope(), scope, "{roles:?}");
        }
    }

    #[test]
    fn permissions_by_role() {
        for role in Role::ALL {
            let a = actor(&[*role]);
            assert_eq!(a.can(Permission::RecordObservation), *role == Role::Inspector, "{role}");
            assert_eq!(a.can(Permission::ManageUsers), *role == Role::Admin, "{role}");
            assert_eq!(a.can(Permission::ImportPlaces), *role == Role::Admin, "{role}");
            assert_eq!(a.can(Permission::SendDetections), *role == Role::Detector, "{role}");
            assert_eq!(a.can(Permission::DecideCandidates), *role == Role::Dispatcher, "{role}");
            assert_eq!(a.can(Permission::ImportDetections), [Role::Dispatcher, Role::Admin].contains(role), "{role}");
            assert_eq!(a.is_detector_only(), *role == Role::Detector, "{role}");
            let reads = [Role::Dispatcher, Role::Reviewer, Role::Leader, Role::Admin, Role::TownOfficer];
            assert_eq!(a.can(Permission::ReadCandidates), reads.contains(role), "{role}");
        }
    }

    #[test]
    fn editing_an_observation() {
        let me = actor(&[Role::Inspector]);
        let window = Duration::hours(24);
        assert_eq!(me.may_edit_observation(Uuid::nil(), Duration::hours(1), window), Ok(()));
        assert_eq!(me.may_edit_observation(Uuid::max(), Duration::hours(1), window), Err(EditRefusal::NotYours));
        assert_eq!(
            me.may_edit_observation(Uuid::nil(), Duration::hours(25), window),
            Err(EditRefusal::TooLate { window_hours: 24 })
        );
    }

    #[test]
    fn names_and_passwords() {
        assert!(check_user_name("zhang.wei-2").is_ok());
        for bad in ["Zhang", "a", "-x", "张伟", "a b", &"x".repeat(33)] {
            assert!(check_user_name(bad).is_err(), "{bad}");
        }
        assert!(check_password("correct horse", "zhang").is_ok());
        assert!(check_password("short", "zhang").is_err());
        assert!(check_password("zhangwei01", "ZhangWei01").is_err());
        assert!(check_password(&"长".repeat(100), "zhang").is_err());
    }

    #[test]
    fn roles_parse_all_or_nothing() {
        assert_eq!(parse_roles(&["leader".into(), "admin".into()]).unwrap(), vec![Role::Admin, Role::Leader]);
        assert!(parse_roles(&["leader".into(), "boss".into()]).is_err());
    }
}
