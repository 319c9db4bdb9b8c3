//! The ledger's history: for every place a site with a plausible story from its first observation to its
//! status today (建账销号, DOMAIN.md §6), and the checklist, observations, photos and events that story
//! leaves behind, as the records `write` stores.
//!
//! Three steps: `plan` decides what each site will go through, `story` plays its moves through
//! `domain::lifecycle::transition` (so statuses and event kinds are the lifecycle's own), and `build` here
//! puts the stories together in ledger-number order.
//!
//! The stories keep the rules the API enforces (src/http/lifecycle.rs, src/db/lifecycle.rs): the unit
//! records evidence for every item it puts in place before asking for close-out, with the photos the
//! template asks for; only the dispatcher moves a deadline, by approving an extension; a look-back is an
//! inspector's observation that completes the task the look-back policy planned.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::db::photos::PhotoOwner;
use crate::domain::lifecycle::{ActionKind, Dispatch, EventKind, Supervision};
use crate::domain::observation::LookBackResult;
use crate::domain::site::{HazardLevel, ItemState, RectificationMode, SiteKind, SiteStatus};

use super::places::{Geom, Place};
use super::plan::{self, Cast};
use super::rng::Rng;
use super::roads::Network;
use super::story::{self, LAST_DAY, Outcome, Setting};
use super::towns::Town;

/// A checklist item of a template, as the database lists it.
#[derive(Debug, Clone)]
pub struct TemplateItem {
    pub template_code: String,
    pub code: String,
    pub name: String,
    /// Its evidence needs a night photo: lamps and signals must be seen working in the dark.
    pub night_evidence: bool,
}

/// Reference data read from the database, so the dataset follows the schema's own lists.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub items: Vec<TemplateItem>,
    /// Hazard type code -> Chinese name.
    pub hazard_names: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: Uuid,
    pub code: String,
    pub kind: SiteKind,
    pub geom: Geom,
    pub road: usize,
    pub status: SiteStatus,
    pub hazard_types: Vec<&'static str>,
    pub hazard_level: HazardLevel,
    pub rectification_mode: RectificationMode,
    pub source: &'static str,
    pub responsible_unit: Option<&'static str>,
    pub lead_unit: Option<&'static str>,
    pub supporting_units: Vec<&'static str>,
    pub deadline: Option<NaiveDate>,
    pub supervision: Option<Supervision>,
    pub duplicate_of: Option<Uuid>,
    pub first_observed_at: DateTime<Utc>,
    pub last_observed_at: DateTime<Utc>,
    pub observation_count: i32,
    /// Who asked for the close-out now under review (the reviewer must be someone else).
    pub close_out_requested_by: Option<&'static str>,
    pub return_count: i32,
    pub relapse_count: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub site_id: Uuid,
    pub template_code: String,
    pub item_code: String,
    pub state: ItemState,
    pub quantity: Option<i32>,
    pub measured: Value,
    pub installed_on: Option<NaiveDate>,
    pub installer: Option<&'static str>,
    pub reason: Option<&'static str>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct Observation {
    pub id: Uuid,
    pub site_id: Uuid,
    pub kind: SiteKind,
    pub inspector: &'static str,
    pub observed_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub geom: Geom,
    pub accuracy_m: f32,
    pub hazard_types: Vec<&'static str>,
    /// Item code -> state, as seen.
    pub checklist: Value,
    pub notes: String,
    /// Whether the inspector typed the stake (copied from the site when stored).
    pub with_stake: bool,
    pub content_sha256: [u8; 32],
    /// What a look-back found; `None` for a report.
    pub look_back_result: Option<LookBackResult>,
}

/// A photo row: which picture (index into [`super::pictures`]) an observation (before-photo) or an evidence
/// record (after- or night photo) carries.
#[derive(Debug, Clone)]
pub struct Photo {
    pub id: Uuid,
    pub owner: PhotoOwner,
    pub position: i16,
    pub picture: usize,
    pub created_at: DateTime<Utc>,
}

