//! The SQL of county imports (towns, roads, chainage breaks, organisations) and of reading places back:
//! staging tables, checks, the comparison with what is stored, history, and the re-derivation of open
//! sites' road, stake and town. Every function runs inside the import's one transaction.

use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::places::ChainageBreak;
use crate::domain::stake::Stake;
use crate::import::{ImportKind, ImportReport, Importer, Problem, Repair, SiteChange};

type Tx<'a> = Transaction<'a, Postgres>;

/// Statuses of open sites: those whose place may still be re-derived.
const OPEN_SITE: &str = "s.status not in ('closed', 'cancelled', 'rejected', 'duplicate')";
/// China's bounding box, generously: anything outside is a coordinate system mistake.
const CHINA: &str = "st_makeenvelope(73.0, 3.0, 136.0, 54.0, 4326)";
/// How far outside its county's towns a road may run (degrees, about 20 km): a road leaves the county at its
/// ends, but not by a hundred kilometres.
const COUNTY_MARGIN_DEG: f64 = 0.2;
/// A town further than this from the middle of the others is in the wrong place (metres).
const TOWN_SPREAD_M: f64 = 100_000.0;
/// The radius within which a site snaps to a road without a route code (as in db::observations).
const ROAD_SNAP_M: f64 = crate::domain::site::REPEAT_VISIT_RADIUS_M;

pub struct TownRow {
    pub number: u64,
    pub admin_code: String,
    pub name: String,
    pub wkb: Vec<u8>,
}

pub struct RoadRow {
    pub number: u64,
    pub route_code: Option<String>,
    pub admin_code: String,
    pub source_id: Option<String>,
    pub name: Option<String>,
    pub start_m: Option<f64>,
    pub end_m: Option<f64>,
    pub wkb: Vec<u8>,
}

/// One import at a time: two imports of the same roads would each compare against what the other is
/// about to change.
pub async fn lock_imports(tx: &mut Tx<'_>) -> sqlx::Result<()> {
    sqlx::query!("select pg_advisory_xact_lock(hashtext('roadledger.place_import'))").execute(&mut **tx).await?;
    Ok(())
}

pub async fn create_stage(tx: &mut Tx<'_>, kind: ImportKind) -> sqlx::Result<()> {
    let sql = match kind {
        ImportKind::Towns => {
            "create temp table stage_town (feature_no bigint not null, admin_code text not null, name text not null,
                 geom geometry not null) on commit drop"
        }
        _ => {
            "create temp table stage_road (feature_no bigint not null, route_code text, admin_code text not null,
                 source_id text, name text, start_m float8, end_m float8, geom geometry not null) on commit drop"
        }
    };
    sqlx::query(sql).execute(&mut **tx).await?;
    Ok(())
}

pub async fn stage_towns(tx: &mut Tx<'_>, rows: &[TownRow], srid: u32) -> sqlx::Result<()> {
    sqlx::query(
        "insert into stage_town (feature_no, admin_code, name, geom)
         select u.n, u.code, u.name, st_force2d(st_transform(st_setsrid(st_geomfromwkb(u.wkb), $5), 4326))
         from unnest($1::int8[], $2::text[], $3::text[], $4::bytea[]) as u(n, code, name, wkb)",
    )
    .bind(rows.iter().map(|r| r.number as i64).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.admin_code.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.wkb.as_slice()).collect::<Vec<_>>())
    .bind(srid as i32)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn stage_roads(tx: &mut Tx<'_>, rows: &[RoadRow], srid: u32) -> sqlx::Result<()> {
    sqlx::query(
        "insert into stage_road (feature_no, route_code, admin_code, source_id, name, start_m, end_m, geom)
         select u.n, u.route_code, u.admin_code, u.source_id, u.name, u.start_m, u.end_m,
             st_force2d(st_transform(st_setsrid(st_geomfromwkb(u.wkb), $9), 4326))
         from unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::float8[], $7::float8[], $8::bytea[])
             as u(n, route_code, admin_code, source_id, name, start_m, end_m, wkb)",
    )
    .bind(rows.iter().map(|r| r.number as i64).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.route_code.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.admin_code.as_str()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.source_id.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.name.as_deref()).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.start_m).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.end_m).collect::<Vec<_>>())
    .bind(rows.iter().map(|r| r.wkb.as_slice()).collect::<Vec<_>>())
    .bind(srid as i32)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn problem(feature: Option<i64>, key: impl Into<String>, text: String) -> Problem {
    Problem { feature: feature.map(|f| f as u64), key: Some(key.into()), problem: text, attributes: None }
}

