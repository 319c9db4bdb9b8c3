//! Browser tests: the real pages in headless Chromium, driven by the Playwright scripts in `tests/e2e/`,
//! against the real router on a loopback port and a fresh PostGIS database per test. Each script signs in
//! through the sign-in page with the account given to it in `E2E_USER` / `E2E_PASSWORD` (and
//! `E2E_OTHER_USER` / `E2E_OTHER_PASSWORD` for a second one), made here with `common::create_user`.
//!
//! Needs `npm ci --prefix web` (MapLibre for the pages, playwright-core for the scripts) and Debian's
//! `chromium` (or `CHROMIUM=/path/to/chrome`). Set `E2E_SCREENSHOT_DIR` to keep screenshots of the pages.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// 杨舍镇, roughly: every site of these tests lies inside it.
const TOWN: [f64; 4] = [120.50, 31.84, 120.60, 31.90];
/// Starting Chromium, MapLibre on SwiftShader and a few uploads take seconds; a hang must not take forever.
/// The map's script takes about 35 s on a quiet 2-core machine and went past 180 s with builds running beside it.
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(360);

/// An account for a browser script to sign in with.
struct Account {
    id: Uuid,
    name: &'static str,
}

/// Creates an account with the test password; `organisation` defaults to the city office.
async fn account(
    pool: &PgPool,
    name: &'static str,
    display_name: &str,
    roles: &[&str],
    organisation: Option<i32>,
) -> Account {
    let organisation = match organisation {
        Some(id) => id,
        None => common::organisation(pool, "city_office").await,
    };
    let id = common::create_user(pool, name, display_name, roles, organisation, common::DEFAULT_PASSWORD).await;
    Account { id, name }
}

/// `E2E_USER` and `E2E_PASSWORD` (or with another prefix) for `account`.
fn signs_in_as(prefix: &str, account: &Account) -> [(String, String); 2] {
    [
        (format!("{prefix}_USER"), account.name.to_string()),
        (format!("{prefix}_PASSWORD"), common::DEFAULT_PASSWORD.to_string()),
    ]
}

/// Runs `node tests/e2e/<script> <args…>` with `env` and returns the JSON line it prints; panics with its
/// output if it fails.
async fn run_e2e(script: &str, args: &[&str], env: &[(String, String)]) -> Value {
    run_e2e_within(script, args, env, SCRIPT_TIMEOUT).await
}

/// [`run_e2e`] for a script that takes longer than [`SCRIPT_TIMEOUT`] by design.
async fn run_e2e_within(script: &str, args: &[&str], env: &[(String, String)], timeout: Duration) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("web/node_modules/playwright-core").is_dir() && root.join("web/node_modules/maplibre-gl").is_dir(),
        "web/node_modules is missing or incomplete: run `npm ci --prefix web` first"
    );
    // The script's output goes to files, so that a script which hangs still says how far it got.
    let logs = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (logs.path().join("stdout"), logs.path().join("stderr"));
    let mut command = tokio::process::Command::new("node");
    command
        .arg(root.join("tests/e2e").join(script))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(root)
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .kill_on_drop(true);
    let read = |path: &Path| String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned();
    let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run node (is Node.js installed?): {e}"));
    let status = match tokio::time::timeout(timeout, child.wait()).await {
        Ok(status) => status.unwrap(),
        Err(_) => panic!(
            "{script} did not finish within {timeout:?}:\n--- stdout\n{}\n--- stderr\n{}",
            read(&out_path),
            read(&err_path)
        ),
    };
    let output =
        std::process::Output { status, stdout: read(&out_path).into_bytes(), stderr: read(&err_path).into_bytes() };
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

/// Every translation key exists in every locale file, with the same placeholders: a key added in one
/// language only fails here (the 13 refusal messages that had no English were found this way).
#[tokio::test]
async fn every_locale_has_every_key() {
    let result = run_e2e("locales.mjs", &[], &[]).await;
    let zh = result["keys"]["zh-CN"].as_u64().unwrap();
    assert_eq!(result["keys"]["en"].as_u64(), Some(zh), "{result:#}");
    assert!(zh > 700, "{result:#}");
}

/// web/basemaps.js on the settings of a server with a Tianditu key and a GCJ-02 XYZ service: the switcher's
/// choices and labels, the URL check, the MapLibre style of a choice (drawn by MapLibre from /vendor/), and
/// the coordinate system our tiles are asked for over it.
#[sqlx::test(migrations = "./migrations")]
async fn the_base_map_module_offers_the_servers_base_maps_and_the_users_own(pool: PgPool) {
    let settings = roadledger::http::Settings {
        tianditu_key: Some("0123456789abcdef0123456789abcdef".parse().unwrap()),
        base_maps: vec![
            roadledger::http::settings::parse_base_map(
                "高德=https://webrd0{1-4}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8\
                 &x={x}&y={y}&z={z},crs=gcj02",
            )
            .unwrap(),
        ],
        ..Default::default()
    };
    let app = common::app_with(pool, settings).await;
    let served = app.get("/api/v1/settings").await.json();
    let base = common::serve(&app).await;

    let result = run_e2e("basemaps.mjs", &[&base, &served.to_string()], &[]).await;

    assert_eq!(result["choices"], json!(["none", "tianditu_vec", "tianditu_img", "xyz1", "custom"]));
    assert!(result["tilesAsked"].as_u64().unwrap() > 0, "{result:#}");
}

/// What the pages read instead of keeping copies: the server's limits, its codes and the default deadlines of
/// its `DeadlinePolicy`, which the dispatch dialog prefills (a configured policy shows through).
#[sqlx::test(migrations = "./migrations")]
async fn the_pages_read_limits_codes_and_deadlines_from_the_settings(pool: PgPool) {
    let settings = roadledger::http::Settings {
        deadlines: roadledger::domain::policy::DeadlinePolicy {
            immediate_days: 2,
            general_days: 20,
            significant_days: 60,
        },
        ..Default::default()
    };
    let app = common::app_with(pool, settings).await;

    let answer = app.get("/api/v1/settings").await;
    assert_eq!(answer.status, 200);
    let s = answer.json();
    assert_eq!(s["bbox_area_deg2_max"], 1.0);
    assert_eq!(s["sites_page_size_max"], 5000);
    assert_eq!(
        s["default_deadline_days"],
        json!({
            "immediate": {"general": 2, "significant": 2, "major": 2},
            "deadline": {"general": 20, "significant": 60, "major": null},
            "project": {"general": 20, "significant": 60, "major": null},
        })
    );
    let statuses: Vec<(&str, bool)> = s["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|st| (st["code"].as_str().unwrap(), st["open"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            ("reported", true),
            ("verified", true),
            ("assigned", true),
            ("in_progress", true),
            ("pending_review", true),
            ("closed", false),
            ("reopened", true),
            ("rejected", false),
            ("duplicate", false),
            ("cancelled", false),
        ]
    );
    assert_eq!(s["hazard_levels"], json!(["general", "significant", "major"]));
    assert_eq!(s["rectification_modes"], json!(["immediate", "deadline", "project"]));
    assert_eq!(s["supervision_levels"], json!(["none", "town", "county", "prefecture", "province"]));
    assert_eq!(s["item_states"], json!(["missing", "damaged", "installed", "verified", "not_applicable"]));
    assert_eq!(s["photos_per_observation_max"], 8);
}

/// web/node_modules holds the browser tests' tools (playwright-core, axe-core): the server does not hand them
/// out, nor the npm manifests; the pages' own modules and MapLibre it does.
#[sqlx::test(migrations = "./migrations")]
async fn only_the_pages_and_maplibre_are_served_from_the_web_directory(pool: PgPool) {
    let app = common::app(pool).await;
    for path in [
        "/node_modules/axe-core/axe.min.js",
        "/node_modules/playwright-core/package.json",
        "/node_modules/",
        "/package.json",
        "/package-lock.json",
    ] {
        assert_eq!(app.get(path).await.status, 404, "{path}");
    }
    for path in ["/vendor/maplibre-gl/maplibre-gl.mjs", "/boot.js", "/paging.js", "/locales/zh-CN.js", "/locales/en.js"]
    {
        assert_eq!(app.get(path).await.status, 200, "{path}");
    }
}

/// The phone page's app files: `/sw.js` is the template with the release written in (the id, and every file
/// the page links or imports with its SHA-256), revalidated on every check; the manifest and the icons are
/// served with their types.
#[sqlx::test(migrations = "./migrations")]
async fn the_service_worker_is_served_with_the_release_of_the_inspection_page(pool: PgPool) {
    let app = common::app(pool).await;
    let web = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let release = roadledger::http::release::release(&web).unwrap();

    let sw = app.get("/sw.js").await;
    assert_eq!(sw.status, 200);
    assert_eq!(sw.headers["content-type"], "text/javascript; charset=utf-8");
    assert_eq!(sw.headers["cache-control"], "no-cache");
    let body = String::from_utf8(sw.bytes).unwrap();
    assert!(!body.contains("__RELEASE__") && !body.contains("'__FILES__'"), "{body}");
    assert!(body.contains(&format!("const RELEASE = '{}';", release.id)), "{body}");
    for path in ["/inspect.html", "/inspect.js", "/outbox.js", "/draft.js", "/pwa.js", "/locales/en.js", "/app.css"] {
        let hash = &release.files[path];
        assert!(body.contains(&format!("\"{path}\":\"{hash}\"")), "{path} is not in the release");
    }
    assert!(!release.files.contains_key("/sw.js") && !release.files.contains_key("/map.js"), "{:?}", release.files);

    let manifest = app.get("/manifest.webmanifest").await;
    assert_eq!(manifest.status, 200);
    assert_eq!(manifest.headers["content-type"], "application/manifest+json");
    for icon in manifest.json()["icons"].as_array().unwrap() {
        let src = icon["src"].as_str().unwrap();
        assert!(release.files.contains_key(src), "{src}");
        let answer = app.get(src).await;
        assert_eq!(answer.status, 200, "{src}");
        assert_eq!(answer.headers["content-type"], "image/png", "{src}");
        let size = icon["sizes"].as_str().unwrap().split_once('x').unwrap().0.parse::<u32>().unwrap();
        let image = image::load_from_memory(&answer.bytes).unwrap();
        assert_eq!((image.width(), image.height()), (size, size), "{src}");
    }
}

/// Uploads an observation (with photos, as the default inspector) and returns its site's `(id, code)`.
async fn upload_site(app: &common::TestApp, observation: Value, photos: &[&[u8]]) -> (Uuid, String) {
    let answer = app.upload(&observation, photos).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));
    let site = &answer.json()["site"]["properties"];
    (site["id"].as_str().unwrap().parse().unwrap(), site["code"].as_str().unwrap().to_string())
}

/// The county office behind the scenes of a page's story: one account per part of the lifecycle, each with an
/// API token, to move the other sites through the lifecycle API as the pages would (If-Match and all).
struct Office {
    dispatcher: String,
    rectifier: String,
    reviewer: String,
    unit: i32,
}

impl Office {
    /// Accounts in the city office, the responsible `unit` and the police; names that no script signs in with.
    async fn new(pool: &PgPool, unit: i32) -> Office {
        let city = common::organisation(pool, "city_office").await;
        let police = common::add_organisation(pool, "交警中队", "police_squadron", None).await;
        Office {
            dispatcher: common::token_for(pool, "office.dispatcher", "周调度", "dispatcher", city).await,
            rectifier: common::token_for(pool, "office.rectifier", "吴整改", "unit_officer", unit).await,
            reviewer: common::token_for(pool, "office.reviewer", "郑验收", "reviewer", police).await,
            unit,
        }
    }

    /// One action, after reading the site's ETag; it must succeed.
    async fn act(&self, app: &common::TestApp, token: &str, site: Uuid, body: Value) {
        let answer = app.act(token, &site.to_string(), &body).await;
        assert_eq!(answer.status, 200, "{body}: {}", String::from_utf8_lossy(&answer.bytes));
    }

