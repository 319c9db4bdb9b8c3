//! Accounts: organisations, users, browser sessions, API tokens and the sign-in failure log.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

use crate::domain::auth::{Actor, Role};

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Organisation {
    pub id: i32,
    pub name: String,
    pub kind: String,
    pub town_id: Option<i32>,
}

pub async fn organisations(pool: &PgPool) -> sqlx::Result<Vec<Organisation>> {
    sqlx::query_as!(Organisation, "select id, name, kind, town_id from organisation order by kind, name")
        .fetch_all(pool)
        .await
}

/// An organisation by id or by exact name (for the command line).
pub async fn find_organisation(pool: &PgPool, id_or_name: &str) -> sqlx::Result<Option<Organisation>> {
    sqlx::query_as!(
        Organisation,
        "select id, name, kind, town_id from organisation where id::text = $1 or name = $1 order by id limit 1",
        id_or_name
    )
    .fetch_optional(pool)
    .await
}

/// A user as the admin pages and the session answer show them. Never carries the password hash.
#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub id: Uuid,
    pub name: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub organisation: Organisation,
    pub disabled: bool,
    pub created_at: DateTime<Utc>,
    pub last_login_at: Option<DateTime<Utc>>,
}

struct UserRow {
    id: Uuid,
    name: String,
    display_name: String,
    roles: Vec<String>,
    disabled_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    organisation_id: i32,
    organisation_name: String,
    organisation_kind: String,
    town_id: Option<i32>,
}

impl From<UserRow> for UserView {
    fn from(r: UserRow) -> Self {
        UserView {
            id: r.id,
            name: r.name,
            display_name: r.display_name,
            roles: r.roles,
            organisation: Organisation {
                id: r.organisation_id,
                name: r.organisation_name,
                kind: r.organisation_kind,
                town_id: r.town_id,
            },
            disabled: r.disabled_at.is_some(),
            created_at: r.created_at,
            last_login_at: r.last_login_at,
        }
    }
}

/// Most accounts one list shows; a county has hundreds.
pub const USERS_MAX: i64 = 5000;

pub async fn users(pool: &PgPool) -> sqlx::Result<Vec<UserView>> {
    let rows = sqlx::query_as!(
        UserRow,
        "select u.id, u.name, u.display_name, u.roles, u.disabled_at, u.created_at, u.last_login_at,
             o.id as organisation_id, o.name as organisation_name, o.kind as organisation_kind, o.town_id
         from app_user u join organisation o on o.id = u.organisation_id
         where u.name <> $2 order by u.name limit $1",
        USERS_MAX,
        PLACEHOLDER
    )
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(UserView::from).collect())
}

pub async fn user(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<UserView>> {
    let row = sqlx::query_as!(
        UserRow,
        "select u.id, u.name, u.display_name, u.roles, u.disabled_at, u.created_at, u.last_login_at,
             o.id as organisation_id, o.name as organisation_name, o.kind as organisation_kind, o.town_id
         from app_user u join organisation o on o.id = u.organisation_id
         where u.id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(UserView::from))
}

pub async fn user_by_name(pool: &PgPool, name: &str) -> sqlx::Result<Option<UserView>> {
    let row = sqlx::query_as!(
        UserRow,
        "select u.id, u.name, u.display_name, u.roles, u.disabled_at, u.created_at, u.last_login_at,
             o.id as organisation_id, o.name as organisation_name, o.kind as organisation_kind, o.town_id
         from app_user u join organisation o on o.id = u.organisation_id
         where u.name = $1",
        name
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(UserView::from))
}

pub struct NewUser<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub organisation_id: i32,
    pub roles: &'a [Role],
    pub password_hash: &'a str,
}

pub enum CreateOutcome {
    Created(Uuid),
    NameTaken,
    NoSuchOrganisation,
}

