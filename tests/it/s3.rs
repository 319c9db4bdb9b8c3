//! Photos on S3-compatible object storage, against a real S3 implementation: moto's server (PyPI
//! `moto[server]` 5), started by each test on a free loopback port and stopped when it ends. `scripts/test.sh`
//! installs it into `target/py` and names its `moto_server` in `ROADLEDGER_MOTO_SERVER`; without it these tests
//! fail and say so.
//!
//! Uploads go through the API to a server whose store is a bucket: the objects are in the bucket under the
//! prefix, byte for byte, an original under its own SHA-256; the photo and thumbnail URLs serve them; `/readyz`
//! is ready, and not ready once the store is gone. The demo loads its photos into a bucket, its close-out
//! sheets read them from there, and `roadledger backup`/`restore` move a database and a bucket into a fresh
//! database and a fresh bucket that compare equal to the originals, row by row and byte for byte.

use crate::backup::{Scratch, database_url, path, stderr, table_digests};
use crate::common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::Request;
use common::{app_with_store, camera_photo, jpeg, observation, sha256_hex};
use futures::TryStreamExt;
use http_body_util::BodyExt;
use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStore, ObjectStoreExt};
use roadledger::http::{AppState, Settings};
use roadledger::photos::{PhotoStore, S3Location};
use serde_json::json;
use sqlx::PgPool;
use tower::ServiceExt;

const BIN: &str = env!("CARGO_BIN_EXE_roadledger");
/// moto accepts any keys; these are what its documentation uses.
const ACCESS_KEY: &str = "testing";
const SECRET_KEY: &str = "testing";
const REGION: &str = "us-east-1";

