//! Each site's story: its moves from the first report to its status today (建账销号, DOMAIN.md §6), and the
//! checklist, observations, photos, evidence, extension requests, look-back tasks and events they leave.
//!
//! Every move is decided by `domain::lifecycle::transition`, as the server decides it: from the site's
//! status, with the actor the cast gives the person and the facts the server would load (the site's town
//! and units, the items close-out still waits for, who asked for the close-out and who submitted evidence,
//! a pending extension request). The status after the move, the event's kind and its from and to statuses
//! come from the decision; a refusal is a bug in the story, and generation stops there. The event's data
//! has the shape `db::lifecycle` records for the same move.
//!
//! A story is simulated twice from the same random state: once from day 0 to learn how long it takes, then
//! from the start day that puts its last step where the status wants it (a site still `reported` was
//! found recently; a `closed` one may be from any time in the season). The random draws do not depend on
//! the start day, so both runs take the same steps.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::photos::PhotoOwner;
use crate::domain::lifecycle::{Dispatch, EventKind, Move, RecordKind, Relapse, SiteFacts, Supervision, transition};
use crate::domain::observation::LookBackResult;
use crate::domain::policy::{DeadlinePolicy, LookBackPolicy};
use crate::domain::site::{HazardLevel, ItemState, RectificationMode, SiteKind, SiteStatus, SupervisionLevel};

use super::ledger::{
    Catalogue, Event, EventData, Evidence, Extension, ExtensionDecision, Item, LookBackDone, LookBackTask, Observation,
    Photo, Site,
};
use super::names::{self as n};
use super::pictures::{self, Facility};
use super::places::Geom;
use super::plan::{Cast, Plan};
use super::plane::Polyline;
use super::rng::Rng;

/// Days a major hazard or a capital project has under its approved plan: the deadline the dispatcher gives
/// where the deadline policy has no default (`DeadlinePolicy::default_days`).
const PLAN_DAYS: u64 = 180;

/// What every story shares: the checklist templates, the people, and the pictures' SHA-256 (evidence events
/// name them).
#[derive(Clone, Copy)]
pub struct Setting<'a> {
    pub cat: &'a Catalogue,
    pub cast: &'a Cast,
    pub pictures: &'a [[u8; 32]],
}

/// Day 0 is 2026-03-01 (China Standard Time); nothing happens after day 271, 2026-11-27.
pub const LAST_DAY: i64 = 271;
const CST_OFFSET_S: i64 = 8 * 3600;

pub fn first_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).expect("valid date")
}

/// A moment: day since 2026-03-01 and seconds into that day, China Standard Time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct At {
    pub day: i64,
    pub sec: i64,
}

impl At {
    pub fn utc(self) -> DateTime<Utc> {
        let midnight = first_date().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        midnight + Duration::days(self.day) + Duration::seconds(self.sec - CST_OFFSET_S)
    }

    pub fn date(self) -> NaiveDate {
        first_date() + Duration::days(self.day)
    }

    fn plus_seconds(self, s: i64) -> At {
        let sec = self.sec + s;
        At { day: self.day + sec.div_euclid(86_400), sec: sec.rem_euclid(86_400) }
    }
}

/// What one story leaves behind.
pub struct Outcome {
    pub site: Site,
    pub items: Vec<Item>,
    pub observations: Vec<Observation>,
    pub evidence: Vec<Evidence>,
    pub photos: Vec<Photo>,
    pub extensions: Vec<Extension>,
    pub look_backs: Vec<LookBackTask>,
    pub events: Vec<Event>,
    pub first_day: i64,
    pub last_day: i64,
    /// Last day the site was open (for duplicates to find it).
    pub open_until: i64,
}

/// Runs a story twice from the same seed: to measure it, then from the start day `choose` picks for
/// that duration (with its own random numbers, so the second run takes the same steps as the first).
pub fn run(plan: &Plan, setting: Setting<'_>, rng: &mut Rng, choose: impl FnOnce(i64, &mut Rng) -> i64) -> Outcome {
    // A long capital project with a return and a look-back could outlast the season: draw that story again.
    let (seed, duration) = loop {
        let seed = rng.next_u64();
        let duration = simulate(plan, setting, 0, &mut Rng::new(seed)).last_day;
        if duration <= LAST_DAY {
            break (seed, duration);
        }
    };
    let mut side = Rng::new(rng.next_u64());
    let start = choose(duration, &mut side).clamp(0, LAST_DAY - duration);
    let outcome = simulate(plan, setting, start, &mut Rng::new(seed));
    debug_assert!(outcome.last_day <= LAST_DAY, "{:?} ends on day {}", plan.target, outcome.last_day);
    outcome
}

/// One checklist item as the story goes.
#[derive(Debug, Clone)]
struct ItemNow {
    state: ItemState,
    quantity: Option<i32>,
    measured: Value,
    installed_on: Option<NaiveDate>,
    installer: Option<&'static str>,
    reason: Option<&'static str>,
    changed: At,
    /// The unit has recorded evidence for the item as it is now.
    evidenced: bool,
}

struct Story<'a> {
    plan: &'a Plan,
    cat: &'a Catalogue,
    cast: &'a Cast,
    pictures: &'a [[u8; 32]],
    rng: &'a mut Rng,
    now: At,
    first_day: i64,
    open_until: i64,
    /// `reported` from the opening report on.
    status: SiteStatus,
    /// What the lifecycle needs to know about the site besides its status (`unmet_items` is filled in before
    /// each move).
    facts: SiteFacts,
    /// The site's version as the server counts it (`version` in `db::lifecycle` and `db::observations`).
    version: i32,
    items: Vec<ItemNow>,
    observations: Vec<Observation>,
    evidence: Vec<Evidence>,
    photos: Vec<Photo>,
    extensions: Vec<Extension>,
    look_backs: Vec<LookBackTask>,
    events: Vec<Event>,
    deadline: Option<NaiveDate>,
    dispatched: bool,
    supervision: Option<Supervision>,
    close_out_by: Option<&'static str>,
    returns: i32,
    relapses: i32,
}

