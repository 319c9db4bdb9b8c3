//! The demo's accounts: one for every person the ledger names, so that observations and events carry their
//! author as live ones do, and one sign-in account per role with a known password (`super::DEMO_ACCOUNTS`).
//!
//! The people's accounts share one Argon2id hash of a random password that is thrown away at once: nobody can
//! sign in as them until an admin resets the password. Their sign-in names are the pinyin of their names.

use std::collections::HashMap;

use anyhow::Context;
use tokio::task::JoinHandle;

use crate::domain::auth::Role;
use crate::secrets;

use super::names as n;
use super::towns::TOWNS;
use super::write::NewAccount;

/// The responsible unit the `demo-unit` account belongs to: the non-town unit with the most assigned sites.
pub const DEMO_UNIT: &str = n::RURAL_ROADS_OFFICE;
/// The town the `demo-town` account belongs to (杨舍镇, the city centre).
pub const DEMO_TOWN: usize = 0;

/// A demo sign-in account's display name and organisation, by sign-in name (the role and password are in
/// `super::DEMO_ACCOUNTS`).
const DEMO_PROFILES: [(&str, &str, &str); 8] = [
    ("demo-inspector", "演示·巡查员", n::CITY_OFFICE),
    ("demo-town", "演示·杨舍镇交安办", TOWNS[DEMO_TOWN].org),
    ("demo-unit", "演示·农村公路管理处", DEMO_UNIT),
    ("demo-dispatcher", "演示·市交安办调度", n::CITY_OFFICE),
    ("demo-reviewer", "演示·交警验收", n::POLICE_BRIGADE),
    ("demo-leader", "演示·领导", n::CITY_OFFICE),
    ("demo-admin", "演示·管理员", n::CITY_OFFICE),
    ("demo-hotline", "演示·12345热线", n::CITY_OFFICE),
];

/// Sign-in names of the people and channels the ledger names: pinyin, family name first.
const SIGN_IN_NAMES: &[(&str, &str)] = &[
    // Town inspectors.
    ("张伟", "zhang.wei"),
    ("李娜", "li.na"),
    ("王强", "wang.qiang"),
    ("刘洋", "liu.yang"),
    ("陈静", "chen.jing"),
    ("杨帆", "yang.fan"),
    ("赵磊", "zhao.lei"),
    ("黄敏", "huang.min"),
    ("周杰", "zhou.jie"),
    ("吴芳", "wu.fang"),
    ("徐明", "xu.ming"),
    ("孙丽", "sun.li"),
    ("朱军", "zhu.jun"),
    ("马超", "ma.chao"),
    ("胡斌", "hu.bin"),
    ("郭婷", "guo.ting"),
    ("何平", "he.ping"),
    ("高翔", "gao.xiang"),
    // Town road-safety officers.
    ("钱志宏", "qian.zhihong"),
    ("蒋丽华", "jiang.lihua"),
    ("沈国平", "shen.guoping"),
    ("韩雪", "han.xue"),
    ("杨建军", "yang.jianjun"),
    ("秦海", "qin.hai"),
    ("朱晓燕", "zhu.xiaoyan"),
    ("许文斌", "xu.wenbin"),
    ("尤佳", "you.jia"),
    // City office.
    ("曹磊", "cao.lei"),
    ("严志强", "yan.zhiqiang"),
    ("沈建国", "shen.jianguo"),
    ("钱卫东", "qian.weidong"),
    // Reviewers.
    ("顾文杰", "gu.wenjie"),
    ("季晓峰", "ji.xiaofeng"),
    ("陆海峰", "lu.haifeng"),
    ("缪红", "miao.hong"),
    // Responsible units.
    ("黄志刚", "huang.zhigang"),
    ("葛伟", "ge.wei"),
    ("施燕", "shi.yan"),
    ("顾建新", "gu.jianxin"),
    ("陈国华", "chen.guohua"),
    // Intake channels.
    (n::CITIZEN, "citizen-photo"),
    (n::SMART_PATROL, "smart-patrol"),
];

/// A person (or intake channel) of the ledger and their account.
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// What the ledger writes (`observation.inspector`, `site_event.actor`); the account's display name.
    pub display_name: &'static str,
    pub name: &'static str,
    pub organisation: &'static str,
    pub role: Role,
}