    /// Verified and dispatched to the unit (a general hazard, by `deadline` or the default one): assigned.
    async fn dispatch(&self, app: &common::TestApp, site: Uuid, deadline: Option<chrono::NaiveDate>) {
        self.act(app, &self.dispatcher, site, json!({"action": "verify"})).await;
        let mut dispatch = json!({"action": "dispatch", "responsible_unit_id": self.unit, "hazard_level": "general"});
        if let Some(deadline) = deadline {
            dispatch["deadline"] = json!(deadline);
        }
        self.act(app, &self.dispatcher, site, dispatch).await;
    }

    /// Dispatched and accepted: in progress.
    async fn bring_into_progress(&self, app: &common::TestApp, site: Uuid) {
        self.dispatch(app, site, None).await;
        self.act(app, &self.rectifier, site, json!({"action": "accept"})).await;
    }

    /// In progress, evidence for every item (after- and night photo), close-out requested and approved.
    async fn close(&self, app: &common::TestApp, site: Uuid) {
        self.bring_into_progress(app, site).await;
        let items: Vec<String> = sqlx::query_scalar("select item_code from site_checklist_item where site_id = $1")
            .bind(site)
            .fetch_all(&app.pool)
            .await
            .unwrap();
        let evidence = json!({"state": "installed", "quantity": 2, "installer": "张家港交通工程公司"});
        for item in items {
            let answer = app.evidence_as(&self.rectifier, &site.to_string(), &item, &evidence, true).await;
            assert_eq!(answer.status, 201, "{item}: {}", String::from_utf8_lossy(&answer.bytes));
        }
        self.act(app, &self.rectifier, site, json!({"action": "request_close_out"})).await;
        self.act(app, &self.reviewer, site, json!({"action": "approve"})).await;
    }
}

