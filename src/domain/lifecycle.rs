//! The close-out lifecycle (建账销号, DOMAIN.md §6) as one pure function: from a site's status, an action,
//! who acts and what is known about the site, decide the new status and the event to record, or say
//! precisely why not.
//!
//! ```text
//! reported ──verify──> verified ──dispatch──> assigned ──accept──> in_progress
//! reported ──reject──> rejected     reported|verified ──merge──> duplicate
//! in_progress ──request_extension / decide_extension──> in_progress (deadline moves)
//! in_progress ──request_close_out (all required items installed + evidence)──> pending_review
//! pending_review ──return──> in_progress        pending_review ──approve (reviewer ≠ submitter)──> closed
//! closed ──look_back_pass──> closed             closed ──look_back_relapse──> reopened ──start──> in_progress
//! any open ──cancel──> cancelled
//! ```

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use uuid::Uuid;

use super::auth::{Actor, Role};
use super::site::{HazardLevel, RectificationMode, SiteStatus, SupervisionLevel};

/// The calendar day in China (UTC+8, no daylight saving) at an instant: deadlines, overdue days and look-back
/// dates are county dates, whatever time zone the server runs in.
pub fn china_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset")).date_naive()
}

crate::domain::site::coded_enum! {
    /// Every move a person can make on a site.
    ActionKind {
        Verify = "verify",
        Reject = "reject",
        Merge = "merge",
        Dispatch = "dispatch",
        Accept = "accept",
        Start = "start",
        RequestExtension = "request_extension",
        DecideExtension = "decide_extension",
        RequestCloseOut = "request_close_out",
        Approve = "approve",
        Return = "return",
        LookBackPass = "look_back_pass",
        LookBackRelapse = "look_back_relapse",
        Cancel = "cancel",
        Supervise = "supervise",
    }
}

crate::domain::site::coded_enum! {
    /// What a site event records besides a move: a visit, evidence, a planned look-back, a duplicate merged
    /// in, places re-derived by an import.
    RecordKind {
        Opened = "opened",
        Observed = "observed",
        ObservationEdited = "observation_edited",
        EvidenceSubmitted = "evidence_submitted",
        LookBackDue = "look_back_due",
        MergedIn = "merged_in",
        RoadChanged = "road_changed",
        TownChanged = "town_changed",
        // A confirmed candidate (black spot or detection) was linked to this open site (`db::candidates`).
        CandidateLinked = "candidate_linked",
        // A public report (citizen, hotline, Open311) was merged into this site by a dispatcher
        // (`db::moderation::merge`); an accepted one arrives as an observation instead.
        PublicReportMerged = "public_report_merged",
    }
}

/// The kind of a site event (`site_event.kind`): the move it records, or another record. Its code is the
/// action's or the record's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventKind {
    Move(ActionKind),
    Record(RecordKind),
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Move(a) => a.as_str(),
            EventKind::Record(r) => r.as_str(),
        }
    }
}

impl std::str::FromStr for EventKind {
    type Err = super::site::UnknownCode;

    /// An action's code or a record's; the refusal lists the records (the actions are `ActionKind::ALL`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse::<ActionKind>()
            .map(EventKind::Move)
            .or_else(|_| s.parse::<RecordKind>().map(EventKind::Record))
            .map_err(|e| super::site::UnknownCode { what: "EventKind", ..e })
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who may take an action on a site, by role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// 市交安办: verify, reject, merge, dispatch, decide extensions, cancel.
    Dispatcher,
    /// The town officer of the site's town, or an officer of its responsible, lead or supporting unit.
    Rectifier,
    /// Acceptance (交警/交通): approve or return a close-out.
    Reviewer,
    /// Look-back re-inspection.
    Inspector,
}

impl ActionKind {
    pub fn party(self) -> Party {
        use ActionKind::*;
        match self {
            Verify | Reject | Merge | Dispatch | DecideExtension | Cancel | Supervise => Party::Dispatcher,
            Accept | Start | RequestExtension | RequestCloseOut => Party::Rectifier,
            Approve | Return => Party::Reviewer,
            LookBackPass | LookBackRelapse => Party::Inspector,
        }
    }

