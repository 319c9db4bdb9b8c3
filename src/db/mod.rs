//! All SQL lives here: plain async functions over a pool or a connection, so they compose into
//! transactions.

pub mod accounts;
pub mod ledger;
pub mod lifecycle;
pub mod lookback;
pub mod observations;
pub mod photos;
pub mod places;
pub mod reference;
pub mod sites;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// Migrations embedded in the binary, run at start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A pool that fails fast: during an outage requests get a 503 within seconds instead of hanging for the
/// default 30 s acquire timeout.
pub async fn connect(options: PgConnectOptions) -> sqlx::Result<PgPool> {
    PgPoolOptions::new().max_connections(16).acquire_timeout(Duration::from_secs(3)).connect_with(options).await
}

/// `select 1` within a deadline: the health check.
pub async fn ping(pool: &PgPool) -> bool {
    let probe = sqlx::query_scalar::<_, i32>("select 1").fetch_one(pool);
    matches!(tokio::time::timeout(Duration::from_secs(3), probe).await, Ok(Ok(1)))
}