/// A moto S3 server of this test's own, killed (and reaped) when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    fn start() -> Moto {
        let program = std::env::var("ROADLEDGER_MOTO_SERVER").unwrap_or_else(|_| {
            panic!(
                "ROADLEDGER_MOTO_SERVER is not set: the S3 tests need moto's server (PyPI moto[server] 5). Run \
                 ./scripts/test.sh, which installs it into target/py, or set ROADLEDGER_MOTO_SERVER to a \
                 moto_server program"
            )
        });
        // A port the system picked as free; the tiny window before moto binds it is retried below.
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut child = Command::new(&program)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot run ROADLEDGER_MOTO_SERVER={program}: {e}"));
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(60) {
                if let Some(status) = child.try_wait().unwrap() {
                    let mut why = String::new();
                    use std::io::Read;
                    child.stderr.take().unwrap().read_to_string(&mut why).unwrap();
                    eprintln!("moto_server exited ({status}) before it listened: {why}");
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    // Its log goes nowhere from here on: a full pipe must not block it.
                    drop(child.stderr.take());
                    return Moto { child, endpoint: format!("http://{addr}") };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server ({program}) did not start listening");
    }

    /// A client of this server with no bucket chosen yet (`object_store` wants one: the caller adds it).
    fn builder(&self) -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_region(REGION)
    }

    /// The photo store at `s3://BUCKET/PREFIX` on this server.
    fn store(&self, url: &str) -> PhotoStore {
        PhotoStore::s3_with(self.builder(), &url.parse::<S3Location>().unwrap()).unwrap()
    }

    /// `PUT /BUCKET`, as `aws s3 mb` does.
    async fn create_bucket(&self, bucket: &str) {
        let answer = reqwest::Client::new().put(format!("{}/{bucket}", self.endpoint)).send().await.unwrap();
        assert!(answer.status().is_success(), "creating bucket {bucket}: {}", answer.status());
    }

    /// Every object of a bucket, by its full key, with its bytes: read with `object_store` directly, not through
    /// `PhotoStore`, so the prefix is seen as the bucket has it.
    async fn objects(&self, bucket: &str) -> BTreeMap<String, Vec<u8>> {
        let s3 = self.builder().with_bucket_name(bucket).build().unwrap();
        let metas: Vec<_> = s3.list(None).try_collect().await.unwrap();
        let mut out = BTreeMap::new();
        for meta in metas {
            let bytes = s3.get(&meta.location).await.unwrap().bytes().await.unwrap();
            out.insert(meta.location.to_string(), bytes.to_vec());
        }
        out
    }

    /// The variables `roadledger` reads to reach this server.
    fn env(&self) -> [(&'static str, String); 5] {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.into()),
            ("AWS_REGION", REGION.into()),
        ]
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `/readyz` as a probe sees it: its status, body and how long it took.
async fn readyz(router: &Router) -> (u16, serde_json::Value, Duration) {
    let started = Instant::now();
    let response = router.clone().oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    (status, body, started.elapsed())
}

#[sqlx::test(migrations = "./migrations")]
async fn photos_uploaded_to_an_s3_store_are_in_the_bucket_and_served_from_it(pool: PgPool) {
    // Arrange: a bucket, and a server whose photos go under a prefix in it.
    let started = Instant::now();
    let mut moto = Moto::start();
    eprintln!("moto_server listening after {:.1} s", started.elapsed().as_secs_f64());
    moto.create_bucket("county-photos").await;
    let app = app_with_store(pool, moto.store("s3://county-photos/roadledger/320582")).await;
    let (status, body, _) = readyz(&app.router).await;
    assert_eq!((status, &body["photo_store"]), (200, &json!("ok")), "{body}");

    // Act: an inspector reports a spot with two photos.
    let photos = [camera_photo(1600, 1200, 7), jpeg(640, 480)];
    let obs = observation("spot", json!([120.55, 31.87]));
    let answer = app.upload(&obs, &[&photos[0], &photos[1]]).await;
    assert_eq!(answer.status, 201, "{}", String::from_utf8_lossy(&answer.bytes));

    // Assert: the bucket holds each original under its SHA-256, byte for byte, and a thumbnail for each, all
    // under the prefix and nothing else.
    let objects = moto.objects("county-photos").await;
    let mut expected_keys = Vec::new();
    for photo in &photos {
        let sha = sha256_hex(photo);
        let original = format!("roadledger/320582/original/{}/{sha}.jpg", &sha[..2]);
        assert_eq!(objects.get(&original), Some(photo), "{original} in {:?}", objects.keys());
        assert_eq!(sha256_hex(&objects[&original]), sha);
        expected_keys.push(original);
        expected_keys.push(format!("roadledger/320582/thumbnail/{}/{sha}.jpg", &sha[..2]));
    }
    expected_keys.sort();
    assert_eq!(objects.keys().cloned().collect::<Vec<_>>(), expected_keys);

    // The API serves them from the bucket: the original as uploaded, the thumbnail as stored, each with its length.
    let recorded = answer.json();
    let served = recorded["photos"].as_array().unwrap();
    assert_eq!(served.len(), 2);
    for (p, photo) in served.iter().zip(&photos) {
        let sha = sha256_hex(photo);
        assert_eq!(p["sha256"], sha);
        let original = app.get(p["url"].as_str().unwrap()).await;
        assert_eq!(original.status, 200);
        assert_eq!(&original.bytes, photo);
        assert_eq!(original.headers["content-type"], "image/jpeg");
        assert_eq!(original.headers["content-length"], photo.len().to_string().as_str());
        assert_eq!(original.headers["cache-control"], "private, max-age=31536000, immutable");
        let thumbnail = app.get(p["thumbnail_url"].as_str().unwrap()).await;
        assert_eq!(thumbnail.status, 200);
        assert_eq!(thumbnail.bytes, objects[&format!("roadledger/320582/thumbnail/{}/{sha}.jpg", &sha[..2])]);
        assert_eq!(thumbnail.headers["content-type"], "image/jpeg");
        let decoded = image::load_from_memory(&thumbnail.bytes).unwrap();
        assert!(decoded.width().max(decoded.height()) <= 320);
    }

    // A bucket that does not exist is not ready, and says so.
    let missing = roadledger::http::router(AppState {
        pool: app.pool.clone(),
        replica: None,
        photos: moto.store("s3://no-such-bucket/p"),
        settings: Arc::new(Settings::default()),
    });
    let (status, body, _) = readyz(&missing).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "ok");
    assert!(body["photo_store"].as_str().unwrap().contains("NoSuchBucket"), "{body}");

    // The store goes away: not ready within about a second, and an upload records nothing.
    moto.kill();
    let (status, body, took) = readyz(&app.router).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"], "ok");
    assert_ne!(body["photo_store"], "ok");
    assert!(took < Duration::from_secs(3), "{took:?}");
    let observations = app.count("observation").await;
    let refused = app.upload(&observation("spot", json!([120.56, 31.88])), &[&jpeg(320, 240)]).await;
    // The store is down, not the server broken: a 503 the phone retries after, not a 500.
    assert_eq!(refused.status, 503, "{}", String::from_utf8_lossy(&refused.bytes));
    assert_eq!(refused.headers["retry-after"], "10");
    assert_eq!(app.count("observation").await, observations, "rows only after every file is stored");
}

