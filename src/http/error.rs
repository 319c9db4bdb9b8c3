//! The one error type of the HTTP layer, answered as RFC 9457 `application/problem+json`.
//!
//! 4xx bodies say what was wrong and how to fix it; 5xx bodies never carry internals (they are logged
//! once, here). A database that does not answer is a 503 with `Retry-After`, not a hang.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::openapi::Problem;

use crate::domain::lifecycle::TransitionError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after_s: u64 },
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    PreconditionRequired(String),
    /// A rule refused the request. `code` names the rule, stably, so that clients can say it in their own
    /// words; `facts` (an object) holds the values the message names, e.g. `unmet_items`, and is merged into
    /// the problem+json body.
    #[error("{message}")]
    Refused { status: StatusCode, code: &'static str, message: String, facts: serde_json::Value },
    #[error("the database is not answering; try again shortly")]
    Unavailable,
    /// The client sent its request too slowly (an upload below the minimum rate, see `http::limits`).
    #[error("{0}")]
    RequestTimeout(String),
    /// The server is too busy for this request now (the upload buffers are full, or it was not answered in
    /// time): 503 with `Retry-After`.
    #[error("{message}")]
    Busy { message: String, retry_after_s: u64 },
    /// The photo store (or the disk an upload is written to) has no room: 507. Nothing was recorded.
    #[error("{0}")]
    InsufficientStorage(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::PreconditionFailed(_) => StatusCode::PRECONDITION_FAILED,
            Error::PreconditionRequired(_) => StatusCode::PRECONDITION_REQUIRED,
            Error::Refused { status, .. } => *status,
            Error::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Error::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Error::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl Error {
    /// A refusal by a named rule with nothing more to name.
    pub fn refused(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Error::Refused { status, code, message: message.into(), facts: json!({}) }
    }
}

/// A move the lifecycle refuses: the status by kind of refusal, the rule's code and its facts.
impl From<TransitionError> for Error {
    fn from(e: TransitionError) -> Self {
        let status = match &e {
            TransitionError::WrongStatus { .. }
            | TransitionError::UnmetItems(_)
            | TransitionError::ExtensionPending
            | TransitionError::NoExtension => StatusCode::CONFLICT,
            TransitionError::NotYourMove { .. } | TransitionError::OwnWork => StatusCode::FORBIDDEN,
            TransitionError::ReasonRequired(_) => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Error::Refused { status, code: e.code(), message: e.to_string(), facts: e.facts() }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => Error::Unavailable,
            sqlx::Error::Database(db) if db.code().as_deref().is_some_and(database_unavailable) => Error::Unavailable,
            sqlx::Error::RowNotFound => Error::NotFound("not found".into()),
            // A write refused as read-only (SQLSTATE 25006): DATABASE_URL points at a hot standby, e.g. the
            // old primary after a failover. Writes wait for a primary; said in the log, a 503 to clients.
            sqlx::Error::Database(db) if db.code().as_deref() == Some("25006") => {
                tracing::error!(error = %e, "the database refused a write: it is a read-only standby");
                Error::Unavailable
            }
            _ => Error::Internal(e.into()),
        }
    }
}

/// SQLSTATEs that say the database server is going away or not there yet, not that the request was wrong: a
/// stopping server ends every session with `57P01` (fast shutdown) or `57P02`, a starting one refuses with
/// `57P03`, a full one with `53300`, and class `08` is a broken connection. The request may be retried as is,
/// so these are a 503 like a pool timeout (PostgreSQL, Appendix A "Error Codes").
fn database_unavailable(code: &str) -> bool {
    matches!(code, "57P01" | "57P02" | "57P03" | "53300") || code.starts_with("08")
}

impl From<object_store::Error> for Error {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => Error::NotFound("no such file in the photo store".into()),
            e if crate::photos::out_of_space(&e) => {
                tracing::error!(error = %e, "the photo store is full");
                Error::InsufficientStorage(
                    "the photo store is full: nothing was recorded; tell the administrator, and send it again once \
                     they have made room"
                        .into(),
                )
            }
            // The store did not answer or failed the request (a network error, a bucket gone, a disk error):
            // nothing was recorded and the same request may succeed later, so the phone is told to retry.
            e @ object_store::Error::Generic { .. } => {
                tracing::error!(error = %e, "the photo store failed a request");
                Error::Busy {
                    message: "the photo store is not answering: nothing was recorded; try again shortly".into(),
                    retry_after_s: 10,
                }
            }
            e => Error::Internal(e.into()),
        }
    }
}

impl From<anyhow::Error> for Error {
    fn from(e: anyhow::Error) -> Self {
        Error::Internal(e)
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        if let Error::Internal(e) = &self {
            tracing::error!(error = ?e, "request failed");
        }
        let (code, facts) = match &self {
            Error::Refused { code, facts, .. } => (Some(*code), facts.as_object().cloned().unwrap_or_default()),
            _ => (None, Default::default()),
        };
        let body = Problem {
            kind: "about:blank",
            title: status.canonical_reason().unwrap_or("Error").to_string(),
            status: status.as_u16(),
            detail: self.to_string(),
            code,
            facts,
        };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        match &self {
            Error::Unavailable => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            }
            Error::TooManyRequests { retry_after_s, .. } | Error::Busy { retry_after_s, .. } => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_s));
            }
            Error::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"roadledger\""));
            }
            _ => {}
        }
        response
    }
}
