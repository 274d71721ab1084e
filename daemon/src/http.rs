//! The admin HTTP server: `/health` for monitoring and the local JSON API under `/api/v1`.

pub mod api;
pub mod auth;
mod error;
pub mod html;
pub mod i18n;
mod metrics;
pub mod openapi;
pub mod pages;
mod punches;
mod qr;
pub mod readers;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use hadir_config::SecretString;
use serde::Serialize;

pub use error::ApiError;

use crate::store::{Store, StoreStats};

/// Largest request body accepted, bytes.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// Shared state of the admin server.
#[derive(Clone)]
pub struct AdminState {
    /// The durable store.
    pub store: Store,
    /// Bearer token for `/api/v1`.
    pub api_token: Arc<SecretString>,
    /// Office id and name, for `/health`.
    pub office_id: Arc<str>,
    /// When the gateway started.
    pub started: Instant,
    /// Schema version of the open database.
    pub schema_version: i64,
    /// Forwarding status.
    pub forward: crate::forward::SharedStatus,
    /// Token for the QR display page.
    pub display_token: Arc<SecretString>,
    /// Office QR secret.
    pub qr_secret: Arc<Vec<u8>>,
    /// Office QR step, seconds.
    pub qr_step_s: u32,
    /// Office name and zone for display pages.
    pub office_name: Arc<str>,
    /// IANA zone of the office.
    pub office_tz: Arc<str>,
    /// Face verification, when configured (for enrolling faces from the web UI).
    pub face: Option<crate::face::FacePool>,
}

/// Builds the router.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics::render))
        .route("/api/v1/punches", post(punches::create))
        .route("/api/v1/qr", get(qr::json))
        .route("/qr", get(qr::page))
        // The operator API and pages (issue 6): `http/api.rs`, `http/pages.rs`.
        .merge(api::api().into_router())
        .merge(pages::routes())
        .merge(readers::routes())
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    version: &'static str,
    office: String,
    uptime_s: u64,
    schema_version: i64,
    store: StoreStats,
    upstream: crate::forward::ForwardStatus,
    devices: Vec<crate::store::DeviceStatus>,
}

async fn health(State(st): State<AdminState>) -> Result<Json<Health>, ApiError> {
    let store = st.store.stats().await?;
    let devices = st.store.devices().await?;
    Ok(Json(Health {
        status: if store.intake_refused.is_some() {
            "degraded"
        } else {
            "ok"
        },
        version: env!("CARGO_PKG_VERSION"),
        office: st.office_id.to_string(),
        uptime_s: st.started.elapsed().as_secs(),
        schema_version: st.schema_version,
        store,
        upstream: st.forward.lock().map(|s| s.clone()).unwrap_or_default(),
        devices,
    }))
}

/// Checks `Authorization: Bearer <token>` in constant time.
fn require_token(headers: &HeaderMap, token: &SecretString) -> Result<(), ApiError> {
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    if constant_time_eq(given.as_bytes(), token.expose().as_bytes()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Compares secrets in constant time (unequal lengths are simply unequal).
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    subtle::ConstantTimeEq::ct_eq(a, b).into()
}