/// Makes a site's deadline `days` days past. Set by SQL, as in tests/it/ledger.rs: the API refuses a deadline
/// in the past, and time cannot be advanced here.
async fn make_overdue(pool: &PgPool, site: Uuid, days: i32) {
    sqlx::query("update site set deadline = current_date - $2 where id = $1")
        .bind(site)
        .bind(days)
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test(migrations = "./migrations")]
async fn map_page_draws_tiles_filters_them_and_opens_a_site_with_its_photos(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;

    let photo = common::jpeg(800, 600);
    let mut with_photo = common::observation("intersection", json!([120.55, 31.87]));
    with_photo["hazard_types"] = json!(["missing_warning_sign", "no_speed_control"]);
    with_photo["checklist"] = json!({"warning_sign": "missing", "speed_bump": "missing", "road_marking": "damaged"});
    with_photo["road_code"] = json!("X202");
    with_photo["stake"] = json!("K3+200");
    with_photo["notes"] = json!("主路两侧无警告标志");
    with_photo["photo_sha256"] = json!([common::sha256_hex(&photo)]);
    // The photo's original was taken 6.2 km north of the record: flagged, and the panel says so.
    with_photo["photo_evidence"] = json!([{"lon": 120.55, "lat": 31.87 + (6200.0_f64 / 6_371_008.8).to_degrees()}]);
    let (photo_site_id, photo_site_code) = upload_site(&app, with_photo, &[&photo]).await;

    let mut spot = common::observation("spot", json!([120.53, 31.86]));
    spot["hazard_types"] = json!(["sharp_curve"]);
    let (spot_id, spot_code) = upload_site(&app, spot, &[]).await;

    let mut section = common::observation("section", json!([[120.56, 31.85], [120.575, 31.853], [120.58, 31.855]]));
    section["hazard_types"] = json!(["village_through_road"]);
    upload_site(&app, section, &[]).await;

    let closed = common::observation("intersection", json!([120.57, 31.88]));
    let (closed_id, _) = upload_site(&app, closed, &[]).await;

    let unit = common::add_organisation(&app.pool, "农村公路管理处", "responsible_unit", None).await;
    let office = Office::new(&app.pool, unit).await;
    office.bring_into_progress(&app, spot_id).await;
    make_overdue(&app.pool, spot_id, 3).await; // drawn with a black ring
    office.close(&app, closed_id).await;

    // A leader reads every site and changes nothing: the map is theirs, user management is not.
    let leader = account(&app.pool, "liqiang", "李强", &["leader"], None).await;
    // Where the GCJ-02 formula puts the site (a GCJ-02 base map shows it there), and a few points across China
    // for the page's own copy of the formula.
    let gcj02 = |[lon, lat]: [f64; 2]| {
        let (x, y) = roadledger::domain::coords::wgs84_to_gcj02(lon, lat);
        [x, y]
    };
    let gcj02_points: Vec<[f64; 4]> =
        [[120.55, 31.87], [116.397, 39.909], [87.6, 43.8], [113.26, 23.13], [126.6, 45.75]]
            .into_iter()
            .map(|p| {
                let g = gcj02(p);
                [p[0], p[1], g[0], g[1]]
            })
            .collect();
    let expectations = json!({
        "total": 4,
        "counts": {"reported": 2, "in_progress": 1, "closed": 1},
        "overdue": 1,
        "site": {"code": photo_site_code, "id": photo_site_id, "photos": 1, "lnglat": [120.55, 31.87],
                 "gcj02": gcj02([120.55, 31.87]), "flag": "拍摄地点距记录 6.2 公里"},
        "filter": {"kind": "spot", "total": 1, "code": spot_code, "lnglat": [120.53, 31.86]},
        "gcj02_points": gcj02_points,
        "user": {"display_name": "李强", "roles": "领导", "admin": false},
    });
    let base = common::serve(&app).await;
    let result = run_e2e("map.mjs", &[&base, &expectations.to_string()], &signs_in_as("E2E", &leader)).await;

    assert_eq!(result["cells_at_z9"], 4);
    assert_eq!(result["exports"], json!({"geojson": 1, "kml": 1}));
    assert_eq!(result["site_code"], photo_site_code);
    // The flag under the photo, in the panel's observations and its before/after strip alike.
    assert_eq!(result["panel_flags"], json!(["拍摄地点距记录 6.2 公里", "拍摄地点距记录 6.2 公里"]));
    assert_eq!(result["legend"]["reported"], 2);
    assert_eq!(result["legend"]["cancelled"], 0);
    assert_eq!(result["labels"], json!({"zh": "已上报", "en": "Reported"}));
    // A leader reads the candidates queue (候选点段), the public reports (公众上报) and the crash records
    // (事故数据) too.
    assert_eq!(
        result["header"]["links"],
        json!(["/", "/candidates.html", "/public-reports.html", "/reports.html", "/crashes.html", "/inspect.html"])
    );
    assert_eq!(result["header"]["roles_en"], "Leader");
    // Signing out ended the session in the database too, not only in the browser.
    let sessions: i64 = sqlx::query_scalar("select count(*) from user_session where user_id = $1")
        .bind(leader.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(sessions, 0);
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
    user_id: Uuid,
    route_code: Option<String>,
    stake_text: Option<String>,
    accuracy_m: Option<f32>,
    photos: i64,
    site_code: String,
}

#[sqlx::test(migrations = "./migrations")]
async fn inspector_page_sends_observations_online_from_the_outbox_and_with_an_api_token(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    // X202 runs east through the phone's fix (120.55, 31.87), measured from K0+000 at 120.54.
    sqlx::query(
        "insert into road (route_code, admin_code, name, geom)
         values ('X202', '320582', '港城大道', st_multi(st_geomfromtext('LINESTRING(120.54 31.87, 120.56 31.87)', 4326)))",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let photo = common::jpeg(800, 600);
    let dir = tempfile::tempdir().unwrap();
    let photo_path: PathBuf = dir.path().join("路口.jpg");
    std::fs::write(&photo_path, &photo).unwrap();
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;

    let base = common::serve(&app).await;
    let result = run_e2e("inspect.mjs", &[&base, photo_path.to_str().unwrap()], &signs_in_as("E2E", &inspector)).await;

    assert_eq!(result["inspector_line"], "巡查员：王芳 · 市交安办");
    // 0.01° of longitude at 31.87°N is 946.26 m on the ellipsoid: K0+946, on the line.
    assert_eq!(result["on_road"], "X202 K0+946 · 港城大道 · 距路 0 米");
    assert_eq!(result["user"]["id"], inspector.id.to_string());
    // The refused attempt (accuracy beyond the limit) recorded nothing; neither the outbox retries (one
    // answered 401, then sent after signing in again) nor the token upload made a duplicate.
    assert_eq!(app.count("observation").await, 3, "{result:#}");
    assert_eq!(app.count("site").await, 1, "{result:#}");

    let first: Uuid = result["first"]["id"].as_str().unwrap().parse().unwrap();
    let second: Uuid = result["second"]["id"].as_str().unwrap().parse().unwrap();
    let third: Uuid = result["third"]["id"].as_str().unwrap().parse().unwrap();
    assert_ne!(first, second);

    let rows: Vec<StoredObservation> = sqlx::query_as(
        "select o.id, o.kind, o.hazard_types, o.inspector, o.user_id, o.route_code, o.stake_text, o.accuracy_m,
                (select count(*) from photo p where p.observation_id = o.id) as photos,
                s.code as site_code
         from observation o join site s on s.id = o.site_id
         order by o.observed_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let [online, queued, with_token] = <[_; 3]>::try_from(rows).unwrap();

    // Every one of them is the signed-in inspector's, by account (the page sends no name).
    for row in [&online, &queued, &with_token] {
        assert_eq!(row.user_id, inspector.id, "{row:?}");
        assert_eq!(row.inspector, "王芳", "{row:?}");
    }
    assert_eq!(online.id, first);
    assert_eq!(online.kind, "intersection");
    assert_eq!(online.hazard_types, ["no_warning_posts"]);
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

    assert_eq!(with_token.id, third);
    assert_eq!(with_token.hazard_types, ["no_lighting_intersection"]);
    assert_eq!(with_token.photos, 0);
    assert_eq!(with_token.site_code, online.site_code);
    // The token the page made on /account.html is the inspector's, and the upload used it.
    let (token_name, used): (String, bool) = sqlx::query_as(
        "select name, last_used_at is not null from api_token where user_id = $1 and revoked_at is null",
    )
    .bind(inspector.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((token_name.as_str(), used), ("巡查手机", true));

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

/// A user as the admin page left them.
#[derive(Debug, sqlx::FromRow)]
struct StoredUser {
    display_name: String,
    organisation_id: i32,
    roles: Vec<String>,
    disabled: bool,
    signed_in: bool,
    password_reset: bool,
}

#[sqlx::test(migrations = "./migrations")]
async fn the_inspection_page_opens_offline_and_sends_what_was_recorded_there(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("路口.jpg");
    std::fs::write(&photo, common::jpeg(640, 480)).unwrap();

    let base = common::serve(&app).await;
    let result = run_e2e("offline.mjs", &[&base, photo.to_str().unwrap()], &signs_in_as("E2E", &inspector)).await;

    assert_eq!(result["inspector"], "王芳");
    let id: Uuid = result["id"].as_str().unwrap().parse().unwrap();
    let (user_id, hazards, photos): (Uuid, Vec<String>, i64) = sqlx::query_as(
        "select o.user_id, o.hazard_types, (select count(*) from photo p where p.observation_id = o.id)
         from observation o where o.id = $1",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((user_id, hazards, photos), (inspector.id, vec!["no_signal".to_string()], 1));
    // The one the worker sent by Background Sync, with no page open.
    let synced: Uuid = result["synced_id"].as_str().unwrap().parse().unwrap();
    let by: Uuid = sqlx::query_scalar("select user_id from observation where id = $1")
        .bind(synced)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(by, inspector.id);
}

/// The inspection page installable and losing nothing (tests/e2e/pwa.mjs): its manifest and icons, a draft
/// that survives a reload, a 409 sent again as a new observation, and the warning and refusal when storage is
/// short. Both copies of the conflicting observation end up stored, each under its own id.
#[sqlx::test(migrations = "./migrations")]
async fn the_inspection_page_installs_keeps_its_draft_and_resolves_a_conflict_as_a_new_observation(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("桥头.jpg");
    std::fs::write(&photo, common::jpeg(640, 480)).unwrap();

    let base = common::serve(&app).await;
    let result = run_e2e("pwa.mjs", &[&base, photo.to_str().unwrap()], &signs_in_as("E2E", &inspector)).await;

    let sent: Uuid = result["sent_id"].as_str().unwrap().parse().unwrap();
    let again: Uuid = result["conflict_id"].as_str().unwrap().parse().unwrap();
    let stored: Vec<(Uuid, String, Uuid, i64)> = sqlx::query_as(
        "select o.id, o.notes, o.user_id, (select count(*) from photo p where p.observation_id = o.id)
         from observation o order by o.received_at",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        [
            (sent, "桥头右侧护栏缺失".to_string(), inspector.id, 1),
            (again, result["phone_notes"].as_str().unwrap().to_string(), inspector.id, 0)
        ],
        "{result:#}"
    );
}

/// Copies the served files of web/ (not node_modules) into `to`, for a test that changes them as a deploy
/// would.
fn copy_pages(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "node_modules" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_pages(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A new release reaches the installed page only when the inspector accepts it (tests/e2e/update.mjs): the
/// script changes a file of a served copy of web/; `/sw.js` then carries another release, which waits
/// behind the prompt, and takes over when it is tapped.
#[sqlx::test(migrations = "./migrations")]
async fn a_changed_page_is_offered_as_a_new_release_and_taken_only_when_accepted(pool: PgPool) {
    let web = tempfile::tempdir().unwrap();
    copy_pages(&Path::new(env!("CARGO_MANIFEST_DIR")).join("web"), web.path());
    let before = roadledger::http::release::release(web.path()).unwrap();
    assert!(before.files.contains_key("/inspect.js") && before.files.contains_key("/icons/icon-maskable-512.png"));
    let settings = roadledger::http::Settings { web_dir: web.path().to_path_buf(), ..Default::default() };
    let app = common::app_with(pool, settings).await;
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;

    let base = common::serve(&app).await;
    let result = run_e2e("update.mjs", &[&base, web.path().to_str().unwrap()], &signs_in_as("E2E", &inspector)).await;

    let after = roadledger::http::release::release(web.path()).unwrap();
    assert_eq!(result["old"], before.id.as_str(), "{result:#}");
    assert_eq!(result["new"], after.id.as_str(), "{result:#}");
    assert_ne!(before.id, after.id);
}

/// The day's photos: a handful of distinct 12 MP camera photos with EXIF, each picked again and again.
const DAY_PHOTO_FILES: u32 = 4;
/// The day at the issue's size takes minutes (tests/e2e/day.mjs says how long each part took).
const DAY_TIMEOUT: Duration = Duration::from_secs(900);

/// A day in dead zones at the size of issue 10 (tests/e2e/day.mjs): 50 observations with three 12 MP camera
/// photos each, every photo picked and resized on the page, queued offline, kept through an offline reload
/// and a browser restart, then sent over a throttled link (300 ms round trip) that loses one request in ten
/// before the server and one answer in ten after it, with one record the server always refuses with 500.
/// Every other observation lands exactly once, with its three photos resized (≤ 2048 px, ≤ 500 KB) and each
/// photo's evidence from its original's EXIF; the poison record never reaches the server.
#[sqlx::test(migrations = "./migrations")]
async fn a_day_offline_lands_every_observation_once_past_a_poison_record(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;
    let dir = tempfile::tempdir().unwrap();
    let taken = common::china_minutes_ago(20);
    let mut originals = Vec::new();
    for seed in 1..=DAY_PHOTO_FILES {
        // Taken in the middle of the day's places (within 5 km of each), so no photo is flagged as far away.
        let exif = common::camera_exif([120.545, 31.86], 1, taken);
        let photo = common::with_exif(&common::camera_photo(4000, 3000, seed), &exif);
        let path = dir.path().join(format!("IMG_20261207_{seed:04}.jpg"));
        std::fs::write(&path, &photo).unwrap();
        originals.push((path, photo.len() as i64));
    }
    let profile = dir.path().join("profile");

    let base = common::serve(&app).await;
    let mut args = vec![base.as_str(), profile.to_str().unwrap()];
    args.extend(originals.iter().map(|(p, _)| p.to_str().unwrap()));
    let result = run_e2e_within("day.mjs", &args, &signs_in_as("E2E", &inspector), DAY_TIMEOUT).await;

    let poison: Uuid = result["poison"].as_str().unwrap().parse().unwrap();
    let ids: Vec<Uuid> =
        result["ids"].as_array().unwrap().iter().map(|id| id.as_str().unwrap().parse().unwrap()).collect();
    assert_eq!(ids.len(), 50, "{result:#}");
    let mut sent: Vec<Uuid> = ids.into_iter().filter(|id| *id != poison).collect();
    sent.sort();
    assert_eq!(sent.len(), 49, "{result:#}");
    // Each observation exactly once (the ids are the table's key, so once each or absent), three photos each.
    let stored: Vec<(Uuid, i64)> = sqlx::query_as(
        "select o.id, (select count(*) from photo p where p.observation_id = o.id) from observation o order by o.id",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, sent.iter().map(|id| (*id, 3)).collect::<Vec<_>>(), "{result:#}");

    // Every photo resized on the phone, with what its original's EXIF said.
    let photos: Vec<PhotoAsStored> = sqlx::query_as(
        "select width, height, bytes, original_taken_at, original_device, original_bytes, original_width,
                original_height, st_x(original_location) as lon, st_y(original_location) as lat, original_direction_deg
         from photo",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(photos.len(), 49 * 3);
    let original_sizes: Vec<i64> = originals.iter().map(|(_, bytes)| *bytes).collect();
    for p in &photos {
        assert_eq!(p.width.max(p.height), 2048, "{p:?}");
        assert!(p.bytes <= 500 * 1024, "{p:?}");
        assert_eq!(p.original_taken_at, chrono::Timelike::with_nanosecond(&taken, 0), "{p:?}");
        assert_eq!(p.original_device.as_deref(), Some("HUAWEI ELS-AN00"), "{p:?}");
        assert!(p.original_bytes.is_some_and(|b| original_sizes.contains(&b)), "{p:?}");
        assert_eq!((p.original_width, p.original_height), (Some(4000), Some(3000)), "{p:?}");
        let (lon, lat) = (p.lon.unwrap(), p.lat.unwrap());
        assert!((lon - 120.545).abs() < 1e-6 && (lat - 31.86).abs() < 1e-6, "{p:?}");
        assert_eq!(p.original_direction_deg, Some(135.5), "{p:?}");
    }

    let queued = &result["queued"];
    let mb = |bytes: &Value| bytes.as_f64().unwrap() / 1e6;
    println!(
        "a day offline: 50 observations with 150 photos ({:.1} MB of 12 MP originals picked) queued in {:.0} s as \
         {:.1} MB; drained over {} Mbit/s, 300 ms RTT, in {:.0} s, {:.1} MB of request bodies sent (lost answers' \
         resends included); the poison record tried {} times",
        mb(&result["picked_bytes"]),
        result["queue_ms"].as_f64().unwrap() / 1000.0,
        mb(&queued["bytes"]),
        result["link_mbit"],
        result["drain_ms"].as_f64().unwrap() / 1000.0,
        mb(&result["bytes_sent"]),
        result["poison_tries"],
    );
}

/// One-handed at 360 px (issue 10): tests/e2e/touch.mjs walks every visible interactive element of the
/// inspection page in each state it can reach (the draft empty and filled, the settings, the user menu, a
/// section, the small map, the location question, a repeat visit offered and asked about, the outbox with a
/// queued and a 409 record and their dialogs) and of the citizen's report page (empty, filled with its map, sent), on a 360 × 740 touch phone:
/// each takes a tap over at least 44 × 44 CSS px as hit testing finds it (text links inside a sentence
/// exempt), nothing sticks out sideways, and the audit fails once one target is shrunk.
#[sqlx::test(migrations = "./migrations")]
async fn every_touch_target_on_the_phone_pages_is_at_least_44_px_at_360_px_wide(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.jpg"), dir.path().join("b.jpg"));
    std::fs::write(&a, common::jpeg(640, 480)).unwrap();
    std::fs::write(&b, common::jpeg(800, 600)).unwrap();

    let base = common::serve(&app).await;
    let args = [base.as_str(), a.to_str().unwrap(), b.to_str().unwrap()];
    let result = run_e2e("touch.mjs", &args, &signs_in_as("E2E", &inspector)).await;

    let states = result["states"].as_object().unwrap();
    assert_eq!(states.len(), 16, "{result:#}");
    assert!(states.values().all(|n| n.as_u64().unwrap() > 0), "{result:#}");
    // The self-check: the one shrunk target, and only it, was found.
    assert_eq!(result["shrunk"].as_array().unwrap().len(), 1, "{result:#}");
    // The report was really sent from the phone-sized page.
    let reports: i64 = sqlx::query_scalar("select count(*) from public_report").fetch_one(&app.pool).await.unwrap();
    assert_eq!(reports, 1);
}

/// One stored photo of the day: its size and the evidence kept from its original.
#[derive(Debug, sqlx::FromRow)]
struct PhotoAsStored {
    width: i32,
    height: i32,
    bytes: i32,
    original_taken_at: Option<chrono::NaiveDateTime>,
    original_device: Option<String>,
    original_bytes: Option<i64>,
    original_width: Option<i32>,
    original_height: Option<i32>,
    lon: Option<f64>,
    lat: Option<f64>,
    original_direction_deg: Option<f32>,
}

#[sqlx::test(migrations = "./migrations")]
async fn admin_page_creates_disables_and_resets_users_and_sends_non_admins_away(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let town: i32 =
        sqlx::query_scalar("select id from town where admin_code = '320582100'").fetch_one(&app.pool).await.unwrap();
    let town_office = common::add_organisation(&app.pool, "杨舍镇交安办", "town", Some(town)).await;
    let admin = account(&app.pool, "zhangmin", "张敏", &["admin", "dispatcher"], None).await;
    let leader = account(&app.pool, "liqiang", "李强", &["leader"], None).await;

    let base = common::serve(&app).await;
    let env: Vec<_> = signs_in_as("E2E", &admin).into_iter().chain(signs_in_as("E2E_OTHER", &leader)).collect();
    let result = run_e2e("admin.mjs", &[&base, "杨舍镇交安办"], &env).await;

    let created: Uuid = result["created"]["id"].as_str().unwrap().parse().unwrap();
    let user: StoredUser = sqlx::query_as(
        "select display_name, organisation_id, roles, disabled_at is not null as disabled,
                last_login_at is not null as signed_in, password_changed_at > created_at as password_reset
         from app_user where id = $1 and name = 'zhao.lei'",
    )
    .bind(created)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(user.display_name, "赵磊");
    assert_eq!(user.organisation_id, town_office);
    assert_eq!(user.roles, ["inspector", "town_officer"]);
    // Disabled, then enabled again, then signed in with the password the admin set.
    assert!(!user.disabled, "{user:?}");
    assert!(user.signed_in, "{user:?}");
    assert!(user.password_reset, "{user:?}");

    assert_eq!(result["refused_sign_in"], "name or password is wrong");
    assert_eq!(result["taken_detail"], "the name \"zhangmin\" is taken");
    assert_eq!(result["non_admin"], json!({"landed": "/", "admin_page": "/", "users_api": 403, "account": "李强"}));

    // The admin's token, made and revoked on the page.
    let (prefix, revoked): (String, bool) =
        sqlx::query_as("select prefix, revoked_at is not null from api_token where user_id = $1 and name = '对接脚本'")
            .bind(admin.id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(prefix, result["token_prefix"].as_str().unwrap());
    assert!(revoked);

    // The Open311 key, issued and revoked on the page, posted one request while it was live.
    let (key_prefix, revoked, posted): (String, bool, i64) = sqlx::query_as(
        "select c.key_prefix, c.revoked_at is not null,
                (select count(*) from public_report r where r.open311_client_id = c.id and r.description = '管理页签发的密钥')
         from open311_client c where c.name = '城市服务平台'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(key_prefix, result["open311_key_prefix"].as_str().unwrap());
    assert!(revoked);
    assert_eq!(posted, 1);

    // The leader's own new password is the one that now signs in.
    let new_password = result["other_new_password"].as_str().unwrap();
    let hash: String = sqlx::query_scalar("select password_hash from app_user where id = $1")
        .bind(leader.id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert!(roadledger::secrets::verify_password(new_password, &hash));
    assert!(!roadledger::secrets::verify_password(common::DEFAULT_PASSWORD, &hash));
}

/// The GBK shapefile's roads: 9 features, X202 in two pieces, so 8 roads.
const COUNTY_ROADS: i64 = 8;

#[sqlx::test(migrations = "./migrations")]
async fn admin_page_imports_a_county(pool: PgPool) {
    // A fresh county: no towns, no roads (common::app adds none); only the admin who imports them.
    let app = common::app(pool).await;
    let admin = account(&app.pool, "zhangmin", "张敏", &["admin"], None).await;
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/county");

    let base = common::serve(&app).await;
    let result =
        run_e2e("places.mjs", &[&base, data.to_str().unwrap(), &COUNTY_ROADS.to_string()], &signs_in_as("E2E", &admin))
            .await;

    assert_eq!(result["towns_preview"]["inserted"], 3);
    assert_eq!(result["roads"]["parts_sent"], json!(["roads.shp", "roads.shx", "roads.dbf", "roads.prj", "roads.cpg"]));
    assert_eq!(result["broken"]["code"], "import_unreadable");
    assert_eq!(result["wrong_kind"]["problems"], 3);

    // The two imports, and nothing from the previews or the two refused uploads.
    let imports: Vec<(String, String, Option<Uuid>, String)> =
        sqlx::query_as("select kind, file_name, user_id, imported_by from place_import order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(
        imports,
        [
            ("towns".to_string(), "towns.geojson".to_string(), Some(admin.id), "张敏".to_string()),
            ("roads".to_string(), "roads.shp".to_string(), Some(admin.id), "张敏".to_string()),
        ]
    );
    let towns: Vec<(String, String)> =
        sqlx::query_as("select admin_code, name from town order by admin_code").fetch_all(&app.pool).await.unwrap();
    assert_eq!(
        towns,
        [("320582100", "杨舍镇"), ("320582101", "塘桥镇"), ("320582102", "凤凰镇")]
            .map(|(code, name)| (code.to_string(), name.to_string()))
    );
    let roads: i64 = sqlx::query_scalar("select count(*) from road").fetch_one(&app.pool).await.unwrap();
    assert_eq!(roads, COUNTY_ROADS);
    // The shapefile's names were GBK bytes: stored exactly as the characters, not mojibake.
    let names: Vec<(Option<String>, String, String)> = sqlx::query_as(
        "select route_code, name, admin_code from road where name in ('凤塘线', '东港路') order by route_code nulls first",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        names,
        [
            (None, "东港路".to_string(), "320582".to_string()),
            (Some("Y101".to_string()), "凤塘线".to_string(), "320582".to_string())
        ]
    );
}

/// A site's lifecycle columns as stored.
#[derive(Debug, sqlx::FromRow)]
struct StoredSite {
    status: String,
    responsible_unit_id: Option<i32>,
    hazard_level: Option<String>,
    rectification_mode: Option<String>,
    deadline: Option<chrono::NaiveDate>,
    return_count: i32,
    close_out_requested_by: Option<Uuid>,
}

/// A checklist item as stored, with the number of evidence photos of each role.
#[derive(Debug, PartialEq, sqlx::FromRow)]
struct StoredItem {
    item_code: String,
    state: String,
    quantity: Option<i32>,
    installer: Option<String>,
    after_photos: i64,
    night_photos: i64,
}

/// An event of the site's timeline as stored.
#[derive(Debug, sqlx::FromRow)]
struct StoredEvent {
    kind: String,
    to_status: Option<String>,
    actor: String,
    reason: Option<String>,
}

#[sqlx::test(migrations = "./migrations")]
async fn work_pages_take_a_site_from_report_to_closed_out_with_evidence_and_one_return(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let unit = common::add_organisation(&app.pool, "农村公路管理处", "responsible_unit", None).await;
    common::add_organisation(&app.pool, "张家港市交通运输局", "transport_bureau", None).await;
    let police = common::add_organisation(&app.pool, "张家港市公安局交警大队", "police_brigade", None).await;
    let dispatcher = account(&app.pool, "zhao.diao", "赵调度", &["dispatcher"], None).await;
    let officer = account(&app.pool, "qian.zheng", "钱整改", &["unit_officer"], Some(unit)).await;
    let reviewer = account(&app.pool, "li.yanshou", "李验收", &["reviewer"], Some(police)).await;

    // The hazard spot the story follows: reported first, with a before-photo, so it heads the queue.
    let before = common::jpeg(800, 600);
    let mut spot = common::observation("spot", json!([120.55, 31.87]));
    spot["hazard_types"] = json!(["sharp_curve", "no_lighting_section"]);
    spot["checklist"] = json!({"line": "missing", "sign": "damaged", "lamp": "missing"});
    spot["road_code"] = json!("X202");
    spot["stake"] = json!("K3+200");
    spot["notes"] = json!("急弯处无警告标志，夜间无照明");
    spot["photo_sha256"] = json!([common::sha256_hex(&before)]);
    let (site, code) = upload_site(&app, spot, &[&before]).await;
    // Company in the lists: two more reports for the dispatcher, an overdue and a fresh site for the unit.
    for (lon, lat) in [(120.52, 31.85), (120.58, 31.88)] {
        upload_site(&app, common::observation("intersection", json!([lon, lat])), &[]).await;
    }
    let (overdue, overdue_code) = upload_site(&app, common::observation("spot", json!([120.53, 31.86])), &[]).await;
    let office = Office::new(&app.pool, unit).await;
    office.bring_into_progress(&app, overdue).await;
    make_overdue(&app.pool, overdue, 4).await;
    let (later, _) = upload_site(&app, common::observation("spot", json!([120.57, 31.89])), &[]).await;
    let in_60_days = roadledger::domain::lifecycle::china_date(chrono::Utc::now()) + chrono::Days::new(60);
    office.dispatch(&app, later, Some(in_60_days)).await;

    let dir = tempfile::tempdir().unwrap();
    let after_path = dir.path().join("整改后.jpg");
    let night_path = dir.path().join("夜间.jpg");
    std::fs::write(&after_path, common::jpeg(640, 480)).unwrap();
    std::fs::write(&night_path, common::jpeg(400, 300)).unwrap();
    let return_reason = "夜间警示灯亮度不足，请更换";
    let extension_reason = "标线施划需待雨季过后";
    let config = json!({
        "site": {"id": site, "code": code},
        "dispatch_queue": 3,
        "overdue_code": overdue_code,
        "unit": "农村公路管理处",
        "items": ["line", "sign", "lamp"],
        "night_items": ["lamp"],
        "photos": {"after": after_path, "night": night_path},
        "return_reason": return_reason,
        "extension_reason": extension_reason,
    });
    let env: Vec<_> = signs_in_as("E2E_DISPATCHER", &dispatcher)
        .into_iter()
        .chain(signs_in_as("E2E_OFFICER", &officer))
        .chain(signs_in_as("E2E_REVIEWER", &reviewer))
        .collect();
    let base = common::serve(&app).await;
    let result = run_e2e("work.mjs", &[&base, &config.to_string()], &env).await;

    assert_eq!(result["final_status"], "closed");
    assert_eq!(result["unmet"], json!(["line", "sign", "lamp"]));
    assert_eq!(result["unmet_labels"], json!(["一条线", "一块牌", "一盏灯"]));

    // The site as the pages left it: closed, dispatched as the dialog said, returned once.
    let stored: StoredSite = sqlx::query_as(
        "select status, responsible_unit_id, hazard_level, rectification_mode, deadline, return_count,
                close_out_requested_by
         from site where id = $1",
    )
    .bind(site)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored.status, "closed");
    assert_eq!(stored.responsible_unit_id, Some(unit));
    assert_eq!(
        (stored.hazard_level.as_deref(), stored.rectification_mode.as_deref()),
        (Some("general"), Some("deadline"))
    );
    // Dispatched with the 30-day default the dialog showed, then moved by the approved extension.
    assert_ne!(result["dispatch"]["deadline"], result["extension"]["deadline"]);
    assert_eq!(stored.deadline.map(|d| d.to_string()).as_deref(), result["extension"]["deadline"].as_str());
    assert_eq!(stored.return_count, 1);
    assert_eq!(stored.close_out_requested_by, None);

    // Every step in order, by the person who took it; the dispatcher's cancel on a stale page left no trace.
    let events: Vec<StoredEvent> =
        sqlx::query_as("select kind, to_status, actor, reason from site_event where site_id = $1 order by id")
            .bind(site)
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let steps: Vec<(&str, Option<&str>, &str)> = events
        .iter()
        .filter(|e| e.kind != "evidence_submitted")
        .map(|e| (e.kind.as_str(), e.to_status.as_deref(), e.actor.as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("opened", Some("reported"), "张伟"),
            ("verify", Some("verified"), "赵调度"),
            ("dispatch", Some("assigned"), "赵调度"),
            ("accept", Some("in_progress"), "钱整改"),
            ("request_extension", None, "钱整改"),
            ("decide_extension", None, "赵调度"),
            ("request_close_out", Some("pending_review"), "钱整改"),
            ("return", Some("in_progress"), "李验收"),
            ("request_close_out", Some("pending_review"), "钱整改"),
            ("approve", Some("closed"), "李验收"),
        ]
    );
    let returned = events.iter().find(|e| e.kind == "return").unwrap();
    assert_eq!(returned.reason.as_deref(), Some(return_reason));
    let extension = events.iter().find(|e| e.kind == "request_extension").unwrap();
    assert_eq!(extension.reason.as_deref(), Some(extension_reason));
    let (approved, decided_by): (Option<bool>, Option<Uuid>) =
        sqlx::query_as("select approved, decided_by from extension_request where site_id = $1")
            .bind(site)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!((approved, decided_by), (Some(true), Some(dispatcher.id)));
    assert_eq!(events.iter().filter(|e| e.kind == "evidence_submitted" && e.actor == "钱整改").count(), 4);

    // The evidence: each item verified, with its after-photo, and the lamp with night photos too.
    let items: Vec<StoredItem> = sqlx::query_as(
        "select i.item_code, i.state, i.quantity, i.installer,
                (select count(*) from photo p join item_evidence e on e.id = p.evidence_id
                 where e.site_id = i.site_id and e.item_code = i.item_code and p.role = 'after') as after_photos,
                (select count(*) from photo p join item_evidence e on e.id = p.evidence_id
                 where e.site_id = i.site_id and e.item_code = i.item_code and p.role = 'night') as night_photos
         from site_checklist_item i join checklist_template_item t
              on t.template_code = i.template_code and t.code = i.item_code
         where i.site_id = $1 order by t.position",
    )
    .bind(site)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    let item = |code: &str, after_photos, night_photos| StoredItem {
        item_code: code.into(),
        state: "verified".into(),
        quantity: Some(2),
        installer: Some("张家港交通工程公司".into()),
        after_photos,
        night_photos,
    };
    // The lamp was redone after the return: a second after- and night-photo.
    assert_eq!(items, [item("line", 1, 0), item("sign", 1, 0), item("lamp", 2, 2)]);
    let length: Value =
        sqlx::query_scalar("select measured from site_checklist_item where site_id = $1 and item_code = 'line'")
            .bind(site)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(length, json!({"length_m": 30}));
}

#[sqlx::test(migrations = "./migrations")]
async fn an_inspector_records_a_relapse_and_a_pass_on_site_and_the_town_is_counted(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;
    let dispatcher = account(&app.pool, "zhao.diao", "赵调度", &["dispatcher"], None).await;
    let (linked_at, planned_at) = ([120.55, 31.87], [120.58, 31.88]);
    let (linked, linked_code) = upload_site(&app, common::observation("spot", json!(linked_at)), &[]).await;
    let (planned, planned_code) = upload_site(&app, common::observation("spot", json!(planned_at)), &[]).await;
    let unit = common::add_organisation(&app.pool, "农村公路管理处", "responsible_unit", None).await;
    let office = Office::new(&app.pool, unit).await;
    for site in [linked, planned] {
        office.close(&app, site).await;
    }
    // The policy planned a look-back of one of them; the other is opened from its page.
    sqlx::query("insert into look_back_task (site_id, due_on, policy) values ($1, current_date + 7, 'monthly_sample')")
        .bind(planned)
        .execute(&app.pool)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let photo = dir.path().join("现状.jpg");
    std::fs::write(&photo, common::jpeg(640, 480)).unwrap();
    let notes = "警示灯灯罩破损，夜间不亮";
    let config = json!({
        "linked": {"id": linked, "code": linked_code, "at": linked_at},
        "planned": {"id": planned, "code": planned_code, "at": planned_at},
        "items": ["line", "sign", "lamp"],
        "failed_item": "lamp",
        "photo": photo,
        "notes": notes,
        "town": "杨舍镇",
        "supervision": {"body": "张家港市道路交通安全委员会", "doc_no": "张交安委〔2026〕12号", "due": "2026-12-31"},
    });

    let base = common::serve(&app).await;
    let env: Vec<_> =
        signs_in_as("E2E", &inspector).into_iter().chain(signs_in_as("E2E_DISPATCHER", &dispatcher)).collect();
    let result = run_e2e("lookback.mjs", &[&base, &config.to_string()], &env).await;
    // The town's row on the work page: done, passed, relapsed, relapse rate, open, overdue.
    assert_eq!(result["town_cells"], json!(["2", "1", "1", "50%", "0", "0"]));
    // The dispatcher then listed the reopened site for supervision from its page.
    let listing: (String, Option<String>, Option<String>, Option<chrono::NaiveDate>) = sqlx::query_as(
        "select supervision_level, supervision_body, supervision_doc_no, supervision_due from site where id = $1",
    )
    .bind(linked)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        listing,
        (
            "county".to_string(),
            Some("张家港市道路交通安全委员会".to_string()),
            Some("张交安委〔2026〕12号".to_string()),
            chrono::NaiveDate::from_ymd_opt(2026, 12, 31)
        )
    );

    // The relapse reopened the linked site against the lamp, attributed to the inspector, with the photo.
    let (status, relapses, lamp): (String, i32, String) = sqlx::query_as(
        "select s.status, s.relapse_count, i.state from site s
         join site_checklist_item i on i.site_id = s.id and i.item_code = 'lamp' where s.id = $1",
    )
    .bind(linked)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), relapses, lamp.as_str()), ("reopened", 1, "damaged"));
    let relapse_id: Uuid = result["relapse"]["id"].as_str().unwrap().parse().unwrap();
    let (result_text, user_id, photos, reason): (String, Uuid, i64, Option<String>) = sqlx::query_as(
        "select o.look_back_result, o.user_id, (select count(*) from photo p where p.observation_id = o.id),
                (select e.reason from site_event e where e.observation_id = o.id and e.kind = 'look_back_relapse')
         from observation o where o.id = $1 and o.site_id = $2",
    )
    .bind(relapse_id)
    .bind(linked)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((result_text.as_str(), user_id, photos, reason.as_deref()), ("relapse", inspector.id, 1, Some(notes)));

    // The pass completed the planned task and left its site closed.
    let pass_id: Uuid = result["pass"]["id"].as_str().unwrap().parse().unwrap();
    let (status, task_result, task_observation): (String, Option<String>, Option<Uuid>) = sqlx::query_as(
        "select s.status, t.result, t.observation_id from site s join look_back_task t on t.site_id = s.id
         where s.id = $1",
    )
    .bind(planned)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), task_result.as_deref(), task_observation), ("closed", Some("pass"), Some(pass_id)));
}

/// The API reference page, anonymously: every operation of the OpenAPI document once, and every schema.
#[sqlx::test(migrations = "./migrations")]
async fn api_page_shows_every_operation(pool: PgPool) {
    let app = common::app(pool).await;
    let document = roadledger::http::openapi::document();
    let mut expected: Vec<String> = document
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ]
            .into_iter()
            .filter(|(_, op)| op.is_some())
            .map(move |(method, _)| format!("{method} {path}"))
        })
        .collect();
    let base = common::serve(&app).await;

    let result = run_e2e("api.mjs", &[&base], &[]).await;

    let mut shown: Vec<String> =
        result["operations"].as_array().unwrap().iter().map(|o| o.as_str().unwrap().to_string()).collect();
    shown.sort();
    expected.sort();
    assert_eq!(shown, expected);
    let schemas = document.components.as_ref().unwrap().schemas.len();
    assert_eq!(result["schemas"].as_array().unwrap().len(), schemas);
}

