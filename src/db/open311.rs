//! Open311 GeoReport v2 (issue 13): the client systems' keys, their rate counters, and the public reads of
//! reports and their status changes. What a read may show is decided here, in SQL, so no handler can leak
//! it: hidden reports are never read; a report's description, address and photo only once a dispatcher has
//! accepted or merged it; contact data, sender hashes, notes and staff names never.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::domain::public_report::PublicStatus;
use crate::secrets;

/// Most requests one GET answers (the spec's suggested page limit); the newest first.
pub const REQUESTS_PAGE_MAX: i64 = 1000;
/// Most status changes one `servicerequestupdates` answer holds; the oldest first, so a client continues
/// from the last one's `updated_datetime`.
pub const UPDATES_PAGE_MAX: i64 = 1000;

/// One client system as admins see it (never its key).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ClientView {
    pub id: i32,
    pub name: String,
    /// The first characters of the key, to tell keys apart.
    pub key_prefix: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Every client, newest first.
pub async fn clients(pool: &PgPool) -> sqlx::Result<Vec<ClientView>> {
    sqlx::query_as!(
        ClientView,
        "select id, name, key_prefix, created_at, created_by, revoked_at, last_used_at
         from open311_client order by id desc"
    )
    .fetch_all(pool)
    .await
}

/// Stores a new client with the SHA-256 of its key (the key itself is never stored).
pub async fn create_client(
    conn: &mut PgConnection,
    name: &str,
    key: &str,
    created_by: &str,
) -> sqlx::Result<Option<ClientView>> {
    let prefix: String = key.chars().take(KEY_PREFIX_CHARS).collect();
    let sha = secrets::sha256(key);
    sqlx::query_as!(
        ClientView,
        "insert into open311_client (name, key_sha256, key_prefix, created_by) values ($1, $2, $3, $4)
         on conflict (key_sha256) do nothing
         returning id, name, key_prefix, created_at, created_by, revoked_at, last_used_at",
        name,
        sha.as_slice(),
        prefix,
        created_by
    )
    .fetch_optional(conn)
    .await
}

/// Characters of a key kept to tell keys apart: the `o311_` prefix and six hex digits.
const KEY_PREFIX_CHARS: usize = 11;

/// Revokes a client's key (once: a second revocation keeps the first time). `None`: no such client.
pub async fn revoke_client(pool: &PgPool, id: i32) -> sqlx::Result<Option<ClientView>> {
    sqlx::query_as!(
        ClientView,
        "update open311_client set revoked_at = coalesce(revoked_at, now()) where id = $1
         returning id, name, key_prefix, created_at, created_by, revoked_at, last_used_at",
        id
    )
    .fetch_optional(pool)
    .await
}

/// What a key sent with a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    Live(i32),
    Revoked,
    Unknown,
}

/// The client whose key this is, looked up by the key's SHA-256 (as API tokens are) and compared again in
/// constant time; a live key records when it was last used.
pub async fn check_key(pool: &PgPool, key: &str) -> sqlx::Result<KeyCheck> {
    let sha = secrets::sha256(key);
    let Some(row) = sqlx::query!(
        "update open311_client set last_used_at = case when revoked_at is null then now() else last_used_at end
         where key_sha256 = $1
         returning id, key_sha256, revoked_at",
        sha.as_slice()
    )
    .fetch_optional(pool)
    .await?
    else {
        return Ok(KeyCheck::Unknown);
    };
    Ok(if !secrets::constant_time_eq(&row.key_sha256, &sha) {
        KeyCheck::Unknown
    } else if row.revoked_at.is_some() {
        KeyCheck::Revoked
    } else {
        KeyCheck::Live(row.id)
    })
}

