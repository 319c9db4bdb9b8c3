//! What the county's sites will go through, decided before any story runs: for every place the status it
//! ends in today, its hazards, hazard level and rectification mode, where the report came from, and the
//! people and units who will act on it. Every choice is drawn from the seeded `rng`, so the plans are the
//! same on every run.
//!
//! The people are the cast (`Cast`): each one an `Actor` with the role and organisation their account has
//! (`accounts::people`), so that `story` can ask the lifecycle whether they may make each move.

use std::collections::HashMap;

use uuid::Uuid;

use crate::domain::auth::{Actor, Role};
use crate::domain::site::{HazardLevel, RectificationMode, SiteKind, SiteStatus};

use super::accounts;
use super::ledger::Catalogue;
use super::names::{self as n};
use super::places::{Geom, Place};
use super::rng::Rng;
use super::roads::Network;
use super::story::LAST_DAY;
use super::towns::{self, Town};

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

/// Which places will be duplicates: drawn from every kind in proportion (`DUPLICATE_SHARE`), never at a
/// crossing of two roads. A duplicate's own place is replaced by one near the site it duplicates (`near`).
pub fn duplicate_slots(places: &[Place], rng: &mut Rng) -> Vec<bool> {
    let total = places.len();
    let duplicates = (total as f64 * DUPLICATE_SHARE).round() as usize;
    let mut is_duplicate = vec![false; total];
    let mut marked = 0;
    while marked < duplicates {
        let i = rng.index(total);
        if !is_duplicate[i] && places[i].other_road.is_none() {
            is_duplicate[i] = true;
            marked += 1;
        }
    }
    is_duplicate
}

/// The plan of a site of its own: its status today by `STATUS_WEIGHTS`, except that immediate fixes
/// (立行立改, 3 days) are seldom still open, and for a closed site whether its look-back is still to do.
pub fn site(place: Place, towns: &[Town], net: &Network, cat: &Catalogue, rng: &mut Rng) -> Plan {
    let mut plan = plan(place, *rng.weighted(STATUS_WEIGHTS), None, towns, net, cat, rng);
    let waiting = matches!(plan.target, SiteStatus::Assigned | SiteStatus::InProgress | SiteStatus::PendingReview);
    if plan.mode == RectificationMode::Immediate && waiting && rng.chance(0.75) {
        plan.target = SiteStatus::Closed;
    }
    plan.look_back_open = plan.target == SiteStatus::Closed && rng.chance(LOOK_BACK_OPEN_SHARE);
    plan
}

/// The plan of a duplicate of `survivor` at `place`, to be merged into it.
pub fn duplicate(place: Place, survivor: Uuid, towns: &[Town], net: &Network, cat: &Catalogue, rng: &mut Rng) -> Plan {
    plan(place, SiteStatus::Duplicate, Some(survivor), towns, net, cat, rng)
}

/// Everything about a site that is decided before its story runs.
pub struct Plan {
    pub id: Uuid,
    pub place: Place,
    pub target: SiteStatus,
    pub items: Vec<usize>,
    pub hazards: Vec<&'static str>,
    pub level: HazardLevel,
    pub mode: RectificationMode,
    pub source: &'static str,
    pub opener: &'static str,
    pub look_back_inspector: &'static str,
    pub responsible: &'static str,
    pub lead: &'static str,
    pub supporting: Vec<&'static str>,
    pub officer: &'static str,
    pub reviewer: &'static str,
    /// Who installs the facilities: the installer of the evidence.
    pub crew: &'static str,
    pub where_text: String,
    /// For duplicates: the surviving site.
    pub duplicate_of: Option<Uuid>,
    /// A closed site whose story ends with a look-back planned but not yet done.
    pub look_back_open: bool,
}

/// Where a story starts so that its last step is as long ago as its status suggests: sites still waiting
/// for a step were mostly touched recently (immediate fixes very recently), a few have gone stale (and
/// are overdue); finished sites may be from any time in the season, except those whose look-back was
/// planned in the last weeks and is still to do (due soon, or overdue).
pub fn start_day(plan: &Plan, duration: i64, rng: &mut Rng) -> i64 {
    use SiteStatus as S;
    let mode = plan.mode;
    let mut age = |recent: f64, fresh: i64, stale: i64| {
        if rng.chance(recent) { rng.int(0, fresh) } else { rng.int(fresh, stale) }
    };
    let age = match plan.target {
        S::Assigned | S::InProgress | S::PendingReview if mode == RectificationMode::Immediate => Some(age(0.8, 2, 20)),
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
pub fn near(of: &Place, kind: SiteKind, towns: &[Town], net: &Network, rng: &mut Rng) -> Place {
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
        (HazardLevel::General, if serious { 62 } else { 76 }),
        (HazardLevel::Significant, 30),
        (HazardLevel::Major, if serious { 8 } else { 4 }),
    ]);
    let mode = {
        use RectificationMode::*;
        match level {
            HazardLevel::General => *rng.weighted(&[(Immediate, 40), (Deadline, 56), (Project, 4)]),
            HazardLevel::Significant => *rng.weighted(&[(Immediate, 10), (Deadline, 68), (Project, 22)]),
            HazardLevel::Major => *rng.weighted(&[(Deadline, 40), (Project, 60)]),
        }
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

/// Everyone the ledger names, as the lifecycle sees them: an `Actor` per person with the role and
/// organisation of their account. Organisations are numbered by their place in `names::organisations()`
/// and towns by theirs in the town list; `write` turns the numbers into the database's ids.
pub struct Cast {
    actors: HashMap<&'static str, Actor>,
    organisations: Vec<&'static str>,
}

impl Cast {
    pub fn new(towns: &[Town]) -> Cast {
        let organisations: Vec<&'static str> = n::organisations().iter().map(|o| o.name).collect();
        let number = |name: &str| organisation_number(&organisations, name);
        let actors = accounts::people()
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let town = towns.iter().position(|t| t.spec.org == p.organisation).map(|t| t as i32);
                let actor = Actor {
                    user_id: Uuid::from_u128(i as u128 + 1),
                    name: p.name.to_string(),
                    display_name: p.display_name.to_string(),
                    roles: vec![p.role],
                    organisation_id: number(p.organisation),
                    town_id: if p.role == Role::TownOfficer { town } else { None },
                };
                (p.display_name, actor)
            })
            .collect();
        Cast { actors, organisations }
    }

    /// The person the ledger names, as an actor. Everyone it names has an account (`accounts::people`).
    pub fn actor(&self, name: &str) -> &Actor {
        self.actors.get(name).unwrap_or_else(|| panic!("{name} is not one of accounts::people"))
    }

    /// The number of an organisation of `names::organisations()`.
    pub fn organisation(&self, name: &str) -> i32 {
        organisation_number(&self.organisations, name)
    }
}

/// The name of the organisation numbered `number` (its place in `names::organisations()`).
pub fn organisation_name(organisations: &[&'static str], number: i32) -> Option<&'static str> {
    usize::try_from(number).ok().and_then(|i| organisations.get(i)).copied()
}

fn organisation_number(organisations: &[&str], name: &str) -> i32 {
    let i = organisations.iter().position(|o| *o == name);
    i.unwrap_or_else(|| panic!("{name} is not one of names::organisations()")) as i32
}
