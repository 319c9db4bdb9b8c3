//! The embedded default database: a private PostgreSQL + PostGIS cluster under the data directory.
//!
//! When no `DATABASE_URL` is given, `roadledger serve` creates a cluster on first run (`initdb`), starts it
//! with `pg_ctl`, listening only on a unix socket in a private directory (no TCP port, nothing to clash
//! with), and stops it on shutdown. The PostgreSQL server refuses to run as root, so when we are root the
//! server runs as the `postgres` system user and its files belong to that user.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sqlx::postgres::PgConnectOptions;

/// Database and superuser name inside the private cluster.
const DB_NAME: &str = "roadledger";
const DB_USER: &str = "roadledger";
const DEBIAN_PACKAGE: &str = "postgresql-15-postgis-3";

/// A private cluster, started; call [`EmbeddedPg::stop`] on shutdown.
#[derive(Debug)]
pub struct EmbeddedPg {
    bin_dir: PathBuf,
    pg_data: PathBuf,
    socket_dir: PathBuf,
    run_as: Option<String>,
    /// Whether this process started the server (and so should stop it when done).
    pub started_here: bool,
}

impl EmbeddedPg {
    /// Creates the cluster under `data_dir/pg` if needed and starts it (a no-op when it already runs).
    pub fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = find_bin_dir()?;
        check_postgis(&bin_dir)?;
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
        let data_dir =
            data_dir.canonicalize().with_context(|| format!("cannot resolve data directory {}", data_dir.display()))?;
        let run_as = is_root().then(|| "postgres".to_string());
        let pg_data = cluster_dir(&data_dir, run_as.as_deref())?;
        // Unix socket paths are limited to ~107 bytes, so the socket lives in a short private directory
        // derived from the cluster path (stable across runs, distinct per cluster).
        let socket_dir = PathBuf::from(format!("/tmp/roadledger-{}", short_hash(&pg_data)));
        let mut pg = EmbeddedPg { bin_dir, pg_data, socket_dir, run_as, started_here: false };
        pg.prepare_dirs()?;
        let fresh = !pg.pg_data.join("PG_VERSION").exists();
        if fresh {
            pg.initdb()?;
        }
        if !pg.is_running() {
            pg.pg_ctl_start()?;
            pg.started_here = true;
        }
        if fresh {
            pg.bootstrap()?;
        }
        Ok(pg)
    }

    /// Connection options for the cluster's database over its unix socket.
    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::new().socket(&self.socket_dir).username(DB_USER).database(DB_NAME)
    }

    /// A `DATABASE_URL` for tools (psql, sqlx tests) that want one.
    pub fn url(&self) -> String {
        format!("postgres://{DB_USER}@localhost/{DB_NAME}?host={}", self.socket_dir.display())
    }

    pub fn pg_data(&self) -> &Path {
        &self.pg_data
    }

    /// Fast shutdown: active sessions are ended, committed data is safe.
    pub fn stop(&self) -> anyhow::Result<()> {
        let status = self
            .command("pg_ctl")
            .args(["stop", "-m", "fast", "-w", "-D"])
            .arg(&self.pg_data)
            .status()
            .context("cannot run pg_ctl stop")?;
        if !status.success() {
            bail!("pg_ctl stop failed for {}", self.pg_data.display());
        }
        Ok(())
    }

    fn is_running(&self) -> bool {
        self.command("pg_ctl")
            .arg("status")
            .arg("-D")
            .arg(&self.pg_data)
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn prepare_dirs(&self) -> anyhow::Result<()> {
        for dir in [&self.pg_data, &self.socket_dir] {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            set_mode(dir, 0o700)?;
            if let Some(user) = &self.run_as {
                let status = Command::new("chown")
                    .args([format!("{user}:{user}"), dir.display().to_string()])
                    .status()
                    .context("cannot run chown")?;
                if !status.success() {
                    bail!("cannot give {} to the {user} user", dir.display());
                }
            }
        }
        Ok(())
    }

    fn initdb(&self) -> anyhow::Result<()> {
        tracing::info!(pg_data = %self.pg_data.display(), "creating the embedded PostgreSQL cluster");
        // Only the unix socket in a 0700 directory accepts connections, so `trust` admits no one but us.
        let output = self
            .command("initdb")
            .args(["--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--username", DB_USER, "-D"])
            .arg(&self.pg_data)
            .output()
            .context("cannot run initdb")?;
        if !output.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        let mut conf = String::from("\n# roadledger embedded cluster\n");
        writeln!(conf, "listen_addresses = ''")?;
        writeln!(conf, "unix_socket_directories = '{}'", self.socket_dir.display())?;
        writeln!(conf, "max_connections = 100")?;
        writeln!(conf, "shared_buffers = 128MB")?;
        writeln!(conf, "fsync = on")?;
        let conf_path = self.pg_data.join("postgresql.conf");
        let mut existing = std::fs::read_to_string(&conf_path)?;
        existing.push_str(&conf);
        std::fs::write(&conf_path, existing)?;
        Ok(())
    }

    fn pg_ctl_start(&self) -> anyhow::Result<()> {
        let log = self.pg_data.join("server.log");
        let status = self
            .command("pg_ctl")
            .args(["start", "-w", "-t", "60", "-D"])
            .arg(&self.pg_data)
            .arg("-l")
            .arg(&log)
            // Options repeated on the command line so an old cluster's conf cannot point elsewhere.
            .arg("-o")
            .arg(format!("-c listen_addresses='' -c unix_socket_directories='{}'", self.socket_dir.display()))
            .stdout(std::process::Stdio::null())
            .status()
            .context("cannot run pg_ctl start")?;
        if !status.success() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(10).collect();
            bail!(
                "the embedded PostgreSQL did not start; last lines of {}:\n{}",
                log.display(),
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        Ok(())
    }

    /// PostGIS goes into `template1` first, so every database made later (tests included) has it.
    fn bootstrap(&self) -> anyhow::Result<()> {
        self.psql("template1", "create extension if not exists postgis")?;
        self.psql("postgres", &format!("create database {DB_NAME}"))?;
        Ok(())
    }

    fn psql(&self, db: &str, sql: &str) -> anyhow::Result<()> {
        let output = self
            .command("psql")
            .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-U", DB_USER, "-h"])
            .arg(&self.socket_dir)
            .args(["-d", db, "-c", sql])
            .output()
            .context("cannot run psql")?;
        if !output.status.success() {
            bail!("psql failed ({sql}): {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(())
    }

    /// A PostgreSQL program, run as the server's user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(path);
                cmd
            }
            None => Command::new(path),
        }
    }
}

