//! Receiving batches over HTTP(S): `POST /v1/batches` with Basic authentication and an
//! `Idempotency-Key` header; the answer is the ack (200 stored, 409 rejected).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine;
use hadir_upstream::{Ack, AckStatus, Batch, VERSION};

use crate::ReceiverDb;

/// Test and trial knobs: answer slowly, or refuse some batches.
#[derive(Debug, Clone, Default)]
pub struct Behaviour {
    /// Wait this long before storing each batch.
    pub delay: Duration,
    /// Refuse every n-th batch (0 = never).
    pub reject_every: u64,
    /// Counts batches seen.
    pub seen: Arc<AtomicU64>,
}

impl Behaviour {
    /// Stores a batch (or refuses it, per the knobs) and returns the ack.
    pub fn handle(&self, db: &Mutex<ReceiverDb>, batch: &Batch) -> Ack {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        if self.reject_every > 0 && n % self.reject_every == 0 {
            return rejected(&batch.batch_id, "refused by --reject-every (test)".into());
        }
        let result = match db.lock() {
            Ok(mut db) => db.offer(batch),
            Err(_) => return rejected(&batch.batch_id, "receiver database lock poisoned".into()),
        };
        match result {
            Ok(outcome) => {
                tracing::info!(batch = %batch.batch_id, status = ?outcome.ack.status, stored = outcome.ack.stored, duplicates = outcome.ack.duplicates, reason = ?outcome.ack.reason, "batch");
                outcome.ack
            }
            Err(e) => rejected(&batch.batch_id, format!("receiver database error: {e}")),
        }
    }
}

fn rejected(batch_id: &str, reason: String) -> Ack {
    Ack {
        v: VERSION,
        batch_id: batch_id.to_string(),
        status: AckStatus::Rejected,
        stored: 0,
        duplicates: 0,
        reason: Some(reason),
    }
}

#[derive(Clone)]
struct AppState {
    db: Arc<Mutex<ReceiverDb>>,
    behaviour: Behaviour,
    credentials: Option<(String, String)>,
}

/// The HTTP router.
pub fn router(
    db: Arc<Mutex<ReceiverDb>>,
    behaviour: Behaviour,
    credentials: Option<(String, String)>,
) -> Router {
    Router::new()
        .route("/v1/batches", post(receive))
        .layer(axum::extract::DefaultBodyLimit::max(64 << 20))
        .with_state(AppState {
            db,
            behaviour,
            credentials,
        })
}

async fn receive(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, Json<Ack>) {
    if let Some((user, pass)) = &st.credentials {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
        );
        let given = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(expected.as_str()) {
            return (
                StatusCode::UNAUTHORIZED,
                Json(rejected("", "authentication required".into())),
            );
        }
    }
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(rejected("", format!("not a batch: {e}"))),
            )
        }
    };
    let idem = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    if idem.is_some_and(|k| k != batch.batch_id) {
        return (
            StatusCode::BAD_REQUEST,
            Json(rejected(
                &batch.batch_id,
                "Idempotency-Key differs from batch_id".into(),
            )),
        );
    }
    let (db, behaviour) = (st.db.clone(), st.behaviour.clone());
    match tokio::task::spawn_blocking(move || behaviour.handle(&db, &batch)).await {
        Ok(ack) if ack.status == AckStatus::Stored => (StatusCode::OK, Json(ack)),
        Ok(ack) => (StatusCode::CONFLICT, Json(ack)),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(rejected("", "handler failed".into())),
        ),
    }
}