/// Light uploads (issue 10, item 2): three 12 MP camera photos with EXIF, picked on the phone page and
/// queued offline with the CPU throttled 4×, arrive as JPEGs of at most 2048 px and 500 KB, upright (the
/// first was taken with the phone turned: EXIF orientation 6), with `photo_evidence` equal to what the
/// originals' EXIF says; the photo taken 6.2 km away is flagged on the site page. Prints the figures of the
/// note: bytes sent before and after, and the time to queue.
#[sqlx::test(migrations = "./migrations")]
async fn photos_are_resized_on_the_phone_and_keep_their_originals_exif_as_evidence(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;
    let here = [120.55, 31.87];
    let far = common::north_of(here, 6_200.0);
    // Taken a few minutes ago, China time, as the camera's clock writes it.
    let taken = common::china_minutes_ago;
    let specs = [(here, 6u16, taken(3)), (here, 1, taken(2)), (far, 1, taken(1))];

    let dir = tempfile::tempdir().unwrap();
    let mut originals = Vec::new();
    for (i, (place, orientation, at)) in specs.iter().enumerate() {
        let photo = exif_camera_photo(*place, *orientation, *at, i as u32 + 1);
        let path = dir.path().join(format!("IMG_2026113{i}.jpg"));
        std::fs::write(&path, &photo).unwrap();
        originals.push((path, photo));
    }
    let paths: Vec<&str> = originals.iter().map(|(p, _)| p.to_str().unwrap()).collect();

    let base = common::serve(&app).await;
    let mut args = vec![base.as_str()];
    args.extend(&paths);
    let result = run_e2e("photos.mjs", &args, &signs_in_as("E2E", &inspector)).await;

    let id: Uuid = result["observation_id"].as_str().unwrap().parse().unwrap();
    let stored: Vec<(String, i32, i32, i32)> = sqlx::query_as(
        "select content_type, width, height, bytes from photo where observation_id = $1 order by position",
    )
    .bind(id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 3, "{result:#}");
    for (i, (content_type, width, height, bytes)) in stored.iter().enumerate() {
        assert_eq!(content_type, "image/jpeg");
        assert_eq!(*width.max(height), 2048, "photo {i}: {width} × {height}");
        assert!(*bytes <= 500 * 1024, "photo {i}: {bytes} bytes");
    }
    // Orientation applied on the phone: the turned photo arrives upright, portrait.
    assert_eq!((stored[0].1, stored[0].2), (1536, 2048));
    assert_eq!((stored[1].1, stored[1].2), (2048, 1536));

    // The evidence is what the originals' EXIF says.
    let evidence = app.get(&format!("/api/v1/observations/{id}")).await.json()["photos"].clone();
    for (i, ((_, original), ([lon, lat], orientation, at))) in originals.iter().zip(&specs).enumerate() {
        let p = &evidence[i];
        assert_eq!(p["original_taken_at"], at.format("%Y-%m-%dT%H:%M:%S").to_string(), "{p:#}");
        assert_eq!(p["original_utc_offset_s"], 8 * 3600);
        assert_eq!(p["original_device"], "HUAWEI ELS-AN00");
        assert_eq!(p["original_direction_deg"], 135.5);
        let c = &p["original_location"]["coordinates"];
        assert!((c[0].as_f64().unwrap() - lon).abs() < 1e-6 && (c[1].as_f64().unwrap() - lat).abs() < 1e-6, "{c}");
        assert_eq!(p["original_bytes"], original.len());
        let (w, h) = if *orientation == 6 { (3000, 4000) } else { (4000, 3000) };
        assert_eq!((p["original_width"].as_i64(), p["original_height"].as_i64()), (Some(w), Some(h)));
    }
    assert_eq!(evidence[0]["evidence_flags"], json!([]));
    assert_eq!(evidence[2]["evidence_flags"], json!([{"code": "far_from_record", "distance_m": 6200.0}]));
    assert_eq!(result["flags"][2]["text"], json!(["拍摄地点距记录 6.2 公里"]), "{result:#}");
    assert_eq!(result["flags"][0]["text"], json!([]), "{result:#}");

    // With `require_original_photos` the phone keeps the photo as taken, still with its evidence.
    assert_eq!(result["original"]["same"], true, "{result:#}");
    assert_eq!(result["original"]["evidence"]["original_bytes"], originals[1].1.len(), "{result:#}");
    assert_eq!(result["original"]["evidence"]["device"], "HUAWEI ELS-AN00", "{result:#}");
    assert_eq!(result["queued"]["photo_evidence"][1], result["original"]["evidence"], "{result:#}");

    let before: usize = originals.iter().map(|(_, p)| p.len()).sum();
    let after: i32 = stored.iter().map(|s| s.3).sum();
    println!(
        "light uploads: three 12 MP photos, {before} bytes as taken, {after} bytes sent ({:.1} %) with {} bytes of \
         observation JSON; queued in {} ms with the CPU throttled 4×",
        f64::from(after) * 100.0 / before as f64,
        result["queued"]["json_bytes"],
        result["queue_ms"]
    );
}

