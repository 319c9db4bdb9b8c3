//! All SQL lives here: plain async functions over a pool or a connection, so they compose into
//! transactions.

pub mod accounts;
pub mod candidates;
pub mod citizen;
pub mod crash_patterns;
pub mod crashes;
pub mod hotline;
pub mod ledger;
pub mod lifecycle;
pub mod lookback;
pub mod moderation;
pub mod observations;
pub mod ogc;
pub mod open311;
pub mod photos;
pub mod places;
pub mod public_reports;
pub mod reference;
pub mod replica;
pub mod reports;
pub mod screening;
pub mod site_cells;
pub mod sites;
pub mod tiles;

use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

pub use replica::{ReadPool, Replica};

/// The domain's coded enums are stored as their text codes (with check constraints naming the same codes). A
/// stored code the domain does not know is a decode error, never a default.
macro_rules! text_code {
    ($($name:ty),+ $(,)?) => {$(
        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }
            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }
        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?.parse::<$name>()?)
            }
        }
        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }
    )+};
}

use crate::domain::crash::{
    CandidateSource, CandidateStatus, CrashType, DetectionPlatform, Light, RoadSurface, ScreeningMethod, Severity,
    TimeBand, VehicleType, Weather,
};
use crate::domain::site::{HazardLevel, ItemState, RectificationMode, SiteKind, SiteStatus, SupervisionLevel};
text_code!(SiteKind, SiteStatus, ItemState, HazardLevel, RectificationMode, SupervisionLevel);
text_code!(
    CrashType,
    VehicleType,
    Weather,
    Light,
    RoadSurface,
    Severity,
    ScreeningMethod,
    CandidateSource,
    CandidateStatus,
    DetectionPlatform,
    TimeBand
);
text_code!(crate::domain::crash_patterns::CalendarKind);
text_code!(
    crate::domain::site::SiteSource,
    crate::domain::public_report::Channel,
    crate::domain::public_report::ReportStatus,
    crate::domain::public_report::PublicStatus
);

/// Migrations embedded in the binary, run at start.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections each pool (the primary's, the replica's) opens at most.
pub const POOL_CONNECTIONS_MAX: u32 = 16;
/// How long a request waits for a connection: during an outage requests get a 503 within seconds instead of
/// hanging for the default 30 s.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A pool that fails fast (see [`ACQUIRE_TIMEOUT`]).
pub async fn connect(options: PgConnectOptions) -> sqlx::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(POOL_CONNECTIONS_MAX)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(without_jit(options))
        .await
}

/// No JIT in our sessions: every statement here is short, and a kept statement whose generic plan looks
/// costly was compiled again on each run (26 ms for a map tile drawn in 12 ms; docs/benchmarks.md).
pub(crate) fn without_jit(options: PgConnectOptions) -> PgConnectOptions {
    options.options([("jit", "off")])
}

/// `select 1` within a deadline: the health check.
pub async fn ping(pool: &PgPool) -> bool {
    ping_within(pool, Duration::from_secs(3)).await
}

/// `select 1` answered within `deadline` (waiting for a connection included).
pub async fn ping_within(pool: &PgPool, deadline: Duration) -> bool {
    let probe = sqlx::query_scalar!(r#"select 1 as "one!""#).fetch_one(pool);
    matches!(tokio::time::timeout(deadline, probe).await, Ok(Ok(1)))
}
