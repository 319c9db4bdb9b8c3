//! The map's vector tiles (`GET /tiles/{layer}/{z}/{x}/{y}.mvt`) on a real PostGIS, decoded with an MVT
//! reader: features and their properties, aggregates at low zoom, scopes, a cache that is never stale, and
//! the HTTP around them (gzip, ETag, 304, refusals).

use std::collections::HashMap;
use std::io::Read;

use axum::body::Body;
use axum::http::Request;
use mvt_reader::feature::Value as Mvt;
use serde_json::json;
use sqlx::PgPool;

use crate::common::{self, CountyOffice, TestApp, YANGSHE, app, jpeg, observation};
use roadledger::db::sites::SiteFilter;
use roadledger::db::tiles;
use roadledger::domain::site_filter::MapFilter;

/// The z/x/y of the tile holding a lon/lat point (Web Mercator, XYZ numbering).
pub(crate) fn tile_of([lon, lat]: [f64; 2], z: u8) -> (u32, u32) {
    let n = f64::from(1u32 << z);
    let x = ((lon + 180.0) / 360.0 * n).floor();
    let lat = lat.to_radians();
    let y = ((1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor();
    (x as u32, y as u32)
}

async fn get_tile(app: &TestApp, token: &str, path: &str, headers: &[(&str, &str)]) -> common::Answer {
    let mut request = Request::get(path).header("authorization", format!("Bearer {token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

/// The features of a tile's one layer, each as its properties, with its MVT feature id (if any) as `fid`.
pub(crate) fn features(bytes: &[u8], layer: &str) -> Vec<HashMap<String, Mvt>> {
    if bytes.is_empty() {
        return Vec::new();
    }
    let reader = mvt_reader::Reader::new(bytes.to_vec()).expect("a valid vector tile");
    assert_eq!(reader.get_layer_names().unwrap(), [layer]);
    reader
        .get_features(0)
        .unwrap()
        .into_iter()
        .map(|f| {
            let mut properties = f.properties.unwrap_or_default();
            if let Some(id) = f.id {
                properties.insert("fid".into(), Mvt::UInt(id));
            }
            properties
        })
        .collect()
}

/// A site's number: its code without `YH-`, the feature id of its tile feature.
async fn number(app: &TestApp, site: &str) -> i64 {
    sqlx::query_scalar("select substring(code from 4)::bigint from site where id = $1::uuid")
        .bind(site)
        .fetch_one(&app.pool)
        .await
        .unwrap()
}

fn text(p: &HashMap<String, Mvt>, key: &str) -> String {
    match p.get(key) {
        Some(Mvt::String(s)) => s.clone(),
        other => panic!("{key} is {other:?}"),
    }
}

fn int(p: &HashMap<String, Mvt>, key: &str) -> i64 {
    match p.get(key) {
        Some(Mvt::Int(n) | Mvt::SInt(n)) => *n,
        Some(Mvt::UInt(n)) => *n as i64,
        None => 0,
        other => panic!("{key} is {other:?}"),
    }
}

/// Records a spot at `at` as the default inspector; answers its id.
async fn spot(app: &TestApp, at: [f64; 2]) -> String {
    let answer = app.upload(&observation("spot", json!(at)), &[&jpeg(320, 240)]).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    answer.json()["site"]["id"].as_str().unwrap().to_string()
}

#[sqlx::test(migrations = "./migrations")]
async fn a_high_zoom_tile_holds_each_site_with_what_the_map_shows(pool: PgPool) {
    let app = app(pool).await;
    let at = [120.55, 31.87];
    let id = spot(&app, at).await;
    let (x, y) = tile_of(at, 16);

    let answer = get_tile(&app, &app.token, &format!("/tiles/sites/16/{x}/{y}.mvt"), &[]).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], tiles_content_type());
    assert!(answer.headers.get("content-encoding").is_none(), "no gzip unless asked for");
    let sites = features(&answer.bytes, "sites");
    assert_eq!(sites.len(), 1);
    let site = &sites[0];
    assert_eq!(int(site, "fid"), number(&app, &id).await);
    assert_eq!(text(site, "status"), "reported");
    assert_eq!(text(site, "kind"), "spot");
    assert_eq!(site.get("overdue"), Some(&Mvt::Bool(false)));
    assert_eq!(site.get("supervised"), Some(&Mvt::Bool(false)));

    // The neighbouring tile is empty: an empty body, still a tile.
    let empty = get_tile(&app, &app.token, &format!("/tiles/sites/16/{}/{y}.mvt", x + 2), &[]).await;
    assert_eq!(empty.status, 200);
    assert!(features(&empty.bytes, "sites").is_empty());
}

fn tiles_content_type() -> &'static str {
    "application/vnd.mapbox-vector-tile"
}

#[sqlx::test(migrations = "./migrations")]
async fn low_zoom_tiles_hold_counts_per_cell_that_add_up(pool: PgPool) {
    let app = app(pool).await;
    // Twelve sites in two clusters a kilometre apart (one z12 tile), one of them cancelled by hand.
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(spot(&app, [120.545 + f64::from(i) * 0.0005, 31.87]).await);
        ids.push(spot(&app, [120.555 + f64::from(i) * 0.0005, 31.87]).await);
    }
    sqlx::query("update site set status = 'cancelled' where id = $1::uuid")
        .bind(&ids[0])
        .execute(&app.pool)
        .await
        .unwrap();

    for z in [8u8, 10, 12] {
        let (x, y) = tile_of([120.55, 31.87], z);
        let answer = get_tile(&app, &app.token, &format!("/tiles/sites/{z}/{x}/{y}.mvt"), &[]).await;
        assert_eq!(answer.status, 200);
        let cells = features(&answer.bytes, "sites");
        assert!(!cells.is_empty() && cells.len() <= (tiles::GRID * tiles::GRID) as usize);
        assert!(cells.iter().all(|c| !c.contains_key("fid") && !c.contains_key("status")), "z{z}: aggregates");
        let total: i64 = cells.iter().map(|c| int(c, "n")).sum();
        let open: i64 = cells.iter().map(|c| int(c, "open")).sum();
        let reported: i64 = cells.iter().map(|c| int(c, "reported")).sum();
        let cancelled: i64 = cells.iter().map(|c| int(c, "cancelled")).sum();
        assert_eq!((total, open, reported, cancelled), (12, 11, 11, 1), "z{z}");
    }
    // At z12 the clusters fall in different cells.
    let (x, y) = tile_of([120.55, 31.87], 12);
    let answer = get_tile(&app, &app.token, &format!("/tiles/sites/12/{x}/{y}.mvt"), &[]).await;
    assert!(features(&answer.bytes, "sites").len() >= 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn an_officer_sees_only_their_towns_sites_in_the_same_tile(pool: PgPool) {
    let app = app(pool).await;
    let CountyOffice { town_officer, .. } = common::county_office(&app).await;
    // A second town right next to 杨舍镇 (east of it), with its own officer.
    app.add_town("320582101", "塘桥镇", [YANGSHE[2], YANGSHE[1], YANGSHE[2] + 0.1, YANGSHE[3]]).await;
    let other_town: i32 =
        sqlx::query_scalar("select id from town where admin_code = '320582101'").fetch_one(&app.pool).await.unwrap();
    let other_org = common::add_organisation(&app.pool, "塘桥镇人民政府", "town", Some(other_town)).await;
    let other_officer = common::token_for(&app.pool, "town2", "周区镇", "town_officer", other_org).await;

    // Two sites a few metres either side of the border: one tile at z16 holds both.
    let here = spot(&app, [YANGSHE[2] - 0.0002, 31.87]).await;
    let there = spot(&app, [YANGSHE[2] + 0.0002, 31.87]).await;
    let (x, y) = tile_of([YANGSHE[2], 31.87], 16);
    let path = format!("/tiles/sites/16/{x}/{y}.mvt");

    let ids = |answer: &common::Answer| -> Vec<i64> {
        features(&answer.bytes, "sites").iter().map(|f| int(f, "fid")).collect()
    };
    let (here, there) = (number(&app, &here).await, number(&app, &there).await);
    let mine = get_tile(&app, &town_officer, &path, &[]).await;
    let theirs = get_tile(&app, &other_officer, &path, &[]).await;
    let everyone = get_tile(&app, &app.token, &path, &[]).await;
    assert_eq!(ids(&mine), [here]);
    assert_eq!(ids(&theirs), [there]);
    assert_eq!(ids(&everyone).len(), 2);
    assert_ne!(mine.bytes, theirs.bytes);
    assert_ne!(mine.headers["etag"], theirs.headers["etag"]);
    // Asked again, in the other order, from the cache: still each their own.
    assert_eq!(ids(&get_tile(&app, &other_officer, &path, &[]).await), [there]);
    assert_eq!(ids(&get_tile(&app, &town_officer, &path, &[]).await), [here]);

    // The same holds for the aggregates.
    let (x, y) = tile_of([YANGSHE[2], 31.87], 10);
    let low = format!("/tiles/sites/10/{x}/{y}.mvt");
    let count = |answer: common::Answer| features(&answer.bytes, "sites").iter().map(|c| int(c, "n")).sum::<i64>();
    assert_eq!(count(get_tile(&app, &town_officer, &low, &[]).await), 1);
    assert_eq!(count(get_tile(&app, &app.token, &low, &[]).await), 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_cached_tile_shows_every_change_at_once(pool: PgPool) {
    let app = app(pool).await;
    let office = common::county_office(&app).await;
    let at = [120.55, 31.87];
    let site = spot(&app, at).await;
    let statuses = |answer: &common::Answer| -> Vec<String> {
        let mut s: Vec<String> = features(&answer.bytes, "sites").iter().map(|f| text(f, "status")).collect();
        s.sort();
        s
    };
    for z in [16u8, 13] {
        let (x, y) = tile_of(at, z);
        let path = format!("/tiles/sites/{z}/{x}/{y}.mvt");
        let first = get_tile(&app, &app.token, &path, &[]).await;
        let cached = get_tile(&app, &app.token, &path, &[]).await;
        assert_eq!(first.bytes, cached.bytes);
        assert!(!statuses(&first).is_empty());
    }

    // A status move through the lifecycle API: the next request for its tile shows it, at every zoom.
    assert_eq!(app.act(&office.dispatcher, &site, &json!({"action": "verify"})).await.status, 200);
    for z in [16u8, 13] {
        let (x, y) = tile_of(at, z);
        let answer = get_tile(&app, &app.token, &format!("/tiles/sites/{z}/{x}/{y}.mvt"), &[]).await;
        assert_eq!(statuses(&answer), ["verified"], "z{z}");
    }
    let (x, y) = tile_of(at, 10);
    let low = format!("/tiles/sites/10/{x}/{y}.mvt");
    let cells = features(&get_tile(&app, &app.token, &low, &[]).await.bytes, "sites");
    assert_eq!(cells.iter().map(|c| int(c, "verified")).sum::<i64>(), 1);

    // A new observation far enough away to open a second site: it appears in the cached tile too.
    let (x16, y16) = tile_of(at, 16);
    let path16 = format!("/tiles/sites/16/{x16}/{y16}.mvt");
    let before = get_tile(&app, &app.token, &path16, &[]).await;
    assert_eq!(features(&before.bytes, "sites").len(), 1);
    spot(&app, common::north_of(at, 120.0)).await;
    let (_, y_new) = tile_of(common::north_of(at, 120.0), 16);
    if y_new == y16 {
        assert_eq!(features(&get_tile(&app, &app.token, &path16, &[]).await.bytes, "sites").len(), 2);
    }
    assert_eq!(cells_total(&app, &low).await, 2);

    // A change far away leaves this tile's cached copy in use (same ETag, not drawn again).
    let etag = get_tile(&app, &app.token, &path16, &[]).await.headers["etag"].clone();
    spot(&app, [120.9, 32.2]).await;
    let again = get_tile(&app, &app.token, &path16, &[("if-none-match", etag.to_str().unwrap())]).await;
    assert_eq!(again.status, 304);

    // A merge: the duplicate's status shows at once.
    let dup = spot(&app, [120.56, 31.87]).await;
    assert_eq!(app.act(&office.dispatcher, &dup, &json!({"action": "verify"})).await.status, 200);
    let (xd, yd) = tile_of([120.56, 31.87], 16);
    let dup_path = format!("/tiles/sites/16/{xd}/{yd}.mvt");
    assert_eq!(statuses(&get_tile(&app, &app.token, &dup_path, &[]).await), ["verified"]);
    let merged = app.act(&office.dispatcher, &dup, &json!({"action": "merge", "into": site})).await;
    assert_eq!(merged.status, 200, "{}", String::from_utf8_lossy(&merged.bytes));
    assert_eq!(statuses(&get_tile(&app, &app.token, &dup_path, &[]).await), ["duplicate"]);
}

async fn cells_total(app: &TestApp, path: &str) -> i64 {
    features(&get_tile(app, &app.token, path, &[]).await.bytes, "sites").iter().map(|c| int(c, "n")).sum()
}

#[sqlx::test(migrations = "./migrations")]
async fn tiles_are_gzipped_when_accepted_and_revalidate_with_etags(pool: PgPool) {
    let app = app(pool).await;
    let at = [120.55, 31.87];
    spot(&app, at).await;
    let (x, y) = tile_of(at, 14);
    let path = format!("/tiles/sites/14/{x}/{y}.mvt");

    let plain = get_tile(&app, &app.token, &path, &[]).await;
    let zipped = get_tile(&app, &app.token, &path, &[("accept-encoding", "gzip, deflate, br")]).await;
    assert_eq!(zipped.status, 200);
    assert_eq!(zipped.headers["content-encoding"], "gzip");
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&zipped.bytes[..]).read_to_end(&mut unzipped).unwrap();
    assert_eq!(unzipped, plain.bytes);
    assert_eq!(zipped.headers["etag"], plain.headers["etag"]);
    let cache_control = plain.headers["cache-control"].to_str().unwrap();
    assert!(cache_control.contains("private") && cache_control.contains("no-cache"), "{cache_control}");
    assert!(plain.headers["vary"].to_str().unwrap().contains("Accept-Encoding"));

    let etag = plain.headers["etag"].to_str().unwrap().to_string();
    let not_modified = get_tile(&app, &app.token, &path, &[("if-none-match", &etag)]).await;
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.bytes.is_empty());
    let other = get_tile(&app, &app.token, &path, &[("if-none-match", "\"something-else\"")]).await;
    assert_eq!(other.status, 200);
}

#[sqlx::test(migrations = "./migrations")]
async fn towns_and_roads_are_tiles_too(pool: PgPool) {
    let app = app(pool).await;
    common::county_office(&app).await;
    sqlx::query(
        "insert into road (admin_code, route_code, source_id, name, geom) values
           ('320582', 'X203', null, '杨锦公路',
            st_multi(st_geomfromtext('LINESTRING(120.51 31.86, 120.59 31.87)', 4326))),
           ('320582', null, 'osm:1', '村道', st_multi(st_geomfromtext('LINESTRING(120.52 31.85, 120.53 31.86)', 4326)))",
    )
    .execute(&app.pool)
    .await
    .unwrap();

    let (x, y) = tile_of([120.55, 31.87], 12);
    let towns = get_tile(&app, &app.token, &format!("/tiles/towns/12/{x}/{y}.mvt"), &[]).await;
    assert_eq!(towns.status, 200);
    let towns = features(&towns.bytes, "towns");
    assert_eq!(towns.iter().map(|t| text(t, "name")).collect::<Vec<_>>(), ["杨舍镇"]);

    let names = |bytes: &[u8]| {
        let mut n: Vec<String> = features(bytes, "roads").iter().map(|r| text(r, "name")).collect();
        n.sort();
        n
    };
    let (x, y) = tile_of([120.55, 31.865], 12);
    let roads = get_tile(&app, &app.token, &format!("/tiles/roads/12/{x}/{y}.mvt"), &[]).await;
    assert_eq!(names(&roads.bytes), ["村道", "杨锦公路"]);
    // Zoomed out, village lanes without a route code are left out.
    let (x, y) = tile_of([120.55, 31.865], 9);
    let roads = get_tile(&app, &app.token, &format!("/tiles/roads/9/{x}/{y}.mvt"), &[]).await;
    assert_eq!(names(&roads.bytes), ["杨锦公路"]);

    // A renamed road shows at once.
    sqlx::query("update road set name = '杨锦线' where route_code = 'X203'").execute(&app.pool).await.unwrap();
    let roads = get_tile(&app, &app.token, &format!("/tiles/roads/9/{x}/{y}.mvt"), &[]).await;
    assert_eq!(names(&roads.bytes), ["杨锦线"]);

    // Towns and roads are public (the public report page's map); the sites and the queues are not, and a
    // wrong token is refused rather than read as the public.
    let public = |path: String| app.send_as_is(Request::get(path).body(Body::empty()).unwrap());
    let roads = public(format!("/tiles/roads/9/{x}/{y}.mvt")).await;
    assert_eq!(roads.status, 200);
    assert_eq!(names(&roads.bytes), ["杨锦线"]);
    let (tx, ty) = tile_of([120.55, 31.87], 12);
    let towns = public(format!("/tiles/towns/12/{tx}/{ty}.mvt?crs=gcj02")).await;
    assert_eq!(towns.status, 200);
    assert_eq!(features(&towns.bytes, "towns").iter().map(|t| text(t, "name")).collect::<Vec<_>>(), ["杨舍镇"]);
    for layer in ["sites", "candidates", "public_reports"] {
        assert_eq!(public(format!("/tiles/{layer}/12/{tx}/{ty}.mvt")).await.status, 401, "{layer}");
    }
    let wrong = get_tile(&app, "rl_not-a-token", &format!("/tiles/towns/12/{tx}/{ty}.mvt"), &[]).await;
    assert_eq!(wrong.status, 401);
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_tile_requests_are_refused_clearly(pool: PgPool) {
    let app = app(pool).await;
    for (path, status) in [
        ("/tiles/sites/1/2/0.mvt", 400),
        ("/tiles/sites/23/0/0.mvt", 400),
        ("/tiles/sites/3/1/1.png", 400),
        ("/tiles/sites/x/1/1.mvt", 400),
        ("/tiles/black_spots/3/1/1.mvt", 404),
    ] {
        let answer = get_tile(&app, &app.token, path, &[]).await;
        assert_eq!(answer.status, status, "{path}");
        assert!(!answer.detail().is_empty());
    }
    let anonymous = app.send_as_is(Request::get("/tiles/sites/3/1/1.mvt").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, 401);
}

/// Every part of the site filter, set so that a fresh spot in 杨舍镇 with `status` matches it.
fn every_filter_part(status: &str) -> Vec<(String, String)> {
    [
        ("town", "杨舍镇"),
        ("status", status),
        ("kind", "spot"),
        ("level", ""),
        ("hazard_type", ""),
        ("overdue", "false"),
        ("supervised", "false"),
        ("relapsed", "false"),
        ("from", "2026-11-30"),
        ("to", "2026-11-30"),
        ("source", "patrol"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn every_tile_statement_runs(pool: PgPool) {
    // The statements are assembled from constant fragments: each variant runs once on a real database, so a
    // slip in a fragment fails here rather than on a map.
    let app = app(pool).await;
    common::county_office(&app).await;
    spot(&app, [120.55, 31.87]).await;
    let scope = roadledger::domain::auth::SiteScope { all: true, town_id: None, unit_id: None };
    let everything = SiteFilter { scope, ..Default::default() };
    // A filter with every part set that the site matches, and one it does not.
    let (matching, _) = MapFilter::parse(&every_filter_part("reported"), &[]).unwrap();
    let (other, _) = MapFilter::parse(&every_filter_part("closed"), &[]).unwrap();
    let matching = SiteFilter { criteria: matching, ..everything.clone() };
    let other = SiteFilter { criteria: other, ..everything.clone() };
    for crs in tiles::Crs::ALL {
        // In GCJ-02 the site is drawn where the shift puts it, some hundreds of metres away.
        let at = match crs {
            tiles::Crs::Wgs84 => [120.55, 31.87],
            tiles::Crs::Gcj02 => roadledger::domain::coords::wgs84_to_gcj02(120.55, 31.87).into(),
        };
        for layer in tiles::Layer::ALL {
            for z in [0u8, 5, 10, 12, 13, 16, 22] {
                let (x, y) = tile_of(at, z);
                let tile = tiles::TileId::new(z, x, y).unwrap();
                let drawn = tiles::draw(&app.pool, layer, tile, &everything, crs).await.unwrap();
                assert!(drawn.snapshot.contains(':'), "a pg_snapshot: {}", drawn.snapshot);
                if layer == tiles::Layer::Sites {
                    assert!(!drawn.mvt.is_empty(), "z{z} {crs:?} shows the site");
                    let drawn = tiles::draw(&app.pool, layer, tile, &matching, crs).await.unwrap();
                    assert!(!drawn.mvt.is_empty(), "z{z} {crs:?} shows the site the filter matches");
                    let drawn = tiles::draw(&app.pool, layer, tile, &other, crs).await.unwrap();
                    assert!(drawn.mvt.is_empty(), "z{z} {crs:?} leaves out the site the filter does not match");
                }
            }
        }
    }
    assert_eq!(tiles::statements().len(), 14);
    // The change log prunes only what is old enough.
    assert_eq!(tiles::prune_changes(&app.pool, std::time::Duration::from_secs(3600)).await.unwrap(), 0);
    sqlx::query("update map_change set written_at = now() - interval '2 days'").execute(&app.pool).await.unwrap();
    assert!(tiles::prune_changes(&app.pool, std::time::Duration::from_secs(3600)).await.unwrap() > 0);
}

#[sqlx::test(migrations = "./migrations")]
async fn site_codes_keep_every_digit_past_a_million(pool: PgPool) {
    // The map's scale is a province: the millionth site must not take the hundred-thousandth's code.
    let codes: Vec<String> =
        sqlx::query_scalar("select site_code(n) from unnest(array[7, 999999, 1000000, 12345678]::bigint[]) n")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(codes, ["YH-000007", "YH-999999", "YH-1000000", "YH-12345678"]);
    sqlx::query("select setval('site_code_seq', 999999)").execute(&pool).await.unwrap();
    let app = app(pool).await;
    spot(&app, [120.55, 31.87]).await;
    let code: String = sqlx::query_scalar("select code from site").fetch_one(&app.pool).await.unwrap();
    assert_eq!(code, "YH-1000000");
}

/// Four spots in one z14 tile, 75 m apart, each with something the others lack: 0 has a hazard type and is
/// major, 1 is closed, 2 is listed for supervision, 3 has nothing.
async fn four_spots(app: &TestApp) -> Vec<i64> {
    common::county_office(app).await;
    let mut numbers = Vec::new();
    for (i, update) in [
        "hazard_types = '{worn_markings}', hazard_level = 'major'",
        "status = 'closed'",
        "supervision_level = 'county'",
        "version = version",
    ]
    .iter()
    .enumerate()
    {
        let id = spot(app, [120.55 + 0.0008 * i as f64, 31.87]).await;
        sqlx::query(&format!("update site set {update} where id = $1::uuid"))
            .bind(&id)
            .execute(&app.pool)
            .await
            .unwrap();
        numbers.push(number(app, &id).await);
    }
    numbers
}

fn fids(answer: &common::Answer) -> Vec<i64> {
    let mut ids: Vec<i64> = features(&answer.bytes, "sites").iter().map(|f| int(f, "fid")).collect();
    ids.sort();
    ids
}

#[sqlx::test(migrations = "./migrations")]
async fn site_tiles_show_only_what_the_filter_selects(pool: PgPool) {
    let app = app(pool).await;
    let n = four_spots(&app).await;
    let (x, y) = tile_of([120.551, 31.87], 14);
    let tile = |query: &str| format!("/tiles/sites/14/{x}/{y}.mvt?{query}");

    let all = get_tile(&app, &app.token, &tile(""), &[]).await;
    assert_eq!(fids(&all), n);
    for (query, expected) in [
        ("hazard_type=worn_markings", vec![n[0]]),
        ("level=major,general", vec![n[0]]),
        ("status=closed", vec![n[1]]),
        ("status=reported&supervised=false", vec![n[0], n[3]]),
        ("supervised=true", vec![n[2]]),
        ("town=%E6%9D%A8%E8%88%8D%E9%95%87&kind=spot,section", n.clone()),
        ("town=320582101", vec![]),
        ("from=2026-11-30&to=2026-11-30", n.clone()),
        ("to=2026-11-29", vec![]),
    ] {
        let answer = get_tile(&app, &app.token, &tile(query), &[]).await;
        assert_eq!(answer.status, 200, "{query}: {}", answer.detail());
        assert_eq!(fids(&answer), expected, "?{query}");
    }
    // The unfiltered tile is still whole: the filtered ones took other cache entries.
    assert_eq!(fids(&get_tile(&app, &app.token, &tile(""), &[]).await), n);

    // Two filters: two bodies. One filter spelt two ways: one tile, one ETag.
    let reported = get_tile(&app, &app.token, &tile("status=reported"), &[]).await;
    let closed = get_tile(&app, &app.token, &tile("status=closed"), &[]).await;
    assert_ne!(reported.bytes, closed.bytes);
    assert_ne!(reported.headers["etag"], closed.headers["etag"]);
    let one = get_tile(&app, &app.token, &tile("status=reported,closed&kind=spot"), &[]).await;
    let again = get_tile(&app, &app.token, &tile("kind=spot,spot&status=closed,reported,closed"), &[]).await;
    assert_eq!(one.headers["etag"], again.headers["etag"]);
    assert_eq!(one.bytes, again.bytes);
    let etag = one.headers["etag"].to_str().unwrap().to_string();
    let revalidated =
        get_tile(&app, &app.token, &tile("status=closed,reported&kind=spot"), &[("if-none-match", &etag)]).await;
    assert_eq!(revalidated.status, 304);

    // A change shows in filtered tiles too: closing site 0 moves it from one filter's tile to the other's.
    sqlx::query("update site set status = 'closed' where substring(code from 4)::bigint = $1")
        .bind(n[0])
        .execute(&app.pool)
        .await
        .unwrap();
    assert_eq!(fids(&get_tile(&app, &app.token, &tile("status=closed"), &[]).await), [n[0], n[1]]);
    assert_eq!(fids(&get_tile(&app, &app.token, &tile("status=reported"), &[]).await), [n[2], n[3]]);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_filtered_grid_counts_what_the_filtered_legend_counts(pool: PgPool) {
    let app = app(pool).await;
    four_spots(&app).await;
    // And one just west of the town, in the same z12 tile (whose west edge is 120.49805°).
    spot(&app, [120.4985, 31.87]).await;
    for z in [8u8, 10, 12] {
        let (x, y) = tile_of([120.55, 31.87], z);
        for query in [
            "",
            "supervised=false",
            "status=closed",
            "town=%E6%9D%A8%E8%88%8D%E9%95%87",
            "hazard_type=worn_markings",
            "status=cancelled",
        ] {
            let cells = get_tile(&app, &app.token, &format!("/tiles/sites/{z}/{x}/{y}.mvt?{query}"), &[]).await;
            assert_eq!(cells.status, 200, "{query}");
            let cells = features(&cells.bytes, "sites");
            let counts = app.get(&format!("/api/v1/sites/counts?{query}")).await.json();
            let sum = |key: &str| cells.iter().map(|c| int(c, key)).sum::<i64>();
            assert_eq!(sum("n"), counts["total"].as_i64().unwrap(), "z{z} ?{query}");
            for status in ["reported", "closed"] {
                assert_eq!(sum(status), counts["by_status"][status].as_i64().unwrap_or(0), "z{z} ?{query} {status}");
            }
            assert_eq!(sum("overdue"), counts["overdue"].as_i64().unwrap(), "z{z} ?{query}");
        }
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn tile_parameters_are_checked_on_every_layer(pool: PgPool) {
    let app = app(pool).await;
    let (x, y) = tile_of([120.55, 31.87], 12);
    for (layer, query, status, fragment) in [
        ("sites", "colour=red", 400, "unknown parameter \"colour\"; the parameters are town, status"),
        ("sites", "hazard_type=nope", 400, "hazard_type: unknown codes nope"),
        ("sites", "crs=mercator", 400, "accepted values: wgs84, gcj02"),
        ("sites", "status=closed&crs=wgs84", 200, ""),
        ("towns", "colour=red", 400, "unknown parameter \"colour\""),
        ("towns", "status=closed&town=%E6%9D%A8%E8%88%8D%E9%95%87&crs=gcj02", 200, ""),
        ("roads", "crs=bd09", 400, "crs:"),
        ("roads", "overdue=maybe", 400, "overdue:"),
        ("roads", "kind=spot&crs=wgs84", 200, ""),
    ] {
        let answer = get_tile(&app, &app.token, &format!("/tiles/{layer}/12/{x}/{y}.mvt?{query}"), &[]).await;
        assert_eq!(answer.status, status, "{layer}?{query}: {}", answer.detail());
        if status == 400 {
            assert!(answer.detail().contains(fragment), "{layer}?{query}: {}", answer.detail());
        }
    }
}

/// Where a lon/lat point falls in tile `(z, x, y)`, in MVT units (4096 a side, y down).
fn in_tile([lon, lat]: [f64; 2], z: u8, (x, y): (u32, u32)) -> (f64, f64) {
    let n = f64::from(1u32 << z);
    let world_x = (lon + 180.0) / 360.0 * n;
    let lat = lat.to_radians();
    let world_y = (1.0 - (lat.tan() + 1.0 / lat.cos()).ln() / std::f64::consts::PI) / 2.0 * n;
    ((world_x - f64::from(x)) * 4096.0, (world_y - f64::from(y)) * 4096.0)
}

/// The position of the one site feature of a tile, in MVT units.
fn only_point(bytes: &[u8]) -> (f64, f64) {
    let reader = mvt_reader::Reader::new(bytes.to_vec()).expect("a valid vector tile");
    let features = reader.get_features(0).unwrap();
    assert_eq!(features.len(), 1);
    match &features[0].geometry {
        geo_types::Geometry::Point(p) => (f64::from(p.x()), f64::from(p.y())),
        geo_types::Geometry::MultiPoint(mp) => (f64::from(mp.0[0].x()), f64::from(mp.0[0].y())),
        other => panic!("a point, not {other:?}"),
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn gcj02_tiles_draw_sites_where_chinese_base_maps_have_them(pool: PgPool) {
    let app = app(pool).await;
    let at = [120.55, 31.87];
    spot(&app, at).await;
    let (lon, lat) = roadledger::domain::coords::wgs84_to_gcj02(at[0], at[1]);
    let shifted = [lon, lat];
    let z = 15;

    let wgs84_tile = tile_of(at, z);
    let plain =
        get_tile(&app, &app.token, &format!("/tiles/sites/{z}/{}/{}.mvt", wgs84_tile.0, wgs84_tile.1), &[]).await;
    let (px, py) = only_point(&plain.bytes);
    let (ex, ey) = in_tile(at, z, wgs84_tile);
    assert!((px - ex).abs() <= 2.0 && (py - ey).abs() <= 2.0, "wgs84 ({px}, {py}) vs ({ex}, {ey})");

    let gcj_tile = tile_of(shifted, z);
    let path = format!("/tiles/sites/{z}/{}/{}.mvt?crs=gcj02", gcj_tile.0, gcj_tile.1);
    let gcj = get_tile(&app, &app.token, &path, &[]).await;
    assert_eq!(gcj.status, 200, "{}", gcj.detail());
    let (gx, gy) = only_point(&gcj.bytes);
    let (ex, ey) = in_tile(shifted, z, gcj_tile);
    assert!((gx - ex).abs() <= 2.0 && (gy - ey).abs() <= 2.0, "gcj02 ({gx}, {gy}) vs ({ex}, {ey})");
    // The shift is hundreds of metres: far more than the tolerance.
    let (sx, sy) = in_tile(shifted, z, wgs84_tile);
    let (wx, wy) = in_tile(at, z, wgs84_tile);
    assert!((sx - wx).hypot(sy - wy) > 100.0, "a real displacement");
    // wgs84 and gcj02 are different cache entries: the plain tile still has the site where it was.
    let again =
        get_tile(&app, &app.token, &format!("/tiles/sites/{z}/{}/{}.mvt?crs=wgs84", wgs84_tile.0, wgs84_tile.1), &[])
            .await;
    assert_eq!(again.bytes, plain.bytes);

    // The low-zoom grid counts the site once, in the cell of its shifted anchor.
    let (x, y) = tile_of(shifted, 10);
    let cells = get_tile(&app, &app.token, &format!("/tiles/sites/10/{x}/{y}.mvt?crs=gcj02"), &[]).await;
    assert_eq!(features(&cells.bytes, "sites").iter().map(|c| int(c, "n")).sum::<i64>(), 1);
}