/// A 12 MP camera-like JPEG (`seed` varies its content) with the EXIF a phone camera writes: make and model
/// (HUAWEI ELS-AN00), `orientation`, the time taken `at` (China time, `+08:00`), the GPS position `place` and
/// a direction of 135.5°.
fn exif_camera_photo(place: [f64; 2], orientation: u16, at: chrono::NaiveDateTime, seed: u32) -> Vec<u8> {
    common::with_exif(&common::camera_photo(4000, 3000, seed), &common::camera_exif(place, orientation, at))
}

/// Evidence photos from the site page (tests/e2e/evidence.mjs) go through the phone page's photos.js: a
/// 12 MP camera photo of the work, taken 6.2 km from the site, is stored at most 2048 px and 500 KB with what
/// its original's EXIF said, flagged as far from the site, and the site page shows the flag under it.
#[sqlx::test(migrations = "./migrations")]
async fn evidence_photos_from_the_site_page_are_resized_and_keep_their_originals_exif(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let here = [120.55, 31.87];
    let (site, _) = upload_site(&app, common::observation("intersection", json!(here)), &[]).await;
    let unit = common::add_organisation(&app.pool, "农村公路管理处", "responsible_unit", None).await;
    let office = Office::new(&app.pool, unit).await;
    office.bring_into_progress(&app, site).await;
    let officer = account(&app.pool, "wuzhenggai", "吴整改", &["unit_officer"], Some(unit)).await;
    let item: String = sqlx::query_scalar(
        "select i.item_code from site_checklist_item i join site s on s.id = i.site_id
         join checklist_template_item ti on ti.template_code = i.template_code and ti.code = i.item_code
         where i.site_id = $1 order by ti.position limit 1",
    )
    .bind(site)
    .fetch_one(&app.pool)
    .await
    .unwrap();

    let china = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let taken = (chrono::Utc::now().with_timezone(&china) - chrono::Duration::minutes(5)).naive_local();
    let original = exif_camera_photo(common::north_of(here, 6_200.0), 1, taken, 7);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("IMG_after.jpg");
    std::fs::write(&path, &original).unwrap();

    let base = common::serve(&app).await;
    let args = [base.as_str(), &site.to_string(), item.as_str(), path.to_str().unwrap()];
    let result = run_e2e("evidence.mjs", &args, &signs_in_as("E2E", &officer)).await;
    assert_eq!(result["flags"], json!(["拍摄地点距记录 6.2 公里"]), "{result:#}");

    let (width, height, bytes, device, original_bytes, taken_at, flags): (
        i32,
        i32,
        i32,
        Option<String>,
        Option<i64>,
        Option<chrono::NaiveDateTime>,
        Value,
    ) = sqlx::query_as(
        "select p.width, p.height, p.bytes, p.original_device, p.original_bytes, p.original_taken_at, p.evidence_flags
         from photo p join item_evidence e on e.id = p.evidence_id where e.site_id = $1",
    )
    .bind(site)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((width, height), (2048, 1536));
    assert!(bytes <= 500 * 1024, "{bytes} bytes");
    assert!(original.len() > 500 * 1024, "the original is {} bytes: it must need resizing", original.len());
    assert_eq!(device.as_deref(), Some("HUAWEI ELS-AN00"));
    assert_eq!(original_bytes, Some(original.len() as i64));
    assert_eq!(taken_at, Some(chrono::Timelike::with_nanosecond(&taken, 0).unwrap()));
    assert_eq!(flags, json!([{"code": "far_from_record", "distance_m": 6200.0}]));
}

