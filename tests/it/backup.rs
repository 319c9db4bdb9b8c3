//! The restore drill: the demo backed up with the real `roadledger backup`, restored with `roadledger restore`
//! into a fresh database and photo directory, and compared with the original table by table, row by row, and
//! photo by photo, byte for byte. Then the refusals: a tampered backup, a database that is not empty.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use roadledger::backup::{self, Manifest};
use roadledger::photos::PhotoStore;
use sqlx::PgPool;

const BIN: &str = env!("CARGO_BIN_EXE_roadledger");

#[sqlx::test(migrations = "./migrations")]
async fn restore_drill_the_demo_comes_back_row_for_row_and_byte_for_byte(pool: PgPool) {
    // Arrange: the demo in this test's database, with its photos in a directory of its own.
    let photo_dir = tempfile::tempdir().unwrap();
    let photos = PhotoStore::local(photo_dir.path()).unwrap();
    roadledger::demo::load_if_empty(&pool, &photos).await.unwrap();
    let source_url = database_url(&pool, None);
    let work = tempfile::tempdir().unwrap();
    let backup_dir = work.path().join("backup");

    // Act: back up, as an operator's timer would.
    let started = Instant::now();
    let out = roadledger(&["backup", path(&backup_dir)], &source_url, photo_dir.path());
    let elapsed = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest: Manifest =
        serde_json::from_slice(&std::fs::read(backup_dir.join(backup::MANIFEST_FILE)).unwrap()).unwrap();
    eprintln!(
        "backup of the demo: {:.1} s, {} bytes ({} dumped, {} photo files)",
        elapsed.as_secs_f64(),
        manifest.total_bytes(),
        manifest.database.bytes,
        manifest.photos.len()
    );
    let latest = roadledger::db::MIGRATOR.iter().map(|m| m.version).max().unwrap();
    assert_eq!(manifest.schema_migration.version, latest);
    assert_eq!(manifest.roadledger_version, env!("CARGO_PKG_VERSION"));
    let photo_rows: i64 = sqlx::query_scalar("select count(*) from photo").fetch_one(&pool).await.unwrap();
    assert!(photo_rows > 0);
    // Every photo file of the store is in the manifest, with its own hash.
    let source_files = files(photo_dir.path());
    assert_eq!(manifest.photos.len(), source_files.len());
    for entry in &manifest.photos {
        let bytes = &source_files[&entry.key];
        assert_eq!((entry.bytes, entry.sha256.as_str()), (bytes.len() as u64, sha256(bytes).as_str()), "{}", entry.key);
    }

    // A backup goes only into a new or empty directory.
    let again = roadledger(&["backup", path(&backup_dir)], &source_url, photo_dir.path());
    assert!(!again.status.success());
    assert!(stderr(&again).contains("is not empty"), "{}", stderr(&again));

    // Restore into a fresh database on the same cluster and a fresh photo directory.
    let fresh = Scratch::create(&pool, "restored").await;
    let restored_photos = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = roadledger(&["restore", path(&backup_dir)], &fresh.url, restored_photos.path());
    assert!(out.status.success(), "{}", stderr(&out));
    eprintln!("restore of the demo: {:.1} s", started.elapsed().as_secs_f64());

    // Assert: every table of the public schema, row by row, and every photo file, byte for byte.
    let restored = PgPool::connect(&fresh.url).await.unwrap();
    let before = table_digests(&pool).await;
    let after = table_digests(&restored).await;
    assert!(before.contains_key("photo") && before.contains_key("site_event"), "{:?}", before.keys());
    assert_eq!(before.keys().collect::<Vec<_>>(), after.keys().collect::<Vec<_>>(), "the same tables");
    for (table, digest) in &before {
        assert_eq!(&after[table], digest, "table {table} differs after the restore");
    }
    assert!(files(restored_photos.path()) == source_files, "the restored photo files differ from the originals");
    restored.close().await;

    // Refused: a restore into a database that is not empty (here the demo's own), naming a table with rows.
    let into_source = roadledger(&["restore", path(&backup_dir)], &source_url, work.path().join("empty").as_path());
    assert!(!into_source.status.success());
    assert!(stderr(&into_source).contains("the database is not empty: table public."), "{}", stderr(&into_source));
    // … and into an empty database with a photo store that has files.
    let empty = Scratch::create(&pool, "empty").await;
    let into_photos = roadledger(&["restore", path(&backup_dir)], &empty.url, restored_photos.path());
    assert!(stderr(&into_photos).contains("the photo store is not empty"), "{}", stderr(&into_photos));

    // Refused: a tampered photo (one byte changed), named, and nothing written to the target.
    let thumbnail = manifest.photos.iter().find(|p| p.key.starts_with("thumbnail/")).unwrap();
    let file = backup_dir.join(backup::PHOTOS_DIR).join(&thumbnail.key);
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let target_photos = work.path().join("target-photos");
    let tampered = roadledger(&["restore", path(&backup_dir)], &empty.url, &target_photos);
    assert!(!tampered.status.success());
    let message = stderr(&tampered);
    assert!(message.contains(&format!("the backup is damaged: photos/{}", thumbnail.key)), "{message}");
    let empty_pool = PgPool::connect(&empty.url).await.unwrap();
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from pg_tables where schemaname = 'public' and tablename <> 'spatial_ref_sys'",
    )
    .fetch_one(&empty_pool)
    .await
    .unwrap();
    assert_eq!(tables, 0, "a refused restore changes nothing");
    assert!(files(&target_photos).is_empty());
    empty_pool.close().await;

    // Refused: a partial backup, one photo file gone.
    std::fs::remove_file(&file).unwrap();
    let partial = roadledger(&["restore", path(&backup_dir)], &empty.url, &target_photos);
    assert!(
        stderr(&partial).contains(&format!("the backup is incomplete: photos/{} is missing", thumbnail.key)),
        "{}",
        stderr(&partial)
    );

    // A backup refuses a photo store whose original does not hash to its key, naming it, and leaves nothing.
    let original = manifest.photos.iter().find(|p| p.key.starts_with("original/")).unwrap();
    let stored = photo_dir.path().join(&original.key);
    std::fs::write(&stored, b"not the photo").unwrap();
    let second = work.path().join("second");
    let damaged = roadledger(&["backup", path(&second)], &source_url, photo_dir.path());
    assert!(!damaged.status.success());
    assert!(
        stderr(&damaged).contains(&format!("the photo store's copy of {} is damaged", original.key)),
        "{}",
        stderr(&damaged)
    );
    assert!(!second.exists(), "a failed backup leaves nothing behind");
    // … and one that lacks a file a photo row names.
    std::fs::remove_file(&stored).unwrap();
    let lacking = roadledger(&["backup", path(&second)], &source_url, photo_dir.path());
    assert!(
        stderr(&lacking).contains(&format!(
            "1 photo file(s) that the database names are not in the photo store, e.g. {}",
            original.key
        )),
        "{}",
        stderr(&lacking)
    );
    assert!(!second.exists());

    fresh.drop(&pool).await;
    empty.drop(&pool).await;
}

