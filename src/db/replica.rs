//! The read replica (`--database-replica-url`): a hot standby in streaming replication that takes the heavy
//! reads — the map's tiles, the legend counts, the site list, the GIS and ledger exports, OGC API Features —
//! off the primary.
//!
//! Two rules, each held by a type rather than by care:
//!
//! - **Nothing writes to the replica.** The replica's pool never leaves this module as a `PgPool`: it is
//!   handed out only inside a [`ReadPool`], which the read-only functions of `db` take and no function that
//!   writes does (they take `&PgPool`, `&mut PgConnection` or a transaction of the primary). A handler cannot
//!   get a `PgPool` out of a `ReadPool`. Every read inside a write's decision (the lifecycle's locks, uploads,
//!   sessions, the `If-Match` versions) keeps reading the primary through `&PgPool`, in its transaction.
//! - **A read from the replica is never staler than one from the primary.** [`Replica::reader`] asks the
//!   primary for its WAL write position first, then lets the read go to the replica only once the replica has
//!   replayed past it. A transaction that committed before the request began has its commit record written
//!   (and flushed) below that position, so the replica's next snapshot sees it: a user who moves a site and
//!   then loads its tile or the legend sees the move. A replica further behind than [`WAIT_MAX`] gives the
//!   read to the primary, and the reads of the next [`BEHIND_REST`] too. Cached tiles are checked against the change log on the primary, never the replica
//!   (`http::tiles`), and a tile drawn on the replica carries the replica's snapshot, whose transaction ids are
//!   the primary's, so the same check stays exact.
//!
//! A replica that is down, unreachable, not a standby, or failing must not take the map down: its read goes to
//! the primary, a warning is logged, `roadledger_replica_fallbacks_total` counts it, and the replica is left
//! alone for [`REST`] before it is tried again (so an outage costs one probe per [`REST`], not one per
//! request). `/readyz` reports the replica's state without failing readiness.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::metrics::METRICS;

/// How long a read waits for the replica to replay up to the primary's position before it goes to the
/// primary. Streaming replication on a LAN replays within a millisecond or two; a replica further behind
/// than this is lagging, and the primary answers rather than the user waiting.
pub const WAIT_MAX: Duration = Duration::from_millis(50);
/// Between two looks at the replica's replay position while waiting.
const WAIT_STEP: Duration = Duration::from_millis(5);
/// One look at the replica (a connection included): a replica that does not answer within this is treated
/// as down. Shorter than the pool's 3 s acquire timeout, so a blackholed replica costs one read a second
/// every [`REST`], not every read three.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// After a failure, reads leave the replica alone this long.
pub const REST: Duration = Duration::from_secs(10);
/// After a read found the replica behind by more than [`WAIT_MAX`], reads leave it alone this long, so a
/// replica that lags for seconds (a burst of writes, a delayed standby) does not cost every read its wait.
pub const BEHIND_REST: Duration = Duration::from_secs(1);

/// Where a [`ReadPool`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Primary,
    Replica,
}

/// A pool that may be read and never written: the replica when it has caught up with the primary, else the
/// primary itself. Read-only functions of `db` take `impl Into<ReadPool>`, so a plain `&PgPool` of the
/// primary works too (tests, the command line, reads inside a write).
#[derive(Debug, Clone)]
pub struct ReadPool {
    read: PgPool,
    primary: PgPool,
    source: Source,
}

impl ReadPool {
    /// Reads on the primary.
    pub fn primary(pool: &PgPool) -> ReadPool {
        ReadPool { read: pool.clone(), primary: pool.clone(), source: Source::Primary }
    }

    pub fn source(&self) -> Source {
        self.source
    }

    /// The pool to read from. Only `db` sees it, and only its read-only functions use it.
    pub(in crate::db) fn pool(&self) -> &PgPool {
        &self.read
    }

