//! The SQL of crash records: the roads an import places stakes on, the points at their measures, the import's
//! one transaction (its `crash_import` row and every new crash, `on conflict (source_key) do nothing`), and the
//! reads: recent imports, crashes as GeoJSON (filtered, paged), one crash.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgPool, Postgres, Transaction};

use crate::domain::places::ChainageBreak;

/// A coded road's measure range (null without stakes), for locating stakes.
#[derive(Debug, Clone)]
pub struct RoadExtent {
    pub id: i32,
    pub route_code: String,
    pub admin_code: String,
    pub low_m: Option<f64>,
    pub high_m: Option<f64>,
}

/// How far from a crash placed by its coordinates the nearest road is taken as its road (metres): the radius
/// sites snap to roads with.
const ROAD_SNAP_M: f64 = crate::domain::site::REPEAT_VISIT_RADIUS_M;

/// Every road with one of these route codes, with its measure range.
pub async fn roads_by_routes(pool: &PgPool, route_codes: &[String]) -> sqlx::Result<Vec<RoadExtent>> {
    sqlx::query_as!(
        RoadExtent,
        r#"select id, route_code as "route_code!", admin_code,
             (select min(st_m(d.geom)) from st_dumppoints(geom_m) d) as low_m,
             (select max(st_m(d.geom)) from st_dumppoints(geom_m) d) as high_m
         from road where route_code = any($1) order by id"#,
        route_codes
    )
    .fetch_all(pool)
    .await
}

/// The chainage breaks of these roads, by road, in order.
pub async fn breaks_of(pool: &PgPool, road_ids: &[i32]) -> sqlx::Result<Vec<(i32, ChainageBreak)>> {
    let rows = sqlx::query!(
        "select road_id, measure_m, stake_back_m, stake_ahead_m from road_chainage_break
         where road_id = any($1) order by road_id, measure_m",
        road_ids
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.road_id,
                ChainageBreak { measure_m: r.measure_m, stake_back_m: r.stake_back_m, stake_ahead_m: r.stake_ahead_m },
            )
        })
        .collect())
}

/// The point of each (road, measure), by its index in the input; an index is missing where the road has no
/// such measure (a gap between its parts).
pub async fn points_at_measures(
    pool: &PgPool,
    road_ids: &[i32],
    measures: &[f64],
) -> sqlx::Result<Vec<(i32, f64, f64)>> {
    let rows = sqlx::query!(
        r#"select i as "i!", st_x(p) as "lon!", st_y(p) as "lat!" from (
             select u.i, st_geometryn(st_locatealong(r.geom_m, u.measure), 1) as p
             from unnest($1::int[], $2::float8[]) with ordinality as u(road_id, measure, i)
             join road r on r.id = u.road_id) x
         where p is not null"#,
        road_ids,
        measures
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(|r| ((r.i - 1) as i32, r.lon, r.lat)).collect())
}

/// What the import's `crash_import` row records.
pub struct ImportRecord<'a> {
    pub file_name: &'a str,
    pub file_sha256: &'a [u8],
    pub format: &'a str,
    pub imported_by: &'a str,
}

pub async fn begin_import(tx: &mut Transaction<'_, Postgres>, record: &ImportRecord<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into crash_import (file_name, file_sha256, format, imported_by, rows_read, rows_imported,
             rows_known, rows_refused)
         values ($1, $2, $3, $4, 0, 0, 0, 0) returning id",
        record.file_name,
        record.file_sha256,
        record.format,
        record.imported_by
    )
    .fetch_one(&mut **tx)
    .await
}

