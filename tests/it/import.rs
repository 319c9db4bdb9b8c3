//! County data import against real PostGIS: the test county's files in every format (tests/data/county/),
//! dry runs, idempotent re-imports, broken files that change nothing, re-derived sites, stakes both ways
//! through the API, organisations and a town officer who sees only their town, and metric work far from
//! 120°E (Xinjiang at 87°E, Heilongjiang at 126°E).

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, app, observation};
use roadledger::import::{
    self, ImportError, ImportKind, ImportOptions, ImportProgress, ImportReport, Importer, OptionsInput,
};
use serde_json::{Value, json};
use sqlx::PgPool;

const COUNTY: &str = "320582";

fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(path)
}

fn options(file: &Path) -> ImportOptions {
    ImportOptions::new(
        file.file_name().unwrap().to_string_lossy(),
        Importer { name: "测试 test".into(), user_id: None },
    )
}

async fn run(
    pool: &PgPool,
    kind: ImportKind,
    file: &Path,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    import::run(pool, kind, file, options, Arc::new(ImportProgress::default())).await
}

async fn import_ok(pool: &PgPool, kind: ImportKind, file: &Path) -> ImportReport {
    run(pool, kind, file, &options(file)).await.unwrap_or_else(|e| panic!("{}: {e}: {e:?}", file.display()))
}

/// The test county's towns and roads, as a county office loads them.
async fn load_county(pool: &PgPool) {
    import_ok(pool, ImportKind::Towns, &data("county/towns.geojson")).await;
    import_ok(pool, ImportKind::Roads, &data("county/roads-gbk")).await;
}

/// Everything an import may write, as one comparable value: rows of every places table, byte for byte.
async fn places_state(pool: &PgPool) -> Value {
    sqlx::query_scalar(
        "select json_build_object(
             'towns', (select json_agg(json_build_object('code', admin_code, 'name', name,
                          'boundary', md5(st_asbinary(boundary))) order by admin_code) from town),
             'roads', (select json_agg(json_build_object('key', coalesce(route_code, source_id), 'name', name,
                          'geom', md5(st_asbinary(geom)), 'geom_m', md5(st_asbinary(geom_m))) order by route_code, source_id)
                       from road),
             'breaks', (select count(*) from road_chainage_break),
             'organisations', (select json_agg(json_build_object('name', name, 'kind', kind, 'town', town_id) order by name)
                       from organisation),
             'imports', (select count(*) from place_import),
             'history', (select count(*) from road_history) + (select count(*) from town_history),
             'sites', (select json_agg(json_build_object('id', id, 'road', road_id, 'stake', stake_text, 'town', town_id,
                          'version', version) order by id) from site),
             'events', (select count(*) from site_event))",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

/// A road feature of the test data's GeoJSON: route code (or none), name, start and end stake, coordinates.
type RoadFeature = (Option<String>, String, Option<String>, Option<String>, Vec<[f64; 2]>);

fn roads_geojson() -> Vec<RoadFeature> {
    let text = std::fs::read_to_string(data("county/roads.geojson")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let p = &f["properties"];
            let s = |k: &str| p[k].as_str().map(str::to_owned).or_else(|| p[k].as_f64().map(|v| format!("{v}")));
            let coords = f["geometry"]["coordinates"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()])
                .collect();
            (s("route_code"), p["name"].as_str().unwrap().to_owned(), s("start_stake"), s("end_stake"), coords)
        })
        .collect()
}

fn stake_m(text: &str) -> f64 {
    roadledger::domain::stake::Stake::parse(text).map(|s| s.metres).or_else(|_| text.parse()).unwrap()
}

/// Geodesic length (metres, on the ellipsoid, as PostGIS measures it) of a path.
async fn geodesic(pool: &PgPool, path: &[[f64; 2]]) -> f64 {
    let coords: Vec<String> = path.iter().map(|[x, y]| format!("{x} {y}")).collect();
    sqlx::query_scalar("select st_length(st_geomfromtext($1, 4326)::geography)")
        .bind(format!("LINESTRING({})", coords.join(",")))
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Great-circle distance (metres), for distances between points that should coincide.
fn haversine([lon1, lat1]: [f64; 2], [lon2, lat2]: [f64; 2]) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let (dp, dl) = (p2 - p1, (lon2 - lon1).to_radians());
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6_371_008.8 * a.sqrt().asin()
}

fn admin_request(method: &str, uri: &str, token: &str, content_type: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap()
}

/// A multipart upload: the options JSON and files (part name, file name, bytes).
fn import_upload(options: &Value, files: &[(&str, &str, Vec<u8>)]) -> (String, Vec<u8>) {
    let boundary = "import-boundary-58d2";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"options\"\r\nContent-Type: application/json\r\n\r\n{options}\r\n"
    )
    .into_bytes();
    for (part, name, bytes) in files {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{name}\"\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn admin_token(app: &TestApp) -> String {
    let city = common::organisation(&app.pool, "city_office").await;
    common::token_for(&app.pool, "admin", "管理员", "admin", city).await
}

