//! Benchmark: one upload of a 12-megapixel phone JPEG.
//!
//! Prints, for a 4000 × 3000 JPEG with EXIF:
//! - our photo pipeline (`photos::process`: header check, EOI check, EXIF, DCT-scaled decode, thumbnail)
//!   against the baseline a first version would write (`image::load_from_memory` + `thumbnail` + encode),
//!   both in this process, with time and peak-RSS growth;
//! - when `DATABASE_URL` is set, the whole `POST /api/v1/observations` through the real router, database and
//!   photo directory, with time and peak RSS.
//!
//! Run: `DATABASE_URL=… cargo bench --bench upload` (see docs/benchmarks.md).

mod common;

use common::{peak_rss_mib, reset_peak_rss};

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
        Ok(url) => http_upload(&url, &photo),
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

fn multipart(observation: &[u8], photo: &[u8]) -> (String, Vec<u8>) {
    let boundary = "bench-boundary-1f4c";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"observation\"\r\n\r\n").into_bytes();
    body.extend_from_slice(observation);
    body.extend_from_slice(
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p.jpg\"\r\n\r\n")
            .as_bytes(),
    );
    body.extend_from_slice(photo);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
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
