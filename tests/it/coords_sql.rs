//! `gcj02_from_wgs84(geometry)` (migrations/0007_gcj02.sql) on a real PostGIS against the Rust formula it copies,
//! `domain::coords::wgs84_to_gcj02`: the same numbers on a grid over China and at the edges of its box, the
//! published reference pairs, every geometry type's structure kept vertex by vertex, no shift outside China,
//! and a round trip back through the Rust inverse.

use roadledger::domain::coords::{gcj02_to_wgs84, wgs84_to_gcj02};
use sqlx::PgPool;

/// The SQL and the Rust shift must agree to this, in degrees (~0.1 mm).
const AGREE_DEG: f64 = 1e-9;
/// The box of China of the public formula (coords.rs): a vertex outside it is not moved.
const LON_MIN: f64 = 72.004;
const LON_MAX: f64 = 137.8347;
const LAT_MIN: f64 = 0.8293;
const LAT_MAX: f64 = 55.8271;

/// The SQL shift of each point, one query for all (`unnest … with ordinality` keeps the order).
async fn sql_shift(pool: &PgPool, points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    let (lons, lats): (Vec<f64>, Vec<f64>) = points.iter().copied().unzip();
    let rows: Vec<(f64, f64, i32)> = sqlx::query_as(
        "select st_x(g), st_y(g), st_srid(g)
         from unnest($1::float8[], $2::float8[]) with ordinality as p (lon, lat, n)
         cross join lateral gcj02_from_wgs84(st_setsrid(st_makepoint(lon, lat), 4326)) g
         order by n",
    )
    .bind(&lons)
    .bind(&lats)
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), points.len());
    rows.into_iter()
        .map(|(x, y, srid)| {
            assert_eq!(srid, 4326);
            (x, y)
        })
        .collect()
}

fn assert_agrees(input: (f64, f64), sql: (f64, f64)) {
    let rust = wgs84_to_gcj02(input.0, input.1);
    assert!(
        (sql.0 - rust.0).abs() <= AGREE_DEG && (sql.1 - rust.1).abs() <= AGREE_DEG,
        "{input:?}: SQL {sql:?}, Rust {rust:?}"
    );
}

/// The float just above and just below a value.
fn next_up(x: f64) -> f64 {
    f64::from_bits(if x >= 0.0 { x.to_bits() + 1 } else { x.to_bits() - 1 })
}
fn next_down(x: f64) -> f64 {
    f64::from_bits(if x > 0.0 { x.to_bits() - 1 } else { x.to_bits() + 1 })
}

#[sqlx::test(migrations = "./migrations")]
async fn sql_shift_matches_the_rust_formula_on_a_grid_across_china(pool: PgPool) {
    // 0.73° by 0.61°: about 90 × 83 points over the whole box, on steps that do not line up with the sines'
    // periods, so every term of the formula takes many values.
    let mut points = Vec::new();
    let mut lon = LON_MIN;
    while lon <= LON_MAX {
        let mut lat = LAT_MIN;
        while lat <= LAT_MAX {
            points.push((lon, lat));
            lat += 0.61;
        }
        lon += 0.73;
    }
    assert!(points.len() > 7000, "{} points", points.len());

    let shifted = sql_shift(&pool, &points).await;

    let mut moved = 0;
    for (input, sql) in points.iter().zip(&shifted) {
        assert_agrees(*input, *sql);
        moved += usize::from(*sql != *input);
    }
    // Every grid point is inside the box, so every one moves: the test cannot pass on an identity function.
    assert_eq!(moved, points.len());
}

