//! Reads for OGC API – Features (`http::ogc`): the towns and roads as GeoJSON features in id order, the number
//! of sites a filter matches, and the extent of the county. Sites themselves are read by `db::sites::list`,
//! so the OGC items and `/api/v1/sites` are the same features.

use sqlx::PgPool;

use super::sites::{FILTER_CONDITION, SiteFilter, bind_filter, scope_condition};

/// A page of features as GeoJSON texts, and the id to continue after when more remain.
pub struct Page {
    pub features: Vec<String>,
    pub next_after: Option<i64>,
}

/// The reference layers, read the same way: `table`, its geometry column and its properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Towns,
    Roads,
}

impl Place {
    fn select(self) -> &'static str {
        match self {
            Place::Towns => {
                "select t.id::bigint, json_build_object('type', 'Feature', 'id', t.id,
                     'geometry', st_asgeojson(t.boundary, 7)::json,
                     'properties', json_build_object('name', t.name, 'admin_code', t.admin_code))::text
                 from town t
                 where ($1::float8 is null or t.boundary && st_makeenvelope($1, $2, $3, $4, 4326))
                   and t.id > $5
                 order by t.id limit $6"
            }
            Place::Roads => {
                "select r.id::bigint, json_build_object('type', 'Feature', 'id', r.id,
                     'geometry', st_asgeojson(r.geom, 7)::json,
                     'properties', json_build_object('route_code', r.route_code, 'name', r.name,
                         'admin_code', r.admin_code, 'class', r.class, 'source_id', r.source_id))::text
                 from road r
                 where ($1::float8 is null or r.geom && st_makeenvelope($1, $2, $3, $4, 4326))
                   and r.id > $5
                 order by r.id limit $6"
            }
        }
    }

    fn count(self) -> &'static str {
        match self {
            Place::Towns => {
                "select count(*) from town t
                 where ($1::float8 is null or t.boundary && st_makeenvelope($1, $2, $3, $4, 4326))"
            }
            Place::Roads => {
                "select count(*) from road r
                 where ($1::float8 is null or r.geom && st_makeenvelope($1, $2, $3, $4, 4326))"
            }
        }
    }
}

fn corners(bbox: Option<[f64; 4]>) -> [Option<f64>; 4] {
    bbox.map_or([None; 4], |b| b.map(Some))
}

/// One page of towns or roads inside `bbox`, after the id `after`.
pub async fn places(pool: &PgPool, place: Place, bbox: Option<[f64; 4]>, after: i64, limit: i64) -> sqlx::Result<Page> {
    let [a, b, c, d] = corners(bbox);
    let rows: Vec<(i64, String)> = sqlx::query_as(place.select())
        .bind(a)
        .bind(b)
        .bind(c)
        .bind(d)
        .bind(after)
        .bind(limit + 1)
        .fetch_all(pool)
        .await?;
    let more = rows.len() as i64 > limit;
    let mut rows = rows;
    rows.truncate(limit as usize);
    let next_after = if more { rows.last().map(|(id, _)| *id) } else { None };
    Ok(Page { features: rows.into_iter().map(|(_, f)| f).collect(), next_after })
}

/// One town or road by id.
pub async fn place(pool: &PgPool, place: Place, id: i64) -> sqlx::Result<Option<String>> {
    let page = places_from(pool, place, id - 1).await?;
    Ok(page.into_iter().next().filter(|(found, _)| *found == id).map(|(_, f)| f))
}

async fn places_from(pool: &PgPool, place: Place, after: i64) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(place.select())
        .bind(None::<f64>)
        .bind(None::<f64>)
        .bind(None::<f64>)
        .bind(None::<f64>)
        .bind(after)
        .bind(1i64)
        .fetch_all(pool)
        .await
}

/// How many towns or roads are inside `bbox`.
pub async fn count_places(pool: &PgPool, place: Place, bbox: Option<[f64; 4]>) -> sqlx::Result<i64> {
    let [a, b, c, d] = corners(bbox);
    sqlx::query_scalar(place.count()).bind(a).bind(b).bind(c).bind(d).fetch_one(pool).await
}

/// How many sites the filter matches (its `after` and `limit` ignored), within its scope.
pub async fn count_sites(pool: &PgPool, filter: &SiteFilter) -> sqlx::Result<i64> {
    let sql = format!(
        "select count(*) from site s left join town t on t.id = s.town_id where {FILTER_CONDITION} and {scope}",
        scope = scope_condition(8)
    );
    let (n,): (i64,) = bind_filter(sqlx::query_as(&sql), filter).fetch_one(pool).await?;
    Ok(n)
}

/// The county's extent (towns and roads together) as minlon, minlat, maxlon, maxlat; `None` when empty.
pub async fn extent(pool: &PgPool) -> sqlx::Result<Option<[f64; 4]>> {
    let row: Option<(f64, f64, f64, f64)> = sqlx::query_as(
        "select st_xmin(e), st_ymin(e), st_xmax(e), st_ymax(e)
         from (select st_extent(g) as e from (select boundary as g from town union all select geom from road) p) x
         where e is not null",
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|(a, b, c, d)| [a, b, c, d]))
}