    /// The statuses the action starts from.
    pub fn from_statuses(self) -> &'static [SiteStatus] {
        use ActionKind::*;
        use SiteStatus as S;
        match self {
            Verify | Reject => &[S::Reported],
            Merge => &[S::Reported, S::Verified],
            Dispatch => &[S::Verified],
            Accept => &[S::Assigned],
            Start => &[S::Reopened],
            RequestExtension | DecideExtension | RequestCloseOut => &[S::InProgress],
            Approve | Return => &[S::PendingReview],
            LookBackPass | LookBackRelapse => &[S::Closed],
            Cancel | Supervise => {
                &[S::Reported, S::Verified, S::Assigned, S::InProgress, S::PendingReview, S::Reopened]
            }
        }
    }

    /// Where the action leads (`None`: the status stays, e.g. an extension).
    pub fn to_status(self) -> Option<SiteStatus> {
        use ActionKind::*;
        use SiteStatus as S;
        match self {
            Verify => Some(S::Verified),
            Reject => Some(S::Rejected),
            Merge => Some(S::Duplicate),
            Dispatch => Some(S::Assigned),
            Accept | Start | Return => Some(S::InProgress),
            RequestCloseOut => Some(S::PendingReview),
            Approve => Some(S::Closed),
            LookBackRelapse => Some(S::Reopened),
            Cancel => Some(S::Cancelled),
            RequestExtension | DecideExtension | LookBackPass | Supervise => None,
        }
    }

    /// Actions whose event must say why.
    pub fn needs_reason(self) -> bool {
        use ActionKind::*;
        matches!(self, Reject | Return | Cancel | RequestExtension | LookBackRelapse)
    }
}

/// A move with exactly what it carries, checked at the edge: one variant per action, so the code that writes
/// a move never looks for a parameter that might be missing.
#[derive(Debug, Clone, PartialEq)]
pub enum Move {
    Verify,
    Reject,
    Merge {
        into: Uuid,
    },
    Dispatch(Dispatch),
    Accept,
    Start,
    RequestExtension {
        deadline: NaiveDate,
    },
    DecideExtension {
        approve: bool,
    },
    RequestCloseOut,
    Approve,
    Return,
    /// A look-back that found the site as it should be, recorded by the inspector's observation.
    LookBackPass {
        observation_id: Uuid,
    },
    LookBackRelapse(Relapse),
    Cancel,
    Supervise(Supervision),
}

impl Move {
    pub fn kind(&self) -> ActionKind {
        match self {
            Move::Verify => ActionKind::Verify,
            Move::Reject => ActionKind::Reject,
            Move::Merge { .. } => ActionKind::Merge,
            Move::Dispatch(_) => ActionKind::Dispatch,
            Move::Accept => ActionKind::Accept,
            Move::Start => ActionKind::Start,
            Move::RequestExtension { .. } => ActionKind::RequestExtension,
            Move::DecideExtension { .. } => ActionKind::DecideExtension,
            Move::RequestCloseOut => ActionKind::RequestCloseOut,
            Move::Approve => ActionKind::Approve,
            Move::Return => ActionKind::Return,
            Move::LookBackPass { .. } => ActionKind::LookBackPass,
            Move::LookBackRelapse(_) => ActionKind::LookBackRelapse,
            Move::Cancel => ActionKind::Cancel,
            Move::Supervise(_) => ActionKind::Supervise,
        }
    }

    /// The observation that recorded the move (look-backs), for its event.
    pub fn observation_id(&self) -> Option<Uuid> {
        match self {
            Move::LookBackPass { observation_id } => Some(*observation_id),
            Move::LookBackRelapse(r) => Some(r.observation_id),
            _ => None,
        }
    }
}

/// Dispatch (派单): the responsible unit, the others involved, the hazard level, the rectification mode and the
/// deadline (given, or the policy's default).
#[derive(Debug, Clone, PartialEq)]
pub struct Dispatch {
    pub responsible_unit_id: i32,
    pub lead_unit_id: Option<i32>,
    pub supporting_unit_ids: Vec<i32>,
    pub hazard_level: HazardLevel,
    pub rectification_mode: RectificationMode,
    pub deadline: NaiveDate,
}

/// A relapse (反弹) found on site: the inspector's observation, the items it found missing or damaged, and the
/// reopened site's new deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct Relapse {
    pub observation_id: Uuid,
    pub failed_items: Vec<String>,
    pub deadline: NaiveDate,
}

/// Listed supervision (挂牌督办): level, issuing body, document number, required date.
#[derive(Debug, Clone, PartialEq)]
pub struct Supervision {
    pub level: SupervisionLevel,
    pub body: Option<String>,
    pub doc_no: Option<String>,
    pub due: Option<NaiveDate>,
}

/// What the transition needs to know about the site beyond its status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteFacts {
    pub town_id: Option<i32>,
    /// Responsible, lead and supporting units.
    pub unit_ids: Vec<i32>,
    /// Required checklist items not yet `installed`/`verified` with after-photo evidence.
    pub unmet_items: Vec<String>,
    /// Who requested the close-out under review, and who submitted evidence for its items.
    pub close_out_requested_by: Option<Uuid>,
    pub evidence_by: Vec<Uuid>,
    /// An extension request waits for a decision.
    pub extension_pending: bool,
}