pub async fn create_user(pool: &PgPool, u: &NewUser<'_>) -> sqlx::Result<CreateOutcome> {
    let roles: Vec<&str> = u.roles.iter().map(|r| r.as_str()).collect();
    let result = sqlx::query_scalar!(
        "insert into app_user (name, display_name, organisation_id, roles, password_hash)
         values ($1, $2, $3, $4, $5) returning id",
        u.name,
        u.display_name,
        u.organisation_id,
        &roles as &[&str],
        u.password_hash
    )
    .fetch_one(pool)
    .await;
    match result {
        Ok(id) => Ok(CreateOutcome::Created(id)),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("app_user_name_key") => Ok(CreateOutcome::NameTaken),
        Err(sqlx::Error::Database(e)) if e.constraint() == Some("app_user_organisation_fkey") => {
            Ok(CreateOutcome::NoSuchOrganisation)
        }
        Err(e) => Err(e),
    }
}

/// The placeholder that owns records made before accounts existed: never enabled, never given a password.
const PLACEHOLDER: &str = "legacy-import";

/// Disables or enables an account; a disabled account's sessions end at once (its tokens stop working
/// because every request checks the account).
pub async fn set_disabled(pool: &PgPool, id: Uuid, disabled: bool) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let found = sqlx::query!(
        "update app_user set disabled_at = case when $2 then coalesce(disabled_at, now()) end
         where id = $1 and name <> $3",
        id,
        disabled,
        PLACEHOLDER
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if disabled {
        sqlx::query!("delete from user_session where user_id = $1", id).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(found)
}

/// Sets a new password hash and ends every session of the account and revokes its API tokens: a reset
/// usually means the old credentials can no longer be trusted.
pub async fn set_password(pool: &PgPool, id: Uuid, password_hash: &str) -> sqlx::Result<bool> {
    let mut tx = pool.begin().await?;
    let found = sqlx::query!(
        "update app_user set password_hash = $2, password_changed_at = now() where id = $1 and name <> $3",
        id,
        password_hash,
        PLACEHOLDER
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    sqlx::query!("delete from user_session where user_id = $1", id).execute(&mut *tx).await?;
    sqlx::query!("update api_token set revoked_at = now() where user_id = $1 and revoked_at is null", id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(found)
}

/// The account's own password change: a new hash, and every other browser session ended (a password
/// changed because it leaked must not leave a stranger signed in). The session that made the change and the
/// account's API tokens stay; the tokens are revoked one by one on the account page.
pub async fn change_own_password(
    pool: &PgPool,
    id: Uuid,
    password_hash: &str,
    keep_session: Option<[u8; 32]>,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    sqlx::query!(
        "update app_user set password_hash = $2, password_changed_at = now() where id = $1",
        id,
        password_hash
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!(
        "delete from user_session where user_id = $1 and token_sha256 is distinct from $2",
        id,
        keep_session.as_ref().map(|h| h.as_slice())
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// The password hash of an enabled account.
pub async fn password_hash(pool: &PgPool, id: Uuid) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar!("select password_hash from app_user where id = $1 and disabled_at is null", id)
        .fetch_optional(pool)
        .await
}

/// What sign-in needs to know about a name: the account (if enabled) and its password hash.
pub async fn credentials(pool: &PgPool, name: &str) -> sqlx::Result<Option<(Uuid, String)>> {
    let row = sqlx::query!("select id, password_hash from app_user where name = $1 and disabled_at is null", name)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| (r.id, r.password_hash)))
}

struct ActorRow {
    id: Uuid,
    name: String,
    display_name: String,
    roles: Vec<String>,
    organisation_id: i32,
    town_id: Option<i32>,
}

impl ActorRow {
    fn into_actor(self) -> Actor {
        Actor {
            user_id: self.id,
            name: self.name,
            display_name: self.display_name,
            // The schema admits only known codes.
            roles: self.roles.iter().filter_map(|r| r.parse().ok()).collect(),
            organisation_id: self.organisation_id,
            town_id: self.town_id,
        }
    }
}

/// A live browser session as a request finds it.
pub struct LiveSession {
    pub actor: Actor,
    pub csrf_token: String,
    /// Set when this request slid the session's expiry (at most once per `SESSION_RENEWAL_INTERVAL_S`): the
    /// new expiry, which the cookie's `Max-Age` must follow, or the browser drops a live session.
    pub renewed_until: Option<DateTime<Utc>>,
}

/// A session ends this long after sign-in however active it is (README: 12 idle hours, 7 days at most).
pub const SESSION_LIFETIME_S: i64 = 7 * 24 * 3600;
/// A session's expiry (and its cookie) slides at most this often: one write per session per interval, not
/// one per request. The idle limit is thereby honoured to within this interval.
pub const SESSION_RENEWAL_INTERVAL_S: i64 = 5 * 60;

/// A browser session's actor and its CSRF token, if the session is live (used within `idle`, and signed in
/// less than 7 days ago) and its account enabled. Slides the idle expiry, and touches `last_seen_at`, at most
/// once per `SESSION_RENEWAL_INTERVAL_S`.
pub async fn session_actor(
    pool: &PgPool,
    token_sha256: &[u8; 32],
    idle: Duration,
) -> sqlx::Result<Option<LiveSession>> {
    // The 7-day cap is checked on `created_at` itself as well as folded into `expires_at`, so a renewal can
    // never hand out a session past its lifetime (the renewing statement would otherwise still answer it).
    let row = sqlx::query!(
        r#"with s as (
             update user_session set last_seen_at = now(),
                 expires_at = least(created_at + make_interval(secs => $3), now() + make_interval(secs => $2))
             where token_sha256 = $1 and expires_at > now()
               and created_at > now() - make_interval(secs => $3)
               and last_seen_at < now() - make_interval(secs => $4)
             returning user_id, csrf_token, expires_at),
         live as (
             select user_id, csrf_token, expires_at as renewed_until from s
             union all
             select user_id, csrf_token, null from user_session
             where token_sha256 = $1 and expires_at > now() and created_at > now() - make_interval(secs => $3)
               and not exists (select 1 from s))
         select u.id, u.name, u.display_name, u.roles, u.organisation_id, o.town_id, live.csrf_token as "csrf_token!",
             live.renewed_until
         from live join app_user u on u.id = live.user_id join organisation o on o.id = u.organisation_id
         where u.disabled_at is null"#,
        token_sha256.as_slice(),
        idle.num_seconds() as f64,
        SESSION_LIFETIME_S as f64,
        SESSION_RENEWAL_INTERVAL_S as f64
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| {
        let actor = ActorRow {
            id: r.id,
            name: r.name,
            display_name: r.display_name,
            roles: r.roles,
            organisation_id: r.organisation_id,
            town_id: r.town_id,
        };
        LiveSession { actor: actor.into_actor(), csrf_token: r.csrf_token, renewed_until: r.renewed_until }
    }))
}

/// An API token's actor, if the token is live (not revoked, not past its `expires_at`) and its account enabled; records when it was last used
/// (at most once a minute, to keep reads cheap).
pub async fn token_actor(pool: &PgPool, token_sha256: &[u8; 32]) -> sqlx::Result<Option<Actor>> {
    let row = sqlx::query_as!(
        ActorRow,
        "with t as (select id, user_id, last_used_at from api_token where token_sha256 = $1 and revoked_at is null
                      and (expires_at is null or expires_at > now())),
         touched as (update api_token set last_used_at = now()
                     where id = (select id from t where last_used_at is null or last_used_at < now() - interval '1 minute'))
         select u.id, u.name, u.display_name, u.roles, u.organisation_id, o.town_id
         from t join app_user u on u.id = t.user_id join organisation o on o.id = u.organisation_id
         where u.disabled_at is null",
        token_sha256.as_slice()
    )
    .fetch_optional(pool)
    .await?;
    Ok(row.map(ActorRow::into_actor))
}