/// Why an inspector is at the site. (Only inspectors record observations: the unit's work shows as
/// evidence.)
#[derive(Clone, Copy, PartialEq)]
enum Visit {
    /// The report that opens the site, with before-photos of the hazard.
    Opening,
    /// A look-back, recorded where the inspector stood, with photos of the facilities as found.
    LookBack { pass: bool },
}

/// What the dispatcher makes of an extension request.
#[derive(Clone, Copy, PartialEq)]
enum Decision {
    Approve,
    Refuse,
    Pending,
}

fn simulate(plan: &Plan, setting: Setting<'_>, start_day: i64, rng: &mut Rng) -> Outcome {
    use SiteStatus as S;
    let now = At { day: start_day, sec: rng.int(8 * 3600 + 1800, 17 * 3600) };
    let mut story = Story {
        plan,
        cat: setting.cat,
        cast: setting.cast,
        pictures: setting.pictures,
        rng,
        now,
        first_day: start_day,
        open_until: LAST_DAY,
        status: SiteStatus::Reported,
        facts: SiteFacts { town_id: Some(plan.place.town as i32), ..SiteFacts::default() },
        version: 0,
        items: Vec::new(),
        observations: Vec::new(),
        evidence: Vec::new(),
        photos: Vec::new(),
        extensions: Vec::new(),
        look_backs: Vec::new(),
        events: Vec::new(),
        deadline: None,
        dispatched: false,
        supervision: None,
        close_out_by: None,
        returns: 0,
        relapses: 0,
    };
    story.open();
    match plan.target {
        S::Reported => {}
        S::Rejected => story.reject(),
        S::Duplicate => story.merge(),
        S::Verified => story.verify(),
        S::Assigned => {
            story.verify();
            story.dispatch();
        }
        S::Cancelled => {
            let stage =
                *story.rng.weighted(&[(S::Reported, 30), (S::Verified, 20), (S::Assigned, 20), (S::InProgress, 30)]);
            if stage != S::Reported {
                story.verify();
            }
            if matches!(stage, S::Assigned | S::InProgress) {
                story.dispatch();
            }
            if stage == S::InProgress {
                story.accept();
                story.work(0.4);
            }
            story.cancel();
        }
        S::InProgress => {
            story.verify();
            story.dispatch();
            story.accept();
            let variant = story.rng.int(0, 99);
            if variant < 15 {
                // Close-out was asked for and returned; the work goes on.
                story.work(0.6);
                story.close_out();
                story.give_back();
            } else if variant < 22 {
                // Closed, relapsed at the look-back, taken back into work; the old deadline has passed, so
                // the unit mostly asks for a new one.
                story.work_to_close_out();
                story.approve();
                story.look_back(false);
                story.start();
                if story.rng.chance(0.8) {
                    let decision = if story.rng.chance(0.85) { Decision::Approve } else { Decision::Refuse };
                    story.extend(n::RELAPSE_EXTENSION_REASON, decision);
                }
            } else {
                if story.rng.chance(0.5) {
                    story.work(0.5);
                }
                // Some ask for more time; the last request may still wait for the dispatcher.
                if story.rng.chance(0.25) {
                    let decision = *story.rng.weighted(&[
                        (Decision::Pending, 40),
                        (Decision::Approve, 40),
                        (Decision::Refuse, 20),
                    ]);
                    let reason = *story.rng.pick(n::EXTENSION_REASONS);
                    story.extend(reason, decision);
                }
            }
        }
        S::PendingReview => {
            story.verify();
            story.dispatch();
            story.accept();
            story.work_to_close_out();
        }
        S::Closed => {
            story.verify();
            story.dispatch();
            story.accept();
            story.work_to_close_out();
            story.approve();
            if plan.look_back_open {
                story.look_back_due();
            } else if story.rng.chance(0.25) {
                story.look_back(true);
            }
        }
        S::Reopened => {
            story.verify();
            story.dispatch();
            story.accept();
            story.work_to_close_out();
            story.approve();
            story.look_back(false);
        }
    }
    story.finish()
}

