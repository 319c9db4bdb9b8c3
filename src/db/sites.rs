//! Reading sites as GeoJSON. The JSON is built by PostgreSQL (`json_build_object`), which is both the
//! fastest route for thousands of features and keeps one definition of a site's public shape.

use std::sync::LazyLock;

use sqlx::PgPool;

use super::ReadPool;
use sqlx::postgres::PgArguments;
use sqlx::query::{QueryAs, QueryScalar};
use uuid::Uuid;

use crate::domain::auth::SiteScope;
use crate::domain::site::SiteStatus;
use crate::domain::site_detail::SiteDetail;
use crate::domain::site_filter::MapFilter;

/// The condition that keeps a user to their sites (`s` is the site), taking three parameters from `$first`
/// on: all, town id, unit id. Bind them with [`bind_scope`] / [`bind_scope_scalar`].
pub fn scope_condition(first: usize) -> String {
    // A unit sees the sites it leads, is responsible for, or supports: all of them may act on the site.
    // `@>` rather than `= any(…)`: the same answer (a null unit matches nothing either way), but only `@>`
    // can use the GIN index site_supporting_units_gin (migration 0012); each arm has its own index, so a
    // unit's scope is a bitmap OR of index scans, not a scan of a million sites.
    format!(
        "(${first}::bool or s.town_id = ${town}::int
          or s.responsible_unit_id = ${unit}::int or s.lead_unit_id = ${unit}::int
          or s.supporting_unit_ids @> array[${unit}::int])",
        town = first + 1,
        unit = first + 2
    )
}

pub fn bind_scope<'q, O>(
    q: QueryAs<'q, sqlx::Postgres, O, PgArguments>,
    scope: &SiteScope,
) -> QueryAs<'q, sqlx::Postgres, O, PgArguments> {
    q.bind(scope.all).bind(scope.town_id).bind(scope.unit_id)
}

pub fn bind_scope_scalar<'q, O>(
    q: QueryScalar<'q, sqlx::Postgres, O, PgArguments>,
    scope: &SiteScope,
) -> QueryScalar<'q, sqlx::Postgres, O, PgArguments> {
    q.bind(scope.all).bind(scope.town_id).bind(scope.unit_id)
}

/// The `properties` every site feature carries (list and detail). Needs `s` (site), `t` (town), `rd` (road)
/// and `c` (checklist counts) in scope. `overdue` is derived at read time, so it is never stored stale.
pub const SITE_PROPERTIES: &str = "
    'id', s.id, 'code', s.code, 'kind', s.kind, 'status', s.status,
    'town', t.name, 'town_code', t.admin_code,
    'road_code', s.route_code, 'road_name', rd.name, 'stake', s.stake_text, 'end_stake', s.end_stake_text,
    'hazard_types', s.hazard_types, 'hazard_level', s.hazard_level,
    'checklist', c.in_place || '/' || c.total,
    'deadline', s.deadline,
    'overdue', s.deadline is not null and s.deadline < (now() at time zone 'Asia/Shanghai')::date
               and s.status not in ('closed', 'cancelled', 'rejected', 'duplicate'),
    'town_id', s.town_id, 'responsible_unit_id', s.responsible_unit_id,
    'first_observed_at', s.first_observed_at, 'return_count', s.return_count,
    'pending_extension', case when px.site_id is not null then json_build_object('new_deadline', px.new_deadline,
        'reason', px.reason, 'requested_at', px.requested_at) end,
    'supervision_level', s.supervision_level,
    'observation_count', s.observation_count,
    'last_observed_at', s.last_observed_at";

pub const SITE_FROM: &str = "
    from site s
    left join town t on t.id = s.town_id
    -- The road's name: most village roads have no route code, only a name.
    left join road rd on rd.id = s.road_id
    -- At most one request waits per site (extension_request_one_pending): a join, not a subquery per site.
    left join extension_request px on px.site_id = s.id and px.decided_at is null
    cross join lateral (
        select count(*) filter (where i.state in ('installed', 'verified', 'not_applicable')) as in_place,
               count(*) as total
        from site_checklist_item i where i.site_id = s.id) c";

