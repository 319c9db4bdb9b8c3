//! Browser tests: the real pages in headless Chromium, driven by the Playwright scripts in `tests/e2e/`,
//! against the real router on a loopback port and a fresh PostGIS database per test.
//!
//! Needs `npm ci --prefix web` (MapLibre for the pages, playwright-core for the scripts) and Debian's
//! `chromium` (or `CHROMIUM=/path/to/chrome`). Set `E2E_SCREENSHOT_DIR` to keep screenshots of the pages.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// 杨舍镇, roughly: every site of these tests lies inside it.
const TOWN: [f64; 4] = [120.50, 31.84, 120.60, 31.90];
/// Starting Chromium, MapLibre on SwiftShader and a few uploads take seconds; a hang must not take forever.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(180);

/// Runs `node tests/e2e/<script> <args…>` and returns the JSON line it prints; panics with its output if it
/// fails.
async fn run_e2e(script: &str, args: &[&str]) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("web/node_modules/playwright-core").is_dir() && root.join("web/node_modules/maplibre-gl").is_dir(),
        "web/node_modules is missing or incomplete: run `npm ci --prefix web` first"
    );
    let mut command = tokio::process::Command::new("node");
    command.arg(root.join("tests/e2e").join(script)).args(args).current_dir(root).kill_on_drop(true);
    let output = match tokio::time::timeout(SCRIPT_TIMEOUT, command.output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(e)) => panic!("cannot run node (is Node.js installed?): {e}"),
        Err(_) => panic!("{script} did not finish within {SCRIPT_TIMEOUT:?}"),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{script} failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    let last_line = stdout.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default();
    let result: Value = serde_json::from_str(last_line)
        .unwrap_or_else(|e| panic!("{script} printed no JSON result ({e}):\n{stdout}\n--- stderr\n{stderr}"));
    assert_eq!(result["ok"], true, "{result:#}");
    result
}

/// Uploads an observation (with photos) and returns its site's `(id, code)`.
async fn upload_site(app: &common::TestApp, observation: Value, photos: &[&[u8]]) -> (Uuid, String) {
    let answer = app.upload(&observation, photos).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let site = &answer.json()["site"]["properties"];
    (site["id"].as_str().unwrap().parse().unwrap(), site["code"].as_str().unwrap().to_string())
}

/// Moves a site along its lifecycle directly in the database: the workflow API does not exist yet, and the
/// map only needs sites in different statuses.
async fn set_status(pool: &PgPool, site: Uuid, status: &str, deadline_days_from_today: Option<i32>) {
    sqlx::query(
        "update site set status = $2, deadline = current_date + $3, version = version + 1, updated_at = now()
         where id = $1",
    )
    .bind(site)
    .bind(status)
    .bind(deadline_days_from_today)
    .execute(pool)
    .await
    .unwrap();
}

#[sqlx::test(migrations = "./migrations")]
async fn map_page_shows_sites_by_status_and_opens_a_site_with_its_photo(pool: PgPool) {
    let app = common::app(pool);
    app.add_town("320582100", "杨舍镇", TOWN).await;

    let photo = common::jpeg(800, 600);
    let mut with_photo = common::observation("intersection", json!([120.55, 31.87]));
    with_photo["hazard_types"] = json!(["missing_warning_sign", "no_speed_control"]);
    with_photo["checklist"] = json!({"warning_sign": "missing", "speed_bump": "missing", "road_marking": "damaged"});
    with_photo["road_code"] = json!("X202");
    with_photo["stake"] = json!("K3+200");
    with_photo["notes"] = json!("主路两侧无警告标志");
    with_photo["photo_sha256"] = json!([common::sha256_hex(&photo)]);
    let (_, photo_site_code) = upload_site(&app, with_photo, &[&photo]).await;

    let mut spot = common::observation("spot", json!([120.53, 31.86]));
    spot["hazard_types"] = json!(["sharp_curve"]);
    let (spot_id, _) = upload_site(&app, spot, &[]).await;

    let mut section = common::observation("section", json!([[120.56, 31.85], [120.575, 31.853], [120.58, 31.855]]));
    section["hazard_types"] = json!(["village_through_road"]);
    upload_site(&app, section, &[]).await;

    let closed = common::observation("intersection", json!([120.57, 31.88]));
    let (closed_id, _) = upload_site(&app, closed, &[]).await;

    set_status(&app.pool, spot_id, "in_progress", Some(-3)).await; // overdue: drawn with a black ring
    set_status(&app.pool, closed_id, "closed", None).await;

    let expectations = json!({
        "total": 4,
        "counts": {"reported": 2, "in_progress": 1, "closed": 1},
        "site": {"code": photo_site_code, "photos": 1},
    });
    let base = common::serve(&app).await;
    let result = run_e2e("map.mjs", &[&base, &expectations.to_string()]).await;

    assert_eq!(result["sites_loaded"], 4);
    assert_eq!(result["site_code"], photo_site_code);
    assert_eq!(result["legend"]["reported"], 2);
    assert_eq!(result["legend"]["cancelled"], 0);
    assert_eq!(result["labels"], json!({"zh": "已上报", "en": "Reported"}));
    // The thumbnail decoded in the browser, at the thumbnail's size (never the 800 px original).
    let width = result["thumbnail"]["naturalWidth"].as_u64().unwrap();
    assert!((1..800).contains(&width), "thumbnail width {width}");
}

