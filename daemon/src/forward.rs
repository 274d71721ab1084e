//! Store-and-forward to the provincial server.
//!
//! The forwarder drains the outbox in chain order, in signed batches (size and age limits), over
//! MQTT or HTTPS. A batch's records are marked forwarded only when the server's application-level
//! ack names the batch as stored; until then nothing about them changes. Any rejection, timeout
//! or lost connection makes it re-send from the oldest unacknowledged record after an exponential
//! backoff with jitter; the server de-duplicates by record id and by chain position. The
//! forwarder only reads the store and writes acks, so a slow or dead server never blocks intake.

pub mod export;
pub mod identity;
mod link;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hadir_config::{SecretString, Upstream};
use hadir_upstream::{Ack, AckStatus, Batch, BatchRecord, GatewayKey};
use serde::Serialize;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::store::{OutboxRow, Store, StoreError};
use link::Link;

/// Why forwarding cannot proceed right now.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The upstream settings are unusable; fix the config.
    #[error("upstream configuration: {0}")]
    Config(String),
    /// The server could not be reached or answered with an error; retried with backoff.
    #[error("{0}")]
    Transport(String),
    /// The local store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `/health` and `/metrics` show about forwarding.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ForwardStatus {
    /// `none`, `mqtt` or `https`.
    pub mode: String,
    /// Whether the server is reachable now.
    pub connected: bool,
    /// The last transport error or rejection reason.
    pub last_error: Option<String>,
    /// Batches acknowledged as stored since start.
    pub batches_acked: u64,
    /// Batches rejected by the server since start.
    pub batches_rejected: u64,
    /// Records acknowledged since start.
    pub records_acked: u64,
    /// Times the forwarder went back to the oldest unacknowledged record.
    pub resends: u64,
}

/// Shared forwarding status.
pub type SharedStatus = Arc<Mutex<ForwardStatus>>;

struct InFlight {
    batch_id: String,
    last: u64,
    sent_at: Instant,
}

/// Exponential backoff with ±25 % jitter, 1 s to 60 s.
struct Backoff {
    next: Duration,
}

impl Backoff {
    const MIN: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(60);

    fn new() -> Self {
        Backoff { next: Self::MIN }
    }

    fn reset(&mut self) {
        self.next = Self::MIN;
    }

    fn step(&mut self) -> Duration {
        use rand::Rng;
        let base = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        let jitter = rand::thread_rng().gen_range(0.75..1.25);
        base.mul_f64(jitter)
    }
}

/// Cuts `rows` (unforwarded, in `seq` order) after the longest prefix that is one unbroken
/// piece of the chain (each row's `prev_hash` is the previous row's `hash`). Unforwarded rows
/// are a gap-free tail of the chain by construction (`mark_forwarded_through`); this keeps a
/// batch verifiable even for a store that a crash left with a marked row between unmarked ones.
/// Returns the rows cut off, in order.
pub fn split_at_chain_break(rows: &mut Vec<OutboxRow>) -> Vec<OutboxRow> {
    let cut = rows
        .windows(2)
        .position(|w| w[1].prev_hash != w[0].hash)
        .map_or(rows.len(), |i| i + 1);
    rows.split_off(cut)
}

/// Builds a signed batch from consecutive outbox rows.
pub fn build_batch(key: &GatewayKey, gateway: &str, chain_id: &str, rows: Vec<OutboxRow>) -> Batch {
    let records = rows
        .into_iter()
        .map(|r| BatchRecord {
            seq: r.seq,
            record_id: r.record_id,
            kind: r.kind,
            prev_hash: r.prev_hash,
            hash: r.hash,
            body: r.body,
        })
        .collect();
    Batch::sign(
        key,
        gateway,
        chain_id,
        jiff::Timestamp::now().to_string(),
        records,
    )
}

/// The forwarding task.
pub struct Forwarder {
    /// The store to drain.
    pub store: Store,
    /// Upstream settings.
    pub cfg: Upstream,
    /// Upstream password, resolved.
    pub password: Option<SecretString>,
    /// Office id (the gateway id upstream).
    pub gateway: String,
    /// The signing key.
    pub key: GatewayKey,
    /// Shared status.
    pub status: SharedStatus,
}