#[sqlx::test]
async fn towns_and_a_gbk_shapefile_of_roads_come_back_exactly(pool: PgPool) {
    let towns = import_ok(&pool, ImportKind::Towns, &data("county/towns.geojson")).await;
    assert_eq!((towns.inserted, towns.updated, towns.applied), (3, 0, true));
    let names: Vec<(String, String)> =
        sqlx::query_as("select admin_code, name from town order by admin_code").fetch_all(&pool).await.unwrap();
    assert_eq!(
        names,
        [("320582100", "杨舍镇"), ("320582101", "塘桥镇"), ("320582102", "凤凰镇")]
            .map(|(c, n)| (c.to_owned(), n.to_owned()))
    );

    let roads = import_ok(&pool, ImportKind::Roads, &data("county/roads-gbk")).await;
    assert_eq!(roads.file.encoding.as_deref(), Some("GBK (from roads.cpg)"));
    assert_eq!(roads.file.fields["LXMC"], "name");
    assert_eq!(roads.features_read, 9);
    // X202 is drawn in two parts: one road. The two village roads have no route code.
    assert_eq!(roads.inserted, 8);
    let stored: Vec<(Option<String>, Option<String>)> =
        sqlx::query_as("select route_code, name from road order by route_code, name").fetch_all(&pool).await.unwrap();
    let stored: std::collections::BTreeSet<_> = stored.into_iter().collect();
    let expected: std::collections::BTreeSet<_> =
        roads_geojson().into_iter().map(|(code, name, ..)| (code, Some(name))).collect();
    assert_eq!(stored, expected, "the GBK names read back exactly as the UTF-8 GeoJSON has them");
    let parts: i32 = sqlx::query_scalar("select st_numgeometries(geom) from road where route_code = 'X202'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(parts, 2);
    let uncoded: Vec<(Option<String>, bool)> =
        sqlx::query_as("select source_id, geom_m is null from road where route_code is null order by name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(uncoded.len(), 2);
    assert!(uncoded.iter().all(|(id, no_stakes)| id.is_some() && *no_stakes), "{uncoded:?}");

    // The history names the file by its hash.
    let (kind, sha, by): (String, String, String) = sqlx::query_as(
        "select kind, encode(file_sha256, 'hex'), imported_by from place_import order by id desc limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), sha.as_str(), by.as_str()), ("roads", roads.file.sha256.as_str(), "测试 test"));
}

#[sqlx::test]
async fn every_format_gives_the_same_roads(pool: PgPool) {
    load_county(&pool).await;
    let before = places_state(&pool).await;
    // The same roads as GeoJSON, zipped shapefile and GeoPackage: nothing to change.
    for file in ["county/roads.geojson", "county/roads-gbk.zip", "county/roads.gpkg", "county/roads-gbk/roads.shp"] {
        let report = import_ok(&pool, ImportKind::Roads, &data(file)).await;
        assert_eq!((report.inserted, report.updated, report.applied), (0, 0, false), "{file}: {report:?}");
        assert_eq!(report.unchanged, 8, "{file}");
    }
    assert_eq!(places_state(&pool).await, before, "re-imports of the same roads change nothing, record nothing");
}

#[sqlx::test]
async fn osm_roads_keep_their_refs_and_names_and_skip_footways(pool: PgPool) {
    import_ok(&pool, ImportKind::Towns, &data("county/towns.geojson")).await;
    let report = import_ok(&pool, ImportKind::Roads, &data("county/roads.osm.pbf")).await;
    assert_eq!(report.file.format, "osm_pbf");
    let roads: Vec<(Option<String>, Option<String>, Option<String>)> =
        sqlx::query_as("select route_code, source_id, name from road order by route_code, name")
            .fetch_all(&pool)
            .await
            .unwrap();
    let coded: Vec<&str> = roads.iter().filter_map(|r| r.0.as_deref()).collect();
    assert_eq!(coded, ["C001", "C002", "X202", "X203", "Y101", "Y102"]);
    let uncoded: Vec<_> = roads.iter().filter(|r| r.0.is_none()).collect();
    assert_eq!(uncoded.len(), 2, "{roads:?}");
    assert!(uncoded.iter().all(|r| r.1.as_deref().is_some_and(|id| id.starts_with("osm:w"))), "{uncoded:?}");
    assert!(roads.iter().all(|r| r.2.as_deref() != Some("") && r.2.is_some()), "every way has its name: {roads:?}");
    let footways: i64 = sqlx::query_scalar(
        "select count(*) from road where name like '%步行%' or source_id is null and route_code is null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(footways, 0);
    // Idempotent too.
    let again = import_ok(&pool, ImportKind::Roads, &data("county/roads.osm.pbf")).await;
    assert_eq!((again.inserted, again.updated), (0, 0));
}

#[sqlx::test]
async fn projected_and_cgcs2000_prj_files_land_where_the_geojson_does(pool: PgPool) {
    import_ok(&pool, ImportKind::Towns, &data("county/towns.geojson")).await;
    for folder in ["county/towns-4549", "county/towns-4549-esri", "county/towns-4549-ogc", "county/towns-4490"] {
        let mut opts = options(&data(folder));
        opts.dry_run = true;
        let report = run(&pool, ImportKind::Towns, &data(folder), &opts).await.unwrap();
        let expected = if folder.contains("4549") { "EPSG:4549" } else { "EPSG:4490" };
        assert_eq!(report.file.crs.as_deref(), Some(expected), "{folder}");
        assert_eq!(report.features_read, 3, "{folder}");
    }
    // Projected coordinates come back to the same boundaries within a centimetre.
    sqlx::query("create table town_from_geojson as select admin_code, boundary from town")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("delete from town").execute(&pool).await.unwrap();
    import_ok(&pool, ImportKind::Towns, &data("county/towns-4549")).await;
    let worst: f64 = sqlx::query_scalar(
        "select max(st_hausdorffdistance(st_transform(t.boundary, 4549), st_transform(g.boundary, 4549)))
         from town t join town_from_geojson g using (admin_code)",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(worst < 0.01, "towns from EPSG:4549 are {worst} m off");
}

#[sqlx::test]
async fn a_dry_run_writes_nothing(pool: PgPool) {
    let before = places_state(&pool).await;
    for (kind, file) in [(ImportKind::Towns, "county/towns.geojson"), (ImportKind::Roads, "county/roads.geojson")] {
        let mut opts = options(&data(file));
        opts.dry_run = true;
        opts.county = Some(COUNTY.into());
        let report = run(&pool, kind, &data(file), &opts).await.unwrap();
        assert!(report.inserted > 0 && !report.applied && report.import_id.is_none(), "{report:?}");
    }
    assert_eq!(places_state(&pool).await, before);
}

#[sqlx::test]
async fn broken_files_get_clear_errors_and_change_nothing(pool: PgPool) {
    load_county(&pool).await;
    let before = places_state(&pool).await;
    let dir = tempfile::tempdir().unwrap();

    // A shapefile without its .dbf.
    let no_dbf = dir.path().join("no-dbf");
    std::fs::create_dir(&no_dbf).unwrap();
    for ext in ["shp", "shx", "prj", "cpg"] {
        std::fs::copy(data(&format!("county/roads-gbk/roads.{ext}")), no_dbf.join(format!("roads.{ext}"))).unwrap();
    }
    let e = run(&pool, ImportKind::Roads, &no_dbf, &options(&no_dbf)).await.unwrap_err();
    assert!(matches!(&e, ImportError::Read(r) if r.code() == "missing_file"), "{e:?}");
    assert!(e.to_string().contains(".dbf"), "{e}");

    // GBK text read as UTF-8.
    let mut utf8 = options(&data("county/roads-gbk"));
    utf8.encoding = Some(encoding_rs::UTF_8);
    let e = run(&pool, ImportKind::Roads, &data("county/roads-gbk"), &utf8).await.unwrap_err();
    assert!(matches!(&e, ImportError::Read(r) if r.code() == "bad_encoding"), "{e:?}");
    assert!(e.to_string().contains("--encoding"), "{e}");

    // A PBF cut in half, and one whose blob header claims 2 GB.
    let pbf = std::fs::read(data("county/roads.osm.pbf")).unwrap();
    let cut = dir.path().join("cut.osm.pbf");
    std::fs::write(&cut, &pbf[..pbf.len() / 2]).unwrap();
    let e = run(&pool, ImportKind::Roads, &cut, &options(&cut)).await.unwrap_err();
    assert!(matches!(&e, ImportError::Read(r) if r.code() == "truncated"), "{e:?}");
    let mut huge = pbf.clone();
    let header_len = u32::from_be_bytes(huge[..4].try_into().unwrap()) as usize;
    // The BlobHeader's datasize field (tag 3, varint) is its last: rewrite it to 2^31.
    let header = &mut huge[4..4 + header_len];
    let at = header.iter().rposition(|b| *b == 0x18).unwrap();
    let mut claimed = header[..at + 1].to_vec();
    claimed.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x08]);
    let mut forged = ((claimed.len()) as u32).to_be_bytes().to_vec();
    forged.extend_from_slice(&claimed);
    forged.extend_from_slice(&pbf[4 + header_len..]);
    let big = dir.path().join("claims-2gb.osm.pbf");
    std::fs::write(&big, &forged).unwrap();
    let e = run(&pool, ImportKind::Roads, &big, &options(&big)).await.unwrap_err();
    assert!(matches!(&e, ImportError::Read(r) if ["limit", "truncated"].contains(&r.code())), "{e:?}");

    // A town whose boundary collapses when repaired, beside a duplicate admin code and a town in the sea off
    // Africa: all reported with their feature numbers, none imported.
    let broken = dir.path().join("broken-towns.geojson");
    std::fs::write(
        &broken,
        json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"admin_code": "320582103", "name": "线镇"},
             "geometry": {"type": "Polygon", "coordinates": [[[120.6, 31.8], [120.61, 31.8], [120.62, 31.8], [120.6, 31.8]]]}},
            {"type": "Feature", "properties": {"admin_code": "320582104", "name": "甲镇"},
             "geometry": {"type": "Polygon", "coordinates": [[[120.6, 31.8], [120.61, 31.8], [120.61, 31.81], [120.6, 31.8]]]}},
            {"type": "Feature", "properties": {"admin_code": "320582104", "name": "乙镇"},
             "geometry": {"type": "Polygon", "coordinates": [[[120.62, 31.8], [120.63, 31.8], [120.63, 31.81], [120.62, 31.8]]]}},
            {"type": "Feature", "properties": {"admin_code": "32058210X", "name": "坏码镇"},
             "geometry": {"type": "Polygon", "coordinates": [[[120.62, 31.8], [120.63, 31.8], [120.63, 31.81], [120.62, 31.8]]]}},
            {"type": "Feature", "properties": {"admin_code": "320582105", "name": "海镇"},
             "geometry": {"type": "Polygon", "coordinates": [[[10.0, 0.0], [10.1, 0.0], [10.1, 0.1], [10.0, 0.0]]]}},
            {"type": "Feature", "properties": {"admin_code": "320582106", "name": "空镇"}, "geometry": null}
        ]})
        .to_string(),
    )
    .unwrap();
    let ImportError::Refused(report) = run(&pool, ImportKind::Towns, &broken, &options(&broken)).await.unwrap_err()
    else {
        panic!("refused expected")
    };
    let by_feature: Vec<(Option<u64>, &str)> =
        report.problems.iter().map(|p| (p.feature, p.problem.as_str())).collect();
    let has = |n: u64, text: &str| by_feature.iter().any(|(f, p)| *f == Some(n) && p.contains(text));
    assert!(has(1, "no area once repaired"), "{by_feature:?}");
    assert!(has(2, "appears 2 times"), "{by_feature:?}");
    assert!(has(4, "not a number of 9 digits"), "{by_feature:?}");
    assert!(has(5, "outside China"), "{by_feature:?}");
    assert!(has(6, "no geometry"), "{by_feature:?}");
    assert!(report.problems[3].attributes.is_some() || report.problems.iter().any(|p| p.attributes.is_some()));

    // A shapefile without .prj and without --crs is refused, not guessed.
    let no_prj = dir.path().join("no-prj");
    std::fs::create_dir(&no_prj).unwrap();
    for ext in ["shp", "shx", "dbf", "cpg"] {
        std::fs::copy(data(&format!("county/roads-gbk/roads.{ext}")), no_prj.join(format!("roads.{ext}"))).unwrap();
    }
    let e = run(&pool, ImportKind::Roads, &no_prj, &options(&no_prj)).await.unwrap_err();
    assert!(matches!(e, ImportError::Options(ref m) if m.contains("--crs")), "{e:?}");
    // Told the coordinate system, the same files import (and change nothing: they are the same roads).
    let mut told = options(&no_prj);
    told.crs = Some(import::CoordSystem::parse("EPSG:4326").unwrap());
    assert_eq!(run(&pool, ImportKind::Roads, &no_prj, &told).await.unwrap().unchanged, 8);

    // Lon/lat coordinates said to be Gauss-Krüger metres.
    let mut wrong = options(&data("county/roads.geojson"));
    wrong.crs = Some(import::CoordSystem::parse("EPSG:4549").unwrap());
    let ImportError::Refused(report) =
        run(&pool, ImportKind::Roads, &data("county/roads.geojson"), &wrong).await.unwrap_err()
    else {
        panic!("refused expected")
    };
    assert!(report.problems[0].problem.contains("look like longitude and latitude"), "{:?}", report.problems[0]);

    assert_eq!(places_state(&pool).await, before, "nothing was written by any broken file");
}

