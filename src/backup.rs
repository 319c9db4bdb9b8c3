//! `roadledger backup` and `roadledger restore`: the database as one `pg_dump` snapshot plus every photo, with a
//! manifest of SHA-256 hashes that a restore checks before it changes anything.
//!
//! A backup is a directory:
//!
//! - `database.dump`: `pg_dump --format=custom` of the whole database, taken in one snapshot;
//! - `photos/KEY`: every object of the photo store under its own key (`original/ab/abcd….jpg`,
//!   `thumbnail/ab/abcd….jpg`);
//! - `manifest.json`, written last (a directory without it is a backup that did not finish): the release that
//!   wrote it, the schema's latest migration, the time, and every file's size and SHA-256.
//!
//! A restore goes only into an empty database and an empty photo store: it checks every hash first, then runs
//! `pg_restore` in one transaction, copies the photos back, and migrates the database to this release.
//!
//! The photo store is read and written through `PhotoStore` only (list, get, put), so a backup of a local
//! directory restores into an S3 bucket and the other way round: the backup directory's layout is the same.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use crate::embedded_pg::client_program;
use crate::photos::PhotoStore;

/// The manifest's file name in a backup directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The database archive's file name in a backup directory.
pub const DUMP_FILE: &str = "database.dump";
/// The folder of the photo files in a backup directory.
pub const PHOTOS_DIR: &str = "photos";
/// The layout of a backup directory; a restore refuses layouts it does not know.
const FORMAT: u32 = 1;

/// `manifest.json`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub format: u32,
    /// The `roadledger` release that wrote the backup.
    pub roadledger_version: String,
    /// The database's latest applied migration, as of the dump's snapshot.
    pub schema_migration: Migration,
    pub created_at: DateTime<Utc>,
    /// `database.dump`.
    pub database: FileEntry,
    /// Every photo file, sorted by key.
    pub photos: Vec<PhotoEntry>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    pub version: i64,
    pub description: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Path inside the backup directory.
    pub file: String,
    pub bytes: u64,
    /// Lowercase hex.
    pub sha256: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PhotoEntry {
    /// The key in the photo store; the file is `photos/KEY` in the backup directory.
    pub key: String,
    pub bytes: u64,
    /// Lowercase hex. For an original it is the hash its key names; a thumbnail's key names its original's.
    pub sha256: String,
}

impl Manifest {
    /// Bytes of the dump and the photos together.
    pub fn total_bytes(&self) -> u64 {
        self.database.bytes + self.photos.iter().map(|p| p.bytes).sum::<u64>()
    }
}

/// Backs up the database at `database_url` (a libpq-style URL: it is handed to `pg_dump` as is) and the photo
/// store into `dir`, which must be missing or empty. Works while the server runs.
pub async fn backup(database_url: &str, photos: &PhotoStore, dir: &Path) -> anyhow::Result<Manifest> {
    let existed = check_empty_dir(dir)?;
    let result = backup_into(database_url, photos, dir).await;
    if result.is_err() {
        // A failed backup leaves nothing behind, so the next run (a timer's) can use the same directory and no
        // half-written directory is mistaken for a backup. `dir` was empty or missing: all in it is ours.
        let cleanup = if existed { empty_dir(dir) } else { std::fs::remove_dir_all(dir) };
        if let Err(e) = cleanup {
            tracing::warn!(dir = %dir.display(), error = %e, "could not remove the failed backup's files");
        }
    }
    result
}

/// Every photo-store key a row names: observation and evidence photos, detection images and public reports'
/// photos (the original, its public copy, the thumbnail), of the tables this database has.
async fn referenced_files(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>) -> anyhow::Result<Vec<String>> {
    const SOURCES: &[(&str, &str)] = &[
        ("photo", "select unnest(array[original_key, thumbnail_key]) from photo"),
        ("detection", "select unnest(array[image_key, thumbnail_key]) from detection where image_key is not null"),
        (
            "public_report_photo",
            "select unnest(array[original_key, public_key, thumbnail_key]) from public_report_photo",
        ),
    ];
    let mut keys = Vec::new();
    for (table, query) in SOURCES {
        let present: bool =
            sqlx::query_scalar("select to_regclass($1) is not null").bind(table).fetch_one(&mut **tx).await?;
        if present {
            keys.extend(sqlx::query_scalar::<_, String>(query).fetch_all(&mut **tx).await?);
        }
    }
    Ok(keys)
}