impl Forwarder {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> Result<(), ForwardError> {
        let chain_id = self.store.chain_id().await?;
        let (acks_tx, mut acks) = mpsc::channel::<Ack>(256);
        let link = Link::open(
            &self.cfg,
            &self.gateway,
            self.password.clone(),
            acks_tx,
            self.status.clone(),
        )?;
        let window = match self.cfg.mode {
            hadir_config::UpstreamMode::Mqtt => self.cfg.max_in_flight.max(1),
            _ => 1,
        };
        let ack_timeout = Duration::from_secs(self.cfg.ack_timeout_s);
        let max_age = Duration::from_secs(self.cfg.batch_max_age_s);
        let mut inflight: VecDeque<InFlight> = VecDeque::new();
        let mut after_seq = 0u64;
        let mut backoff = Backoff::new();
        let mut pause_until: Option<Instant> = None;
        // Durable marks of acknowledged batches still committing; the loop keeps sending
        // meanwhile (the store commits marks that queue up together).
        let mut marks: JoinSet<Result<usize, StoreError>> = JoinSet::new();
        tracing::info!(mode = ?self.cfg.mode, url = %self.cfg.url, "forwarder started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            let mut wake = Instant::now() + Duration::from_secs(1);
            // Fill the window.
            let paused = pause_until.is_some_and(|t| t > Instant::now());
            // Going back to the oldest unacknowledged record waits for pending marks, so what
            // the server already acknowledged is not sent again.
            let resync = after_seq == 0 && !marks.is_empty();
            while !paused
                && !resync
                && inflight.len() < window
                && marks.len() < window
                && link.ready()
            {
                let mut rows = self
                    .store
                    .unsent_after(after_seq, self.cfg.batch_max_records)
                    .await?;
                let broken = !split_at_chain_break(&mut rows).is_empty();
                let Some(first) = rows.first() else { break };
                if rows.len() < self.cfg.batch_max_records && !broken {
                    let age = age_of(&first.enqueued_utc);
                    if age < max_age {
                        wake = wake.min(Instant::now() + (max_age - age));
                        break;
                    }
                }
                let last_seq = rows.last().map_or(first.seq, |r| r.seq);
                let batch = build_batch(&self.key, &self.gateway, &chain_id, rows);
                let body = match serde_json::to_vec(&batch) {
                    Ok(b) => b,
                    Err(e) => {
                        return Err(ForwardError::Config(format!("serialising a batch: {e}")))
                    }
                };
                inflight.push_back(InFlight {
                    batch_id: batch.batch_id.clone(),
                    last: last_seq,
                    sent_at: Instant::now(),
                });
                after_seq = last_seq;
                if let Err(e) = link.send(&batch, body).await {
                    tracing::warn!(error = %e, "sending a batch failed, will retry: {e}");
                    self.set_error(e.to_string());
                    self.go_back(
                        &mut inflight,
                        &mut after_seq,
                        &mut pause_until,
                        &mut backoff,
                    );
                    break;
                }
            }
            if let Some(f) = inflight.front() {
                wake = wake.min(f.sent_at + ack_timeout);
            }
            if let Some(t) = pause_until {
                wake = wake.min(t.max(Instant::now() + Duration::from_millis(10)));
            }
            tokio::select! {
                ack = acks.recv() => {
                    let Some(ack) = ack else { break };
                    self.on_ack(ack, &chain_id, &mut inflight, &mut after_seq, &mut pause_until, &mut backoff, &mut marks);
                }
                Some(marked) = marks.join_next(), if !marks.is_empty() => {
                    self.on_marked(marked)?;
                }
                _ = link.connected() => {}
                _ = self.store.wait_appended() => {}
                _ = tokio::time::sleep_until(wake) => {}
                _ = shutdown.changed() => {}
            }
            if let Some(f) = inflight.front() {
                if f.sent_at.elapsed() >= ack_timeout {
                    tracing::warn!(batch = %f.batch_id, timeout_s = ack_timeout.as_secs(), "no ack in time; re-sending from the oldest unacknowledged record");
                    self.set_error(format!(
                        "no ack for {} within {} s",
                        f.batch_id,
                        ack_timeout.as_secs()
                    ));
                    self.go_back(
                        &mut inflight,
                        &mut after_seq,
                        &mut pause_until,
                        &mut backoff,
                    );
                }
            }
            if pause_until.is_some_and(|t| t <= Instant::now()) {
                pause_until = None;
            }
        }
        while let Some(marked) = marks.join_next().await {
            self.on_marked(marked)?;
        }
        tracing::info!(
            unacknowledged_batches = inflight.len(),
            "forwarder stopped; unacknowledged records stay queued"
        );
        Ok(())
    }

