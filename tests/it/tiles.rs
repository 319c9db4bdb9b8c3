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
    // Flags are written only when true; a fresh site has no deadline, town or road yet.
    for absent in ["overdue", "supervised", "returned", "deadline", "town_id", "road", "stake"] {
        assert_eq!(site.get(absent), None, "{absent}");
    }

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
    assert_eq!(
        tiles::statements().len(),
        15,
        "every statement: each of seven in two coordinate systems, and the keyed one"
    );
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

/// The lon/lat of a tile's corner `(x, y)` at zoom `z` (x and y may be fractions: the tile's insides).
fn tile_corner(z: u8, x: f64, y: f64) -> [f64; 2] {
    let n = f64::from(1u32 << z);
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * y / n)).sinh().atan().to_degrees();
    [x / n * 360.0 - 180.0, lat]
}

/// A tile's features as comparable text, by feature id: the properties in key order and the geometry.
fn drawn(bytes: &[u8]) -> std::collections::BTreeMap<u64, String> {
    if bytes.is_empty() {
        return Default::default();
    }
    let reader = mvt_reader::Reader::new(bytes.to_vec()).expect("a valid vector tile");
    reader
        .get_features(0)
        .unwrap()
        .into_iter()
        .map(|f| {
            let properties: std::collections::BTreeMap<_, _> = f.properties.unwrap_or_default().into_iter().collect();
            (f.id.expect("a site feature has its id"), format!("{properties:?} {:?}", f.geometry))
        })
        .collect()
}

/// Everyone's unfiltered tiles from z13 are drawn from the tile-key index (points, in map order; migration
/// 0021) and the sections' own GiST index; a filtered tile is drawn from the sites themselves. Both must draw
/// the same features, byte for byte per feature: points just inside a tile's edges, just outside them within
/// its buffer, off its corners and beyond its buffer, and sections across it, at five zooms.
#[sqlx::test(migrations = "./migrations")]
async fn unfiltered_tiles_from_the_tile_key_draw_what_the_sites_draw(pool: PgPool) {
    let app = app(pool).await;
    let z = 15u8;
    let (tx, ty) = tile_of([120.55, 31.87], z);
    let (x0, y0) = (f64::from(tx), f64::from(ty));
    // Metres to tile units at this zoom and latitude (a z15 tile is about 1 040 m wide here).
    let [west, north] = tile_corner(z, x0, y0);
    let [east, _] = tile_corner(z, x0 + 1.0, y0);
    let tile_m = (east - west).to_radians() * 6_371_008.8 * north.to_radians().cos();
    let at = |fx: f64, fy: f64| tile_corner(z, x0 + fx, y0 + fy);
    let m = |metres: f64| metres / tile_m;
    let mut inside = Vec::new();
    let mut buffer = Vec::new();
    let mut beyond = Vec::new();
    for along in [0.2, 0.6] {
        // 3 m inside each edge: west, east, north (top), south.
        inside.extend([at(m(3.0), along), at(1.0 - m(3.0), along), at(along, m(3.0)), at(along, 1.0 - m(3.0))]);
    }
    for along in [0.4, 0.8] {
        // 5 m outside each edge: within the buffer (a 64th of the tile, 16 m).
        buffer.extend([at(-m(5.0), along), at(1.0 + m(5.0), along), at(along, -m(5.0)), at(along, 1.0 + m(5.0))]);
    }
    // Off each corner, 5 m both ways: in the buffer of the tile and of its diagonal neighbour.
    buffer.extend([
        at(-m(5.0), -m(5.0)),
        at(1.0 + m(5.0), -m(5.0)),
        at(-m(5.0), 1.0 + m(5.0)),
        at(1.0 + m(5.0), 1.0 + m(5.0)),
    ]);
    // 30 m outside each edge: beyond the buffer.
    beyond.extend([at(-m(30.0), 0.5), at(1.0 + m(30.0), 0.5), at(0.5, -m(30.0)), at(0.5, 1.0 + m(30.0))]);
    for point in inside.iter().chain(&buffer).chain(&beyond) {
        spot(&app, *point).await;
    }
    // A section across the east edge, and one beyond the buffer to the south.
    for line in [[at(0.9, 0.3), at(1.1, 0.35)], [at(0.3, 1.0 + m(40.0)), at(0.5, 1.2)]] {
        let answer = app.upload(&observation("section", json!(line)), &[]).await;
        assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    }
    let every_status: Vec<&str> = roadledger::domain::site::SiteStatus::ALL.iter().map(|s| s.as_str()).collect();
    let filtered = format!("?status={}", every_status.join(","));

    let tile = get_tile(&app, &app.token, &format!("/tiles/sites/{z}/{tx}/{ty}.mvt"), &[]).await;
    assert_eq!(tile.status, 200);
    assert_eq!(
        drawn(&tile.bytes).len(),
        inside.len() + buffer.len() + 1,
        "the tile holds its points, those in its buffer and the section across it, and nothing beyond"
    );
    let mut compared = 0;
    for zoom in 13u8..=17 {
        // Every tile over this one and its neighbours at this zoom.
        let scale = f64::from(1u32 << zoom) / f64::from(1u32 << z);
        let first = |v: f64| ((v - 1.0) * scale).floor() as u32;
        let last = |v: f64| ((v + 2.0) * scale).ceil() as u32 - 1;
        for x in first(x0)..=last(x0) {
            for y in first(y0)..=last(y0) {
                let path = format!("/tiles/sites/{zoom}/{x}/{y}.mvt");
                let keyed = get_tile(&app, &app.token, &path, &[]).await;
                let from_sites = get_tile(&app, &app.token, &format!("{path}{filtered}"), &[]).await;
                assert_eq!((keyed.status.as_u16(), from_sites.status.as_u16()), (200, 200), "{path}");
                assert_eq!(drawn(&keyed.bytes), drawn(&from_sites.bytes), "{path}");
                compared += usize::from(!keyed.bytes.is_empty());
            }
        }
    }
    assert!(compared > 40, "{compared} tiles with features compared");
}