async fn backup_into(database_url: &str, photos: &PhotoStore, dir: &Path) -> anyhow::Result<Manifest> {
    std::fs::create_dir_all(dir.join(PHOTOS_DIR)).with_context(|| format!("cannot create {}", dir.display()))?;
    let options: PgConnectOptions = database_url.parse().context("the database URL is not a PostgreSQL URL")?;
    let mut conn = PgConnection::connect_with(&options).await.context("cannot connect to the database")?;

    // One snapshot for the dump and for what this function reads: the transaction exports its snapshot to
    // pg_dump (`--snapshot`) and stays open, so the snapshot stays valid, until pg_dump is done.
    let mut tx = conn.begin().await?;
    sqlx::query("set transaction isolation level repeatable read, read only").execute(&mut *tx).await?;
    let snapshot: String = sqlx::query_scalar("select pg_export_snapshot()").fetch_one(&mut *tx).await?;
    let schema_migration = latest_migration(&mut tx).await?;
    // The files the dump's rows name. Unchecked (runtime) SQL: the backup reads what this database has, which may be
    // an older schema than the one `.sqlx/` describes (photo and its two keys are there since migration 0001;
    // detection images since 0013, public report photos since 0018).
    let referenced = referenced_files(&mut tx).await?;

    let dump_path = dir.join(DUMP_FILE);
    let mut pg_dump = tokio::process::Command::new(client_program("pg_dump"));
    pg_dump
        .args(["--format=custom", "--no-password"])
        .arg(format!("--snapshot={snapshot}"))
        .arg("--file")
        .arg(&dump_path)
        .arg(format!("--dbname={database_url}"));
    run(pg_dump, "pg_dump").await?;
    tx.rollback().await?;
    conn.close().await?;
    let (bytes, sha256) = hash_file(&dump_path).await?;
    let database = FileEntry { file: DUMP_FILE.into(), bytes, sha256 };

    // Photos after the dump. Photos are content-addressed and never deleted or changed in place, and an upload
    // stores its files (`http::uploads`) before the transaction that inserts its photo rows commits; so every file a row in the
    // dump names was in the store when the snapshot was taken, and is still there now. Photos uploaded since
    // are copied too (files no row names yet: harmless). The check below holds us to that reasoning.
    let photo_entries = copy_photos_out(photos, &dir.join(PHOTOS_DIR)).await?;
    let copied: BTreeSet<&str> = photo_entries.iter().map(|p| p.key.as_str()).collect();
    // Rows share files (the same photo sent with two observations): each missing file is counted once.
    let missing: BTreeSet<&str> = referenced.iter().map(String::as_str).filter(|key| !copied.contains(key)).collect();
    if let Some(first) = missing.first() {
        bail!(
            "{} photo file(s) that the database names are not in the photo store, e.g. {first}: no backup was \
             written (was the right --photo-dir or --photo-store given?)",
            missing.len()
        );
    }

    let manifest = Manifest {
        format: FORMAT,
        roadledger_version: env!("CARGO_PKG_VERSION").into(),
        schema_migration,
        created_at: Utc::now(),
        database,
        photos: photo_entries,
    };
    // Written last, and by rename: a manifest present means a finished backup.
    let partial = dir.join(format!("{MANIFEST_FILE}.partial"));
    tokio::fs::write(&partial, serde_json::to_vec_pretty(&manifest)?).await?;
    tokio::fs::rename(&partial, dir.join(MANIFEST_FILE)).await?;
    tracing::info!(
        dir = %dir.display(),
        photos = manifest.photos.len(),
        bytes = manifest.total_bytes(),
        migration = manifest.schema_migration.version,
        "backup written"
    );
    Ok(manifest)
}

