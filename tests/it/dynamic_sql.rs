//! The queries that are not checked at compile time because they are spliced from constant fragments (the scope
//! condition, the site filter, the site properties, the ledger's item columns, the open-site condition): each runs
//! here against a real database with every variant of its fragments, and its answer is checked, so that a typo in
//! a fragment fails a test. Every other fixed query is checked by `sqlx::query!` against the migrations
//! (ARCHITECTURE.md, "All fixed SQL is checked at compile time").

use crate::common;

use chrono::NaiveDate;
use common::{app, county_office, jpeg, observation, sha256_hex};
use roadledger::db::sites::SiteFilter;
use roadledger::db::{ledger, lifecycle, lookback, observations, photos, places, sites};
use roadledger::domain::auth::SiteScope;
use roadledger::domain::lifecycle::china_date;
use roadledger::domain::report::{Figure, Period, PeriodKind};
use roadledger::domain::site::{HazardLevel, SiteKind, SiteStatus};
use roadledger::domain::site_filter::{FigureFilter, MapFilter};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// One site in 杨舍镇 with a photo, its responsible unit set, a second open site of the same kind, and an open
/// look-back task: enough for every scope to see something, or nothing.
struct Seeded {
    site: Uuid,
    code: String,
    other_site: Uuid,
    observation: Uuid,
    photo_sha256: Vec<u8>,
    status: String,
    town_id: i32,
    unit_id: i32,
}

async fn seed(pool: &PgPool) -> (common::TestApp, Seeded) {
    let app = app(pool.clone()).await;
    let office = county_office(&app).await;
    let photo = jpeg(64, 48);
    let obs = observation("intersection", json!([120.55, 31.87]));
    let answer = app.upload(&obs, &[&photo]).await;
    assert_eq!(answer.status, 201, "{}", answer.detail());
    let site: Uuid = answer.json()["site"]["id"].as_str().unwrap().parse().unwrap();
    let code = answer.json()["site"]["properties"]["code"].as_str().unwrap().to_owned();
    let status = answer.json()["site"]["properties"]["status"].as_str().unwrap().to_owned();
    let other = app.upload(&observation("intersection", json!([120.58, 31.88])), &[]).await;
    assert_eq!(other.status, 201, "{}", other.detail());
    let other_site: Uuid = other.json()["site"]["id"].as_str().unwrap().parse().unwrap();
    // Arranged directly: which unit leads the site and a look-back task are what the scope and the look-back
    // queries read, whatever moves led there.
    sqlx::query("update site set responsible_unit_id = $2 where id = $1")
        .bind(site)
        .bind(office.unit_id)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query("insert into look_back_task (site_id, due_on, policy) values ($1, '2026-12-01', 'manual')")
        .bind(site)
        .execute(pool)
        .await
        .unwrap();
    let seeded = Seeded {
        site,
        code,
        other_site,
        observation: obs["id"].as_str().unwrap().parse().unwrap(),
        photo_sha256: hex::decode(sha256_hex(&photo)).unwrap(),
        status,
        town_id: office.town_id,
        unit_id: office.unit_id,
    };
    (app, seeded)
}

/// Every variant of the scope condition, and whether it sees the seeded site.
fn scopes(s: &Seeded) -> Vec<(&'static str, SiteScope, bool)> {
    vec![
        ("all", SiteScope { all: true, town_id: None, unit_id: None }, true),
        ("own town", SiteScope { all: false, town_id: Some(s.town_id), unit_id: None }, true),
        ("own unit", SiteScope { all: false, town_id: None, unit_id: Some(s.unit_id) }, true),
        (
            "elsewhere",
            SiteScope { all: false, town_id: Some(s.town_id + 1000), unit_id: Some(s.unit_id + 1000) },
            false,
        ),
    ]
}