/// Checks the staged towns: repairs invalid boundaries where that keeps an area, refuses empty ones, those
/// outside China or far from the others, and duplicate codes; warns about overlaps.
pub async fn check_towns(tx: &mut Tx<'_>, county: Option<&str>, report: &mut ImportReport) -> sqlx::Result<()> {
    // Invalid boundaries (self-intersections, bow-ties, rings touching) are made valid, keeping their
    // polygons; one that collapses to lines or points has no area left to keep and is refused.
    let invalid: Vec<(i64, String, String)> = sqlx::query_as(
        "select feature_no, admin_code, st_isvalidreason(geom) from stage_town where not st_isvalid(geom) order by 1",
    )
    .fetch_all(&mut **tx)
    .await?;
    sqlx::query(
        "update stage_town set geom = case when st_isvalid(geom) then st_multi(geom)
             else st_multi(st_collectionextract(st_makevalid(geom), 3)) end",
    )
    .execute(&mut **tx)
    .await?;
    let collapsed: Vec<i64> =
        sqlx::query_scalar("select feature_no from stage_town where st_isempty(geom)").fetch_all(&mut **tx).await?;
    for (feature, code, reason) in invalid {
        if collapsed.contains(&feature) {
            report.problem(problem(
                Some(feature),
                code,
                format!("the boundary is invalid ({reason}) and has no area once repaired"),
            ));
        } else {
            report.repaired.push(Repair {
                feature: feature as u64,
                key: code,
                repair: format!("invalid boundary made valid ({reason})"),
            });
        }
    }

    let outside: Vec<(i64, String, f64, f64)> = sqlx::query_as(&format!(
        "select feature_no, admin_code, st_x(c), st_y(c) from (
             select feature_no, admin_code, st_centroid(st_envelope(geom)) as c, geom from stage_town
             where not st_isempty(geom)) s
         where not st_intersects(geom, {CHINA}) order by 1"
    ))
    .fetch_all(&mut **tx)
    .await?;
    for (feature, code, lon, lat) in outside {
        report.problem(problem(
            Some(feature),
            code,
            format!("lies outside China (around {lon:.4}, {lat:.4}): is the coordinate system right?"),
        ));
    }

    // A town far from the middle of the others is a coordinate mistake (a wrong zone, swapped axes).
    let far: Vec<(i64, String, f64)> = sqlx::query_as(
        "with c as (select feature_no, admin_code, st_pointonsurface(geom) as p from stage_town where not st_isempty(geom)),
         mid as (select st_setsrid(st_point(percentile_cont(0.5) within group (order by st_x(p)),
                                            percentile_cont(0.5) within group (order by st_y(p))), 4326) as m,
                        count(*) as n from c)
         select c.feature_no, c.admin_code, st_distance(c.p::geography, mid.m::geography) from c, mid
         where mid.n >= 3 and st_distance(c.p::geography, mid.m::geography) > $1 order by 1",
    )
    .bind(TOWN_SPREAD_M)
    .fetch_all(&mut **tx)
    .await?;
    for (feature, code, distance) in far {
        report.problem(problem(
            Some(feature),
            code,
            format!(
                "lies {:.0} km from the middle of the other towns: check its coordinates and the coordinate system",
                distance / 1000.0
            ),
        ));
    }

    duplicates(
        tx,
        "select admin_code, array_agg(feature_no order by feature_no) from stage_town group by 1 having count(*) > 1",
        "admin code",
        report,
    )
    .await?;

    if county.is_none() {
        let counties: Vec<(String, i64)> =
            sqlx::query_as("select left(admin_code, 6), count(*) from stage_town group by 1 order by 2 desc, 1")
                .fetch_all(&mut **tx)
                .await?;
        if counties.len() > 1 {
            let list: Vec<String> = counties.iter().map(|(c, n)| format!("{c} ({n})")).collect();
            report.warnings.push(format!("towns of {} counties: {}", counties.len(), list.join(", ")));
        }
    }

    let overlaps: Vec<(String, String, f64)> = sqlx::query_as(
        "select a.admin_code, b.admin_code,
             st_area(st_intersection(a.geom, b.geom)) / least(st_area(a.geom), st_area(b.geom))
         from stage_town a join stage_town b on a.feature_no < b.feature_no and a.geom && b.geom
             and st_intersects(a.geom, b.geom)
         where not st_isempty(a.geom) and not st_isempty(b.geom)
             and st_area(st_intersection(a.geom, b.geom)) > 0.01 * least(st_area(a.geom), st_area(b.geom))
         order by 1, 2 limit 20",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (a, b, share) in overlaps {
        report.warnings.push(format!(
            "towns {a} and {b} overlap ({:.0} % of the smaller): a site there goes to the town with the lower id",
            share * 100.0
        ));
    }
    Ok(())
}

async fn duplicates(tx: &mut Tx<'_>, sql: &str, what: &str, report: &mut ImportReport) -> sqlx::Result<()> {
    let rows: Vec<(String, Vec<i64>)> = sqlx::query_as(sql).fetch_all(&mut **tx).await?;
    for (key, features) in rows {
        let list: Vec<String> = features.iter().take(10).map(i64::to_string).collect();
        report.problem(problem(
            features.first().copied(),
            key.clone(),
            format!("{what} {key} appears {} times (features {})", features.len(), list.join(", ")),
        ));
    }
    Ok(())
}