/// The counts and report, once the crashes are in.
#[allow(clippy::too_many_arguments)]
pub async fn finish_import(
    tx: &mut Transaction<'_, Postgres>,
    import_id: i64,
    rows_read: i32,
    rows_imported: i32,
    rows_known: i32,
    rows_refused: i32,
    dropped_columns: &[String],
    report: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update crash_import set rows_read = $2, rows_imported = $3, rows_known = $4, rows_refused = $5,
             dropped_columns = $6, report = $7 where id = $1",
        import_id,
        rows_read,
        rows_imported,
        rows_known,
        rows_refused,
        dropped_columns,
        report
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The placed crashes of one import, column by column (one statement per batch).
#[derive(Debug, Default)]
pub struct CrashColumns {
    pub source_key: Vec<String>,
    pub record_no: Vec<Option<String>>,
    pub occurred_at: Vec<DateTime<Utc>>,
    pub lon: Vec<f64>,
    pub lat: Vec<f64>,
    pub located_by: Vec<&'static str>,
    pub source_crs: Vec<&'static str>,
    pub road_id: Vec<Option<i32>>,
    pub route_code: Vec<Option<String>>,
    pub stake_m: Vec<Option<f64>>,
    pub stake_text: Vec<Option<String>>,
    pub deaths: Vec<i16>,
    pub serious_injuries: Vec<i16>,
    pub slight_injuries: Vec<i16>,
    pub crash_type: Vec<Option<&'static str>>,
    /// Vehicle codes joined by commas (PostgreSQL arrays of arrays must be rectangular).
    pub vehicle_types: Vec<String>,
    pub weather: Vec<Option<&'static str>>,
    pub light: Vec<Option<&'static str>>,
    pub road_surface: Vec<Option<&'static str>>,
    pub summary: Vec<String>,
}

/// Inserts the crashes not stored yet (by `source_key`); returns how many were new. The town comes from the
/// boundaries; a crash placed by coordinates with no road of its own gets the nearest road within the sites'
/// snapping radius, and its stake there (`road_match`, as a site does).
pub async fn insert_crashes(tx: &mut Transaction<'_, Postgres>, import_id: i64, c: &CrashColumns) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"with r as (
             select * from unnest($2::text[], $3::text[], $4::timestamptz[], $5::float8[], $6::float8[], $7::text[],
                 $8::text[], $9::int[], $10::text[], $11::float8[], $12::text[], $13::int2[], $14::int2[], $15::int2[],
                 $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[])
             as r(source_key, record_no, occurred_at, lon, lat, located_by, source_crs, road_id, route_code, stake_m,
                  stake_text, deaths, serious, slight, crash_type, vehicles, weather, light, surface, summary)),
         p as (select r.*, st_setsrid(st_point(r.lon, r.lat), 4326) as geom from r),
         ins as (
             insert into crash (source_key, record_no, import_id, occurred_at, geom, located_by, source_crs, road_id,
                 route_code, stake_m, stake_text, town_id, deaths, serious_injuries, slight_injuries, crash_type,
                 vehicle_types, weather, light, road_surface, summary)
             select p.source_key, p.record_no, $1, p.occurred_at, p.geom, p.located_by, p.source_crs,
                 coalesce(p.road_id, m.road_id), case when p.road_id is null then m.route_code else p.route_code end,
                 case when p.road_id is null then m.stake_m else p.stake_m end, p.stake_text,
                 (select t.id from town t where st_intersects(t.boundary, p.geom) order by t.id limit 1),
                 p.deaths, p.serious, p.slight, p.crash_type,
                 coalesce(string_to_array(nullif(p.vehicles, ''), ','), '{}'), p.weather, p.light, p.surface, p.summary
             from p
             left join lateral (select * from road_match(p.geom, null, null, $22) where p.road_id is null) m on true
             -- Rows already stored skip the town and road look-ups; `on conflict` still settles a race with
             -- another import and repeats within the file.
             where not exists (select 1 from crash c where c.source_key = p.source_key)
             on conflict (source_key) do nothing
             returning 1)
         select count(*) as "count!" from ins"#,
        import_id,
        &c.source_key,
        &c.record_no as &[Option<String>],
        &c.occurred_at,
        &c.lon,
        &c.lat,
        &c.located_by as &[&str],
        &c.source_crs as &[&str],
        &c.road_id as &[Option<i32>],
        &c.route_code as &[Option<String>],
        &c.stake_m as &[Option<f64>],
        &c.stake_text as &[Option<String>],
        &c.deaths,
        &c.serious_injuries,
        &c.slight_injuries,
        &c.crash_type as &[Option<&str>],
        &c.vehicle_types,
        &c.weather as &[Option<&str>],
        &c.light as &[Option<&str>],
        &c.road_surface as &[Option<&str>],
        &c.summary,
        ROAD_SNAP_M
    )
    .fetch_one(&mut **tx)
    .await
}