/// `ROADLEDGER_PG_BIN_DIR` if set, else the newest `/usr/lib/postgresql/N/bin` with `initdb`, else the
/// directory named by `pg_config --bindir`.
fn find_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("ROADLEDGER_PG_BIN_DIR") {
        let dir = PathBuf::from(dir);
        if dir.join("initdb").exists() {
            return Ok(dir);
        }
        bail!(
            "ROADLEDGER_PG_BIN_DIR={} has no initdb. Install PostgreSQL with PostGIS: \
             `apt-get install -y {DEBIAN_PACKAGE}` (Debian package {DEBIAN_PACKAGE})",
            dir.display()
        );
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    candidates.sort();
    if let Some((_, bin)) = candidates.pop() {
        return Ok(bin);
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if bin.join("initdb").exists() {
            return Ok(bin);
        }
    }
    bail!(
        "PostgreSQL server programs (initdb, pg_ctl) were not found. Install them with \
         `apt-get install -y {DEBIAN_PACKAGE}` (Debian package {DEBIAN_PACKAGE}), or set DATABASE_URL \
         to use an existing PostgreSQL + PostGIS server"
    )
}

/// A PostgreSQL client program (`pg_dump`, `pg_restore`): from `ROADLEDGER_PG_BIN_DIR`, else the newest
/// `/usr/lib/postgresql/N/bin` that has it (a `pg_dump` reads servers of its own major version and older), else
/// the one on the `PATH`.
pub fn client_program(program: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("ROADLEDGER_PG_BIN_DIR") {
        return PathBuf::from(dir).join(program);
    }
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, e.path().join("bin").join(program)))
        })
        .filter(|(_, path)| path.exists())
        .collect();
    candidates.sort();
    candidates.pop().map_or_else(|| PathBuf::from(program), |(_, path)| path)
}

fn check_postgis(bin_dir: &Path) -> anyhow::Result<()> {
    // /usr/lib/postgresql/15/bin -> /usr/share/postgresql/15/extension/postgis.control
    let version =
        bin_dir.parent().and_then(|p| p.file_name()).map(|v| v.to_string_lossy().into_owned()).unwrap_or_default();
    let control = PathBuf::from(format!("/usr/share/postgresql/{version}/extension/postgis.control"));
    if control.exists() {
        return Ok(());
    }
    bail!(
        "PostGIS for PostgreSQL {version} is not installed ({} is missing). Install it with \
         `apt-get install -y postgresql-{version}-postgis-3`",
        control.display()
    )
}

/// Where the cluster lives: `data_dir/pg`, unless we are root and the `postgres` user cannot reach it
/// (e.g. a checkout under a 0700 home directory); then a directory under /var/lib keyed by the data dir.
fn cluster_dir(data_dir: &Path, run_as: Option<&str>) -> anyhow::Result<PathBuf> {
    let preferred = data_dir.join("pg");
    let Some(user) = run_as else {
        return Ok(preferred);
    };
    let reachable = Command::new("runuser")
        .args(["-u", user, "--", "test", "-x"])
        .arg(data_dir)
        .status()
        .is_ok_and(|s| s.success());
    if reachable {
        return Ok(preferred);
    }
    let fallback = PathBuf::from(format!("/var/lib/roadledger/{}/pg", short_hash(data_dir)));
    tracing::warn!(
        data_dir = %data_dir.display(),
        cluster = %fallback.display(),
        "the postgres user cannot reach the data directory; keeping the database cluster elsewhere"
    );
    Ok(fallback)
}

fn short_hash(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
    hex::encode(&digest[..6])
}

fn is_root() -> bool {
    // Without libc: the effective uid is in /proc/self/status ("Uid: real effective saved fs").
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2).map(|uid| uid == "0"))
        })
        .unwrap_or(false)
}

fn set_mode(dir: &Path, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set permissions on {}", dir.display()))
}