impl Story<'_> {
    /// Moves the clock on by `lo..=hi` days (same day: a little later; another day: working hours).
    fn advance(&mut self, lo: i64, hi: i64) {
        let days = self.rng.int(lo, hi);
        if days == 0 && self.now.sec < 19 * 3600 {
            self.now = self.now.plus_seconds(self.rng.int(20 * 60, 3 * 3600));
        } else {
            self.now = At { day: self.now.day + days.max(1), sec: self.rng.int(8 * 3600 + 1800, 17 * 3600 + 1800) };
        }
    }

    /// A move a little later (see `act`).
    fn step(&mut self, actor: &'static str, action: Move, reason: Option<String>) {
        self.now = self.now.plus_seconds(self.rng.int(60, 1800));
        self.act(actor, action, reason);
    }

    /// A move now, as the lifecycle decides it: the new status, the event's kind and its statuses come from
    /// `transition`; the event's data is what `db::lifecycle` records for the move.
    fn act(&mut self, actor: &'static str, action: Move, reason: Option<String>) {
        let cast = self.cast;
        self.facts.unmet_items = self.unmet_items();
        let decided = transition(self.status, action.kind(), cast.actor(actor), &self.facts, reason.as_deref())
            .unwrap_or_else(|refusal| {
                panic!("the story of site {} breaks a rule: {} by {actor}: {refusal}", self.plan.id, action.kind())
            });
        let data = self.data(&action);
        self.events.push(Event {
            site_id: self.plan.id,
            at: self.now.utc(),
            actor,
            kind: EventKind::Move(decided.event),
            from_status: Some(decided.from),
            // As `db::lifecycle::insert_event` records it: a move that keeps the status has no `to`.
            to_status: (decided.to != decided.from).then_some(decided.to),
            reason,
            data,
            observation_id: action.observation_id(),
        });
        self.status = decided.to;
        self.version += 1;
    }

    /// What the event of a move records (`db::lifecycle::apply` and its one function per action), from the
    /// site as it is before the move.
    fn data(&self, action: &Move) -> EventData {
        EventData::Json(match action {
            Move::Dispatch(d) => return EventData::Dispatch(d.clone()),
            Move::Approve => return EventData::Approve { close_out_requested_by: self.close_out_by },
            Move::Merge { into } => json!({ "into": into }),
            Move::RequestExtension { deadline } => json!({ "old_deadline": self.deadline, "new_deadline": deadline }),
            Move::DecideExtension { approve } => {
                let new_deadline = self.extensions.last().map(|x| x.new_deadline);
                json!({ "approved": approve, "old_deadline": self.deadline, "new_deadline": new_deadline })
            }
            Move::Supervise(s) => json!({ "level": s.level, "body": s.body, "doc_no": s.doc_no, "due": s.due }),
            Move::LookBackPass { observation_id } => json!({ "observation_id": observation_id }),
            Move::LookBackRelapse(r) => json!({
                "observation_id": r.observation_id, "failed_items": r.failed_items, "old_deadline": self.deadline,
                "deadline": r.deadline,
            }),
            Move::Verify
            | Move::Reject
            | Move::Accept
            | Move::Start
            | Move::RequestCloseOut
            | Move::Return
            | Move::Cancel => json!({}),
        })
    }

    /// An event that records something other than a move (the site's status stays).
    fn record(&mut self, kind: RecordKind, actor: &'static str, data: Value) {
        self.events.push(Event {
            site_id: self.plan.id,
            at: self.now.utc(),
            actor,
            kind: EventKind::Record(kind),
            from_status: Some(self.status),
            to_status: None,
            reason: None,
            data: EventData::Json(data),
            observation_id: None,
        });
    }

    /// The items close-out still waits for, as `db::lifecycle::unmet_items` finds them: an item is met when
    /// it is not applicable, or installed or verified with evidence (the story's evidence always has its
    /// after-photo, and its night photo where the template asks for one).
    fn unmet_items(&self) -> Vec<String> {
        (0..self.items.len())
            .filter(|&k| {
                let code = self.item_code(k);
                let evidenced = || self.evidence.iter().any(|e| e.item_code == code);
                match self.items[k].state {
                    ItemState::NotApplicable => false,
                    ItemState::Installed | ItemState::Verified => !evidenced(),
                    ItemState::Missing | ItemState::Damaged => true,
                }
            })
            .map(|k| self.item_code(k).to_string())
            .collect()
    }

    fn item_name(&self, k: usize) -> &str {
        &self.cat.items[self.plan.items[k]].name
    }

    fn item_code(&self, k: usize) -> &str {
        &self.cat.items[self.plan.items[k]].code
    }

    fn set_item(&mut self, k: usize, state: ItemState) {
        let code = self.cat.items[self.plan.items[k]].code.clone();
        let (quantity, measured) = facts(&code, state, &self.plan.hazards, self.rng);
        let item = &mut self.items[k];
        item.state = state;
        item.quantity = quantity;
        item.measured = measured;
        item.changed = self.now;
        item.evidenced = false;
        if state == ItemState::Installed {
            item.installed_on = Some(self.now.date());
            item.installer = Some(self.plan.crew);
        }
    }

    /// The first observation, and the checklist as found: what the hazards imply, the rest by chance,
    /// at least one item missing or damaged (or it would not be a hazard).
    fn open(&mut self) {
        let plan = self.plan;
        let implied: Vec<(&str, &str)> = plan.hazards.iter().filter_map(|h| n::implied_item(h)).collect();
        for k in 0..plan.items.len() {
            let code = self.item_code(k).to_string();
            let state = match implied.iter().find(|(c, _)| *c == code) {
                Some((_, "damaged")) => ItemState::Damaged,
                Some(_) => ItemState::Missing,
                None => *self.rng.weighted(&[
                    (ItemState::Missing, 40),
                    (ItemState::Damaged, 20),
                    (ItemState::Installed, 36),
                    (ItemState::NotApplicable, 4),
                ]),
            };
            let (quantity, measured) = facts(&code, state, &plan.hazards, self.rng);
            let reason = (state == ItemState::NotApplicable).then(|| n::not_applicable_reason(&code));
            self.items.push(ItemNow {
                state,
                quantity,
                measured,
                installed_on: None,
                installer: None,
                reason,
                changed: self.now,
                evidenced: false,
            });
        }
        if !self.items.iter().any(|i| matches!(i.state, ItemState::Missing | ItemState::Damaged))
            && !self.items.is_empty()
        {
            let k = self.rng.index(self.items.len());
            self.items[k].reason = None;
            self.set_item(k, ItemState::Missing);
        }
        let hazard_names: Vec<&str> =
            plan.hazards.iter().map(|h| self.cat.hazard_names.get(*h).map_or(*h, String::as_str)).collect();
        let context = *self.rng.pick(match plan.place.kind {
            SiteKind::Intersection => n::INTERSECTION_CONTEXTS,
            SiteKind::Spot => n::SPOT_CONTEXTS,
            SiteKind::Section => n::SECTION_CONTEXTS,
        });
        let prefix = match plan.source {
            "citizen_photo" => "市民随手拍反映：",
            "hotline" => "12345热线转办，现场核实：",
            "crash_analysis" => "事故分析发现，现场核实：",
            "leadership_inspection" => "领导督查指出：",
            _ => "",
        };
        let notes = format!("{prefix}{}，{}。{}。", plan.where_text, hazard_names.join("、"), context);
        let opener = plan.opener;
        self.observe(opener, notes, Visit::Opening);
    }

    /// An observation at the site now, with its photos; returns its id. The opening report writes its
    /// `opened` event here; a look-back's event is the caller's (pass or relapse).
    fn observe(&mut self, inspector: &'static str, notes: String, visit: Visit) -> Uuid {
        let plan = self.plan;
        let id = self.rng.uuid();
        let accuracy_m = self.rng.range(3.0, 25.0).min(self.rng.range(3.0, 25.0));
        let jitter = accuracy_m.min(15.0);
        let geom = match (&plan.place.geom, visit) {
            (Geom::Point(p), _) => {
                Geom::Point(p.offset(self.rng.range(0.5, jitter), self.rng.range(0.0, std::f64::consts::TAU)))
            }
            (Geom::Line(pts), Visit::Opening) => Geom::Line(
                pts.iter()
                    .map(|p| p.offset(self.rng.range(0.0, 4.0), self.rng.range(0.0, std::f64::consts::TAU)))
                    .collect(),
            ),
            // A look-back is recorded as a point where the inspector stood, somewhere along the section.
            (Geom::Line(pts), Visit::LookBack { .. }) => {
                let line = Polyline::new(pts.clone());
                let at = line.at(self.rng.range(0.0, line.len_m()));
                Geom::Point(at.offset(self.rng.range(0.5, jitter), self.rng.range(0.0, std::f64::consts::TAU)))
            }
        };
        let checklist: serde_json::Map<String, Value> = (0..plan.items.len())
            .map(|k| {
                // Inspectors report what they see; only a reviewer's acceptance makes an item `verified`.
                let seen = match self.items[k].state {
                    ItemState::Verified => ItemState::Installed,
                    s => s,
                };
                (self.item_code(k).to_string(), Value::from(seen.as_str()))
            })
            .collect();
        // A look-back that passes reports no hazards (the API refuses them).
        let hazard_types = if visit == (Visit::LookBack { pass: true }) { Vec::new() } else { plan.hazards.clone() };
        let observed = self.now;
        let delay = if self.rng.chance(0.1) { self.rng.int(2 * 3600, 30 * 3600) } else { self.rng.int(30, 20 * 60) };
        let received = observed.plus_seconds(delay);
        let shown = if visit == (Visit::LookBack { pass: true }) { pictures::AFTER } else { pictures::BEFORE };
        for position in 0..self.rng.int(1, 2) {
            let picture = self.rng.int(shown.start as i64, shown.end as i64 - 1) as usize;
            let photo_id = self.rng.uuid();
            self.photos.push(Photo {
                id: photo_id,
                owner: PhotoOwner::Observation(id),
                position: position as i16,
                picture,
                created_at: received.utc(),
            });
        }
        let with_stake = self.rng.chance(0.3);
        let look_back_result = match visit {
            Visit::Opening => None,
            Visit::LookBack { pass } => Some(if pass { LookBackResult::Pass } else { LookBackResult::Relapse }),
        };
        self.observations.push(Observation {
            id,
            site_id: plan.id,
            kind: plan.place.kind,
            inspector,
            observed_at: observed.utc(),
            received_at: received.utc(),
            geom,
            accuracy_m: accuracy_m as f32,
            hazard_types,
            checklist: Value::Object(checklist),
            notes,
            with_stake,
            content_sha256: Sha256::digest(id.as_bytes()).into(),
            look_back_result,
        });
        // The event is written when the observation arrives (db/observations.rs).
        self.now = received;
        // Every visit is a new version of the site (`db::observations`); the opening report opens it at 1.
        self.version += 1;
        if visit == Visit::Opening {
            let data = json!({ "observed_at": observed.utc(), "hazard_types": plan.hazards });
            self.events.push(Event {
                site_id: plan.id,
                at: self.now.utc(),
                actor: inspector,
                kind: EventKind::Record(RecordKind::Opened),
                from_status: None,
                to_status: Some(SiteStatus::Reported),
                reason: None,
                data: EventData::Json(data),
                observation_id: Some(id),
            });
        }
        id
    }

    fn dispatcher(&mut self) -> &'static str {
        n::DISPATCHERS[self.rng.index(n::DISPATCHERS.len())]
    }

    fn verify(&mut self) {
        self.advance(0, 4);
        let actor = self.dispatcher();
        self.step(actor, Move::Verify, None);
    }

    /// Days from dispatch to the deadline: the deadline policy's default for the level and mode, or, for a
    /// capital project and for a major hazard, the approved plan's (`PLAN_DAYS`), which the dispatcher gives.
    fn deadline_days(&self) -> i64 {
        let policy = DeadlinePolicy::default();
        let days = match self.plan.mode {
            RectificationMode::Project => None,
            mode => policy.default_days(self.plan.level, mode),
        };
        days.unwrap_or(PLAN_DAYS) as i64
    }

    fn dispatch(&mut self) {
        self.advance(0, 3);
        let actor = self.dispatcher();
        let deadline = self.now.date() + Duration::days(self.deadline_days());
        let plan = self.plan;
        let unit = |name: &str| self.cast.organisation(name);
        let dispatch = Dispatch {
            responsible_unit_id: unit(plan.responsible),
            lead_unit_id: Some(unit(plan.lead)),
            supporting_unit_ids: plan.supporting.iter().map(|s| unit(s)).collect(),
            hazard_level: plan.level,
            rectification_mode: plan.mode,
            deadline,
        };
        let units = std::iter::once(dispatch.responsible_unit_id)
            .chain(dispatch.lead_unit_id)
            .chain(dispatch.supporting_unit_ids.iter().copied())
            .collect();
        self.step(actor, Move::Dispatch(dispatch), None);
        self.deadline = Some(deadline);
        self.dispatched = true;
        self.facts.unit_ids = units;
        // Listed supervision (挂牌督办) for a few serious sites.
        let p = match plan.level {
            HazardLevel::Major => 0.4,
            HazardLevel::Significant => 0.06,
            HazardLevel::General => 0.005,
        };
        if self.rng.chance(p) {
            let county = self.rng.chance(0.75);
            let (level, body, prefix) = if county {
                (SupervisionLevel::County, "张家港市道路交通安全委员会办公室", "张交安办")
            } else {
                (SupervisionLevel::Prefecture, "苏州市道路交通安全委员会办公室", "苏交安办")
            };
            // Supervision notices go out in weekly batches, so neighbouring sites share a number.
            let doc_no = format!("{prefix}〔2026〕{}号", 3 + self.now.day / 7);
            let days = if plan.mode == RectificationMode::Project { 120 } else { self.rng.int(30, 60) };
            let due = self.now.date() + Duration::days(days);
            let supervision = Supervision { level, body: Some(body.to_string()), doc_no: Some(doc_no), due: Some(due) };
            self.step(actor, Move::Supervise(supervision.clone()), None);
            self.supervision = Some(supervision);
        }
    }

    fn accept(&mut self) {
        if self.plan.mode == RectificationMode::Immediate {
            self.advance(0, 1)
        } else {
            self.advance(1, 4)
        }
        let officer = self.plan.officer;
        self.step(officer, Move::Accept, None);
    }

    /// The unit takes a reopened site back into work.
    fn start(&mut self) {
        self.advance(1, 4);
        let officer = self.plan.officer;
        self.step(officer, Move::Start, None);
    }

    /// Days of work from acceptance to close-out, by mode and level.
    fn work_days(&self) -> (i64, i64) {
        match (self.plan.mode, self.plan.level) {
            (RectificationMode::Immediate, _) => (0, 3),
            (RectificationMode::Deadline, HazardLevel::General) => (7, 35),
            (RectificationMode::Deadline, _) => (20, 80),
            (RectificationMode::Project, _) => (45, 120),
        }
    }

    /// Part of the work: some items go in, and the unit records their evidence.
    fn work(&mut self, share: f64) {
        let (lo, hi) = self.work_days();
        let days = ((self.rng.int(lo, hi) as f64) * share).round() as i64;
        self.advance(days.max(1), days.max(1));
        let mut done = Vec::new();
        for k in 0..self.items.len() {
            if matches!(self.items[k].state, ItemState::Missing | ItemState::Damaged) && self.rng.chance(0.5) {
                self.set_item(k, ItemState::Installed);
                done.push(k);
            }
        }
        for k in done {
            self.submit_evidence(k);
        }
    }

    /// The rest of the work, then close-out is asked for (sometimes returned once and asked again). A longer
    /// job now and then needs more time, which the dispatcher mostly grants.
    fn work_to_close_out(&mut self) {
        if self.rng.chance(0.35) {
            self.work(0.5);
        }
        if self.plan.mode != RectificationMode::Immediate && self.rng.chance(0.12) {
            let decision = if self.rng.chance(0.75) { Decision::Approve } else { Decision::Refuse };
            let reason = *self.rng.pick(n::EXTENSION_REASONS);
            self.extend(reason, decision);
        }
        self.close_out();
        if self.rng.chance(0.15) {
            self.give_back();
            self.close_out();
        }
    }

    /// Every item in place, evidence for each that lacks it (just installed, redone after a return, or in
    /// place when the site was found), and the close-out request, which the close-out rule now allows.
    fn close_out(&mut self) {
        let (lo, hi) = self.work_days();
        self.advance((lo / 2).max(1), (hi / 2).max(1));
        for k in 0..self.items.len() {
            if matches!(self.items[k].state, ItemState::Missing | ItemState::Damaged) {
                self.set_item(k, ItemState::Installed);
            }
        }
        let mut names = Vec::new();
        for k in 0..self.items.len() {
            if self.items[k].state == ItemState::NotApplicable {
                continue;
            }
            if !self.items[k].evidenced {
                self.submit_evidence(k);
            }
            names.push(self.item_name(k).to_string());
        }
        let officer = self.plan.officer;
        let reason = format!("整改完成：{}已按要求设置到位，整改前后及夜间照片已上传，申请销号。", names.join("、"));
        self.step(officer, Move::RequestCloseOut, Some(reason));
        self.close_out_by = Some(officer);
        self.facts.close_out_requested_by = Some(self.cast.actor(officer).user_id);
    }

    /// The unit records evidence for item `k` as it is now (`POST …/items/{code}/evidence`): its quantities
    /// and measurements, a close-up after-photo (now and then with a wider view) and, where the template
    /// asks, a night photo of the light working.
    fn submit_evidence(&mut self, k: usize) {
        self.now = self.now.plus_seconds(self.rng.int(5 * 60, 40 * 60));
        let id = self.rng.uuid();
        let template_item = &self.cat.items[self.plan.items[k]];
        let (code, night_evidence) = (template_item.code.clone(), template_item.night_evidence);
        let facility = facility(&code, &self.items[k].measured);
        let variant = self.rng.index(2);
        let mut shots = vec![(PhotoOwner::EvidenceAfter(id), pictures::close_up(facility, variant))];
        if self.rng.chance(0.4) {
            let wide = self.rng.int(pictures::AFTER.start as i64, pictures::AFTER.end as i64 - 1) as usize;
            shots.push((PhotoOwner::EvidenceAfter(id), wide));
        }
        if night_evidence {
            // A template may ask night evidence of something the pictures do not light up: a beacon, then.
            let night = pictures::night(facility, variant).unwrap_or(pictures::NIGHT.start + variant);
            shots.push((PhotoOwner::EvidenceNight(id), night));
        }
        let at = self.now.utc();
        let mut listed = Vec::with_capacity(shots.len());
        for (position, (owner, picture)) in shots.into_iter().enumerate() {
            let role = if matches!(owner, PhotoOwner::EvidenceNight(_)) { "night" } else { "after" };
            listed.push(json!({ "sha256": hex::encode(self.pictures[picture]), "role": role }));
            let photo_id = self.rng.uuid();
            self.photos.push(Photo { id: photo_id, owner, position: position as i16, picture, created_at: at });
        }
        let officer = self.plan.officer;
        let item = &mut self.items[k];
        item.evidenced = true;
        self.evidence.push(Evidence {
            id,
            site_id: self.plan.id,
            item_code: code.clone(),
            quantity: item.quantity,
            measured: item.measured.clone(),
            installed_on: item.installed_on,
            installer: item.installer,
            submitted_by: officer,
            submitted_at: at,
        });
        // As `http::lifecycle` records evidence: a new version of the site, and its event.
        let data = json!({ "item": code, "state": ItemState::Installed, "evidence_id": id, "photos": listed });
        self.record(RecordKind::EvidenceSubmitted, officer, data);
        self.version += 1;
        let submitter = self.cast.actor(officer).user_id;
        if !self.facts.evidence_by.contains(&submitter) {
            self.facts.evidence_by.push(submitter);
        }
    }

    /// The reviewer returns the close-out with a reason about one item; within days the unit redoes it (or
    /// only photographs it again), and its new evidence goes with the next request.
    fn give_back(&mut self) {
        self.advance(1, 6);
        let workable: Vec<usize> =
            (0..self.items.len()).filter(|&k| self.items[k].state != ItemState::NotApplicable).collect();
        let reasons: Vec<(usize, &str, bool)> = n::RETURN_REASONS
            .iter()
            .filter_map(|&(code, reason, redo)| {
                let k = if code.is_empty() {
                    workable[self.rng.index(workable.len())]
                } else {
                    *workable.iter().find(|&&k| self.item_code(k) == code)?
                };
                Some((k, reason, redo))
            })
            .collect();
        let (k, reason, redo) = reasons[self.rng.index(reasons.len())];
        let reviewer = self.plan.reviewer;
        self.step(reviewer, Move::Return, Some(reason.to_string()));
        self.facts.close_out_requested_by = None;
        self.returns += 1;
        self.close_out_by = None;
        self.advance(2, 8);
        if redo {
            self.set_item(k, ItemState::Installed);
        } else {
            self.items[k].evidenced = false;
        }
    }

    /// The unit asks for a later deadline, after the current one and not in the past (the API's rules); the
    /// dispatcher approves (the deadline moves), refuses with a reason, or has not decided yet.
    fn extend(&mut self, reason: &'static str, decision: Decision) {
        self.advance(3, 20);
        let old = self.deadline;
        let today = self.now.date();
        let new = old.map_or(today, |d| d.max(today)) + Duration::days(self.rng.int(15, 45));
        let officer = self.plan.officer;
        self.step(officer, Move::RequestExtension { deadline: new }, Some(reason.to_string()));
        self.facts.extension_pending = true;
        self.extensions.push(Extension {
            id: self.rng.uuid(),
            site_id: self.plan.id,
            requested_by: officer,
            requested_at: self.now.utc(),
            old_deadline: old,
            new_deadline: new,
            reason,
            decision: None,
        });
        if decision != Decision::Pending {
            self.advance(1, 3);
            let approved = decision == Decision::Approve;
            let refusal = (!approved).then(|| match (self.plan.mode, &self.supervision) {
                (RectificationMode::Immediate, _) => n::EXTENSION_REFUSAL_IMMEDIATE,
                (_, Some(_)) => n::EXTENSION_REFUSAL_SUPERVISED,
                _ => *self.rng.pick(n::EXTENSION_REFUSALS),
            });
            let actor = self.dispatcher();
            self.step(actor, Move::DecideExtension { approve: approved }, refusal.map(str::to_string));
            self.facts.extension_pending = false;
            if approved {
                self.deadline = Some(new);
            }
            let decision = ExtensionDecision { by: actor, at: self.now.utc(), approved, reason: refusal };
            self.extensions.last_mut().expect("requested above").decision = Some(decision);
        }
    }

    /// Acceptance by a reviewer who did not do the work: the items become verified (a few reviewers
    /// accept the site without marking each item).
    fn approve(&mut self) {
        self.advance(1, 6);
        if self.rng.chance(0.85) {
            for item in &mut self.items {
                if item.state == ItemState::Installed {
                    item.state = ItemState::Verified;
                    item.changed = self.now;
                }
            }
        }
        let reviewer = self.plan.reviewer;
        self.step(reviewer, Move::Approve, None);
        self.close_out_by = None;
        self.facts.close_out_requested_by = None;
        self.open_until = self.open_until.min(self.now.day);
    }

    /// The look-back policy (db/lookback.rs, run by a dispatcher) plans a look-back of the closed site: a
    /// major or supervised site a quarter after closing, one of the monthly sample of the others after a month
    /// or more. The task is due two weeks later. Like the planner, the event records no status.
    fn look_back_due(&mut self) {
        let policy = LookBackPolicy::default();
        let quarterly = self.plan.level == HazardLevel::Major || self.supervision.is_some();
        let (name, after) = if quarterly {
            ("quarterly_major", i64::from(policy.major_interval_days))
        } else {
            ("monthly_sample", i64::from(policy.sample_min_age_days))
        };
        self.advance(after, after + if quarterly { 10 } else { 45 });
        let due_on = self.now.date() + Duration::days(i64::from(policy.due_in_days));
        let actor = self.dispatcher();
        self.now = self.now.plus_seconds(self.rng.int(60, 1800));
        // The planner writes the event and the task, and leaves the site's version alone (`db::lookback`).
        self.record(RecordKind::LookBackDue, actor, json!({ "policy": name, "due_on": due_on }));
        let id = self.rng.uuid();
        self.look_backs.push(LookBackTask {
            id,
            site_id: self.plan.id,
            policy: name,
            due_on,
            created_at: self.now.utc(),
            done: None,
        });
    }

    /// The look-back (回头看), planned and then done on site by the town's inspector, mostly before it is
    /// due: an observation that says what was found completes the task. The facilities hold (pass), or
    /// something broke or went (反弹): the failed items take the state seen and the site is reopened with a new
    /// deadline, with the inspector's notes as the reason (http/observations.rs, `record_look_back`).
    fn look_back(&mut self, pass: bool) {
        self.look_back_due();
        self.advance(1, 16);
        let inspector = self.plan.look_back_inspector;
        let (observation_id, result) = if pass {
            let id = self.observe(inspector, "回头看：设施完好，运行正常。".into(), Visit::LookBack { pass: true });
            self.act(inspector, Move::LookBackPass { observation_id: id }, None);
            (id, LookBackResult::Pass)
        } else {
            let failed = self.relapse_findings();
            for &(k, _, state) in &failed {
                let item = &mut self.items[k];
                item.state = state;
                item.changed = self.now;
                item.evidenced = false;
            }
            let found: Vec<&str> = failed.iter().map(|f| f.1).collect();
            let notes = format!("回头看：{}，需重新整改。", found.join("，"));
            let id = self.observe(inspector, notes.clone(), Visit::LookBack { pass: false });
            let codes: Vec<String> = failed.iter().map(|f| self.item_code(f.0).to_string()).collect();
            // The reopened site gets a new deadline, as the server gives it.
            let days = DeadlinePolicy::default().relapse_days(Some(self.plan.level), Some(self.plan.mode));
            let deadline = self.now.date() + Duration::days(days as i64);
            let relapse = Relapse { observation_id: id, failed_items: codes, deadline };
            self.act(inspector, Move::LookBackRelapse(relapse), Some(notes));
            self.deadline = Some(deadline);
            self.relapses += 1;
            (id, LookBackResult::Relapse)
        };
        let at = self.now.utc();
        let task = self.look_backs.last_mut().expect("planned above");
        task.done = Some(LookBackDone { at, by: inspector, result, observation_id });
    }

    /// What a relapse finds: one item in place (sometimes two) broken or gone, (item, finding, state).
    fn relapse_findings(&mut self) -> Vec<(usize, &'static str, ItemState)> {
        let mut candidates = Vec::new();
        for k in 0..self.items.len() {
            if !matches!(self.items[k].state, ItemState::Installed | ItemState::Verified) {
                continue;
            }
            let code = self.item_code(k).to_string();
            let before = candidates.len();
            for &(c, finding, state) in n::RELAPSE_FINDINGS {
                if c == code {
                    candidates.push((k, finding, state.parse().expect("RELAPSE_FINDINGS states are item states")));
                }
            }
            if candidates.len() == before {
                candidates.push((k, "设施损坏", ItemState::Damaged));
            }
        }
        let first = candidates[self.rng.index(candidates.len())];
        let mut failed = vec![first];
        let others: Vec<_> = candidates.iter().filter(|c| c.0 != first.0).copied().collect();
        if !others.is_empty() && self.rng.chance(0.2) {
            failed.push(others[self.rng.index(others.len())]);
        }
        failed.sort_by_key(|f| f.0);
        failed
    }

    fn reject(&mut self) {
        self.advance(1, 5);
        let reason = n::REJECT_REASONS[self.rng.index(n::REJECT_REASONS.len())].to_string();
        let actor = self.dispatcher();
        self.step(actor, Move::Reject, Some(reason));
        self.open_until = self.now.day;
    }

    fn cancel(&mut self) {
        self.advance(3, 30);
        let reason = n::CANCEL_REASONS[self.rng.index(n::CANCEL_REASONS.len())].to_string();
        let actor = self.dispatcher();
        self.step(actor, Move::Cancel, Some(reason));
        self.open_until = self.now.day;
    }

    /// Merged into the surviving site; the reason names its ledger number, filled in by `ledger::build`.
    fn merge(&mut self) {
        self.advance(1, 4);
        let actor = self.dispatcher();
        let into = self.plan.duplicate_of.expect("a duplicate's plan names its survivor");
        self.step(actor, Move::Merge { into }, None);
        self.open_until = self.now.day;
    }

    /// What the story leaves behind; the ledger number is given later, in opening order.
    fn finish(self) -> Outcome {
        let plan = self.plan;
        let status = self.status;
        let template_code = plan.place.kind.template_code();
        let items = self
            .items
            .into_iter()
            .enumerate()
            .map(|(k, item)| Item {
                site_id: plan.id,
                template_code: template_code.to_string(),
                item_code: self.cat.items[plan.items[k]].code.clone(),
                state: item.state,
                quantity: item.quantity,
                measured: item.measured,
                installed_on: item.installed_on,
                installer: item.installer,
                reason: item.reason,
                updated_at: item.changed.utc(),
            })
            .collect();
        let first = self.observations.iter().map(|o| o.observed_at).min().expect("one observation or more");
        let last = self.observations.iter().map(|o| o.observed_at).max().expect("one observation or more");
        let created = self.observations[0].received_at;
        let updated = self.events.last().map_or(created, |e| e.at);
        let site = Site {
            id: plan.id,
            code: String::new(),
            kind: plan.place.kind,
            geom: plan.place.geom.clone(),
            road: plan.place.road,
            status,
            hazard_types: plan.hazards.clone(),
            hazard_level: plan.level,
            rectification_mode: plan.mode,
            source: plan.source,
            responsible_unit: self.dispatched.then_some(plan.responsible),
            lead_unit: self.dispatched.then_some(plan.lead),
            supporting_units: if self.dispatched { plan.supporting.clone() } else { Vec::new() },
            deadline: self.deadline,
            supervision: self.supervision,
            duplicate_of: plan.duplicate_of,
            first_observed_at: first,
            last_observed_at: last,
            observation_count: self.observations.len() as i32,
            close_out_requested_by: self.close_out_by,
            return_count: self.returns,
            relapse_count: self.relapses,
            created_at: created,
            updated_at: updated,
            version: self.version,
        };
        Outcome {
            site,
            items,
            observations: self.observations,
            evidence: self.evidence,
            photos: self.photos,
            extensions: self.extensions,
            look_backs: self.look_backs,
            events: self.events,
            first_day: self.first_day,
            last_day: self.now.day,
            open_until: self.open_until,
        }
    }
}