#[sqlx::test]
async fn an_invalid_boundary_is_repaired_and_reported(pool: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let bowtie = dir.path().join("bowtie.geojson");
    std::fs::write(
        &bowtie,
        json!({"type": "Feature", "properties": {"admin_code": "320582107", "name": "蝶形镇"},
               "geometry": {"type": "Polygon", "coordinates": [[[120.6, 31.8], [120.62, 31.82], [120.62, 31.8], [120.6, 31.82], [120.6, 31.8]]]}})
        .to_string(),
    )
    .unwrap();
    let report = import_ok(&pool, ImportKind::Towns, &bowtie).await;
    assert_eq!(report.inserted, 1);
    assert_eq!(report.repaired.len(), 1, "{report:?}");
    assert!(report.repaired[0].repair.contains("Self-intersection"), "{:?}", report.repaired);
    let (valid, parts): (bool, i32) =
        sqlx::query_as("select st_isvalid(boundary), st_numgeometries(boundary) from town")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((valid, parts), (true, 2), "the bow-tie becomes its two triangles");
}

#[sqlx::test]
async fn stakes_go_both_ways_through_the_api_within_a_metre(pool: PgPool) {
    let app = app(pool.clone()).await;
    load_county(&pool).await;
    for (code, _, start, end, coords) in roads_geojson().into_iter().filter(|r| r.0.is_some()) {
        let (start, end) = (stake_m(start.as_deref().unwrap()), stake_m(end.as_deref().unwrap()));
        let total = geodesic(&pool, &coords).await;
        // Every vertex of every part: its stake is the part's start plus its share of the stakes' span.
        for (i, vertex) in coords.iter().enumerate() {
            let along = if i == 0 { 0.0 } else { geodesic(&pool, &coords[..=i]).await };
            let expected = start + (end - start) * along / total;
            let code = code.as_deref().unwrap();
            let located = app.get(&format!("/api/v1/roads/locate?lon={}&lat={}", vertex[0], vertex[1])).await;
            assert_eq!(located.status, StatusCode::OK, "{}", String::from_utf8_lossy(&located.bytes));
            let located = located.json();
            // Where two routes meet, the other one may answer: that vertex is checked from the other route.
            if located["route_code"] != code {
                assert!(located["offset_m"].as_f64().unwrap() < 0.5, "{code} vertex {i}: {located}");
                continue;
            }
            let got = located["stake_m"].as_f64().unwrap();
            assert!((got - expected).abs() < 1.0, "{code} vertex {i}: stake {got}, expected {expected}");

            let text =
                roadledger::domain::stake::Stake::new(roadledger::domain::stake::Carriageway::Single, expected.round())
                    .unwrap()
                    .to_string();
            let point = app.get(&format!("/api/v1/roads/{code}/locate?stake={}", text.replace('+', "%2B"))).await;
            assert_eq!(point.status, StatusCode::OK, "{code} {text}: {}", String::from_utf8_lossy(&point.bytes));
            let c = point.json()["geometry"]["coordinates"].clone();
            let back = [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()];
            assert!(
                haversine(back, *vertex) < 1.0 + (expected.round() - expected).abs(),
                "{code} {text}: {back:?} vs {vertex:?}"
            );
        }
    }
    // A + sent unencoded arrives as a space and still reads.
    assert_eq!(app.get("/api/v1/roads/X202/locate?stake=K1+000").await.status, StatusCode::OK);
    // Beyond the end of the road: 422 naming the road's stakes.
    let beyond = app.get("/api/v1/roads/X202/locate?stake=K99%2B000").await;
    assert_eq!(beyond.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(beyond.json()["code"], "stake_off_road");
    assert_eq!(beyond.json()["first_stake"], "K0+000");
    assert_eq!(app.get("/api/v1/roads/X999/locate?stake=K1%2B000").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/api/v1/roads/X202/locate?stake=12km").await.status, StatusCode::BAD_REQUEST);
    // Off the road: the side and the offset; too far: 404.
    let (_, _, _, _, x202) = &roadledger_x202();
    let beside = common::north_of(x202[0], 20.0);
    let located = app.get(&format!("/api/v1/roads/locate?lon={}&lat={}", beside[0], beside[1])).await.json();
    // 20 m north of a road running north-east is about 16 m from it.
    let offset = located["offset_m"].as_f64().unwrap();
    assert!((10.0..20.0).contains(&offset), "{located}");
    assert_eq!(located["side"], "left", "north of a road drawn eastwards is its left");
    let far = common::north_of(x202[0], 5_000.0);
    assert_eq!(
        app.get(&format!("/api/v1/roads/locate?lon={}&lat={}", far[0], far[1])).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.get("/api/v1/roads/locate?lon=500&lat=31").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(app.get("/api/v1/roads/locate?lon=120.5&lat=31.8&radius_m=99999").await.status, StatusCode::BAD_REQUEST);
}

fn roadledger_x202() -> RoadFeature {
    roads_geojson().into_iter().find(|r| r.0.as_deref() == Some("X202")).unwrap()
}

#[sqlx::test]
async fn an_observation_after_import_gets_its_town_road_and_stake(pool: PgPool) {
    let app = app(pool.clone()).await;
    load_county(&pool).await;
    let (_, _, start, end, coords) = roadledger_x202();
    let (start, end) = (stake_m(start.as_deref().unwrap()), stake_m(end.as_deref().unwrap()));
    let at = coords[1];
    let expected = start + (end - start) * geodesic(&pool, &coords[..2]).await / geodesic(&pool, &coords).await;

    let obs = observation("intersection", json!(at));
    let answer = app.upload(&obs, &[]).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&answer.bytes));
    let (town, route, stake): (String, Option<String>, f64) =
        sqlx::query_as("select t.name, s.route_code, s.stake_m from site s join town t on t.id = s.town_id")
            .fetch_one(&pool)
            .await
            .unwrap();
    let town_of_point: String =
        sqlx::query_scalar("select name from town where st_intersects(boundary, st_setsrid(st_point($1, $2), 4326))")
            .bind(at[0])
            .bind(at[1])
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(town, town_of_point);
    assert_eq!(route.as_deref(), Some("X202"));
    assert!((stake - expected).abs() <= 1.0, "stake {stake}, expected {expected}");

    // On a village road without a route code: the site shows the road's name, and no stake.
    let (_, name, _, _, lane) = roads_geojson().into_iter().find(|r| r.0.is_none()).unwrap();
    let answer = app.upload(&observation("intersection", json!(lane[0])), &[]).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let site = answer.json()["site"]["id"].as_str().unwrap().to_owned();
    let props = app.get(&format!("/api/v1/sites/{site}")).await.json()["properties"].clone();
    assert_eq!(
        (props["road_name"].as_str(), props["road_code"].as_str(), props["stake"].as_str()),
        (Some(name.as_str()), None, None)
    );
}

#[sqlx::test]
async fn a_newer_road_layer_rederives_open_sites_and_keeps_history(pool: PgPool) {
    let app = app(pool.clone()).await;
    load_county(&pool).await;
    let (_, _, _, _, coords) = roadledger_x202();
    let answer = app.upload(&observation("intersection", json!(coords[1])), &[]).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let site: uuid::Uuid = sqlx::query_scalar("select id from site").fetch_one(&pool).await.unwrap();
    let (stake_before, version_before): (String, i32) =
        sqlx::query_as("select stake_text, version from site").fetch_one(&pool).await.unwrap();

    // The county re-surveys X202: its stakes now start at K1+000.
    let dir = tempfile::tempdir().unwrap();
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(data("county/roads.geojson")).unwrap()).unwrap();
    for f in doc["features"].as_array_mut().unwrap() {
        if f["properties"]["route_code"] == "X202" {
            for key in ["start_stake", "end_stake"] {
                let m = stake_m(f["properties"][key].as_str().unwrap()) + 1000.0;
                f["properties"][key] = json!(m);
            }
        }
    }
    let newer = dir.path().join("roads-2027.geojson");
    std::fs::write(&newer, doc.to_string()).unwrap();
    let site_geom_before: String =
        sqlx::query_scalar("select st_astext(geom) from site").fetch_one(&pool).await.unwrap();

    let mut dry = options(&newer);
    dry.dry_run = true;
    let preview = run(&pool, ImportKind::Roads, &newer, &dry).await.unwrap();
    assert_eq!((preview.updated, preview.sites_changed.len()), (1, 1), "{preview:?}");
    let report = import_ok(&pool, ImportKind::Roads, &newer).await;
    assert_eq!((report.inserted, report.updated, report.unchanged), (0, 1, 7));
    assert_eq!(report.sites_changed.len(), 1);
    let change = &report.sites_changed[0];
    assert_eq!((change.site_id, change.field), (site, "road"));
    assert_eq!(change.before, format!("X202 {stake_before}"));

    let (stake_after, version_after, geom_after): (f64, i32, String) =
        sqlx::query_as("select stake_m, version, st_astext(geom) from site").fetch_one(&pool).await.unwrap();
    assert!((stake_after - stake_m(&stake_before) - 1000.0).abs() <= 1.0, "{stake_before} → {stake_after}");
    assert_eq!(version_after, version_before + 1, "clients holding the old ETag must re-read");
    assert_eq!(geom_after, site_geom_before, "the site itself never moves");
    let event: (String, Value) =
        sqlx::query_as("select kind, data from site_event where site_id = $1 order by id desc limit 1")
            .bind(site)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(event.0, "road_changed");
    assert_eq!(event.1["import_id"], json!(report.import_id.unwrap()));
    let history: Vec<String> = sqlx::query_scalar(
        "select r.route_code from road_history h join road r on r.id = h.road_id where h.import_id = $1",
    )
    .bind(report.import_id.unwrap())
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(history, ["X202"]);
}

