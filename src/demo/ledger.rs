//! The ledger's history: for every place a site with a plausible story from its first observation to its
//! status today (建账销号, DOMAIN.md §6), and the checklist, observations, photos and events that story
//! leaves behind.
//!
//! A story is simulated twice from the same random state: once from day 0 to learn how long it takes, then
//! from the start day that puts its last step where the status wants it (a site still `reported` was
//! found recently; a `closed` one may be from any time in the season). The random draws do not depend on
//! the start day, so both runs take the same steps.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::domain::site::{ItemState, SiteKind, SiteStatus};

use super::names::{self as n};
use super::pictures;
use super::places::{Geom, Place};
use super::rng::Rng;
use super::roads::Network;
use super::towns::{self, Town};

/// A checklist item of a template, as the database lists it.
#[derive(Debug, Clone)]
pub struct TemplateItem {
    pub template_code: String,
    pub code: String,
    pub name: String,
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
}

/// A photo row: which picture (index into [`pictures`]) an observation carries.
#[derive(Debug, Clone)]
pub struct Photo {
    pub id: Uuid,
    pub observation_id: Uuid,
    pub position: i16,
    pub picture: usize,
    pub created_at: DateTime<Utc>,
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
    pub photos: Vec<Photo>,
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
    contractor: &'static str,
    where_text: String,
    /// For duplicates: the surviving site.
    duplicate_of: Option<Uuid>,
}

/// Builds the ledger for `places`, the same on every run.
pub fn build(towns: &[Town], net: &Network, places: Vec<Place>, cat: &Catalogue) -> Ledger {
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
        let (target, mode) = (plan.target, plan.mode);
        let outcome = run(&plan, cat, &mut rng, |duration, side| start_day(target, mode, duration, side));
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
        let outcome = run(&plan, cat, &mut rng, |_, _| start);
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
        ledger.photos.extend(o.photos);
    }
    ledger.events.sort_by_key(|e| e.at);
    ledger
}

/// What one story leaves behind.
struct Outcome {
    site: Site,
    items: Vec<Item>,
    observations: Vec<Observation>,
    photos: Vec<Photo>,
    events: Vec<Event>,
    first_day: i64,
    last_day: i64,
    /// Last day the site was open (for duplicates to find it).
    open_until: i64,
}

/// Runs a story twice from the same seed: to measure it, then from the start day `choose` picks for
/// that duration (with its own random numbers, so the second run takes the same steps as the first).
fn run(plan: &Plan, cat: &Catalogue, rng: &mut Rng, choose: impl FnOnce(i64, &mut Rng) -> i64) -> Outcome {
    // A long capital project with a return and a look-back could outlast the season: draw that story again.
    let (seed, duration) = loop {
        let seed = rng.next_u64();
        let duration = simulate(plan, cat, 0, &mut Rng::new(seed)).last_day;
        if duration <= LAST_DAY {
            break (seed, duration);
        }
    };
    let mut side = Rng::new(rng.next_u64());
    let start = choose(duration, &mut side).clamp(0, LAST_DAY - duration);
    let outcome = simulate(plan, cat, start, &mut Rng::new(seed));
    debug_assert!(outcome.last_day <= LAST_DAY, "{:?} ends on day {}", plan.target, outcome.last_day);
    outcome
}

/// Where a story starts so that its last step is as long ago as its status suggests: sites still waiting
/// for a step were mostly touched recently (immediate fixes very recently), a few have gone stale (and
/// are overdue); finished sites may be from any time in the season.
fn start_day(target: SiteStatus, mode: &str, duration: i64, rng: &mut Rng) -> i64 {
    use SiteStatus as S;
    let mut age = |recent: f64, fresh: i64, stale: i64| {
        if rng.chance(recent) { rng.int(0, fresh) } else { rng.int(fresh, stale) }
    };
    let age = match target {
        S::Assigned | S::InProgress | S::PendingReview if mode == "immediate" => Some(age(0.8, 2, 20)),
        S::Reported => Some(age(0.8, 12, 60)),
        S::Verified => Some(age(0.8, 10, 40)),
        S::Assigned => Some(age(0.8, 10, 45)),
        S::InProgress => Some(age(0.8, 20, 75)),
        S::PendingReview => Some(age(0.9, 5, 20)),
        S::Reopened => Some(age(1.0, 30, 30)),
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
    let contractor = *rng.pick(&n::CONTRACTORS);

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
        contractor,
        where_text,
        duplicate_of,
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
}

struct Story<'a> {
    plan: &'a Plan,
    cat: &'a Catalogue,
    rng: &'a mut Rng,
    now: At,
    first_day: i64,
    open_until: i64,
    status: Option<SiteStatus>,
    items: Vec<ItemNow>,
    observations: Vec<Observation>,
    photos: Vec<Photo>,
    events: Vec<Event>,
    deadline: Option<NaiveDate>,
    dispatched: bool,
    supervision: Option<Supervision>,
}

