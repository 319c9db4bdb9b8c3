//! Slow clients (issue 14): 200 connections trickling upload bodies at 1 KB/s do not stop other users, a
//! connection that never finishes its headers is closed, and the upload buffers turn away what does not fit.
//!
//! The server is the real router served on a loopback port by `http::serve`, the same code `roadledger
//! serve` runs, with short limits so the test takes seconds. Memory is read from the process's own metrics
//! (`roadledger_upload_buffered_bytes`, the `upload_buffer` queue): nextest runs each test in a process of
//! its own, so the figures are this test's.

use std::time::{Duration, Instant};

use roadledger::http::limits::UploadLimits;
use roadledger::http::{ServeLimits, Settings};
use roadledger::metrics::METRICS;
use serde_json::json;
use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, TestApp, jpeg, observation, sha256_hex};

const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);

fn settings(buffer_bytes: usize, request_timeout: Duration) -> Settings {
    Settings {
        upload_limits: UploadLimits {
            buffer_bytes,
            buffer_wait: Duration::from_millis(300),
            body_min_rate_bytes_s: 2048,
            body_grace: Duration::from_secs(1),
            body_timeout: Duration::from_secs(30),
        },
        request_timeout,
        ..Settings::default()
    }
}

/// Serves the app on a loopback port through `http::serve`; returns the address.
async fn serve(app: &TestApp) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = app.router.clone();
    let limits = ServeLimits { header_read_timeout: HEADER_READ_TIMEOUT };
    tokio::spawn(roadledger::http::serve(listener, router, limits, std::future::pending()));
    addr
}

/// The head of an observation upload whose body is `body_bytes` long, as a phone sends it.
fn upload_head(addr: std::net::SocketAddr, token: &str, content_type: &str, body_bytes: usize) -> String {
    format!(
        "POST /api/v1/observations HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: {content_type}\r\nContent-Length: {body_bytes}\r\n\r\n"
    )
}