/// Restores the backup in `dir` into the empty database at `database_url` and the empty photo store, then
/// migrates the database to this release. Nothing is changed unless every file matches the manifest.
pub async fn restore(dir: &Path, database_url: &str, photos: &PhotoStore) -> anyhow::Result<Manifest> {
    let manifest = verify(dir).await?;
    let known = crate::db::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
    if manifest.schema_migration.version > known {
        bail!(
            "the backup's schema is at migration {} ({}), newer than this release knows ({known}): restore it with \
             roadledger {} or later",
            manifest.schema_migration.version,
            manifest.schema_migration.description,
            manifest.roadledger_version
        );
    }
    let options: PgConnectOptions = database_url.parse().context("the database URL is not a PostgreSQL URL")?;
    let mut conn = PgConnection::connect_with(&options).await.context("cannot connect to the database")?;
    check_database_empty(&mut conn).await?;
    if let Some(key) = photos.any_key().await.context("cannot list the photo store")? {
        bail!("the photo store is not empty (it has {key}): a restore goes only into an empty photo store");
    }

    restore_dump(&dir.join(&manifest.database.file), database_url).await?;

    // From here on the database holds the backup: a failure leaves a half-restored target, which must be emptied
    // (a new database and photo store) before a new try, since a restore goes only into an empty one.
    copy_photos_in(dir, &manifest, photos, &mut conn).await.context(
        "the database was restored but the restore did not finish: empty the database and the photo store (or use a \
         new --data-dir) before restoring again",
    )?;
    conn.close().await?;
    tracing::info!(dir = %dir.display(), photos = manifest.photos.len(), "backup restored");
    Ok(manifest)
}

/// The photos back into the store, then the migrations of this release: a backup from an older one is upgraded.
async fn copy_photos_in(
    dir: &Path,
    manifest: &Manifest,
    photos: &PhotoStore,
    conn: &mut PgConnection,
) -> anyhow::Result<()> {
    for photo in &manifest.photos {
        let file = dir.join(PHOTOS_DIR).join(&photo.key);
        let bytes =
            Bytes::from(tokio::fs::read(&file).await.with_context(|| format!("cannot read {}", file.display()))?);
        // Checked again as it is copied: the files could have changed since `verify`.
        check_photo(photo, &bytes)?;
        photos.put(&photo.key, bytes).await.with_context(|| format!("cannot store photo {}", photo.key))?;
    }
    crate::db::MIGRATOR.run(conn).await.context("the restored database could not be migrated")?;
    Ok(())
}

/// Reads the manifest and checks every file it lists, size and SHA-256, and that each original's content is the
/// hash its key names. The error names the first file that does not match.
pub async fn verify(dir: &Path) -> anyhow::Result<Manifest> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let text = match tokio::fs::read(&manifest_path).await {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{} has no {MANIFEST_FILE}: it is not a backup, or a backup that did not finish", dir.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", manifest_path.display())),
    };
    let manifest: Manifest = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not a backup manifest", manifest_path.display()))?;
    if manifest.format != FORMAT {
        bail!("{} is a backup of format {}; this release reads format {FORMAT}", dir.display(), manifest.format);
    }
    if manifest.database.file != DUMP_FILE {
        bail!("the manifest names the database file {:?}, expected {DUMP_FILE}", manifest.database.file);
    }
    let dump_path = dir.join(DUMP_FILE);
    let (bytes, sha256) =
        hash_file(&dump_path).await.with_context(|| format!("the backup is incomplete: {DUMP_FILE}"))?;
    if (bytes, sha256.as_str()) != (manifest.database.bytes, manifest.database.sha256.as_str()) {
        bail!(
            "the backup is damaged: {DUMP_FILE} has {bytes} bytes with SHA-256 {sha256}, the manifest says {} bytes \
             with SHA-256 {}",
            manifest.database.bytes,
            manifest.database.sha256
        );
    }
    for photo in &manifest.photos {
        check_key(&photo.key)?;
        let file = dir.join(PHOTOS_DIR).join(&photo.key);
        let bytes = match tokio::fs::read(&file).await {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                bail!("the backup is incomplete: {PHOTOS_DIR}/{} is missing", photo.key)
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", file.display())),
        };
        check_photo(photo, &bytes)?;
    }
    Ok(manifest)
}