/// Checks the staged roads: lines that are no lines, outside China or far from their county's towns,
/// duplicate source ids, and routes whose parts give stakes only in part.
pub async fn check_roads(tx: &mut Tx<'_>, report: &mut ImportReport) -> sqlx::Result<()> {
    sqlx::query("update stage_road set geom = st_multi(st_removerepeatedpoints(geom))").execute(&mut **tx).await?;
    let invalid: Vec<(i64, Option<String>, String)> = sqlx::query_as(
        "select feature_no, coalesce(route_code, source_id), st_isvalidreason(geom) from stage_road
         where st_isempty(geom) or not st_isvalid(geom) order by 1",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (feature, key, reason) in invalid {
        report.problem(problem(
            Some(feature),
            key.unwrap_or_default(),
            format!("the line is not a line ({reason}): it needs two distinct points"),
        ));
    }

    let outside: Vec<(i64, Option<String>, f64, f64)> = sqlx::query_as(&format!(
        "select feature_no, coalesce(route_code, source_id), st_x(st_startpoint(st_geometryn(geom, 1))),
             st_y(st_startpoint(st_geometryn(geom, 1)))
         from stage_road where not st_isempty(geom) and not st_intersects(geom, {CHINA}) order by 1 limit 1000"
    ))
    .fetch_all(&mut **tx)
    .await?;
    for (feature, key, lon, lat) in outside {
        report.problem(problem(
            Some(feature),
            key.unwrap_or_default(),
            format!("lies outside China (starts at {lon:.4}, {lat:.4}): is the coordinate system right?"),
        ));
    }

    // Far outside the county: compared with its towns' extent, when the county has towns.
    let far: Vec<(i64, Option<String>, String, f64)> = sqlx::query_as(
        "with extent as (select left(admin_code, 6) as county, st_setsrid(st_extent(boundary)::geometry, 4326) as e
                         from town group by 1)
         select s.feature_no, coalesce(s.route_code, s.source_id), s.admin_code,
             st_distance(s.geom::geography, x.e::geography)
         from stage_road s join extent x on x.county = s.admin_code
         where not st_isempty(s.geom) and not st_intersects(s.geom, st_expand(x.e, $1))
         order by 1 limit 1000",
    )
    .bind(COUNTY_MARGIN_DEG)
    .fetch_all(&mut **tx)
    .await?;
    for (feature, key, county, distance) in far {
        report.problem(problem(
            Some(feature),
            key.unwrap_or_default(),
            format!(
                "lies {:.0} km outside county {county}'s towns: check the coordinates, the coordinate system or the county",
                distance / 1000.0
            ),
        ));
    }

    duplicates(
        tx,
        "select admin_code || ' ' || source_id, array_agg(feature_no order by feature_no) from stage_road
         where route_code is null group by admin_code, source_id having count(*) > 1 order by 2 limit 1000",
        "source id",
        report,
    )
    .await?;

    let partial: Vec<(String, Vec<i64>)> = sqlx::query_as(
        "select route_code || ' (' || admin_code || ')', array_agg(feature_no order by feature_no)
             filter (where start_m is null)
         from stage_road where route_code is not null group by route_code, admin_code
         having bool_or(start_m is not null) and bool_or(start_m is null) order by 1 limit 1000",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (route, features) in partial {
        let list: Vec<String> = features.iter().take(10).map(i64::to_string).collect();
        report.problem(problem(
            features.first().copied(),
            route.clone(),
            format!(
                "{route}: features {} have no start stake while the route's other parts have one; give every part its stake, or none",
                list.join(", ")
            ),
        ));
    }

    // Stakes that disagree with the drawn length by far are usually in the other unit.
    let mismatched: Vec<(i64, String, f64, f64)> = sqlx::query_as(
        "select feature_no, route_code, abs(end_m - start_m), st_length(geom::geography) from stage_road
         where route_code is not null and start_m is not null and end_m is not null and st_numgeometries(geom) = 1
           and abs(abs(end_m - start_m) - st_length(geom::geography)) > greatest(100, 0.2 * st_length(geom::geography))
         order by 1 limit 20",
    )
    .fetch_all(&mut **tx)
    .await?;
    for (feature, route, stakes, drawn) in mismatched {
        let hint = if stakes > 0.0 && drawn / stakes > 500.0 {
            " (are the stakes in kilometres? use --stake-unit km)"
        } else {
            ""
        };
        report.warnings.push(format!(
            "{route}, feature {feature}: the stakes span {stakes:.0} m, the line is {drawn:.0} m long{hint}"
        ));
    }
    Ok(())
}

/// Records the import (its report is filled in by [`finish_import`]); rolled back with a dry run.
pub async fn begin_import(
    tx: &mut Tx<'_>,
    report: &ImportReport,
    county: Option<&str>,
    importer: &Importer,
) -> sqlx::Result<i32> {
    let sha256 = hex::decode(&report.file.sha256).unwrap_or_default();
    sqlx::query_scalar!(
        "insert into place_import (kind, file_name, file_sha256, format, crs, county_code, imported_by, user_id, report)
         values ($1, $2, $3, $4, $5, $6, $7, $8, '{}') returning id",
        report.kind.as_str(),
        report.file.name.chars().take(255).collect::<String>(),
        sha256,
        report.file.format,
        report.file.crs,
        county,
        importer.name,
        importer.user_id
    )
    .fetch_one(&mut **tx)
    .await
}

