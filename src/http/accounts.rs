//! Signing in and out (`/api/v1/session`), personal API tokens (`/api/v1/tokens`), and account management
//! for admins (`/api/v1/users`, `/api/v1/organisations`).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::{self, session_cookie};
use super::{ApiJson, AppState, Error, Result};
use crate::db::accounts::{self, CreateOutcome, NewUser};
use crate::domain::auth::{self as rules, Actor, Permission, Role};
use crate::secrets;

/// The same answer for an unknown name, a wrong password and a disabled account: sign-in must not tell
/// which accounts exist.
const WRONG_CREDENTIALS: &str = "name or password is wrong";

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    name: String,
    password: String,
}

/// `POST /api/v1/session`: checks the password (throttled per account and per client address), starts a
/// fresh session and answers the user with the session's CSRF token.
#[utoipa::path(
    post,
    path = "/session",
    tag = "accounts",
    request_body = Login,
    responses(
        (status = 200, description = "Signed in: the user and the session's `csrf_token`; Set-Cookie carries the session", body = Object),
        (status = 400, description = "Name or password too long, or the body is malformed"),
        (status = 401, description = "Name or password is wrong"),
        (status = 415, description = "The body is not JSON"),
        (status = 429, description = "Too many failed sign-ins; Retry-After says when to try again"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    ApiJson(Login { name, password }): ApiJson<Login>,
) -> Result<Response> {
    let name = name.trim().to_lowercase();
    if name.chars().count() > 64 || password.len() > rules::PASSWORD_BYTES_MAX {
        return Err(Error::BadRequest("name or password is too long".into()));
    }
    let client = auth::client_addr(&extensions);
    throttle(&state, &name, &client).await?;

    let credentials = accounts::credentials(&state.pool, &name).await?;
    let verified = tokio::task::spawn_blocking(move || match credentials {
        Some((user_id, hash)) => secrets::verify_password(&password, &hash).then_some(user_id),
        None => {
            secrets::verify_against_nothing(&password);
            None
        }
    })
    .await
    .map_err(|e| Error::Internal(e.into()))?;
    let Some(user_id) = verified else {
        accounts::record_failure(&state.pool, &name, &client).await?;
        return Err(Error::Unauthorized(WRONG_CREDENTIALS.into()));
    };
    accounts::clear_failures(&state.pool, &name).await?;
    let user =
        accounts::user(&state.pool, user_id).await?.ok_or_else(|| Error::Unauthorized(WRONG_CREDENTIALS.into()))?;
    // A detection system has no pages to use: it sends with an API token an admin made for it.
    if user.roles.iter().all(|r| r == Role::Detector.as_str()) {
        return Err(Error::Forbidden(
            "a detection system's account does not sign in; it sends with its API token".into(),
        ));
    }

    // A new random session id at every sign-in; whatever session the browser presented is ended.
    let token = secrets::random_token("");
    let csrf_token = secrets::random_token("");
    let previous = session_cookie(&headers).map(|t| secrets::sha256(&t));
    accounts::start_session(
        &state.pool,
        user_id,
        &secrets::sha256(&token),
        &csrf_token,
        state.settings.session_idle,
        previous,
    )
    .await?;
    tracing::info!(user = %user.name, "signed in");
    let cookie =
        auth::session_cookie_header(&token, state.settings.session_idle.num_seconds(), state.settings.cookie_secure);
    Ok(([(header::SET_COOKIE, cookie)], axum::Json(json!({ "user": user, "csrf_token": csrf_token }))).into_response())
}

/// Refuses (429) while an account or a client address has failed to give its password too often lately.
async fn throttle(state: &AppState, name: &str, client: &str) -> Result<()> {
    let throttle = &state.settings.login_throttle;
    let (account_failures, client_failures, account_oldest, client_oldest) =
        accounts::recent_failures(&state.pool, name, client, throttle.window).await?;
    let now = Utc::now();
    let wait_until = |oldest: Option<chrono::DateTime<Utc>>| oldest.map(|t| t + throttle.window).unwrap_or(now);
    let blocked_until = match (account_failures >= throttle.per_account, client_failures >= throttle.per_client) {
        (true, true) => Some(wait_until(account_oldest).max(wait_until(client_oldest))),
        (true, false) => Some(wait_until(account_oldest)),
        (false, true) => Some(wait_until(client_oldest)),
        (false, false) => None,
    };
    let Some(until) = blocked_until else { return Ok(()) };
    let retry_after_s = (until - now).num_seconds().max(1) as u64;
    tracing::warn!(account = %name, client = %client, "password attempts throttled");
    Err(Error::TooManyRequests {
        message: format!("too many failed sign-ins; try again in {} minutes", retry_after_s.div_ceil(60)),
        retry_after_s,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// `POST /api/v1/session/password`: the signed-in user changes their own password, giving the current one
/// (throttled like sign-in). Every other browser session of the account ends; this one and the API tokens
/// stay.
#[utoipa::path(
    post,
    path = "/session/password",
    tag = "accounts",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "Changed; other sessions are ended"),
        (status = 400, description = "The body is malformed"),
        (status = 422, description = "The current password is wrong or the new one is too weak"),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    actor: Actor,
    headers: HeaderMap,
    extensions: axum::http::Extensions,
    ApiJson(change): ApiJson<PasswordChange>,
) -> Result<StatusCode> {
    if change.current_password.len() > rules::PASSWORD_BYTES_MAX {
        return Err(Error::BadRequest("current_password is too long".into()));
    }
    let client = auth::client_addr(&extensions);
    throttle(&state, &actor.name, &client).await?;
    let hash = accounts::password_hash(&state.pool, actor.user_id)
        .await?
        .ok_or_else(|| Error::Unauthorized("sign in first".into()))?;
    let current = change.current_password;
    let verified = tokio::task::spawn_blocking(move || secrets::verify_password(&current, &hash))
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    if !verified {
        accounts::record_failure(&state.pool, &actor.name, &client).await?;
        return Err(Error::refused(StatusCode::FORBIDDEN, "wrong_password", "current_password is not your password"));
    }
    rules::check_password(&change.new_password, &actor.name).map_err(Error::Unprocessable)?;
    let new_hash = hash_off_runtime(change.new_password).await?;
    let this_session = session_cookie(&headers).map(|t| secrets::sha256(&t));
    accounts::change_own_password(&state.pool, actor.user_id, &new_hash, this_session).await?;
    accounts::clear_failures(&state.pool, &actor.name).await?;
    tracing::info!(user = %actor.name, "password changed by its owner");
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/session`: who is signed in, with the CSRF token the page must send back (none for an API
/// token, which needs none).
#[utoipa::path(
    get,
    path = "/session",
    tag = "accounts",
    responses(
        (status = 200, description = "The signed-in user, roles and the session's `csrf_token`", body = Object),
    )
)]
pub async fn current(
    State(state): State<AppState>,
    headers: HeaderMap,
    mut parts: axum::http::request::Parts,
) -> Result<axum::Json<Value>> {
    if headers.contains_key(header::AUTHORIZATION) {
        let actor =
            <Actor as axum::extract::FromRequestParts<AppState>>::from_request_parts(&mut parts, &state).await?;
        let user = accounts::user(&state.pool, actor.user_id).await?;
        return Ok(axum::Json(json!({ "user": user, "csrf_token": null })));
    }
    let accounts::LiveSession { actor, csrf_token, .. } =
        auth::live_session(&headers, &parts.extensions, &state).await?;
    let user =
        accounts::user(&state.pool, actor.user_id).await?.ok_or_else(|| Error::Unauthorized("sign in first".into()))?;
    Ok(axum::Json(json!({ "user": user, "csrf_token": csrf_token })))
}

/// `DELETE /api/v1/session`: signs out (the session row goes, the cookie is cleared).
#[utoipa::path(
    delete,
    path = "/session",
    tag = "accounts",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared"),
    )
)]
pub async fn logout(State(state): State<AppState>, _actor: Actor, headers: HeaderMap) -> Result<Response> {
    if let Some(token) = session_cookie(&headers) {
        accounts::end_session(&state.pool, &secrets::sha256(&token)).await?;
    }
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, auth::clear_cookie_header(state.settings.cookie_secure))])
        .into_response())
}

/// Your API tokens.
#[utoipa::path(
    get,
    path = "/tokens",
    tag = "accounts",
    responses(
        (status = 200, description = "Your API tokens (never their secrets)", body = Object),
    )
)]
pub async fn tokens(State(state): State<AppState>, actor: Actor) -> Result<axum::Json<Value>> {
    Ok(axum::Json(json!(accounts::tokens(&state.pool, actor.user_id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    name: String,
    /// When the token stops working by itself (RFC 3339, in the future); absent: until revoked. A token
    /// lent to a script or a temporary device should not outlive the need.
    #[serde(default)]
    expires_at: Option<chrono::DateTime<Utc>>,
}

/// `POST /api/v1/tokens`: the token is in this answer and nowhere else, ever.
#[utoipa::path(
    post,
    path = "/tokens",
    tag = "accounts",
    request_body = NewToken,
    responses(
        (status = 201, description = "The new token; its secret is shown this once", body = Object),
        (status = 400, description = "The body is malformed"),
        (status = 422, description = "The name is missing or too long, or `expires_at` is not in the future"),
    )
)]
pub async fn create_token(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(new): ApiJson<NewToken>,
) -> Result<Response> {
    issue_token(&state, actor.user_id, &new).await
}

/// A new token of an account, within the rules every token follows: a name, an expiry in the future if
/// any, and at most `TOKENS_PER_USER_MAX` live ones.
async fn issue_token(state: &AppState, user_id: Uuid, new: &NewToken) -> Result<Response> {
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::Unprocessable("name: 1 to 64 characters, e.g. 张伟的手机".into()));
    }
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(Error::Unprocessable(
            "expires_at: a time in the future (RFC 3339, e.g. 2027-01-31T18:00:00+08:00), or leave it out".into(),
        ));
    }
    if accounts::live_token_count(&state.pool, user_id).await? >= accounts::TOKENS_PER_USER_MAX {
        return Err(Error::Conflict(format!(
            "an account may hold at most {} live tokens; revoke one first",
            accounts::TOKENS_PER_USER_MAX
        )));
    }
    let token = secrets::random_token("rl_");
    let view = accounts::create_token(&state.pool, user_id, name, &token, new.expires_at).await?;
    let mut body = json!(view);
    body["token"] = json!(token);
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// `POST /api/v1/users/{id}/tokens`: an admin makes the API token of a detection system's account, which
/// cannot sign in to make its own. People make their own tokens (`POST /api/v1/tokens`).
#[utoipa::path(
    post,
    path = "/users/{id}/tokens",
    operation_id = "create_detector_token",
    tag = "accounts",
    params(("id" = String, Path, description = "The account id (a UUID) of a detection system")),
    request_body = NewToken,
    responses(
        (status = 201, description = "The new token; its secret is shown this once", body = Object),
        (status = 400, description = "The id is not a UUID, or the body is malformed"),
        (status = 403, description = "Admins only"),
        (status = 404, description = "No such account"),
        (status = 422, description = "The account is not a detection system's, or the name or expiry is wrong"),
    )
)]
pub async fn create_detector_token(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewToken>,
) -> Result<Response> {
    require(&actor, Permission::ManageUsers)?;
    let id = parse_id(&id, "user")?;
    let user = accounts::user(&state.pool, id).await?.ok_or_else(|| Error::NotFound(format!("no user {id}")))?;
    if !user.roles.iter().all(|r| r == Role::Detector.as_str()) {
        return Err(Error::Unprocessable(format!(
            "{} is a person's account: people make their own tokens on their account page",
            user.name
        )));
    }
    tracing::info!(by = %actor.name, user = %user.name, "detector token created");
    issue_token(&state, id, &new).await
}

/// Revokes one of your API tokens.
#[utoipa::path(
    delete,
    path = "/tokens/{id}",
    tag = "accounts",
    params(("id" = String, Path, description = "The token id (a UUID)")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "You have no such token"),
    )
)]
pub async fn revoke_token(State(state): State<AppState>, actor: Actor, Path(id): Path<String>) -> Result<StatusCode> {
    let id = parse_id(&id, "token")?;
    if accounts::revoke_token(&state.pool, actor.user_id, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Error::NotFound(format!("you have no token {id}")))
    }
}

/// The organisations (units).
#[utoipa::path(
    get,
    path = "/organisations",
    tag = "accounts",
    responses(
        (status = 200, description = "Organisations (units), for dispatch and accounts", body = Object),
    )
)]
pub async fn organisations(State(state): State<AppState>, _actor: Actor) -> Result<axum::Json<Value>> {
    Ok(axum::Json(json!(accounts::organisations(&state.pool).await?)))
}

fn require(actor: &Actor, permission: Permission) -> Result<()> {
    if actor.can(permission) { Ok(()) } else { Err(Error::Forbidden("this needs the admin role".into())) }
}

/// Every account (admins).
#[utoipa::path(
    get,
    path = "/users",
    tag = "accounts",
    responses(
        (status = 200, description = "Every account (admins)", body = Object),
    )
)]
pub async fn users(State(state): State<AppState>, actor: Actor) -> Result<axum::Json<Value>> {
    require(&actor, Permission::ManageUsers)?;
    Ok(axum::Json(json!(accounts::users(&state.pool).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    name: String,
    display_name: String,
    organisation_id: i32,
    roles: Vec<String>,
    password: String,
}

/// Makes an account (admins).
#[utoipa::path(
    post,
    path = "/users",
    tag = "accounts",
    request_body = CreateUser,
    responses(
        (status = 201, description = "The new account", body = Object),
        (status = 400, description = "The body is malformed"),
        (status = 409, description = "The name is taken"),
        (status = 422, description = "A field breaks a rule (named)"),
    )
)]
pub async fn create_user(
    State(state): State<AppState>,
    actor: Actor,
    ApiJson(new): ApiJson<CreateUser>,
) -> Result<Response> {
    require(&actor, Permission::ManageUsers)?;
    let name = new.name.trim().to_string();
    rules::check_user_name(&name).map_err(Error::Unprocessable)?;
    let display_name = new.display_name.trim().to_string();
    if display_name.is_empty() || display_name.chars().count() > rules::DISPLAY_NAME_CHARS_MAX {
        return Err(Error::Unprocessable(format!(
            "display_name: 1 to {} characters, e.g. 张伟",
            rules::DISPLAY_NAME_CHARS_MAX
        )));
    }
    let roles = rules::parse_roles(&new.roles).map_err(|e| Error::Unprocessable(format!("roles: {e}")))?;
    if roles.is_empty() {
        return Err(Error::Unprocessable("roles: give at least one role".into()));
    }
    rules::check_password(&new.password, &name).map_err(Error::Unprocessable)?;
    let hash = hash_off_runtime(new.password).await?;
    let outcome = accounts::create_user(
        &state.pool,
        &NewUser {
            name: &name,
            display_name: &display_name,
            organisation_id: new.organisation_id,
            roles: &roles,
            password_hash: &hash,
        },
    )
    .await?;
    let id = match outcome {
        CreateOutcome::Created(id) => id,
        CreateOutcome::NameTaken => return Err(Error::Conflict(format!("the name {name:?} is taken"))),
        CreateOutcome::NoSuchOrganisation => {
            return Err(Error::Unprocessable(format!(
                "organisation_id: there is no organisation {}",
                new.organisation_id
            )));
        }
    };
    tracing::info!(by = %actor.name, user = %name, "account created");
    let user = accounts::user(&state.pool, id).await?;
    Ok((StatusCode::CREATED, axum::Json(json!(user))).into_response())
}

/// Disables an account (admins).
#[utoipa::path(
    post,
    path = "/users/{id}/disable",
    tag = "accounts",
    params(("id" = String, Path, description = "The account id (a UUID)")),
    responses(
        (status = 200, description = "The account, disabled: its sessions and tokens stop working", body = Object),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such account"),
    )
)]
pub async fn disable_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>> {
    set_disabled(state, actor, id, true).await
}

/// Enables an account again (admins).
#[utoipa::path(
    post,
    path = "/users/{id}/enable",
    tag = "accounts",
    params(("id" = String, Path, description = "The account id (a UUID)")),
    responses(
        (status = 200, description = "The account, enabled", body = Object),
        (status = 400, description = "The id is not a UUID"),
        (status = 404, description = "No such account"),
    )
)]
pub async fn enable_user(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<axum::Json<Value>> {
    set_disabled(state, actor, id, false).await
}

async fn set_disabled(state: AppState, actor: Actor, id: String, disabled: bool) -> Result<axum::Json<Value>> {
    require(&actor, Permission::ManageUsers)?;
    let id = parse_id(&id, "user")?;
    if disabled && id == actor.user_id {
        return Err(Error::Conflict("you cannot disable your own account".into()));
    }
    if !accounts::set_disabled(&state.pool, id, disabled).await? {
        return Err(Error::NotFound(format!("no user {id}")));
    }
    tracing::info!(by = %actor.name, user = %id, disabled, "account status changed");
    Ok(axum::Json(json!(accounts::user(&state.pool, id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

/// Sets an account's password (admins).
#[utoipa::path(
    post,
    path = "/users/{id}/password",
    tag = "accounts",
    params(("id" = String, Path, description = "The account id (a UUID)")),
    request_body = NewPassword,
    responses(
        (status = 204, description = "Set; the account's sessions are ended"),
        (status = 400, description = "The id is not a UUID, or the body is malformed"),
        (status = 404, description = "No such account"),
        (status = 422, description = "The password is too weak"),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
    ApiJson(new): ApiJson<NewPassword>,
) -> Result<StatusCode> {
    require(&actor, Permission::ManageUsers)?;
    let id = parse_id(&id, "user")?;
    let user = accounts::user(&state.pool, id)
        .await?
        .filter(|u| u.name != "legacy-import")
        .ok_or_else(|| Error::NotFound(format!("no user {id}")))?;
    rules::check_password(&new.password, &user.name).map_err(Error::Unprocessable)?;
    let hash = hash_off_runtime(new.password).await?;
    accounts::set_password(&state.pool, id, &hash).await?;
    tracing::info!(by = %actor.name, user = %user.name, "password reset");
    Ok(StatusCode::NO_CONTENT)
}

async fn hash_off_runtime(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(|e| Error::Internal(e.into()))?
        .map_err(Error::Internal)
}

fn parse_id(id: &str, what: &str) -> Result<Uuid> {
    Uuid::parse_str(id).map_err(|_| Error::BadRequest(format!("{id:?} is not a {what} id (a UUID)")))
}