#[sqlx::test(migrations = "./migrations")]
async fn the_demo_on_s3_prints_its_sheets_and_backs_up_and_restores_into_a_fresh_bucket(pool: PgPool) {
    // Arrange: the demo with its photos in a bucket.
    let moto = Moto::start();
    moto.create_bucket("source").await;
    moto.create_bucket("restored").await;
    let source = moto.store("s3://source/demo");
    roadledger::demo::load_if_empty(&pool, &source).await.unwrap();
    let source_objects = moto.objects("source").await;
    let photo_rows: i64 = sqlx::query_scalar("select count(*) from photo").fetch_one(&pool).await.unwrap();
    assert!(photo_rows > 0 && !source_objects.is_empty());
    assert!(source_objects.keys().all(|k| k.starts_with("demo/original/") || k.starts_with("demo/thumbnail/")));

    // A closed site's close-out sheet draws its photos' thumbnails, read from the bucket.
    let app = app_with_store(pool.clone(), source.clone()).await;
    let closed: uuid::Uuid = sqlx::query_scalar(
        "select s.id from site s where s.status = 'closed'
           and exists (select from observation o join photo p on p.observation_id = o.id where o.site_id = s.id)
         order by s.code limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let city = common::organisation(&pool, "city_office").await;
    let dispatcher = common::token_for(&pool, "s3disp", "赵调度", "dispatcher", city).await;
    let sheet = app
        .send(
            Request::get(format!("/api/v1/sites/{closed}/closeout.pdf"))
                .header("authorization", format!("Bearer {dispatcher}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(sheet.status, 200, "{}", String::from_utf8_lossy(&sheet.bytes));
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("sheet.pdf");
    std::fs::write(&pdf, &sheet.bytes).unwrap();
    let images = Command::new("pdfimages").arg("-list").arg(&pdf).output().expect("pdfimages (poppler-utils)");
    let images = String::from_utf8_lossy(&images.stdout);
    assert!(images.lines().skip(2).count() >= 1, "no photo on the sheet: {images}");

    // Act: back up with the real binary, as an operator's timer would, then restore into a fresh database and a
    // fresh bucket.
    let work = tempfile::tempdir().unwrap();
    let backup_dir = work.path().join("backup");
    let source_url = database_url(&pool, None);
    let started = Instant::now();
    let out = roadledger(&moto, &["backup", "--photo-store", "s3://source/demo", path(&backup_dir)], &source_url);
    assert!(out.status.success(), "{}", stderr(&out));
    eprintln!("backup of the demo from S3: {:.1} s, {} objects", started.elapsed().as_secs_f64(), source_objects.len());
    let fresh = Scratch::create(&pool, "s3").await;
    let started = Instant::now();
    let out = roadledger(&moto, &["restore", "--photo-store", "s3://restored/copy", path(&backup_dir)], &fresh.url);
    assert!(out.status.success(), "{}", stderr(&out));
    eprintln!("restore of the demo into S3: {:.1} s", started.elapsed().as_secs_f64());

    // Assert: every table row by row, and every object byte for byte under the new prefix.
    let restored = PgPool::connect(&fresh.url).await.unwrap();
    let (before, after) = (table_digests(&pool).await, table_digests(&restored).await);
    assert!(before.contains_key("photo"));
    assert_eq!(before, after, "the restored database differs");
    restored.close().await;
    let restored_objects: BTreeMap<String, Vec<u8>> = moto
        .objects("restored")
        .await
        .into_iter()
        .map(|(key, bytes)| (format!("demo/{}", key.strip_prefix("copy/").expect("under the prefix")), bytes))
        .collect();
    assert!(restored_objects == source_objects, "the restored bucket differs from the source");

    // Refused: a restore into a bucket that already holds photos, naming one; and both kinds of store at once.
    let empty = Scratch::create(&pool, "s3_empty").await;
    let again = roadledger(&moto, &["restore", "--photo-store", "s3://restored/copy", path(&backup_dir)], &empty.url);
    assert!(stderr(&again).contains("the photo store is not empty (it has original/"), "{}", stderr(&again));
    let both = roadledger(
        &moto,
        &["restore", "--photo-store", "s3://restored/other", "--photo-dir", path(work.path()), path(&backup_dir)],
        &empty.url,
    );
    assert!(!both.status.success());
    assert!(stderr(&both).contains("both --photo-dir"), "{}", stderr(&both));
    assert!(moto.objects("restored").await.keys().all(|k| k.starts_with("copy/")), "nothing written to other/");

    fresh.drop(&pool).await;
    empty.drop(&pool).await;
}

/// The real binary with a DATABASE_URL and the variables that reach moto.
fn roadledger(moto: &Moto, args: &[&str], database_url: &str) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .envs(moto.env())
        .env("DATABASE_URL", database_url)
        .env("NO_COLOR", "1")
        .env_remove("ROADLEDGER_PHOTO_DIR")
        .output()
        .unwrap()
}
