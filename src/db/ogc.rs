//! Reads for OGC API – Features (`http::ogc`): the towns and roads as GeoJSON features in id order, the extent
//! of the county, and the sites with a bbox, a `datetime` interval and CQL2 filters (`domain::cql2`), paged and
//! counted. Site features are built from `db::sites`' own fragments (`SITE_PROPERTIES`, `SITE_FROM`, the scope
//! condition), so the OGC items and `/api/v1/sites` are the same features.
//!
//! A filter becomes SQL here: each queryable is a fixed column expression ([`column`]), each operator fixed
//! text, and every literal a bound parameter. Nothing the caller wrote is ever spliced into the statement.

use super::ReadPool;
use chrono::{DateTime, Utc};
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, PgPool};
use uuid::Uuid;

use super::sites::{SITE_FROM, SITE_PROPERTIES, scope_condition};
use crate::domain::auth::SiteScope;
use crate::domain::cql2::{Expr, Geometry, Operand, Value};
use crate::domain::ogc::Interval;

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
pub async fn places(
    reads: impl Into<ReadPool>,
    place: Place,
    bbox: Option<[f64; 4]>,
    after: i64,
    limit: i64,
) -> sqlx::Result<Page> {
    let reads: ReadPool = reads.into();
    let rows = select(reads.pool(), place, bbox, after, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let mut rows = rows;
    rows.truncate(limit as usize);
    let next_after = if more { rows.last().map(|(id, _)| *id) } else { None };
    Ok(Page { features: rows.into_iter().map(|(_, f)| f).collect(), next_after })
}

/// One town or road by id.
pub async fn place(reads: impl Into<ReadPool>, place: Place, id: i64) -> sqlx::Result<Option<String>> {
    let reads: ReadPool = reads.into();
    let rows = select(reads.pool(), place, None, id.saturating_sub(1), 1).await?;
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
pub async fn count_places(reads: impl Into<ReadPool>, place: Place, bbox: Option<[f64; 4]>) -> sqlx::Result<i64> {
    let reads: ReadPool = reads.into();
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
            .fetch_one(reads.pool())
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
            .fetch_one(reads.pool())
            .await
        }
    }
}

/// The county's extent (towns and roads together) as minlon, minlat, maxlon, maxlat; `None` when empty.
pub async fn extent(reads: impl Into<ReadPool>) -> sqlx::Result<Option<[f64; 4]>> {
    let reads: ReadPool = reads.into();
    let row = sqlx::query!(
        r#"select st_xmin(e) as "minx!", st_ymin(e) as "miny!", st_xmax(e) as "maxx!", st_ymax(e) as "maxy!"
           from (select st_extent(g) as e from (select boundary as g from town union all select geom from road) p) x
           where e is not null"#
    )
    .fetch_optional(reads.pool())
    .await?;
    Ok(row.map(|r| [r.minx, r.miny, r.maxx, r.maxy]))
}

/// What `…/sites/items` asks for; `filters` hold together (AND).
#[derive(Debug, Default)]
pub struct SiteQuery {
    pub scope: SiteScope,
    /// minlon, minlat, maxlon, maxlat (WGS-84 degrees).
    pub bbox: Option<[f64; 4]>,
    /// On `first_observed_at`, the sites' temporal property.
    pub datetime: Option<Interval>,
    pub filters: Vec<Expr>,
    /// Keyset cursor: only sites with an id greater than this.
    pub after: Option<Uuid>,
    pub limit: i64,
}

/// Whether a site is overdue, exactly as `SITE_PROPERTIES` writes the `overdue` property (a test holds the
/// filter and the property together).
const OVERDUE: &str = "(s.deadline is not null and s.deadline < (now() at time zone 'Asia/Shanghai')::date
    and s.status not in ('closed', 'cancelled', 'rejected', 'duplicate'))";