fn sign_in_name(display_name: &str) -> &'static str {
    SIGN_IN_NAMES
        .iter()
        .find(|(d, _)| *d == display_name)
        .map(|(_, name)| *name)
        .unwrap_or_else(|| panic!("{display_name} has no sign-in name in SIGN_IN_NAMES"))
}

/// Everyone the ledger names: town inspectors patrol with their town's traffic police squadron, town officers
/// sit in the town government, dispatchers and city inspectors in the city office, reviewers in the traffic
/// police brigade or the transport bureau, unit officers in their unit. The two intake channels (citizen
/// photos, smart patrol) record observations, so they are inspector accounts of the city office.
pub fn people() -> Vec<Person> {
    let person = |display_name, organisation, role| Person {
        display_name,
        name: sign_in_name(display_name),
        organisation,
        role,
    };
    let mut out = Vec::new();
    for t in &TOWNS {
        out.extend(t.inspectors.iter().map(|&i| person(i, t.squadron, Role::Inspector)));
        out.push(person(t.officer, t.org, Role::TownOfficer));
    }
    out.extend(n::CITY_INSPECTORS.iter().map(|&i| person(i, n::CITY_OFFICE, Role::Inspector)));
    out.extend(n::DISPATCHERS.iter().map(|&d| person(d, n::CITY_OFFICE, Role::Dispatcher)));
    out.extend(n::POLICE_REVIEWERS.iter().map(|&r| person(r, n::POLICE_BRIGADE, Role::Reviewer)));
    out.extend(n::TRANSPORT_REVIEWERS.iter().map(|&r| person(r, n::TRANSPORT_BUREAU, Role::Reviewer)));
    out.extend(n::UNIT_OFFICERS.iter().map(|&(unit, o)| person(o, unit, Role::UnitOfficer)));
    out.push(person(n::CITIZEN, n::CITY_OFFICE, Role::Inspector));
    out.push(person(n::SMART_PATROL, n::CITY_OFFICE, Role::Inspector));
    out
}

/// The organisations the demo sign-in accounts belong to.
pub fn demo_organisations() -> Vec<&'static str> {
    let mut out: Vec<&str> = DEMO_PROFILES.iter().map(|p| p.2).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// The demo sign-in account rows for `accounts` (name, role, password), with their hashes in the same order.
pub fn demo_rows<'a>(
    accounts: &[&'a (&'a str, &'a str, &'a str)],
    hashes: &'a [String],
    org_ids: &HashMap<String, i32>,
) -> anyhow::Result<Vec<NewAccount<'a>>> {
    accounts
        .iter()
        .zip(hashes)
        .map(|(&&(name, role, _), hash)| {
            let (_, display_name, org) = DEMO_PROFILES
                .iter()
                .find(|p| p.0 == name)
                .with_context(|| format!("demo account {name} has no profile"))?;
            Ok(NewAccount {
                name,
                display_name,
                organisation_id: organisation_id(org_ids, org)?,
                role,
                password_hash: hash,
            })
        })
        .collect()
}

/// The people's account rows, all with the one shared hash.
pub fn people_rows<'a>(
    people: &'a [Person],
    shared_hash: &'a str,
    org_ids: &HashMap<String, i32>,
) -> anyhow::Result<Vec<NewAccount<'a>>> {
    people
        .iter()
        .map(|p| {
            Ok(NewAccount {
                name: p.name,
                display_name: p.display_name,
                organisation_id: organisation_id(org_ids, p.organisation)?,
                role: p.role.as_str(),
                password_hash: shared_hash,
            })
        })
        .collect()
}

fn organisation_id(org_ids: &HashMap<String, i32>, name: &str) -> anyhow::Result<i32> {
    org_ids.get(name).copied().with_context(|| format!("no organisation {name}"))
}

/// A password nobody knows, for the people's shared hash.
pub fn unknowable_password() -> String {
    secrets::random_token("")
}

/// Argon2id hashes under way on the blocking pool, all at once.
pub struct Hashing(Vec<JoinHandle<anyhow::Result<String>>>);

pub fn start_hashing(passwords: Vec<String>) -> Hashing {
    Hashing(passwords.into_iter().map(|p| tokio::task::spawn_blocking(move || secrets::hash_password(&p))).collect())
}