/// The photo's bytes against its manifest entry, and an original against its content-addressed key.
fn check_photo(photo: &PhotoEntry, bytes: &[u8]) -> anyhow::Result<()> {
    let sha256 = hex::encode(Sha256::digest(bytes));
    if bytes.len() as u64 != photo.bytes || sha256 != photo.sha256 {
        bail!(
            "the backup is damaged: {PHOTOS_DIR}/{} has {} bytes with SHA-256 {sha256}, the manifest says {} bytes \
             with SHA-256 {}",
            photo.key,
            bytes.len(),
            photo.bytes,
            photo.sha256
        );
    }
    check_content_address(&photo.key, &sha256)
}

/// An original's key names the SHA-256 of its content (`original/ab/abcd….jpg`); a thumbnail's key names its
/// original's, so only originals can be checked this way.
fn check_content_address(key: &str, sha256: &str) -> anyhow::Result<()> {
    if let Some(name) = key.strip_prefix("original/").and_then(|rest| rest.rsplit('/').next()) {
        let named = name.split('.').next().unwrap_or_default();
        if !named.eq_ignore_ascii_case(sha256) {
            bail!("photo {key}: its content's SHA-256 is {sha256}, not the hash its key names: the file is damaged");
        }
    }
    Ok(())
}

/// A key becomes a path under the backup directory and back: plain segments only (no `..`, no absolute paths),
/// as the photo store writes them.
fn check_key(key: &str) -> anyhow::Result<()> {
    let fine = !key.is_empty()
        && key.split('/').all(|segment| {
            !segment.is_empty()
                && segment != "."
                && segment != ".."
                && segment.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        });
    if !fine {
        bail!("the manifest names a photo key that cannot be a photo store key: {key:?}");
    }
    Ok(())
}

/// Refuses `dir` unless it is missing or an empty directory; says whether it exists.
fn check_empty_dir(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => match entries.next() {
            None => Ok(true),
            Some(entry) => bail!(
                "{} is not empty (it has {}): back up into a new or empty directory",
                dir.display(),
                entry?.file_name().to_string_lossy()
            ),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", dir.display())),
    }
}

fn empty_dir(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() { std::fs::remove_dir_all(&path)? } else { std::fs::remove_file(&path)? }
    }
    Ok(())
}

async fn latest_migration(conn: &mut PgConnection) -> anyhow::Result<Migration> {
    let row: Option<(i64, String)> =
        sqlx::query_as("select version, description from _sqlx_migrations where success order by version desc limit 1")
            .fetch_optional(conn)
            .await
            .context("the database has no RoadLedger schema (no _sqlx_migrations table)")?;
    let (version, description) = row.context("the database has no RoadLedger migration applied")?;
    Ok(Migration { version, description })
}

/// Copies every object of the store into `out/KEY`, checking each original against its key on the way.
async fn copy_photos_out(photos: &PhotoStore, out: &Path) -> anyhow::Result<Vec<PhotoEntry>> {
    let keys = photos.keys().await.context("cannot list the photo store")?;
    let mut entries = Vec::with_capacity(keys.len());
    // One at a time: a local store is disk-bound, and this keeps at most one photo (≤ 15 MiB) in memory.
    for key in keys {
        check_key(&key).with_context(|| format!("the photo store has a key that cannot be backed up: {key:?}"))?;
        let bytes = photos.get(&key).await.with_context(|| format!("cannot read photo {key}"))?;
        let sha256 = hex::encode(Sha256::digest(&bytes));
        check_content_address(&key, &sha256)
            .with_context(|| format!("the photo store's copy of {key} is damaged; nothing was backed up past it"))?;
        let path = out.join(&key);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await?;
        }
        tokio::fs::write(&path, &bytes).await.with_context(|| format!("cannot write {}", path.display()))?;
        entries.push(PhotoEntry { key, bytes: bytes.len() as u64, sha256 });
    }
    Ok(entries)
}

