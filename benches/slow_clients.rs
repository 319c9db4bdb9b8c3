//! Benchmark: 200 slow uploaders (1 KB/s each) against the server, and what normal users see meanwhile.
//!
//! The real router is served on a loopback port by `http::serve` (the code `roadledger serve` runs) with the
//! production limits (`Settings::default()`: 2 KB/s after 10 s, upload buffers a quarter of memory, 20 s for
//! headers). Two phases of `SLOW_BENCH_SECONDS` (default 60) each:
//!
//! - **before**: normal users only: 8 readers (`GET /api/v1/sites?limit=50`, one after another with 50 ms
//!   between) and 1 inspector uploading an observation with a 300 KB photo every second;
//! - **during**: the same users while 200 connections each send an upload's head and then its 500 KB body at
//!   1 KB/s, reconnecting as soon as they are answered (what a botched client or an attacker does).
//!
//! It prints, per phase, the readers' and the uploads' p50/p99/max latency and failures, how the slow uploads
//! were answered (408, 503, other), the peak of the upload buffers (`roadledger_upload_buffered_bytes`) and
//! the process's peak RSS growth.
//!
//! Run: `DATABASE_URL=… cargo bench --bench slow_clients` (see docs/benchmarks.md); `SLOW_BENCH_CLIENTS`
//! sets the number of slow clients (200).

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{multipart, peak_rss_mib, reset_peak_rss};
use roadledger::http::{AppState, ServeLimits, Settings, router};
use roadledger::metrics::METRICS;
use roadledger::photos::PhotoStore;

const READERS: usize = 8;

fn main() {
    let url = std::env::var("DATABASE_URL").expect("set DATABASE_URL (see docs/benchmarks.md)");
    let seconds: u64 = std::env::var("SLOW_BENCH_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let slow_clients: usize = std::env::var("SLOW_BENCH_CLIENTS").ok().and_then(|s| s.parse().ok()).unwrap_or(200);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let pool = roadledger::db::connect(url.parse().unwrap()).await.unwrap();
        roadledger::db::MIGRATOR.run(&pool).await.unwrap();
        let token = common::bench_token(&pool, roadledger::domain::auth::Role::Inspector).await;
        let dir = tempfile::tempdir().unwrap();
        let settings = Settings {
            web_dir: std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web"),
            ..Settings::default()
        };
        let limits = settings.upload_limits;
        let app = router(AppState { pool, replica: None, photos: PhotoStore::local(dir.path()).unwrap(), settings: Arc::new(settings) });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(roadledger::http::serve(listener, app, ServeLimits::default(), std::future::pending()));

        println!(
            "{slow_clients} slow uploads at 1 KB/s; limits: {} bytes/s after {} s, upload buffers {} MiB; {seconds} s a phase",
            limits.body_min_rate_bytes_s,
            limits.body_grace.as_secs(),
            limits.buffer_bytes / (1024 * 1024)
        );
        println!(
            "{:<8} {:>8} {:>8} {:>8} {:>6} | {:>8} {:>8} {:>8} {:>6} | {:>6} {:>6} {:>6} | {:>9} {:>9}",
            "phase", "GET p50", "p99", "max", "fail", "POST p50", "p99", "max", "fail", "408", "503", "other",
            "buf MiB", "RSS +MiB"
        );
        for (phase, slow) in [("before", 0), ("during", slow_clients)] {
            let figures = run_phase(addr, &token, slow, Duration::from_secs(seconds)).await;
            figures.print(phase);
        }
    });
}

#[derive(Default)]
struct Figures {
    reads: Vec<Duration>,
    read_failures: usize,
    uploads: Vec<Duration>,
    upload_failures: usize,
    slow_answers: BTreeMap<u16, usize>,
    peak_buffered: i64,
    rss_mib: f64,
}

impl Figures {
    fn print(&self, phase: &str) {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (r50, r99, rmax) = percentiles(&self.reads);
        let (u50, u99, umax) = percentiles(&self.uploads);
        let answered = |s: u16| self.slow_answers.get(&s).copied().unwrap_or(0);
        let other: usize = self.slow_answers.iter().filter(|(s, _)| **s != 408 && **s != 503).map(|(_, n)| n).sum();
        println!(
            "{phase:<8} {:>8.1} {:>8.1} {:>8.1} {:>6} | {:>8.1} {:>8.1} {:>8.1} {:>6} | {:>6} {:>6} {:>6} | {:>9.2} {:>9.1}",
            ms(r50),
            ms(r99),
            ms(rmax),
            self.read_failures,
            ms(u50),
            ms(u99),
            ms(umax),
            self.upload_failures,
            answered(408),
            answered(503),
            other,
            self.peak_buffered as f64 / (1024.0 * 1024.0),
            self.rss_mib
        );
    }
}