/// Why a move is refused. Each maps to one HTTP status in the http layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransitionError {
    /// 409: the site is not in a status the action starts from.
    #[error("cannot {action} a site that is {status}; {action} applies to: {}", allowed.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))]
    WrongStatus { action: ActionKind, status: SiteStatus, allowed: &'static [SiteStatus] },
    /// 403: the actor's roles do not include the party for this action.
    #[error("{action} needs {needed}")]
    NotYourMove { action: ActionKind, needed: &'static str },
    /// 403: a reviewer may not accept work they submitted (four-eyes rule, DOMAIN.md §2).
    #[error("the reviewer must not be the person who requested the close-out or submitted its evidence")]
    OwnWork,
    /// 409: close-out needs every required item installed with evidence.
    #[error("close-out needs every required item installed with an after-photo; not yet: {}", .0.join(", "))]
    UnmetItems(Vec<String>),
    /// 422: the action must say why.
    #[error("{0} needs a reason")]
    ReasonRequired(ActionKind),
    /// 409: an extension request is already waiting for the dispatcher's decision.
    #[error("an extension request is waiting for the dispatcher's decision")]
    ExtensionPending,
    /// 409: there is no extension request to decide.
    #[error("there is no extension request to decide")]
    NoExtension,
}

impl TransitionError {
    /// A stable name for the rule that refused the move, for clients to translate (problem+json `code`).
    pub fn code(&self) -> &'static str {
        match self {
            TransitionError::WrongStatus { .. } => "wrong_status",
            TransitionError::NotYourMove { .. } => "not_your_move",
            TransitionError::OwnWork => "own_work",
            TransitionError::UnmetItems(_) => "unmet_items",
            TransitionError::ReasonRequired(_) => "reason_required",
            TransitionError::ExtensionPending => "extension_pending",
            TransitionError::NoExtension => "no_extension",
        }
    }

    /// The values the refusal names, as problem+json extension members.
    pub fn facts(&self) -> serde_json::Value {
        match self {
            TransitionError::WrongStatus { action, status, allowed } => {
                serde_json::json!({ "action": action, "site_status": status, "allowed_from": allowed })
            }
            TransitionError::NotYourMove { action, .. } => {
                serde_json::json!({ "action": action, "party": action.party() })
            }
            TransitionError::UnmetItems(items) => serde_json::json!({ "unmet_items": items }),
            TransitionError::ReasonRequired(action) => serde_json::json!({ "action": action }),
            TransitionError::OwnWork | TransitionError::ExtensionPending | TransitionError::NoExtension => {
                serde_json::json!({})
            }
        }
    }
}

/// The decision: the status after the move (unchanged when `None` was the action's target) and the event
/// kind to record.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    pub from: SiteStatus,
    pub to: SiteStatus,
    pub event: ActionKind,
}

/// Decides one move. Scope (may this actor see the site at all) is checked before, by the query that loads
/// the site: an unseen site is a 404, not a refusal here.
pub fn transition(
    status: SiteStatus,
    action: ActionKind,
    actor: &Actor,
    site: &SiteFacts,
    reason: Option<&str>,
) -> Result<Transition, TransitionError> {
    check_party(action, actor, site)?;
    if !action.from_statuses().contains(&status) {
        return Err(TransitionError::WrongStatus { action, status, allowed: action.from_statuses() });
    }
    if action.needs_reason() && reason.is_none_or(|r| r.trim().is_empty()) {
        return Err(TransitionError::ReasonRequired(action));
    }
    match action {
        ActionKind::RequestCloseOut if !site.unmet_items.is_empty() => {
            return Err(TransitionError::UnmetItems(site.unmet_items.clone()));
        }
        ActionKind::RequestCloseOut | ActionKind::RequestExtension if site.extension_pending => {
            return Err(TransitionError::ExtensionPending);
        }
        ActionKind::DecideExtension if !site.extension_pending => {
            return Err(TransitionError::NoExtension);
        }
        ActionKind::Approve
            if site.close_out_requested_by == Some(actor.user_id) || site.evidence_by.contains(&actor.user_id) =>
        {
            return Err(TransitionError::OwnWork);
        }
        _ => {}
    }
    Ok(Transition { from: status, to: action.to_status().unwrap_or(status), event: action })
}

/// Who rectifies a site, in words for refusals.
pub const RECTIFIER: &str = "the town officer of the site's town or an officer of a unit it is assigned to";