pub async fn finish_import(tx: &mut Tx<'_>, import_id: i32, report: &ImportReport) -> sqlx::Result<()> {
    sqlx::query!("update place_import set report = $2 where id = $1", import_id, sqlx::types::Json(report) as _)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Inserts new towns, updates changed ones (keeping what they were in `town_history`), counts the rest.
pub async fn apply_towns(tx: &mut Tx<'_>, import_id: i32, report: &mut ImportReport) -> sqlx::Result<()> {
    let counts: (i64, i64, i64, i64) = sqlx::query_as(
        "with s as (select admin_code, name, geom from stage_town),
         changed as (
             select t.id, s.name, s.geom from town t join s on s.admin_code = t.admin_code
             where t.name <> s.name or st_asbinary(t.boundary) <> st_asbinary(s.geom)),
         history as (
             insert into town_history (import_id, town_id, admin_code, name, boundary)
             select $1, t.id, t.admin_code, t.name, t.boundary from town t join changed c on c.id = t.id),
         updated as (
             update town t set name = c.name, boundary = c.geom, import_id = $1 from changed c where t.id = c.id
             returning t.id),
         inserted as (
             insert into town (admin_code, name, boundary, import_id)
             select s.admin_code, s.name, s.geom, $1 from s
             where not exists (select 1 from town t where t.admin_code = s.admin_code)
             returning id)
         select (select count(*) from inserted), (select count(*) from updated),
             (select count(*) from s) - (select count(*) from inserted) - (select count(*) from updated),
             (select count(*) from town t where left(t.admin_code, 6) in (select left(admin_code, 6) from s)
                 and not exists (select 1 from s where s.admin_code = t.admin_code))",
    )
    .bind(import_id)
    .fetch_one(&mut **tx)
    .await?;
    report.set_counts(counts);
    Ok(())
}

/// Builds one road per key from the staged features (a route drawn in several parts is one road), measures
/// each part from its own stakes, then inserts new roads and updates changed ones (keeping what they were).
///
/// OpenStreetMap (`from_osm`) never replaces a coded road that came from another source: an official layer
/// has stakes and a survey behind it, OSM has neither. Such roads are kept and counted in a warning.
pub async fn apply_roads(
    tx: &mut Tx<'_>,
    import_id: i32,
    from_osm: bool,
    report: &mut ImportReport,
) -> sqlx::Result<()> {
    // Parts of a multi-part feature are measured one after another from its start stake; a single part with
    // both stakes is spread between them (calibrate_line in migrations/0005). Only coded routes are grouped and
    // measured: an uncoded road is one feature (check_roads refuses a repeated source id) and has no stakes,
    // so it is taken as staged. Most roads of an OSM extract are uncoded, and carrying their geometries
    // through the window's and the grouping's sorts took 25 of 33 s for 1.5 million ways (docs/benchmarks.md).
    sqlx::query(
        "create temp table next_road on commit drop as
         with parts as (
             select s.feature_no, s.route_code, s.admin_code, s.name, s.start_m, s.end_m, d.path, d.geom,
                 count(*) over (partition by s.feature_no) as n_parts,
                 coalesce(sum(case when s.start_m is not null then st_length(d.geom::geography) end)
                     over (partition by s.feature_no order by d.path
                           rows between unbounded preceding and 1 preceding), 0) as before_m
             from stage_road s, st_dump(s.geom) d where s.route_code is not null),
         measured as (
             select *, case when start_m is not null
                 then calibrate_line(geom, start_m + before_m, case when n_parts = 1 then end_m end) end as geom_m
             from parts)
         select route_code, admin_code, null::text as source_id, route_code as key,
             (array_agg(name order by feature_no) filter (where name is not null))[1] as name,
             st_multi(st_collect(geom order by feature_no, path)) as geom,
             case when bool_and(geom_m is not null)
                 then st_multi(st_collect(geom_m order by feature_no, path)) end as geom_m
         from measured
         group by admin_code, route_code
         union all
         select null, admin_code, source_id, '~' || source_id, name, geom, null from stage_road
         where route_code is null",
    )
    .execute(&mut **tx)
    .await?;
    sqlx::query("create temp table touched_road (id integer primary key) on commit drop").execute(&mut **tx).await?;

    let kept_official: i64 = sqlx::query_scalar(
        "select count(*) from road r join next_road n
             on n.admin_code = r.admin_code and n.key = coalesce(r.route_code, '~' || r.source_id)
         where $1 and r.route_code is not null
           and (select i.format from place_import i where i.id = r.import_id) is distinct from 'osm_pbf'",
    )
    .bind(from_osm)
    .fetch_one(&mut **tx)
    .await?;
    if kept_official > 0 {
        report.warnings.push(format!(
            "{kept_official} coded roads come from an official layer and were kept: OpenStreetMap does not replace them"
        ));
    }
    let counts: (i64, i64, i64, i64) = sqlx::query_as(
        "with n as (select * from next_road),
         changed as (
             select r.id, n.name, n.geom, n.geom_m from road r
             join n on n.admin_code = r.admin_code and n.key = coalesce(r.route_code, '~' || r.source_id)
             where not ($2 and r.route_code is not null
                        and (select i.format from place_import i where i.id = r.import_id) is distinct from 'osm_pbf')
               and (r.name is distinct from n.name or st_asbinary(r.geom) <> st_asbinary(n.geom)
                or (n.geom_m is not null and st_asbinary(r.geom_m) is distinct from st_asbinary(n.geom_m)))),
         history as (
             insert into road_history (import_id, road_id, route_code, source_id, admin_code, name, geom, geom_m)
             select $1, r.id, r.route_code, r.source_id, r.admin_code, r.name, r.geom, r.geom_m
             from road r join changed c on c.id = r.id),
         updated as (
             update road r set name = c.name, geom = c.geom, geom_m = c.geom_m, import_id = $1
             from changed c where r.id = c.id returning r.id),
         inserted as (
             insert into road (route_code, admin_code, source_id, name, geom, geom_m, import_id)
             select n.route_code, n.admin_code, n.source_id, n.name, n.geom, n.geom_m, $1 from n
             where not exists (select 1 from road r where r.admin_code = n.admin_code
                                   and coalesce(r.route_code, '~' || r.source_id) = n.key)
             returning id),
         touched as (insert into touched_road select id from updated union select id from inserted)
         select (select count(*) from inserted), (select count(*) from updated),
             (select count(*) from n) - (select count(*) from inserted) - (select count(*) from updated),
             (select count(*) from road r where r.admin_code in (select admin_code from n)
                 and not exists (select 1 from n where n.admin_code = r.admin_code
                                     and n.key = coalesce(r.route_code, '~' || r.source_id)))",
    )
    .bind(import_id)
    .bind(from_osm)
    .fetch_one(&mut **tx)
    .await?;
    report.set_counts(counts);
    Ok(())
}

/// A chainage break as a table gives it: the route, its county, and the stakes behind and ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakRow {
    pub line: u64,
    pub route_code: String,
    pub admin_code: String,
    pub stake_back_m: f64,
    pub stake_ahead_m: f64,
}