/// Remediation evidence for one checklist item (`item_evidence`): the item as the unit recorded it once in
/// place, with its photos in [`Ledger::photos`]. The demo's evidence is always of an `installed` item.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub id: Uuid,
    pub site_id: Uuid,
    pub item_code: String,
    pub quantity: Option<i32>,
    pub measured: Value,
    /// `None` for a facility that was already there when the site was found.
    pub installed_on: Option<NaiveDate>,
    pub installer: Option<&'static str>,
    pub submitted_by: &'static str,
    pub submitted_at: DateTime<Utc>,
}

/// An extension request and, once made, the dispatcher's decision.
#[derive(Debug, Clone)]
pub struct Extension {
    pub id: Uuid,
    pub site_id: Uuid,
    pub requested_by: &'static str,
    pub requested_at: DateTime<Utc>,
    pub old_deadline: Option<NaiveDate>,
    pub new_deadline: NaiveDate,
    pub reason: &'static str,
    pub decision: Option<ExtensionDecision>,
}

#[derive(Debug, Clone)]
pub struct ExtensionDecision {
    pub by: &'static str,
    pub at: DateTime<Utc>,
    pub approved: bool,
    pub reason: Option<&'static str>,
}

/// A look-back task the policy planned, and the observation that completed it once done.
#[derive(Debug, Clone)]
pub struct LookBackTask {
    pub id: Uuid,
    pub site_id: Uuid,
    pub policy: &'static str,
    pub due_on: NaiveDate,
    pub created_at: DateTime<Utc>,
    pub done: Option<LookBackDone>,
}

#[derive(Debug, Clone)]
pub struct LookBackDone {
    pub at: DateTime<Utc>,
    pub by: &'static str,
    /// As the observation says.
    pub result: LookBackResult,
    pub observation_id: Uuid,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub site_id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: &'static str,
    pub kind: EventKind,
    pub from_status: Option<SiteStatus>,
    pub to_status: Option<SiteStatus>,
    pub reason: Option<String>,
    pub data: EventData,
    pub observation_id: Option<Uuid>,
}

/// What an event records in its `data`, in the shape the server records for the same event. People and
/// organisations are named as the story knows them (`Cast`); `write` puts in their database ids.
#[derive(Debug, Clone)]
pub enum EventData {
    Json(Value),
    /// A dispatch: its units are organisation numbers (`Cast::organisation`).
    Dispatch(Dispatch),
    /// An approval names who had asked for the close-out.
    Approve {
        close_out_requested_by: Option<&'static str>,
    },
}

impl EventData {
    /// The JSON, with the database ids `organisation` and `user` give for the story's organisation numbers
    /// and people.
    pub fn to_json<E>(
        &self,
        organisation: impl Fn(i32) -> Result<i32, E>,
        user: impl Fn(&str) -> Result<Uuid, E>,
    ) -> Result<Value, E> {
        Ok(match self {
            EventData::Json(v) => v.clone(),
            EventData::Dispatch(d) => json!({
                "responsible_unit_id": organisation(d.responsible_unit_id)?,
                "lead_unit_id": d.lead_unit_id.map(&organisation).transpose()?,
                "supporting_unit_ids": d.supporting_unit_ids.iter().map(|&u| organisation(u)).collect::<Result<Vec<_>, E>>()?,
                "hazard_level": d.hazard_level, "rectification_mode": d.rectification_mode, "deadline": d.deadline,
            }),
            EventData::Approve { close_out_requested_by } => {
                json!({ "close_out_requested_by": close_out_requested_by.map(user).transpose()? })
            }
        })
    }

    /// The JSON with the story's own numbers and names (organisation numbers, no user ids), for tests.
    #[cfg(test)]
    pub fn story_json(&self) -> Value {
        self.to_json(Ok::<i32, ()>, |_| Ok(Uuid::nil())).expect("never fails")
    }
}

#[derive(Debug, Default)]
pub struct Ledger {
    /// In ledger-number order (the order they were opened).
    pub sites: Vec<Site>,
    pub items: Vec<Item>,
    pub observations: Vec<Observation>,
    pub evidence: Vec<Evidence>,
    pub photos: Vec<Photo>,
    pub extensions: Vec<Extension>,
    pub look_backs: Vec<LookBackTask>,
    /// In time order, so event ids follow time.
    pub events: Vec<Event>,
}