/// The status code of an HTTP/1.1 response's first line.
fn status_of(response: &[u8]) -> Option<u16> {
    let text = String::from_utf8_lossy(response);
    text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

#[path = "../../benches/common/slow_upload.rs"]
mod slow_upload;

/// Sends an upload's head, then its body at `bytes_per_s` until the server answers; returns the status and
/// how long the answer took.
async fn trickle(
    addr: std::net::SocketAddr,
    token: String,
    content_type: String,
    body: Vec<u8>,
    bytes_per_s: usize,
) -> (u16, Duration) {
    let started = Instant::now();
    let head = upload_head(addr, &token, &content_type, body.len());
    let status = slow_upload::send_slowly(addr, head, body.into(), bytes_per_s).await.unwrap();
    (status, started.elapsed())
}

/// The largest value a gauge takes while `until` runs, sampled every 20 ms.
async fn peak_while<T>(gauge: &'static roadledger::metrics::Gauge, until: impl Future<Output = T>) -> (T, i64) {
    let mut until = std::pin::pin!(until);
    let mut peak = gauge.get();
    loop {
        tokio::select! {
            out = &mut until => return (out, peak.max(gauge.get())),
            () = tokio::time::sleep(Duration::from_millis(20)) => peak = peak.max(gauge.get()),
        }
    }
}

#[sqlx::test]
async fn two_hundred_uploads_at_1_kb_s_do_not_stop_other_users(pool: PgPool) {
    const BUFFER_BYTES: usize = 4 * 1024 * 1024;
    let app = common::app_with(pool, settings(BUFFER_BYTES, Duration::from_secs(10))).await;
    let addr = serve(&app).await;
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();

    // 200 uploads of a 64 KB photo, each on its own connection, each at 1 KB/s: 64 s if let run.
    let (content_type, body) = common::multipart(
        observation("spot", json!([120.55, 31.87])).to_string().as_bytes(),
        &[&vec![0xAB; 64 * 1024]],
    );
    let slow: Vec<_> = (0..200)
        .map(|_| tokio::spawn(trickle(addr, app.token.clone(), content_type.clone(), body.clone(), 1024)))
        .collect();

    let others = async {
        // Let every slow upload get going (headers in, first bytes buffered).
        tokio::time::sleep(Duration::from_millis(700)).await;
        let started = Instant::now();
        let settings = client.get(format!("{base}/api/v1/settings")).bearer_auth(&app.token).send().await.unwrap();
        let get_took = started.elapsed();
        assert_eq!(settings.status(), 200);

        let photo = jpeg(320, 240);
        let mut obs = observation("spot", json!([120.56, 31.88]));
        obs["photo_sha256"] = json!([sha256_hex(&photo)]);
        let (content_type, body) = common::multipart(obs.to_string().as_bytes(), &[&photo]);
        let started = Instant::now();
        let upload = client
            .post(format!("{base}/api/v1/observations"))
            .bearer_auth(&app.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let upload_took = started.elapsed();
        assert_eq!(upload.status(), 201, "{}", upload.text().await.unwrap());
        (get_took, upload_took, METRICS.upload_buffered_bytes.get())
    };
    let ((get_took, upload_took, buffered_meanwhile), peak) = peak_while(&METRICS.upload_buffered_bytes, others).await;
    // A normal user is served while the 200 trickle: well within a second on an idle machine; the bound
    // leaves room for a busy one, and is far below the trickles' time.
    assert!(get_took < Duration::from_secs(3), "GET /settings took {get_took:?}");
    assert!(upload_took < Duration::from_secs(5), "the normal upload took {upload_took:?}");
    // The trickles were buffering while the others were served, and never more than the buffers hold.
    assert!(buffered_meanwhile > 0, "the slow uploads' bytes are counted");
    assert!(peak <= BUFFER_BYTES as i64, "{peak} bytes buffered, more than the {BUFFER_BYTES} allowed");

    // Each trickle is cut when it falls behind 2 KB/s after the 1 s grace: about 2 s in, far from 64 s.
    let mut statuses = std::collections::BTreeMap::new();
    for task in slow {
        let (status, took) = task.await.unwrap();
        assert!(took < Duration::from_secs(10), "a slow upload was answered after {took:?}");
        *statuses.entry(status).or_insert(0) += 1;
    }
    assert!(statuses.keys().all(|s| *s == 408 || *s == 503), "{statuses:?}");
    assert!(statuses.get(&408).copied().unwrap_or(0) >= 150, "most trickles get 408: {statuses:?}");
    assert_eq!(app.count("observation").await, 1, "no trickle was recorded");

    // Their buffers were freed with them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(METRICS.upload_buffered_bytes.get(), 0);
    assert_eq!(METRICS.upload_buffer_in_use.get(), 0);
}

#[sqlx::test]
async fn a_phone_on_2g_at_5_kb_s_gets_its_upload_through(pool: PgPool) {
    // The same limits as above (2 KB/s after 1 s): a photo of about 20 KB at 5 KB/s takes 4 s and is recorded.
    let app = common::app_with(pool, settings(4 * 1024 * 1024, Duration::from_secs(10))).await;
    let addr = serve(&app).await;
    let photo = common::camera_photo(320, 240, 3);
    assert!(photo.len() > 15_000, "{}", photo.len());
    let mut obs = observation("spot", json!([120.56, 31.88]));
    obs["photo_sha256"] = json!([sha256_hex(&photo)]);
    let (content_type, body) = common::multipart(obs.to_string().as_bytes(), &[&photo]);
    let (status, took) = trickle(addr, app.token.clone(), content_type, body, 5 * 1024).await;
    assert_eq!(status, 201, "after {took:?}");
    assert!(took >= Duration::from_secs(2), "the body took {took:?}: it was not sent slowly");
    assert_eq!(app.count("observation").await, 1);
}

#[sqlx::test]
async fn a_connection_that_never_finishes_its_headers_is_closed(pool: PgPool) {
    let app = common::app_with(pool, settings(4 * 1024 * 1024, Duration::from_secs(10))).await;
    let addr = serve(&app).await;

    let started = Instant::now();
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(b"GET /api/v1/settings HTTP/1.1\r\nHost: roadledger\r\nX-Slow: ").await.unwrap();
    // Meanwhile another connection is served as usual.
    let settings = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/settings"))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(settings.status(), 200);

    let mut buf = [0u8; 1024];
    let closed = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stalled.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    let took = started.elapsed();
    assert!(closed.is_ok(), "the connection is still open after 10 s");
    assert!(took >= HEADER_READ_TIMEOUT, "closed after {took:?}, before the header timeout");
    assert!(took < HEADER_READ_TIMEOUT + Duration::from_secs(3), "closed only after {took:?}");
}

#[sqlx::test]
async fn a_request_that_is_not_answered_in_time_is_a_503(pool: PgPool) {
    // A sign-in whose JSON body never arrives: the handler waits for it until the request timeout.
    let app = common::app_with(pool, settings(4 * 1024 * 1024, Duration::from_secs(2))).await;
    let addr = serve(&app).await;
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            b"POST /api/v1/session HTTP/1.1\r\nHost: roadledger\r\nContent-Type: application/json\r\n\
              Content-Length: 100\r\n\r\n{\"name\":",
        )
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut response)).await;
    let took = started.elapsed();
    let text = String::from_utf8_lossy(&response);
    assert_eq!(status_of(&response), Some(503), "{text}");
    assert!(text.contains("retry-after: 5"), "{text}");
    assert!(text.contains("not answered within 2 s"), "{text}");
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(5), "{took:?}");
}