/// Refuses a database with any table of its own (tables of extensions, such as PostGIS's `spatial_ref_sys`,
/// come with every database made from a template that has the extension).
async fn check_database_empty(conn: &mut PgConnection) -> anyhow::Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select format('%I.%I', n.nspname, c.relname)
         from pg_class c
         join pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('r', 'p')
           and n.nspname not in ('pg_catalog', 'information_schema')
           and n.nspname not like 'pg\\_toast%'
           and not exists (select from pg_depend d
                           where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e')
         order by 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    if tables.is_empty() {
        return Ok(());
    }
    // Name a table with rows when there is one: that is what an operator recognises.
    for table in &tables {
        // The name comes from the catalogue, quoted by format('%I'): not user input.
        let has_rows: bool =
            sqlx::query_scalar(&format!("select exists (select from {table})")).fetch_one(&mut *conn).await?;
        if has_rows {
            bail!(
                "the database is not empty: table {table} has rows ({} tables in all); a restore goes only into an \
                 empty database (create one, or use a new --data-dir)",
                tables.len()
            );
        }
    }
    bail!(
        "the database is not empty: it has {} tables (e.g. {}), though no rows; a restore goes only into an empty \
         database (create one, or use a new --data-dir)",
        tables.len(),
        tables[0]
    )
}

/// `pg_restore` in one transaction: all of the dump or nothing.
async fn restore_dump(dump: &Path, database_url: &str) -> anyhow::Result<()> {
    // The archive's table of contents, less `COMMENT ON EXTENSION`: only the extension's owner may comment on it,
    // and the target's PostGIS may belong to another role (it may come from the template database).
    let output = tokio::process::Command::new(client_program("pg_restore"))
        .arg("--list")
        .arg(dump)
        .output()
        .await
        .context("cannot run pg_restore")?;
    if !output.status.success() {
        bail!("pg_restore --list failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    let list: String = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| !line.contains(" COMMENT - EXTENSION "))
        .flat_map(|line| [line, "\n"])
        .collect();
    let list_file = tempfile::NamedTempFile::new()?;
    std::fs::write(list_file.path(), list)?;

    let mut pg_restore = tokio::process::Command::new(client_program("pg_restore"));
    pg_restore
        // Objects belong to the role that restores: the target's roles need not be the source's.
        .args(["--exit-on-error", "--single-transaction", "--no-owner", "--no-acl", "--no-password"])
        .arg("--use-list")
        .arg(list_file.path())
        .arg(format!("--dbname={database_url}"))
        .arg(dump);
    run(pg_restore, "pg_restore").await
}

/// Runs a PostgreSQL client program; its standard error is the message when it fails.
async fn run(mut command: tokio::process::Command, name: &str) -> anyhow::Result<()> {
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .with_context(|| format!("cannot run {name} (install the PostgreSQL client programs)"))?;
    if !output.status.success() {
        bail!("{name} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// Size and SHA-256 of a file, read in blocks on the blocking pool (a dump may be gigabytes).
async fn hash_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let path: PathBuf = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut file = std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            bytes += n as u64;
        }
        Ok((bytes, hex::encode(hasher.finalize())))
    })
    .await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_plain_relative_paths() {
        assert!(check_key("original/ab/abcd.jpg").is_ok());
        assert!(check_key("thumbnail/ab/abcd.jpg").is_ok());
        for bad in ["", "/etc/passwd", "original/../../x", "original//x", "./x", "a/b\\c", "original/ab/é.jpg"] {
            assert!(check_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_original_must_hash_to_its_key() {
        let sha = hex::encode(Sha256::digest(b"photo"));
        assert!(check_content_address(&format!("original/{}/{sha}.jpg", &sha[..2]), &sha).is_ok());
        let other = hex::encode(Sha256::digest(b"other"));
        let err = check_content_address(&format!("original/{}/{sha}.jpg", &sha[..2]), &other).unwrap_err();
        assert!(err.to_string().contains(&sha), "{err}");
        // A thumbnail's key names its original, not itself.
        assert!(check_content_address(&format!("thumbnail/{}/{sha}.jpg", &sha[..2]), &other).is_ok());
    }
}
