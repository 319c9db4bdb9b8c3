//! OGC API – Features under `/ogc` on a real PostGIS: the landing page, conformance, collections, paged
//! items with `next` links and counts, scopes, refusals, and GDAL's own `OAPIF` driver reading the sites into a
//! GeoPackage over HTTP (the client county GIS offices use).

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use sqlx::PgPool;
use tokio::process::Command;

use crate::common::{self, TestApp, YANGSHE, app, jpeg, observation};

async fn get(app: &TestApp, token: &str, path: &str) -> common::Answer {
    let request = Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .header("host", "gis.example")
        .body(Body::empty())
        .unwrap();
    app.send(request).await
}

async fn spot(app: &TestApp, at: [f64; 2]) -> String {
    let answer = app.upload(&observation("spot", json!(at)), &[&jpeg(320, 240)]).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    answer.json()["site"]["id"].as_str().unwrap().to_string()
}

/// Five sites in 杨舍镇 (a few hundred metres apart) and two outside any town.
async fn county(app: &TestApp) -> common::CountyOffice {
    let office = common::county_office(app).await;
    for i in 0..5 {
        spot(app, [120.52 + f64::from(i) * 0.01, 31.87]).await;
    }
    spot(app, [120.70, 31.95]).await;
    spot(app, [120.72, 31.95]).await;
    office
}

/// The path and query of an absolute link to this server.
fn local(href: &str) -> String {
    href.strip_prefix("http://gis.example").unwrap_or_else(|| panic!("{href} is not ours")).to_string()
}

