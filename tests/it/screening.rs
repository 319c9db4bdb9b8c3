//! Black-spot screening runs on a hand-made county: two roads crossing at a junction, and crashes placed so
//! that what each method must find is known by construction. Every run is checked exactly (which crashes in
//! which candidate, score, rank, dominant crash type and time band), then repeated.
//!
//! Road X101 runs west to east along 31.9° N from 120.50° E; road X102 south to north along 120.51° E from
//! 31.89° N; they cross at (120.51, 31.9). The crashes, by the group they make:
//! - `bend`: four on X101 at measures 2 000–2 150 m (one injury): one window stretch, one DBSCAN cluster;
//! - `junction`: two on X101 20 m either side of the junction and one on X102 40 m north of it: one junction
//!   cluster and one DBSCAN cluster, but never three in a window;
//! - `fatal`: one fatal crash on X102 placed by stake at K0+300: a window by the fatal rule, DBSCAN noise;
//! - `field`: four 550 m north of X101, off the network: one DBSCAN cluster;
//! - `lone`: one far from everything: nothing.

use crate::common;

use axum::body::Body;
use axum::http::Request;
use common::{TestApp, organisation, token_for};
use serde_json::{Value, json};
use sqlx::PgPool;

struct County {
    app: TestApp,
    dispatcher: String,
    /// Crash ids by group, in insertion (id) order.
    bend: Vec<i64>,
    junction: Vec<i64>,
    fatal: i64,
    field: Vec<i64>,
}

/// A point of a road at a measure (metres from its start, the calibrated chainage of a coded road).
async fn at_measure(pool: &PgPool, route: &str, measure_m: f64) -> (f64, f64) {
    sqlx::query_as(
        "select st_x(p), st_y(p) from (
             select st_force2d(st_geometryn(st_locatealong(geom_m, $2), 1)) as p from road where route_code = $1) x",
    )
    .bind(route)
    .bind(measure_m)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// The measure of the junction on a road.
async fn junction_measure(pool: &PgPool, route: &str) -> f64 {
    sqlx::query_scalar(
        "select st_interpolatepoint(st_geometryn(geom_m, 1), st_setsrid(st_makepoint(120.51, 31.9), 4326))
         from road where route_code = $1",
    )
    .bind(route)
    .fetch_one(pool)
    .await
    .unwrap()
}

struct Crash<'a> {
    key: &'a str,
    at: (f64, f64),
    /// deaths, serious injuries
    casualties: (i16, i16),
    crash_type: &'a str,
    /// County time, e.g. "2025-03-04 18:30".
    when: &'a str,
    stake: Option<(&'a str, f64)>,
}

async fn insert(pool: &PgPool, c: Crash<'_>) -> i64 {
    sqlx::query_scalar(
        "insert into crash (source_key, occurred_at, geom, located_by, road_id, stake_m, deaths, serious_injuries,
             crash_type)
         values ('no:' || $1, ($2::timestamp at time zone 'Asia/Shanghai'), st_setsrid(st_makepoint($3, $4), 4326),
                 case when $5::text is null then 'coordinates' else 'stake' end,
                 (select id from road where route_code = $5), $6, $7, $8, $9)
         returning id",
    )
    .bind(c.key)
    .bind(c.when)
    .bind(c.at.0)
    .bind(c.at.1)
    .bind(c.stake.map(|s| s.0))
    .bind(c.stake.map(|s| s.1))
    .bind(c.casualties.0)
    .bind(c.casualties.1)
    .bind(c.crash_type)
    .fetch_one(pool)
    .await
    .unwrap()
}