#[sqlx::test(migrations = "./migrations")]
async fn sql_shift_matches_the_rust_formula_at_the_edges_of_the_box(pool: PgPool) {
    // On each edge (inside, bounds included) and one float beyond it (outside), at the middle and the corners.
    let mid_lon = (LON_MIN + LON_MAX) / 2.0;
    let mid_lat = (LAT_MIN + LAT_MAX) / 2.0;
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for lat in [LAT_MIN, mid_lat, LAT_MAX] {
        inside.extend([(LON_MIN, lat), (LON_MAX, lat)]);
        outside.extend([(next_down(LON_MIN), lat), (next_up(LON_MAX), lat)]);
    }
    for lon in [LON_MIN, mid_lon, LON_MAX] {
        inside.extend([(lon, LAT_MIN), (lon, LAT_MAX)]);
        outside.extend([(lon, next_down(LAT_MIN)), (lon, next_up(LAT_MAX))]);
    }
    let points: Vec<_> = inside.iter().chain(&outside).copied().collect();

    let shifted = sql_shift(&pool, &points).await;

    for (input, sql) in points.iter().zip(&shifted) {
        assert_agrees(*input, *sql);
    }
    for (input, sql) in inside.iter().zip(&shifted) {
        assert_ne!(input, sql, "{input:?} is inside the box (bounds included) and must move");
    }
    for (input, sql) in outside.iter().zip(&shifted[inside.len()..]) {
        assert_eq!(input, sql, "{input:?} is outside the box and must not move");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn sql_shift_gives_the_published_reference_values(pool: PgPool) {
    // The pairs of coords.rs's unit tests, published with googollee/eviltransform (Shanghai, Shenzhen,
    // Beijing): (wgs lon, wgs lat, gcj lon, gcj lat).
    let cases = [
        (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
        (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
        (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    ];
    let points: Vec<_> = cases.iter().map(|c| (c.0, c.1)).collect();

    let shifted = sql_shift(&pool, &points).await;

    for ((lon, lat, want_lon, want_lat), (got_lon, got_lat)) in cases.into_iter().zip(shifted) {
        assert!((got_lon - want_lon).abs() < AGREE_DEG, "({lon}, {lat}) lon {got_lon} != {want_lon}");
        assert!((got_lat - want_lat).abs() < AGREE_DEG, "({lon}, {lat}) lat {got_lat} != {want_lat}");
    }
    // Zhangjiagang centre (coords.rs): +0.0042899° lon, -0.0021015° lat.
    let [(lon, lat)] = sql_shift(&pool, &[(120.55, 31.87)]).await[..] else { unreachable!() };
    assert!((0.00428..0.00430).contains(&(lon - 120.55)), "lon shift {}", lon - 120.55);
    assert!((-0.00211..-0.00209).contains(&(lat - 31.87)), "lat shift {}", lat - 31.87);
}

/// What PostGIS says about a geometry's structure.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct Shape {
    kind: String,
    srid: i32,
    parts: i32,
    vertices: i32,
    rings: Option<i32>,
    /// `st_numinteriorrings` of each polygon in order (`st_dump`), or of the polygon itself.
    holes: Vec<i32>,
    valid: bool,
}

async fn shape(pool: &PgPool, wkt: &str, shifted: bool) -> Shape {
    sqlx::query_as(
        "select st_geometrytype(g) kind, st_srid(g) srid, st_numgeometries(g) parts, st_npoints(g) vertices,
                st_nrings(g) rings,
                array(select coalesce(st_numinteriorrings(d.geom), -1) from st_dump(g) d order by d.path) holes,
                st_isvalid(g) valid
         from (select case when $2 then gcj02_from_wgs84(st_geomfromewkt($1)) else st_geomfromewkt($1) end g) s",
    )
    .bind(wkt)
    .bind(shifted)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A vertex's `st_dumppoints` path, and its position before and after the shift (None: no such vertex).
type VertexPair = (Vec<i32>, Option<(f64, f64)>, Option<(f64, f64)>);

/// Every vertex of the geometry and of its shift, matched by their `st_dumppoints` path (an outer join, so a
/// vertex missing or added on either side shows as a null).
async fn vertex_pairs(pool: &PgPool, wkt: &str) -> Vec<VertexPair> {
    type Row = (Vec<i32>, Option<f64>, Option<f64>, Option<f64>, Option<f64>);
    let rows: Vec<Row> = sqlx::query_as(
        "with g as (select st_geomfromewkt($1) g)
         select coalesce(a.path, b.path), st_x(a.geom), st_y(a.geom), st_x(b.geom), st_y(b.geom)
         from (select (st_dumppoints(g)).* from g) a
         full join (select (st_dumppoints(gcj02_from_wgs84(g))).* from g) b on a.path = b.path
         order by 1",
    )
    .bind(wkt)
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|(path, ax, ay, bx, by)| (path, ax.zip(ay), bx.zip(by))).collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn every_geometry_type_keeps_its_structure_and_every_vertex_is_shifted(pool: PgPool) {
    // Around Zhangjiagang (120.3–120.8, 31.75–32.05), where the shift is ~470 m: big enough to move a vertex
    // across a hole's edge if parts or rings were mixed up.
    let cases = [
        "SRID=4326;POINT(120.55 31.87)",
        "SRID=4326;LINESTRING(120.40 31.80,120.45 31.85,120.50 31.83,120.62 31.95)",
        // A shell with two holes.
        "SRID=4326;POLYGON((120.3 31.75,120.8 31.75,120.8 32.05,120.3 32.05,120.3 31.75),\
         (120.35 31.8,120.4 31.8,120.4 31.85,120.35 31.85,120.35 31.8),\
         (120.6 31.9,120.7 31.9,120.65 31.97,120.6 31.9))",
        "SRID=4326;MULTIPOINT((120.41 31.82),(120.55 31.87),(120.62 31.95))",
        "SRID=4326;MULTIPOINT((120.41 31.82))",
        "SRID=4326;MULTILINESTRING((120.4 31.8,120.45 31.85),(120.5 31.83,120.62 31.95,120.7 32.0))",
        // Two polygons, the second with a hole.
        "SRID=4326;MULTIPOLYGON(((120.3 31.75,120.4 31.75,120.4 31.85,120.3 31.75)),\
         ((120.5 31.8,120.8 31.8,120.8 32.0,120.5 32.0,120.5 31.8),\
         (120.6 31.85,120.7 31.85,120.7 31.95,120.6 31.85)))",
        "SRID=4326;MULTIPOLYGON(((120.3 31.75,120.4 31.75,120.4 31.85,120.3 31.75)))",
        // A collection of one type must stay a collection; nested collections stay nested.
        "SRID=4326;GEOMETRYCOLLECTION(POLYGON((120.3 31.75,120.4 31.75,120.4 31.85,120.3 31.75)),\
         POLYGON((120.5 31.8,120.6 31.8,120.6 31.9,120.5 31.8)))",
        "SRID=4326;GEOMETRYCOLLECTION(POINT(120.55 31.87),LINESTRING(120.4 31.8,120.45 31.85),\
         GEOMETRYCOLLECTION(MULTIPOINT((120.41 31.82),(120.42 31.83)),\
         POLYGON((120.5 31.8,120.8 31.8,120.8 32.0,120.5 31.8),(120.6 31.82,120.7 31.82,120.7 31.9,120.6 31.82))))",
    ];
    for wkt in cases {
        let before = shape(&pool, wkt, false).await;

        let after = shape(&pool, wkt, true).await;

        assert_eq!(after, before, "{wkt}");
        assert!(after.valid, "{wkt}");
        let pairs = vertex_pairs(&pool, wkt).await;
        assert_eq!(pairs.len(), usize::try_from(before.vertices).unwrap(), "{wkt}");
        for (path, input, output) in pairs {
            let (Some(input), Some(output)) = (input, output) else {
                panic!("{wkt}: vertex {path:?} is {input:?} before and {output:?} after");
            };
            assert_ne!(input, output, "{wkt}: vertex {path:?} did not move");
            assert_agrees(input, output);
        }
    }
    // A nested collection outside China, as text: the whole shape at once.
    let nested: String = sqlx::query_scalar(
        "select st_astext(gcj02_from_wgs84(st_geomfromewkt(\
         'SRID=4326;GEOMETRYCOLLECTION(MULTIPOINT((0 0),(1 1)),GEOMETRYCOLLECTION(POINT(2 2)))')))",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(nested, "GEOMETRYCOLLECTION(MULTIPOINT((0 0),(1 1)),GEOMETRYCOLLECTION(POINT(2 2)))");
}

#[sqlx::test(migrations = "./migrations")]
async fn geometries_outside_china_are_unchanged(pool: PgPool) {
    let cases = [
        "SRID=4326;POINT(139.69 35.69)",
        "SRID=4326;LINESTRING(-0.1276 51.5072,2.35 48.86)",
        "SRID=4326;POLYGON((151.1 -33.9,151.3 -33.9,151.3 -33.8,151.1 -33.9))",
        "SRID=4326;MULTIPOINT((0 0),(-74.006 40.7128))",
        "SRID=4326;GEOMETRYCOLLECTION(POINT(-179.9 31),LINESTRING(72 40,72 41))",
    ];
    for wkt in cases {
        let same: bool = sqlx::query_scalar(
            "select st_asewkb(gcj02_from_wgs84(st_geomfromewkt($1))) = st_asewkb(st_geomfromewkt($1))",
        )
        .bind(wkt)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert!(same, "{wkt} changed");
    }
    // A line from Kashgar out across the border: the vertex inside moves, the one outside does not.
    let pairs = vertex_pairs(&pool, "SRID=4326;LINESTRING(75.99 39.47,71.5 39.47)").await;
    let [(_, Some(kashgar), Some(kashgar_gcj)), (_, Some(beyond), Some(beyond_gcj))] = &pairs[..] else {
        panic!("{pairs:?}");
    };
    assert_ne!(kashgar, kashgar_gcj);
    assert_agrees(*kashgar, *kashgar_gcj);
    assert_eq!(beyond, beyond_gcj);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_rust_inverse_of_the_sql_shift_returns_the_input(pool: PgPool) {
    let mut points = Vec::new();
    for i in 0..40 {
        for j in 0..40 {
            points.push((73.0 + 64.0 * f64::from(i) / 39.0, 1.0 + 54.5 * f64::from(j) / 39.0));
        }
    }

    let shifted = sql_shift(&pool, &points).await;

    for (input, (lon, lat)) in points.iter().zip(shifted) {
        let back = gcj02_to_wgs84(lon, lat);
        assert!(
            (back.0 - input.0).abs() < 1e-7 && (back.1 - input.1).abs() < 1e-7,
            "{input:?} → ({lon}, {lat}) → {back:?}"
        );
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn null_empty_z_and_unsupported_geometries(pool: PgPool) {
    let null: Option<String> =
        sqlx::query_scalar("select st_astext(gcj02_from_wgs84(null::geometry))").fetch_one(&pool).await.unwrap();
    assert_eq!(null, None);

    let empty: String = sqlx::query_scalar("select st_asewkt(gcj02_from_wgs84('SRID=4326;LINESTRING EMPTY'))")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(empty, "SRID=4326;LINESTRING EMPTY");

    // Z is dropped (the map is 2D); x and y are shifted as without it.
    let (dims, x, y): (i16, f64, f64) = sqlx::query_as(
        "select st_ndims(g), st_x(g), st_y(g) from gcj02_from_wgs84('SRID=4326;POINT Z (120.55 31.87 12)') g",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(dims, 2);
    assert_agrees((120.55, 31.87), (x, y));

    let err = sqlx::query("select gcj02_from_wgs84('SRID=4326;CIRCULARSTRING(120 31,120.5 31.5,121 31)')")
        .execute(&pool)
        .await
        .unwrap_err();
    let db = err.as_database_error().expect("a database error");
    assert_eq!(db.code().as_deref(), Some("22023"));
    assert!(db.message().contains("ST_CircularString is not supported"), "{}", db.message());

    // Declared so that the planner may fold it, skip it on null, and run it in parallel workers.
    let (volatility, strict, parallel): (String, bool, String) = sqlx::query_as(
        "select provolatile::text, proisstrict, proparallel::text from pg_proc
         where oid = 'gcj02_from_wgs84(geometry)'::regprocedure",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((volatility.as_str(), strict, parallel.as_str()), ("i", true, "s"));
}