/// Replaces the chainage breaks of every route the table names. `Ok(Err(problems))` when a route is unknown
/// or has no stakes.
pub async fn apply_breaks(tx: &mut Tx<'_>, rows: &[BreakRow]) -> sqlx::Result<Result<u64, Vec<Problem>>> {
    let mut by_road: std::collections::BTreeMap<i32, Vec<(f64, f64)>> = Default::default();
    let mut problems = Vec::new();
    // The coded roads with stakes that the table names, in one query: route → id.
    let route_codes: Vec<&str> = rows.iter().map(|r| r.route_code.as_str()).collect();
    let admin_codes: Vec<&str> = rows.iter().map(|r| r.admin_code.as_str()).collect();
    let roads: std::collections::HashMap<(String, String), i32> = sqlx::query!(
        r#"select r.route_code as "route_code!", r.admin_code, r.id from road r
         join unnest($1::text[], $2::text[]) as u(route_code, admin_code)
             on r.route_code = u.route_code and r.admin_code = u.admin_code
         where r.geom_m is not null"#,
        &route_codes as &[&str],
        &admin_codes as &[&str]
    )
    .fetch_all(&mut **tx)
    .await?
    .into_iter()
    .map(|r| ((r.route_code, r.admin_code), r.id))
    .collect();
    for row in rows {
        match roads.get(&(row.route_code.clone(), row.admin_code.clone())) {
            Some(id) => by_road.entry(*id).or_default().push((row.stake_back_m, row.stake_ahead_m)),
            None => problems.push(Problem {
                feature: Some(row.line),
                key: Some(row.route_code.clone()),
                problem: format!("no road {} in county {} to put a chainage break on", row.route_code, row.admin_code),
                attributes: None,
            }),
        }
    }
    if !problems.is_empty() {
        return Ok(Err(problems));
    }
    let mut count = 0;
    for (road_id, stakes) in by_road {
        let breaks = crate::domain::places::breaks_from_stakes(&stakes);
        sqlx::query!("delete from road_chainage_break where road_id = $1", road_id).execute(&mut **tx).await?;
        sqlx::query!(
            "insert into road_chainage_break (road_id, measure_m, stake_back_m, stake_ahead_m)
             select $1, u.m, u.b, u.a from unnest($2::float8[], $3::float8[], $4::float8[]) as u(m, b, a)",
            road_id,
            &breaks.iter().map(|b| b.measure_m).collect::<Vec<_>>(),
            &breaks.iter().map(|b| b.stake_back_m).collect::<Vec<_>>(),
            &breaks.iter().map(|b| b.stake_ahead_m).collect::<Vec<_>>()
        )
        .execute(&mut **tx)
        .await?;
        sqlx::query("insert into touched_road values ($1) on conflict do nothing")
            .bind(road_id)
            .execute(&mut **tx)
            .await?;
        count += breaks.len() as u64;
    }
    Ok(Ok(count))
}