/// The SQL of a site queryable (`domain::ogc::SITE_QUERYABLES`); needs `s` (site), `t` (town), `rd` (road).
pub fn column(queryable: &str) -> Option<&'static str> {
    Some(match queryable {
        "geometry" => "s.geom",
        "code" => "s.code",
        "status" => "s.status",
        "kind" => "s.kind",
        "hazard_level" => "s.hazard_level",
        "town" => "t.name",
        "town_code" => "t.admin_code",
        "road" | "road_name" => "rd.name",
        "route_code" | "road_code" => "s.route_code",
        "source" => "s.source",
        "overdue" => OVERDUE,
        "supervision_level" => "s.supervision_level",
        "deadline" => "s.deadline",
        "first_observed_at" => "s.first_observed_at",
        "return_count" => "s.return_count",
        "relapse_count" => "s.relapse_count",
        _ => return None,
    })
}

/// A statement's condition and its arguments, numbered as they are added.
struct Where {
    parts: Vec<String>,
    args: PgArguments,
    count: usize,
}

impl Where {
    /// The scope first ($1–$3), as every scoped read.
    fn new(scope: &SiteScope) -> sqlx::Result<Where> {
        let mut w = Where { parts: vec![scope_condition(1)], args: PgArguments::default(), count: 0 };
        w.bind(scope.all, "bool")?;
        w.bind(scope.town_id, "int")?;
        w.bind(scope.unit_id, "int")?;
        Ok(w)
    }

    /// Adds an argument and returns its placeholder with its type.
    fn bind<T>(&mut self, value: T, cast: &str) -> sqlx::Result<String>
    where
        T: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + 'static,
    {
        self.args.add(value).map_err(sqlx::Error::Encode)?;
        self.count += 1;
        Ok(format!("${}::{cast}", self.count))
    }

    fn value(&mut self, value: &Value) -> sqlx::Result<String> {
        match value {
            Value::Text(s) => self.bind(s.clone(), "text"),
            Value::Number(n) => self.bind(*n, "float8"),
            Value::Boolean(b) => self.bind(*b, "bool"),
            Value::Date(d) => self.bind(*d, "date"),
            Value::Timestamp(t) => self.bind(*t, "timestamptz"),
        }
    }

    fn operand(&mut self, operand: &Operand) -> sqlx::Result<String> {
        match operand {
            Operand::Property(p) => property(p).map(str::to_string),
            Operand::Value(v) => self.value(v),
        }
    }

    /// The SQL of a filter, parenthesised.
    fn expr(&mut self, expr: &Expr) -> sqlx::Result<String> {
        let not = |negated: &bool| if *negated { "not " } else { "" };
        Ok(match expr {
            Expr::And(a, b) => format!("({} and {})", self.expr(a)?, self.expr(b)?),
            Expr::Or(a, b) => format!("({} or {})", self.expr(a)?, self.expr(b)?),
            Expr::Not(e) => format!("(not {})", self.expr(e)?),
            Expr::Literal(b) => self.bind(*b, "bool")?,
            Expr::Compare(left, op, right) => {
                format!("({} {} {})", self.operand(left)?, op.as_str(), self.operand(right)?)
            }
            // CQL2's LIKE escapes with a backslash, as PostgreSQL's does.
            Expr::Like { property: p, pattern, negated } => {
                format!("({} {}like {})", property(p)?, not(negated), self.bind(pattern.clone(), "text")?)
            }
            Expr::Between { property: p, low, high, negated } => {
                format!("({} {}between {} and {})", property(p)?, not(negated), self.value(low)?, self.value(high)?)
            }
            Expr::In { property: p, values, negated } => {
                let list = values.iter().map(|v| self.value(v)).collect::<sqlx::Result<Vec<_>>>()?;
                format!("({} {}in ({}))", property(p)?, not(negated), list.join(", "))
            }
            Expr::IsNull { property: p, negated } => format!("({} is {}null)", property(p)?, not(negated)),
            Expr::Intersects { property: p, geometry: Geometry::Bbox([a, b, c, d]) } => {
                let env = [
                    self.bind(*a, "float8")?,
                    self.bind(*b, "float8")?,
                    self.bind(*c, "float8")?,
                    self.bind(*d, "float8")?,
                ];
                format!("st_intersects({}, st_makeenvelope({}, 4326))", property(p)?, env.join(", "))
            }
            // The text is written by `Geometry::wkt` from parsed numbers, and bound; a self-crossing polygon
            // is made valid rather than failing the statement.
            Expr::Intersects { property: p, geometry } => {
                let wkt = self.bind(geometry.wkt(), "text")?;
                format!("st_intersects({}, st_makevalid(st_geomfromtext({wkt}, 4326)))", property(p)?)
            }
        })
    }