/// A read of sites: where (bbox), what ([`MapFilter`]), whose (scope) and which page.
#[derive(Debug, Default, Clone)]
pub struct SiteFilter {
    /// minlon, minlat, maxlon, maxlat (WGS-84 degrees).
    pub bbox: Option<[f64; 4]>,
    /// Towns, statuses, kinds, hazard types, levels, flags, dates, sources (`domain::site_filter`).
    pub criteria: MapFilter,
    /// Keyset cursor: only sites with an id greater than this.
    pub after: Option<Uuid>,
    pub limit: i64,
    /// Whose sites: applied before everything else.
    pub scope: SiteScope,
}

/// One page of site features as GeoJSON text, in id order, and the id to continue after (if more remain).
pub async fn list(reads: impl Into<ReadPool>, f: &SiteFilter) -> sqlx::Result<(Vec<String>, Option<Uuid>)> {
    let reads: ReadPool = reads.into();
    let sql = format!(
        "select s.id, json_build_object('type', 'Feature', 'id', s.id,
             'geometry', st_asgeojson(s.geom, 6)::json,
             'properties', json_build_object({SITE_PROPERTIES}))::text
         {SITE_FROM}
         where {filter} and (${after}::uuid is null or s.id > ${after})
         order by s.id
         limit ${limit}",
        filter = filter_condition(1),
        after = FILTER_PARAMS + 1,
        limit = FILTER_PARAMS + 2,
    );
    let rows: Vec<(Uuid, String)> =
        bind_filter(sqlx::query_as(&sql), f).bind(f.after).bind(f.limit + 1).fetch_all(reads.pool()).await?;
    let more = rows.len() as i64 > f.limit;
    let mut features: Vec<(Uuid, String)> = rows;
    features.truncate(f.limit as usize);
    let next = if more { features.last().map(|(id, _)| *id) } else { None };
    Ok((features.into_iter().map(|(_, json)| json).collect(), next))
}

/// How many parameters [`filter_condition`] takes (and [`bind_filter`] binds): the bbox, the criteria and
/// the scope.
pub const FILTER_PARAMS: usize = 21;

/// Whether a site (`s`) is overdue: open and past its deadline on the county's date. The same rule as the
/// `overdue` of the list properties and of the tiles.
pub static OVERDUE: LazyLock<String> = LazyLock::new(|| {
    let open: Vec<String> = SiteStatus::open_codes().iter().map(|c| format!("'{c}'")).collect();
    format!(
        "coalesce(s.deadline < (now() at time zone 'Asia/Shanghai')::date and s.status in ({}), false)",
        open.join(", ")
    )
});

/// The condition of every filtered read of sites (the list, the counts, the exports, the ledger, the OGC
/// items, the tiles): the bbox, the [`MapFilter`] and the scope, taking [`FILTER_PARAMS`] parameters from
/// `$first` on. Bind them with [`bind_filter`]. Needs only `s` (site): the town is matched by a subquery.
///
/// Dates are county dates (Asia/Shanghai): `from` and `to` become the instants the county's days start and
/// end, and the stored instant is compared with them as it is (both ends inclusive of their whole day).
pub fn filter_condition(first: usize) -> String {
    let p = |i: usize| first + i;
    format!(
        "(${bbox}::float8 is null or s.geom && st_makeenvelope(${bbox}, ${b1}, ${b2}, ${b3}, 4326))
    and (cardinality(${status}::text[]) = 0 or s.status = any(${status}::text[]))
    and (cardinality(${kind}::text[]) = 0 or s.kind = any(${kind}::text[]))
    and (cardinality(${town}::text[]) = 0
         or s.town_id in (select tf.id from town tf where tf.admin_code = any(${town}::text[])
                                                       or tf.name = any(${town}::text[])))
    and (cardinality(${hazard}::text[]) = 0 or s.hazard_types && ${hazard}::text[])
    and (cardinality(${level}::text[]) = 0 or s.hazard_level = any(${level}::text[]))
    and (${overdue}::bool is null or {overdue_rule} = ${overdue}::bool)
    and (${supervised}::bool is null or (s.supervision_level <> 'none') = ${supervised}::bool)
    and (${relapsed}::bool is null or (s.relapse_count > 0) = ${relapsed}::bool)
    and (${from}::date is null or s.first_observed_at >= ${from}::date::timestamp at time zone 'Asia/Shanghai')
    and (${to}::date is null
         or s.first_observed_at < (${to}::date + 1)::timestamp at time zone 'Asia/Shanghai')
    and (cardinality(${source}::text[]) = 0 or s.source = any(${source}::text[]))
    and (${figure}::text is null
         or s.id in (select report_figure_sites(${fig_start}::timestamptz, ${fig_as_of}::timestamptz, ${figure}::text)))
    and {scope}",
        bbox = p(0),
        b1 = p(1),
        b2 = p(2),
        b3 = p(3),
        status = p(4),
        kind = p(5),
        town = p(6),
        hazard = p(7),
        level = p(8),
        overdue = p(9),
        supervised = p(10),
        relapsed = p(11),
        from = p(12),
        to = p(13),
        source = p(14),
        fig_start = p(15),
        fig_as_of = p(16),
        figure = p(17),
        overdue_rule = OVERDUE.as_str(),
        scope = scope_condition(p(18)),
    )
}

