//! What an operator watches: `/metrics` (on its own router, never the application's), request ids in
//! `X-Request-Id` and in the log lines, and `/readyz` with the database or the photo store gone.
//!
//! The metrics are process-wide; nextest runs every test in a process of its own, and each test here
//! compares a scrape after its requests with one before, so only what the test sent is counted.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use common::{app, jpeg, observation};
use http_body_util::BodyExt;
use roadledger::http::{AppState, Settings};
use roadledger::photos::PhotoStore;
use serde_json::Value;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tower::ServiceExt;

/// One scrape of `/metrics`: every sample as `name{labels}` → value.
struct Scrape {
    text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn value(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }
}

async fn scrape(metrics: &Router) -> Scrape {
    let response = metrics.clone().oneshot(Request::get("/metrics").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    let samples = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {l}"));
            (series.to_string(), value.parse::<f64>().unwrap_or_else(|_| panic!("not a number: {l}")))
        })
        .collect();
    Scrape { text, samples }
}

fn requests(route: &str, method: &str, class: &str) -> String {
    format!("roadledger_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{class}\"}}")
}

#[sqlx::test(migrations = "./migrations")]
async fn metrics_count_requests_by_route_template_with_latency_uploads_and_the_pool(pool: PgPool) {
    let app = app(pool.clone()).await;
    let metrics = roadledger::http::metrics::router(pool.clone());
    let photo = jpeg(640, 480);
    let recorded = app.upload(&observation("intersection", serde_json::json!([120.55, 31.87])), &[&photo]).await;
    assert_eq!(recorded.status, 201, "{}", String::from_utf8_lossy(&recorded.bytes));
    let site = recorded.json()["site"]["id"].as_str().unwrap().to_string();
    let before = scrape(&metrics).await;

    // Act: one more upload, two reads of the site, one of a site that does not exist, three reference reads.
    let second = app.upload(&observation("intersection", serde_json::json!([120.60, 31.88])), &[&photo]).await;
    assert_eq!(second.status, 201);
    for _ in 0..2 {
        assert_eq!(app.get(&format!("/api/v1/sites/{site}")).await.status, 200);
    }
    let missing = uuid::Uuid::new_v4();
    assert_eq!(app.get(&format!("/api/v1/sites/{missing}")).await.status, 404);
    for _ in 0..3 {
        assert_eq!(app.get("/api/v1/hazard-types").await.status, 200);
    }
    let after = scrape(&metrics).await;

    // Counted by the route's template, never its path: no site id appears in any label.
    let grew = |series: &str| after.value(series) - before.value(series);
    assert_eq!(grew(&requests("/api/v1/sites/{id}", "GET", "2xx")), 2.0, "{}", after.text);
    assert_eq!(grew(&requests("/api/v1/sites/{id}", "GET", "4xx")), 1.0);
    assert_eq!(grew(&requests("/api/v1/hazard-types", "GET", "2xx")), 3.0);
    assert_eq!(grew(&requests("/api/v1/observations", "POST", "2xx")), 1.0);
    assert!(!after.text.contains(&site) && !after.text.contains(&missing.to_string()));

    // The latency histogram of the route: cumulative buckets ending in +Inf, equal to the count.
    let route = "route=\"/api/v1/sites/{id}\"";
    let bucket = |le: &str| format!("roadledger_http_request_duration_seconds_bucket{{{route},le=\"{le}\"}}");
    let bounds = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"];
    let counts: Vec<f64> = bounds.iter().map(|le| after.value(&bucket(le))).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "buckets are cumulative: {counts:?}");
    assert_eq!(grew(&bucket("+Inf")), 3.0);
    assert_eq!(grew(&format!("roadledger_http_request_duration_seconds_count{{{route}}}")), 3.0);
    assert!(grew(&format!("roadledger_http_request_duration_seconds_sum{{{route}}}")) > 0.0);

    // The upload's body as read (its JSON part and its photo) and its photo's processing.
    assert_eq!(grew("roadledger_upload_bytes_count{kind=\"observation\"}"), 1.0);
    let body_bytes = grew("roadledger_upload_bytes_sum{kind=\"observation\"}");
    assert!(body_bytes > photo.len() as f64 && body_bytes < photo.len() as f64 + 4096.0, "{body_bytes}");
    assert_eq!(grew("roadledger_upload_bytes_count{kind=\"evidence\"}"), 0.0);
    assert_eq!(grew("roadledger_photo_process_seconds_count"), 1.0);
    assert_eq!(after.value("roadledger_photo_process_seconds_bucket{le=\"+Inf\"}"), 2.0);

    // The pool as it is now, and the queues idle.
    let size = after.value("roadledger_db_pool_connections");
    assert!(size >= 1.0 && after.value("roadledger_db_pool_idle_connections") <= size);
    assert_eq!(after.value("roadledger_db_pool_max_connections"), f64::from(pool.options().get_max_connections()));
    for (queue, slots) in [("pdf_render", 2.0), ("ledger_export", 4.0), ("site_export", 4.0)] {
        assert_eq!(after.value(&format!("roadledger_queue_slots{{queue=\"{queue}\"}}")), slots);
        assert_eq!(after.value(&format!("roadledger_queue_slots_in_use{{queue=\"{queue}\"}}")), 0.0);
        assert_eq!(after.value(&format!("roadledger_queue_waiting{{queue=\"{queue}\"}}")), 0.0);
    }
    // The upload buffers (KiB slots, a quarter of memory by default): none held once the upload is answered.
    let kib = (roadledger::http::limits::default_upload_buffer_bytes() / 1024) as f64;
    assert_eq!(after.value("roadledger_queue_slots{queue=\"upload_buffer\"}"), kib);
    assert_eq!(after.value("roadledger_queue_slots_in_use{queue=\"upload_buffer\"}"), 0.0);
    assert_eq!(after.value("roadledger_upload_buffered_bytes"), 0.0);
    // Every sample's metric has its HELP and TYPE.
    for series in after.samples.keys() {
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
        let family = if after.text.contains(&format!("# TYPE {name} ")) { name } else { family };
        assert!(after.text.contains(&format!("# TYPE {family} ")), "no TYPE for {series}");
        assert!(after.text.contains(&format!("# HELP {family} ")), "no HELP for {series}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn pages_and_unknown_paths_share_one_label(pool: PgPool) {
    let app = app(pool.clone()).await;
    let metrics = roadledger::http::metrics::router(pool);
    let before = scrape(&metrics).await;

    for path in ["/index.html", "/no-such-page-1", "/no-such-page-2", "/api/v1/no-such-route"] {
        app.get(path).await;
    }
    let after = scrape(&metrics).await;

    let fallback = |class| {
        after.value(&requests("(fallback)", "GET", class)) - before.value(&requests("(fallback)", "GET", class))
    };
    assert_eq!((fallback("2xx"), fallback("4xx")), (1.0, 3.0), "{}", after.text);
    assert!(!after.text.contains("no-such"));
}

#[sqlx::test(migrations = "./migrations")]
async fn background_jobs_report_their_runs_and_last_success(pool: PgPool) {
    let app = app(pool.clone()).await;
    let metrics = roadledger::http::metrics::router(pool.clone());
    let state = AppState {
        pool: pool.clone(),
        replica: None,
        photos: PhotoStore::local(app.photo_dir.path()).unwrap(),
        settings: Arc::new(Settings::default()),
    };
    let started_s = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as f64;

    // The schedule runs at once, then every minute; the first tile request prunes the map change log.
    roadledger::http::reports::spawn_schedule(state);
    assert_eq!(app.get("/tiles/towns/10/857/418.mvt").await.status, 200);

    let deadline = Instant::now() + Duration::from_secs(20);
    let done = loop {
        let now = scrape(&metrics).await;
        let runs = |job: &str| now.value(&format!("roadledger_job_runs_total{{job=\"{job}\"}}"));
        if ["report_schedule", "tile_change_prune", "site_cell_compact"].iter().all(|j| runs(j) >= 1.0) {
            break now;
        }
        assert!(Instant::now() < deadline, "the jobs did not run: {}", now.text);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for job in ["report_schedule", "tile_change_prune", "site_cell_compact"] {
        assert_eq!(done.value(&format!("roadledger_job_runs_total{{job=\"{job}\"}}")), 1.0, "{job}");
        assert_eq!(done.value(&format!("roadledger_job_failures_total{{job=\"{job}\"}}")), 0.0, "{job}");
        let last = done.value(&format!("roadledger_job_last_success_timestamp_seconds{{job=\"{job}\"}}"));
        assert!(last >= started_s && last <= started_s + 30.0, "{job}: {last}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn metrics_are_not_served_on_the_application(pool: PgPool) {
    let app = app(pool).await;

    let signed_in = app.get("/metrics").await;
    let anonymous = app.send_as_is(Request::get("/metrics").body(Body::empty()).unwrap()).await;

    assert_eq!(signed_in.status, 404);
    assert_eq!(anonymous.status, 404);
    for answer in [&signed_in, &anonymous] {
        assert!(!String::from_utf8_lossy(&answer.bytes).contains("roadledger_http_requests_total"));
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn every_answer_carries_a_request_id_given_or_made(pool: PgPool) {
    let app = app(pool).await;
    let with_id =
        |id: &str| Request::get("/api/v1/hazard-types").header("x-request-id", id).body(Body::empty()).unwrap();

    let given = app.send(with_id("phone-7f3a.retry_2")).await;
    let made = app.get("/api/v1/hazard-types").await;
    let made_again = app.get("/no-such-page").await;
    let too_long = app.send(with_id(&"a".repeat(65))).await;
    let odd = app.send(with_id("x\"; drop table site")).await;
    let just_long_enough = app.send(with_id(&"b".repeat(64))).await;

    let id = |answer: &common::Answer| answer.headers["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id(&given), "phone-7f3a.retry_2");
    assert_eq!(id(&just_long_enough), "b".repeat(64));
    let generated = [id(&made), id(&made_again), id(&too_long), id(&odd)];
    for made in &generated {
        assert_eq!(made.len(), 32, "{made}");
        assert!(made.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
    }
    let distinct: std::collections::BTreeSet<_> = generated.iter().collect();
    assert_eq!(distinct.len(), 4);
}

/// Log lines written to memory, for reading back.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn a_server_error_is_logged_with_its_request_id(pool: PgPool) {
    let app = app(pool.clone()).await;
    // The same filter as `roadledger serve` by default, but warnings only: the request's span still shows.
    let logs = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_ansi(false)
        .with_env_filter("roadledger=warn")
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // A table the handler reads is gone: a 500, which the error type logs.
    sqlx::query("drop table hazard_type cascade").execute(&pool).await.unwrap();

    let failed = app
        .send(Request::get("/api/v1/hazard-types").header("x-request-id", "trace-500-abc").body(Body::empty()).unwrap())
        .await;

    assert_eq!(failed.status, 500);
    assert_eq!(failed.headers["x-request-id"], "trace-500-abc");
    let logs = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let line = logs.lines().find(|l| l.contains("request failed")).unwrap_or_else(|| panic!("no error logged: {logs}"));
    assert!(line.contains("request_id=trace-500-abc"), "{line}");
    assert!(line.contains("route=/api/v1/hazard-types"), "{line}");
}

async fn readyz(router: &Router) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = router.clone().oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    let took = started.elapsed();
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    (status, body, took)
}

fn router_with(pool: PgPool, photo_dir: &std::path::Path) -> Router {
    let settings =
        Settings { web_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web"), ..Default::default() };
    roadledger::http::router(AppState {
        pool,
        replica: None,
        photos: PhotoStore::local(photo_dir).unwrap(),
        settings: Arc::new(settings),
    })
}

#[sqlx::test(migrations = "./migrations")]
async fn ready_when_the_database_and_the_photo_store_answer(pool: PgPool) {
    let app = app(pool).await;

    let (status, body, _) = readyz(&app.router).await;

    assert_eq!(status, 200);
    assert_eq!(
        body,
        serde_json::json!({ "status": "ok", "database": "ok", "photo_store": "ok", "replica": "not configured" })
    );
}

#[tokio::test]
async fn not_ready_while_the_database_is_unreachable() {
    let photo_dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1: every connection is refused at once.
    let refused = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(3))
        .connect_lazy("postgres://roadledger@127.0.0.1:1/roadledger")
        .unwrap();
    // A server that takes the connection and never answers: only the deadline ends the probe.
    let silent_server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(30))
        .connect_lazy(&format!("postgres://roadledger@{}/roadledger", silent_server.local_addr().unwrap()))
        .unwrap();

    for pool in [refused, silent] {
        let (status, body, took) = readyz(&router_with(pool, photo_dir.path())).await;

        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["database"], "no answer to select 1 within 1000 ms");
        assert_eq!(body["photo_store"], "ok");
        assert!(took < Duration::from_millis(1900), "{took:?}");
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn not_ready_when_the_photo_directory_is_gone_or_not_a_directory(pool: PgPool) {
    let root = tempfile::tempdir().unwrap();
    let photo_dir = root.path().join("photos");
    let router = router_with(pool, &photo_dir);
    assert_eq!(readyz(&router).await.0, 200);

    std::fs::remove_dir_all(&photo_dir).unwrap();
    let (gone, gone_body, _) = readyz(&router).await;
    std::fs::write(&photo_dir, b"not a directory").unwrap();
    let (file, file_body, _) = readyz(&router).await;

    for (status, body) in [(gone, &gone_body), (file, &file_body)] {
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["database"], "ok");
        let why = body["photo_store"].as_str().unwrap();
        assert!(why.starts_with(&format!("cannot read {}: ", photo_dir.display())), "{why}");
    }
}

/// The URL of this test's own database (the socket directory of the test cluster, or its host and port).
fn database_url(pool: &PgPool) -> String {
    let options = pool.connect_options();
    let database = options.get_database().unwrap();
    match options.get_socket() {
        Some(socket) => format!(
            "postgres://{}@localhost:{}/{database}?host={}",
            options.get_username(),
            options.get_port(),
            socket.display()
        ),
        None => {
            format!("postgres://{}@{}:{}/{database}", options.get_username(), options.get_host(), options.get_port())
        }
    }
}

#[sqlx::test(migrations = "./migrations")]
async fn the_server_serves_metrics_on_its_own_address_and_logs_json_with_request_ids(pool: PgPool) {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roadledger"))
        .args(["serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .args(["--database-url", &database_url(&pool), "--log-format", "json"])
        .env("RUST_LOG", "roadledger=info,tower_http=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut lines = Vec::new();
    let mut next_line = || {
        let line = rx.recv_timeout(Duration::from_secs(60)).expect("the server wrote nothing for 60 s");
        lines.push(line.clone());
        serde_json::from_str::<Value>(&line).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"))
    };
    let address = |line: &Value, prefix: &str| {
        let message = line["fields"]["message"].as_str().unwrap_or("");
        message.strip_prefix(prefix).map(|rest| rest.trim_end_matches('/').trim_end_matches("/metrics").to_string())
    };
    let (mut app_base, mut metrics_base) = (None, None);
    while app_base.is_none() || metrics_base.is_none() {
        let line = next_line();
        metrics_base = metrics_base.or_else(|| address(&line, "metrics are served on "));
        app_base = app_base.or_else(|| address(&line, "RoadLedger is serving on "));
    }
    let (app_base, metrics_base) = (app_base.unwrap(), metrics_base.unwrap());
    let client = reqwest::Client::new();

    let health = client.get(format!("{app_base}/healthz")).header("x-request-id", "probe-1").send().await.unwrap();
    let not_here = client.get(format!("{app_base}/metrics")).send().await.unwrap();
    let metrics = client.get(format!("{metrics_base}/metrics")).send().await.unwrap();
    let metrics_status = metrics.status();
    let metrics = metrics.text().await.unwrap();
    let nothing_else = client.get(format!("{metrics_base}/healthz")).send().await.unwrap();

    assert_eq!(health.status(), 200);
    assert_eq!(health.headers()["x-request-id"], "probe-1");
    assert_eq!(not_here.status(), 404);
    assert_eq!(metrics_status, 200);
    assert!(metrics.contains(&format!("{} 1\n", requests("/healthz", "GET", "2xx"))), "{metrics}");
    assert_eq!(nothing_else.status(), 404);
    // The request's log line (tower-http's, at debug here) is JSON with the request's span and its id.
    let finished = loop {
        let line = next_line();
        if line["fields"]["message"] == "finished processing request" && line["span"]["route"] == "/healthz" {
            break line;
        }
    };
    assert_eq!(finished["span"]["request_id"], "probe-1", "{finished}");
    assert_eq!(finished["span"]["method"], "GET");

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}\n{}", lines.join("\n"));
}