/// Re-derives, for open sites, what the import may have changed: after roads, the road and stakes of sites on
/// a road it touched and of sites that had none; after towns, the town of every open site. Each change is
/// written as a site event (`road_changed`, `town_changed`) and listed in the report. Sites never move.
pub async fn rederive_sites(
    tx: &mut Tx<'_>,
    kind: ImportKind,
    import_id: i32,
    county: Option<&str>,
    actor: &str,
    report: &mut ImportReport,
) -> sqlx::Result<()> {
    match kind {
        ImportKind::Towns => rederive_towns(tx, import_id, actor, report).await,
        ImportKind::Roads | ImportKind::ChainageBreaks => rederive_roads(tx, import_id, county, actor, report).await,
        ImportKind::Organisations => Ok(()),
    }
}

/// A site whose town changed: id, code, the old town's name, the new one's.
type TownChange = (Uuid, Option<String>, Option<String>, Option<String>);

async fn rederive_towns(tx: &mut Tx<'_>, import_id: i32, actor: &str, report: &mut ImportReport) -> sqlx::Result<()> {
    let changes: Vec<TownChange> = sqlx::query_as(&format!(
        "with d as (
             select s.id, s.code, s.town_id as old_id,
                 (select t.id from town t
                  where st_intersects(t.boundary,
                      case when geometrytype(s.geom) = 'LINESTRING' then st_lineinterpolatepoint(s.geom, 0.5) else s.geom end)
                  order by t.id limit 1) as new_id
             from site s where {OPEN_SITE}),
         moved as (
             update site s set town_id = d.new_id, version = version + 1, updated_at = now()
             from d where s.id = d.id and d.old_id is distinct from d.new_id
             returning s.id, d.code, d.old_id, d.new_id),
         events as (
             insert into site_event (site_id, actor, kind, data)
             select m.id, $1, 'town_changed', jsonb_build_object('import_id', $2::int, 'from', o.admin_code, 'to', n.admin_code)
             from moved m left join town o on o.id = m.old_id left join town n on n.id = m.new_id)
         select m.id, m.code, o.name, n.name from moved m
         left join town o on o.id = m.old_id left join town n on n.id = m.new_id order by m.code"
    ))
    .bind(actor)
    .bind(import_id)
    .fetch_all(&mut **tx)
    .await?;
    for (site_id, code, before, after) in changes {
        report.sites_changed.push(SiteChange {
            site_id,
            code,
            field: "town",
            before: before.unwrap_or_default(),
            after: after.unwrap_or_default(),
        });
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct RoadCandidate {
    id: Uuid,
    code: Option<String>,
    road_id: Option<i32>,
    route_code: Option<String>,
    stake_m: Option<f64>,
    stake_text: Option<String>,
    end_stake_m: Option<f64>,
    new_road_id: Option<i32>,
    new_route_code: Option<String>,
    new_stake_m: Option<f64>,
    new_end_stake_m: Option<f64>,
    old_road: Option<String>,
    new_road: Option<String>,
}

async fn rederive_roads(
    tx: &mut Tx<'_>,
    import_id: i32,
    county: Option<&str>,
    actor: &str,
    report: &mut ImportReport,
) -> sqlx::Result<()> {
    // The same rule as a new observation (db::observations): the site's route if it has one, in its county,
    // else the nearest road within the snapping radius.
    let candidates: Vec<RoadCandidate> = sqlx::query_as(&format!(
        "select s.id, s.code, s.road_id, s.route_code, s.stake_m, s.stake_text, s.end_stake_m,
             m.road_id as new_road_id, m.route_code as new_route_code, m.stake_m as new_stake_m,
             m.end_stake_m as new_end_stake_m,
             (select coalesce(r.route_code, r.name, r.source_id) from road r where r.id = s.road_id) as old_road,
             (select coalesce(r.route_code, r.name, r.source_id) from road r where r.id = m.road_id) as new_road
         from site s
         left join lateral road_match(s.geom, s.route_code,
             coalesce((select r.admin_code from road r where r.id = s.road_id),
                      (select left(t.admin_code, 6) from town t where t.id = s.town_id),
                      $2), $1) m on true
         where {OPEN_SITE} and (s.road_id in (select id from touched_road) or s.road_id is null)
         order by s.code"
    ))
    .bind(ROAD_SNAP_M)
    .bind(county)
    .fetch_all(&mut **tx)
    .await?;

    let stake = |m: Option<f64>| m.and_then(Stake::derived);
    let mut ids = Vec::new();
    let mut road_ids = Vec::new();
    let mut route_codes = Vec::new();
    let mut stakes_m = Vec::new();
    let mut stake_texts = Vec::new();
    let mut end_stakes_m = Vec::new();
    let mut end_stake_texts = Vec::new();
    let mut data = Vec::new();
    for c in candidates {
        let new_stake = stake(c.new_stake_m);
        let new_end = stake(c.new_end_stake_m);
        let same_road = c.road_id == c.new_road_id;
        let same_stake =
            c.stake_m == new_stake.as_ref().map(|s| s.metres) && c.end_stake_m == new_end.as_ref().map(|s| s.metres);
        if same_road && same_stake {
            continue;
        }
        let new_stake_text = new_stake.as_ref().map(Stake::to_string);
        let before = format!("{} {}", c.old_road.as_deref().unwrap_or("—"), c.stake_text.as_deref().unwrap_or(""))
            .trim()
            .to_owned();
        let after = format!("{} {}", c.new_road.as_deref().unwrap_or("—"), new_stake_text.as_deref().unwrap_or(""))
            .trim()
            .to_owned();
        report.sites_changed.push(SiteChange {
            site_id: c.id,
            code: c.code,
            field: "road",
            before: before.clone(),
            after: after.clone(),
        });
        ids.push(c.id);
        road_ids.push(c.new_road_id);
        route_codes.push(c.new_route_code.or(c.route_code));
        stakes_m.push(new_stake.as_ref().map(|s| s.metres));
        stake_texts.push(new_stake_text);
        end_stakes_m.push(new_end.as_ref().map(|s| s.metres));
        end_stake_texts.push(new_end.as_ref().map(Stake::to_string));
        data.push(serde_json::json!({"import_id": import_id, "from": before, "to": after}));
    }
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "with u as (select * from unnest($1::uuid[], $2::int[], $3::text[], $4::float8[], $5::text[], $6::float8[],
                        $7::text[], $8::jsonb[]) as u(id, road_id, route_code, stake_m, stake_text, end_stake_m,
                        end_stake_text, data)),
         moved as (
             update site s set road_id = u.road_id, route_code = u.route_code, stake_m = u.stake_m,
                 stake_text = u.stake_text, end_stake_m = u.end_stake_m, end_stake_text = u.end_stake_text,
                 version = version + 1, updated_at = now()
             from u where s.id = u.id returning s.id)
         insert into site_event (site_id, actor, kind, data) select u.id, $9, 'road_changed', u.data from u",
    )
    .bind(&ids)
    .bind(&road_ids)
    .bind(&route_codes)
    .bind(&stakes_m)
    .bind(&stake_texts)
    .bind(&end_stakes_m)
    .bind(&end_stake_texts)
    .bind(data.iter().map(sqlx::types::Json).collect::<Vec<_>>())
    .bind(actor)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The county whose towns are loaded, when there is exactly one.