async fn county(pool: PgPool) -> County {
    let app = common::app(pool.clone()).await;
    app.add_town("320582100", "杨舍镇", [120.45, 31.85, 120.60, 31.95]).await;
    sqlx::query(
        "insert into road (route_code, admin_code, name, geom) values
             ('X101', '320582', '东西路', st_multi(st_geomfromtext('LINESTRING(120.50 31.9, 120.53 31.9)', 4326))),
             ('X102', '320582', '南北路', st_multi(st_geomfromtext('LINESTRING(120.51 31.89, 120.51 31.91)', 4326)))",
    )
    .execute(&pool)
    .await
    .unwrap();
    let office = organisation(&pool, "city_office").await;
    let dispatcher = token_for(&pool, "dispatcher1", "调度员", "dispatcher", office).await;

    let mut bend = Vec::new();
    for (n, m) in [2000.0, 2050.0, 2100.0, 2150.0].into_iter().enumerate() {
        let at = at_measure(&pool, "X101", m).await;
        let (crash_type, when) =
            if n == 3 { ("head_on", "2025-02-01 21:10") } else { ("rear_end", "2025-03-0{n} 17:20") };
        let when = when.replace("{n}", &(n + 1).to_string());
        let casualties = if n == 1 { (0, 1) } else { (0, 0) };
        bend.push(
            insert(&pool, Crash { key: &format!("B{n}"), at, casualties, crash_type, when: &when, stake: None }).await,
        );
    }
    let on_x101 = junction_measure(&pool, "X101").await;
    let on_x102 = junction_measure(&pool, "X102").await;
    let mut junction = Vec::new();
    for (n, (route, m, crash_type, when)) in [
        ("X101", on_x101 - 20.0, "angle", "2025-04-01 07:30"),
        ("X101", on_x101 + 20.0, "non_motor", "2025-04-02 11:00"),
        ("X102", on_x102 + 40.0, "angle", "2025-04-03 08:15"),
    ]
    .into_iter()
    .enumerate()
    {
        let at = at_measure(&pool, route, m).await;
        junction.push(
            insert(&pool, Crash { key: &format!("J{n}"), at, casualties: (0, 0), crash_type, when, stake: None }).await,
        );
    }
    let at = at_measure(&pool, "X102", 300.0).await;
    let fatal = insert(
        &pool,
        Crash {
            key: "F0",
            at,
            casualties: (1, 0),
            crash_type: "single_vehicle",
            when: "2025-05-05 23:40",
            stake: Some(("X102", 300.0)),
        },
    )
    .await;
    let mut field = Vec::new();
    for (n, (dx, dy, crash_type, when)) in [
        (0.0, 0.0, "pedestrian", "2025-06-01 10:00"),
        (0.0002, 0.0, "sideswipe", "2025-06-02 03:00"),
        (0.0, 0.0002, "pedestrian", "2025-06-03 12:00"),
        (0.0002, 0.0002, "sideswipe", "2025-06-04 04:00"),
    ]
    .into_iter()
    .enumerate()
    {
        let at = (120.525 + dx, 31.905 + dy);
        field.push(
            insert(&pool, Crash { key: &format!("P{n}"), at, casualties: (0, 0), crash_type, when, stake: None }).await,
        );
    }
    insert(
        &pool,
        Crash {
            key: "L0",
            at: (120.58, 31.94),
            casualties: (0, 0),
            crash_type: "other",
            when: "2025-07-01 12:00",
            stake: None,
        },
    )
    .await;
    // Outside the data window the runs use: never read.
    insert(
        &pool,
        Crash {
            key: "OLD",
            at: at_measure(&pool, "X101", 2075.0).await,
            casualties: (1, 0),
            crash_type: "other",
            when: "2023-12-31 23:59",
            stake: None,
        },
    )
    .await;
    County { app, dispatcher, bend, junction, fatal, field }
}

const WINDOW: &str = r#"{"start": "2024-01-01", "end": "2026-01-01"}"#;

impl County {
    async fn run_as(&self, token: &str, body: Value) -> common::Answer {
        let request = Request::post("/api/v1/screenings")
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        self.app.send(request).await
    }

    async fn run(&self, method: &str, parameters: Value) -> Value {
        let window: Value = serde_json::from_str(WINDOW).unwrap();
        let answer =
            self.run_as(&self.dispatcher, json!({"method": method, "parameters": parameters, "window": window})).await;
        assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
        answer.json()
    }
}