/// A database of its own on the test cluster, dropped by [`Scratch::drop`].
pub(crate) struct Scratch {
    name: String,
    pub(crate) url: String,
}

impl Scratch {
    pub(crate) async fn create(pool: &PgPool, suffix: &str) -> Scratch {
        let name = format!("backup_{suffix}_{}", uuid::Uuid::new_v4().simple());
        // The cluster's template1 has PostGIS, as a fresh server's database would after `create extension`.
        sqlx::query(&format!("create database {name}")).execute(pool).await.unwrap();
        Scratch { url: database_url(pool, Some(&name)), name }
    }

    pub(crate) async fn drop(self, pool: &PgPool) {
        sqlx::query(&format!("drop database {} with (force)", self.name)).execute(pool).await.unwrap();
    }
}

/// The test cluster's URL (DATABASE_URL) naming this pool's database, or another one on the same cluster.
pub(crate) fn database_url(pool: &PgPool, database: Option<&str>) -> String {
    let mut url = reqwest::Url::parse(&std::env::var("DATABASE_URL").expect("DATABASE_URL")).unwrap();
    let options = pool.connect_options();
    url.set_path(database.unwrap_or_else(|| options.get_database().unwrap()));
    url.to_string()
}

/// The real binary with a DATABASE_URL and a photo directory.
fn roadledger(args: &[&str], database_url: &str, photo_dir: &Path) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .arg("--photo-dir")
        .arg(photo_dir)
        .env("DATABASE_URL", database_url)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