pub async fn only_county(pool: &sqlx::PgPool) -> sqlx::Result<Option<String>> {
    let counties = sqlx::query_scalar!(r#"select distinct left(admin_code, 6) as "county!" from town limit 2"#)
        .fetch_all(pool)
        .await?;
    Ok(if counties.len() == 1 { counties.into_iter().next() } else { None })
}

/// The county of the staged roads (the first), for sites that say none.
pub async fn staged_county(tx: &mut Tx<'_>) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select min(admin_code) from stage_road").fetch_one(&mut **tx).await
}

/// A road's chainage breaks, in order.
pub async fn chainage_breaks(conn: &mut PgConnection, road_id: i32) -> sqlx::Result<Vec<ChainageBreak>> {
    sqlx::query_as!(
        ChainageBreak,
        "select measure_m, stake_back_m, stake_ahead_m from road_chainage_break where road_id = $1 order by measure_m",
        road_id
    )
    .fetch_all(conn)
    .await
}

/// The import history as JSON text: newest first, with each report's counts.
pub async fn imports_json(pool: &sqlx::PgPool, limit: i64) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        r#"select coalesce(json_agg(json_build_object(
             'id', i.id, 'kind', i.kind, 'file_name', i.file_name, 'file_sha256', encode(i.file_sha256, 'hex'),
             'format', i.format, 'crs', i.crs, 'county_code', i.county_code, 'imported_by', i.imported_by,
             'imported_at', i.imported_at, 'features_read', i.report -> 'features_read',
             'inserted', i.report -> 'inserted', 'updated', i.report -> 'updated',
             'unchanged', i.report -> 'unchanged',
             'sites_changed', coalesce(jsonb_array_length(i.report -> 'sites_changed'), 0))
             order by i.id desc), '[]')::text as "json!"
         from (select * from place_import order by id desc limit $1) i"#,
        limit
    )
    .fetch_one(pool)
    .await
}

/// Every town with its count of sites (all and open), as JSON text, by admin code.
pub async fn towns_json(pool: &sqlx::PgPool) -> sqlx::Result<String> {
    sqlx::query_scalar(&format!(
        "select coalesce(json_agg(json_build_object(
             'id', t.id, 'admin_code', t.admin_code, 'name', t.name, 'import_id', t.import_id,
             'area_km2', round((st_area(t.boundary::geography) / 1e6)::numeric, 2),
             'sites', coalesce(c.sites, 0), 'open_sites', coalesce(c.open_sites, 0)) order by t.admin_code), '[]')::text
         from town t
         left join (select s.town_id, count(*) as sites, count(*) filter (where {OPEN_SITE}) as open_sites
                    from site s group by 1) c on c.town_id = t.id"
    ))
    .fetch_one(pool)
    .await
}

