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
use hadir_upstream::{Ack, AckStatus, Batch, VerifyError, VERSION};

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
        let verdict = batch.verify();
        self.handle_checked(db, vec![(batch, verdict)])
            .pop()
            .unwrap_or_else(|| rejected(&batch.batch_id, "no outcome".into()))
    }

    /// Stores batches already checked with [`Batch::verify`] (or refuses some, per the knobs),
    /// in order and in one durable commit; returns one ack per batch, same order, each valid
    /// only once this returns.
    pub fn handle_checked(
        &self,
        db: &Mutex<ReceiverDb>,
        batches: Vec<(&Batch, Result<(), VerifyError>)>,
    ) -> Vec<Ack> {
        let mut acks: Vec<Option<Ack>> = Vec::with_capacity(batches.len());
        let mut offered = Vec::with_capacity(batches.len());
        for (batch, verdict) in batches {
            let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
            if !self.delay.is_zero() {
                std::thread::sleep(self.delay);
            }
            if self.reject_every > 0 && n % self.reject_every == 0 {
                acks.push(Some(rejected(
                    &batch.batch_id,
                    "refused by --reject-every (test)".into(),
                )));
            } else {
                acks.push(None);
                offered.push((batch, verdict));
            }
        }
        let result = match db.lock() {
            Ok(mut db) => db.offer_checked(&offered),
            Err(_) => {
                return offered_or(acks, &offered, |b| {
                    rejected(&b.batch_id, "receiver database lock poisoned".into())
                })
            }
        };
        match result {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                acks.into_iter()
                    .map(|a| {
                        a.or_else(|| outcomes.next().map(|o| o.ack))
                            .unwrap_or_else(|| rejected("", "no outcome".into()))
                    })
                    .inspect(|ack| {
                        tracing::info!(batch = %ack.batch_id, status = ?ack.status, stored = ack.stored, duplicates = ack.duplicates, reason = ?ack.reason, "batch");
                    })
                    .collect()
            }
            Err(e) => offered_or(acks, &offered, |b| {
                rejected(&b.batch_id, format!("receiver database error: {e}"))
            }),
        }
    }
}

/// Fills the acks not decided by the knobs with `f` of their batch.
fn offered_or(
    acks: Vec<Option<Ack>>,
    offered: &[(&Batch, Result<(), VerifyError>)],
    f: impl Fn(&Batch) -> Ack,
) -> Vec<Ack> {
    let mut rest = offered.iter();
    acks.into_iter()
        .map(|a| {
            a.or_else(|| rest.next().map(|(b, _)| f(b)))
                .unwrap_or_else(|| rejected("", "no outcome".into()))
        })
        .collect()
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