/// Starts a session: the presented old session (if any) is ended, so a session id planted before sign-in
/// is worthless after it (session fixation).
pub async fn start_session(
    pool: &PgPool,
    user_id: Uuid,
    token_sha256: &[u8; 32],
    csrf_token: &str,
    idle: Duration,
    previous: Option<[u8; 32]>,
) -> sqlx::Result<()> {
    let mut tx = pool.begin().await?;
    if let Some(previous) = previous {
        sqlx::query!("delete from user_session where token_sha256 = $1", previous.as_slice()).execute(&mut *tx).await?;
    }
    sqlx::query!(
        "insert into user_session (token_sha256, user_id, csrf_token, expires_at)
         values ($1, $2, $3, now() + make_interval(secs => $4))",
        token_sha256.as_slice(),
        user_id,
        csrf_token,
        idle.num_seconds() as f64
    )
    .execute(&mut *tx)
    .await?;
    sqlx::query!("update app_user set last_login_at = now() where id = $1", user_id).execute(&mut *tx).await?;
    // Housekeeping: expired sessions of anyone go when someone signs in.
    sqlx::query!("delete from user_session where expires_at < now()").execute(&mut *tx).await?;
    tx.commit().await
}

pub async fn end_session(pool: &PgPool, token_sha256: &[u8; 32]) -> sqlx::Result<()> {
    sqlx::query!("delete from user_session where token_sha256 = $1", token_sha256.as_slice()).execute(pool).await?;
    Ok(())
}