pub(crate) fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub(crate) fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Each table of the public schema: its row count and the MD5 of its rows as text, in order.
pub(crate) async fn table_digests(pool: &PgPool) -> BTreeMap<String, (i64, Option<String>)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select format('%I', tablename) from pg_tables where schemaname = 'public' order by tablename",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut digests = BTreeMap::new();
    for table in tables {
        // Table names from the catalogue, quoted by format('%I').
        let digest: (i64, Option<String>) = sqlx::query_as(&format!(
            "select count(*), md5(string_agg(t::text, '|' order by t::text)) from public.{table} t"
        ))
        .fetch_one(pool)
        .await
        .unwrap();
        digests.insert(table, digest);
    }
    digests
}

/// Every file under `dir`, by its path relative to `dir` with `/` separators, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let key = path.strip_prefix(root).unwrap().to_str().unwrap().to_string();
                out.insert(key, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[sqlx::test(migrations = false)]
async fn a_backup_from_an_older_release_is_migrated_to_this_one_on_restore(pool: PgPool) {
    // Arrange: a database as an older release left it, with the migrations up to 0008 only.
    let older = tempfile::tempdir().unwrap();
    let mut sources: Vec<_> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    sources.sort();
    for source in sources.iter().filter(|p| p.file_name().unwrap().to_str().unwrap() < "0009") {
        std::fs::copy(source, older.path().join(source.file_name().unwrap())).unwrap();
    }
    sqlx::migrate::Migrator::new(older.path()).await.unwrap().run(&pool).await.unwrap();
    let photo_dir = tempfile::tempdir().unwrap();
    let photos = PhotoStore::local(photo_dir.path()).unwrap();
    let work = tempfile::tempdir().unwrap();

    // Act: back up and restore through the library, as the commands do.
    let written = backup::backup(&database_url(&pool, None), &photos, &work.path().join("b")).await.unwrap();
    let fresh = Scratch::create(&pool, "upgraded").await;
    let restored_photos = PhotoStore::local(&work.path().join("p")).unwrap();
    let read = backup::restore(&work.path().join("b"), &fresh.url, &restored_photos).await.unwrap();

    // Assert: the backup says 0008, and the restored database is at this release's latest migration.
    assert_eq!(written.schema_migration.version, 8);
    assert_eq!(read, written);
    let restored = PgPool::connect(&fresh.url).await.unwrap();
    let latest: i64 = sqlx::query_scalar("select max(version) from _sqlx_migrations where success")
        .fetch_one(&restored)
        .await
        .unwrap();
    assert_eq!(latest, roadledger::db::MIGRATOR.iter().map(|m| m.version).max().unwrap());
    // A column of migration 0009 is there.
    let columns: i64 = sqlx::query_scalar(
        "select count(*) from information_schema.columns where table_name = 'photo' and column_name = 'original_bytes'",
    )
    .fetch_one(&restored)
    .await
    .unwrap();
    assert_eq!(columns, 1);
    restored.close().await;
    fresh.drop(&pool).await;
}
