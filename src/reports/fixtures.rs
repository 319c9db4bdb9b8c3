//! Hand-made reports and rankings for the tests of the documents (here and, later, the HTTP tests): small
//! enough to check by eye, with every kind of value (changes up and down, a median missing, an empty band).

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::domain::report::{
    Band, Figures, Measures, OverdueSite, Period, PeriodKind, RankedTown, Ranking, RankingBands, RankingWeights,
    Report, ReportScope, StatusCount, TownFigures, TrendPoint,
};

/// Figures with the counts the tables print; the rest follow from them.
fn figures(found: i64, dispatched: i64, closed: i64, on_time: i64, overdue: i64, open: i64) -> Figures {
    Figures {
        found,
        verified: found,
        dispatched,
        closed,
        closed_on_time: on_time,
        overdue,
        open,
        returned: overdue / 2,
        look_backs: closed / 2,
        relapsed: i64::from(overdue > 3),
        median_days_report_to_dispatch: Some(1.5),
        median_days_dispatch_to_accept: (dispatched > 0).then_some(0.5 + overdue as f64),
        median_days_dispatch_to_close: (closed > 0).then_some(9.0),
        ..Figures::default()
    }
}

fn sum(rows: &[TownFigures], of: impl Fn(&TownFigures) -> &Figures) -> Figures {
    let mut total = Figures::default();
    for row in rows {
        let f = of(row);
        total.found += f.found;
        total.verified += f.verified;
        total.dispatched += f.dispatched;
        total.closed += f.closed;
        total.closed_on_time += f.closed_on_time;
        total.overdue += f.overdue;
        total.open += f.open;
        total.returned += f.returned;
        total.look_backs += f.look_backs;
        total.relapsed += f.relapsed;
    }
    total.median_days_report_to_dispatch = Some(1.5);
    total.median_days_dispatch_to_accept = Some(2.0);
    total.median_days_dispatch_to_close = Some(9.0);
    total
}

fn town(code: &str, name: &str, now: Figures, before: Figures) -> TownFigures {
    TownFigures {
        town_id: code.parse().ok(),
        code: Some(code.to_string()),
        name: name.to_string(),
        figures: now,
        previous: before,
    }
}

/// The 2026-W48 weekly summary of a county of three towns, listed in code order (金港镇, 杨舍镇, 塘桥镇);
/// 杨舍镇 is furthest behind (4 overdue of 7 open), 金港镇 has nothing overdue.
pub fn sample_report() -> Report {
    let towns = vec![
        town("320582001", "金港镇", figures(3, 3, 4, 4, 0, 2), figures(2, 2, 1, 1, 0, 3)),
        town("320582002", "杨舍镇", figures(6, 5, 5, 3, 4, 7), figures(4, 4, 2, 2, 3, 6)),
        town("320582003", "塘桥镇", figures(2, 2, 3, 2, 2, 5), figures(3, 3, 3, 3, 1, 6)),
    ];
    report_of(towns)
}

/// A county of `n` towns named `第{i}镇` with made-up figures, for the layout of long tables.
pub fn report_with_towns(n: usize) -> Report {
    let towns = (1..=n)
        .map(|i| {
            let k = i as i64;
            let name = format!("第{i}镇");
            town(
                &format!("{:09}", 320582000 + i),
                &name,
                figures(k % 7, k % 5, k % 6, k % 4, k % 3, k % 9),
                figures(1, 1, 1, 1, 1, 1),
            )
        })
        .collect();
    report_of(towns)
}

fn report_of(towns: Vec<TownFigures>) -> Report {
    let period = Period::parse(PeriodKind::Week, "2026-W48").expect("a valid week");
    let trend = period
        .trailing(8)
        .into_iter()
        .zip([(5, 3, 12), (7, 4, 15), (9, 6, 18), (4, 8, 14), (6, 6, 14), (8, 5, 17), (9, 9, 17), (11, 12, 14)])
        .map(|(p, (found, closed, open))| TrendPoint { code: p.code(), found, closed, open })
        .collect();
    let statuses = [
        ("reported", 5),
        ("verified", 3),
        ("assigned", 4),
        ("in_progress", 6),
        ("pending_review", 2),
        ("closed", 20),
        ("reopened", 2),
        ("rejected", 0),
        ("duplicate", 0),
        ("cancelled", 0),
    ]
    .into_iter()
    .map(|(status, sites)| StatusCount { status: status.to_string(), sites })
    .collect();
    Report {
        period,
        previous_period: period.previous(),
        scope: ReportScope::County,
        as_of: period.ends_at(),
        totals: sum(&towns, |t| &t.figures),
        previous_totals: sum(&towns, |t| &t.previous),
        towns,
        worst_overdue: worst_overdue(),
        trend,
        statuses,
        inputs_sha256: "5f2b".repeat(16),
    }
}

fn worst_overdue() -> Vec<OverdueSite> {
    let site =
        |n: u128, town: &str, road: Option<&str>, unit: Option<&str>, deadline: (u32, u32), days: i64| OverdueSite {
            id: Uuid::from_u128(n),
            code: format!("YH-{n:06}"),
            town: Some(town.to_string()),
            road: road.map(str::to_string),
            kind: "spot".to_string(),
            hazard_level: Some("significant".to_string()),
            responsible_unit: unit.map(str::to_string),
            status: "in_progress".to_string(),
            deadline: NaiveDate::from_ymd_opt(2026, deadline.0, deadline.1).expect("a valid date"),
            days_overdue: days,
        };
    vec![
        site(17, "杨舍镇", Some("X202 K12+300"), Some("杨舍镇农村公路管理所"), (10, 31), 30),
        site(23, "塘桥镇", Some("Y015 K3+050"), Some("塘桥镇交通管理所"), (11, 14), 16),
        site(31, "杨舍镇", None, None, (11, 27), 3),
    ]
}

fn ranked(rank: usize, band: Band, code: &str, name: &str, score: f64, figures: Figures) -> RankedTown {
    RankedTown {
        rank,
        band,
        town_id: code.parse().unwrap_or_default(),
        code: code.to_string(),
        name: name.to_string(),
        score,
        measures: Measures::of(&figures),
        figures,
    }
}

/// The 2026Q4 ranking of four towns: one sunny, one rainy (bands of one), one town with no rates at all.
pub fn sample_ranking() -> Ranking {
    let period = Period::parse(PeriodKind::Quarter, "2026Q4").expect("a valid quarter");
    let as_of: DateTime<Utc> = period.ends_at();
    Ranking {
        period,
        as_of,
        weights: RankingWeights::default(),
        bands: RankingBands { sunny: 1, rainy: 1 },
        towns: vec![
            ranked(1, Band::Sunny, "320582001", "金港镇", 96.5, figures(30, 30, 40, 38, 0, 5)),
            ranked(2, Band::Middle, "320582003", "塘桥镇", 71.25, figures(20, 18, 25, 20, 3, 9)),
            ranked(3, Band::Middle, "320582004", "锦丰镇", 50.0, Figures::default()),
            ranked(4, Band::Rainy, "320582002", "杨舍镇", 12.0, figures(40, 35, 22, 11, 9, 30)),
        ],
        inputs_sha256: "a1c3".repeat(16),
    }
}