/// (crash ids, score, rank, dominant type, dominant band, kind) of every candidate, by rank.
fn summary(run: &Value) -> Vec<(Vec<i64>, f64, i64, String, String, String)> {
    run["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["crash_ids"].as_array().unwrap().iter().map(|i| i.as_i64().unwrap()).collect(),
                c["score"].as_f64().unwrap(),
                c["rank"].as_i64().unwrap(),
                c["dominant_crash_type"].as_str().unwrap_or("").to_string(),
                c["dominant_time_band"].as_str().unwrap_or("").to_string(),
                c["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn s(v: &str) -> String {
    v.to_string()
}

#[sqlx::test(migrations = "./migrations")]
async fn sliding_windows_find_the_bend_and_the_fatal_crash(pool: PgPool) {
    let county = county(pool).await;
    let run = county.run("sliding_window", json!({})).await;
    assert_eq!(run["run"]["crashes_read"], 13, "{}", run["run"]);
    assert_eq!(run["run"]["parameters"]["window_m"], 500.0);
    assert_eq!(run["run"]["parameters"]["epdo_weights"]["fatal"], 12.0);
    // The fatal crash alone (EPDO 12) outranks the bend's four (one injury: 3 + 1 + 1 + 1).
    assert_eq!(
        summary(&run),
        [
            (vec![county.fatal], 12.0, 1, s("single_vehicle"), s("night"), s("section")),
            (county.bend.clone(), 6.0, 2, s("rear_end"), s("evening_peak"), s("section")),
        ]
    );
    let fatal = &run["candidates"][0];
    // K0+300 on X102: windows [0, 500) … [300, 800) pass, merged into [0, 800).
    assert_eq!((fatal["route_code"].as_str(), fatal["deaths"].as_i64()), (Some("X102"), Some(1)));
    assert!(fatal["stake_m"].as_f64().unwrap().abs() < 0.5, "{fatal}");
    assert!((fatal["end_stake_m"].as_f64().unwrap() - 800.0).abs() < 0.5, "{fatal}");
    // The bend, 2 000–2 150 m: windows starting 1 700–2 000 m hold all four, merged into [1 700, 2 500).
    let bend = &run["candidates"][1];
    assert_eq!(bend["geometry"]["type"], "LineString");
    assert!((bend["stake_m"].as_f64().unwrap() - 1700.0).abs() < 0.5, "{bend}");
    assert!((bend["end_stake_m"].as_f64().unwrap() - 2500.0).abs() < 0.5, "{bend}");
    assert_eq!(
        (bend["town"].as_str(), bend["status"].as_str(), bend["injuries"].as_i64()),
        (Some("杨舍镇"), Some("open"), Some(1))
    );
    let length_m: f64 = sqlx::query_scalar("select st_length(geom::geography) from candidate where id = $1")
        .bind(bend["id"].as_i64().unwrap())
        .fetch_one(&county.app.pool)
        .await
        .unwrap();
    assert!((length_m - 800.0).abs() < 1.0, "{length_m}");

    // Four crashes in a window instead of three: only the bend is left (the fatal rule still passes one
    // fatal crash, so turn it off too).
    let stricter = county.run("sliding_window", json!({"min_crashes": 4, "min_fatal_crashes": 0})).await;
    assert_eq!(summary(&stricter), [(county.bend.clone(), 6.0, 1, s("rear_end"), s("evening_peak"), s("section"))]);
}

#[sqlx::test(migrations = "./migrations")]
async fn junctions_count_the_crashes_around_where_roads_cross(pool: PgPool) {
    let county = county(pool).await;
    let run = county.run("junction", json!({})).await;
    // The three crashes within 50 m of the crossing, two angle crashes, two in the morning peak.
    assert_eq!(summary(&run), [(county.junction.clone(), 3.0, 1, s("angle"), s("morning_peak"), s("intersection"))]);
    assert_eq!(run["candidates"][0]["geometry"], json!({"type": "Point", "coordinates": [120.51, 31.9]}));
    // A 30 m radius leaves the crash 40 m up X102 out: two crashes, under the threshold.
    let tight = county.run("junction", json!({"radius_m": 30})).await;
    assert_eq!(summary(&tight), []);
    assert_eq!(tight["run"]["candidates"], 0);
    // Two crashes are enough when the county asks for two.
    let two = county.run("junction", json!({"radius_m": 30, "min_crashes": 2})).await;
    assert_eq!(summary(&two)[0].0, county.junction[..2]);
}

#[sqlx::test(migrations = "./migrations")]
async fn dbscan_finds_the_dense_places_on_and_off_the_network(pool: PgPool) {
    let county = county(pool).await;
    let run = county.run("dbscan", json!({})).await;
    assert_eq!(
        summary(&run),
        [
            (county.bend.clone(), 6.0, 1, s("rear_end"), s("evening_peak"), s("spot")),
            // Two pedestrian and two sideswipe crashes, two in the daytime and two in the small hours: ties go
            // to the code order (sideswipe before pedestrian, small hours before daytime).
            (county.field.clone(), 4.0, 2, s("sideswipe"), s("small_hours"), s("spot")),
            (county.junction.clone(), 3.0, 3, s("angle"), s("morning_peak"), s("spot")),
        ]
    );
    // The field's point is the centroid of its four crashes.
    let field = run["candidates"][1]["geometry"]["coordinates"].as_array().unwrap();
    assert!(
        (field[0].as_f64().unwrap() - 120.5251).abs() < 1e-7 && (field[1].as_f64().unwrap() - 31.9051).abs() < 1e-7
    );
    // Off the network only: the field alone.
    let off = county.run("dbscan", json!({"off_network_only": true})).await;
    assert_eq!(summary(&off), [(county.field.clone(), 4.0, 1, s("sideswipe"), s("small_hours"), s("spot"))]);
    // ε = 30 m: the bend's crashes are 50 m apart and no longer a cluster, the field's still are.
    let tight = county.run("dbscan", json!({"eps_m": 30})).await;
    assert_eq!(summary(&tight).iter().map(|c| c.0.clone()).collect::<Vec<_>>(), vec![county.field.clone()]);
}

#[sqlx::test(migrations = "./migrations")]
async fn the_same_run_twice_gives_the_same_candidates_and_supersedes_the_first(pool: PgPool) {
    let county = county(pool).await;
    for method in ["sliding_window", "junction", "dbscan"] {
        let first = county.run(method, json!({})).await;
        let second = county.run(method, json!({})).await;
        assert_ne!(first["run"]["id"], second["run"]["id"]);
        assert_eq!(first["run"]["inputs_sha256"], second["run"]["inputs_sha256"], "{method}");
        assert_eq!(first["run"]["parameters"], second["run"]["parameters"], "{method}");
        let same = |c: &Value| {
            json!([
                c["rank"],
                c["kind"],
                c["geometry"],
                c["crash_ids"],
                c["score"],
                c["dominant_crash_type"],
                c["dominant_time_band"],
                c["town_id"],
                c["road_id"],
                c["stake_m"],
                c["end_stake_m"]
            ])
        };
        let a: Vec<Value> = first["candidates"].as_array().unwrap().iter().map(same).collect();
        let b: Vec<Value> = second["candidates"].as_array().unwrap().iter().map(same).collect();
        assert!(!a.is_empty());
        assert_eq!(a, b, "{method}");
        // The second run found the same places: the first run's candidates are superseded by it.
        let again = county
            .app
            .send(get_as(&county.dispatcher, &format!("/api/v1/screenings/{}", first["run"]["id"])))
            .await
            .json();
        for c in again["candidates"].as_array().unwrap() {
            assert_eq!(
                (c["status"].as_str(), &c["superseded_by"]),
                (Some("superseded"), &second["run"]["id"]),
                "{method}"
            );
        }
    }
    // A dismissed candidate is a person's decision: a later run leaves it as it is.
    let run = county.run("junction", json!({})).await;
    let id = run["candidates"][0]["id"].as_i64().unwrap();
    sqlx::query("update candidate set status = 'dismissed', decided_at = now(), reason = '已有信号灯' where id = $1")
        .bind(id)
        .execute(&county.app.pool)
        .await
        .unwrap();
    let later = county.run("junction", json!({})).await;
    let status: String = sqlx::query_scalar("select status from candidate where id = $1")
        .bind(id)
        .fetch_one(&county.app.pool)
        .await
        .unwrap();
    assert_eq!(status, "dismissed");
    assert_eq!(later["candidates"][0]["status"], "open");

    // One more crash in the window: another fingerprint (and here another candidate).
    let before = later["run"]["inputs_sha256"].clone();
    let at = at_measure(&county.app.pool, "X101", 2120.0).await;
    insert(
        &county.app.pool,
        Crash { key: "B9", at, casualties: (0, 0), crash_type: "rear_end", when: "2025-09-09 09:09", stake: None },
    )
    .await;
    let after = county.run("junction", json!({})).await;
    assert_ne!(after["run"]["inputs_sha256"], before);
    assert_eq!(after["run"]["crashes_read"], 14);

    // Every run is listed, newest first.
    let list = county.app.send(get_as(&county.dispatcher, "/api/v1/screenings?limit=2")).await.json();
    assert_eq!(list["total"], 9);
    assert_eq!(list["runs"][0]["id"], after["run"]["id"]);
    assert_eq!(list["runs"].as_array().unwrap().len(), 2);
}

fn get_as(token: &str, uri: &str) -> Request<Body> {
    Request::get(uri).header("authorization", format!("Bearer {token}")).body(Body::empty()).unwrap()
}

#[sqlx::test(migrations = "./migrations")]
async fn bad_parameters_are_refused_by_name_and_store_nothing(pool: PgPool) {
    let county = county(pool).await;
    let cases = [
        (json!({"method": "nearest"}), "method"),
        (json!({"method": "sliding_window", "parameters": {"window_m": 20}}), "window_m"),
        (json!({"method": "sliding_window", "parameters": {"window_m": 300, "step_m": 400}}), "step_m"),
        (json!({"method": "junction", "parameters": {"radius_m": 800}}), "radius_m"),
        (json!({"method": "junction", "parameters": {"eps_m": 80}}), "eps_m"),
        (json!({"method": "dbscan", "parameters": {"eps_m": 5000}}), "eps_m"),
        (json!({"method": "dbscan", "parameters": {"min_points": 1}}), "min_points"),
        (json!({"method": "dbscan", "parameters": {"epdo_weights": {"fatal": "many"}}}), "epdo_weights.fatal"),
        (json!({"method": "dbscan", "window": {"start": "2010-01-01", "end": "2026-01-01"}}), "window"),
        (json!({"method": "dbscan", "window": {"start": "2026-01-01", "end": "2025-01-01"}}), "window.start"),
        (json!({"method": "dbscan", "window": {"start": "yesterday"}}), "window.start"),
        (json!({"method": "dbscan", "limits": 3}), "limits"),
    ];
    for (body, named) in cases {
        let answer = county.run_as(&county.dispatcher, body.clone()).await;
        assert_eq!(answer.status, 400, "{body}");
        let detail = answer.detail();
        assert!(detail.contains(named), "{body}: {detail}");
    }
    assert_eq!(county.app.count("screening_run").await, 0);
    assert_eq!(county.app.count("candidate").await, 0);
    let bad_page = county.app.send(get_as(&county.dispatcher, "/api/v1/screenings?limit=1000")).await;
    assert_eq!(bad_page.status, 400);
    assert!(bad_page.detail().contains("limit"));
    let missing = county.app.send(get_as(&county.dispatcher, "/api/v1/screenings/999")).await;
    assert_eq!(missing.status, 404);
}

#[sqlx::test(migrations = "./migrations")]
async fn dispatchers_and_admins_run_reviewers_and_leaders_read(pool: PgPool) {
    let county = county(pool.clone()).await;
    let office = organisation(&pool, "city_office").await;
    let body = json!({"method": "junction", "window": serde_json::from_str::<Value>(WINDOW).unwrap()});
    let admin = token_for(&pool, "admin1", "管理员", "admin", office).await;
    assert_eq!(county.run_as(&admin, body.clone()).await.status, 201);
    for role in ["reviewer", "leader", "inspector"] {
        let token = token_for(&pool, &format!("{role}1"), role, role, office).await;
        assert_eq!(county.run_as(&token, body.clone()).await.status, 403, "{role}");
        let read = county.app.send(get_as(&token, "/api/v1/screenings/1")).await.status;
        assert_eq!(read, if role == "inspector" { 403 } else { 200 }, "{role}");
    }
    assert_eq!(county.app.count("screening_run").await, 1);
}