    /// The primary, for the rare upkeep a read must do first (moving the grid counts to a new day,
    /// `site_cells::draw`) and for reading again after it.
    pub(in crate::db) fn primary_pool(&self) -> &PgPool {
        &self.primary
    }
}

impl From<&PgPool> for ReadPool {
    fn from(pool: &PgPool) -> ReadPool {
        ReadPool::primary(pool)
    }
}

impl From<&ReadPool> for ReadPool {
    fn from(reads: &ReadPool) -> ReadPool {
        reads.clone()
    }
}

/// The replica's pool and whether it is resting after a failure.
#[derive(Debug)]
pub struct Replica {
    pool: PgPool,
    started: Instant,
    /// Milliseconds since `started` until which reads leave the replica alone; 0: not resting.
    rest_until_ms: AtomicU64,
    /// Whether the rest is for lagging (reads are counted `behind`) rather than a failure (`down`).
    resting_behind: AtomicBool,
}

/// What a look at the replica found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// A standby that has replayed to within `lag_bytes` of the primary's write position.
    Streaming {
        lag_bytes: i64,
    },
    /// The server answers but is not in recovery: not a replica (a promoted standby, or a wrong URL).
    NotAStandby,
    Unreachable(String),
}

impl Replica {
    /// The replica's pool, connected lazily: a replica that is down when the server starts does not stop it.
    pub fn connect_lazy(options: PgConnectOptions) -> Replica {
        let pool = PgPoolOptions::new()
            .max_connections(super::POOL_CONNECTIONS_MAX)
            .acquire_timeout(super::ACQUIRE_TIMEOUT)
            .connect_lazy_with(super::without_jit(options));
        Replica::new(pool)
    }

