//! Uploads lock only the neighbourhood they can match (`domain::neighbourhood`): phones at one place still
//! open one site, retries of one observation still store it once, and phones elsewhere do not wait.

use std::time::{Duration, Instant};

use crate::common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{TestApp, app, observation};
use roadledger::domain::neighbourhood::{Cell, Level, cell_key};
use roadledger::domain::observation::Wgs84Point;
use roadledger::domain::site::SiteKind;
use serde_json::{Value, json};
use sqlx::PgPool;
use tower::ServiceExt;

/// A junction in 杨舍镇.
const JUNCTION: [f64; 2] = [120.552_31, 31.871_17];

/// `east_m`, `north_m` metres from `[lon, lat]` (flat earth with the spheroid's degree lengths; good to a few
/// centimetres over 100 m).
fn offset([lon, lat]: [f64; 2], east_m: f64, north_m: f64) -> [f64; 2] {
    let phi = lat.to_radians();
    let m_per_deg_lon = 111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos();
    let m_per_deg_lat = 111_132.92 - 559.82 * (2.0 * phi).cos();
    [lon + east_m / m_per_deg_lon, lat + north_m / m_per_deg_lat]
}

fn fine_cell([lon, lat]: [f64; 2]) -> Cell {
    Cell::of(Level::Fine, Wgs84Point { lon, lat })
}

/// Sends every observation at once, each on its own task; the answers in the order given.
async fn upload_at_once(app: &TestApp, observations: Vec<Value>) -> Vec<(StatusCode, Value)> {
    let uploads = observations.into_iter().map(|obs| tokio::spawn(upload(app, obs)));
    futures::future::join_all(uploads).await.into_iter().map(Result::unwrap).collect()
}

/// One upload as a future that owns what it needs, to be spawned.
fn upload(app: &TestApp, obs: Value) -> impl Future<Output = (StatusCode, Value)> + Send + use<> {
    let (router, token) = (app.router.clone(), app.token.clone());
    async move {
        let (content_type, body) = common::multipart(obs.to_string().as_bytes(), &[]);
        let request = Request::post("/api/v1/observations")
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
        (status, serde_json::from_slice::<Value>(&bytes).unwrap())
    }
}

/// Holds exclusive advisory locks in a transaction of its own until it is dropped or rolled back.
async fn hold(pool: &PgPool, keys: &[i64]) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut tx = pool.begin().await.unwrap();
    for key in keys {
        sqlx::query("select pg_advisory_xact_lock($1)").bind(key).execute(&mut *tx).await.unwrap();
    }
    tx
}

#[sqlx::test(migrations = "./migrations")]
async fn many_phones_at_one_spot_at_once_open_one_site_even_around_a_cell_corner(pool: PgPool) {
    let app = app(pool).await;
    // Around the south-west corner of a fine cell, within 8 m of it: the phones' points fall in two rows and
    // three or four cells (each row has columns of its own width, so a corner of one row is rarely one of the
    // next).
    let [west, south, _, _] = fine_cell(JUNCTION).bounds();
    const PHONES: usize = 24;
    let observations: Vec<Value> = (0..PHONES)
        .map(|i| {
            let angle = (i as f64 * 15.0).to_radians();
            observation("spot", json!(offset([west, south], 8.0 * angle.cos(), 8.0 * angle.sin())))
        })
        .collect();
    let cells: std::collections::BTreeSet<Cell> = observations
        .iter()
        .map(|o| {
            let c = &o["geometry"]["coordinates"];
            fine_cell([c[0].as_f64().unwrap(), c[1].as_f64().unwrap()])
        })
        .collect();
    assert!(cells.len() >= 3, "the points straddle a corner: {cells:?}");
    assert_eq!(cells.iter().map(|c| c.row).collect::<std::collections::BTreeSet<_>>().len(), 2);

    let answers = upload_at_once(&app, observations).await;

    let mut matches: Vec<&str> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 201, "{body}");
            body["observation"]["site_match"].as_str().unwrap()
        })
        .collect();
    matches.sort();
    assert_eq!(matches, [&["joined"; PHONES - 1][..], &["opened"]].concat());
    assert!(answers.iter().all(|(_, body)| body["site"]["id"] == answers[0].1["site"]["id"]));
    assert_eq!(app.count("site").await, 1);
    assert_eq!(app.count("observation").await, PHONES as i64);
}