/// A page of roads with their length, stake range and count of sites, as JSON text: coded routes first by
/// class and code, then named roads. `q` filters on route code or name.
pub async fn roads_json(pool: &sqlx::PgPool, q: Option<&str>, limit: i64, offset: i64) -> sqlx::Result<String> {
    sqlx::query_scalar(&format!(
        "with r as (
             select * from road
             where $1::text is null or route_code ilike $1 || '%' or name like '%' || $1 || '%'),
         page as (select * from r order by route_code is null, class, route_code, name, id limit $2 offset $3)
         select json_build_object('total', (select count(*) from r), 'roads', coalesce(json_agg(json_build_object(
             'id', p.id, 'route_code', p.route_code, 'name', p.name, 'admin_code', p.admin_code,
             'source_id', p.source_id, 'import_id', p.import_id,
             'length_m', round(st_length(p.geom::geography)),
             'start_stake_m', (select min(st_m(d.geom)) from st_dumppoints(p.geom_m) d),
             'end_stake_m', (select max(st_m(d.geom)) from st_dumppoints(p.geom_m) d),
             'sites', (select count(*) from site s where s.road_id = p.id),
             'open_sites', (select count(*) from site s where s.road_id = p.id and {OPEN_SITE}))
             order by p.route_code is null, p.class, p.route_code, p.name, p.id), '[]'))::text
         from page p"
    ))
    .bind(q)
    .bind(limit)
    .bind(offset)
    .fetch_one(pool)
    .await
}

/// Where a point is on the road network: the nearest road within `radius_m`.
#[derive(Debug)]
pub struct Located {
    pub road_id: i32,
    pub route_code: Option<String>,
    pub name: Option<String>,
    pub admin_code: String,
    /// Null on a road without stakes.
    pub stake_m: Option<f64>,
    pub offset_m: f64,
    /// Which side of the road, looking along its drawn direction (the direction of increasing stakes unless
    /// the stakes run against the drawing); null on the line.
    pub side: Option<String>,
}

pub async fn locate_point(pool: &sqlx::PgPool, lon: f64, lat: f64, radius_m: f64) -> sqlx::Result<Option<Located>> {
    sqlx::query_as!(
        Located,
        r#"with p as (select st_setsrid(st_point($1, $2), 4326) as p),
         r as (select road.id, road.route_code, road.name, road.admin_code, road.geom from road, p
               where st_dwithin(road.geom::geography, p.p::geography, $3)
               order by road.geom::geography <-> p.p::geography limit 1),
         part as (select d.geom, st_linelocatepoint(d.geom, p.p) as f from r, p, st_dump(r.geom) d
                  order by d.geom <-> p.p limit 1),
         ab as (select st_lineinterpolatepoint(geom, greatest(f - 0.0005, 0)) as a,
                       st_lineinterpolatepoint(geom, least(f + 0.0005, 1)) as b from part)
         select r.id as "road_id!", r.route_code, r.name, r.admin_code as "admin_code!",
             road_stake_at(r.id, p.p) as stake_m,
             st_distance(r.geom::geography, p.p::geography) as "offset_m!",
             case when st_distance(r.geom::geography, p.p::geography) < 0.5 then null
                  when (st_x(ab.b) - st_x(ab.a)) * (st_y(p.p) - st_y(ab.a))
                     - (st_y(ab.b) - st_y(ab.a)) * (st_x(p.p) - st_x(ab.a)) > 0 then 'left' else 'right' end as side
         from r, p, ab"#,
        lon,
        lat,
        radius_m
    )
    .fetch_optional(pool)
    .await
}

/// A coded road by route and county: id, name, and the measure range of its stakes (null without stakes).
pub async fn road_by_route(
    pool: &sqlx::PgPool,
    route_code: &str,
    county: &str,
) -> sqlx::Result<Option<(i32, Option<String>, Option<f64>, Option<f64>)>> {
    let row = sqlx::query!(
        "select id, name, (select min(st_m(d.geom)) from st_dumppoints(geom_m) d) as start_m,
             (select max(st_m(d.geom)) from st_dumppoints(geom_m) d) as end_m
         from road where route_code = $1 and admin_code = $2",
        route_code,
        county
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.id, r.name, r.start_m, r.end_m)))
}

/// The point of a road at a continuous-chainage measure, as (lon, lat); `None` where the road has no such
/// measure (a gap between parts, beyond an end).
pub async fn point_at_measure(pool: &sqlx::PgPool, road_id: i32, measure_m: f64) -> sqlx::Result<Option<(f64, f64)>> {
    let row = sqlx::query!(
        r#"select st_x(p) as "lon!", st_y(p) as "lat!" from (
             select st_geometryn(st_locatealong(geom_m, $2), 1) as p from road where id = $1) x
         where p is not null"#,
        road_id,
        measure_m
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| (r.lon, r.lat)))
}
