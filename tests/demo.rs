//! The demo dataset, loaded into a real database the way `roadledger serve --demo` does, read back
//! through the API.

mod common;

use std::collections::BTreeSet;

use roadledger::photos::PhotoStore;
use serde_json::Value;
use sqlx::PgPool;

#[sqlx::test(migrations = "./migrations")]
async fn the_demo_dataset_is_a_living_map_of_zhangjiagang(pool: PgPool) {
    let app = common::app(pool.clone()).await;
    let photos = PhotoStore::local(app.photo_dir.path()).unwrap();

    roadledger::demo::load_if_empty(&pool, &photos).await.unwrap();

    assert!(app.count("town").await >= 8);
    let classes: Vec<String> =
        sqlx::query_scalar("select distinct class::text from road order by 1").fetch_all(&pool).await.unwrap();
    for class in ["C", "G", "S", "X", "Y"] {
        assert!(classes.contains(&class.to_string()), "no {class} road: {classes:?}");
    }
    let counts = app.get("/api/v1/sites/counts").await.json();
    assert!(counts["total"].as_i64().unwrap() >= 2000, "{counts}");
    for status in roadledger::domain::site::SiteStatus::ALL {
        assert!(counts["by_status"][status.as_str()].as_i64().unwrap_or(0) > 0, "no {status} site: {counts}");
    }
    let templates: Vec<String> =
        sqlx::query_scalar("select distinct template_code from site order by 1").fetch_all(&pool).await.unwrap();
    assert_eq!(templates, ["five_must_haves", "three_ones"]);
    // Every site has a town from the boundaries and lies inside the demo area.
    let (no_town, outside): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where town_id is null),
                count(*) filter (where not st_within(geom, st_makeenvelope(120.3, 31.75, 120.8, 32.05, 4326)))
         from site",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((no_town, outside), (0, 0));

    // The map's query for the whole area pages through every site.
    let mut seen = BTreeSet::new();
    let mut after = String::new();
    loop {
        let page = app.get(&format!("/api/v1/sites?bbox=120.3,31.75,120.8,32.05&limit=1000&after={after}")).await;
        assert_eq!(page.status, 200);
        let page = page.json();
        for f in page["features"].as_array().unwrap() {
            seen.insert(f["id"].as_str().unwrap().to_string());
        }
        match &page["next_after"] {
            Value::String(next) => after = next.clone(),
            _ => break,
        }
    }
    assert_eq!(seen.len() as i64, counts["total"].as_i64().unwrap());

    // A closed site has its evidence: photos that load and a history that ends in `closed`.
    let closed = app.get("/api/v1/sites?status=closed&limit=1").await.json();
    let id = closed["features"][0]["id"].as_str().unwrap();
    let detail = app.get(&format!("/api/v1/sites/{id}")).await.json();
    let props = &detail["properties"];
    let events = props["events"].as_array().unwrap();
    assert_eq!(events.first().unwrap()["kind"], "opened");
    let last_status = events.iter().rev().find_map(|e| e["to_status"].as_str()).unwrap();
    assert_eq!(last_status, "closed");
    let thumb = props["observations"][0]["photos"][0]["thumbnail_url"].as_str().unwrap();
    let thumb = app.get(thumb).await;
    assert_eq!(thumb.status, 200);
    image::load_from_memory(&thumb.bytes).unwrap();

    // Loading again into a database that has sites changes nothing.
    let before = app.count("site").await;
    roadledger::demo::load_if_empty(&pool, &photos).await.unwrap();
    assert_eq!(app.count("site").await, before);
}