/// The phone's EXIF reader (`readExif` of web/photos.js, run in Node) on what cameras write and on what they
/// should not: both byte orders, southern and western positions, a missing or malformed offset, an impossible
/// date, a zero denominator, (0, 0), a cut-short segment, directories pointing outside the file, and an
/// EXIF segment beyond the 128 KB read. Malformed parts are left out, never thrown.
#[tokio::test]
async fn the_phones_exif_reader_reads_what_cameras_write_and_ignores_what_is_malformed() {
    use exif::{Field, In, Rational, Tag, Value as ExifValue};

    let ascii = |s: &[u8]| ExifValue::Ascii(vec![s.to_vec()]);
    let field = |tag, value| Field { tag, ifd_num: In::PRIMARY, value };
    let dms = |d: u32, m: u32, s100: u32| {
        ExifValue::Rational(vec![Rational::from((d, 1)), Rational::from((m, 1)), Rational::from((s100, 100))])
    };
    let camera = |lat_ref: &[u8], lon_ref: &[u8], offset: &[u8], date: &[u8]| {
        vec![
            field(Tag::Make, ascii(b"Xiaomi")),
            field(Tag::Model, ascii(b"Xiaomi 13")),
            field(Tag::Orientation, ExifValue::Short(vec![8])),
            field(Tag::DateTimeOriginal, ascii(date)),
            field(Tag::OffsetTimeOriginal, ascii(offset)),
            field(Tag::GPSLatitudeRef, ascii(lat_ref)),
            field(Tag::GPSLatitude, dms(33, 30, 0)),
            field(Tag::GPSLongitudeRef, ascii(lon_ref)),
            field(Tag::GPSLongitude, dms(70, 15, 1800)),
            field(Tag::GPSImgDirection, ExifValue::Rational(vec![Rational::from((27_125, 100))])),
        ]
    };
    let plain = common::jpeg(64, 48);
    let be = common::with_exif_in(&plain, &camera(b"S", b"W", b"-04:00", b"2026:11:30 09:14:52"), false);
    let le = common::with_exif_in(&plain, &camera(b"N", b"E", b"+08:00", b"2026:11:30 09:14:52"), true);
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        ("be.jpg", be.clone()),
        ("le.jpg", le.clone()),
        ("bad_offset_and_date.jpg", common::with_exif(&plain, &camera(b"N", b"E", b"8:00", b"2026:02:30 09:14:52"))),
        (
            "zero_denominator_and_null_island.jpg",
            common::with_exif(
                &plain,
                &[
                    field(Tag::GPSLatitudeRef, ascii(b"N")),
                    field(Tag::GPSLatitude, ExifValue::Rational(vec![Rational::from((31, 0))])),
                    field(Tag::GPSLongitudeRef, ascii(b"E")),
                    field(Tag::GPSLongitude, dms(120, 0, 0)),
                    field(Tag::Model, ascii(b"ELS\x01-AN00")),
                ],
            ),
        ),
        (
            "null_island.jpg",
            common::with_exif(
                &plain,
                &[
                    field(Tag::GPSLatitudeRef, ascii(b"N")),
                    field(Tag::GPSLatitude, dms(0, 0, 0)),
                    field(Tag::GPSLongitudeRef, ascii(b"E")),
                    field(Tag::GPSLongitude, dms(0, 0, 0)),
                ],
            ),
        ),
        ("plain.jpg", plain.clone()),
        ("truncated.jpg", be[..40].to_vec()),
        ("not_a_jpeg.jpg", b"GIF89a and then some".to_vec()),
    ];
    // The first IFD claims 65 535 entries and the EXIF pointer points far outside the segment.
    let mut huge = le.clone();
    huge[20..22].copy_from_slice(&0xFFFFu16.to_le_bytes());
    files.push(("huge_count.jpg", huge));
    let mut outside = b"\xFF\xD8\xFF\xE1\x00\x16Exif\0\0MM\0\x2A\x7F\xFF\xFF\xFF\0\0".to_vec();
    outside.extend_from_slice(&plain[2..]);
    files.push(("ifd_outside.jpg", outside));
    // 130 KB of APP0 segments before the EXIF: the phone reads only the first 128 KB.
    let mut late = vec![0xFF, 0xD8];
    for _ in 0..2 {
        late.extend_from_slice(&[0xFF, 0xE0, 0xFF, 0xFF]);
        late.extend(std::iter::repeat_n(0u8, 0xFFFF - 2));
    }
    late.extend_from_slice(&le[2..]);
    files.push(("late_app1.jpg", late));

    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in &files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let result = run_e2e("exif.mjs", &[dir.path().to_str().unwrap()], &[]).await;
    let read = &result["files"];

    let camera_fields = |lon: f64, lat: f64, offset: &str| {
        json!({"orientation": 8, "device": "Xiaomi 13", "taken_at": "2026-11-30T09:14:52", "utc_offset": offset,
               "lon": lon, "lat": lat, "direction_deg": 271.25})
    };
    assert_eq!(read["be.jpg"], camera_fields(-70.255, -33.5, "-04:00"), "{result:#}");
    assert_eq!(read["le.jpg"], camera_fields(70.255, 33.5, "+08:00"), "{result:#}");
    // 30 February is no date, "8:00" no offset: both left out, the rest kept.
    assert_eq!(
        read["bad_offset_and_date.jpg"],
        json!({"orientation": 8, "device": "Xiaomi 13", "lon": 70.255, "lat": 33.5, "direction_deg": 271.25}),
        "{result:#}"
    );
    assert_eq!(read["zero_denominator_and_null_island.jpg"], json!({"device": "ELS-AN00"}), "{result:#}");
    for name in ["null_island.jpg", "plain.jpg", "truncated.jpg", "not_a_jpeg.jpg", "ifd_outside.jpg", "late_app1.jpg"]
    {
        assert_eq!(read[name], json!({}), "{name}: {result:#}");
    }
    assert!(read["huge_count.jpg"].get("error").is_none(), "{result:#}");
    assert_eq!(read["huge_count.jpg"]["taken_at"], "2026-11-30T09:14:52", "{result:#}");
}