/// Binds [`filter_condition`]'s [`FILTER_PARAMS`] parameters, in order.
///
/// The statement is not kept prepared: PostgreSQL would switch a kept statement to a generic plan after five
/// runs, and a generic plan cannot see which of the optional filters are null; it guesses one row and loops,
/// which doubles the map's query (measured in docs/benchmarks.md). Planning each time costs well under a
/// millisecond.
pub fn bind_filter<'q, O>(
    q: QueryAs<'q, sqlx::Postgres, O, PgArguments>,
    f: &SiteFilter,
) -> QueryAs<'q, sqlx::Postgres, O, PgArguments> {
    let [minx, miny, maxx, maxy] = f.bbox.map_or([None; 4], |b| b.map(Some));
    let c = &f.criteria;
    // A figure of a period not over yet counts as of now, as its report does.
    let figure =
        c.figure.map(|fig| (fig.period.starts_at(), fig.period.as_of(chrono::Utc::now()), fig.figure.as_str()));
    bind_scope(
        q.persistent(false)
            .bind(minx)
            .bind(miny)
            .bind(maxx)
            .bind(maxy)
            .bind(c.status_codes())
            .bind(c.kind_codes())
            .bind(c.towns.clone())
            .bind(c.hazard_types.clone())
            .bind(c.level_codes())
            .bind(c.overdue)
            .bind(c.supervised)
            .bind(c.relapsed)
            .bind(c.from)
            .bind(c.to)
            .bind(c.sources.clone())
            .bind(figure.map(|f| f.0))
            .bind(figure.map(|f| f.1))
            .bind(figure.map(|f| f.2)),
        &f.scope,
    )
}

/// Sites per status, and how many of them are overdue, for the map legend: `(status, sites, overdue)`.
pub async fn counts_by_status(reads: impl Into<ReadPool>, f: &SiteFilter) -> sqlx::Result<Vec<(String, i64, i64)>> {
    let reads: ReadPool = reads.into();
    let sql = format!(
        "select s.status, count(*), count(*) filter (where {overdue})
         from site s where {filter} group by s.status order by s.status",
        overdue = OVERDUE.as_str(),
        filter = filter_condition(1)
    );
    bind_filter(sqlx::query_as(&sql), f).fetch_all(reads.pool()).await
}

/// How many observations (newest first) a site's detail shows; `observation_count` gives the total.
pub const DETAIL_OBSERVATIONS_MAX: i64 = 100;
/// How many events a site's detail shows: the newest ones, listed oldest first; older history stays in the
/// database (and in the ledger).
pub const DETAIL_EVENTS_MAX: i64 = 500;

/// One site as a GeoJSON Feature with its checklist items, observations (with photos) and events, and its
/// version. The JSON is read into [`SiteDetail`]; JSON that does not fit the type is a decode error.
pub async fn detail(pool: &PgPool, id: Uuid, scope: &SiteScope) -> sqlx::Result<Option<(SiteDetail, i32)>> {
    let Some((json, version)) = detail_json(pool, id, scope).await? else { return Ok(None) };
    let detail = SiteDetail::from_postgres_json(&json).map_err(|e| sqlx::Error::Decode(e.into()))?;
    Ok(Some((detail, version)))
}

