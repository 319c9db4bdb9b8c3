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

/// Percent-encodes a query value.
fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// The number of sites `…/sites/items?{query}` matches, checked against the features it returns.
async fn matched(app: &TestApp, query: &str) -> i64 {
    let answer = get(app, &app.token, &format!("/ogc/collections/sites/items?limit=100&{query}")).await;
    assert_eq!(answer.status, 200, "{query}: {}", String::from_utf8_lossy(&answer.bytes));
    let page = answer.json();
    assert_eq!(page["numberMatched"], page["features"].as_array().unwrap().len(), "{query}");
    page["numberMatched"].as_i64().unwrap()
}

/// The number of sites a CQL2 filter matches.
async fn filtered(app: &TestApp, filter: &str) -> i64 {
    matched(app, &format!("filter={}", enc(filter))).await
}

/// The 400 of a request, with its detail.
async fn refused(app: &TestApp, path: &str) -> String {
    let answer = get(app, &app.token, path).await;
    assert_eq!(answer.status, 400, "{path}: {}", String::from_utf8_lossy(&answer.bytes));
    answer.detail()
}

/// The county's seven sites (five in 杨舍镇, two outside any town) in the order they were reported, each given
/// a status, hazard level, deadline, counts, supervision and source:
///
/// | # | status      | level       | deadline   | returns | relapses | supervision | source        |
/// |---|-------------|-------------|------------|---------|----------|-------------|---------------|
/// | 0 | closed      | major       | 2026-01-10 | 0       | 0        | none        | patrol        |
/// | 1 | closed      | general     |            | 1       | 0        | county      | hotline       |
/// | 2 | in_progress | significant | 2020-01-01 | 2       | 1        | county      | hotline       |
/// | 3 | assigned    | major       | 2099-01-01 | 0       | 0        | town        | citizen_photo |
/// | 4 | reported    |             |            | 3       | 2        | none        | patrol        |
/// | 5 | reported    | general     |            | 0       | 0        | none        | drone         |
/// | 6 | verified    |             | 2020-06-01 | 0       | 0        | province    | patrol        |
///
/// So sites 2 and 6 are overdue (open, past their deadline); site 0 is past its deadline but closed.
async fn ledger(app: &TestApp) -> (common::CountyOffice, Vec<String>) {
    let office = common::county_office(app).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(spot(app, [120.52 + f64::from(i) * 0.01, 31.87]).await);
    }
    ids.push(spot(app, [120.70, 31.95]).await);
    ids.push(spot(app, [120.72, 31.95]).await);
    type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, i32, i32, &'a str, &'a str);
    let rows: [Row; 7] = [
        ("closed", Some("major"), Some("2026-01-10"), 0, 0, "none", "patrol"),
        ("closed", Some("general"), None, 1, 0, "county", "hotline"),
        ("in_progress", Some("significant"), Some("2020-01-01"), 2, 1, "county", "hotline"),
        ("assigned", Some("major"), Some("2099-01-01"), 0, 0, "town", "citizen_photo"),
        ("reported", None, None, 3, 2, "none", "patrol"),
        ("reported", Some("general"), None, 0, 0, "none", "drone"),
        ("verified", None, Some("2020-06-01"), 0, 0, "province", "patrol"),
    ];
    for (id, (status, level, deadline, returns, relapses, supervision, source)) in ids.iter().zip(rows) {
        sqlx::query(
            "update site set status = $2, hazard_level = $3, deadline = $4::date, return_count = $5,
                 relapse_count = $6, supervision_level = $7, source = $8
             where id = $1::uuid",
        )
        .bind(id)
        .bind(status)
        .bind(level)
        .bind(deadline)
        .bind(returns)
        .bind(relapses)
        .bind(supervision)
        .bind(source)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    (office, ids)
}

