//! `/api/v1/employees` and `/api/v1/travel-orders`: the roster facts check-in rules need (home
//! location for WFH, travel orders for dinas luar). Bearer token required.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;

use super::{require_token, AdminState, ApiError};
use crate::store::{Employee, TravelOrderRow};

fn nip_ok(nip: &str) -> bool {
    (4..=32).contains(&nip.len()) && nip.bytes().all(|b| b.is_ascii_alphanumeric())
}

pub(super) async fn put_employee(
    State(st): State<AdminState>,
    headers: HeaderMap,
    Path(nip): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_token(&headers, &st.api_token)?;
    let mut e: Employee = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("employee: {e}")))?;
    if !nip_ok(&nip) {
        return Err(ApiError::BadRequest(
            "nip must be 4–32 letters or digits".into(),
        ));
    }
    e.nip = nip;
    if e.name.trim().is_empty() || e.name.len() > 200 {
        return Err(ApiError::BadRequest(
            "name is required (at most 200 characters)".into(),
        ));
    }
    match (e.home_lat, e.home_lon) {
        (Some(lat), Some(lon))
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) => {}
        (None, None) => {}
        _ => {
            return Err(ApiError::BadRequest(
                "home_lat and home_lon go together and must be valid coordinates".into(),
            ))
        }
    }
    let nip = e.nip.clone();
    st.store.upsert_employee(e).await?;
    st.store.audit("api", "employee-upserted", &nip, "").await?;
    Ok(Json(serde_json::json!({ "nip": nip })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TravelIn {
    nip: String,
    spt_number: String,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
}

pub(super) async fn post_travel_order(
    State(st): State<AdminState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_token(&headers, &st.api_token)?;
    let t: TravelIn = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("travel order: {e}")))?;
    if !nip_ok(&t.nip) {
        return Err(ApiError::BadRequest(
            "nip must be 4–32 letters or digits".into(),
        ));
    }
    if t.spt_number.trim().is_empty() || t.spt_number.len() > 100 {
        return Err(ApiError::BadRequest(
            "spt_number is required (at most 100 characters)".into(),
        ));
    }
    if t.to < t.from {
        return Err(ApiError::BadRequest("to is before from".into()));
    }
    let order = TravelOrderRow {
        spt_number: t.spt_number.clone(),
        date_from: t.from.to_string(),
        date_to: t.to.to_string(),
    };
    let id = st
        .store
        .add_travel_order(t.nip.clone(), order, "api".into())
        .await?;
    st.store
        .audit(
            "api",
            "travel-order-added",
            &t.nip,
            &format!("SPT {} {}..{}", t.spt_number, t.from, t.to),
        )
        .await?;
    Ok(Json(serde_json::json!({ "id": id })))
}