    /// The scope, bbox, interval and filters of `q` (not its paging).
    fn query(q: &SiteQuery) -> sqlx::Result<Where> {
        let mut w = Where::new(&q.scope)?;
        if let Some([a, b, c, d]) = q.bbox {
            let env = [w.bind(a, "float8")?, w.bind(b, "float8")?, w.bind(c, "float8")?, w.bind(d, "float8")?];
            w.parts.push(format!("s.geom && st_makeenvelope({}, 4326)", env.join(", ")));
        }
        if let Some(Interval { from, until }) = q.datetime {
            if let Some(from) = from {
                let p = w.bind(from, "timestamptz")?;
                w.parts.push(format!("s.first_observed_at >= {p}"));
            }
            if let Some(until) = until {
                let p = w.bind(until, "timestamptz")?;
                w.parts.push(format!("s.first_observed_at < {p}"));
            }
        }
        for filter in &q.filters {
            let sql = w.expr(filter)?;
            w.parts.push(sql);
        }
        Ok(w)
    }

    fn sql(&self) -> String {
        self.parts.join("\n  and ")
    }
}

fn property(name: &str) -> sqlx::Result<&'static str> {
    column(name).ok_or_else(|| sqlx::Error::Protocol(format!("the queryable {name} has no column")))
}

/// One page of sites as GeoJSON texts in id order, and the id to continue after when more remain.
pub async fn sites(reads: impl Into<ReadPool>, q: &SiteQuery) -> sqlx::Result<(Vec<String>, Option<Uuid>)> {
    let reads: ReadPool = reads.into();
    let mut w = Where::query(q)?;
    let after = w.bind(q.after, "uuid")?;
    let limit = w.bind(q.limit + 1, "bigint")?;
    let sql = format!(
        "select s.id, json_build_object('type', 'Feature', 'id', s.id,
             'geometry', st_asgeojson(s.geom, 6)::json,
             'properties', json_build_object({SITE_PROPERTIES}))::text
         {SITE_FROM}
         where {cond} and ({after} is null or s.id > {after})
         order by s.id
         limit {limit}",
        cond = w.sql()
    );
    // Not kept prepared, as `db::sites::bind_filter` explains: a generic plan cannot see which filters are set.
    let rows: Vec<(Uuid, String)> = sqlx::query_as_with(&sql, w.args).persistent(false).fetch_all(reads.pool()).await?;
    let more = rows.len() as i64 > q.limit;
    let mut rows = rows;
    rows.truncate(q.limit as usize);
    let next = if more { rows.last().map(|(id, _)| *id) } else { None };
    Ok((rows.into_iter().map(|(_, json)| json).collect(), next))
}

/// How many sites `q` matches (its `after` and `limit` ignored), within its scope.
pub async fn count_sites(reads: impl Into<ReadPool>, q: &SiteQuery) -> sqlx::Result<i64> {
    let reads: ReadPool = reads.into();
    let w = Where::query(q)?;
    let sql = format!(
        "select count(*) from site s
           left join town t on t.id = s.town_id
           left join road rd on rd.id = s.road_id
         where {}",
        w.sql()
    );
    sqlx::query_scalar_with(&sql, w.args).persistent(false).fetch_one(reads.pool()).await
}

/// The first and last `first_observed_at` of the sites in `scope`; `None` when there are none.
pub async fn temporal_extent(
    reads: impl Into<ReadPool>,
    scope: &SiteScope,
) -> sqlx::Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
    let reads: ReadPool = reads.into();
    let w = Where::new(scope)?;
    let sql = format!("select min(s.first_observed_at), max(s.first_observed_at) from site s where {}", w.sql());
    let (min, max): (Option<DateTime<Utc>>, Option<DateTime<Utc>>) =
        sqlx::query_as_with(&sql, w.args).fetch_one(reads.pool()).await?;
    Ok(min.zip(max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ogc::SITE_QUERYABLES;

    #[test]
    fn every_queryable_has_a_column() {
        for (name, ..) in SITE_QUERYABLES {
            assert!(column(name).is_some(), "{name}");
        }
        assert_eq!(column("colour"), None);
    }
}
