//! Where an observation is, as the phone says it (issue 10): a repeat visit naming its site (`site_id`), the
//! open sites near a point (`GET /api/v1/sites/nearby`), and where the place came from
//! (`location_source`, `location_confirmed`).

use crate::common;

use axum::body::Body;
use axum::http::Request;
use common::{app, county_office, north_of, observation};
use serde_json::{Value, json};
use sqlx::PgPool;

const JUNCTION: [f64; 2] = [120.552_31, 31.871_17];

/// The site an observation opened.
async fn opened(app: &common::TestApp, kind: &str, at: [f64; 2]) -> String {
    let answer = app.upload(&observation(kind, json!(at)), &[]).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    assert_eq!(answer.json()["observation"]["site_match"], "opened");
    answer.json()["site"]["id"].as_str().unwrap().to_string()
}

fn naming(kind: &str, at: [f64; 2], site: &str) -> Value {
    let mut obs = observation(kind, json!(at));
    obs["site_id"] = json!(site);
    obs
}

#[sqlx::test(migrations = "./migrations")]
async fn a_repeat_visit_naming_its_site_joins_it_even_beyond_the_matching_radius(pool: PgPool) {
    let app = app(pool).await;
    let site = opened(&app, "intersection", JUNCTION).await;

    // 70 m away: matching by place (30 m) would open a second site; naming the site joins it.
    let far_by_place = north_of(JUNCTION, 70.0);
    let obs = naming("intersection", far_by_place, &site);
    let answer = app.upload(&obs, &[]).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let body = answer.json();
    assert_eq!(body["site"]["id"], site.as_str());
    assert_eq!(body["observation"]["site_match"], "joined");
    assert_eq!(body["site"]["properties"]["observation_count"], 2);
    assert_eq!(app.count("site").await, 1);
    assert_eq!(app.count("observation").await, 2);
    let events: Vec<String> =
        sqlx::query_scalar("select kind from site_event order by id").fetch_all(&app.pool).await.unwrap();
    assert_eq!(events, ["opened", "observed"]);

    // The same upload again is a replay: 200, the same body, nothing written.
    let again = app.upload(&obs, &[]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), body);
    assert_eq!(app.count("observation").await, 2);
    assert_eq!(app.count("site_event").await, 2);
    // The same id naming no site (or another) is different content: 409, nothing written.
    let mut changed = obs.clone();
    changed.as_object_mut().unwrap().remove("site_id");
    assert_eq!(app.upload(&changed, &[]).await.status, 409);
    assert_eq!(app.count("observation").await, 2);

    // Without site_id, the same 70 m opens a new site: the choice is what made the difference.
    let unnamed = app.upload(&observation("intersection", json!(far_by_place)), &[]).await;
    assert_eq!(unnamed.json()["observation"]["site_match"], "opened");
    assert_eq!(app.count("site").await, 2);
}

#[sqlx::test(migrations = "./migrations")]
async fn a_named_site_too_far_of_another_kind_or_not_open_is_refused_and_nothing_is_written(pool: PgPool) {
    let app = app(pool).await;
    let site = opened(&app, "intersection", JUNCTION).await;
    let spot = opened(&app, "spot", north_of(JUNCTION, 500.0)).await;
    let (sites, observations, events) =
        (app.count("site").await, app.count("observation").await, app.count("site_event").await);

    // The look-back radius (100 m by default) bounds how far a named site may be.
    let too_far = app.upload(&naming("intersection", north_of(JUNCTION, 150.0), &site), &[]).await;
    assert_eq!(too_far.status, 422, "{}", String::from_utf8_lossy(&too_far.bytes));
    assert_eq!(too_far.json()["code"], "site_too_far");
    assert_eq!(too_far.json()["distance_m"], 150.0);
    assert!(too_far.detail().contains("150 m from the observed place"), "{}", too_far.detail());
    assert!(too_far.detail().contains("within 100 m"), "{}", too_far.detail());

    let other_kind = app.upload(&naming("intersection", north_of(JUNCTION, 500.0), &spot), &[]).await;
    assert_eq!(other_kind.status, 422);
    assert_eq!(other_kind.json()["code"], "site_other_kind");
    assert!(other_kind.detail().contains("site is a spot"), "{}", other_kind.detail());

    sqlx::query("update site set status = 'closed' where id = $1::uuid").bind(&site).execute(&app.pool).await.unwrap();
    let closed = app.upload(&naming("intersection", JUNCTION, &site), &[]).await;
    assert_eq!(closed.status, 422);
    assert_eq!(closed.json()["code"], "site_not_open");
    assert!(closed.detail().contains("closed"), "{}", closed.detail());

    let nowhere = app.upload(&naming("intersection", JUNCTION, &uuid::Uuid::new_v4().to_string()), &[]).await;
    assert_eq!(nowhere.status, 404);
    assert!(nowhere.detail().contains("site_id: no site"), "{}", nowhere.detail());

    // A look-back names its site in look_back.
    let mut both = naming("intersection", JUNCTION, &site);
    both["look_back"] = json!({"site_id": site, "result": "pass"});
    assert_eq!(app.upload(&both, &[&common::jpeg(64, 64)]).await.status, 422);

    assert_eq!(
        (app.count("site").await, app.count("observation").await, app.count("site_event").await),
        (sites, observations, events)
    );
}

