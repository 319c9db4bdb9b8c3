//! The ledger's history: for every place a site with a plausible story from its first observation to its
//! status today (建账销号, DOMAIN.md §6), and the checklist, observations, photos and events that story
//! leaves behind.
//!
//! A story is simulated twice from the same random state: once from day 0 to learn how long it takes, then
//! from the start day that puts its last step where the status wants it (a site still `reported` was
//! found recently; a `closed` one may be from any time in the season). The random draws do not depend on
//! the start day, so both runs take the same steps.
//!
//! The stories keep the rules the API enforces (src/http/lifecycle.rs, src/db/lifecycle.rs): the unit
//! records evidence for every item it puts in place before asking for close-out, with the photos the
//! template asks for; only the dispatcher moves a deadline, by approving an extension; a look-back is an
//! inspector's observation that completes the task the look-back policy planned.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::photos::PhotoOwner;
use crate::domain::policy::DeadlinePolicy;
use crate::domain::policy::LookBackPolicy;
use crate::domain::site::{ItemState, SiteKind, SiteStatus};

use super::names::{self as n};
use super::pictures::{self, Facility};
use super::places::{Geom, Place};
use super::plane::Polyline;
use super::rng::Rng;
use super::roads::Network;
use super::towns::{self, Town};

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

/// Share of sites that are duplicates of another (merged).
const DUPLICATE_SHARE: f64 = 0.04;
/// Share of closed sites whose look-back is planned and not yet done (the app's look-back list).
const LOOK_BACK_OPEN_SHARE: f64 = 0.08;
/// Statuses of the other sites, by weight.
const STATUS_WEIGHTS: &[(SiteStatus, u32)] = &[
    (SiteStatus::Closed, 38),
    (SiteStatus::InProgress, 18),
    (SiteStatus::Assigned, 8),
    (SiteStatus::Verified, 5),
    (SiteStatus::Reported, 8),
    (SiteStatus::PendingReview, 7),
    (SiteStatus::Reopened, 3),
    (SiteStatus::Rejected, 5),
    (SiteStatus::Cancelled, 3),
];
/// Day 0 is 2026-03-01 (China Standard Time); nothing happens after day 271, 2026-11-27.
const LAST_DAY: i64 = 271;
const CST_OFFSET_S: i64 = 8 * 3600;

fn first_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).expect("valid date")
}

/// A moment: day since 2026-03-01 and seconds into that day, China Standard Time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct At {
    day: i64,
    sec: i64,
}

impl At {
    fn utc(self) -> DateTime<Utc> {
        let midnight = first_date().and_hms_opt(0, 0, 0).expect("midnight").and_utc();
        midnight + Duration::days(self.day) + Duration::seconds(self.sec - CST_OFFSET_S)
    }

    fn date(self) -> NaiveDate {
        first_date() + Duration::days(self.day)
    }

    fn plus_seconds(self, s: i64) -> At {
        let sec = self.sec + s;
        At { day: self.day + sec.div_euclid(86_400), sec: sec.rem_euclid(86_400) }
    }
}

#[derive(Debug, Clone)]
pub struct Supervision {
    pub level: &'static str,
    pub body: &'static str,
    pub doc_no: String,
    pub due: NaiveDate,
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
    pub hazard_level: &'static str,
    pub rectification_mode: &'static str,
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
    /// What a look-back found (`pass`, `relapse`); `None` for a report.
    pub look_back_result: Option<&'static str>,
}

/// A photo row: which picture (index into [`pictures`]) an observation (before-photo) or an evidence
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
    /// `pass` or `relapse`, as the observation says.
    pub result: &'static str,
    pub observation_id: Uuid,
}

