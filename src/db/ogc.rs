//! Reads for OGC API – Features (`http::ogc`): the towns and roads as GeoJSON features in id order, the number
//! of sites a filter matches, and the extent of the county. Sites themselves are read by `db::sites::list`,
//! so the OGC items and `/api/v1/sites` are the same features.

use sqlx::PgPool;

use super::sites::{SiteFilter, bind_filter, filter_condition};

/// A page of features as GeoJSON texts, and the id to continue after when more remain.
pub struct Page {
    pub features: Vec<String>,
    pub next_after: Option<i64>,
}

/// The reference layers of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Towns,
    Roads,
}

fn corners(bbox: Option<[f64; 4]>) -> [Option<f64>; 4] {
    bbox.map_or([None; 4], |b| b.map(Some))
}

/// One page of towns or roads inside `bbox`, after the id `after`, in id order.
pub async fn places(pool: &PgPool, place: Place, bbox: Option<[f64; 4]>, after: i64, limit: i64) -> sqlx::Result<Page> {
    let rows = select(pool, place, bbox, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let mut rows = rows;
    rows.truncate(limit as usize);
    let next_after = if more { rows.last().map(|(id, _)| *id) } else { None };
    Ok(Page { features: rows.into_iter().map(|(_, f)| f).collect(), next_after })
}

/// One town or road by id.
pub async fn place(pool: &PgPool, place: Place, id: i64) -> sqlx::Result<Option<String>> {
    let rows = select(pool, place, None, id.saturating_sub(1), 1).await?;
    Ok(rows.into_iter().next().filter(|(found, _)| *found == id).map(|(_, f)| f))
}

async fn select(
    pool: &PgPool,
    place: Place,
    bbox: Option<[f64; 4]>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<(i64, String)>> {
    let [a, b, c, d] = corners(bbox);
    Ok(match place {
        Place::Towns => sqlx::query!(
            r#"select t.id::bigint as "id!", json_build_object('type', 'Feature', 'id', t.id,
                   'geometry', st_asgeojson(t.boundary, 7)::json,
                   'properties', json_build_object('name', t.name, 'admin_code', t.admin_code))::text as "feature!"
               from town t
               where ($1::float8 is null or t.boundary && st_makeenvelope($1, $2, $3, $4, 4326))
                 and t.id > $5::bigint
               order by t.id limit $6"#,
            a,
            b,
            c,
            d,
            after,
            limit
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.id, r.feature))
        .collect(),
        Place::Roads => sqlx::query!(
            r#"select r.id::bigint as "id!", json_build_object('type', 'Feature', 'id', r.id,
                   'geometry', st_asgeojson(r.geom, 7)::json,
                   'properties', json_build_object('route_code', r.route_code, 'name', r.name,
                       'admin_code', r.admin_code, 'class', r.class, 'source_id', r.source_id))::text as "feature!"
               from road r
               where ($1::float8 is null or r.geom && st_makeenvelope($1, $2, $3, $4, 4326))
                 and r.id > $5::bigint
               order by r.id limit $6"#,
            a,
            b,
            c,
            d,
            after,
            limit
        )
        .fetch_all(pool)
        .await?
        .into_iter()
        .map(|r| (r.id, r.feature))
        .collect(),
    })
}

/// How many towns or roads are inside `bbox`.
pub async fn count_places(pool: &PgPool, place: Place, bbox: Option<[f64; 4]>) -> sqlx::Result<i64> {
    let [a, b, c, d] = corners(bbox);
    match place {
        Place::Towns => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from town t
               where ($1::float8 is null or t.boundary && st_makeenvelope($1, $2, $3, $4, 4326))"#,
                a,
                b,
                c,
                d
            )
            .fetch_one(pool)
            .await
        }
        Place::Roads => {
            sqlx::query_scalar!(
                r#"select count(*) as "n!" from road r
               where ($1::float8 is null or r.geom && st_makeenvelope($1, $2, $3, $4, 4326))"#,
                a,
                b,
                c,
                d
            )
            .fetch_one(pool)
            .await
        }
    }
}

/// How many sites the filter matches (its `after` and `limit` ignored), within its scope.
pub async fn count_sites(pool: &PgPool, filter: &SiteFilter) -> sqlx::Result<i64> {
    let sql = format!("select count(*) from site s where {}", filter_condition(1));
    let (n,): (i64,) = bind_filter(sqlx::query_as(&sql), filter).fetch_one(pool).await?;
    Ok(n)
}

/// The county's extent (towns and roads together) as minlon, minlat, maxlon, maxlat; `None` when empty.
pub async fn extent(pool: &PgPool) -> sqlx::Result<Option<[f64; 4]>> {
    let row = sqlx::query!(
        r#"select st_xmin(e) as "minx!", st_ymin(e) as "miny!", st_xmax(e) as "maxx!", st_ymax(e) as "maxy!"
           from (select st_extent(g) as e from (select boundary as g from town union all select geom from road) p) x
           where e is not null"#
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| [r.minx, r.miny, r.maxx, r.maxy]))
}