/// [`detail`] as PostgreSQL writes it, before it is read into the type (the tests compare the two).
pub async fn detail_json(pool: &PgPool, id: Uuid, scope: &SiteScope) -> sqlx::Result<Option<(String, i32)>> {
    let sql = format!(
        "select json_build_object('type', 'Feature', 'id', s.id,
             'geometry', st_asgeojson(s.geom, 7)::json,
             'properties', json_build_object({SITE_PROPERTIES},
                 'source', s.source, 'rectification_mode', s.rectification_mode,
                 'template', s.template_code, 'first_observed_at', s.first_observed_at,
                 'duplicate_of', s.duplicate_of, 'version', s.version,
                 'responsible_unit', (select name from organisation where id = s.responsible_unit_id),
                 'responsible_unit_id', s.responsible_unit_id, 'lead_unit_id', s.lead_unit_id,
                 'supporting_unit_ids', s.supporting_unit_ids,
                 'return_count', s.return_count, 'relapse_count', s.relapse_count,
                 'supervision_body', s.supervision_body, 'supervision_doc_no', s.supervision_doc_no,
                 'supervision_due', s.supervision_due,
                 'close_out_requested_by', s.close_out_requested_by,
                 'created_at', s.created_at, 'updated_at', s.updated_at,
                 'checklist_items', (
                     select coalesce(json_agg(json_build_object(
                         'code', i.item_code, 'name', ti.name, 'name_en', ti.name_en, 'required', ti.required,
                         'state', i.state, 'quantity', i.quantity, 'quantity_min', ti.quantity_min,
                         'measured', i.measured, 'installed_on', i.installed_on, 'installer', i.installer,
                         'reason', i.reason, 'night_evidence', ti.night_evidence,
                         'evidence', (
                             select coalesce(json_agg(json_build_object(
                                 'id', e.id, 'state', e.state, 'quantity', e.quantity, 'measured', e.measured,
                                 'installed_on', e.installed_on, 'installer', e.installer, 'reason', e.reason,
                                 'submitted_by', (select display_name from app_user u where u.id = e.submitted_by),
                                 'submitted_at', e.submitted_at,
                                 'photos', (
                                     select coalesce(json_agg(json_build_object(
                                         'role', p.role, 'sha256', encode(p.sha256, 'hex'),
                                         'width', p.width, 'height', p.height,
                                         'original_taken_at', p.original_taken_at,
                                         'original_location', st_asgeojson(p.original_location, 7)::json,
                                         'original_device', p.original_device, 'evidence_flags', p.evidence_flags,
                                         'url', '/api/v1/photos/' || encode(p.sha256, 'hex'),
                                         'thumbnail_url', '/api/v1/photos/' || encode(p.sha256, 'hex') || '/thumbnail')
                                         order by p.position), '[]')
                                     from photo p where p.evidence_id = e.id))
                                 order by e.submitted_at desc), '[]')
                             from (select * from item_evidence where site_id = s.id and item_code = i.item_code
                                   order by submitted_at desc limit 10) e)) order by ti.position), '[]')
                     from site_checklist_item i
                     join checklist_template_item ti on ti.template_code = i.template_code and ti.code = i.item_code
                     where i.site_id = s.id),
                 'observations', (
                     select coalesce(json_agg(json_build_object(
                         'id', o.id, 'inspector', o.inspector, 'observed_at', o.observed_at,
                         'received_at', o.received_at, 'geometry', st_asgeojson(o.geom, 7)::json,
                         'accuracy_m', o.accuracy_m, 'source_crs', o.source_crs, 'hazard_types', o.hazard_types,
                         'checklist', o.checklist, 'notes', o.notes, 'look_back_result', o.look_back_result,
                         'location_source', o.location_source, 'location_confirmed', o.location_confirmed,
                         'photos', (
                             select coalesce(json_agg(json_build_object(
                                 'id', p.id, 'sha256', encode(p.sha256, 'hex'), 'content_type', p.content_type,
                                 'width', p.width, 'height', p.height, 'exif_taken_at', p.exif_taken_at,
                                 'exif_location', st_asgeojson(p.exif_location, 7)::json,
                                 'exif_direction_deg', p.exif_direction_deg,
                                 'original_taken_at', p.original_taken_at,
                                 'original_location', st_asgeojson(p.original_location, 7)::json,
                                 'original_device', p.original_device, 'evidence_flags', p.evidence_flags,
                                 'url', '/api/v1/photos/' || encode(p.sha256, 'hex'),
                                 'thumbnail_url', '/api/v1/photos/' || encode(p.sha256, 'hex') || '/thumbnail')
                                 order by p.position), '[]')
                             from photo p where p.observation_id = o.id))
                         order by o.observed_at desc), '[]')
                     from (select * from observation where site_id = s.id
                           order by observed_at desc limit {DETAIL_OBSERVATIONS_MAX}) o),
                 'events', (
                     select coalesce(json_agg(json_build_object(
                         'id', e.id, 'at', e.at, 'actor', e.actor, 'kind', e.kind, 'from_status', e.from_status,
                         'to_status', e.to_status, 'reason', e.reason, 'data', e.data,
                         'observation_id', e.observation_id) order by e.id), '[]')
                     -- The newest events are the ones a reader acts on: take the last N (by id, the order
                     -- they were written in, served by site_event_site_idx), shown oldest first.
                     from (select * from site_event where site_id = s.id
                           order by id desc limit {DETAIL_EVENTS_MAX}) e)
             ))::text, s.version
         {SITE_FROM}
         where s.id = $1 and {scope}",
        scope = scope_condition(2)
    );
    bind_scope(sqlx::query_as(&sql).bind(id), scope).fetch_optional(pool).await
}