/// Pictures an observation carries.
#[derive(Clone, Copy)]
enum Shots {
    Before,
    During,
    After,
    AfterWithNight,
}

fn simulate(plan: &Plan, cat: &Catalogue, start_day: i64, rng: &mut Rng) -> Outcome {
    use SiteStatus as S;
    let now = At { day: start_day, sec: rng.int(8 * 3600 + 1800, 17 * 3600) };
    let mut story = Story {
        plan,
        cat,
        rng,
        now,
        first_day: start_day,
        open_until: LAST_DAY,
        status: None,
        items: Vec::new(),
        observations: Vec::new(),
        photos: Vec::new(),
        events: Vec::new(),
        deadline: None,
        dispatched: false,
        supervision: None,
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
                // Closed, relapsed at the look-back, accepted again.
                story.work_to_close_out();
                story.approve();
                story.look_back(false);
                story.accept();
            } else {
                if story.rng.chance(0.5) {
                    story.work(0.5);
                }
                if story.rng.chance(0.15) {
                    story.extend();
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
            if story.rng.chance(0.25) {
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
        if state == ItemState::Installed {
            item.installed_on = Some(self.now.date());
            item.installer = Some(self.plan.contractor);
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
        self.observe(opener, notes, Shots::Before, true);
    }

    /// An observation at the site now, with its photos and the visit event (`opened` for the first).
    fn observe(&mut self, inspector: &'static str, notes: String, shots: Shots, first: bool) {
        let plan = self.plan;
        let id = self.rng.uuid();
        let accuracy_m = self.rng.range(3.0, 25.0).min(self.rng.range(3.0, 25.0));
        let jitter = accuracy_m.min(15.0);
        let geom = match &plan.place.geom {
            Geom::Point(p) => {
                Geom::Point(p.offset(self.rng.range(0.5, jitter), self.rng.range(0.0, std::f64::consts::TAU)))
            }
            Geom::Line(pts) => Geom::Line(
                pts.iter()
                    .map(|p| p.offset(self.rng.range(0.0, 4.0), self.rng.range(0.0, std::f64::consts::TAU)))
                    .collect(),
            ),
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
        let observed = self.now;
        let delay = if self.rng.chance(0.1) { self.rng.int(2 * 3600, 30 * 3600) } else { self.rng.int(30, 20 * 60) };
        let received = observed.plus_seconds(delay);
        let pictures: Vec<usize> = match shots {
            Shots::Before => {
                let n = self.rng.int(1, 2);
                (0..n)
                    .map(|_| self.rng.int(pictures::BEFORE.start as i64, pictures::BEFORE.end as i64 - 1) as usize)
                    .collect()
            }
            Shots::During => vec![
                self.rng.int(pictures::BEFORE.start as i64, pictures::BEFORE.end as i64 - 1) as usize,
                self.rng.int(pictures::AFTER.start as i64, pictures::AFTER.end as i64 - 1) as usize,
            ],
            Shots::After => vec![self.rng.int(pictures::AFTER.start as i64, pictures::AFTER.end as i64 - 1) as usize],
            Shots::AfterWithNight => vec![
                self.rng.int(pictures::AFTER.start as i64, pictures::AFTER.end as i64 - 1) as usize,
                self.rng.int(pictures::NIGHT.start as i64, pictures::NIGHT.end as i64 - 1) as usize,
            ],
        };
        for (position, picture) in pictures.into_iter().enumerate() {
            let photo_id = self.rng.uuid();
            self.photos.push(Photo {
                id: photo_id,
                observation_id: id,
                position: position as i16,
                picture,
                created_at: received.utc(),
            });
        }
        let with_stake = self.rng.chance(0.3);
        self.observations.push(Observation {
            id,
            site_id: plan.id,
            kind: plan.place.kind,
            inspector,
            observed_at: observed.utc(),
            received_at: received.utc(),
            geom,
            accuracy_m: accuracy_m as f32,
            hazard_types: plan.hazards.clone(),
            checklist: Value::Object(checklist),
            notes,
            with_stake,
            content_sha256: Sha256::digest(id.as_bytes()).into(),
        });
        // The visit event is written when the observation arrives (db/observations.rs).
        self.now = received;
        let data = json!({ "observed_at": observed.utc(), "hazard_types": plan.hazards });
        if first {
            self.push_event("opened", inspector, Some(SiteStatus::Reported), None, data, Some(id));
        } else {
            self.push_event("observed", inspector, None, None, data, Some(id));
        }
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

    /// Days of work from acceptance to close-out, by mode and level.
    fn work_days(&self) -> (i64, i64) {
        match (self.plan.mode, self.plan.level) {
            ("immediate", _) => (0, 3),
            ("deadline", "general") => (7, 35),
            ("deadline", _) => (20, 80),
            _ => (45, 120),
        }
    }

    /// Part of the work: some items go in, and (sometimes) the unit uploads a progress observation.
    fn work(&mut self, share: f64) {
        let (lo, hi) = self.work_days();
        let days = ((self.rng.int(lo, hi) as f64) * share).round() as i64;
        self.advance(days.max(1), days.max(1));
        let mut done = Vec::new();
        let mut left = Vec::new();
        for k in 0..self.items.len() {
            if matches!(self.items[k].state, ItemState::Missing | ItemState::Damaged) {
                if self.rng.chance(0.5) {
                    self.set_item(k, ItemState::Installed);
                    done.push(self.item_name(k).to_string());
                } else {
                    left.push(self.item_name(k).to_string());
                }
            }
        }
        if !done.is_empty() && self.rng.chance(0.6) {
            let notes = if left.is_empty() {
                format!("整改中：{}已设置，待自查后申请销号。", done.join("、"))
            } else {
                format!("整改中：{}已设置，{}待实施。", done.join("、"), left.join("、"))
            };
            let officer = self.plan.officer;
            self.observe(officer, notes, Shots::During, false);
        }
    }

    /// The rest of the work, then close-out is asked for (sometimes returned once and asked again).
    fn work_to_close_out(&mut self) {
        if self.rng.chance(0.35) {
            self.work(0.5);
        }
        self.close_out();
        if self.rng.chance(0.15) {
            self.give_back();
            self.close_out();
        }
    }

    /// Every item in place, after-photos (with a night photo: both lists ask for night evidence of the
    /// lamp), and the close-out request.
    fn close_out(&mut self) {
        let (lo, hi) = self.work_days();
        self.advance((lo / 2).max(1), (hi / 2).max(1));
        let mut names = Vec::new();
        for k in 0..self.items.len() {
            if matches!(self.items[k].state, ItemState::Missing | ItemState::Damaged) {
                self.set_item(k, ItemState::Installed);
            }
            if self.items[k].state != ItemState::NotApplicable {
                names.push(self.item_name(k).to_string());
            }
        }
        let officer = self.plan.officer;
        let notes = format!("整改完成：{}已按要求设置到位，附整改后照片及夜间照片，申请销号。", names.join("、"));
        self.observe(officer, notes, Shots::AfterWithNight, false);
        let in_place = self.items.iter().filter(|i| i.state.is_in_place()).count();
        let data = json!({ "items_in_place": in_place, "items": self.items.len() });
        self.event("request_close_out", officer, Some(SiteStatus::PendingReview), None, data);
    }

    /// The reviewer returns the close-out with a reason; the unit fixes it within days.
    fn give_back(&mut self) {
        self.advance(1, 6);
        let reason = n::RETURN_REASONS[self.rng.index(n::RETURN_REASONS.len())].to_string();
        let reviewer = self.plan.reviewer;
        self.event("return", reviewer, Some(SiteStatus::InProgress), Some(reason), json!({}));
        self.advance(2, 8);
    }

    fn extend(&mut self) {
        self.advance(3, 20);
        let reason = n::EXTENSION_REASONS[self.rng.index(n::EXTENSION_REASONS.len())].to_string();
        let officer = self.plan.officer;
        self.event("request_extension", officer, None, Some(reason), json!({}));
        self.advance(1, 3);
        let before = self.deadline;
        let after = before.map(|d| d + Duration::days(self.rng.int(15, 45)));
        self.deadline = after;
        let actor = self.dispatcher();
        self.event(
            "decide_extension",
            actor,
            None,
            None,
            json!({ "approved": true, "old_deadline": before, "new_deadline": after }),
        );
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
        self.open_until = self.open_until.min(self.now.day);
    }

    /// The look-back (回头看) some weeks later: the facilities hold, or something broke (反弹) and the
    /// site is reopened with a new deadline.
    fn look_back(&mut self, pass: bool) {
        self.advance(30, 75);
        let inspector = self.plan.look_back_inspector;
        if pass {
            self.observe(inspector, "回头看：设施完好，运行正常。".into(), Shots::After, false);
            self.event("look_back_pass", inspector, None, None, json!({}));
            return;
        }
        let findings: Vec<(usize, &str)> = (0..self.items.len())
            .filter_map(|k| {
                let code = self.item_code(k);
                n::RELAPSE_FINDINGS.iter().find(|(c, _)| *c == code).map(|(_, f)| (k, *f))
            })
            .filter(|(k, _)| self.items[*k].state.is_in_place() && self.items[*k].state != ItemState::NotApplicable)
            .collect();
        let (k, finding) =
            if findings.is_empty() { (0, "设施损坏") } else { findings[self.rng.index(findings.len())] };
        if !self.items.is_empty() {
            self.set_item(k, ItemState::Damaged);
        }
        self.observe(inspector, format!("回头看：{finding}，需重新整改。"), Shots::Before, false);
        self.advance(0, 2);
        let deadline = self.now.date() + Duration::days(30);
        self.deadline = Some(deadline);
        let actor = self.dispatcher();
        self.event(
            "look_back_relapse",
            actor,
            Some(SiteStatus::Reopened),
            Some(format!("回头看发现{finding}")),
            json!({ "deadline": deadline }),
        );
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
            created_at: created,
            updated_at: updated,
            version: self.events.len() as i32,
        };
        Outcome {
            site,
            items,
            observations: self.observations,
            photos: self.photos,
            events: self.events,
            first_day: self.first_day,
            last_day: self.now.day,
            open_until: self.open_until,
        }
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
    use crate::demo::{places, roads};

    /// The built-in templates and hazard types, as migrations/0001 inserts them.
    pub(crate) fn catalogue() -> Catalogue {
        let items = [
            ("five_must_haves", "warning_sign", "警告标志"),
            ("five_must_haves", "road_marking", "道路标线"),
            ("five_must_haves", "speed_bump", "减速带"),
            ("five_must_haves", "warning_post", "警示桩"),
            ("five_must_haves", "signal_light", "交通信号灯"),
            ("three_ones", "line", "一条线"),
            ("three_ones", "sign", "一块牌"),
            ("three_ones", "lamp", "一盏灯"),
        ];
        Catalogue {
            items: items
                .iter()
                .map(|&(t, c, name)| TemplateItem { template_code: t.into(), code: c.into(), name: name.into() })
                .collect(),
            hazard_names: HashMap::new(),
        }
    }

    pub(crate) fn ledger() -> Ledger {
        let towns = towns::tile();
        let net = roads::build(&towns);
        let places = places::place(&towns, &net, (places::INTERSECTIONS, places::SPOTS, places::SECTIONS));
        build(&towns, &net, places, &catalogue())
    }

    #[test]
    fn every_status_occurs_and_histories_lead_to_it() {
        let ledger = ledger();
        let statuses: HashSet<SiteStatus> = ledger.sites.iter().map(|s| s.status).collect();
        assert_eq!(statuses.len(), SiteStatus::ALL.len(), "{statuses:?}");

        let mut events: HashMap<Uuid, Vec<&Event>> = HashMap::new();
        for e in &ledger.events {
            events.entry(e.site_id).or_default().push(e);
        }
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
                assert_eq!(e.from_status, status, "{}: {} starts from the wrong status", site.code, e.kind);
                if e.to_status.is_some() {
                    status = e.to_status;
                }
                assert!(e.at < end);
                if matches!(e.kind, "reject" | "cancel" | "return" | "look_back_relapse" | "merge") {
                    assert!(e.reason.is_some(), "{} needs a reason", e.kind);
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
}