#[sqlx::test]
async fn chainage_breaks_shift_the_stakes_behind_them(pool: PgPool) {
    let app = app(pool.clone()).await;
    load_county(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let breaks = dir.path().join("断链.csv");
    // A short chain on X203 at K3+000: the stakes jump to K3+050.
    std::fs::write(&breaks, "\u{feff}路线编码,断链前桩号,断链后桩号\nX203,K3+000,K3+050\n").unwrap();
    let before = app.get("/api/v1/roads/X203/locate?stake=K5%2B000").await.json();
    let report = import_ok(&pool, ImportKind::ChainageBreaks, &breaks).await;
    assert_eq!(report.inserted, 1);
    let after = app.get("/api/v1/roads/X203/locate?stake=K5%2B050").await.json();
    assert_eq!(before["geometry"], after["geometry"], "K5+050 after the break is where K5+000 was");
    let skipped = app.get("/api/v1/roads/X203/locate?stake=K3%2B020").await;
    assert_eq!(skipped.status, StatusCode::UNPROCESSABLE_ENTITY, "the short chain skips K3+020");
    let c = before["geometry"]["coordinates"].clone();
    let located = app.get(&format!("/api/v1/roads/locate?lon={}&lat={}", c[0], c[1])).await.json();
    assert!((located["stake_m"].as_f64().unwrap() - 5050.0).abs() < 1.0, "{located}");
    // The same table again changes nothing.
    let again = import_ok(&pool, ImportKind::ChainageBreaks, &breaks).await;
    assert!(!again.applied && again.unchanged == 1, "{again:?}");
}

#[sqlx::test]
async fn organisations_and_a_town_officer_who_sees_only_their_town(pool: PgPool) {
    let app = app(pool.clone()).await;
    load_county(&pool).await;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("organisations.csv");
    std::fs::write(
        &csv,
        "name,kind,town\n杨舍镇人民政府,区镇,320582100\n塘桥镇人民政府,town,塘桥镇\n农村公路管理处,责任单位,\n",
    )
    .unwrap();
    let report = import_ok(&pool, ImportKind::Organisations, &csv).await;
    assert_eq!((report.inserted, report.updated), (3, 0));
    assert!(!import_ok(&pool, ImportKind::Organisations, &csv).await.applied, "the same table twice changes nothing");
    // A table with an unknown kind and a town that is not loaded: both lines reported, nothing written.
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "name,kind,town\n甲,教育,\n乙,town,320582199\n").unwrap();
    let ImportError::Refused(refused) = run(&pool, ImportKind::Organisations, &bad, &options(&bad)).await.unwrap_err()
    else {
        panic!("refused expected")
    };
    assert_eq!(refused.problems.iter().map(|p| p.feature).collect::<Vec<_>>(), [Some(2), Some(3)]);

    // An officer of 杨舍镇 and sites in two towns.
    let yangshe_org: i32 =
        sqlx::query_scalar("select id from organisation where name = '杨舍镇人民政府'").fetch_one(&pool).await.unwrap();
    let officer = common::token_for(&pool, "yangshe", "杨舍官", "town_officer", yangshe_org).await;
    // One site in 杨舍镇, one in 塘桥镇 (tests/data/county/towns.geojson).
    for at in [[120.53, 31.85], [120.60, 31.85]] {
        assert_eq!(app.upload(&observation("intersection", json!(at)), &[]).await.status, StatusCode::CREATED);
    }
    let request = Request::get("/api/v1/sites?bbox=120.4,31.7,120.8,32.0")
        .header("authorization", format!("Bearer {officer}"))
        .body(Body::empty())
        .unwrap();
    let seen = app.send(request).await.json();
    let towns: Vec<&str> =
        seen["features"].as_array().unwrap().iter().map(|f| f["properties"]["town"].as_str().unwrap()).collect();
    assert_eq!(towns, ["杨舍镇"], "the officer sees only their town's site: {seen}");
}

