//! `POST /api/v1/punches`: import punches from another system (or a script). Answered only after
//! the punches are committed; the same punch sent twice is stored once.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::{require_token, AdminState, ApiError};
use crate::record::{NewPunch, Source};
use crate::store::Appended;

/// Most punches in one request.
pub const MAX_PUNCHES_PER_REQUEST: usize = 1000;

#[derive(Deserialize)]
struct Request<'a> {
    #[serde(borrow)]
    punches: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PunchIn {
    device: String,
    employee: String,
    /// Wall-clock time in the office zone, `YYYY-MM-DDTHH:MM:SS`.
    time: String,
    #[serde(default)]
    state: u8,
    #[serde(default)]
    verify: Option<u8>,
}

#[derive(Serialize)]
pub(super) struct Response {
    stored: usize,
    duplicates: usize,
    results: Vec<Appended>,
}

pub(super) async fn create(
    State(st): State<AdminState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Response>, ApiError> {
    require_token(&headers, &st.api_token)?;
    let req: Request<'_> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body is not {{\"punches\": [...]}}: {e}")))?;
    if req.punches.is_empty() || req.punches.len() > MAX_PUNCHES_PER_REQUEST {
        return Err(ApiError::BadRequest(format!(
            "send between 1 and {MAX_PUNCHES_PER_REQUEST} punches per request (got {})",
            req.punches.len()
        )));
    }
    let mut punches = Vec::with_capacity(req.punches.len());
    for (i, raw) in req.punches.iter().enumerate() {
        punches.push(
            parse_punch(raw).map_err(|m| ApiError::BadRequest(format!("punches[{i}]: {m}")))?,
        );
    }
    let results = st.store.append_punches(punches).await?;
    let duplicates = results.iter().filter(|r| r.duplicate).count();
    Ok(Json(Response {
        stored: results.len() - duplicates,
        duplicates,
        results,
    }))
}

fn parse_punch(raw: &RawValue) -> Result<NewPunch, String> {
    let p: PunchIn = serde_json::from_str(raw.get()).map_err(|e| e.to_string())?;
    let field_ok = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if !field_ok(&p.device, 64) {
        return Err("device must be 1–64 characters of letters, digits, '-', '_', '.'".into());
    }
    if !field_ok(&p.employee, 32) {
        return Err("employee must be 1–32 characters of letters, digits, '-', '_', '.'".into());
    }
    let local_time: jiff::civil::DateTime = p
        .time
        .parse()
        .map_err(|e| format!("time {:?} is not YYYY-MM-DDTHH:MM:SS: {e}", p.time))?;
    Ok(NewPunch {
        source: Source::Api,
        device: p.device,
        employee: p.employee,
        local_time: local_time
            .with()
            .subsec_nanosecond(0)
            .build()
            .map_err(|e| e.to_string())?,
        state: p.state,
        verify: p.verify,
        payload: raw.get().as_bytes().to_vec(),
    })
}
