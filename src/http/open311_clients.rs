//! Open311 client systems' keys (issue 13): admins issue one per client system (a city platform, an app),
//! see them listed and revoke them. The key is in the answer that issues it and nowhere else: only its
//! SHA-256 is stored (`db::open311`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use super::{ApiJson, AppState, Error, Result};
use crate::db::open311::{self, ClientView};
use crate::domain::auth::{Actor, Permission};
use crate::secrets;

fn require(actor: &Actor) -> Result<()> {
    if actor.can(Permission::ManageOpen311Clients) {
        Ok(())
    } else {
        Err(Error::Forbidden("Open311 keys are issued and revoked by administrators".into()))
    }
}

/// Every Open311 client system (admins): name, key prefix, when issued, by whom, last used, revoked.
#[utoipa::path(
    get,
    path = "/open311-clients",
    operation_id = "open311_clients",
    tag = "open311",
    responses(
        (status = 200, description = "Every client system, newest first (never a key)", body = [ClientView]),
        (status = 403, description = "Admins only"),
    )
)]
pub async fn list(State(state): State<AppState>, actor: Actor) -> Result<axum::Json<Vec<ClientView>>> {
    require(&actor)?;
    Ok(axum::Json(open311::clients(&state.pool).await?))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    /// The client system, e.g. 市12345政务服务平台.
    name: String,
}

/// `POST /api/v1/open311-clients`: issues a key; it is in this answer and nowhere else, ever.
#[utoipa::path(
    post,
    path = "/open311-clients",
    operation_id = "create_open311_client",
    tag = "open311",
    request_body = NewClient,
    responses(
        (status = 201, description = "The client and its key (`key`), shown this once", body = Object),
        (status = 400, description = "The body is malformed"),
        (status = 403, description = "Admins only"),
        (status = 422, description = "The name is missing or longer than 64 characters"),
    )
)]
pub async fn create(State(state): State<AppState>, actor: Actor, ApiJson(new): ApiJson<NewClient>) -> Result<Response> {
    require(&actor)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(Error::Unprocessable("name: 1 to 64 characters, e.g. 市12345政务服务平台".into()));
    }
    let key = secrets::random_token("o311_");
    let mut conn = state.pool.acquire().await?;
    let client = open311::create_client(&mut conn, name, &key, &actor.name)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("a fresh random key collided with a stored one")))?;
    tracing::info!(by = %actor.name, client = client.id, "Open311 key issued");
    let mut body = json!(client);
    body["key"] = json!(key);
    Ok((StatusCode::CREATED, axum::Json(body)).into_response())
}

/// `POST /api/v1/open311-clients/{id}/revoke`: the key stops working at once (a second revocation changes
/// nothing).
#[utoipa::path(
    post,
    path = "/open311-clients/{id}/revoke",
    operation_id = "revoke_open311_client",
    tag = "open311",
    params(("id" = i32, Path, description = "The client's id")),
    responses(
        (status = 200, description = "The client, revoked", body = ClientView),
        (status = 400, description = "The id is not a number"),
        (status = 403, description = "Admins only"),
        (status = 404, description = "No such client"),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    actor: Actor,
    Path(id): Path<String>,
) -> Result<axum::Json<ClientView>> {
    require(&actor)?;
    let id: i32 = id.parse().map_err(|_| Error::BadRequest(format!("{id:?} is not a client id (a number)")))?;
    let client =
        open311::revoke_client(&state.pool, id).await?.ok_or_else(|| Error::NotFound(format!("no client {id}")))?;
    tracing::info!(by = %actor.name, client = id, "Open311 key revoked");
    Ok(axum::Json(client))
}
