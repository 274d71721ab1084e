//! One error type for every API handler, mapped to an HTTP status and a JSON body
//! `{"error": code, "message": text}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::StoreError;

/// Why an API request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No or wrong bearer token; send `Authorization: Bearer <token>`.
    #[error("missing or wrong API token")]
    Unauthorized,
    /// The request is malformed; the message says what to fix. Nothing was stored.
    #[error("{0}")]
    BadRequest(String),
    /// Storage is full; nothing was stored. Retry after space is freed.
    #[error("{0}")]
    StorageFull(String),
    /// The gateway is shutting down or the store failed; retry later.
    #[error("{0}")]
    Unavailable(String),
    /// Logged in, but the role does not allow this, or the CSRF token is missing or wrong.
    #[error("{0}")]
    Forbidden(String),
    /// No such thing (record, employee, ...).
    #[error("{0}")]
    NotFound(String),
    /// Too many failed logins: the account is locked for a while.
    #[error("{0}")]
    Locked(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Full(_) => ApiError::StorageFull(e.to_string()),
            StoreError::Invalid(m) => ApiError::BadRequest(m),
            other => ApiError::Unavailable(other.to_string()),
        }
    }
}

impl ApiError {
    pub(crate) fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request"),
            ApiError::StorageFull(_) => (StatusCode::INSUFFICIENT_STORAGE, "storage-full"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            ApiError::Locked(_) => (StatusCode::TOO_MANY_REQUESTS, "locked"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            tracing::warn!(error = %self, "API request failed");
        }
        let body = serde_json::json!({ "error": code, "message": self.to_string() });
        (status, Json(body)).into_response()
    }
}