/// An observation as stored, with its photo count and its site's code.
#[derive(Debug, sqlx::FromRow)]
struct StoredObservation {
    id: Uuid,
    kind: String,
    hazard_types: Vec<String>,
    inspector: String,
    route_code: Option<String>,
    stake_text: Option<String>,
    accuracy_m: Option<f32>,
    photos: i64,
    site_code: String,
}

#[sqlx::test(migrations = "./migrations")]
async fn inspector_page_sends_observations_online_and_from_the_offline_outbox(pool: PgPool) {
    let app = common::app(pool);
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let photo = common::jpeg(800, 600);
    let dir = tempfile::tempdir().unwrap();
    let photo_path: PathBuf = dir.path().join("路口.jpg");
    std::fs::write(&photo_path, &photo).unwrap();

    let base = common::serve(&app).await;
    let result = run_e2e("inspect.mjs", &[&base, photo_path.to_str().unwrap()]).await;

    // The refused attempt (accuracy beyond the limit) recorded nothing, and the outbox retry no duplicate.
    assert_eq!(app.count("observation").await, 2, "{result:#}");
    assert_eq!(app.count("site").await, 1, "{result:#}");

    let first: Uuid = result["first"]["id"].as_str().unwrap().parse().unwrap();
    let second: Uuid = result["second"]["id"].as_str().unwrap().parse().unwrap();
    assert_ne!(first, second);

    let rows: Vec<StoredObservation> = sqlx::query_as(
        "select o.id, o.kind, o.hazard_types, o.inspector, o.route_code, o.stake_text, o.accuracy_m,
                (select count(*) from photo p where p.observation_id = o.id) as photos,
                s.code as site_code
         from observation o join site s on s.id = o.site_id
         order by o.observed_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let [online, queued] = <[_; 2]>::try_from(rows).unwrap();

    assert_eq!(online.id, first);
    assert_eq!(online.kind, "intersection");
    assert_eq!(online.hazard_types, ["no_warning_posts"]);
    assert_eq!(online.inspector, "王芳");
    assert_eq!(online.route_code.as_deref(), Some("X202"));
    assert_eq!(online.stake_text.as_deref(), Some("K3+200"));
    assert_eq!(online.accuracy_m, Some(8.0));
    assert_eq!(online.photos, 1);
    assert_eq!(online.site_code, result["first"]["site_code"].as_str().unwrap());

    assert_eq!(queued.id, second);
    assert_eq!(queued.kind, "intersection");
    assert_eq!(queued.hazard_types, ["no_signal"]);
    assert_eq!(queued.photos, 1);
    assert_eq!(queued.site_code, online.site_code, "the queued visit at the same place joins the first site");

    let checklist: Value = sqlx::query_scalar("select checklist from observation where id = $1")
        .bind(first)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(checklist, json!({"warning_post": "damaged", "speed_bump": "missing"}));

    // The photo arrived whole: the stored original is byte for byte the file the browser picked.
    let stored: Vec<u8> = sqlx::query_scalar("select sha256 from photo p where p.observation_id = $1")
        .bind(first)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(hex::encode(stored), common::sha256_hex(&photo));
}