#[sqlx::test(migrations = "./migrations")]
async fn datetime_selects_sites_by_when_they_were_first_observed(pool: PgPool) {
    let app = app(pool).await;
    // No site yet: the temporal extent has open (null) ends.
    let empty = get(&app, &app.token, "/ogc/collections/sites").await.json();
    assert_eq!(empty["extent"]["temporal"]["interval"], json!([[null, null]]));

    let (_, ids) = ledger(&app).await;
    // 10-31T16:00Z is midnight of 11-01 in China Standard Time.
    let times = [
        "2026-10-30T00:00:00Z",
        "2026-10-31T15:59:59Z",
        "2026-10-31T16:00:00Z",
        "2026-11-01T00:00:00Z",
        "2026-11-01T12:00:00Z",
        "2026-11-02T00:00:00Z",
        "2026-11-05T00:00:00Z",
    ];
    for (id, at) in ids.iter().zip(times) {
        sqlx::query("update site set first_observed_at = $2::timestamptz where id = $1::uuid")
            .bind(id)
            .bind(at)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    let sites = get(&app, &app.token, "/ogc/collections/sites").await.json();
    assert_eq!(sites["extent"]["temporal"]["interval"], json!([["2026-10-30T00:00:00Z", "2026-11-05T00:00:00Z"]]));
    assert!(sites["description"].as_str().unwrap().contains("first_observed_at"));
    let towns = get(&app, &app.token, "/ogc/collections/towns").await.json();
    assert!(towns["extent"].get("temporal").is_none(), "towns have no time");

    for (datetime, n) in [
        ("2026-11-01T00:00:00Z", 1),
        ("2026-11-01T08:00:00%2B08:00", 1),
        // A date is its whole day in China Standard Time: sites 2, 3 and 4.
        ("2026-11-01", 3),
        // Both ends included.
        ("2026-11-01T00:00:00Z/2026-11-02T00:00:00Z", 3),
        ("../2026-11-01T00:00:00Z", 4),
        ("2026-11-01T00:00:00Z/..", 4),
        ("2026-11-01T00:00:00Z/", 4),
        ("/2026-10-31", 2),
        // 2026-10-30T16:00Z to 2026-11-01T16:00Z: sites 1 to 4.
        ("2026-10-31/2026-11-01", 4),
        ("../..", 7),
        ("2027-01-01/..", 0),
    ] {
        assert_eq!(matched(&app, &format!("datetime={datetime}")).await, n, "datetime={datetime}");
    }
    // With the other filters, and kept by the next links.
    assert_eq!(matched(&app, "datetime=2026-11-01/..&town=320582100").await, 3);
    let mut path = "/ogc/collections/sites/items?datetime=2026-10-31T00:00:00Z/..&limit=2".to_string();
    let mut seen = 0;
    loop {
        let page = get(&app, &app.token, &path).await.json();
        assert_eq!(page["numberMatched"], 6);
        seen += page["features"].as_array().unwrap().len();
        match page["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next") {
            Some(next) => path = local(next["href"].as_str().unwrap()),
            None => break,
        }
    }
    assert_eq!(seen, 6);

    for (query, says) in [
        ("datetime=yesterday", "neither an RFC 3339 date-time"),
        ("datetime=2026-11-01T00:00:00", "neither an RFC 3339 date-time"),
        ("datetime=2026-11-02/2026-11-01", "the start is after the end"),
        ("datetime=2026-11-01/2026-11-02/2026-11-03", "more than one /"),
        ("datetime=", "datetime is empty"),
    ] {
        let detail = refused(&app, &format!("/ogc/collections/sites/items?{query}")).await;
        assert!(detail.contains(says), "{query}: {detail}");
    }
    let detail = refused(&app, "/ogc/collections/towns/items?datetime=2026-11-01").await;
    assert!(detail.contains("towns have no time"), "{detail}");
    refused(&app, "/ogc/collections/roads/items?datetime=2026-11-01").await;
}

#[sqlx::test(migrations = "./migrations")]
async fn cql2_filters_select_sites_by_every_operator(pool: PgPool) {
    let app = app(pool).await;
    let (office, ids) = ledger(&app).await;
    let code: String = sqlx::query_scalar("select code from site where id = $1::uuid")
        .bind(&ids[0])
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for (filter, n) in [
        ("status = 'closed'", 2),
        ("status <> 'closed'", 5),
        ("return_count > 1", 2),
        ("return_count >= 1", 3),
        ("return_count < 1", 4),
        ("return_count <= 1", 5),
        ("1 < return_count", 2),
        ("relapse_count > 0", 2),
        // AND binds tighter than OR: reported (4, 5) or closed-and-major (0).
        ("status = 'reported' OR status = 'closed' AND hazard_level = 'major'", 3),
        ("(status = 'reported' OR status = 'closed') AND hazard_level = 'major'", 1),
        ("status = 'closed' AND hazard_level = 'major' OR status = 'reported'", 3),
        ("NOT status = 'closed'", 5),
        ("NOT (status = 'closed' OR status = 'reported')", 3),
        ("not not status = 'closed'", 2),
        ("status IN ('closed', 'assigned')", 3),
        ("status NOT IN ('closed', 'assigned')", 4),
        ("hazard_level IS NULL", 2),
        ("hazard_level IS NOT NULL", 5),
        ("town IS NULL", 2),
        ("town = '杨舍镇'", 5),
        ("town_code = '320582100' AND status = 'closed'", 2),
        ("road IS NULL AND route_code IS NULL AND road_code IS NULL AND road_name IS NULL", 7),
        ("status LIKE 'in%'", 1),
        ("status LIKE '_e%'", 3),
        ("source NOT LIKE 'p%'", 4),
        ("status LIKE 'in\\_progress'", 1),
        ("return_count BETWEEN 1 AND 2", 2),
        ("return_count NOT BETWEEN 1 AND 2", 5),
        ("deadline < DATE('2026-01-01')", 2),
        ("deadline BETWEEN DATE('2026-01-01') AND DATE('2026-12-31')", 1),
        ("deadline IS NULL", 3),
        ("overdue = TRUE", 2),
        ("overdue <> true", 5),
        ("supervision_level = 'county'", 2),
        ("supervision_level IN ('town', 'province')", 2),
        ("source = 'hotline' AND kind = 'spot'", 2),
        ("first_observed_at > TIMESTAMP('2000-01-01T00:00:00Z')", 7),
        ("first_observed_at < TIMESTAMP('2000-01-01T00:00:00Z')", 0),
        ("TRUE", 7),
        ("FALSE", 0),
        ("return_count = relapse_count", 4),
        // Spatial: sites 5 and 6 are at 120.70 and 120.72, 31.95; sites 0 to 4 at 120.52 to 120.56, 31.87.
        ("S_INTERSECTS(geometry, BBOX(120.69, 31.9, 120.73, 32.0))", 2),
        ("S_INTERSECTS(BBOX(120.69, 31.9, 120.73, 32.0), geometry) AND status = 'verified'", 1),
        ("S_INTERSECTS(geometry, POINT(120.7 31.95))", 1),
        (
            "S_INTERSECTS(geometry, POLYGON((120.515 31.86, 120.535 31.86, 120.535 31.88, 120.515 31.88, 120.515 31.86)))",
            2,
        ),
        ("S_INTERSECTS(geometry, LINESTRING(120.52 31.8, 120.52 31.9))", 1),
        ("NOT S_INTERSECTS(geometry, BBOX(120.5, 31.8, 120.6, 31.9))", 2),
        ("\"status\"='closed'and\"return_count\"=1", 1),
        (&format!("code = '{code}'"), 1),
        // An attempt to break out of the string is a string.
        ("status = 'x'' or 1=1 --'", 0),
        ("status = 'closed'' OR ''1''=''1'", 0),
    ] {
        assert_eq!(filtered(&app, filter).await, n, "{filter}");
    }
    // The filter's overdue is the features' overdue.
    let overdue =
        get(&app, &app.token, &format!("/ogc/collections/sites/items?filter={}", enc("overdue = TRUE"))).await.json();
    let mut got: Vec<&str> =
        overdue["features"].as_array().unwrap().iter().map(|f| f["id"].as_str().unwrap()).collect();
    got.sort_unstable();
    let mut want = vec![ids[2].as_str(), ids[6].as_str()];
    want.sort_unstable();
    assert_eq!(got, want);
    assert!(overdue["features"].as_array().unwrap().iter().all(|f| f["properties"]["overdue"] == true));

    // With the site parameters, bbox and filter-lang, all together.
    assert_eq!(matched(&app, &format!("town=杨舍镇&filter={}", enc("status <> 'closed'"))).await, 3);
    assert_eq!(matched(&app, &format!("status=reported,closed&filter={}", enc("hazard_level = 'general'"))).await, 2);
    assert_eq!(matched(&app, &format!("bbox=120.69,31.9,120.73,32.0&filter={}", enc("status = 'verified'"))).await, 1);
    assert_eq!(matched(&app, &format!("filter-lang=cql2-text&filter={}", enc("status = 'closed'"))).await, 2);
    assert_eq!(matched(&app, &format!("filter-lang=cql-text&filter={}", enc("status = 'closed'"))).await, 2);
    let crs84 = enc("http://www.opengis.net/def/crs/OGC/1.3/CRS84");
    assert_eq!(matched(&app, &format!("filter-crs={crs84}&filter={}", enc("status = 'closed'"))).await, 2);
    // The table is still there.
    assert_eq!(filtered(&app, "TRUE").await, 7);

    // numberMatched follows the filter across pages, and the next links keep it.
    let mut path = format!("/ogc/collections/sites/items?limit=2&filter={}", enc("status <> 'closed'"));
    let mut seen = Vec::new();
    loop {
        let page = get(&app, &app.token, &path).await.json();
        assert_eq!(page["numberMatched"], 5);
        for f in page["features"].as_array().unwrap() {
            assert_ne!(f["properties"]["status"], "closed");
            seen.push(f["id"].as_str().unwrap().to_string());
        }
        match page["links"].as_array().unwrap().iter().find(|l| l["rel"] == "next") {
            Some(next) => path = local(next["href"].as_str().unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 5);

    // A town officer's filter stays inside their town, and so does the count.
    for (filter, n) in [("TRUE", 5), ("town IS NULL", 0), ("NOT town = '杨舍镇'", 0), ("status = 'closed'", 2)] {
        let path = format!("/ogc/collections/sites/items?filter={}", enc(filter));
        let page = get(&app, &office.town_officer, &path).await.json();
        assert_eq!(page["numberMatched"], n, "{filter}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_filters_are_400s_that_say_where(pool: PgPool) {
    let app = app(pool).await;
    let items = |filter: &str| format!("/ogc/collections/sites/items?filter={}", enc(filter));
    for (filter, says) in [
        ("status = ", "filter: at character 10: expected a property or a literal, found the end of the filter"),
        (
            "deadline > 3",
            "filter: at character 12: deadline is a date: compare it with DATE('2026-11-01'), not a number",
        ),
        ("first_observed_at > DATE('2026-11-01')", "first_observed_at is a timestamp"),
        ("overdue = 'yes'", "overdue is a boolean"),
        ("return_count = '3'", "return_count is a number"),
        ("colour = 'red'", "filter: at character 1: unknown property \"colour\"; the queryables are code, status"),
        ("status = 'x' or 1=1 --'", "at character 21"),
        ("status = 'x'; drop table site", "at character 13: unexpected character ';'"),
        ("(status = 'closed'", "expected AND, OR or ), found the end of the filter"),
        ("status == 'closed'", "at character 9"),
        ("return_count LIKE '1%'", "LIKE applies to text"),
        ("status IN ()", "at character 12"),
        ("deadline = DATE('tomorrow')", "is not a date"),
        // What PostgreSQL would refuse is refused first, as a 400 and not a failed statement.
        ("deadline = DATE('-4800-01-01')", "is not a date"),
        ("status = 'a\0b'", "at character 12: a NUL character"),
        ("status LIKE 'closed\\'", "cannot end with its escape character"),
        ("S_INTERSECTS(geometry, BBOX(121, 31, 120, 32))", "at character 24: BBOX is minlon, minlat, maxlon, maxlat"),
        ("S_INTERSECTS(status, POINT(120 31))", "status is text; S_INTERSECTS takes a geometry"),
        ("S_INTERSECTS(geometry, POINT(31.9 120.7))", "not a longitude and latitude in degrees (CRS84)"),
        ("geometry = 'POINT(1 2)'", "geometry is a geometry"),
    ] {
        let detail = refused(&app, &items(filter)).await;
        assert!(detail.contains(says), "{filter}: {detail}");
    }
    refused(&app, "/ogc/collections/sites/items?town=a%00b").await;
    refused(&app, "/ogc/collections/sites/items?datetime=-4800-01-01").await;
    let long = format!("status = '{}'", "a".repeat(4096));
    assert!(refused(&app, &items(&long)).await.contains("longer than 4096 bytes"));
    let deep = format!("{}TRUE{}", "(".repeat(33), ")".repeat(33));
    assert!(refused(&app, &items(&deep)).await.contains("nested more than 32 deep"));
    let many = vec!["return_count = 1"; 101].join(" OR ");
    assert!(refused(&app, &items(&many)).await.contains("more than 200 terms"));

    let detail = refused(&app, "/ogc/collections/sites/items?filter=TRUE&filter-lang=cql2-json").await;
    assert!(detail.contains("filter-lang=cql2-json: the only filter language is cql2-text"), "{detail}");
    let epsg = enc("http://www.opengis.net/def/crs/EPSG/0/4326");
    let detail = refused(&app, &format!("/ogc/collections/sites/items?filter=TRUE&filter-crs={epsg}")).await;
    assert!(detail.contains("the only filter CRS is http://www.opengis.net/def/crs/OGC/1.3/CRS84"), "{detail}");
    let detail = refused(&app, "/ogc/collections/towns/items?filter=TRUE").await;
    assert!(detail.contains("towns have no queryables"), "{detail}");
    refused(&app, "/ogc/collections/roads/items?filter-lang=cql2-text").await;
}

#[sqlx::test(migrations = "./migrations")]
async fn the_queryables_and_conformance_advertise_the_filter(pool: PgPool) {
    let app = app(pool).await;
    let sites = get(&app, &app.token, "/ogc/collections/sites").await.json();
    let link = sites["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "http://www.opengis.net/def/rel/ogc/1.0/queryables")
        .expect("a queryables link");
    assert_eq!(link["type"], "application/schema+json");
    let answer = get(&app, &app.token, &local(link["href"].as_str().unwrap())).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/schema+json");
    let schema = answer.json();
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    let names: BTreeSet<&str> = schema["properties"].as_object().unwrap().keys().map(String::as_str).collect();
    let want: BTreeSet<&str> = [
        "geometry",
        "status",
        "kind",
        "hazard_level",
        "town",
        "town_code",
        "road",
        "road_name",
        "route_code",
        "road_code",
        "source",
        "overdue",
        "supervision_level",
        "deadline",
        "first_observed_at",
        "return_count",
        "relapse_count",
        "code",
    ]
    .into();
    assert_eq!(names, want);
    let p = &schema["properties"];
    assert_eq!(p["first_observed_at"]["format"], "date-time");
    assert_eq!(p["first_observed_at"]["x-ogc-role"], "primary-instant");
    assert_eq!(p["deadline"]["format"], "date");
    assert_eq!(p["geometry"]["x-ogc-role"], "primary-geometry");
    assert_eq!(p["overdue"]["type"], "boolean");
    assert_eq!(p["return_count"]["type"], "integer");
    assert!(p["status"]["enum"].as_array().unwrap().contains(&json!("closed")));
    assert!(p["source"]["enum"].as_array().unwrap().contains(&json!("hotline")));
    // Every queryable is usable in a filter.
    for name in &names {
        let answer =
            get(&app, &app.token, &format!("/ogc/collections/sites/items?filter={}", enc(&format!("{name} IS NULL"))))
                .await;
        assert_eq!(answer.status, 200, "{name}: {}", String::from_utf8_lossy(&answer.bytes));
    }
    // A client that takes plain JSON only (GDAL 3.6) gets the same document as application/json.
    let plain = app
        .send(
            Request::get("/ogc/collections/sites/queryables")
                .header("authorization", format!("Bearer {}", app.token))
                .header("accept", "application/geo+json, application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(plain.headers["content-type"], "application/json");
    assert_eq!(plain.json()["properties"], schema["properties"]);
    assert_eq!(get(&app, &app.token, "/ogc/collections/towns/queryables").await.status, 404);
    assert_eq!(get(&app, &app.token, "/ogc/collections/lakes/queryables").await.status, 404);

    let conformance = get(&app, &app.token, "/ogc/conformance").await.json();
    let classes: BTreeSet<&str> =
        conformance["conformsTo"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    for class in [
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
        "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
        "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
        "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
        "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    ] {
        assert!(classes.contains(class), "{class}");
    }
    assert!(classes.contains("http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions"));
    assert!(!classes.iter().any(|c| c.ends_with("/spatial-functions")), "only S_INTERSECTS is implemented");
}

/// Every `$ref` in `value` points at something in `doc`.
fn check_refs(doc: &serde_json::Value, value: &serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(|r| r.as_str()) {
                let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{target} is not local"));
                assert!(doc.pointer(pointer).is_some(), "{target} resolves to nothing");
            }
            map.values().for_each(|v| check_refs(doc, v));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| check_refs(doc, v)),
        _ => {}
    }
}

/// `{anything}` as `{}`, so that the router's and the document's path templates compare.
fn template(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => (inside, out) = (true, out + "{"),
            '}' => (inside, out) = (false, out + "}"),
            c if !inside => out.push(c),
            _ => {}
        }
    }
    out
}

#[sqlx::test(migrations = "./migrations")]
async fn the_openapi_definition_describes_every_ogc_route(pool: PgPool) {
    let app = app(pool).await;
    let (_, ids) = ledger(&app).await;
    let landing = get(&app, &app.token, "/ogc").await.json();
    let desc = landing["links"].as_array().unwrap().iter().find(|l| l["rel"] == "service-desc").unwrap();
    assert_eq!(desc["type"], "application/vnd.oai.openapi+json;version=3.0");
    let answer = get(&app, &app.token, &local(desc["href"].as_str().unwrap())).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.headers["content-type"], "application/vnd.oai.openapi+json;version=3.0");
    let doc = answer.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.0."), "{}", doc["openapi"]);
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    assert_eq!(doc["servers"][0]["url"], "http://gis.example/ogc");
    check_refs(&doc, &doc);

    // The router's /ogc paths (read from its source, as tests/it/openapi.rs does) are the document's paths.
    let source = include_str!("../../src/http/mod.rs");
    let routed: BTreeSet<String> = source
        .match_indices(".route(\"/ogc")
        .map(|(i, m)| {
            let rest = &source[i + m.len() - "/ogc".len()..];
            let path = &rest[..rest.find('"').unwrap()];
            let path = path.strip_prefix("/ogc").unwrap();
            template(if path.is_empty() { "/" } else { path })
        })
        .collect();
    let paths = doc["paths"].as_object().unwrap();
    let documented: BTreeSet<String> = paths.keys().map(|p| template(p)).collect();
    assert_eq!(routed, documented);
    assert!(routed.len() >= 8, "{routed:?}");

    // Each operation: answers, and its path parameters declared; and each one answers 200 when called.
    for (path, item) in paths {
        let op = &item["get"];
        assert!(op["responses"]["200"]["description"].is_string(), "{path}");
        let declared: BTreeSet<String> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let p = match p["$ref"].as_str() {
                    Some(r) => doc.pointer(r.strip_prefix('#').unwrap()).unwrap(),
                    None => p,
                };
                assert!(p["schema"].is_object(), "{path}: {p}");
                format!("{}:{}", p["in"].as_str().unwrap(), p["name"].as_str().unwrap())
            })
            .collect();
        for name in path.split('{').skip(1).map(|s| s.split('}').next().unwrap()) {
            assert!(declared.contains(&format!("path:{name}")), "{path}: {name} undeclared");
        }
        let concrete = path.replace("{collectionId}", "sites").replace("{featureId}", &ids[0]);
        let concrete = if concrete == "/" { String::new() } else { concrete };
        let called = get(&app, &app.token, &format!("/ogc{concrete}")).await;
        assert_eq!(called.status, 200, "{path}");
    }
    // The items' parameters: what GDAL reads to send filters.
    let items = paths["/collections/{collectionId}/items"]["get"]["parameters"].as_array().unwrap();
    let names: BTreeSet<&str> = items
        .iter()
        .map(|p| doc.pointer(p["$ref"].as_str().unwrap().strip_prefix('#').unwrap()).unwrap()["name"].as_str().unwrap())
        .collect();
    for name in ["bbox", "limit", "datetime", "filter", "filter-lang", "filter-crs", "status", "kind", "town"] {
        assert!(names.contains(name), "{name}");
    }
    assert_eq!(doc["components"]["parameters"]["filter-lang"]["schema"]["enum"], json!(["cql2-text", "cql-text"]));
}

#[sqlx::test(migrations = "./migrations")]
async fn gdal_sends_a_where_clause_to_the_server_as_a_cql2_filter(pool: PgPool) {
    let app = app(pool).await;
    ledger(&app).await;
    let server = filtered(&app, "status = 'closed'").await;
    assert_eq!(server, 2);
    let base = common::serve(&app).await;
    let header = format!("Authorization: Bearer {}", app.token);

    // GDAL logs the URLs it fetches (CPL_DEBUG): the filter must be in them, not evaluated on the client.
    let info = Command::new("ogrinfo")
        .args(["--config", "GDAL_HTTP_HEADERS", &header, "--config", "CPL_DEBUG", "ON", "-ro", "-so"])
        .args(["-where", "status = 'closed'"])
        .arg(format!("OAPIF:{base}/ogc"))
        .arg("sites")
        .output()
        .await
        .expect("ogrinfo (Debian gdal-bin) runs");
    let out = String::from_utf8_lossy(&info.stdout);
    let log = String::from_utf8_lossy(&info.stderr);
    assert!(info.status.success(), "{out}\n{log}");
    assert!(out.contains(&format!("Feature Count: {server}")), "{out}");
    assert!(log.contains("CQL text detected"), "GDAL did not see the filter in /ogc/api: {log}");
    assert!(!log.contains("ERROR"), "GDAL complained: {log}");
    let fetched: Vec<&str> = log.lines().filter(|l| l.contains("/ogc/collections/sites/items?")).collect();
    assert!(
        fetched.iter().any(|l| l.contains("filter=status") && l.contains("filter-lang=cql-text")),
        "no filtered request: {fetched:#?}"
    );
    assert!(!log.contains("evaluated on client side"), "{log}");

    // A field GDAL 3.6 does not know as queryable is filtered by GDAL itself, after the server's part.
    let both = Command::new("ogrinfo")
        .args(["--config", "GDAL_HTTP_HEADERS", &header, "-ro", "-so"])
        .args(["-where", "status = 'closed' AND hazard_level = 'major'"])
        .arg(format!("OAPIF:{base}/ogc"))
        .arg("sites")
        .output()
        .await
        .unwrap();
    let out = String::from_utf8_lossy(&both.stdout);
    let major = filtered(&app, "status = 'closed' AND hazard_level = 'major'").await;
    assert_eq!(major, 1);
    assert!(both.status.success() && out.contains(&format!("Feature Count: {major}")), "{out}");

    // And into a GeoPackage: the closed sites only.
    let dir = tempfile::tempdir().unwrap();
    let gpkg = dir.path().join("closed.gpkg");
    let out = Command::new("ogr2ogr")
        .args(["--config", "GDAL_HTTP_HEADERS", &header, "-f", "GPKG"])
        .args(["-where", "status = 'closed'"])
        .arg(&gpkg)
        .arg(format!("OAPIF:{base}/ogc"))
        .arg("sites")
        .args(["-oo", "PAGE_SIZE=1"])
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "ogr2ogr failed: {}", String::from_utf8_lossy(&out.stderr));
    let db = rusqlite::Connection::open(&gpkg).unwrap();
    let statuses: Vec<String> = db
        .prepare("select status from sites")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(statuses, vec!["closed".to_string(); server as usize]);
}