#[derive(Debug, Clone)]
pub struct Event {
    pub site_id: Uuid,
    pub at: DateTime<Utc>,
    pub actor: &'static str,
    pub kind: &'static str,
    pub from_status: Option<SiteStatus>,
    pub to_status: Option<SiteStatus>,
    pub reason: Option<String>,
    pub data: Value,
    pub observation_id: Option<Uuid>,
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

/// Everything about a site that is decided before its story runs.
struct Plan {
    id: Uuid,
    place: Place,
    target: SiteStatus,
    items: Vec<usize>,
    hazards: Vec<&'static str>,
    level: &'static str,
    mode: &'static str,
    source: &'static str,
    opener: &'static str,
    look_back_inspector: &'static str,
    responsible: &'static str,
    lead: &'static str,
    supporting: Vec<&'static str>,
    officer: &'static str,
    reviewer: &'static str,
    /// Who installs the facilities: the installer of the evidence.
    crew: &'static str,
    where_text: String,
    /// For duplicates: the surviving site.
    duplicate_of: Option<Uuid>,
    /// A closed site whose story ends with a look-back planned but not yet done.
    look_back_open: bool,
}

/// Builds the ledger for `places`, the same on every run. `pictures` are the SHA-256 of the pictures, which
/// evidence events name.
pub fn build(towns: &[Town], net: &Network, places: Vec<Place>, cat: &Catalogue, pictures: &[[u8; 32]]) -> Ledger {
    let mut rng = Rng::stream("ledger");
    let total = places.len();
    let duplicates = (total as f64 * DUPLICATE_SHARE).round() as usize;
    // Duplicate slots are drawn from every kind in proportion; their own place is replaced by one near
    // the site they duplicate.
    let mut is_duplicate = vec![false; total];
    let mut marked = 0;
    while marked < duplicates {
        let i = rng.index(total);
        if !is_duplicate[i] && places[i].other_road.is_none() {
            is_duplicate[i] = true;
            marked += 1;
        }
    }

    let mut done: Vec<(Plan, Outcome)> = Vec::with_capacity(total);
    let mut slots: Vec<Place> = Vec::new();
    for (place, dup) in places.into_iter().zip(is_duplicate) {
        if dup {
            slots.push(place);
            continue;
        }
        let mut plan = plan(place, *rng.weighted(STATUS_WEIGHTS), None, towns, net, cat, &mut rng);
        // Immediate fixes (立行立改, 3 days) are seldom still open: most of them are done.
        let waiting = matches!(plan.target, SiteStatus::Assigned | SiteStatus::InProgress | SiteStatus::PendingReview);
        if plan.mode == "immediate" && waiting && rng.chance(0.75) {
            plan.target = SiteStatus::Closed;
        }
        plan.look_back_open = plan.target == SiteStatus::Closed && rng.chance(LOOK_BACK_OPEN_SHARE);
        let outcome = run(&plan, cat, pictures, &mut rng, |duration, side| start_day(&plan, duration, side));
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
        let place = near(&done[target].0.place, slot.kind, towns, net, &mut rng);
        let survivor = done[target].0.id;
        let plan = plan(place, SiteStatus::Duplicate, Some(survivor), towns, net, cat, &mut rng);
        let outcome = run(&plan, cat, pictures, &mut rng, |_, _| start);
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
            if let (Some(code), "merge") = (survivor, event.kind) {
                event.reason = Some(format!("与{code}为同一点位，合并处理"));
                event.data = json!({ "duplicate_of": o.site.duplicate_of, "duplicate_of_code": code });
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

/// What one story leaves behind.
struct Outcome {
    site: Site,
    items: Vec<Item>,
    observations: Vec<Observation>,
    evidence: Vec<Evidence>,
    photos: Vec<Photo>,
    extensions: Vec<Extension>,
    look_backs: Vec<LookBackTask>,
    events: Vec<Event>,
    first_day: i64,
    last_day: i64,
    /// Last day the site was open (for duplicates to find it).
    open_until: i64,
}

/// Runs a story twice from the same seed: to measure it, then from the start day `choose` picks for
/// that duration (with its own random numbers, so the second run takes the same steps as the first).
fn run(
    plan: &Plan,
    cat: &Catalogue,
    pictures: &[[u8; 32]],
    rng: &mut Rng,
    choose: impl FnOnce(i64, &mut Rng) -> i64,
) -> Outcome {
    // A long capital project with a return and a look-back could outlast the season: draw that story again.
    let (seed, duration) = loop {
        let seed = rng.next_u64();
        let duration = simulate(plan, cat, pictures, 0, &mut Rng::new(seed)).last_day;
        if duration <= LAST_DAY {
            break (seed, duration);
        }
    };
    let mut side = Rng::new(rng.next_u64());
    let start = choose(duration, &mut side).clamp(0, LAST_DAY - duration);
    let outcome = simulate(plan, cat, pictures, start, &mut Rng::new(seed));
    debug_assert!(outcome.last_day <= LAST_DAY, "{:?} ends on day {}", plan.target, outcome.last_day);
    outcome
}

/// Where a story starts so that its last step is as long ago as its status suggests: sites still waiting
/// for a step were mostly touched recently (immediate fixes very recently), a few have gone stale (and
/// are overdue); finished sites may be from any time in the season, except those whose look-back was
/// planned in the last weeks and is still to do (due soon, or overdue).
fn start_day(plan: &Plan, duration: i64, rng: &mut Rng) -> i64 {
    use SiteStatus as S;
    let mode = plan.mode;
    let mut age = |recent: f64, fresh: i64, stale: i64| {
        if rng.chance(recent) { rng.int(0, fresh) } else { rng.int(fresh, stale) }
    };
    let age = match plan.target {
        S::Assigned | S::InProgress | S::PendingReview if mode == "immediate" => Some(age(0.8, 2, 20)),
        S::Reported => Some(age(0.8, 12, 60)),
        S::Verified => Some(age(0.8, 10, 40)),
        S::Assigned => Some(age(0.8, 10, 45)),
        S::InProgress => Some(age(0.8, 20, 75)),
        S::PendingReview => Some(age(0.9, 5, 20)),
        S::Reopened => Some(age(1.0, 30, 30)),
        S::Closed if plan.look_back_open => Some(age(1.0, 24, 24)),
        _ => None,
    };
    match age {
        Some(age) => LAST_DAY - age - duration,
        None => rng.int(0, (LAST_DAY - duration).max(0)),
    }
}

/// A place 35–90 m from `of` along its road: far enough that the phone did not offer the open site as a
/// repeat visit (30 m), so someone had to merge them by hand.
fn near(of: &Place, kind: SiteKind, towns: &[Town], net: &Network, rng: &mut Rng) -> Place {
    let line = &net.roads[of.road].line;
    let shift = rng.range(35.0, 90.0) * if rng.chance(0.5) { 1.0 } else { -1.0 };
    let fits = |s: f64| s >= 1.0 && s <= line.len_m() - 1.0;
    let shift = if fits(of.s + shift) && fits(of.s_end + shift) { shift } else { -shift };
    let (s, s_end) = (of.s + shift, of.s_end + shift);
    let geom = match kind {
        SiteKind::Section => Geom::Line(line.substring(s, s_end)),
        _ => Geom::Point(line.at(s).add(line.heading(s).left().scale(rng.range(-3.0, 3.0)))),
    };
    let town = towns::town_at(towns, geom.town_anchor()).unwrap_or(of.town);
    Place { kind, geom, road: of.road, s, s_end, other_road: None, town }
}

fn plan(
    place: Place,
    target: SiteStatus,
    duplicate_of: Option<Uuid>,
    towns: &[Town],
    net: &Network,
    cat: &Catalogue,
    rng: &mut Rng,
) -> Plan {
    let town = towns[place.town].spec;
    let road = &net.roads[place.road];
    let class = road.code.as_bytes()[0];
    let template = place.kind.template_code();
    let items: Vec<usize> = (0..cat.items.len()).filter(|&i| cat.items[i].template_code == template).collect();

    let count = *rng.weighted(&[(1_usize, 45), (2, 40), (3, 15)]);
    let mut hazards = match place.kind {
        SiteKind::Intersection => {
            let mut h = rng.weighted_distinct(n::INTERSECTION_HAZARDS, count);
            if rng.chance(0.1) {
                h.push(*rng.weighted(n::INTERSECTION_EXTRAS));
            }
            h
        }
        SiteKind::Spot => rng.weighted_distinct(n::SPOT_HAZARDS, count),
        SiteKind::Section => rng.weighted_distinct(n::SECTION_HAZARDS, count),
    };
    hazards.sort_unstable();
    hazards.dedup();

    let serious =
        hazards.iter().any(|h| matches!(*h, "water_adjacent" | "school_zone" | "sharp_curve" | "narrow_bridge"));
    let level = *rng.weighted(&[
        ("general", if serious { 62 } else { 76 }),
        ("significant", 30),
        ("major", if serious { 8 } else { 4 }),
    ]);
    let mode = match level {
        "general" => *rng.weighted(&[("immediate", 40), ("deadline", 56), ("project", 4)]),
        "significant" => *rng.weighted(&[("immediate", 10), ("deadline", 68), ("project", 22)]),
        _ => *rng.weighted(&[("deadline", 40), ("project", 60)]),
    };
    let source = if duplicate_of.is_some() {
        *rng.weighted(&[("citizen_photo", 40), ("hotline", 40), ("patrol", 20)])
    } else {
        *rng.weighted(&[
            ("patrol", 60),
            ("smart_patrol", 9),
            ("citizen_photo", 8),
            ("hotline", 6),
            ("crash_analysis", 7),
            ("leadership_inspection", 4),
            ("drone", 3),
            ("other_department", 3),
        ])
    };
    let town_inspector = *rng.pick(&town.inspectors);
    let opener = match source {
        "citizen_photo" => n::CITIZEN,
        "smart_patrol" => n::SMART_PATROL,
        _ if class <= b'S' && rng.chance(0.5) => *rng.pick(&n::CITY_INSPECTORS),
        _ => town_inspector,
    };

    // Who answers for it (DOMAIN.md §6): trunk roads their owners, rural roads mostly the town.
    let responsible = match class {
        b'G' | b'S' => *rng.weighted(&[(n::HIGHWAY_CENTRE, 80), (n::TRANSPORT_BUREAU, 20)]),
        b'X' => *rng.weighted(&[(n::RURAL_ROADS_OFFICE, 50), (n::TRANSPORT_BUREAU, 20), (town.org, 30)]),
        _ if hazards.contains(&"water_adjacent") && rng.chance(0.2) => n::WATER_BUREAU,
        _ => *rng.weighted(&[(town.org, 85), (n::RURAL_ROADS_OFFICE, 15)]),
    };
    let lead = if class <= b'S' { n::TRANSPORT_BUREAU } else { town.org };
    let mut supporting = vec![town.squadron];
    if hazards.iter().any(|h| matches!(*h, "school_zone" | "school_bus_stop")) {
        supporting.push(n::EDUCATION_BUREAU);
    }
    if responsible != town.org && lead != town.org {
        supporting.push(town.org);
    }
    let officer = if responsible == town.org { town.officer } else { n::unit_officer(responsible) };
    let reviewer = if place.kind == SiteKind::Intersection {
        *rng.pick(&n::POLICE_REVIEWERS)
    } else {
        *rng.pick(&n::TRANSPORT_REVIEWERS)
    };
    let crew = *rng.pick(&n::CREWS);

    let village = *rng.pick(town.villages);
    let on = format!("{}（{}）", road.name, road.code);
    let where_text = match (place.kind, place.other_road) {
        (SiteKind::Intersection, Some(other)) => {
            let o = &net.roads[other];
            format!("{}{}与{}（{}）交叉口", town.name, on, o.name, o.code)
        }
        (SiteKind::Intersection, None) => format!("{}{}{}村机耕路口", town.name, on, village),
        (SiteKind::Spot, _) => format!("{}{}{}村段", town.name, on, village),
        (SiteKind::Section, _) => {
            format!("{}{}{}村段约{}米", town.name, on, village, ((place.s_end - place.s) / 10.0).round() * 10.0)
        }
    };

    Plan {
        id: rng.uuid(),
        place,
        target,
        items,
        hazards,
        level,
        mode,
        source,
        opener,
        look_back_inspector: town_inspector,
        responsible,
        lead,
        supporting,
        officer,
        reviewer,
        crew,
        where_text,
        duplicate_of,
        look_back_open: false,
    }
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
    pictures: &'a [[u8; 32]],
    rng: &'a mut Rng,
    now: At,
    first_day: i64,
    open_until: i64,
    status: Option<SiteStatus>,
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

fn simulate(plan: &Plan, cat: &Catalogue, pictures: &[[u8; 32]], start_day: i64, rng: &mut Rng) -> Outcome {
    use SiteStatus as S;
    let now = At { day: start_day, sec: rng.int(8 * 3600 + 1800, 17 * 3600) };
    let mut story = Story {
        plan,
        cat,
        pictures,
        rng,
        now,
        first_day: start_day,
        open_until: LAST_DAY,
        status: None,
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

    fn event(
        &mut self,
        kind: &'static str,
        actor: &'static str,
        to: Option<SiteStatus>,
        reason: Option<String>,
        data: Value,
    ) {
        self.now = self.now.plus_seconds(self.rng.int(60, 1800));
        self.push_event(kind, actor, to, reason, data, None);
    }

    fn push_event(
        &mut self,
        kind: &'static str,
        actor: &'static str,
        to: Option<SiteStatus>,
        reason: Option<String>,
        data: Value,
        observation_id: Option<Uuid>,
    ) {
        self.events.push(Event {
            site_id: self.plan.id,
            at: self.now.utc(),
            actor,
            kind,
            from_status: self.status,
            to_status: to,
            reason,
            data,
            observation_id,
        });
        if to.is_some() {
            self.status = to;
        }
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
            Visit::LookBack { pass } => Some(if pass { "pass" } else { "relapse" }),
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
        if visit == Visit::Opening {
            let data = json!({ "observed_at": observed.utc(), "hazard_types": plan.hazards });
            self.push_event("opened", inspector, Some(SiteStatus::Reported), None, data, Some(id));
        }
        id
    }

    fn dispatcher(&mut self) -> &'static str {
        n::DISPATCHERS[self.rng.index(n::DISPATCHERS.len())]
    }

    fn verify(&mut self) {
        self.advance(0, 4);
        let actor = self.dispatcher();
        self.event("verify", actor, Some(SiteStatus::Verified), None, json!({}));
    }

    /// Deadline by rectification mode and level (DOMAIN.md §6, defaults): immediate 3 days, general 30,
    /// significant 90, major and capital projects by the approved plan (here 180).
    fn deadline_days(&self) -> i64 {
        match (self.plan.mode, self.plan.level) {
            ("immediate", _) => 3,
            ("deadline", "general") => 30,
            ("deadline", _) => 90,
            _ => 180,
        }
    }

    fn dispatch(&mut self) {
        self.advance(0, 3);
        let actor = self.dispatcher();
        let deadline = self.now.date() + Duration::days(self.deadline_days());
        self.deadline = Some(deadline);
        self.dispatched = true;
        let plan = self.plan;
        let data = json!({
            "responsible_unit": plan.responsible,
            "lead_unit": plan.lead,
            "supporting_units": plan.supporting,
            "deadline": deadline,
            "hazard_level": plan.level,
            "rectification_mode": plan.mode,
        });
        self.event("dispatch", actor, Some(SiteStatus::Assigned), None, data);
        // Listed supervision (挂牌督办) for a few serious sites.
        let p = match plan.level {
            "major" => 0.4,
            "significant" => 0.06,
            _ => 0.005,
        };
        if self.rng.chance(p) {
            let county = self.rng.chance(0.75);
            let (level, body, prefix) = if county {
                ("county", "张家港市道路交通安全委员会办公室", "张交安办")
            } else {
                ("prefecture", "苏州市道路交通安全委员会办公室", "苏交安办")
            };
            // Supervision notices go out in weekly batches, so neighbouring sites share a number.
            let doc_no = format!("{prefix}〔2026〕{}号", 3 + self.now.day / 7);
            let due = self.now.date() + Duration::days(if plan.mode == "project" { 120 } else { self.rng.int(30, 60) });
            let data = json!({ "level": level, "body": body, "doc_no": doc_no, "due": due });
            self.event("supervision_listed", actor, None, None, data);
            self.supervision = Some(Supervision { level, body, doc_no, due });
        }
    }

    fn accept(&mut self) {
        if self.plan.mode == "immediate" {
            self.advance(0, 1)
        } else {
            self.advance(1, 4)
        }
        let officer = self.plan.officer;
        self.event("accept", officer, Some(SiteStatus::InProgress), None, json!({}));
    }

    /// The unit takes a reopened site back into work.
    fn start(&mut self) {
        self.advance(1, 4);
        let officer = self.plan.officer;
        self.event("start", officer, Some(SiteStatus::InProgress), None, json!({}));
    }

    /// Days of work from acceptance to close-out, by mode and level.
    fn work_days(&self) -> (i64, i64) {
        match (self.plan.mode, self.plan.level) {
            ("immediate", _) => (0, 3),
            ("deadline", "general") => (7, 35),
            ("deadline", _) => (20, 80),
            _ => (45, 120),
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
        if self.plan.mode != "immediate" && self.rng.chance(0.12) {
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
        let in_place = self.items.iter().filter(|i| i.state.is_in_place()).count();
        let data = json!({ "items_in_place": in_place, "items": self.items.len() });
        self.event("request_close_out", officer, Some(SiteStatus::PendingReview), Some(reason), data);
        self.close_out_by = Some(officer);
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
        let data = json!({ "item": code, "state": "installed", "evidence_id": id, "photos": listed });
        self.push_event("evidence_submitted", officer, None, None, data, None);
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
        self.event("return", reviewer, Some(SiteStatus::InProgress), Some(reason.to_string()), json!({}));
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
        let data = json!({ "old_deadline": old, "new_deadline": new });
        self.event("request_extension", officer, None, Some(reason.to_string()), data);
        let mut request = Extension {
            id: self.rng.uuid(),
            site_id: self.plan.id,
            requested_by: officer,
            requested_at: self.now.utc(),
            old_deadline: old,
            new_deadline: new,
            reason,
            decision: None,
        };
        if decision != Decision::Pending {
            self.advance(1, 3);
            let approved = decision == Decision::Approve;
            let refusal = (!approved).then(|| match (self.plan.mode, &self.supervision) {
                ("immediate", _) => n::EXTENSION_REFUSAL_IMMEDIATE,
                (_, Some(_)) => n::EXTENSION_REFUSAL_SUPERVISED,
                _ => *self.rng.pick(n::EXTENSION_REFUSALS),
            });
            if approved {
                self.deadline = Some(new);
            }
            let actor = self.dispatcher();
            let data = json!({ "approved": approved, "old_deadline": old, "new_deadline": new });
            self.event("decide_extension", actor, None, refusal.map(str::to_string), data);
            request.decision = Some(ExtensionDecision { by: actor, at: self.now.utc(), approved, reason: refusal });
        }
        self.extensions.push(request);
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
        self.event("approve", reviewer, Some(SiteStatus::Closed), None, json!({}));
        self.close_out_by = None;
        self.open_until = self.open_until.min(self.now.day);
    }

    /// The look-back policy (db/lookback.rs, run by a dispatcher) plans a look-back of the closed site: a
    /// major or supervised site a quarter after closing, one of the monthly sample of the others after a month
    /// or more. The task is due two weeks later. Like the planner, the event records no status.
    fn look_back_due(&mut self) {
        let policy = LookBackPolicy::default();
        let quarterly = self.plan.level == "major" || self.supervision.is_some();
        let (name, after) = if quarterly {
            ("quarterly_major", i64::from(policy.major_interval_days))
        } else {
            ("monthly_sample", i64::from(policy.sample_min_age_days))
        };
        self.advance(after, after + if quarterly { 10 } else { 45 });
        let due_on = self.now.date() + Duration::days(i64::from(policy.due_in_days));
        let actor = self.dispatcher();
        self.event("look_back_due", actor, None, None, json!({ "policy": name, "due_on": due_on }));
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
            self.push_event("look_back_pass", inspector, None, None, json!({ "observation_id": id }), Some(id));
            (id, "pass")
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
            let days =
                DeadlinePolicy::default().relapse_days(self.plan.level.parse().ok(), self.plan.mode.parse().ok());
            let old_deadline = self.deadline;
            let deadline = self.now.date() + Duration::days(days as i64);
            self.deadline = Some(deadline);
            let data = json!({
                "failed_items": codes, "observation_id": id, "old_deadline": old_deadline, "deadline": deadline,
            });
            self.push_event("look_back_relapse", inspector, Some(SiteStatus::Reopened), Some(notes), data, Some(id));
            self.relapses += 1;
            (id, "relapse")
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
        self.event("reject", actor, Some(SiteStatus::Rejected), Some(reason), json!({}));
        self.open_until = self.now.day;
    }

    fn cancel(&mut self) {
        self.advance(3, 30);
        let reason = n::CANCEL_REASONS[self.rng.index(n::CANCEL_REASONS.len())].to_string();
        let actor = self.dispatcher();
        self.event("cancel", actor, Some(SiteStatus::Cancelled), Some(reason), json!({}));
        self.open_until = self.now.day;
    }

    /// Merged into the surviving site; the reason names its ledger number, filled in by `finish`.
    fn merge(&mut self) {
        self.advance(1, 4);
        let actor = self.dispatcher();
        let data = json!({ "duplicate_of": self.plan.duplicate_of });
        self.event("merge", actor, Some(SiteStatus::Duplicate), None, data);
        self.open_until = self.now.day;
    }

    /// What the story leaves behind; the ledger number is given later, in opening order.
    fn finish(self) -> Outcome {
        let plan = self.plan;
        let status = self.status.expect("every story opens");
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
            version: self.events.len() as i32,
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

/// What an item's evidence photographs: the facility, and for lights which kind (their measured `type`).
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

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::demo::places::Geom;
    use crate::demo::plane::Xy;
    use crate::demo::{places, roads};
    use crate::domain::lifecycle::{ActionKind, china_date};

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
            assert_eq!(history[0].kind, "opened");
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
                if let Ok(action) = e.kind.parse::<ActionKind>() {
                    let from = e.from_status.expect("a move starts from a status");
                    assert!(action.from_statuses().contains(&from), "{}: {} from {from}", site.code, e.kind);
                    assert_eq!(e.to_status, action.to_status(), "{}: {}", site.code, e.kind);
                    if action.needs_reason() || action == ActionKind::Merge {
                        assert!(e.reason.is_some(), "{} needs a reason", e.kind);
                    }
                }
            }
            assert_eq!(status, Some(site.status), "{}", site.code);
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
            let accept = history.iter().find(|e| e.kind == "accept").expect("accepted");
            let request = history.iter().rfind(|e| e.kind == "request_close_out").expect("close-out requested");
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
                    let approve = history.iter().rfind(|e| e.kind == "approve").expect("approved");
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
        for e in ledger.events.iter().filter(|e| e.kind == "evidence_submitted") {
            let id: Uuid = e.data["evidence_id"].as_str().expect("evidence_id").parse().expect("a uuid");
            let row = evidence[&id];
            assert_eq!((row.site_id, row.submitted_by, row.submitted_at), (e.site_id, e.actor, e.at));
            assert_eq!(e.data["item"], row.item_code.as_str());
            assert_eq!(e.data["state"], "installed");
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
            assert_eq!(e.data["photos"], Value::Array(expected));
            assert!(named.insert(id), "evidence {id} named twice");
        }
        assert_eq!(named.len(), ledger.evidence.len());

        let mut reworked = 0;
        for history in events_by_site(&ledger).values() {
            for (i, _) in history.iter().enumerate().filter(|(_, e)| e.kind == "return") {
                let after: Vec<&&Event> = history[i..].iter().take_while(|e| e.kind != "request_close_out").collect();
                if after.len() < history.len() - i {
                    assert!(after.iter().any(|e| e.kind == "evidence_submitted"), "no new evidence after a return");
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
            let asked: Vec<&&Event> = history.iter().filter(|e| e.kind == "request_extension").collect();
            let decided: Vec<&&Event> = history.iter().filter(|e| e.kind == "decide_extension").collect();
            assert_eq!(asked.len(), own.len(), "{}", site.code);
            for (e, x) in asked.iter().zip(&own) {
                assert_eq!((e.actor, e.at, e.reason.as_deref()), (x.requested_by, x.requested_at, Some(x.reason)));
                assert_eq!(
                    (date(&e.data["old_deadline"]), date(&e.data["new_deadline"])),
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
                assert_eq!(e.data["approved"], d.approved);
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
                match e.kind {
                    "dispatch" => deadline = date(&e.data["deadline"]),
                    "decide_extension" if e.data["approved"] == true => deadline = date(&e.data["new_deadline"]),
                    "look_back_relapse" => deadline = date(&e.data["deadline"]),
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
            let due = history.iter().find(|e| e.kind == "look_back_due" && e.at == task.created_at).expect("planned");
            assert_eq!(due.data, json!({ "policy": task.policy, "due_on": task.due_on }));
            assert_eq!(task.due_on, china_date(task.created_at) + Duration::days(i64::from(policy.due_in_days)));
            let quarterly = site.hazard_level == "major" || site.supervision.is_some();
            assert_eq!(task.policy, if quarterly { "quarterly_major" } else { "monthly_sample" });
            let Some(done) = &task.done else {
                assert_eq!(site.status, SiteStatus::Closed);
                assert_eq!(history.last().map(|e| e.kind), Some("look_back_due"));
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
            assert_eq!(event.kind, format!("look_back_{}", done.result));
            assert_eq!(event.actor, done.by);
            assert_eq!(event.data["observation_id"], seen.id.to_string());
            let failed: Vec<&str> = seen
                .checklist
                .as_object()
                .expect("checklist")
                .iter()
                .filter(|(_, v)| *v == "missing" || *v == "damaged")
                .map(|(k, _)| k.as_str())
                .collect();
            if done.result == "pass" {
                assert!(failed.is_empty() && seen.hazard_types.is_empty() && event.reason.is_none());
                assert_eq!(event.data, json!({ "observation_id": seen.id }));
            } else {
                let mut named: Vec<&str> = event.data["failed_items"]
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
        let recorded = ledger.events.iter().filter(|e| e.kind.starts_with("look_back_") && e.kind != "look_back_due");
        assert_eq!(recorded.count(), done);
        assert!(done > 100, "{done}");
        let last = At { day: LAST_DAY, sec: 0 }.date();
        assert!(open_due.len() > 20, "{} open look-backs", open_due.len());
        assert!(open_due.iter().any(|d| *d < last) && open_due.iter().any(|d| *d > last + Duration::days(7)));

        for site in &ledger.sites {
            let count = |kind: &str| events[&site.id].iter().filter(|e| e.kind == kind).count() as i32;
            assert_eq!((site.return_count, site.relapse_count), (count("return"), count("look_back_relapse")));
        }
    }
}