/// Builds the ledger for `places`, the same on every run. `pictures` are the SHA-256 of the pictures, which
/// evidence events name.
pub fn build(towns: &[Town], net: &Network, places: Vec<Place>, cat: &Catalogue, pictures: &[[u8; 32]]) -> Ledger {
    let cast = Cast::new(towns);
    let setting = Setting { cat, cast: &cast, pictures };
    let mut rng = Rng::stream("ledger");
    let total = places.len();
    let is_duplicate = plan::duplicate_slots(&places, &mut rng);

    let mut done: Vec<(plan::Plan, Outcome)> = Vec::with_capacity(total);
    let mut slots: Vec<Place> = Vec::new();
    for (place, dup) in places.into_iter().zip(is_duplicate) {
        if dup {
            slots.push(place);
            continue;
        }
        let plan = plan::site(place, towns, net, cat, &mut rng);
        let outcome = story::run(&plan, setting, &mut rng, |duration, side| plan::start_day(&plan, duration, side));
        done.push((plan, outcome));
    }

    // Duplicates: reported again (usually by a citizen or the hotline, with a rough location) while the
    // first site was still open, then merged into it.
    let base = done.len();
    for slot in slots {
        let chosen = (0..10_000).find_map(|_| {
            let t = rng.index(base);
            let (plan, outcome) = &done[t];
            let survives = !matches!(outcome.site.status, SiteStatus::Rejected | SiteStatus::Cancelled);
            let (lo, hi) = (outcome.first_day + 1, outcome.open_until.min(LAST_DAY) - 6);
            (plan.place.kind == slot.kind && survives && lo <= hi).then(|| (t, rng.int(lo, hi)))
        });
        let Some((target, start)) = chosen else { continue };
        let place = plan::near(&done[target].0.place, slot.kind, towns, net, &mut rng);
        let survivor = done[target].0.id;
        let plan = plan::duplicate(place, survivor, towns, net, cat, &mut rng);
        let outcome = story::run(&plan, setting, &mut rng, |_, _| start);
        done.push((plan, outcome));
    }

    // Ledger numbers follow the order sites were opened.
    let mut outcomes: Vec<Outcome> = done.into_iter().map(|(_, o)| o).collect();
    outcomes.sort_by_key(|o| (o.site.first_observed_at, o.site.id));
    let mut codes: HashMap<Uuid, String> = HashMap::with_capacity(outcomes.len());
    for (i, o) in outcomes.iter_mut().enumerate() {
        o.site.code = format!("YH-{:06}", i + 1);
        codes.insert(o.site.id, o.site.code.clone());
    }
    let mut ledger = Ledger::default();
    for o in outcomes {
        let survivor = o.site.duplicate_of.and_then(|id| codes.get(&id));
        for mut event in o.events {
            if let (Some(code), EventKind::Move(ActionKind::Merge)) = (survivor, event.kind) {
                event.reason = Some(format!("与{code}为同一点位，合并处理"));
            }
            ledger.events.push(event);
        }
        ledger.sites.push(o.site);
        ledger.items.extend(o.items);
        ledger.observations.extend(o.observations);
        ledger.evidence.extend(o.evidence);
        ledger.photos.extend(o.photos);
        ledger.extensions.extend(o.extensions);
        ledger.look_backs.extend(o.look_backs);
    }
    ledger.events.sort_by_key(|e| e.at);
    ledger
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::demo::pictures;
    use crate::demo::places::Geom;
    use crate::demo::plane::Xy;
    use crate::demo::story::At;
    use crate::demo::{places, roads, towns};
    use crate::domain::lifecycle::{RecordKind, china_date};
    use crate::domain::policy::LookBackPolicy;
    use chrono::Duration;

    use ActionKind as A;
    use EventKind::{Move as M, Record as R};

    /// The built-in templates and hazard types, as migrations/0001 inserts them.
    pub(crate) fn catalogue() -> Catalogue {
        let items = [
            ("five_must_haves", "warning_sign", "警告标志", false),
            ("five_must_haves", "road_marking", "道路标线", false),
            ("five_must_haves", "speed_bump", "减速带", false),
            ("five_must_haves", "warning_post", "警示桩", false),
            ("five_must_haves", "signal_light", "交通信号灯", true),
            ("three_ones", "line", "一条线", false),
            ("three_ones", "sign", "一块牌", false),
            ("three_ones", "lamp", "一盏灯", true),
        ];
        Catalogue {
            items: items
                .iter()
                .map(|&(t, c, name, night_evidence)| TemplateItem {
                    template_code: t.into(),
                    code: c.into(),
                    name: name.into(),
                    night_evidence,
                })
                .collect(),
            hazard_names: HashMap::new(),
        }
    }

    pub(crate) fn ledger() -> Ledger {
        let towns = towns::tile();
        let net = roads::build(&towns);
        let places = places::place(&towns, &net, (places::INTERSECTIONS, places::SPOTS, places::SECTIONS));
        build(&towns, &net, places, &catalogue(), &picture_hashes())
    }

    /// Stand-ins for the pictures' hashes: distinct, and the same on every run.
    fn picture_hashes() -> Vec<[u8; 32]> {
        (0..pictures::COUNT).map(|i| [i as u8; 32]).collect()
    }

    fn events_by_site(ledger: &Ledger) -> HashMap<Uuid, Vec<&Event>> {
        let mut events: HashMap<Uuid, Vec<&Event>> = HashMap::new();
        for e in &ledger.events {
            events.entry(e.site_id).or_default().push(e);
        }
        events
    }

    #[test]
    fn every_status_occurs_and_histories_lead_to_it() {
        let ledger = ledger();
        let statuses: HashSet<SiteStatus> = ledger.sites.iter().map(|s| s.status).collect();
        assert_eq!(statuses.len(), SiteStatus::ALL.len(), "{statuses:?}");

        let events = events_by_site(&ledger);
        let end = At { day: LAST_DAY + 2, sec: 0 }.utc();
        for site in &ledger.sites {
            let history = &events[&site.id];
            assert_eq!(history[0].kind, R(RecordKind::Opened));
            assert!(history[0].observation_id.is_some());
            let mut status = None;
            for pair in history.windows(2) {
                assert!(pair[0].at < pair[1].at, "{}: events out of order", site.code);
            }
            for e in history {
                assert!(e.at < end);
                assert_eq!(e.from_status, status, "{}: {} starts from the wrong status", site.code, e.kind);
                if e.to_status.is_some() {
                    status = e.to_status;
                }
                // Every move is one the lifecycle allows, with a reason where it needs one.
                if let M(action) = e.kind {
                    let from = e.from_status.expect("a move starts from a status");
                    assert!(action.from_statuses().contains(&from), "{}: {} from {from}", site.code, e.kind);
                    assert_eq!(e.to_status, action.to_status(), "{}: {}", site.code, e.kind);
                    if action.needs_reason() || action == ActionKind::Merge {
                        assert!(e.reason.is_some(), "{} needs a reason", e.kind);
                    }
                }
            }
            assert_eq!(status, Some(site.status), "{}", site.code);
            // The version as the server counts it: the opening report, then one per move, per evidence record
            // and per look-back visit (a look-back's visit and its move are two); planning a look-back is none.
            let count = |kind: fn(&EventKind) -> bool| history.iter().filter(|e| kind(&e.kind)).count();
            let visits =
                ledger.observations.iter().filter(|o| o.site_id == site.id && o.look_back_result.is_some()).count();
            let moves = count(|k| matches!(k, M(_)));
            let evidence = count(|k| *k == R(RecordKind::EvidenceSubmitted));
            assert_eq!(site.version as usize, 1 + moves + evidence + visits, "{}", site.code);
            assert_eq!(site.duplicate_of.is_some(), site.status == SiteStatus::Duplicate);
        }
    }

    #[test]
    fn duplicates_point_at_an_earlier_surviving_site() {
        let ledger = ledger();
        let by_id: HashMap<Uuid, &Site> = ledger.sites.iter().map(|s| (s.id, s)).collect();
        for site in ledger.sites.iter().filter(|s| s.status == SiteStatus::Duplicate) {
            let target = by_id[&site.duplicate_of.expect("duplicate_of")];
            assert_ne!(target.status, SiteStatus::Duplicate);
            assert_eq!(target.kind, site.kind);
            assert!(target.code < site.code && target.first_observed_at < site.first_observed_at);
        }
    }

    #[test]
    fn checklists_agree_with_status() {
        let ledger = ledger();
        let status: HashMap<Uuid, SiteStatus> = ledger.sites.iter().map(|s| (s.id, s.status)).collect();
        let mut per_site: HashMap<Uuid, usize> = HashMap::new();
        for item in &ledger.items {
            *per_site.entry(item.site_id).or_default() += 1;
            assert_eq!(item.state == ItemState::NotApplicable, item.reason.is_some());
            if matches!(status[&item.site_id], SiteStatus::Closed | SiteStatus::PendingReview) {
                assert!(item.state.is_in_place(), "{:?} item {:?}", status[&item.site_id], item.state);
            }
            if item.installer.is_some() {
                assert!(item.installed_on.is_some());
            }
        }
        for site in &ledger.sites {
            let expected = if site.kind == SiteKind::Intersection { 5 } else { 3 };
            assert_eq!(per_site[&site.id], expected);
            assert_eq!(
                site.observation_count as usize,
                ledger.observations.iter().filter(|o| o.site_id == site.id).count()
            );
        }
        assert!(ledger.photos.len() >= ledger.observations.len());
    }

    /// Every site under review or closed meets the close-out rule (`db::lifecycle::unmet_items`): each item
    /// installed or verified has evidence with an after-photo, and a night photo where the template asks;
    /// the others are not applicable, with a reason. The item is as its latest evidence says. The evidence
    /// is the accepting officer's, recorded between acceptance and the request, and the reviewer who
    /// approved submitted none of it.
    #[test]
    fn sites_under_review_or_closed_have_their_evidence() {
        let ledger = ledger();
        let cat = catalogue();
        let night: HashSet<&str> = cat.items.iter().filter(|i| i.night_evidence).map(|i| i.code.as_str()).collect();
        let mut roles: HashMap<Uuid, HashSet<&str>> = HashMap::new();
        for p in &ledger.photos {
            match p.owner {
                PhotoOwner::EvidenceAfter(id) => roles.entry(id).or_default().insert("after"),
                PhotoOwner::EvidenceNight(id) => roles.entry(id).or_default().insert("night"),
                PhotoOwner::Observation(_) => continue,
            };
        }
        let mut evidence: HashMap<(Uuid, &str), Vec<&Evidence>> = HashMap::new();
        for e in &ledger.evidence {
            evidence.entry((e.site_id, e.item_code.as_str())).or_default().push(e);
        }
        let status: HashMap<Uuid, SiteStatus> = ledger.sites.iter().map(|s| (s.id, s.status)).collect();
        let reviewed = |id: &Uuid| matches!(status[id], SiteStatus::PendingReview | SiteStatus::Closed);
        let mut checked = 0;
        for item in ledger.items.iter().filter(|i| reviewed(&i.site_id)) {
            if item.state == ItemState::NotApplicable {
                assert!(item.reason.is_some());
                continue;
            }
            assert!(matches!(item.state, ItemState::Installed | ItemState::Verified), "{:?}", item.state);
            let rows = &evidence[&(item.site_id, item.item_code.as_str())];
            let has = |role: &str| rows.iter().any(|e| roles.get(&e.id).is_some_and(|r| r.contains(role)));
            assert!(has("after"), "{} has no after-photo", item.item_code);
            assert_eq!(has("night"), night.contains(item.item_code.as_str()), "{}", item.item_code);
            let latest = rows.last().expect("evidence");
            assert_eq!(
                (&latest.quantity, &latest.measured, latest.installed_on, latest.installer),
                (&item.quantity, &item.measured, item.installed_on, item.installer)
            );
            checked += 1;
        }
        assert!(checked > 2000, "{checked}");

        let events = events_by_site(&ledger);
        let mut by_site: HashMap<Uuid, Vec<&Evidence>> = HashMap::new();
        for e in &ledger.evidence {
            by_site.entry(e.site_id).or_default().push(e);
        }
        for site in ledger.sites.iter().filter(|s| reviewed(&s.id)) {
            let history = &events[&site.id];
            let accept = history.iter().find(|e| e.kind == M(A::Accept)).expect("accepted");
            let request = history.iter().rfind(|e| e.kind == M(A::RequestCloseOut)).expect("close-out requested");
            for e in &by_site[&site.id] {
                assert!(accept.at < e.submitted_at && e.submitted_at < request.at, "{}", site.code);
                assert_eq!(e.submitted_by, accept.actor);
                if let Some(day) = e.installed_on {
                    assert!(china_date(accept.at) <= day && day <= china_date(request.at), "{}", site.code);
                    assert!(e.installer.is_some());
                }
            }
            match site.status {
                SiteStatus::Closed => {
                    let approve = history.iter().rfind(|e| e.kind == M(A::Approve)).expect("approved");
                    assert!(by_site[&site.id].iter().all(|e| e.submitted_by != approve.actor), "{}", site.code);
                    assert_ne!(approve.actor, request.actor);
                    assert_eq!(site.close_out_requested_by, None);
                }
                _ => assert_eq!(site.close_out_requested_by, Some(request.actor)),
            }
        }
    }

    /// Each `evidence_submitted` event names one evidence record, with its item and its photos in order;
    /// an item the reviewer returned gets new evidence before the next request.
    #[test]
    fn evidence_events_name_their_evidence_and_photos() {
        let ledger = ledger();
        let hashes = picture_hashes();
        let evidence: HashMap<Uuid, &Evidence> = ledger.evidence.iter().map(|e| (e.id, e)).collect();
        let mut photos: HashMap<Uuid, Vec<&Photo>> = HashMap::new();
        for p in &ledger.photos {
            if let PhotoOwner::EvidenceAfter(id) | PhotoOwner::EvidenceNight(id) = p.owner {
                photos.entry(id).or_default().push(p);
            }
        }
        let mut named = HashSet::new();
        for e in ledger.events.iter().filter(|e| e.kind == R(RecordKind::EvidenceSubmitted)) {
            let data = e.data.story_json();
            let id: Uuid = data["evidence_id"].as_str().expect("evidence_id").parse().expect("a uuid");
            let row = evidence[&id];
            assert_eq!((row.site_id, row.submitted_by, row.submitted_at), (e.site_id, e.actor, e.at));
            assert_eq!(data["item"], row.item_code.as_str());
            assert_eq!(data["state"], "installed");
            assert_eq!((e.from_status, e.to_status), (Some(SiteStatus::InProgress), None));
            let mut own = photos[&id].clone();
            own.sort_by_key(|p| p.position);
            assert_eq!(own.iter().map(|p| p.position).collect::<Vec<_>>(), (0..own.len() as i16).collect::<Vec<_>>());
            let expected: Vec<Value> = own
                .iter()
                .map(|p| {
                    let (role, shown) = match p.owner {
                        PhotoOwner::EvidenceNight(_) => ("night", pictures::NIGHT.start..pictures::COUNT),
                        _ => ("after", pictures::AFTER.start..pictures::NIGHT_CLOSE_UPS.start),
                    };
                    assert!(shown.contains(&p.picture) && !pictures::BEFORE.contains(&p.picture));
                    json!({ "sha256": hex::encode(hashes[p.picture]), "role": role })
                })
                .collect();
            assert_eq!(data["photos"], Value::Array(expected));
            assert!(named.insert(id), "evidence {id} named twice");
        }
        assert_eq!(named.len(), ledger.evidence.len());

        let mut reworked = 0;
        for history in events_by_site(&ledger).values() {
            for (i, _) in history.iter().enumerate().filter(|(_, e)| e.kind == M(A::Return)) {
                let after: Vec<&&Event> = history[i..].iter().take_while(|e| e.kind != M(A::RequestCloseOut)).collect();
                if after.len() < history.len() - i {
                    assert!(
                        after.iter().any(|e| e.kind == R(RecordKind::EvidenceSubmitted)),
                        "no new evidence after a return"
                    );
                    reworked += 1;
                }
            }
        }
        assert!(reworked > 10, "{reworked}");
    }

    /// One extension request per `request_extension` event, decided as the `decide_extension` event says;
    /// the deadline moves only by dispatch and approved extensions. Some are refused, a few still wait, never
    /// more than one per site and only while the work is in progress.
    #[test]
    fn extension_requests_follow_their_events_and_move_deadlines() {
        let ledger = ledger();
        let events = events_by_site(&ledger);
        let mut requests: HashMap<Uuid, Vec<&Extension>> = HashMap::new();
        for x in &ledger.extensions {
            requests.entry(x.site_id).or_default().push(x);
        }
        let date = |v: &Value| v.as_str().map(|d| d.parse::<NaiveDate>().expect("a date"));
        let (mut approved, mut refused, mut pending) = (0, 0, 0);
        for site in &ledger.sites {
            let history = &events[&site.id];
            let own = requests.get(&site.id).cloned().unwrap_or_default();
            let asked: Vec<&&Event> = history.iter().filter(|e| e.kind == M(A::RequestExtension)).collect();
            let decided: Vec<&&Event> = history.iter().filter(|e| e.kind == M(A::DecideExtension)).collect();
            assert_eq!(asked.len(), own.len(), "{}", site.code);
            for (e, x) in asked.iter().zip(&own) {
                assert_eq!((e.actor, e.at, e.reason.as_deref()), (x.requested_by, x.requested_at, Some(x.reason)));
                assert_eq!(
                    (date(&e.data.story_json()["old_deadline"]), date(&e.data.story_json()["new_deadline"])),
                    (x.old_deadline, Some(x.new_deadline))
                );
                assert!(
                    x.old_deadline.is_none_or(|old| old < x.new_deadline)
                        && china_date(x.requested_at) <= x.new_deadline
                );
            }
            let decisions: Vec<&ExtensionDecision> = own.iter().filter_map(|x| x.decision.as_ref()).collect();
            assert_eq!(decided.len(), decisions.len(), "{}", site.code);
            for (e, d) in decided.iter().zip(&decisions) {
                assert_eq!((e.actor, e.at, e.reason.as_deref()), (d.by, d.at, d.reason));
                assert_eq!(e.data.story_json()["approved"], d.approved);
                assert_eq!(d.reason.is_some(), !d.approved);
            }
            let waiting = own.iter().filter(|x| x.decision.is_none()).count();
            if waiting > 0 {
                assert_eq!(waiting, 1, "{}", site.code);
                assert!(own.last().expect("one").decision.is_none());
                assert_eq!(site.status, SiteStatus::InProgress);
            }
            approved += decisions.iter().filter(|d| d.approved).count();
            refused += decisions.iter().filter(|d| !d.approved).count();
            pending += waiting;

            let mut deadline = None;
            for e in history.iter() {
                let data = e.data.story_json();
                match e.kind {
                    M(A::Dispatch) => deadline = date(&data["deadline"]),
                    M(A::DecideExtension) if data["approved"] == true => deadline = date(&data["new_deadline"]),
                    M(A::LookBackRelapse) => deadline = date(&data["deadline"]),
                    _ => {}
                }
            }
            assert_eq!(deadline, site.deadline, "{}", site.code);
        }
        assert!(
            approved > 20 && refused > 5 && pending > 5,
            "{approved} approved, {refused} refused, {pending} pending"
        );
    }

    /// Distance (metres) from a point to a site's geometry.
    fn distance_m(p: Xy, geom: &Geom) -> f64 {
        match geom {
            Geom::Point(q) => p.dist(*q),
            Geom::Line(pts) => pts
                .windows(2)
                .map(|w| {
                    let d = w[1].sub(w[0]);
                    let t = (p.sub(w[0]).dot(d) / d.dot(d)).clamp(0.0, 1.0);
                    p.dist(w[0].lerp(w[1], t))
                })
                .fold(f64::INFINITY, f64::min),
        }
    }

    /// Every look-back task follows a `look_back_due` event with its policy and due date; a done one was
    /// completed by an observation on site that says what it found, which the pass or relapse event points
    /// at. Some closed sites wait for theirs, due around the season's end.
    #[test]
    fn look_backs_are_observations_that_complete_their_tasks() {
        let ledger = ledger();
        let events = events_by_site(&ledger);
        let observations: HashMap<Uuid, &Observation> = ledger.observations.iter().map(|o| (o.id, o)).collect();
        let sites: HashMap<Uuid, &Site> = ledger.sites.iter().map(|s| (s.id, s)).collect();
        let policy = LookBackPolicy::default();
        let mut open_due = Vec::new();
        for task in &ledger.look_backs {
            let site = sites[&task.site_id];
            let history = &events[&site.id];
            let due = history
                .iter()
                .find(|e| e.kind == R(RecordKind::LookBackDue) && e.at == task.created_at)
                .expect("planned");
            assert_eq!(due.data.story_json(), json!({ "policy": task.policy, "due_on": task.due_on }));
            assert_eq!(task.due_on, china_date(task.created_at) + Duration::days(i64::from(policy.due_in_days)));
            let quarterly = site.hazard_level == HazardLevel::Major || site.supervision.is_some();
            assert_eq!(task.policy, if quarterly { "quarterly_major" } else { "monthly_sample" });
            let Some(done) = &task.done else {
                assert_eq!(site.status, SiteStatus::Closed);
                assert_eq!(history.last().map(|e| e.kind), Some(R(RecordKind::LookBackDue)));
                open_due.push(task.due_on);
                continue;
            };
            let seen = observations[&done.observation_id];
            assert_eq!((seen.site_id, seen.kind, seen.inspector), (site.id, site.kind, done.by));
            assert_eq!(seen.look_back_result, Some(done.result));
            assert!(task.created_at < seen.observed_at && seen.received_at == done.at);
            let Geom::Point(at) = seen.geom else { panic!("a look-back is recorded as a point") };
            assert!(distance_m(at, &site.geom) <= 100.0, "{}", site.code);
            let event = history.iter().find(|e| e.observation_id == Some(seen.id) && e.at == done.at).expect("event");
            let expected = match done.result {
                LookBackResult::Pass => A::LookBackPass,
                LookBackResult::Relapse => A::LookBackRelapse,
            };
            assert_eq!(event.kind, M(expected));
            let data = event.data.story_json();
            assert_eq!(event.actor, done.by);
            assert_eq!(data["observation_id"], seen.id.to_string());
            let failed: Vec<&str> = seen
                .checklist
                .as_object()
                .expect("checklist")
                .iter()
                .filter(|(_, v)| *v == "missing" || *v == "damaged")
                .map(|(k, _)| k.as_str())
                .collect();
            if done.result == LookBackResult::Pass {
                assert!(failed.is_empty() && seen.hazard_types.is_empty() && event.reason.is_none());
                assert_eq!(data, json!({ "observation_id": seen.id }));
            } else {
                let mut named: Vec<&str> = data["failed_items"]
                    .as_array()
                    .expect("failed_items")
                    .iter()
                    .map(|v| v.as_str().expect("an item code"))
                    .collect();
                named.sort_unstable();
                assert!(!failed.is_empty());
                assert_eq!(named, failed);
                assert_eq!(event.reason.as_deref(), Some(seen.notes.as_str()));
            }
        }
        let done = ledger.look_backs.iter().filter(|t| t.done.is_some()).count();
        let recorded = ledger.events.iter().filter(|e| matches!(e.kind, M(A::LookBackPass | A::LookBackRelapse)));
        assert_eq!(recorded.count(), done);
        assert!(done > 100, "{done}");
        let last = At { day: LAST_DAY, sec: 0 }.date();
        assert!(open_due.len() > 20, "{} open look-backs", open_due.len());
        assert!(open_due.iter().any(|d| *d < last) && open_due.iter().any(|d| *d > last + Duration::days(7)));

        for site in &ledger.sites {
            let count = |action: A| events[&site.id].iter().filter(|e| e.kind == M(action)).count() as i32;
            assert_eq!((site.return_count, site.relapse_count), (count(A::Return), count(A::LookBackRelapse)));
        }
    }
}