    /// A replica over an existing pool (tests build theirs).
    pub fn new(pool: PgPool) -> Replica {
        Replica {
            pool,
            started: Instant::now(),
            rest_until_ms: AtomicU64::new(0),
            resting_behind: AtomicBool::new(false),
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn resting(&self) -> bool {
        self.now_ms() < self.rest_until_ms.load(Ordering::Relaxed)
    }

    /// Leaves the replica alone for [`REST`] after a failure, saying why once.
    pub fn rest(&self, why: &str) {
        let until = self.now_ms().saturating_add(REST.as_millis() as u64);
        self.resting_behind.store(false, Ordering::Relaxed);
        let before = self.rest_until_ms.swap(until, Ordering::Relaxed);
        METRICS.replica_up.set(0);
        if before <= self.now_ms() {
            tracing::warn!(why, rest_s = REST.as_secs(), "the read replica is not used: reads go to the primary");
        }
    }

    /// Leaves a lagging replica alone for [`BEHIND_REST`] (counted, not logged: lag comes and goes).
    fn rest_behind(&self) {
        self.resting_behind.store(true, Ordering::Relaxed);
        self.rest_until_ms.store(self.now_ms().saturating_add(BEHIND_REST.as_millis() as u64), Ordering::Relaxed);
    }

    /// The replica's replay position (bytes from 0/0), or None when it is not in recovery.
    async fn replayed(&self) -> Result<Option<i64>, String> {
        let probe = sqlx::query_scalar!(
            r#"select case when pg_is_in_recovery()
                      then coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0) end as "replayed""#
        )
        .fetch_one(&self.pool);
        match tokio::time::timeout(PROBE_TIMEOUT, probe).await {
            Ok(Ok(replayed)) => Ok(replayed),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", PROBE_TIMEOUT.as_millis())),
        }
    }

    /// A pool to read from for one request: the replica once it has replayed everything the primary had
    /// written when this was called, else the primary (see the module's notes). Fails only when the primary
    /// does not answer.
    pub async fn reader(&self, primary: &PgPool) -> sqlx::Result<ReadPool> {
        if self.resting() {
            if self.resting_behind.load(Ordering::Relaxed) {
                METRICS.replica_fallback_behind.inc();
            } else {
                METRICS.replica_fallback_down.inc();
            }
            return Ok(ReadPool::primary(primary));
        }
        let target = write_position(primary).await?;
        let deadline = Instant::now() + WAIT_MAX;
        loop {
            match self.replayed().await {
                Ok(Some(replayed)) if replayed >= target => {
                    METRICS.replica_up.set(1);
                    METRICS.replica_lag_bytes.set(0);
                    METRICS.replica_reads.inc();
                    return Ok(ReadPool { read: self.pool.clone(), primary: primary.clone(), source: Source::Replica });
                }
                Ok(Some(replayed)) => {
                    METRICS.replica_lag_bytes.set(target - replayed);
                    if Instant::now() >= deadline {
                        self.rest_behind();
                        METRICS.replica_fallback_behind.inc();
                        return Ok(ReadPool::primary(primary));
                    }
                    tokio::time::sleep(WAIT_STEP).await;
                }
                Ok(None) => {
                    self.rest("the replica is not in recovery: it is not a standby");
                    METRICS.replica_fallback_down.inc();
                    return Ok(ReadPool::primary(primary));
                }
                Err(why) => {
                    self.rest(&why);
                    METRICS.replica_fallback_down.inc();
                    return Ok(ReadPool::primary(primary));
                }
            }
        }
    }

    /// Runs `read` on [`Replica::reader`]'s pool; when the replica fails it (the replica went away between
    /// the check and the read, or a recovery conflict cancelled the statement), rests the replica and runs
    /// `read` again on the primary. A failure of the primary is the caller's.
    pub async fn read<T, F, Fut>(&self, primary: &PgPool, read: F) -> sqlx::Result<T>
    where
        F: Fn(ReadPool) -> Fut,
        Fut: Future<Output = sqlx::Result<T>>,
    {
        let reads = self.reader(primary).await?;
        if reads.source() == Source::Primary {
            return read(reads).await;
        }
        match read(reads).await {
            Err(e) if replica_trouble(&e) => {
                self.rest(&e.to_string());
                METRICS.replica_fallback_failed.inc();
                read(ReadPool::primary(primary)).await
            }
            done => done,
        }
    }

    /// What `/readyz` says of the replica, within `wait` (each of the two probes).
    pub async fn state(&self, primary: &PgPool, wait: Duration) -> State {
        let replayed = match self.replayed().await {
            Ok(Some(replayed)) => replayed,
            Ok(None) => {
                METRICS.replica_up.set(0);
                return State::NotAStandby;
            }
            Err(why) => {
                METRICS.replica_up.set(0);
                return State::Unreachable(why);
            }
        };
        METRICS.replica_up.set(1);
        match tokio::time::timeout(wait, write_position(primary)).await {
            Ok(Ok(target)) => {
                let lag_bytes = (target - replayed).max(0);
                METRICS.replica_lag_bytes.set(lag_bytes);
                State::Streaming { lag_bytes }
            }
            // The primary's own probe reports the primary; the replica answered.
            _ => State::Streaming { lag_bytes: -1 },
        }
    }
}

/// The primary's WAL write position in bytes from 0/0. Every commit acknowledged to a client lies below it
/// (a commit waits for its record to be flushed, and the write position is never behind the flush position).
/// That holds with `synchronous_commit` on, as it is here (nothing turns it off): an asynchronous commit is
/// visible before its record is written, and a replica could then miss it for up to three `wal_writer_delay`s.
async fn write_position(primary: &PgPool) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint as "position!""#)
        .fetch_one(primary)
        .await
}

/// Whether a read's failure is the replica's rather than the query's: the connection or the pool, a server
/// shutting down or starting, or a statement cancelled by a conflict with recovery (SQLSTATE 40001 on a
/// standby).
fn replica_trouble(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            matches!(db.code().as_deref(), Some("40001" | "57P01" | "57P02" | "57P03" | "08000" | "08003" | "08006"))
        }
        _ => false,
    }
}