/// Counts one hit of `bucket` in the window starting at `window_start` and answers the window's hits so far
/// (this one included); the bucket's older windows are deleted on the way.
pub async fn rate_hit(pool: &PgPool, bucket: &str, window_start: DateTime<Utc>) -> sqlx::Result<i32> {
    let mut tx = pool.begin().await?;
    sqlx::query!("delete from public_rate_hit where bucket = $1 and window_start < $2", bucket, window_start)
        .execute(&mut *tx)
        .await?;
    let hits = sqlx::query_scalar!(
        "insert into public_rate_hit (bucket, window_start, hits) values ($1, $2, 1)
         on conflict (bucket, window_start) do update set hits = public_rate_hit.hits + 1
         returning hits",
        bucket,
        window_start
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(hits)
}

/// A report as Open311 clients read it. `description`, `address` and `photo_position` are `None` until a
/// dispatcher has accepted or merged the report (and stay `None` after a rejection).
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRow {
    pub id: i64,
    pub category: String,
    pub public_status: PublicStatus,
    /// The public part of a decision's reason.
    pub public_reason: Option<String>,
    pub description: Option<String>,
    pub address: Option<String>,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub requested_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The first photo's position, for its public copy's URL.
    pub photo_position: Option<i16>,
}

/// Which reports a GET lists.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    /// These reports only (the spec: overrides every other filter, so the handler sets no other).
    pub ids: Option<Vec<i64>>,
    pub category: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    /// Public statuses wanted (from Open311's `open`/`closed`); `None`: all.
    pub public_statuses: Option<Vec<String>>,
}

/// The reports a GET lists, newest first, at most `REQUESTS_PAGE_MAX`; hidden ones never. Requested means
/// received here (a hotline ticket's call time stays on the ticket): the window and the order are on
/// `received_at`, whose index (newest first) serves both, the window's bounds being plain comparisons even in a
/// generic plan.
pub async fn requests(pool: &PgPool, f: &RequestFilter) -> sqlx::Result<Vec<RequestRow>> {
    sqlx::query_as!(
        RequestRow,
        r#"select r.id, r.category, r.public_status as "public_status: PublicStatus", r.public_reason,
               case when r.status in ('accepted', 'merged') then r.description end as description,
               case when r.status in ('accepted', 'merged') then r.address_text end as address,
               st_x(r.geom) as lon, st_y(r.geom) as lat, r.received_at as requested_at, r.updated_at,
               case when r.status in ('accepted', 'merged') then
                   (select min(p.position) from public_report_photo p where p.report_id = r.id) end as photo_position
           from public_report r
           where not r.hidden
             and r.received_at >= coalesce($3::timestamptz, '-infinity')
             and r.received_at <= coalesce($4::timestamptz, 'infinity')
             and ($1::int8[] is null or r.id = any($1))
             and ($2::text is null or r.category = $2)
             and ($5::text[] is null or r.public_status = any($5))
           order by r.received_at desc, r.id desc
           limit $6"#,
        f.ids.as_deref(),
        f.category,
        f.start,
        f.end,
        f.public_statuses.as_deref(),
        REQUESTS_PAGE_MAX
    )
    .fetch_all(pool)
    .await
}

/// The id of the report with this tracking token (Open311's `token`), unless hidden.
pub async fn request_of_token(pool: &PgPool, token: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar!("select id from public_report where tracking_token = $1 and not hidden", token)
        .fetch_optional(pool)
        .await
}

/// One change of a report's public status (mySociety's `servicerequestupdates`).
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateRow {
    pub id: i64,
    pub report_id: i64,
    pub public_status: PublicStatus,
    /// The public part of a rejection's reason, else `None`.
    pub description: Option<String>,
    pub at: DateTime<Utc>,
}

/// The status changes within `[start, end]`, oldest first, at most `UPDATES_PAGE_MAX`; hidden reports' never.
pub async fn updates(pool: &PgPool, start: DateTime<Utc>, end: DateTime<Utc>) -> sqlx::Result<Vec<UpdateRow>> {
    sqlx::query_as!(
        UpdateRow,
        r#"select u.id, u.report_id, u.public_status as "public_status: PublicStatus", u.description, u.at
           from public_report_update u join public_report r on r.id = u.report_id
           where not r.hidden and u.at >= $1 and u.at <= $2
           order by u.at, u.id
           limit $3"#,
        start,
        end,
        UPDATES_PAGE_MAX
    )
    .fetch_all(pool)
    .await
}

/// The demo's client system and its published key (printed with the demo accounts), created if missing.
pub async fn ensure_demo_client(conn: &mut PgConnection, key: &str) -> sqlx::Result<()> {
    create_client(conn, "演示·城市服务平台", key, "demo-admin").await?;
    Ok(())
}