#[sqlx::test]
async fn an_upload_that_finds_no_room_in_the_buffers_gets_503_and_then_goes_through(pool: PgPool) {
    // 96 KiB of buffers: one upload that sent 90 KB and stalled holds most of them.
    let app = common::app_with(pool, settings(96 * 1024, Duration::from_secs(10))).await;
    let addr = serve(&app).await;
    let base = format!("http://{addr}");
    let (content_type, body) =
        common::multipart(observation("spot", json!([120.55, 31.87])).to_string().as_bytes(), &[&vec![1u8; 200_000]]);
    let mut stalled = TcpStream::connect(addr).await.unwrap();
    stalled.write_all(upload_head(addr, &app.token, &content_type, body.len()).as_bytes()).await.unwrap();
    stalled.write_all(&body[..90_000]).await.unwrap();
    let held = tokio::time::timeout(Duration::from_secs(5), async {
        while METRICS.upload_buffered_bytes.get() < 80_000 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(held.is_ok(), "the stalled upload's bytes are buffered: {}", METRICS.upload_buffered_bytes.get());

    // A photo of more than 20 KB does not fit beside it: 503 after the short wait, with Retry-After, nothing recorded.
    let photo = common::camera_photo(320, 240, 1);
    assert!(photo.len() > 20_000, "{}", photo.len());
    let mut obs = observation("spot", json!([120.56, 31.88]));
    obs["photo_sha256"] = json!([sha256_hex(&photo)]);
    let (content_type, upload) = common::multipart(obs.to_string().as_bytes(), &[&photo]);
    let send = || {
        reqwest::Client::new()
            .post(format!("{base}/api/v1/observations"))
            .bearer_auth(&app.token)
            .header("content-type", content_type.clone())
            .body(upload.clone())
            .send()
    };
    let refused_before = METRICS.upload_buffer.refused.get();
    let busy = send().await.unwrap();
    assert_eq!(busy.status(), 503);
    assert_eq!(busy.headers()["retry-after"], "10");
    assert_eq!(busy.headers()["content-type"], "application/problem+json");
    let detail = busy.json::<serde_json::Value>().await.unwrap()["detail"].as_str().unwrap().to_owned();
    assert!(detail.contains("as many uploads as its memory allows"), "{detail}");
    assert_eq!(METRICS.upload_buffer.refused.get(), refused_before + 1);
    assert_eq!(app.count("observation").await, 0);

    // The stalled client goes away, its room with it, and the same upload goes through.
    drop(stalled);
    let freed = tokio::time::timeout(Duration::from_secs(5), async {
        while METRICS.upload_buffered_bytes.get() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(freed.is_ok(), "the stalled upload's buffers were not freed");
    let again = send().await.unwrap();
    assert_eq!(again.status(), 201, "{}", again.text().await.unwrap());
    assert_eq!(app.count("observation").await, 1);
}
