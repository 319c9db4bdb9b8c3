//! Benchmark: one upload of a 12-megapixel phone JPEG.
//!
//! Prints, for a 4000 × 3000 JPEG with EXIF:
//! - our photo pipeline (`photos::process`: header check, EOI check, EXIF, DCT-scaled decode, thumbnail)
//!   against the baseline a first version would write (`image::load_from_memory` + `thumbnail` + encode),
//!   both in this process, with time and peak-RSS growth;
//! - when `DATABASE_URL` is set, the whole `POST /api/v1/observations` through the real router, database and
//!   photo directory, with time and peak RSS.
//!
//! - when `DATABASE_URL` is set, **throughput**: light uploads (no photo) through the router at 8, 16, 32 and
//!   64 concurrent connections for `UPLOAD_BENCH_SECONDS` (default 10) each, every connection at its own places
//!   so each upload opens its own site, against pgbench running the same transaction's SQL with as many
//!   clients (`pgbench -n -c N -T s`): the ceiling the database sets.
//!
//! Run: `DATABASE_URL=… cargo bench --bench upload` (see docs/benchmarks.md); `-- throughput` skips the photo.

mod common;

use common::{multipart, peak_rss_mib, reset_peak_rss};

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use roadledger::http::{AppState, Settings, router};
use roadledger::photos::{PhotoLimits, PhotoStore, process};
use tower::ServiceExt;

const RUNS: usize = 7;

fn main() {
    if std::env::args().any(|a| a == "throughput") {
        let url = std::env::var("DATABASE_URL").expect("set DATABASE_URL for the throughput bench");
        throughput(&url);
        return;
    }
    let photo = twelve_megapixel_jpeg();
    println!("photo: 4000 × 3000 JPEG, {} bytes", photo.len());
    println!("{:<44} {:>10} {:>10} {:>14}", "what", "median ms", "min ms", "peak RSS +MiB");

    let base = reset_peak_rss();
    let (median, min) = time(|| {
        black_box(process::process(&photo, PhotoLimits::default()).unwrap());
    });
    report("photos::process (scaled decode)", median, min, peak_rss_mib() - base);

    let base = reset_peak_rss();
    let (median, min) = time(|| {
        let image = image::load_from_memory(&photo).unwrap();
        let thumb = image.thumbnail(320, 320).to_rgb8();
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&thumb).unwrap();
        black_box(out);
    });
    report("baseline: image::load_from_memory+thumbnail", median, min, peak_rss_mib() - base);

    match std::env::var("DATABASE_URL") {
        Ok(url) => {
            http_upload(&url, &photo);
            throughput(&url);
        }
        Err(_) => println!("(set DATABASE_URL to also time the whole HTTP upload)"),
    }
}

fn http_upload(url: &str, photo: &[u8]) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pool = roadledger::db::connect(url.parse().unwrap()).await.unwrap();
        roadledger::db::MIGRATOR.run(&pool).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let state = AppState {
            pool: pool.clone(),
            replica: None,
            photos: PhotoStore::local(dir.path()).unwrap(),
            settings: Arc::new(Settings::default()),
        };
        let app = router(state);
        let token = common::bench_token(&pool, roadledger::domain::auth::Role::Inspector).await;
        let base = reset_peak_rss();
        let mut times = Vec::new();
        for i in 0..RUNS {
            // Spread over a line of distinct places so every upload opens its own site.
            let observation = serde_json::json!({
                "id": uuid::Uuid::new_v4(),
                "kind": "spot",
                "geometry": {"type": "Point", "coordinates": [120.31 + i as f64 * 0.001, 31.76]},
                "observed_at": chrono::Utc::now().to_rfc3339(),
                "accuracy_m": 5.0,
            });
            let (content_type, body) = multipart(observation.to_string().as_bytes(), photo);
            let request = Request::post("/api/v1/observations")
                .header("content-type", content_type)
                .header("authorization", format!("Bearer {token}"))
                .body(Body::from(body))
                .unwrap();
            let start = Instant::now();
            let response = app.clone().oneshot(request).await.unwrap();
            assert_eq!(response.status(), 201);
            times.push(start.elapsed());
        }
        let (median, min) = summarise(times);
        report("POST /api/v1/observations (HTTP+DB+store)", median, min, peak_rss_mib() - base);
        println!("process peak RSS after all runs: {:.1} MiB", peak_rss_mib());
    });
}