/// The town officer of the site's town, or an officer of its responsible, lead or supporting unit: the people
/// who accept the work, record its evidence and ask for close-out.
pub fn is_rectifier(actor: &Actor, site: &SiteFacts) -> bool {
    (actor.has(Role::TownOfficer) && actor.town_id.is_some() && actor.town_id == site.town_id)
        || (actor.has(Role::UnitOfficer) && site.unit_ids.contains(&actor.organisation_id))
}

fn check_party(action: ActionKind, actor: &Actor, site: &SiteFacts) -> Result<(), TransitionError> {
    let (allowed, needed) = match action.party() {
        Party::Dispatcher => (actor.has(Role::Dispatcher), "the dispatcher role"),
        Party::Reviewer => (actor.has(Role::Reviewer), "the reviewer role"),
        Party::Inspector => (actor.has(Role::Inspector), "the inspector role"),
        Party::Rectifier => (is_rectifier(actor, site), RECTIFIER),
    };
    if allowed { Ok(()) } else { Err(TransitionError::NotYourMove { action, needed }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOWN: i32 = 3;
    const UNIT: i32 = 40;

    fn actor(role: Role, id: u128) -> Actor {
        Actor {
            user_id: Uuid::from_u128(id),
            name: role.as_str().into(),
            display_name: role.as_str().into(),
            roles: vec![role],
            organisation_id: if role == Role::UnitOfficer { UNIT } else { 1 },
            town_id: if role == Role::TownOfficer { Some(TOWN) } else { None },
        }
    }

    fn site() -> SiteFacts {
        SiteFacts {
            town_id: Some(TOWN),
            unit_ids: vec![UNIT],
            close_out_requested_by: Some(Uuid::from_u128(99)),
            evidence_by: vec![Uuid::from_u128(99)],
            ..SiteFacts::default()
        }
    }

    /// The whole table: every status × every action × every role. The expected outcome is written out per
    /// (action, role) as the statuses it succeeds from; everything else must fail with the right error.
    #[test]
    fn every_status_action_and_role() {
        use ActionKind as A;
        use Role as R;
        use SiteStatus as S;
        let open = [S::Reported, S::Verified, S::Assigned, S::InProgress, S::PendingReview, S::Reopened];
        // (action, roles that may take it, statuses it starts from, status it leads to or None = unchanged)
        type Row<'a> = (A, &'a [R], &'a [S], Option<S>);
        let table: &[Row] = &[
            (A::Verify, &[R::Dispatcher], &[S::Reported], Some(S::Verified)),
            (A::Reject, &[R::Dispatcher], &[S::Reported], Some(S::Rejected)),
            (A::Merge, &[R::Dispatcher], &[S::Reported, S::Verified], Some(S::Duplicate)),
            (A::Dispatch, &[R::Dispatcher], &[S::Verified], Some(S::Assigned)),
            (A::Accept, &[R::TownOfficer, R::UnitOfficer], &[S::Assigned], Some(S::InProgress)),
            (A::Start, &[R::TownOfficer, R::UnitOfficer], &[S::Reopened], Some(S::InProgress)),
            (A::RequestExtension, &[R::TownOfficer, R::UnitOfficer], &[S::InProgress], None),
            (A::RequestCloseOut, &[R::TownOfficer, R::UnitOfficer], &[S::InProgress], Some(S::PendingReview)),
            (A::Approve, &[R::Reviewer], &[S::PendingReview], Some(S::Closed)),
            (A::Return, &[R::Reviewer], &[S::PendingReview], Some(S::InProgress)),
            (A::LookBackPass, &[R::Inspector], &[S::Closed], None),
            (A::LookBackRelapse, &[R::Inspector], &[S::Closed], Some(S::Reopened)),
            (A::Cancel, &[R::Dispatcher], &open, Some(S::Cancelled)),
            (A::Supervise, &[R::Dispatcher], &open, None),
        ];
        assert_eq!(
            table.len() + 1,
            A::ALL.len(),
            "every action but decide_extension (needs a pending request) is here"
        );
        for (action, roles, from, to) in table {
            for role in R::ALL {
                for status in S::ALL {
                    let got = transition(*status, *action, &actor(*role, 1), &site(), Some("理由"));
                    let case = format!("{action} by {role} from {status}");
                    match (roles.contains(role), from.contains(status)) {
                        (true, true) => {
                            let t = got.unwrap_or_else(|e| panic!("{case}: {e}"));
                            assert_eq!(t.to, to.unwrap_or(*status), "{case}");
                            assert_eq!(t.event, *action, "{case}");
                        }
                        (false, _) => {
                            assert!(matches!(got, Err(TransitionError::NotYourMove { .. })), "{case}: {got:?}")
                        }
                        (true, false) => {
                            assert!(matches!(got, Err(TransitionError::WrongStatus { .. })), "{case}: {got:?}")
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn event_kinds_are_actions_or_records_and_never_both() {
        for a in ActionKind::ALL {
            assert!(a.as_str().parse::<RecordKind>().is_err(), "{a}");
            assert_eq!(a.as_str().parse::<EventKind>(), Ok(EventKind::Move(*a)));
        }
        for r in RecordKind::ALL {
            assert_eq!(r.as_str().parse::<EventKind>(), Ok(EventKind::Record(*r)));
        }
        assert_eq!("supervision_listed".parse::<EventKind>().unwrap_err().what, "EventKind");
    }

    #[test]
    fn dates_are_china_dates() {
        let evening_utc: DateTime<Utc> = "2026-11-30T17:00:00Z".parse().unwrap();
        assert_eq!(china_date(evening_utc), NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
    }

    #[test]
    fn rectifiers_act_only_on_their_town_or_unit() {
        let mut elsewhere = site();
        elsewhere.town_id = Some(TOWN + 1);
        elsewhere.unit_ids = vec![UNIT + 1];
        for role in [Role::TownOfficer, Role::UnitOfficer] {
            let got = transition(SiteStatus::Assigned, ActionKind::Accept, &actor(role, 1), &elsewhere, None);
            assert!(matches!(got, Err(TransitionError::NotYourMove { .. })), "{role}");
        }
        // A supporting unit is one of the site's units too.
        let mut supporting = elsewhere.clone();
        supporting.unit_ids.push(UNIT);
        assert!(
            transition(SiteStatus::Assigned, ActionKind::Accept, &actor(Role::UnitOfficer, 1), &supporting, None)
                .is_ok()
        );
    }

    #[test]
    fn close_out_lists_every_unmet_item() {
        let mut facts = site();
        facts.unmet_items = vec!["speed_bump".into(), "signal_light".into()];
        let err =
            transition(SiteStatus::InProgress, ActionKind::RequestCloseOut, &actor(Role::TownOfficer, 1), &facts, None)
                .unwrap_err();
        assert_eq!(err, TransitionError::UnmetItems(vec!["speed_bump".into(), "signal_light".into()]));
        assert_eq!(
            err.to_string(),
            "close-out needs every required item installed with an after-photo; not yet: speed_bump, signal_light"
        );
    }

    #[test]
    fn a_reviewer_cannot_accept_their_own_work() {
        let requester = actor(Role::Reviewer, 99);
        let got = transition(SiteStatus::PendingReview, ActionKind::Approve, &requester, &site(), None);
        assert_eq!(got, Err(TransitionError::OwnWork));
        let mut evidence_only = site();
        evidence_only.close_out_requested_by = Some(Uuid::from_u128(5));
        let got = transition(SiteStatus::PendingReview, ActionKind::Approve, &requester, &evidence_only, None);
        assert_eq!(got, Err(TransitionError::OwnWork));
    }

    #[test]
    fn reasons_are_required_where_the_event_must_say_why() {
        for action in [ActionKind::Reject, ActionKind::Cancel] {
            let got = transition(SiteStatus::Reported, action, &actor(Role::Dispatcher, 1), &site(), Some("  "));
            assert_eq!(got, Err(TransitionError::ReasonRequired(action)));
        }
        let got = transition(SiteStatus::PendingReview, ActionKind::Return, &actor(Role::Reviewer, 1), &site(), None);
        assert_eq!(got, Err(TransitionError::ReasonRequired(ActionKind::Return)));
    }

    #[test]
    fn extensions_wait_for_one_decision() {
        let officer = actor(Role::TownOfficer, 1);
        let dispatcher = actor(Role::Dispatcher, 2);
        let mut facts = site();
        assert!(matches!(
            transition(SiteStatus::InProgress, ActionKind::DecideExtension, &dispatcher, &facts, None),
            Err(TransitionError::NoExtension)
        ));
        facts.extension_pending = true;
        assert!(matches!(
            transition(SiteStatus::InProgress, ActionKind::RequestExtension, &officer, &facts, Some("雨季施工")),
            Err(TransitionError::ExtensionPending)
        ));
        let decided =
            transition(SiteStatus::InProgress, ActionKind::DecideExtension, &dispatcher, &facts, None).unwrap();
        assert_eq!(decided.to, SiteStatus::InProgress);
    }
}