/// Issue 10, a location to trust and no duplicate sites (`tests/e2e/place.mjs`, a 360 px phone): a repeat
/// visit 40 m from an open site is offered it and, chosen, joins it (no new site); a fix 40 s old is
/// confirmed before queueing and the observation carries the flag; a point moved on the small map is placed
/// by hand.
#[sqlx::test(migrations = "./migrations")]
async fn the_phone_offers_a_repeat_visit_and_asks_to_confirm_a_stale_fix(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let at = [120.553, 31.872];
    let (site_id, code) = upload_site(&app, common::observation("intersection", json!(at)), &[]).await;
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;

    let base = common::serve(&app).await;
    let args = [base.as_str(), &at[0].to_string(), &at[1].to_string(), code.as_str()];
    let result = run_e2e("place.mjs", &args, &signs_in_as("E2E", &inspector)).await;
    assert_eq!(result["repeat"]["chosen"], site_id.to_string());
    assert_eq!(result["repeat"]["site_match"], "joined");
    assert_eq!(result["stale"]["site_match"], "opened");

    // The page's observations, oldest first: the repeat visit named the site and joined it; the stale fix
    // was confirmed. One site was opened by the second only.
    let rows: Vec<(Uuid, Option<String>, bool)> = sqlx::query_as(
        "select site_id, location_source, location_confirmed from observation where user_id = $1 order by received_at",
    )
    .bind(inspector.id)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0], (site_id, Some("gps".into()), false));
    assert_ne!(rows[1].0, site_id);
    assert_eq!((rows[1].1.as_deref(), rows[1].2), (Some("gps"), true));
    assert_eq!((rows[2].1.as_deref(), rows[2].2), (Some("map"), false));
    assert_eq!(result["mapped"]["site_match"], "opened");
    assert!(result["mapped"]["drawn_offline"].as_u64().unwrap() > 0, "the small map draws kept tiles without signal");
    // The tap was east of the fix (3 km north of the site, same longitude): the stored point moved east.
    let (lon, accuracy): (f64, Option<f32>) = sqlx::query_as(
        "select st_x(geom), accuracy_m from observation where user_id = $1 and kind = 'intersection'
         order by received_at desc limit 1",
    )
    .bind(inspector.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(lon > at[0] + 0.000_1, "the point placed on the map is at {lon}");
    assert_eq!(accuracy, None, "a point placed by hand has no fix accuracy");
    // The track: start, corner, end (60 m north, then 70 m east); nothing from the coarse fix or the pause.
    assert_eq!(result["track"]["kept"], 14);
    let (points, length): (i32, f64) = sqlx::query_as(
        "select st_npoints(geom), st_length(geom::geography) from observation where user_id = $1 and kind = 'section'",
    )
    .bind(inspector.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(points, 3);
    assert!((length - 130.0).abs() < 1.0, "the track is {length} m long");
    assert_eq!(app.count("site").await, 4, "the repeat visit opened no site");
    let visits: i32 = sqlx::query_scalar("select observation_count from site where id = $1")
        .bind(site_id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(visits, 2);
}

/// Issue 10, the small map's town kept ahead of time (`tests/e2e/offlinemap.mjs`): an inspector of the city
/// office standing in the town's south-west gets the town's towns and roads tiles kept without opening the map
/// (the status line says how many; the signal lost after ten tiles stops the work, which finishes once it is
/// back, and kept again while an observation's upload is held, asks for no tile until the upload has gone);
/// offline, after a reload, the map moved to the town's north-east corner (9 km away, never drawn) draws the
/// town's boundary there; online again, browsing leaves the town's tiles in their own cache.
#[sqlx::test(migrations = "./migrations")]
async fn the_phone_keeps_its_towns_map_tiles_ahead_of_time_and_draws_them_offline(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let inspector = account(&app.pool, "wangfang", "王芳", &["inspector"], None).await;
    let base = common::serve(&app).await;
    let (here, far) = ([120.51, 31.85], [TOWN[2] - 0.003, TOWN[3] - 0.003]);
    let args = [base.as_str(), &here[0].to_string(), &here[1].to_string(), &far[0].to_string(), &far[1].to_string()];
    let result = run_e2e("offlinemap.mjs", &args, &signs_in_as("E2E", &inspector)).await;

    // Tile zooms 10–14 over the town's box, both layers: what towntiles.js counts.
    let tiles: usize = (10..=14)
        .map(|z| {
            let n = f64::from(1u32 << z);
            let x = |lon: f64| ((lon + 180.0) / 360.0 * n).floor() as i64;
            let y = |lat: f64| {
                let r = lat.to_radians();
                ((1.0 - (r.tan() + 1.0 / r.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor() as i64
            };
            ((x(TOWN[2]) - x(TOWN[0]) + 1) * (y(TOWN[1]) - y(TOWN[3]) + 1)) as usize
        })
        .sum();
    assert_eq!(result["kept"]["total"], 2 * tiles, "{result:#}");
    assert_eq!(result["kept"]["cached"], 2 * tiles, "{result:#}");
    assert!(result["drawn_far"].as_u64().unwrap() > 0, "{result:#}");
    assert_eq!(result["tiles_during_upload"], 0, "{result:#}");
    assert_eq!(result["browsing"]["shared"], 0, "{result:#}");
    let paused = result["paused"]["done"].as_u64().unwrap();
    assert!((10..2 * tiles as u64).contains(&paused), "stopped offline after {paused} tiles: {result:#}");
    println!(
        "offline base map: {} tiles, {} bytes kept for a town of {:.1} × {:.1} km",
        result["kept"]["total"],
        result["kept"]["bytes"],
        (TOWN[2] - TOWN[0]) * 111.32 * (31.87_f64).to_radians().cos(),
        (TOWN[3] - TOWN[1]) * 111.32
    );
}

/// GET `uri` with an API token and its answer as JSON; it must be a 200.
async fn get_json_as(app: &common::TestApp, token: &str, uri: &str) -> Value {
    let request = axum::http::Request::get(uri)
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = app.send(request).await;
    assert_eq!(answer.status, 200, "{uri}: {}", String::from_utf8_lossy(&answer.bytes));
    answer.json()
}

/// The demo account's password, by sign-in name (`demo::DEMO_ACCOUNTS`).
fn demo_signs_in_as(prefix: &str, name: &str) -> [(String, String); 2] {
    let (_, _, password) = roadledger::demo::DEMO_ACCOUNTS.iter().find(|(n, _, _)| *n == name).unwrap();
    [(format!("{prefix}_USER"), name.to_string()), (format!("{prefix}_PASSWORD"), password.to_string())]
}

/// The reports page over the demo county (months of history up to today): a leader reads last month's
/// bulletin with its charts and town table, follows a town's overdue number to exactly those sites on the map,
/// publishes the bulletin and then a correction of it; the town officer reads both under 已发布. The numbers
/// the page must show are the API's own, read here first.
#[sqlx::test(migrations = "./migrations")]
async fn reports_page_links_a_bulletins_numbers_to_the_map_and_publishes_it_with_a_correction(pool: PgPool) {
    use roadledger::domain::report::{Period, PeriodKind};

    let app = common::app(pool.clone()).await;
    let photos = roadledger::photos::PhotoStore::local(app.photo_dir.path()).unwrap();
    roadledger::demo::load_if_empty(&pool, &photos).await.unwrap();
    let city = common::organisation(&pool, "city_office").await;
    let reader = common::token_for(&pool, "report.reader", "读报表", "leader", city).await;

    let today = roadledger::domain::lifecycle::china_date(chrono::Utc::now());
    let month = Period::last_complete(PeriodKind::Month, today);
    let quarter = Period::containing(PeriodKind::Quarter, today);
    let report = get_json_as(&app, &reader, &format!("/api/v1/reports/monthly?period={}", month.code())).await;
    let towns = report["towns"].as_array().unwrap();
    // The town with the most sites overdue at the month's end: its number is the one followed to the map.
    let town = towns
        .iter()
        .filter(|t| t["code"].is_string())
        .max_by_key(|t| (t["figures"]["overdue"].as_i64().unwrap(), std::cmp::Reverse(t["code"].as_str().unwrap())))
        .unwrap();
    let town_overdue = town["figures"]["overdue"].as_i64().unwrap();
    assert!(town_overdue > 0, "the demo should leave sites overdue at the end of {}: {report:#}", month.code());
    let totals: serde_json::Map<String, Value> =
        ["found", "dispatched", "closed", "overdue", "open", "returned", "relapsed"]
            .into_iter()
            .map(|f| (f.to_string(), report["totals"][f].clone()))
            .collect();
    let ranking = get_json_as(&app, &reader, &format!("/api/v1/rankings/{}", quarter.code())).await;
    let note = "11月通报，请各区镇对照整改";
    let correction = "更正：塘桥镇逾期数以本版为准";
    let expectations = json!({
        "period": month.code(),
        "period_title": month.title_zh(),
        "towns": towns.len(),
        "totals": totals,
        "town": {"code": town["code"], "name": town["name"], "overdue": town_overdue},
        "quarter": quarter.code(),
        "towns_ranked": ranking["towns"].as_array().unwrap().len(),
        "note": note,
        "correction": correction,
    });

    let base = common::serve(&app).await;
    let env: Vec<_> =
        demo_signs_in_as("E2E", "demo-leader").into_iter().chain(demo_signs_in_as("E2E_TOWN", "demo-town")).collect();
    let result = run_e2e("reports.mjs", &[&base, &expectations.to_string()], &env).await;

    assert_eq!(result["map_total"], town_overdue);
    assert_eq!(result["leader_tabs"], json!(["overview", "weekly", "monthly", "ranking", "published"]));
    // Stored: version 1 with the note, and version 2 correcting it, both of that month.
    let published = get_json_as(&app, &reader, "/api/v1/publications?kind=monthly").await;
    let ours: Vec<&Value> =
        published.as_array().unwrap().iter().filter(|p| p["period"] == json!(month.code())).collect();
    assert_eq!(ours.len(), 2, "{published:#}");
    let v1 = ours.iter().find(|p| p["version"] == 1).unwrap();
    let v2 = ours.iter().find(|p| p["version"] == 2).unwrap();
    assert_eq!((v1["note"].as_str(), v1["corrects"].is_null()), (Some(note), true));
    assert_eq!((v2["note"].as_str(), &v2["corrects"]), (Some(correction), &v1["id"]));
    // The stored copy holds the figures the page showed.
    let v2_id = match &v2["id"] {
        Value::String(id) => id.clone(),
        other => other.to_string(),
    };
    let copy = get_json_as(&app, &reader, &format!("/api/v1/publications/{v2_id}")).await;
    for (figure, value) in &totals {
        assert_eq!(&copy["body"]["totals"][figure], value, "{figure}");
    }
}

/// The crash time patterns page over hand-made crashes (`crash_patterns::world`): a dispatcher reads the
/// county's 2025 with the server's four charts and the over-represented periods in words, narrows it to a
/// town, then opens one candidate's crashes and its sheet as a PDF.
#[sqlx::test(migrations = "./migrations")]
async fn patterns_page_shows_the_county_and_a_candidates_charts(pool: PgPool) {
    let w = crate::crash_patterns::world(pool).await;
    let base = common::serve(&w.app).await;
    let env = [
        ("E2E_USER".to_string(), "disp".to_string()),
        ("E2E_PASSWORD".to_string(), common::DEFAULT_PASSWORD.to_string()),
    ];
    let candidate = w.candidate.to_string();
    let result = run_e2e("patterns.mjs", &[&base, &candidate, crate::crash_patterns::TANGQIAO_CODE], &env).await;

    assert_eq!(
        result["county_summary"],
        "统计期 2025-01-01 至 2025-12-31（365 天），共 7 起事故，死亡 1 人，受伤 4 人。"
    );
    let charts = result["charts"].as_array().unwrap();
    let ids: Vec<&str> = charts.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["chart-hours", "chart-weekdays", "chart-months", "chart-periods"]);
    assert!(charts.iter().all(|c| c["svg"] == true && c["scripts"] == 0), "{result:#}");
    // Bars: 24 hours, 7 weekdays, 12 months; the periods chart has its legend's 3 swatches and 2 bars a period.
    let rects: Vec<i64> = charts.iter().map(|c| c["rects"].as_i64().unwrap()).collect();
    assert_eq!(rects, [24, 7, 12, 3 + 2 * 10]);
    assert_eq!(
        result["over"],
        json!(["三秋农忙期间占统计期 13% 的天数，发生 43% 的事故", "寒暑假期间占统计期 24% 的天数，发生 43% 的事故"])
    );
    assert_eq!(result["period_rows"], 10);
    assert_eq!(result["filter_visible"], true);
    assert_eq!(
        result["town_summary"],
        "统计期 2025-01-01 至 2025-12-31（365 天），共 1 起事故，死亡 0 人，受伤 2 人。"
    );
    assert_eq!(result["town_in_address"], crate::crash_patterns::TANGQIAO_CODE);
    assert_eq!(
        result["candidate_summary"],
        "统计期 2025-01-01 至 2025-12-31（365 天），共 3 起事故，死亡 1 人，受伤 1 人。"
    );
    assert!(result["candidate_scope"].as_str().unwrap().contains(&format!("#{candidate}")), "{result:#}");
    assert_eq!(result["candidate_filter_visible"], false);
    assert_eq!(result["candidate_charts"], 4);
    assert_eq!(result["pdf_href"], format!("/api/v1/candidates/{candidate}/sheet.pdf"));
    assert_eq!((result["pdf_status"].as_i64(), result["pdf_type"].as_str()), (Some(200), Some("application/pdf")));
    assert_eq!(result["pdf_magic"], "%PDF-");
}

/// The screening page (事故多发点段筛查): a dispatcher runs a density clustering from the form, with the county's
/// defaults filled in and ε changed, over four crashes in a field and one far away, and sees the one candidate
/// ranked with its four crashes and a link to the map centred on it.
#[sqlx::test(migrations = "./migrations")]
async fn screening_page_runs_a_method_and_links_its_candidates_to_the_map(pool: PgPool) {
    let app = common::app(pool.clone()).await;
    app.add_town("320582100", "杨舍镇", [120.45, 31.85, 120.60, 31.95]).await;
    let office = common::organisation(&pool, "city_office").await;
    common::create_user(&pool, "dispatcher1", "调度员", &["dispatcher"], office, common::DEFAULT_PASSWORD).await;
    for (n, (lon, lat)) in
        [(120.525, 31.905), (120.5252, 31.905), (120.525, 31.9052), (120.5252, 31.9052), (120.58, 31.94)]
            .into_iter()
            .enumerate()
    {
        sqlx::query(
            "insert into crash (source_key, occurred_at, geom, located_by, crash_type)
             values ($1, '2025-06-01 10:00+08', st_setsrid(st_makepoint($2, $3), 4326), 'coordinates', 'pedestrian')",
        )
        .bind(format!("no:E2E{n}"))
        .bind(lon)
        .bind(lat)
        .execute(&pool)
        .await
        .unwrap();
    }
    let base = common::serve(&app).await;
    let env = [
        ("E2E_USER".to_string(), "dispatcher1".to_string()),
        ("E2E_PASSWORD".to_string(), common::DEFAULT_PASSWORD.to_string()),
    ];
    let expectations = json!({"eps_m": 50, "candidates": 1, "crash_count": 4, "centre": [120.5251, 31.9051]});
    let result = run_e2e("screenings.mjs", &[&base, &expectations.to_string()], &env).await;
    assert_eq!(result["rows"].as_array().unwrap().len(), 1, "{result}");
    // The run the page started is stored with the ε it was given and the other defaults.
    let parameters: Value = sqlx::query_scalar("select parameters from screening_run").fetch_one(&pool).await.unwrap();
    assert_eq!((parameters["eps_m"].as_f64(), parameters["min_points"].as_i64()), (Some(50.0), Some(3)));
}

/// The candidates queue (issue 12): a dispatcher dismisses a drone detection with a reason and confirms a
/// black spot into the ledger, then opens its site, which shows the crashes behind it.
#[sqlx::test(migrations = "./migrations")]
async fn candidates_queue_dismisses_a_detection_and_confirms_a_black_spot_into_a_site(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let dispatcher = account(&app.pool, "zhao.diao", "赵调度", &["dispatcher"], None).await;
    let city = common::organisation(&app.pool, "city_office").await;
    let drone = common::token_for(&app.pool, "drone.1", "无人机巡检", "detector", city).await;

    // A drone detection with its image, sent as the drone system sends it.
    let image = common::jpeg(320, 240);
    let detection = json!({
        "id": Uuid::new_v4(), "platform": "drone", "detected_at": chrono::Utc::now().to_rfc3339(),
        "lon": 120.56, "lat": 31.86, "label": "pothole", "confidence": 0.8,
    });
    let boundary = "e2e-detection";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"detection\"\r\n\r\n{detection}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"d.jpg\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&image);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let sent = app
        .send(
            axum::http::Request::post("/api/v1/detections")
                .header("authorization", format!("Bearer {drone}"))
                .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                .body(axum::body::Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", String::from_utf8_lossy(&sent.bytes));
    let detection_candidate = sent.json()["candidate"]["id"].as_i64().unwrap();

    // A black spot of a screening run, with three crashes (one fatal), as the screening writes it.
    let black_spot: i64 = sqlx::query_scalar(
        "with run as (
             insert into screening_run (method, parameters, window_start, window_end, run_by, crashes_read,
                 inputs_sha256, candidates, elapsed_ms)
             values ('junction', '{}', '2023-01-01', '2026-01-01', 'e2e', 3, sha256('e2e'), 1, 1) returning id)
         insert into candidate (source, screening_run_id, kind, geom, town_id, score, rank, crash_count, deaths,
             injuries, dominant_crash_type, dominant_time_band)
         select 'crash_analysis', run.id, 'intersection', st_setsrid(st_makepoint(120.55, 31.87), 4326),
             (select id from town limit 1), 3, 1, 3, 1, 2, 'angle', 'evening_peak'
         from run returning id",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    for (i, (time, deaths)) in
        [("2025-01-10T18:10:00+08:00", 1), ("2025-04-02T17:40:00+08:00", 0), ("2025-08-20T07:30:00+08:00", 0)]
            .into_iter()
            .enumerate()
    {
        sqlx::query(
            "with c as (insert into crash (source_key, occurred_at, geom, located_by, deaths, slight_injuries,
                     crash_type)
                 values ($1, $2::timestamptz, st_setsrid(st_makepoint(120.55, 31.87), 4326), 'coordinates', $3, 1,
                     'angle') returning id)
             insert into candidate_crash (candidate_id, crash_id) select $4, id from c",
        )
        .bind(format!("no:E2E-{i}"))
        .bind(time)
        .bind(deaths as i16)
        .bind(black_spot)
        .execute(&app.pool)
        .await
        .unwrap();
    }

    let reason = "现场核查：坑槽已由养护站修补";
    let config = json!({ "black_spot": black_spot, "detection": detection_candidate, "reason": reason });
    let base = common::serve(&app).await;
    let result = run_e2e("candidates.mjs", &[&base, &config.to_string()], &signs_in_as("E2E", &dispatcher)).await;

    let decided: Vec<(i64, String, Option<String>, Option<Uuid>)> =
        sqlx::query_as("select id, status, reason, site_id from candidate order by id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    let site = decided.iter().find(|c| c.0 == black_spot).unwrap();
    assert_eq!(site.1, "confirmed");
    let dismissed = decided.iter().find(|c| c.0 == detection_candidate).unwrap();
    assert_eq!((dismissed.1.as_str(), dismissed.2.as_deref()), ("dismissed", Some(reason)));
    let (code, source): (String, String) = sqlx::query_as("select code, source from site where id = $1")
        .bind(site.3.unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(source, "crash_analysis");
    assert_eq!(result["site_code"], code.as_str());
    assert!(result["site_url"].as_str().unwrap().ends_with(&format!("/site.html?id={}", site.3.unwrap())));
}

/// The 事故数据 page: a dispatcher's dry run shows the report in Chinese and stores nothing; the import then
/// stores the placeable rows and none of the personal column's values.
#[sqlx::test(migrations = "./migrations")]
async fn crashes_page_imports_a_police_export(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let dispatcher = account(&app.pool, "chenjing", "陈静", &["dispatcher"], None).await;
    let base = common::serve(&app).await;
    let result = run_e2e("crashes.mjs", &[&base], &signs_in_as("E2E", &dispatcher)).await;
    assert_eq!(result["imported"], 2);

    let stored: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "select c.record_no, c.severity, t.name from crash c left join town t on t.id = c.town_id order by c.record_no",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        [("B1".into(), "injury".into(), Some("杨舍镇".into())), ("B2".into(), "fatal".into(), Some("杨舍镇".into()))]
    );
    let imports: Vec<(String, String, i32, Vec<String>)> =
        sqlx::query_as("select file_name, imported_by, rows_refused, dropped_columns from crash_import")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(imports, [("事故数据.csv".into(), "陈静".into(), 1, vec!["当事人姓名".to_string()])]);
    let leaked: i64 =
        sqlx::query_scalar("select count(*) from crash c where c::text like '%张三%' or c::text like '%李四%'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(leaked, 0);
}

/// The public reports queue (issue 13): a dispatcher finds a waiting report on the map's layer, accepts it
/// from the queue page as a new site and opens the site, which lists the report behind it.
#[sqlx::test(migrations = "./migrations")]
async fn public_reports_queue_accepts_a_citizen_report_into_a_site(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let dispatcher = account(&app.pool, "zhao.diao", "赵调度", &["dispatcher"], None).await;
    let files = crate::moderation::photo_files(&app, 0).await;
    let mut report = crate::moderation::citizen("pavement", Some([120.55, 31.87]));
    report.photos = vec![files.row.clone()];
    let (id, _) = crate::moderation::store(&app, &report).await;

    let config = json!({ "report": id, "phone": "13812345678", "at": [120.55, 31.87] });
    let base = common::serve(&app).await;
    let result = run_e2e("moderation.mjs", &[&base, &config.to_string()], &signs_in_as("E2E", &dispatcher)).await;

    let (status, site, public_reason): (String, Option<Uuid>, Option<String>) =
        sqlx::query_as("select status, site_id, public_reason from public_report where id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(status, "accepted");
    assert_eq!(public_reason.as_deref(), Some("已受理，转属地整改"));
    let (code, source): (String, String) = sqlx::query_as("select code, source from site where id = $1")
        .bind(site.unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(source, "citizen_photo");
    assert_eq!(result["site_code"], code.as_str());
}

#[sqlx::test(migrations = "./migrations")]
async fn hotline_page_enters_a_ticket(pool: PgPool) {
    let app = common::app(pool).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let operator = account(&app.pool, "rexian", "王热线", &["hotline"], None).await;
    let base = common::serve(&app).await;
    let result = run_e2e("hotline.mjs", &[&base], &signs_in_as("E2E", &operator)).await;
    assert!(result["tracking"].as_str().unwrap().starts_with("/track.html#"), "{result}");

    // Number, category, description, address, phone, placed.
    type Stored = (String, String, String, Option<String>, Option<String>, bool);
    let stored: Vec<Stored> = sqlx::query_as(
        "select ticket_no, category, description, address_text, contact_phone, geom is not null
         from public_report where channel = 'hotline' order by ticket_no",
    )
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        stored,
        [
            (
                "E2E-20261207-0001".into(),
                "lighting".into(),
                "村口路灯不亮，夜里看不清路口".into(),
                Some("杨舍镇东街村村口".into()),
                Some("13812345678".into()),
                true
            ),
            (
                "E2E-CSV-1".into(),
                "school_zone".into(),
                "学校门口没有减速带".into(),
                Some("杨舍镇实验小学".into()),
                None,
                false
            )
        ]
    );
    assert_eq!(result["stored"], 1);
    let entered_by: Vec<String> =
        sqlx::query_scalar("select distinct entered_by from public_report").fetch_all(&app.pool).await.unwrap();
    assert_eq!(entered_by, ["王热线"]);
}

/// The public report page on a phone, without an account (tests/e2e/report.mjs): a report with two photos
/// sent with no cookie and no token, its tracking link followed to the status; here, the stored report and
/// its metadata-free public copies.
#[sqlx::test(migrations = "./migrations")]
async fn a_citizen_reports_a_hazard_with_photos_and_follows_the_tracking_link(pool: PgPool) {
    // A GCJ-02 base map (AMap-like) whose tiles are never fetched successfully: the map still takes a tap.
    let base_map = roadledger::http::settings::CustomBaseMap {
        name: "测试底图".into(),
        tiles: vec!["http://127.0.0.1:9/{z}/{x}/{y}.png".into()],
        crs: roadledger::domain::coords::SourceCrs::Gcj02,
    };
    let settings = roadledger::http::Settings { base_maps: vec![base_map], ..Default::default() };
    let app = common::app_with(pool, settings).await;
    app.add_town("320582100", "杨舍镇", TOWN).await;
    let dir = tempfile::tempdir().unwrap();
    let spec = common::ExifSpec {
        lon: 120.5512,
        lat: 31.8721,
        direction_deg: 45.0,
        taken_at: "2026:12:06 16:20:00",
        orientation: 1,
    };
    let paths: Vec<PathBuf> = (0..2)
        .map(|i| {
            let path = dir.path().join(format!("护栏{i}.jpg"));
            std::fs::write(&path, common::jpeg_with_exif(1600 + i * 10, 1200, &spec)).unwrap();
            path
        })
        .collect();
    let base = common::serve(&app).await;
    let args = [base.as_str(), paths[0].to_str().unwrap(), paths[1].to_str().unwrap()];
    let result = run_e2e("report.mjs", &args, &[]).await;
    let token = result["tracking_url"].as_str().unwrap().trim_start_matches("/track.html#").to_string();

    let (category, description, phone, lon, lat): (String, String, Option<String>, f64, f64) = sqlx::query_as(
        "select category, description, contact_phone, st_x(geom), st_y(geom)
         from public_report where tracking_token = $1 and channel = 'citizen' and status = 'received'",
    )
    .bind(&token)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(category, "barrier");
    assert_eq!(description, "村口护栏被撞断，晚上看不清");
    assert_eq!(phone.as_deref(), Some("13900001111"));
    assert!((lon - 120.5512).abs() < 1e-7 && (lat - 31.8721).abs() < 1e-7, "the phone's fix: {lon}, {lat}");
    // What each original's EXIF said, read on the phone and sent beside the photo as evidence: longitude,
    // latitude, the camera's time, the original's width.
    type Evidence = (Option<f64>, Option<f64>, Option<String>, Option<i32>);
    let evidence: Vec<Evidence> = sqlx::query_as(
        "select st_x(original_location), st_y(original_location), original_taken_at::text, original_width
         from public_report_photo
         where report_id = (select id from public_report where tracking_token = $1) order by position",
    )
    .bind(&token)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(evidence.len(), 2);
    for (i, (lon, lat, taken, width)) in evidence.into_iter().enumerate() {
        assert!((lon.unwrap() - 120.5512).abs() < 1e-6 && (lat.unwrap() - 31.8721).abs() < 1e-6, "photo {i}");
        assert_eq!(taken.as_deref(), Some("2026-12-06 16:20:00"));
        assert_eq!(width, Some(1600 + i as i32 * 10));
    }
    let keys: Vec<String> = sqlx::query_scalar(
        "select public_key from public_report_photo
         where report_id = (select id from public_report where tracking_token = $1) order by position",
    )
    .bind(&token)
    .fetch_all(&app.pool)
    .await
    .unwrap();
    assert_eq!(keys.len(), 2);
    let store = roadledger::photos::PhotoStore::local(app.photo_dir.path()).unwrap();
    for key in keys {
        assert!(!roadledger::photos::public::has_metadata(&store.get(&key).await.unwrap()));
    }

    // Placed on the map: opened at the phone's fix shifted onto the GCJ-02 map, tapped in its middle, sent as
    // GCJ-02 and stored converted back, so it lands where the phone was (within the formula's centimetres).
    let map_token = result["map_tracking_url"].as_str().unwrap().trim_start_matches("/track.html#").to_string();
    let (crs, category, lon, lat): (String, String, f64, f64) = sqlx::query_as(
        "select source_crs, category, st_x(geom), st_y(geom) from public_report where tracking_token = $1",
    )
    .bind(&map_token)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!((crs.as_str(), category.as_str()), ("gcj02", "intersection"));
    let off_m = roadledger::domain::coords::distance_m(lon, lat, 120.5512, 31.8721);
    assert!(off_m < 10.0, "the tap in the middle of the map is {off_m} m from the fix");
}