/// The newest imports, as JSON text (without the per-row report, which `report` holds).
pub async fn imports_json(pool: &PgPool, limit: i64) -> sqlx::Result<String> {
    sqlx::query_scalar!(
        r#"select coalesce(json_agg(json_build_object(
             'id', i.id, 'file_name', i.file_name, 'file_sha256', encode(i.file_sha256, 'hex'), 'format', i.format,
             'imported_at', i.imported_at, 'imported_by', i.imported_by, 'rows_read', i.rows_read,
             'rows_imported', i.rows_imported, 'rows_known', i.rows_known, 'rows_refused', i.rows_refused,
             'dropped_columns', i.dropped_columns) order by i.id desc), '[]')::text as "json!"
         from (select * from crash_import order by id desc limit $1) i"#,
        limit
    )
    .fetch_one(pool)
    .await
}

/// Which crashes a list reads.
#[derive(Debug, Clone, Default)]
pub struct CrashFilter {
    /// minlon, minlat, maxlon, maxlat (WGS-84).
    pub bbox: Option<[f64; 4]>,
    /// County-time dates, both included.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub severity: Option<String>,
    pub crash_type: Option<String>,
    pub town_id: Option<i32>,
    /// A town officer's town: only its crashes (0 when the officer's organisation has no town: none).
    pub scope_town_id: Option<i32>,
    /// Keyset: the last crash of the previous page (time, id), newest first.
    pub before: Option<(DateTime<Utc>, i64)>,
    /// One crash by id (`GET /crashes/{id}`).
    pub id: Option<i64>,
}

pub struct CrashFeature {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub feature: String,
}

/// A page of crashes, newest first: `limit` of them, and one more when there is a next page.
pub async fn crashes_page(pool: &PgPool, filter: &CrashFilter, limit: i64) -> sqlx::Result<Vec<CrashFeature>> {
    let bbox = filter.bbox.unwrap_or([0.0; 4]);
    sqlx::query_as!(
        CrashFeature,
        r#"select c.id, c.occurred_at, json_build_object('type', 'Feature', 'id', c.id,
             'geometry', st_asgeojson(c.geom, 7)::json,
             'properties', json_build_object(
                 'id', c.id, 'record_no', c.record_no,
                 'time', to_char(c.occurred_at at time zone 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS"+08:00"'),
                 'severity', c.severity, 'deaths', c.deaths, 'serious_injuries', c.serious_injuries,
                 'slight_injuries', c.slight_injuries, 'crash_type', c.crash_type, 'vehicle_types', c.vehicle_types,
                 'weather', c.weather, 'light', c.light, 'road_surface', c.road_surface, 'road_id', c.road_id,
                 'route_code', c.route_code, 'stake_m', c.stake_m, 'stake', c.stake_text,
                 'located_by', c.located_by, 'town_id', c.town_id, 'town', t.name, 'summary', c.summary,
                 'import_id', c.import_id))::text as "feature!"
         from crash c left join town t on t.id = c.town_id
         where ($1::bool = false or c.geom && st_makeenvelope($2, $3, $4, $5, 4326))
           and ($6::date is null or c.occurred_at >= ($6::date::timestamp at time zone 'Asia/Shanghai'))
           and ($7::date is null or c.occurred_at < (($7::date + 1)::timestamp at time zone 'Asia/Shanghai'))
           and ($8::text is null or c.severity = $8)
           and ($9::text is null or c.crash_type = $9)
           and ($10::int is null or c.town_id = $10)
           and ($11::int is null or c.town_id = $11)
           and ($12::timestamptz is null or (c.occurred_at, c.id) < ($12, $13::bigint))
           and ($15::bigint is null or c.id = $15)
         order by c.occurred_at desc, c.id desc
         limit $14"#,
        filter.bbox.is_some(),
        bbox[0],
        bbox[1],
        bbox[2],
        bbox[3],
        filter.from,
        filter.to,
        filter.severity,
        filter.crash_type,
        filter.town_id,
        filter.scope_town_id,
        filter.before.map(|b| b.0),
        filter.before.map_or(0, |b| b.1),
        limit + 1,
        filter.id
    )
    .fetch_all(pool)
    .await
}

/// One crash as a Feature (JSON text), within the town scope when one is given.
pub async fn crash_feature(pool: &PgPool, id: i64, scope_town_id: Option<i32>) -> sqlx::Result<Option<String>> {
    let filter = CrashFilter { id: Some(id), scope_town_id, ..Default::default() };
    Ok(crashes_page(pool, &filter, 1).await?.into_iter().next().map(|c| c.feature))
}