fn percentiles(times: &[Duration]) -> (Duration, Duration, Duration) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let at = |q: f64| sorted.get(((sorted.len() as f64 * q) as usize).min(sorted.len().saturating_sub(1))).copied();
    (at(0.5).unwrap_or_default(), at(0.99).unwrap_or_default(), sorted.last().copied().unwrap_or_default())
}

async fn run_phase(addr: SocketAddr, token: &str, slow: usize, length: Duration) -> Figures {
    let rss_base = reset_peak_rss();
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(BTreeMap::new()));
    // One body shared by every slow client (a cheap `Bytes` clone each), so the process's RSS is the server's.
    let observation = serde_json::json!({"id": uuid::Uuid::new_v4(), "kind": "spot"});
    let (content_type, body) = multipart(observation.to_string().as_bytes(), &vec![0x5A; 500 * 1024]);
    let head = format!(
        "POST /api/v1/observations HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let body = bytes::Bytes::from(body);
    let slow_tasks: Vec<_> = (0..slow)
        .map(|_| tokio::spawn(trickle_until(addr, head.clone(), body.clone(), stop.clone(), answers.clone())))
        .collect();
    // Let the slow uploads get going before the users are timed.
    if slow > 0 {
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let client = reqwest::Client::new();
    let base = format!("http://{addr}");
    let until = Instant::now() + length;
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (client, base, token) = (client.clone(), base.clone(), token.to_owned());
            tokio::spawn(async move {
                let (mut times, mut failures) = (Vec::new(), 0);
                while Instant::now() < until {
                    let started = Instant::now();
                    let answer = client.get(format!("{base}/api/v1/sites?limit=50")).bearer_auth(&token).send().await;
                    let read = match answer {
                        Ok(r) if r.status() == 200 => r.bytes().await.is_ok(),
                        _ => false,
                    };
                    if read {
                        times.push(started.elapsed());
                    } else {
                        failures += 1;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                (times, failures)
            })
        })
        .collect();
    let uploader = {
        let (client, base, token) = (client.clone(), base.clone(), token.to_owned());
        tokio::spawn(async move {
            let photo = photo();
            let (mut times, mut failures, mut i) = (Vec::new(), 0, 0u32);
            while Instant::now() < until {
                i += 1;
                let observation = serde_json::json!({
                    "id": uuid::Uuid::new_v4(),
                    "kind": "spot",
                    "geometry": {"type": "Point", "coordinates": [120.31 + f64::from(i % 500) * 0.001, 31.70]},
                    "observed_at": chrono::Utc::now().to_rfc3339(),
                    "accuracy_m": 5.0,
                });
                let (content_type, body) = multipart(observation.to_string().as_bytes(), &photo);
                let started = Instant::now();
                let sent = client
                    .post(format!("{base}/api/v1/observations"))
                    .bearer_auth(&token)
                    .header("content-type", content_type)
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status() == 201 => times.push(started.elapsed()),
                    _ => failures += 1,
                }
                tokio::time::sleep(Duration::from_secs(1).saturating_sub(started.elapsed())).await;
            }
            (times, failures)
        })
    };
    let mut peak_buffered = 0;
    while Instant::now() < until {
        peak_buffered = peak_buffered.max(METRICS.upload_buffered_bytes.get());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut figures = Figures { peak_buffered, ..Figures::default() };
    for reader in readers {
        let (times, failures) = reader.await.unwrap();
        figures.reads.extend(times);
        figures.read_failures += failures;
    }
    let (times, failures) = uploader.await.unwrap();
    figures.uploads = times;
    figures.upload_failures = failures;
    stop.store(true, Ordering::Relaxed);
    for task in slow_tasks {
        task.abort();
    }
    figures.slow_answers = std::mem::take(&mut *answers.lock().unwrap());
    figures.rss_mib = peak_rss_mib() - rss_base;
    figures
}

/// One slow client: an upload's head, then its body at 1 KB/s; when answered, again, until `stop`.
async fn trickle_until(
    addr: SocketAddr,
    head: String,
    body: bytes::Bytes,
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<BTreeMap<u16, usize>>>,
) {
    while !stop.load(Ordering::Relaxed) {
        match common::slow_upload::send_slowly(addr, head.clone(), body.clone(), 1024).await {
            Ok(status) => *answers.lock().unwrap().entry(status).or_insert(0) += 1,
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// A photo of about 300 KB, as a phone sends after resizing (noisy, so it compresses like a photo).
fn photo() -> Vec<u8> {
    let mut seed = 0x2545_f491_u32;
    let img = image::RgbImage::from_fn(1280, 960, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let noise = (seed & 0x3F) as u8;
        image::Rgb([(x / 6) as u8 ^ noise, (y / 4) as u8 ^ noise, 120u8.wrapping_add(noise)])
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&img).unwrap();
    out
}