/// Failed sign-ins in the window, for the account name and for the client address.
pub async fn recent_failures(
    pool: &PgPool,
    account: &str,
    client_addr: &str,
    window: Duration,
) -> sqlx::Result<(i64, i64, Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
    let r = sqlx::query!(
        r#"select count(*) filter (where account = $1) as "by_account!",
                count(*) filter (where client_addr = $2) as "by_address!",
                min(at) filter (where account = $1) as by_account_since,
                min(at) filter (where client_addr = $2) as by_address_since
         from login_failure
         where (account = $1 or client_addr = $2) and at > now() - make_interval(secs => $3)"#,
        account,
        client_addr,
        window.num_seconds() as f64
    )
    .fetch_one(pool)
    .await?;
    Ok((r.by_account, r.by_address, r.by_account_since, r.by_address_since))
}

pub async fn record_failure(pool: &PgPool, account: &str, client_addr: &str) -> sqlx::Result<()> {
    sqlx::query!("insert into login_failure (account, client_addr) values ($1, $2)", account, client_addr)
        .execute(pool)
        .await?;
    // Keep the table small: nothing older than a day matters.
    sqlx::query!("delete from login_failure where at < now() - interval '1 day'").execute(pool).await?;
    Ok(())
}

/// A successful sign-in clears the account's failures (not the address's: one good password does not
/// excuse a spray from the same address).
pub async fn clear_failures(pool: &PgPool, account: &str) -> sqlx::Result<()> {
    sqlx::query!("delete from login_failure where account = $1", account).execute(pool).await?;
    Ok(())
}

#[derive(Debug, Serialize)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// When the token stops working by itself; `None`: when revoked.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Most live tokens one account may hold.
pub const TOKENS_PER_USER_MAX: i64 = 20;

pub async fn tokens(pool: &PgPool, user_id: Uuid) -> sqlx::Result<Vec<TokenView>> {
    sqlx::query_as!(
        TokenView,
        "select id, name, prefix, created_at, last_used_at, revoked_at, expires_at from api_token
         where user_id = $1 order by created_at desc limit 100",
        user_id
    )
    .fetch_all(pool)
    .await
}

pub async fn live_token_count(executor: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        r#"select count(*) as "count!" from api_token
           where user_id = $1 and revoked_at is null and (expires_at is null or expires_at > now())"#,
        user_id
    )
    .fetch_one(executor)
    .await
}

/// Stores a new token (its SHA-256 and prefix); `expires_at` ends it by itself (`None`: lives until revoked).
pub async fn create_token(
    pool: &PgPool,
    user_id: Uuid,
    name: &str,
    token: &str,
    expires_at: Option<DateTime<Utc>>,
) -> sqlx::Result<TokenView> {
    let token_sha256 = crate::secrets::sha256(token);
    sqlx::query_as!(
        TokenView,
        "insert into api_token (user_id, name, token_sha256, prefix, expires_at) values ($1, $2, $3, $4, $5)
         returning id, name, prefix, created_at, last_used_at, revoked_at, expires_at",
        user_id,
        name,
        token_sha256.as_slice(),
        &token[..token.len().min(10)],
        expires_at
    )
    .fetch_one(pool)
    .await
}

/// Revokes one of the user's tokens; false when the user has no such token.
pub async fn revoke_token(pool: &PgPool, user_id: Uuid, token_id: Uuid) -> sqlx::Result<bool> {
    let n = sqlx::query!(
        "update api_token set revoked_at = coalesce(revoked_at, now()) where id = $1 and user_id = $2",
        token_id,
        user_id
    )
    .execute(pool)
    .await?
    .rows_affected();
    Ok(n == 1)
}