fn time(mut f: impl FnMut()) -> (Duration, Duration) {
    let times = (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect();
    summarise(times)
}

fn summarise(mut times: Vec<Duration>) -> (Duration, Duration) {
    times.sort();
    (times[times.len() / 2], times[0])
}

fn report(what: &str, median: Duration, min: Duration, rss_mib: f64) {
    println!("{what:<44} {:>10.1} {:>10.1} {:>14.1}", median.as_secs_f64() * 1e3, min.as_secs_f64() * 1e3, rss_mib);
}

/// A photo-like 12 MP image: smooth sky and road with fine noise, so it compresses like a camera JPEG
/// (several MB), not like a flat test card.
fn twelve_megapixel_jpeg() -> Vec<u8> {
    let (w, h) = (4000u32, 3000u32);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let noise = (state % 24) as u8;
        if y < h / 2 {
            image::Rgb([120 + noise, 170 + noise, 230u8.saturating_sub(noise)])
        } else {
            let stripe = if (x / 40) % 5 == 0 && y % 300 < 150 { 200 } else { 80 };
            image::Rgb([stripe + noise / 2, stripe + noise / 2, stripe + noise])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).encode_image(&img).unwrap();
    out
}

/// Concurrent connections the throughput bench steps through.
const CONNECTIONS: [usize; 4] = [8, 16, 32, 64];

/// Light uploads (the observation alone, as a phone sends a record without photos) through the real router,
/// `n` connections each sending one after another for the bench's seconds, against pgbench running the upload
/// transaction's own SQL with as many clients. Each connection uploads at its own places, 150 m apart, so
/// every upload opens a site: the heaviest path (road match, site, checklist, observation, event).
fn throughput(url: &str) {
    let seconds: u64 = std::env::var("UPLOAD_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("\nlight uploads, {seconds} s per row; load average before: {}", load.trim());
    println!(
        "{:>11} {:>14} {:>8} {:>8} {:>14} {:>10}",
        "connections", "uploads/s", "p50 ms", "p99 ms", "pgbench tps", "ours/pgb"
    );
    runtime.block_on(async {
        let pool = roadledger::db::connect(url.parse().unwrap()).await.unwrap();
        roadledger::db::MIGRATOR.run(&pool).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let state = AppState {
            pool: pool.clone(),
            replica: None,
            photos: PhotoStore::local(dir.path()).unwrap(),
            settings: Arc::new(Settings::default()),
        };
        let app = router(state);
        let token = common::bench_token(&pool, roadledger::domain::auth::Role::Inspector).await;
        // Each row its own half degree of longitude, so no row joins an earlier row's sites.
        let run_base = rand_base();
        for (row, &n) in CONNECTIONS.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(seconds);
            let tasks = (0..n).map(|conn| {
                let app = app.clone();
                let token = token.clone();
                let lon = run_base + row as f64 * 0.5 + conn as f64 * 0.005;
                tokio::spawn(async move {
                    let mut times = Vec::new();
                    let mut seq = 0u32;
                    while Instant::now() < deadline {
                        let observation = serde_json::json!({
                            "id": uuid::Uuid::new_v4(),
                            "kind": "spot",
                            "geometry": {"type": "Point", "coordinates": [lon, 20.0 + seq as f64 * 0.0015]},
                            "observed_at": chrono::Utc::now().to_rfc3339(),
                            "accuracy_m": 5.0,
                        });
                        seq += 1;
                        let (content_type, body) = multipart_light(observation.to_string().as_bytes());
                        let request = Request::post("/api/v1/observations")
                            .header("content-type", content_type)
                            .header("authorization", format!("Bearer {token}"))
                            .body(Body::from(body))
                            .unwrap();
                        let start = Instant::now();
                        let response = app.clone().oneshot(request).await.unwrap();
                        assert_eq!(response.status(), 201);
                        // The answer's body is read, as a phone would.
                        black_box(http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes());
                        times.push(start.elapsed());
                    }
                    times
                })
            });
            let started = Instant::now();
            let mut times: Vec<Duration> = Vec::new();
            for t in futures::future::join_all(tasks).await {
                times.extend(t.unwrap());
            }
            let elapsed = started.elapsed().as_secs_f64();
            times.sort();
            let rate = times.len() as f64 / elapsed;
            let pct = |p: f64| times[((times.len() as f64 * p) as usize).min(times.len() - 1)].as_secs_f64() * 1e3;
            let (p50, p99) = (pct(0.5), pct(0.99));
            let pgbench = pgbench_upload(url, n, seconds);
            let ratio = pgbench.map(|tps| format!("{:.2}", rate / tps)).unwrap_or_else(|| "-".into());
            let pgbench = pgbench.map(|tps| format!("{tps:.0}")).unwrap_or_else(|| "failed".into());
            println!("{n:>11} {rate:>14.0} {p50:>8.1} {p99:>8.1} {pgbench:>14} {ratio:>10}");
        }
    });
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after: {}", load.trim());
}

/// A longitude no earlier run used, so every run opens new sites however often the bench runs on one database.
fn rand_base() -> f64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    -170.0 + (nanos % 300) as f64
}