#[sqlx::test]
async fn the_admin_page_api_imports_previews_and_refuses(pool: PgPool) {
    let app = app(pool.clone()).await;
    let admin = admin_token(&app).await;
    let towns = std::fs::read(data("county/towns.geojson")).unwrap();

    // Not an admin: 403, nothing read.
    let (ct, body) = import_upload(&json!({}), &[("file", "towns.geojson", towns.clone())]);
    let answer = app.send(admin_request("POST", "/api/v1/imports/towns", &app.token, &ct, body)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);

    // Preview: 200 and nothing written; then the import: 201.
    let (ct, body) = import_upload(&json!({"dry_run": true}), &[("file", "towns.geojson", towns.clone())]);
    let preview = app
        .send(admin_request(
            "POST",
            "/api/v1/imports/towns?progress=3c5e1d4b-8a51-4d33-9d1e-0a5f8e0c6b7a",
            &admin,
            &ct,
            body,
        ))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", String::from_utf8_lossy(&preview.bytes));
    assert_eq!(preview.json()["inserted"], 3);
    assert_eq!(app.count("town").await, 0);
    let (ct, body) = import_upload(&json!({}), &[("file", "towns.geojson", towns)]);
    let applied = app.send(admin_request("POST", "/api/v1/imports/towns", &admin, &ct, body)).await;
    assert_eq!(applied.status, StatusCode::CREATED);
    assert_eq!(app.count("town").await, 3);

    // A shapefile sent as its parts, GBK.
    let parts: Vec<(&str, &str, Vec<u8>)> = ["shp", "shx", "dbf", "prj", "cpg"]
        .iter()
        .map(|ext| {
            let name: &'static str = Box::leak(format!("roads.{ext}").into_boxed_str());
            ("file", name, std::fs::read(data(&format!("county/roads-gbk/roads.{ext}"))).unwrap())
        })
        .collect();
    let (ct, body) = import_upload(&json!({"county": COUNTY}), &parts);
    let roads = app.send(admin_request("POST", "/api/v1/imports/roads", &admin, &ct, body)).await;
    assert_eq!(roads.status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&roads.bytes));
    assert_eq!(roads.json()["file"]["name"], "roads.shp");
    assert_eq!(roads.json()["inserted"], 8);

    // Lists for the page, with sites counted, and the history.
    let listed = app.send(admin_request("GET", "/api/v1/places/roads?q=X2", &admin, "text/plain", vec![])).await.json();
    assert_eq!(listed["total"], 2);
    assert_eq!(listed["roads"][0]["route_code"], "X202");
    assert_eq!(listed["roads"][0]["start_stake_m"], 0.0);
    let towns = app.send(admin_request("GET", "/api/v1/places/towns", &admin, "text/plain", vec![])).await.json();
    assert_eq!(towns.as_array().unwrap().len(), 3);
    let history = app.send(admin_request("GET", "/api/v1/imports", &admin, "text/plain", vec![])).await.json();
    assert_eq!(
        history.as_array().unwrap().iter().map(|h| h["kind"].as_str().unwrap()).collect::<Vec<_>>(),
        ["roads", "towns"]
    );
    assert_eq!(app.get("/api/v1/imports").await.status, StatusCode::FORBIDDEN);

    // Refusals: 422 with a stable code, and nothing written.
    let before = places_state(&pool).await;
    let (ct, body) = import_upload(&json!({"crs": "EPSG:9999"}), &[("file", "t.geojson", b"{}".to_vec())]);
    let answer = app.send(admin_request("POST", "/api/v1/imports/towns", &admin, &ct, body)).await;
    assert_eq!(
        (answer.status, answer.json()["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("import_options"))
    );
    let (ct, body) = import_upload(&json!({}), &[("file", "t.geojson", b"{not json".to_vec())]);
    let answer = app.send(admin_request("POST", "/api/v1/imports/towns", &admin, &ct, body)).await;
    assert_eq!(answer.json()["code"], "import_unreadable", "{}", answer.detail());
    let roads_as_towns = std::fs::read(data("county/roads.geojson")).unwrap();
    let (ct, body) = import_upload(&json!({}), &[("file", "roads.geojson", roads_as_towns)]);
    let answer = app.send(admin_request("POST", "/api/v1/imports/towns", &admin, &ct, body)).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer.detail().contains("no attribute for admin_code") || answer.json()["code"] == "import_problems",
        "{}",
        answer.detail()
    );
    let (ct, body) = import_upload(&json!({"mapping": {"nmae": "x"}}), &[("file", "t.geojson", b"{}".to_vec())]);
    assert_eq!(
        app.send(admin_request("POST", "/api/v1/imports/towns", &admin, &ct, body)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (ct, body) = import_upload(&json!({}), &[("file", "../../etc/passwd", b"x".to_vec())]);
    assert_eq!(
        app.send(admin_request("POST", "/api/v1/imports/towns", &admin, &ct, body)).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.send(admin_request("POST", "/api/v1/imports/nothing", &admin, &ct, vec![])).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(places_state(&pool).await, before);
}

/// A county far from 120°E: towns and a road as GeoJSON made on the spot, around `centre`.
async fn far_county(pool: &PgPool, county: &str, centre: [f64; 2]) {
    let [lon, lat] = centre;
    let dir = tempfile::tempdir().unwrap();
    let towns = dir.path().join("towns.geojson");
    std::fs::write(
        &towns,
        json!({"type": "Feature", "properties": {"admin_code": format!("{county}100"), "name": "远方镇"},
               "geometry": {"type": "Polygon", "coordinates": [[[lon - 0.2, lat - 0.2], [lon + 0.2, lat - 0.2],
                   [lon + 0.2, lat + 0.2], [lon - 0.2, lat + 0.2], [lon - 0.2, lat - 0.2]]]}})
        .to_string(),
    )
    .unwrap();
    import_ok(pool, ImportKind::Towns, &towns).await;
    // A road running north-east 10 km from the centre, stakes from K0+000.
    let roads = dir.path().join("roads.geojson");
    std::fs::write(
        &roads,
        json!({"type": "Feature", "properties": {"route_code": "X101", "start_stake": 0},
               "geometry": {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.05, lat + 0.03], [lon + 0.1, lat + 0.06]]}})
        .to_string(),
    )
    .unwrap();
    let mut opts = options(&roads);
    opts.county = Some(county.into());
    run(pool, ImportKind::Roads, &roads, &opts).await.unwrap();
}

/// Moves a point `east_m` metres east.
fn east_of([lon, lat]: [f64; 2], east_m: f64) -> [f64; 2] {
    [lon + (east_m / (6_371_008.8 * lat.to_radians().cos())).to_degrees(), lat]
}

#[sqlx::test]
async fn metric_work_is_right_at_87_and_126_degrees_east(pool: PgPool) {
    let settings = roadledger::http::Settings { county_admin_code: "650121".into(), ..Default::default() };
    let app = common::app_with(pool.clone(), settings).await;
    for (county, centre) in [("650121", [87.30, 43.90]), ("230184", [126.60, 45.40])] {
        far_county(&pool, county, centre).await;
        let zone: i32 = sqlx::query_scalar("select metric_srid(st_setsrid(st_point($1, $2), 4326))")
            .bind(centre[0])
            .bind(centre[1])
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(zone, if centre[0] < 100.0 { 4538 } else { 4551 }, "CM 87°E and 126°E");

        // 30 m: a point 25 m away joins the site, one 35 m away opens another.
        let at = [centre[0] + 0.02, centre[1] + 0.1];
        let sites_near = async |n: i64| {
            let count: i64 = sqlx::query_scalar(
                "select count(*) from site where kind = 'intersection'
                   and st_dwithin(geom::geography, st_setsrid(st_point($1, $2), 4326)::geography, 500)",
            )
            .bind(at[0])
            .bind(at[1])
            .fetch_one(&pool)
            .await
            .unwrap();
            assert_eq!(count, n);
        };
        assert_eq!(app.upload(&observation("intersection", json!(at)), &[]).await.status, StatusCode::CREATED);
        assert_eq!(
            app.upload(&observation("intersection", json!(east_of(at, 25.0))), &[]).await.status,
            StatusCode::CREATED
        );
        sites_near(1).await;
        assert_eq!(
            app.upload(&observation("intersection", json!(east_of(at, 35.0))), &[]).await.status,
            StatusCode::CREATED
        );
        sites_near(2).await;

        // Sections 28 m apart everywhere are the same section; a fixed zone at 120°E would measure them over
        // 30 m apart at 87°E.
        let a = [centre[0] - 0.1, centre[1] - 0.1];
        let b = [a[0], a[1] + 0.005];
        let section = |shift: f64| json!([east_of(a, shift), east_of(b, shift)]);
        assert_eq!(app.upload(&observation("section", section(0.0)), &[]).await.status, StatusCode::CREATED);
        assert_eq!(app.upload(&observation("section", section(28.0)), &[]).await.status, StatusCode::CREATED);
        let sections: i64 = sqlx::query_scalar("select count(*) from site s join town t on t.id = s.town_id where s.kind = 'section' and t.admin_code like $1 || '%'")
            .bind(county)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(sections, 1, "{county}: sections 28 m apart are one site");

        // Stakes: the road's middle vertex is at its geodesic distance from the start.
        let mid = [centre[0] + 0.05, centre[1] + 0.03];
        let geodesic: f64 = sqlx::query_scalar(
            "select st_distance(st_setsrid(st_point($1, $2), 4326)::geography, st_setsrid(st_point($3, $4), 4326)::geography)",
        )
        .bind(centre[0])
        .bind(centre[1])
        .bind(mid[0])
        .bind(mid[1])
        .fetch_one(&pool)
        .await
        .unwrap();
        let located = app.get(&format!("/api/v1/roads/locate?lon={}&lat={}", mid[0], mid[1])).await.json();
        assert_eq!(located["admin_code"], county);
        assert!((located["stake_m"].as_f64().unwrap() - geodesic).abs() < 1.0, "{county}: {located} vs {geodesic}");
        let point = app.get(&format!("/api/v1/roads/X101/locate?county={county}&stake={geodesic}")).await.json();
        let c = &point["geometry"]["coordinates"];
        assert!(haversine([c[0].as_f64().unwrap(), c[1].as_f64().unwrap()], mid) < 1.0, "{county}: {point}");
    }
}

#[test]
fn options_from_people_are_checked() {
    let importer = || Importer { name: "x".into(), user_id: None };
    let parse = |v: Value| {
        serde_json::from_value::<OptionsInput>(v)
            .map_err(|e| e.to_string())
            .and_then(|o| o.into_options("f", importer()))
    };
    assert!(parse(json!({"crs": "gcj02", "encoding": "936", "county": "320582000000", "stake_unit": "km"})).is_ok());
    assert!(parse(json!({"encoding": "klingon"})).unwrap_err().contains("gbk"));
    assert!(parse(json!({"stake_unit": "li"})).unwrap_err().contains("m or km"));
    assert!(parse(json!({"county": "32"})).is_err());
    assert!(parse(json!({"layer": "x".repeat(65)})).is_err());
    assert!(parse(json!({"unknown": 1})).is_err());
}

#[sqlx::test]
async fn osm_does_not_replace_an_official_layer(pool: PgPool) {
    load_county(&pool).await;
    let official: Value = sqlx::query_scalar(
        "select json_agg(json_build_object('code', route_code, 'geom', md5(st_asbinary(geom_m))) order by route_code)
         from road where route_code is not null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let report = import_ok(&pool, ImportKind::Roads, &data("county/roads.osm.pbf")).await;
    assert!(
        report.warnings.iter().any(|w| w.contains("6 coded roads come from an official layer")),
        "{:?}",
        report.warnings
    );
    assert_eq!(report.updated, 0);
    let after: Value = sqlx::query_scalar(
        "select json_agg(json_build_object('code', route_code, 'geom', md5(st_asbinary(geom_m))) order by route_code)
         from road where route_code is not null",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(after, official, "the official roads and their stakes are untouched");
}

#[sqlx::test]
async fn geojson_fields_are_found_in_any_feature_not_only_the_first(pool: PgPool) {
    import_ok(&pool, ImportKind::Towns, &data("county/towns.geojson")).await;
    let dir = tempfile::tempdir().unwrap();
    let roads = dir.path().join("mixed.geojson");
    std::fs::write(
        &roads,
        json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"name": "无号路"},
             "geometry": {"type": "LineString", "coordinates": [[120.52, 31.86], [120.53, 31.86]]}},
            {"type": "Feature", "properties": {"name": "港城大道", "route_code": "X202", "start_stake": 0},
             "geometry": {"type": "LineString", "coordinates": [[120.52, 31.87], [120.53, 31.87]]}}
        ]})
        .to_string(),
    )
    .unwrap();
    let report = import_ok(&pool, ImportKind::Roads, &roads).await;
    assert_eq!(report.file.fields.get("route_code"), Some(&json!("route_code")), "{report:?}");
    let coded: Vec<Option<String>> =
        sqlx::query_scalar("select route_code from road order by name").fetch_all(&pool).await.unwrap();
    assert_eq!(coded, [None, Some("X202".to_owned())]);
}