/// The keyed statement reads its point sites from the tile-key index alone: the index carries every column
/// the statement reads (migration 0021). Drawn with sequential and bitmap scans off, a column missing from
/// the index turns the plan's index-only scan into an index scan, and this fails.
#[sqlx::test(migrations = "./migrations")]
async fn the_keyed_tile_reads_point_sites_from_the_index_alone(pool: PgPool) {
    let app = app(pool).await;
    spot(&app, [120.55, 31.87]).await;
    let mut conn = app.pool.acquire().await.unwrap();
    // One at a time: VACUUM cannot run inside the implicit transaction of several statements.
    for each in ["vacuum analyze site", "set enable_seqscan = off", "set enable_bitmapscan = off"] {
        sqlx::raw_sql(each).execute(&mut *conn).await.unwrap();
    }
    let tile = tiles::TileId::new(16, 54741, 26629).unwrap();
    let (lows, highs) = tiles::key_ranges(tile);
    let plan: Vec<String> = sqlx::query_scalar(&format!("explain {}", tiles::keyed_statement()))
        .bind(i32::from(tile.z))
        .bind(tile.x as i32)
        .bind(tile.y as i32)
        .bind(lows)
        .bind(highs)
        .bind(roadledger::domain::site::SiteStatus::open_codes())
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let plan = plan.join("\n");
    assert!(plan.contains("Index Only Scan using site_tile_key_idx"), "{plan}");
    assert!(plan.contains("site_section_geom_3857_gix"), "{plan}");
}

/// The Rust ranges of a tile and the SQL key of a point agree: the key of every point of a tile, or of its
/// buffer, falls in one of the tile's ranges, and the key of a point far outside in none.
#[sqlx::test(migrations = "./migrations")]
async fn a_tiles_key_ranges_hold_the_keys_of_its_points(pool: PgPool) {
    for (z, x, y) in [(13u8, 6843u32, 3328u32), (16, 54741, 26629), (22, 3503450, 1704300)] {
        let tile = tiles::TileId::new(z, x, y).unwrap();
        let (lows, highs) = tiles::key_ranges(tile);
        assert!(lows.windows(2).all(|w| w[0] < w[1]) && lows.iter().zip(&highs).all(|(l, h)| l <= h));
        // Points on a 9 × 9 grid over the tile and its buffer (from -1/128 to 1 + 1/128 of the tile), and
        // four 0.3 of a tile outside (beyond the ring of finer cells, a quarter of the tile at most).
        let mut points: Vec<(f64, f64, bool)> = Vec::new();
        for i in 0..=8 {
            for j in 0..=8 {
                let f = |k: i32| -1.0 / 128.0 + f64::from(k) * (1.0 + 2.0 / 128.0) / 8.0;
                points.push((f(i), f(j), true));
            }
        }
        points.extend([(-0.3, 0.5, false), (1.3, 0.5, false), (0.5, -0.3, false), (0.5, 1.3, false)]);
        for (fx, fy, held) in points {
            let [lon, lat] = tile_corner(z, f64::from(x) + fx, f64::from(y) + fy);
            let key: i64 =
                sqlx::query_scalar("select tile_key_of(st_transform(st_setsrid(st_point($1, $2), 4326), 3857))")
                    .bind(lon)
                    .bind(lat)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            let found = lows.iter().zip(&highs).any(|(l, h)| (*l..=*h).contains(&key));
            assert_eq!(found, held, "z{z} ({fx}, {fy}): key {key}");
        }
    }
}