impl Hashing {
    /// The hashes, in the order of the passwords.
    pub async fn finish(self) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::with_capacity(self.0.len());
        for handle in self.0 {
            out.push(handle.await??);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::demo::DEMO_ACCOUNTS;
    use crate::demo::ledger::tests::ledger;
    use crate::domain::auth::{check_password, check_user_name};
    use crate::domain::lifecycle::{EventKind, Party, RecordKind};

    #[test]
    fn every_name_in_the_ledger_has_an_account() {
        let people = people();
        let known: HashSet<&str> = people.iter().map(|p| p.display_name).collect();
        let ledger = ledger();
        for o in &ledger.observations {
            assert!(known.contains(o.inspector), "observation by {} has no account", o.inspector);
        }
        for e in &ledger.events {
            assert!(known.contains(e.actor), "{} event by {} has no account", e.kind, e.actor);
        }
        // Only inspectors record observations; each move is made by the party the lifecycle names, evidence by
        // the rectifier, look-backs are planned by the dispatcher.
        let by_display: HashMap<&str, &Person> = people.iter().map(|p| (p.display_name, p)).collect();
        for o in &ledger.observations {
            assert_eq!(by_display[o.inspector].role, Role::Inspector, "{}", o.inspector);
        }
        for e in &ledger.events {
            let party = match e.kind {
                EventKind::Move(action) => action.party(),
                EventKind::Record(RecordKind::EvidenceSubmitted) => Party::Rectifier,
                EventKind::Record(RecordKind::LookBackDue) => Party::Dispatcher,
                EventKind::Record(RecordKind::Opened) => Party::Inspector,
                EventKind::Record(other) => panic!("the demo records no {other} events"),
            };
            let role = by_display[e.actor].role;
            let allowed = match party {
                Party::Dispatcher => role == Role::Dispatcher,
                Party::Rectifier => matches!(role, Role::TownOfficer | Role::UnitOfficer),
                Party::Reviewer => role == Role::Reviewer,
                Party::Inspector => role == Role::Inspector,
            };
            assert!(allowed, "{} by {} ({role})", e.kind, e.actor);
        }
    }

    #[test]
    fn sign_in_names_are_valid_and_unique() {
        let people = people();
        let mut names = HashSet::new();
        let mut display_names = HashSet::new();
        for p in &people {
            check_user_name(p.name).unwrap();
            assert!(!p.name.starts_with("demo-"), "{}", p.name);
            assert!(names.insert(p.name), "two accounts named {}", p.name);
            assert!(display_names.insert(p.display_name), "two people called {}", p.display_name);
        }
        // Every entry of the table is someone.
        assert_eq!(people.len(), SIGN_IN_NAMES.len());
        let organisations: HashSet<&str> = n::organisations().iter().map(|o| o.name).collect();
        for org in people.iter().map(|p| p.organisation).chain(demo_organisations()) {
            assert!(organisations.contains(org), "no organisation {org}");
        }
    }

    #[test]
    fn demo_accounts_follow_the_password_rule() {
        // Every role that signs in: a detection system sends with an API token instead.
        assert_eq!(DEMO_ACCOUNTS.len(), Role::ALL.iter().filter(|r| **r != Role::Detector).count());
        let mut roles = HashSet::new();
        for &(name, role, password) in DEMO_ACCOUNTS {
            check_user_name(name).unwrap();
            check_password(password, name).unwrap();
            assert_eq!(password, format!("{name}-2026"));
            assert!(roles.insert(role.parse::<Role>().unwrap()), "{role} twice");
            assert!(DEMO_PROFILES.iter().any(|p| p.0 == name), "{name} has no profile");
        }
        let town = n::organisations().into_iter().find(|o| o.name == TOWNS[DEMO_TOWN].org).unwrap();
        assert_eq!((town.kind, town.town_code), ("town", Some(TOWNS[DEMO_TOWN].admin_code)));
    }

    #[test]
    fn the_demo_unit_is_the_busiest_non_town_unit() {
        let ledger = ledger();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for s in &ledger.sites {
            if let Some(unit) = s.responsible_unit {
                *counts.entry(unit).or_default() += 1;
            }
        }
        let towns: HashSet<&str> = TOWNS.iter().map(|t| t.org).collect();
        let busiest = counts.iter().filter(|(u, _)| !towns.contains(*u)).max_by_key(|(_, n)| **n).unwrap();
        assert_eq!(*busiest.0, DEMO_UNIT, "{counts:?}");
        assert!(*busiest.1 >= 100, "{counts:?}");
    }
}