#[sqlx::test(migrations = "./migrations")]
async fn two_phones_20_m_apart_on_either_side_of_a_cell_edge_open_one_site(pool: PgPool) {
    let app = app(pool).await;
    for round in 0..6 {
        // Each round at its own edge, 500 m apart: 10 m west and 10 m east of a fine cell's east edge.
        let place = offset(JUNCTION, 0.0, round as f64 * 500.0);
        let [_, south, east, north] = fine_cell(place).bounds();
        let middle = [east, (south + north) / 2.0];
        let (west_point, east_point) = (offset(middle, -10.0, 0.0), offset(middle, 10.0, 0.0));
        assert_ne!(fine_cell(west_point), fine_cell(east_point), "the two points are in different cells");

        // Both wait on their coarse cell (which they take shared) until it is let go, then race.
        let coarse = Cell::of(Level::Coarse, Wgs84Point { lon: middle[0], lat: middle[1] });
        let gate = hold(&app.pool, &[cell_key(SiteKind::Spot, coarse)]).await;
        let west_upload = tokio::spawn(upload(&app, observation("spot", json!(west_point))));
        let east_upload = tokio::spawn(upload(&app, observation("spot", json!(east_point))));
        tokio::time::sleep(Duration::from_millis(200)).await;
        gate.rollback().await.unwrap();
        let (west_answer, east_answer) = (west_upload.await.unwrap(), east_upload.await.unwrap());

        assert_eq!((west_answer.0, east_answer.0), (StatusCode::CREATED, StatusCode::CREATED));
        assert_eq!(west_answer.1["site"]["id"], east_answer.1["site"]["id"], "round {round}: one site");
        let mut matches = [&west_answer, &east_answer]
            .map(|(_, body)| body["observation"]["site_match"].as_str().unwrap().to_string());
        matches.sort();
        assert_eq!(matches, ["joined", "opened"]);
        assert_eq!(app.count("site").await, round + 1);
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn retries_of_one_observation_at_once_store_it_once_and_answer_alike(pool: PgPool) {
    let app = app(pool).await;
    let obs = observation("spot", json!(JUNCTION));
    let answers = upload_at_once(&app, vec![obs.clone(); 12]).await;

    let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    let replayed = answers.iter().filter(|(status, _)| *status == StatusCode::OK).count();
    assert_eq!((created, replayed), (1, 11), "{answers:?}");
    assert!(answers.iter().all(|(_, body)| *body == answers[0].1), "every answer is the stored observation");
    assert_eq!(answers[0].1["observation"]["id"], obs["id"]);
    assert_eq!(app.count("observation").await, 1);
    assert_eq!(app.count("site").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn retries_of_one_id_at_places_far_apart_store_one_and_refuse_the_others(pool: PgPool) {
    // The same id with different places (a phone's copy edited after it was first sent): their cells differ,
    // so only the id's own lock makes the replay check exact.
    let app = app(pool).await;
    let first = observation("spot", json!(JUNCTION));
    let copies: Vec<Value> = (0..8)
        .map(|i| {
            let mut copy = first.clone();
            copy["geometry"]["coordinates"] = json!(offset(JUNCTION, i as f64 * 1_000.0, 0.0));
            copy
        })
        .collect();
    let answers = upload_at_once(&app, copies).await;

    let mut statuses: Vec<u16> = answers.iter().map(|(status, _)| status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [&[201][..], &[409; 7]].concat(), "{answers:?}");
    assert_eq!(app.count("observation").await, 1);
    assert_eq!(app.count("site").await, 1);
}

#[sqlx::test(migrations = "./migrations")]
async fn uploads_elsewhere_do_not_wait_for_a_held_cell_and_one_in_it_does(pool: PgPool) {
    let app = app(pool).await;
    let held = fine_cell(JUNCTION);
    let [west, south, east, north] = held.bounds();
    let in_held = [(west + east) / 2.0, (south + north) / 2.0];
    let gate = hold(&app.pool, &[cell_key(SiteKind::Spot, held)]).await;

    // Eight uploads 1 km and more away, at once: none waits for the held cell.
    let started = Instant::now();
    let elsewhere: Vec<Value> =
        (1..=8).map(|i| observation("spot", json!(offset(in_held, i as f64 * 1_000.0, 300.0)))).collect();
    let answers = tokio::time::timeout(Duration::from_secs(20), upload_at_once(&app, elsewhere))
        .await
        .expect("uploads elsewhere wait for no held cell");
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::CREATED), "{answers:?}");
    let elsewhere_took = started.elapsed();

    // One in the held cell waits until the cell is let go, then is stored.
    let waiting = tokio::spawn(upload(&app, observation("spot", json!(in_held))));
    tokio::time::sleep(elsewhere_took.max(Duration::from_millis(500)) * 2).await;
    assert!(!waiting.is_finished(), "the upload in the held cell waits");
    assert_eq!(app.count("observation").await, 8);
    gate.rollback().await.unwrap();
    let (status, body) = tokio::time::timeout(Duration::from_secs(20), waiting).await.unwrap().unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(app.count("observation").await, 9);
}