fn multipart_light(observation: &[u8]) -> (String, Vec<u8>) {
    let boundary = "bench-boundary-1f4c";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"observation\"\r\n\r\n").into_bytes();
    body.extend_from_slice(observation);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// pgbench, `clients` clients for `seconds`, running the statements `db::observations::record` runs for a new
/// site (lock, replay check, match, road, site, checklist, observation, event), each at a random place of a
/// 10° square; answers transactions per second. `UPLOAD_BENCH_LOCK=kind` takes the lock the upload took
/// before (one per site kind), for the figures of the old code.
fn pgbench_upload(url: &str, clients: usize, seconds: u64) -> Option<f64> {
    let lock = if std::env::var("UPLOAD_BENCH_LOCK").as_deref() == Ok("kind") {
        "select pg_advisory_xact_lock(hashtext('roadledger.site_match'), hashtext('spot'));".to_string()
    } else {
        // The neighbourhood's keys as `db::observations::take_locks` takes them for a point mid-cell: its
        // fine cell (here 0.001°, about 100 m), its coarse cell shared (0.032°), and the observation's id,
        // in sorted order, one statement.
        "select case when e then pg_advisory_xact_lock(k) else pg_advisory_xact_lock_shared(k) end \
         from (select k, bool_or(e) as e from unnest(array[hashtextextended('c ' || (:x / 1000) || ' ' || (:y / 1000), 1), \
         hashtextextended('C ' || (:x / 32000) || ' ' || (:y / 32000), 1), hashtextextended(':oid', 1)], \
         array[true, false, true]) as t(k, e) group by k order by k) l;"
            .to_string()
    };
    let point = "st_setsrid(st_geomfromgeojson('{\"type\":\"Point\",\"coordinates\":[' || (:lon) || ',' || (:lat) || ']}'), 4326)";
    let script = format!(
        "\\set x random(0, 10000000)
\\set y random(0, 10000000)
\\set lon 100 + :x / 1000000.0
\\set lat 10 + :y / 1000000.0
select gen_random_uuid() as oid \\gset
begin;
{lock}
select content_sha256 from observation where id = ':oid';
with g as (select {point} as geom) select s.id from site s, g where s.kind = 'spot' and s.status = any('{{reported,verified,assigned,in_progress,pending_review,reopened}}') and st_dwithin(s.geom::geography, g.geom::geography, 30) order by s.geom::geography <-> g.geom::geography, s.created_at limit 1;
select * from road_match({point}, null, '320582', 30);
with g as (select {point} as geom) insert into site (kind, geom, town_id, road_id, route_code, stake_m, stake_text, end_stake_m, end_stake_text, template_code, hazard_types, first_observed_at, last_observed_at, observation_count) select 'spot', g.geom, (select t.id from town t where st_intersects(t.boundary, g.geom) order by t.id limit 1), null, null, null, null, null, null, 'three_ones', '{{}}', now(), now(), 1 from g returning id as site_id \\gset
insert into site_checklist_item (site_id, template_code, item_code, state, reason) select ':site_id', t.template_code, t.code, coalesce('{{}}'::jsonb ->> t.code, 'missing'), null from checklist_template_item t where t.template_code = 'three_ones';
insert into observation (id, site_id, kind, inspector, observed_at, geom, accuracy_m, source_crs, hazard_types, checklist, notes, route_code, stake_text, content_sha256, user_id, look_back_result, location_source, location_confirmed) values (':oid', ':site_id', 'spot', '基准测试', now(), {point}, 5, 'wgs84', '{{}}', '{{}}', '', null, null, sha256(':oid'::bytea), (select id from app_user order by id limit 1), null, null, false);
insert into site_event (site_id, actor, kind, from_status, to_status, data, observation_id, actor_user_id) select ':site_id', '基准测试', 'opened', null, s.status, jsonb_build_object('observed_at', now()), ':oid', (select id from app_user order by id limit 1) from site s where s.id = ':site_id';
commit;
"
    );
    if let Ok(path) = std::env::var("UPLOAD_BENCH_SCRIPT") {
        // To run pgbench by hand on the same script.
        std::fs::write(path, &script).ok()?;
    }
    let file = tempfile::NamedTempFile::new().ok()?;
    std::fs::write(file.path(), script).ok()?;
    let out = std::process::Command::new("pgbench")
        .args(["-n", "-c", &clients.to_string(), "-j", "2", "-T", &seconds.to_string(), "-f"])
        .arg(file.path())
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        eprintln!("pgbench failed: {}{}", text, String::from_utf8_lossy(&out.stderr));
        return None;
    }
    text.lines().find(|l| l.starts_with("tps = ")).and_then(|l| l[6..].split_whitespace().next()?.parse().ok())
}
