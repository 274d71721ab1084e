//! `/api/v1/readers`: reader status (with clock drift) and push readers that called with an
//! unknown serial number, for the operator to approve; and taking an employee off the roster
//! (`/api/v1/employees/{nip}/deactivate`), which removes their user from every reader.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::auth::ApiCaller;
use super::{AdminState, ApiError};
use crate::store::{DeviceStatus, Role, UnknownReader};

#[derive(Serialize)]
struct Readers {
    /// Every reader's last observed state, including `drift_s` (reader clock minus gateway).
    devices: Vec<DeviceStatus>,
    /// Push readers refused because their serial is not configured (approved ones included).
    unknown: Vec<UnknownReader>,
}

/// The routes (merged into the admin router).
pub fn routes() -> Router<AdminState> {
    Router::new()
        .route("/api/v1/readers", get(list))
        .route("/api/v1/readers/unknown", get(unknown))
        .route("/api/v1/readers/unknown/{serial}/approve", post(approve))
        .route("/api/v1/employees/{nip}/deactivate", post(deactivate))
}

/// Takes an employee off the roster; every reader drops their user at the next sync.
async fn deactivate(
    State(st): State<AdminState>,
    ApiCaller(caller): ApiCaller,
    Path(nip): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Role::Operator)?;
    if st
        .store
        .deactivate_employee(nip.clone(), caller.name.clone())
        .await?
    {
        Ok(Json(serde_json::json!({ "nip": nip, "active": false })))
    } else {
        Err(ApiError::NotFound(format!("no active employee {nip:?}")))
    }
}

async fn list(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<Readers>, ApiError> {
    Ok(Json(Readers {
        devices: st.store.devices().await?,
        unknown: st.store.unknown_readers().await?,
    }))
}

async fn unknown(
    State(st): State<AdminState>,
    ApiCaller(_): ApiCaller,
) -> Result<Json<Vec<UnknownReader>>, ApiError> {
    Ok(Json(st.store.unknown_readers().await?))
}

async fn approve(
    State(st): State<AdminState>,
    ApiCaller(caller): ApiCaller,
    Path(serial): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(Role::Admin)?;
    if st
        .store
        .approve_reader(serial.clone(), caller.name.clone())
        .await?
    {
        tracing::info!(serial, by = %caller.name, "push reader approved");
        Ok(Json(
            serde_json::json!({ "serial": serial, "approved": true }),
        ))
    } else {
        Err(ApiError::NotFound(format!(
            "no reader with serial {serial:?} has called"
        )))
    }
}