    /// Counts a batch whose records are now durably marked forwarded.
    fn on_marked(
        &self,
        marked: Result<Result<usize, StoreError>, tokio::task::JoinError>,
    ) -> Result<(), ForwardError> {
        let marked = marked.map_err(|e| {
            ForwardError::Store(StoreError::CommitFailed(format!("marking a batch: {e}")))
        })??;
        if let Ok(mut s) = self.status.lock() {
            s.batches_acked += 1;
            s.records_acked += marked as u64;
            s.last_error = None;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn on_ack(
        &self,
        ack: Ack,
        chain_id: &str,
        inflight: &mut VecDeque<InFlight>,
        after_seq: &mut u64,
        pause_until: &mut Option<Instant>,
        backoff: &mut Backoff,
        marks: &mut JoinSet<Result<usize, StoreError>>,
    ) {
        let position = inflight.iter().position(|f| f.batch_id == ack.batch_id);
        match ack.status {
            AckStatus::Stored => {
                // An ack for a batch sent before a restart still counts: the server stored it.
                let last = match position {
                    Some(i) => inflight.get(i).map(|f| f.last),
                    None => parse_batch_range(&ack.batch_id, &self.gateway, chain_id)
                        .map(|(_, last)| last),
                };
                let Some(last) = last else {
                    tracing::debug!(batch = %ack.batch_id, "ack for a batch of another chain; ignored");
                    return;
                };
                // The server holds the chain up to `last`: earlier batches whose acks are still
                // missing are covered too.
                inflight.retain(|f| f.last > last);
                backoff.reset();
                tracing::debug!(batch = %ack.batch_id, stored = ack.stored, duplicates = ack.duplicates, "batch acknowledged");
                let store = self.store.clone();
                marks.spawn(async move { store.mark_forwarded_through(last, ack.batch_id).await });
            }
            AckStatus::Rejected => {
                if position.is_none() && !ack.batch_id.is_empty() {
                    return; // a stale rejection of a batch already re-sent
                }
                let reason = ack.reason.unwrap_or_else(|| "no reason given".into());
                tracing::warn!(batch = %ack.batch_id, %reason, "the provincial server rejected batch {}: {reason}; will re-send", ack.batch_id);
                if let Ok(mut s) = self.status.lock() {
                    s.batches_rejected += 1;
                }
                self.set_error(format!("rejected {}: {reason}", ack.batch_id));
                self.go_back(inflight, after_seq, pause_until, backoff);
            }
        }
    }

    /// Forget what is in flight and start again from the oldest unacknowledged record after a
    /// backoff.
    fn go_back(
        &self,
        inflight: &mut VecDeque<InFlight>,
        after_seq: &mut u64,
        pause_until: &mut Option<Instant>,
        backoff: &mut Backoff,
    ) {
        inflight.clear();
        *after_seq = 0;
        *pause_until = Some(Instant::now() + backoff.step());
        if let Ok(mut s) = self.status.lock() {
            s.resends += 1;
        }
    }

    fn set_error(&self, e: String) {
        if let Ok(mut s) = self.status.lock() {
            s.last_error = Some(e);
        }
    }
}

/// `(first, last)` from `<gateway>:<chain>:<first>-<last>` when it names this gateway's chain.
fn parse_batch_range(batch_id: &str, gateway: &str, chain_id: &str) -> Option<(u64, u64)> {
    let rest = batch_id.strip_prefix(gateway)?.strip_prefix(':')?;
    let rest = rest.strip_prefix(chain_id)?.strip_prefix(':')?;
    let (a, b) = rest.split_once('-')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

fn age_of(utc: &str) -> Duration {
    utc.parse::<jiff::Timestamp>()
        .ok()
        .and_then(|t| jiff::Timestamp::now().duration_since(t).try_into().ok())
        .unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_id_of_this_chain_gives_its_range() {
        assert_eq!(
            parse_batch_range("kutim:ab12:17-42", "kutim", "ab12"),
            Some((17, 42))
        );
        assert_eq!(
            parse_batch_range("kutim:other:17-42", "kutim", "ab12"),
            None
        );
        assert_eq!(parse_batch_range("kutim-2:ab12:1-2", "kutim", "ab12"), None);
    }

    fn row(seq: u64, prev_hash: &str, hash: &str) -> OutboxRow {
        OutboxRow {
            seq,
            record_id: format!("r{seq}"),
            kind: "punch".into(),
            prev_hash: prev_hash.into(),
            hash: hash.into(),
            body: "{}".into(),
            enqueued_utc: "2026-11-23T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_batch_stops_where_the_unforwarded_rows_leave_the_chain() {
        // 3 follows 2; 7 does not follow 3 (4-6 were marked by a later ack).
        let mut rows = vec![row(2, "h1", "h2"), row(3, "h2", "h3"), row(7, "h6", "h7")];
        let cut = split_at_chain_break(&mut rows);
        assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(cut.iter().map(|r| r.seq).collect::<Vec<_>>(), [7]);

        let mut whole = vec![row(1, "h0", "h1"), row(2, "h1", "h2")];
        assert!(split_at_chain_break(&mut whole).is_empty());
        assert_eq!(whole.len(), 2);
        assert!(split_at_chain_break(&mut Vec::new()).is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_a_minute_with_jitter() {
        let mut b = Backoff::new();
        let first = b.step();
        assert!(first >= Duration::from_millis(750) && first <= Duration::from_millis(1250));
        for _ in 0..10 {
            b.step();
        }
        let late = b.step();
        assert!(late <= Duration::from_secs(75) && late >= Duration::from_secs(45));
        b.reset();
        assert!(b.step() <= Duration::from_millis(1250));
    }
}
