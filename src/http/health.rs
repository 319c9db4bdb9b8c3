//! `GET /healthz` (liveness: the process answers, and says whether the database does) and `GET /readyz`
//! (readiness: send this instance traffic only when the database and the photo store both answer).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::AppState;

/// How long `/readyz` waits for each dependency: a probe every few seconds must not pile up behind a hang.
pub const READY_WAIT: Duration = Duration::from_secs(1);

pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if crate::db::ping(&state.pool).await {
        (StatusCode::OK, Json(json!({ "status": "ok", "database": "ok" })))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "unavailable", "database": "not answering" })))
    }
}

/// 200 when the database answers `select 1` and the photo store a listing, each within [`READY_WAIT`];
/// else 503 with a body that names what failed, e.g.
/// `{"status":"unavailable","database":"ok","photo_store":"cannot read /var/photos: …"}`. The reason is
/// the operator's: the route is public like `/healthz`, and says only what a failed probe would anyway.
///
/// With a read replica, `replica` says how it is (`streaming, 0 bytes behind`, `not a standby …`, or why it
/// does not answer) and never fails readiness: without it, reads go to the primary (`db::replica`).
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (database, photo_store, replica) = tokio::join!(
        crate::db::ping_within(&state.pool, READY_WAIT),
        async {
            match tokio::time::timeout(READY_WAIT, state.photos.reachable()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(why)) => Err(why),
                Err(_) => Err(format!("no answer within {} ms", READY_WAIT.as_millis())),
            }
        },
        replica_state(&state)
    );
    let database =
        if database { Ok(()) } else { Err(format!("no answer to select 1 within {} ms", READY_WAIT.as_millis())) };
    let ready = database.is_ok() && photo_store.is_ok();
    let say = |r: Result<(), String>| r.map_or_else(|why| why, |()| "ok".to_owned());
    let body = json!({
        "status": if ready { "ok" } else { "unavailable" },
        "database": say(database),
        "photo_store": say(photo_store),
        "replica": replica,
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body))
}

/// What `/readyz` says of the read replica.
async fn replica_state(state: &AppState) -> String {
    use crate::db::replica::State as Replica;
    let Some(replica) = &state.replica else { return "not configured".into() };
    match replica.state(&state.pool, READY_WAIT).await {
        Replica::Streaming { lag_bytes } if lag_bytes >= 0 => format!("streaming, {lag_bytes} bytes behind"),
        Replica::Streaming { .. } => "streaming".into(),
        Replica::NotAStandby => "not a standby (not in recovery): reads go to the primary".into(),
        Replica::Unreachable(why) => format!("{why}: reads go to the primary"),
    }
}