#[sqlx::test(migrations = "./migrations")]
async fn every_scoped_query_runs_with_every_scope(pool: PgPool) {
    let (_app, s) = seed(&pool).await;
    for (name, scope, sees) in scopes(&s) {
        let detail = sites::detail(&pool, s.site, &scope).await.unwrap();
        assert_eq!(detail.is_some(), sees, "detail, scope {name}");
        if let Some((feature, version)) = detail {
            assert_eq!(feature.properties.version, version, "scope {name}");
            assert_eq!(feature.properties.observations.len(), 1, "scope {name}");
        }
        let summary = sites::summary(&pool, s.site, &scope).await.unwrap();
        assert_eq!(summary.is_some(), sees, "summary, scope {name}");

        let counts = sites::counts_by_status(&pool, &SiteFilter { scope, ..Default::default() }).await.unwrap();
        let seen: i64 = counts.iter().map(|(_, n, _)| n).sum();
        // The unit leads only the first site; the town and everyone see both.
        let expected = match name {
            "all" | "own town" => 2,
            "own unit" => 1,
            _ => 0,
        };
        assert_eq!(seen, expected, "counts_by_status, scope {name}: {counts:?}");

        let keys = photos::keys(&pool, &s.photo_sha256, &scope).await.unwrap();
        assert_eq!(keys.is_some(), sees, "photo keys, scope {name}");

        let tasks = lookback::open_tasks(&pool, &scope).await.unwrap();
        let task_sites: Vec<Uuid> = tasks.iter().map(|t| t.site_id).collect();
        assert_eq!(task_sites, if sees { vec![s.site] } else { vec![] }, "open look-backs, scope {name}");
        let today = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap();
        let towns = lookback::by_town(&pool, &scope, today, today, today).await.unwrap();
        let open: Vec<(i64, i64)> = towns.iter().map(|t| (t.open, t.overdue)).collect();
        assert_eq!(open, if sees { vec![(1, 1)] } else { vec![] }, "look-backs by town, scope {name}");

        let found = observations::get(&pool, s.observation, &scope).await.unwrap();
        assert_eq!(found.map(|o| o.site_match), sees.then(|| "opened".to_owned()), "observation, scope {name}");
        let author = observations::author(&pool, s.observation, &scope).await.unwrap();
        assert_eq!(author.is_some(), sees, "observation author, scope {name}");

        let mut tx = pool.begin().await.unwrap();
        let locked = lifecycle::lock(&mut tx, s.site, &scope).await.unwrap();
        assert_eq!(locked.as_ref().map(|l| l.id), sees.then_some(s.site), "lock, scope {name}");
        let all = SiteScope { all: true, town_id: None, unit_id: None };
        let from = lifecycle::lock(&mut tx, s.site, &all).await.unwrap().unwrap();
        let merge = lifecycle::merge_target_ok(&mut tx, &from, s.other_site, &scope).await.unwrap();
        // The unit does not lead the other site, so for it the target is out of scope.
        let target_seen = matches!(name, "all" | "own town");
        assert_eq!(merge, if target_seen { Ok(()) } else { Err("into: no such site") }, "merge target, scope {name}");
        tx.rollback().await.unwrap();
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn the_site_filter_runs_with_every_variant(pool: PgPool) {
    let (_app, s) = seed(&pool).await;
    let everyone = SiteScope { all: true, town_id: None, unit_id: None };
    // The seeded site as the criteria below see it: first observed on 2026-11-30 (county date), overdue,
    // listed, relapsed once, with a hazard type, a level and a source; the other site has none of these.
    sqlx::query(
        "update site set hazard_types = '{missing_warning_sign,worn_markings}', hazard_level = 'major',
             deadline = '2020-01-01', supervision_level = 'county', relapse_count = 1, source = 'hotline'
         where id = $1",
    )
    .bind(s.site)
    .execute(&pool)
    .await
    .unwrap();
    let status: SiteStatus = s.status.parse().unwrap();
    let date = |d: &str| Some(d.parse::<NaiveDate>().unwrap());
    let with = |criteria: MapFilter| SiteFilter { criteria, ..Default::default() };
    // The site was opened now: the report figure "found" of this month counts it, "closed" does not.
    let this_month = Period::containing(PeriodKind::Month, china_date(chrono::Utc::now()));
    let figure = |figure| Some(FigureFilter { period: this_month, figure });
    // Each optional part of the filter on its own, all of them together, and ones that exclude the site.
    let variants: Vec<(&str, SiteFilter, bool)> = vec![
        ("nothing", SiteFilter::default(), true),
        ("bbox", SiteFilter { bbox: Some(common::YANGSHE), ..Default::default() }, true),
        ("status", with(MapFilter { statuses: vec![status, SiteStatus::Closed], ..Default::default() }), true),
        ("kind", with(MapFilter { kinds: vec![SiteKind::Intersection], ..Default::default() }), true),
        ("town code", with(MapFilter { towns: vec!["320582100".into()], ..Default::default() }), true),
        ("town name", with(MapFilter { towns: vec!["杨舍镇".into(), "锦丰镇".into()], ..Default::default() }), true),
        ("hazard type", with(MapFilter { hazard_types: vec!["worn_markings".into()], ..Default::default() }), true),
        ("level", with(MapFilter { levels: vec![HazardLevel::Major], ..Default::default() }), true),
        ("overdue", with(MapFilter { overdue: Some(true), ..Default::default() }), true),
        ("supervised", with(MapFilter { supervised: Some(true), ..Default::default() }), true),
        ("relapsed", with(MapFilter { relapsed: Some(true), ..Default::default() }), true),
        ("from", with(MapFilter { from: date("2026-11-30"), ..Default::default() }), true),
        ("to", with(MapFilter { to: date("2026-11-30"), ..Default::default() }), true),
        ("source", with(MapFilter { sources: vec!["hotline".into()], ..Default::default() }), true),
        ("figure", with(MapFilter { figure: figure(Figure::Found), ..Default::default() }), true),
        (
            "everything",
            SiteFilter {
                bbox: Some(common::YANGSHE),
                criteria: MapFilter {
                    towns: vec!["杨舍镇".into()],
                    statuses: vec![status],
                    kinds: vec![SiteKind::Intersection],
                    hazard_types: vec!["missing_warning_sign".into()],
                    levels: vec![HazardLevel::Major, HazardLevel::General],
                    overdue: Some(true),
                    supervised: Some(true),
                    relapsed: Some(true),
                    from: date("2026-11-01"),
                    to: date("2026-11-30"),
                    sources: vec!["hotline".into(), "patrol".into()],
                    figure: figure(Figure::Found),
                },
                ..Default::default()
            },
            true,
        ),
        ("other bbox", SiteFilter { bbox: Some([100.0, 30.0, 100.1, 30.1]), ..Default::default() }, false),
        ("other status", with(MapFilter { statuses: vec![SiteStatus::Closed], ..Default::default() }), false),
        ("other kind", with(MapFilter { kinds: vec![SiteKind::Section], ..Default::default() }), false),
        ("other town", with(MapFilter { towns: vec!["锦丰镇".into()], ..Default::default() }), false),
        ("other hazard type", with(MapFilter { hazard_types: vec!["x".into()], ..Default::default() }), false),
        ("other level", with(MapFilter { levels: vec![HazardLevel::General], ..Default::default() }), false),
        ("not overdue", with(MapFilter { overdue: Some(false), ..Default::default() }), false),
        ("not supervised", with(MapFilter { supervised: Some(false), ..Default::default() }), false),
        ("not relapsed", with(MapFilter { relapsed: Some(false), ..Default::default() }), false),
        ("later from", with(MapFilter { from: date("2026-12-01"), ..Default::default() }), false),
        ("earlier to", with(MapFilter { to: date("2026-11-29"), ..Default::default() }), false),
        ("other source", with(MapFilter { sources: vec!["drone".into()], ..Default::default() }), false),
        ("other figure", with(MapFilter { figure: figure(Figure::Closed), ..Default::default() }), false),
    ];
    for (name, filter, includes) in variants {
        for (scope_name, scope, sees) in scopes(&s) {
            let f = SiteFilter { scope, limit: 10, ..filter.clone() };
            let expected = includes && sees;
            let (features, next) = sites::list(&pool, &f).await.unwrap();
            let ids: Vec<String> = features
                .iter()
                .map(|f| serde_json::from_str::<Value>(f).unwrap()["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(ids.contains(&s.site.to_string()), expected, "list, filter {name}, scope {scope_name}");
            assert_eq!(next, None);
            let counts = sites::counts_by_status(&pool, &f).await.unwrap();
            assert_eq!(
                counts.iter().map(|(_, n, _)| n).sum::<i64>(),
                ids.len() as i64,
                "counts, filter {name}, scope {scope_name}"
            );
            let overdue = counts.iter().map(|(_, _, o)| o).sum::<i64>();
            assert_eq!(overdue, i64::from(expected), "overdue count, filter {name}, scope {scope_name}");

            let export = ledger::export(&pool, &f, ledger::LEDGER_ROWS_MAX).await.unwrap();
            let mut rows = export.rows;
            let mut codes = Vec::new();
            while let Some(row) = rows.recv().await {
                codes.push(row.unwrap().code);
            }
            assert_eq!(export.row_count, codes.len() as i64, "ledger, filter {name}, scope {scope_name}");
            assert_eq!(codes.contains(&s.code), expected, "ledger, filter {name}, scope {scope_name}");
        }
    }
    // Keyset paging: after the larger id, nothing; a page of one names where to continue.
    let mut ids = [s.site, s.other_site];
    ids.sort();
    let page = SiteFilter { scope: everyone, limit: 1, ..Default::default() };
    let (first, next) = sites::list(&pool, &page).await.unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(next, Some(ids[0]));
    let (rest, next) = sites::list(&pool, &SiteFilter { after: Some(ids[0]), ..page.clone() }).await.unwrap();
    assert_eq!((rest.len(), next), (1, None));
    let (none, _) = sites::list(&pool, &SiteFilter { after: Some(ids[1]), ..page }).await.unwrap();
    assert!(none.is_empty());
}

#[sqlx::test(migrations = "./migrations")]
async fn the_open_site_condition_runs_in_the_places_lists(pool: PgPool) {
    let (_app, _s) = seed(&pool).await;
    let towns: Value = serde_json::from_str(&places::towns_json(&pool).await.unwrap()).unwrap();
    assert_eq!(towns[0]["admin_code"], "320582100");
    assert_eq!((towns[0]["sites"].as_i64(), towns[0]["open_sites"].as_i64()), (Some(2), Some(2)));
    for q in [None, Some("X")] {
        let roads: Value = serde_json::from_str(&places::roads_json(&pool, q, 10, 0).await.unwrap()).unwrap();
        assert_eq!(roads, json!({"total": 0, "roads": []}), "roads, q {q:?}");
    }
}

/// The OGC API's site query (`db::ogc`): a CQL2 filter becomes SQL there, one fragment per queryable and
/// operator. Every queryable runs with every operator its type takes, and for each the filter, its negation
/// and `IS NULL` split the sites exactly (SQL's three values: true, false, unknown); the bbox, the interval,
/// the cursor and the temporal extent run with every scope.
#[sqlx::test(migrations = "./migrations")]
async fn the_ogc_site_query_runs_with_every_queryable_and_operator(pool: PgPool) {
    use roadledger::db::ogc::{self, SiteQuery};
    use roadledger::domain::cql2::{self, Type};
    use roadledger::domain::ogc::{Interval, SITE_QUERYABLES, parse_datetime, site_queryable_types};

    let (_app, s) = seed(&pool).await;
    let all = SiteScope { all: true, town_id: None, unit_id: None };
    let types = site_queryable_types();
    let count = |filters: Vec<cql2::Expr>| {
        let pool = pool.clone();
        async move {
            let q = SiteQuery { scope: all, filters, limit: 100, ..Default::default() };
            let n = ogc::count_sites(&pool, &q).await.unwrap();
            let (features, next) = ogc::sites(&pool, &q).await.unwrap();
            assert_eq!((features.len() as i64, next), (n, None));
            n
        }
    };
    let total = count(vec![]).await;
    assert_eq!(total, 2);
    for (name, ty, _) in SITE_QUERYABLES {
        let value = match ty {
            Type::Text => "'closed'",
            Type::Number => "1",
            Type::Boolean => "TRUE",
            Type::Date => "DATE('2026-11-01')",
            Type::Timestamp => "TIMESTAMP('2026-11-01T00:00:00Z')",
            Type::Geometry => "",
        };
        let mut predicates: Vec<String> = ["=", "<>", "<", "<=", ">", ">="]
            .iter()
            .filter(|_| *ty != Type::Geometry)
            .filter(|op| *ty != Type::Boolean || matches!(**op, "=" | "<>"))
            .map(|op| format!("{name} {op} {value}"))
            .collect();
        if *ty == Type::Geometry {
            predicates.push(format!("S_INTERSECTS({name}, BBOX(120.5, 31.8, 120.6, 31.9))"));
            predicates.push(format!("S_INTERSECTS(POINT(120.55 31.87), {name})"));
            predicates.push(format!("S_INTERSECTS({name}, LINESTRING(120.5 31.8, 120.6 31.9))"));
            // A bow tie: not a valid polygon, made valid rather than failing.
            predicates.push(format!(
                "S_INTERSECTS({name}, POLYGON((120.5 31.8, 120.6 31.9, 120.6 31.8, 120.5 31.9, 120.5 31.8)))"
            ));
        } else {
            predicates.push(format!("{name} = {name}"));
            predicates.push(format!("{name} IN ({value}, {value})"));
        }
        if !matches!(ty, Type::Boolean | Type::Geometry) {
            predicates.push(format!("{name} BETWEEN {value} AND {value}"));
        }
        if *ty == Type::Text {
            predicates.push(format!("{name} LIKE '%'"));
        }
        let nulls = count(vec![cql2::parse(&format!("{name} IS NULL"), &types).unwrap()]).await;
        let not_nulls = count(vec![cql2::parse(&format!("{name} IS NOT NULL"), &types).unwrap()]).await;
        assert_eq!(nulls + not_nulls, total, "{name}");
        for predicate in predicates {
            let yes = count(vec![cql2::parse(&predicate, &types).unwrap()]).await;
            let no = count(vec![cql2::parse(&format!("NOT ({predicate})"), &types).unwrap()]).await;
            assert_eq!(yes + no + nulls, total, "{predicate}");
        }
    }
    // The seeded site by what it is.
    let status = cql2::parse(&format!("status = '{}' AND code = '{}'", s.status, s.code), &types).unwrap();
    assert_eq!(count(vec![status.clone(), cql2::parse("TRUE OR FALSE", &types).unwrap()]).await, 1);

    // bbox, interval and cursor, under every scope.
    for (label, scope, sees) in scopes(&s) {
        let extent = ogc::temporal_extent(&pool, &scope).await.unwrap();
        assert_eq!(extent.is_some(), sees, "{label}");
        let from_now = parse_datetime("2000-01-01/..").unwrap();
        let q = SiteQuery {
            scope,
            bbox: Some(common::YANGSHE),
            datetime: Some(from_now),
            filters: vec![status.clone()],
            after: Some(Uuid::nil()),
            limit: 10,
        };
        let (features, _) = ogc::sites(&pool, &q).await.unwrap();
        assert_eq!(features.len() == 1, sees, "{label}");
        assert_eq!(ogc::count_sites(&pool, &q).await.unwrap() == 1, sees, "{label}");
        let before = SiteQuery { datetime: Some(Interval { from: None, until: from_now.from }), ..q };
        assert_eq!(ogc::count_sites(&pool, &before).await.unwrap(), 0, "{label}");
    }
}

/// The open sites near a point (`sites::nearby`) and the named site of a repeat visit
/// (`observations::record` with `site_id`, locked with the scope condition), with every scope and kind.
#[sqlx::test(migrations = "./migrations")]
async fn the_nearby_sites_and_the_named_site_run_with_every_scope(pool: PgPool) {
    use roadledger::domain::observation::{NewObservation, ObservationInput};
    let (_app, s) = seed(&pool).await;
    let user_id: Uuid =
        sqlx::query_scalar("select id from app_user where name = 'zhangwei'").fetch_one(&pool).await.unwrap();
    for (name, scope, sees) in scopes(&s) {
        for kind in [None, Some("intersection"), Some("spot")] {
            let q = sites::NearbyQuery { lon: 120.55, lat: 31.8701, kind, radius_m: 50.0, limit: 20 };
            let list: Value = serde_json::from_str(&sites::nearby(&pool, &q, &scope).await.unwrap()).unwrap();
            let expected = if sees && kind != Some("spot") { vec![json!(s.site)] } else { vec![] };
            let ids: Vec<Value> = list.as_array().unwrap().iter().map(|x| x["id"].clone()).collect();
            assert_eq!(ids, expected, "{name}, kind {kind:?}");
        }
        let mut input = observation("intersection", json!([120.55, 31.8702]));
        input["site_id"] = json!(s.site);
        let input: ObservationInput = serde_json::from_value(input).unwrap();
        let obs = NewObservation::validate(input, chrono::Utc::now(), &[], "张伟").unwrap();
        let ctx = observations::RecordContext {
            user_id,
            scope: &scope,
            county_admin_code: "320582",
            named_site_radius_m: 100.0,
        };
        let outcome = observations::record(&pool, &obs, &ctx, &[7; 32], &[]).await.unwrap();
        let expected = if sees { observations::Outcome::Created } else { observations::Outcome::NoSuchSite(s.site) };
        assert_eq!(outcome, expected, "{name}");
    }
}
