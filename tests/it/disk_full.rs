//! A full photo store (issue 14): the photo directory is a 2 MiB tmpfs, filled until an upload no longer
//! fits. The upload is refused with 507 and nothing half-written stays behind: every file in the store is
//! named by a row and matches it (size and SHA-256), every row's files are there, and once room is made the
//! same observation (same id) is recorded.
//!
//! Mounting needs root (the tests and CI run as root); without it the test fails and says so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use axum::http::StatusCode;
use roadledger::http::{AppState, Settings, router};
use roadledger::photos::PhotoStore;
use serde_json::json;
use sqlx::PgPool;

use crate::common::{self, TestApp, camera_photo, observation, sha256_hex};

/// A tmpfs of a given size mounted on a fresh directory, unmounted when dropped (a failing test too).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let uid = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(2) == Some("0")));
        assert_eq!(
            uid,
            Some(true),
            "the disk-full test mounts a tmpfs and must run as root (CI does); run the tests as root"
        );
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("cannot run mount");
        assert!(status.success(), "mount -t tmpfs failed: {status}");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

/// The real router over a photo store in `photo_dir`, with the default inspector's token.
async fn app_on(pool: PgPool, photo_dir: &Path) -> TestApp {
    let mut app = common::app(pool.clone()).await;
    let settings = Settings { web_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web"), ..Settings::default() };
    let photos = PhotoStore::local(photo_dir).unwrap();
    app.router = router(AppState { pool, replica: None, photos, settings: Arc::new(settings) });
    app
}

/// Every file under `dir` but the filler, relative to it.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.retain(|f| f != FILLER);
    out.sort();
    out
}

const FILLER: &str = "filler.bin";

/// The store and the rows agree: each file is a row's original or thumbnail, each row's files are there,
/// and each original is byte for byte the photo its row describes (size, SHA-256), each thumbnail a JPEG of
/// its row's size. Returns the number of photo rows.
async fn assert_store_matches_rows(pool: &PgPool, dir: &Path) -> usize {
    let rows: Vec<(Vec<u8>, i32, String, String, i32, i32)> = sqlx::query_as(
        "select sha256, bytes, original_key, thumbnail_key, thumbnail_width, thumbnail_height from photo",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut named: Vec<String> = Vec::new();
    for (sha256, bytes, original_key, thumbnail_key, thumbnail_width, thumbnail_height) in &rows {
        let original = std::fs::read(dir.join(original_key))
            .unwrap_or_else(|e| panic!("the row's original {original_key} is not in the store: {e}"));
        assert_eq!(original.len(), *bytes as usize, "{original_key}: size");
        assert_eq!(sha256_hex(&original), hex::encode(sha256), "{original_key}: SHA-256");
        let thumbnail = std::fs::read(dir.join(thumbnail_key))
            .unwrap_or_else(|e| panic!("the row's thumbnail {thumbnail_key} is not in the store: {e}"));
        let decoded = image::load_from_memory_with_format(&thumbnail, image::ImageFormat::Jpeg)
            .unwrap_or_else(|e| panic!("{thumbnail_key} is not a whole JPEG: {e}"));
        assert_eq!((decoded.width() as i32, decoded.height() as i32), (*thumbnail_width, *thumbnail_height));
        named.push(original_key.clone());
        named.push(thumbnail_key.clone());
    }
    named.sort();
    named.dedup();
    // No file that no row names: no orphan of the failed upload, no staging file (`…#1`) left by the store.
    assert_eq!(files(dir), named, "the files in the store are exactly the rows' files");
    rows.len()
}

/// Bytes free on the file system of `dir`, as `df` says.
fn available_bytes(dir: &Path) -> u64 {
    let out = Command::new("df").args(["--output=avail", "-B1"]).arg(dir).output().expect("cannot run df");
    String::from_utf8_lossy(&out.stdout).lines().nth(1).and_then(|l| l.trim().parse().ok()).expect("df's answer")
}

#[sqlx::test]
async fn a_full_photo_store_refuses_the_upload_with_507_and_keeps_nothing_half_written(pool: PgPool) {
    let store = Tmpfs::mount("2m");
    let app = app_on(pool.clone(), store.path()).await;

    // Observations with a photo of about 100 KB are recorded while there is room.
    let mut recorded: i64 = 0;
    for seed in 0..3 {
        let photo = camera_photo(640, 480, seed);
        let mut obs = observation("spot", json!([120.55, 31.87]));
        obs["photo_sha256"] = json!([sha256_hex(&photo)]);
        let answer = app.upload(&obs, &[&photo]).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.detail());
        recorded += 1;
    }

    // Then the store fills up (another program's file, say) until 64 KiB are left: an observation's first,
    // small photo fits, its second does not. The first's files were written when the store ran out: they
    // are the ones that must not stay behind.
    let free = available_bytes(store.path());
    std::fs::write(store.path().join(FILLER), vec![7u8; (free - 64 * 1024) as usize]).unwrap();
    let photos = [camera_photo(96, 72, 100), camera_photo(640, 480, 101)];
    assert!(photos[0].len() < 16 * 1024 && photos[1].len() > 64 * 1024, "{} {}", photos[0].len(), photos[1].len());
    let mut obs = observation("spot", json!([120.55, 31.87]));
    obs["photo_sha256"] = json!([sha256_hex(&photos[0]), sha256_hex(&photos[1])]);
    let answer = app.upload(&obs, &[&photos[0], &photos[1]]).await;
    assert_eq!(answer.status, StatusCode::INSUFFICIENT_STORAGE, "{}", answer.detail());
    assert_eq!(answer.headers["content-type"], "application/problem+json");
    assert!(answer.detail().contains("the photo store is full"), "{}", answer.detail());
    assert!(answer.detail().contains("administrator"), "{}", answer.detail());

    // Nothing of the refused upload is recorded, and nothing of it is left in the store: no file of either
    // photo, no staging file; every earlier row still has its files, whole.
    assert_eq!(app.count("observation").await, recorded);
    assert_eq!(assert_store_matches_rows(&pool, store.path()).await, recorded as usize);
    for photo in &photos {
        let sha = sha256_hex(photo);
        assert!(!files(store.path()).iter().any(|f| f.contains(&sha)), "a file of the refused upload is left");
    }

    // The administrator makes room; the phone sends the same observation again, and it is recorded.
    std::fs::remove_file(store.path().join(FILLER)).unwrap();
    let again = app.upload(&obs, &[&photos[0], &photos[1]]).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.detail());
    assert_eq!(again.json()["observation"]["id"], obs["id"]);
    assert_eq!(app.count("observation").await, recorded + 1);
    assert_eq!(assert_store_matches_rows(&pool, store.path()).await, recorded as usize + 2);
}

/// `out_of_space` finds the full disk in the store's error, whatever wraps it.
#[tokio::test]
async fn the_store_says_a_full_disk_as_such() {
    let store = Tmpfs::mount("64k");
    let photos = PhotoStore::local(store.path()).unwrap();
    let error = photos.put("original/ab/big.jpg", bytes::Bytes::from(vec![1u8; 256 * 1024])).await.unwrap_err();
    assert!(roadledger::photos::out_of_space(&error), "{error:?}");
    // The store staged the file and removed it: nothing is left of the failed write.
    assert_eq!(files(store.path()), Vec::<String>::new());
    let other = photos.get("original/ab/none.jpg").await.unwrap_err();
    assert!(!roadledger::photos::out_of_space(&other));
}