#[sqlx::test(migrations = "./migrations")]
async fn a_named_section_is_joined_within_the_radius(pool: PgPool) {
    let app = app(pool).await;
    let line = |from: [f64; 2]| json!([from, north_of(from, 200.0)]);
    let answer = app.upload(&observation("section", line(JUNCTION)), &[]).await;
    let site = answer.json()["site"]["id"].as_str().unwrap().to_string();
    // 60 m east of the section, parallel: the Hausdorff match (30 m) would not join it.
    let east = east_of(JUNCTION, 60.0);
    let mut obs = observation("section", line(east));
    obs["site_id"] = json!(site);
    let joined = app.upload(&obs, &[]).await;
    assert_eq!(joined.status, 201, "{}", String::from_utf8_lossy(&joined.bytes));
    assert_eq!(joined.json()["site"]["id"], site.as_str());
    assert_eq!(app.count("site").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn where_the_place_came_from_is_stored_and_shown(pool: PgPool) {
    let app = app(pool).await;
    let mut obs = observation("spot", json!(JUNCTION));
    obs["location_source"] = json!("map");
    obs["location_confirmed"] = json!(true);
    let answer = app.upload(&obs, &[]).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    assert_eq!(answer.json()["observation"]["location_source"], "map");
    assert_eq!(answer.json()["observation"]["location_confirmed"], true);
    let stored: (Option<String>, bool) = sqlx::query_as("select location_source, location_confirmed from observation")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, (Some("map".into()), true));

    // The site's page shows it with the observation (the typed detail reads what PostgreSQL wrote).
    let site = answer.json()["site"]["id"].as_str().unwrap().to_string();
    let detail = app.get(&format!("/api/v1/sites/{site}")).await;
    assert_eq!(detail.status, 200);
    let seen = &detail.json()["properties"]["observations"][0];
    assert_eq!((seen["location_source"].clone(), seen["location_confirmed"].clone()), (json!("map"), json!(true)));
    let typed = detail.site_detail();
    let o = &typed.properties.observations[0];
    assert_eq!(
        (o.location_source, o.location_confirmed),
        (Some(roadledger::domain::observation::LocationSource::Map), true)
    );

    // An older phone says neither: accepted as today, shown as not said and not confirmed.
    let plain = app.upload(&observation("spot", json!(north_of(JUNCTION, 400.0))), &[]).await;
    assert_eq!(plain.status, 201);
    assert_eq!(plain.json()["observation"]["location_source"], Value::Null);
    assert_eq!(plain.json()["observation"]["location_confirmed"], false);

    let mut bad = observation("spot", json!(JUNCTION));
    bad["location_source"] = json!("guess");
    assert_eq!(app.upload(&bad, &[]).await.status, 400);
}

fn east_of([lon, lat]: [f64; 2], east_m: f64) -> [f64; 2] {
    [lon + (east_m / (6_371_008.8 * lat.to_radians().cos())).to_degrees(), lat]
}

async fn nearby_as(app: &common::TestApp, token: Option<&str>, query: &str) -> common::Answer {
    let mut request = Request::get(format!("/api/v1/sites/nearby?{query}"));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

fn codes_and_distances(answer: &common::Answer) -> Vec<(String, f64)> {
    answer.json()["sites"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["kind"].as_str().unwrap().to_string(), s["distance_m"].as_f64().unwrap()))
        .collect()
}

#[sqlx::test(migrations = "./migrations")]
async fn nearby_answers_open_sites_of_the_kind_nearest_first_within_limits_and_scope(pool: PgPool) {
    let app = app(pool).await;
    let office = county_office(&app).await;
    // In 杨舍镇: intersections 45 m north and 10 m south of the point, a spot 20 m north; a closed
    // intersection 5 m east; an intersection 300 m north (outside any radius allowed). Each at least 30 m from
    // the others of its kind, so that each opened its own site.
    let here = JUNCTION;
    let at_40 = opened(&app, "intersection", north_of(here, 45.0)).await;
    let at_10 = opened(&app, "intersection", north_of(here, -10.0)).await;
    opened(&app, "spot", north_of(here, 20.0)).await;
    let closed = opened(&app, "intersection", east_of(here, 40.0)).await;
    sqlx::query("update site set status = 'closed' where id = $1::uuid")
        .bind(&closed)
        .execute(&app.pool)
        .await
        .unwrap();
    opened(&app, "intersection", north_of(here, 300.0)).await;
    let q = format!("lon={}&lat={}", here[0], here[1]);

    let answer = nearby_as(&app, None, &format!("{q}&kind=intersection")).await;
    assert_eq!(answer.status, 200, "{}", String::from_utf8_lossy(&answer.bytes));
    let body = answer.json();
    assert_eq!(body["radius_m"], 50.0);
    let ids: Vec<&str> = body["sites"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [at_10.as_str(), at_40.as_str()]);
    let first = &body["sites"][0];
    assert!((first["distance_m"].as_f64().unwrap() - 10.0).abs() < 0.2, "{first}");
    assert!((body["sites"][1]["distance_m"].as_f64().unwrap() - 45.0).abs() < 0.2, "{body}");
    assert_eq!(first["status"], "reported");
    assert_eq!(first["town"], "杨舍镇");
    assert_eq!(first["geometry"]["type"], "Point");
    assert!(first["code"].as_str().unwrap().starts_with("YH-"), "{first}");

    // Every kind, nearest first; the radius narrows; the limit cuts.
    let all = nearby_as(&app, None, &q).await;
    let kinds: Vec<String> = codes_and_distances(&all).into_iter().map(|(k, _)| k).collect();
    assert_eq!(kinds, ["intersection", "spot", "intersection"]);
    let within_15 = nearby_as(&app, None, &format!("{q}&radius_m=15")).await;
    assert_eq!(codes_and_distances(&within_15).len(), 1);
    let one = nearby_as(&app, None, &format!("{q}&limit=1")).await;
    assert_eq!(one.json()["sites"][0]["id"], at_10.as_str());
    let wide = nearby_as(&app, None, &format!("{q}&radius_m=200&kind=intersection")).await;
    assert_eq!(codes_and_distances(&wide).len(), 2, "300 m is beyond 200 m");

    // Limits and bad input are 400s naming the parameter.
    for (query, fragment) in [
        (format!("{q}&radius_m=201"), "radius_m must be 1 to 200"),
        (format!("{q}&limit=21"), "limit must be 1 to 20"),
        (format!("{q}&limit=0"), "limit must be 1 to 20"),
        (format!("{q}&kind=bridge"), "kind"),
        ("lon=120.5".to_string(), "give lon and lat"),
        ("lon=200&lat=31".to_string(), "lon must be"),
        (format!("{q}&colour=red"), "colour"),
    ] {
        let answer = nearby_as(&app, None, &query).await;
        assert_eq!(answer.status, 400, "{query}");
        assert!(answer.detail().contains(fragment), "{query}: {}", answer.detail());
    }

    // Scope: the town officer of 杨舍镇 sees the town's sites; a point in another town's sites is empty for them.
    let town_view = nearby_as(&app, Some(&office.town_officer), &format!("{q}&kind=intersection")).await;
    assert_eq!(codes_and_distances(&town_view).len(), 2);
    let outside = [120.65, 31.87];
    opened(&app, "intersection", outside).await;
    let oq = format!("lon={}&lat={}", outside[0], outside[1]);
    assert_eq!(codes_and_distances(&nearby_as(&app, None, &oq).await).len(), 1);
    assert_eq!(codes_and_distances(&nearby_as(&app, Some(&office.town_officer), &oq).await).len(), 0);
    // Signed out: 401.
    let anonymous =
        app.send_as_is(Request::get(format!("/api/v1/sites/nearby?{q}")).body(Body::empty()).unwrap()).await;
    assert_eq!(anonymous.status, 401);
}

#[sqlx::test(migrations = "./migrations")]
async fn concurrent_uploads_naming_a_site_join_it_once_each_and_a_racing_retry_is_a_replay(pool: PgPool) {
    let app = app(pool).await;
    let site = opened(&app, "intersection", JUNCTION).await;
    // Two phones 60 m away (beyond the 30 m matching) name the site at once, and one of them retries at once.
    let a = naming("intersection", north_of(JUNCTION, 60.0), &site);
    let b = naming("intersection", north_of(JUNCTION, -60.0), &site);
    let (first, retry, other) = tokio::join!(app.upload(&a, &[]), app.upload(&a, &[]), app.upload(&b, &[]));
    let mut statuses = [first.status.as_u16(), retry.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 201], "one of the same observation's uploads stores it, the other is a replay");
    assert_eq!(other.status, 201);
    for answer in [&first, &retry, &other] {
        assert_eq!(answer.json()["site"]["id"], site.as_str());
    }
    assert_eq!(app.count("site").await, 1);
    assert_eq!(app.count("observation").await, 3);
    let visits: i32 = sqlx::query_scalar("select observation_count from site").fetch_one(&app.pool).await.unwrap();
    assert_eq!(visits, 3);
}