fn facility(code: &str, measured: &Value) -> Facility {
    match code {
        "warning_sign" | "sign" => Facility::Sign,
        "road_marking" | "line" => Facility::Marking,
        "speed_bump" => Facility::Bump,
        "warning_post" => Facility::Posts,
        _ => match measured["type"].as_str() {
            Some("全功能信号灯") => Facility::Signal,
            Some("LED路灯") => Facility::StreetLamp,
            _ => Facility::Beacon,
        },
    }
}

/// Quantity and measured values of an item in a state (the evidence fields of the template).
fn facts(code: &str, state: ItemState, hazards: &[&str], rng: &mut Rng) -> (Option<i32>, Value) {
    if matches!(state, ItemState::Missing | ItemState::NotApplicable) {
        return (None, json!({}));
    }
    let damaged = state == ItemState::Damaged;
    let condition = if damaged { *rng.pick(&["褪色", "倾斜", "遮挡", "损坏"]) } else { "良好" };
    match code {
        "warning_sign" => {
            let q = rng.int(1, 4) as i32;
            let size_cm = *rng.pick(&[70, 90, 110]);
            (
                Some(q),
                json!({ "approach": "主路双向", "distance_m": rng.int(8, 20) * 10, "quantity": q, "size_cm": size_cm, "condition": condition }),
            )
        }
        "road_marking" => {
            let types = if rng.chance(0.5) {
                vec!["停止线", "减速让行线"]
            } else {
                vec!["停车让行线", "人行横道", "中心线"]
            };
            let wear = if damaged { "严重" } else { "无" };
            (
                None,
                json!({ "marking_types": types, "length_m": rng.int(4, 20) * 10, "material": *rng.pick(&["热熔", "双组分"]), "wear": wear }),
            )
        }
        "speed_bump" => {
            let strips = rng.int(2, 4) as i32;
            (
                Some(strips),
                json!({ "approach": "支路", "distance_m": rng.int(20, 50), "strips": strips, "full_width": !damaged, "condition": condition }),
            )
        }
        "warning_post" => {
            let q = *rng.pick(&[4, 4, 4, 6, 8]);
            let broken = if damaged { rng.int(1, 3) } else { 0 };
            (Some(q), json!({ "quantity": q, "required": 4, "damaged": broken }))
        }
        "signal_light" => {
            let q = rng.int(1, 2) as i32;
            let kind = *rng.pick(&["黄闪警示灯", "太阳能爆闪灯", "全功能信号灯"]);
            let power = if kind == "全功能信号灯" { "市电" } else { "太阳能" };
            (Some(q), json!({ "type": kind, "power_source": power, "works_day": true, "works_night": !damaged }))
        }
        "line" => {
            let kind = *rng.pick(&["减速标线", "中心线", "边缘线", "停止线"]);
            (None, json!({ "type": kind, "length_m": rng.int(3, 15) * 10 }))
        }
        "sign" => {
            let subtype = if hazards.contains(&"sharp_curve") || hazards.contains(&"continuous_curves") {
                "急弯路"
            } else if hazards.contains(&"school_zone") {
                "注意儿童"
            } else if hazards.contains(&"village_through_road") {
                "村庄"
            } else if hazards.contains(&"narrow_bridge") {
                "窄桥"
            } else {
                *rng.pick(&["事故易发路段", "慢行", "注意危险"])
            };
            (
                Some(rng.int(1, 2) as i32),
                json!({ "subtype": subtype, "distance_m": rng.int(5, 15) * 10, "condition": condition }),
            )
        }
        "lamp" => {
            let kind = *rng.pick(&["太阳能爆闪灯", "黄闪警示灯", "LED路灯"]);
            let power = if kind == "LED路灯" { "市电" } else { "太阳能" };
            (Some(rng.int(1, 2) as i32), json!({ "type": kind, "power_source": power, "works_night": !damaged }))
        }
        _ => (None, json!({ "condition": condition })),
    }
}