#[sqlx::test(migrations = "./migrations")]
async fn the_landing_page_conformance_and_collections_describe_the_service(pool: PgPool) {
    let app = app(pool).await;
    county(&app).await;
    let landing = get(&app, &app.token, "/ogc").await;
    assert_eq!(landing.status, 200);
    let rels: BTreeSet<String> =
        landing.json()["links"].as_array().unwrap().iter().map(|l| l["rel"].as_str().unwrap().to_string()).collect();
    assert!(rels.is_superset(&BTreeSet::from(["self".into(), "conformance".into(), "data".into()])));

    let conformance = get(&app, &app.token, "/ogc/conformance").await.json();
    let classes: Vec<&str> =
        conformance["conformsTo"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"));
    assert!(classes.contains(&"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"));

    let collections = get(&app, &app.token, "/ogc/collections").await.json();
    let ids: Vec<&str> =
        collections["collections"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["sites", "towns", "roads"]);
    let sites = get(&app, &app.token, "/ogc/collections/sites").await.json();
    assert_eq!(sites["itemType"], "feature");
    // The extent is the county's (here the one town).
    assert_eq!(sites["extent"]["spatial"]["bbox"][0], json!(YANGSHE));
    let items = sites["links"].as_array().unwrap().iter().find(|l| l["rel"] == "items").unwrap();
    assert_eq!(items["href"], "http://gis.example/ogc/collections/sites/items");
}

#[sqlx::test(migrations = "./migrations")]
async fn items_page_by_next_links_with_counts(pool: PgPool) {
    let app = app(pool).await;
    county(&app).await;
    let mut path = "/ogc/collections/sites/items?limit=3".to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let answer = get(&app, &app.token, &path).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.headers["content-type"], "application/geo+json");
        let page = answer.json();
        assert_eq!(page["type"], "FeatureCollection");
        assert_eq!(page["numberMatched"], 7);
        let features = page["features"].as_array().unwrap();
        assert_eq!(page["numberReturned"], features.len());
        seen.extend(features.iter().map(|f| f["id"].as_str().unwrap().to_string()));
        assert!(features.iter().all(|f| f["properties"]["status"] == "reported"));
        pages += 1;
        match page["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next") {
            Some(next) => path = local(next["href"].as_str().unwrap()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 7, "no site twice");

    // Filters and bbox as in the site list; one feature by id.
    let in_town = get(&app, &app.token, "/ogc/collections/sites/items?town=杨舍镇").await.json();
    assert_eq!(in_town["numberMatched"], 5);
    let boxed = get(&app, &app.token, "/ogc/collections/sites/items?bbox=120.69,31.9,120.73,32.0").await.json();
    assert_eq!(boxed["numberMatched"], 2);
    let one = get(&app, &app.token, &format!("/ogc/collections/sites/items/{}", seen[0])).await;
    assert_eq!(one.status, 200);
    assert_eq!(one.json()["id"], seen[0].as_str());

    // Towns too.
    let towns = get(&app, &app.token, "/ogc/collections/towns/items").await.json();
    assert_eq!(towns["numberMatched"], 1);
    assert_eq!(towns["features"][0]["properties"]["name"], "杨舍镇");
    let town_id = towns["features"][0]["id"].as_i64().unwrap();
    let town = get(&app, &app.token, &format!("/ogc/collections/towns/items/{town_id}")).await.json();
    assert_eq!(town["properties"]["admin_code"], "320582100");
}

#[sqlx::test(migrations = "./migrations")]
async fn a_town_officer_reads_only_their_towns_sites(pool: PgPool) {
    let app = app(pool).await;
    let office = county(&app).await;
    let all = get(&app, &app.token, "/ogc/collections/sites/items").await.json();
    let outside = all["features"].as_array().unwrap().iter().find(|f| f["properties"]["town"].is_null()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = get(&app, &office.town_officer, "/ogc/collections/sites/items").await.json();
    assert_eq!(mine["numberMatched"], 5);
    assert!(mine["features"].as_array().unwrap().iter().all(|f| f["properties"]["town"] == "杨舍镇"));
    let other = get(&app, &office.town_officer, &format!("/ogc/collections/sites/items/{outside}")).await;
    assert_eq!(other.status, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_requests_are_refused_clearly(pool: PgPool) {
    let app = app(pool).await;
    for (path, status) in [
        ("/ogc/collections/sites/items?limit=0", 400),
        ("/ogc/collections/sites/items?bbox=121,31,120,32", 400),
        ("/ogc/collections/sites/items?bbox=1,2,3", 400),
        ("/ogc/collections/sites/items?colour=red", 400),
        ("/ogc/collections/sites/items?status=sunny", 400),
        ("/ogc/collections/sites/items?after=yesterday", 400),
        ("/ogc/collections/sites/items?f=html", 400),
        ("/ogc/collections/towns/items?status=closed", 400),
        ("/ogc/collections/lakes/items", 404),
        ("/ogc/collections/lakes", 404),
        ("/ogc/collections/sites/items/not-a-uuid", 404),
        ("/ogc/collections/roads/items/99", 404),
        ("/ogc/collections/towns/items/-9223372036854775808", 404),
    ] {
        let answer = get(&app, &app.token, path).await;
        assert_eq!(answer.status, status, "{path}");
        assert!(!answer.detail().is_empty(), "{path}");
    }
    // A limit past the cap is served at the cap, as the standard asks.
    assert_eq!(get(&app, &app.token, "/ogc/collections/sites/items?limit=99999").await.status, 200);
    let anonymous = app.send_as_is(Request::get("/ogc/collections").body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, 401);
}

#[sqlx::test(migrations = "./migrations")]
async fn gdal_reads_the_sites_into_a_geopackage(pool: PgPool) {
    let app = app(pool).await;
    county(&app).await;
    let base = common::serve(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("sites.gpkg");
    let header = format!("Authorization: Bearer {}", app.token);
    // Pages of 2, so GDAL must follow the next links. (tokio's Command: the server runs on this test's thread.)
    let out = Command::new("ogr2ogr")
        .args(["--config", "GDAL_HTTP_HEADERS", &header, "-f", "GPKG"])
        .arg(&gpkg)
        .arg(format!("OAPIF:{base}/ogc"))
        .arg("sites")
        .args(["-oo", "PAGE_SIZE=2"])
        .output()
        .await
        .expect("ogr2ogr (Debian gdal-bin) runs");
    assert!(out.status.success(), "ogr2ogr failed: {}", String::from_utf8_lossy(&out.stderr));

    let db = rusqlite::Connection::open(&gpkg).unwrap();
    let count: i64 = db.query_row("select count(*) from sites", [], |r| r.get(0)).unwrap();
    assert_eq!(count, 7);
    let towns: Vec<Option<String>> = db
        .prepare("select town from sites order by town")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(towns.iter().filter(|t| t.as_deref() == Some("杨舍镇")).count(), 5, "Chinese names intact: {towns:?}");
    let statuses: BTreeSet<String> = db
        .prepare("select status from sites")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(statuses, BTreeSet::from(["reported".to_string()]));

    let info = Command::new("ogrinfo")
        .args(["--config", "GDAL_HTTP_HEADERS", &header, "-so", "-ro"])
        .arg(format!("OAPIF:{base}/ogc"))
        .arg("towns")
        .output()
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&info.stdout);
    assert!(info.status.success() && text.contains("Feature Count: 1"), "{text}");
}