/// One site's list feature (the summary shape), e.g. for an upload's answer.
pub async fn summary(reads: impl Into<ReadPool>, id: Uuid, scope: &SiteScope) -> sqlx::Result<Option<String>> {
    let reads: ReadPool = reads.into();
    let sql = format!(
        "select json_build_object('type', 'Feature', 'id', s.id,
             'geometry', st_asgeojson(s.geom, 7)::json,
             'properties', json_build_object({SITE_PROPERTIES}))::text
         {SITE_FROM}
         where s.id = $1 and {scope}",
        scope = scope_condition(2)
    );
    bind_scope_scalar(sqlx::query_scalar(&sql).bind(id), scope).fetch_optional(reads.pool()).await
}

/// Where an inspector asks which open sites are near: a WGS-84 point, the kind (any when `None`), the radius
/// and how many at most.
pub struct NearbyQuery<'a> {
    pub lon: f64,
    pub lat: f64,
    pub kind: Option<&'a str>,
    pub radius_m: f64,
    pub limit: i64,
}

/// The open sites within the radius of a point, nearest first (ties by code), as a JSON array built by
/// PostgreSQL: id, code, kind, status, road code, stake, town, last observed, visits, hazard types,
/// `distance_m` (to the nearest point of the site, on the ellipsoid) and the GeoJSON geometry.
pub async fn nearby(pool: &PgPool, q: &NearbyQuery<'_>, scope: &SiteScope) -> sqlx::Result<String> {
    let sql = format!(
        "with here as (select st_setsrid(st_makepoint($1, $2), 4326)::geography as g),
         near as (
             select s.id, s.code, s.kind, s.status, s.route_code as road_code, s.stake_text as stake,
                 t.name as town, s.last_observed_at, s.observation_count, s.hazard_types,
                 round(st_distance(s.geom::geography, here.g)::numeric, 1)::float8 as distance_m,
                 st_asgeojson(s.geom, 7)::json as geometry
             from site s cross join here left join town t on t.id = s.town_id
             where s.status = any($3) and ($4::text is null or s.kind = $4)
               and st_dwithin(s.geom::geography, here.g, $5) and {scope}
             order by st_distance(s.geom::geography, here.g), s.code
             limit $6)
         select coalesce(json_agg(near order by near.distance_m, near.code), '[]'::json)::text from near",
        scope = scope_condition(7)
    );
    let query = sqlx::query_scalar(&sql)
        .bind(q.lon)
        .bind(q.lat)
        .bind(SiteStatus::open_codes())
        .bind(q.kind)
        .bind(q.radius_m)
        .bind(q.limit);
    bind_scope_scalar(query, scope).fetch_one(pool).await
}

/// The id of the site with this code (ledger number), whoever may see it: the caller checks the scope.
pub async fn id_of_code(pool: &PgPool, code: &str) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar!("select id from site where code = $1", code).fetch_optional(pool).await
}
