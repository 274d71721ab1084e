//! Where a check-in's time goes: cumulative seconds per pipeline stage, shown on `/metrics`
//! (`hadir_checkin_stage_seconds_total`) so an operator (or the benchmark) can see whether the
//! queue, the store reads, the photo, the face check or the durable write is the slow part.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// A stage of the check-in pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// From the broker handing the message over to a free pipeline slot.
    Queue,
    /// Opening the envelope and parsing the payload.
    Parse,
    /// Reading the employee's history (on the store's writer, in the transaction that stores
    /// the check-in).
    History,
    /// Decoding and hashing the photo.
    Photo,
    /// The face check (0 when not configured).
    Face,
    /// Running the rules and building the record (on the store's writer).
    Verify,
    /// Waiting for the writer and the durable commit (history and rules excluded).
    Store,
}

impl Stage {
    /// Every stage, in pipeline order.
    pub const ALL: [Stage; 7] = [
        Stage::Queue,
        Stage::Parse,
        Stage::History,
        Stage::Photo,
        Stage::Face,
        Stage::Verify,
        Stage::Store,
    ];

    /// The `stage` label on `/metrics`.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Queue => "queue",
            Stage::Parse => "parse",
            Stage::History => "history",
            Stage::Photo => "photo",
            Stage::Face => "face",
            Stage::Verify => "verify",
            Stage::Store => "store",
        }
    }
}

static NANOS: [AtomicU64; Stage::ALL.len()] = [const { AtomicU64::new(0) }; Stage::ALL.len()];
static HANDLED: AtomicU64 = AtomicU64::new(0);

/// Adds the time since `since` to `stage` and returns now, for the next stage.
pub fn lap(stage: Stage, since: Instant) -> Instant {
    let now = Instant::now();
    add(stage, now.saturating_duration_since(since));
    now
}

/// Adds `spent` to `stage` (for time measured elsewhere, e.g. on the store's writer thread).
pub fn add(stage: Stage, spent: std::time::Duration) {
    let nanos = u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX);
    NANOS[stage as usize].fetch_add(nanos, Ordering::Relaxed);
}

/// Counts one check-in that went through the pipeline (whatever its verdict).
pub fn handled() {
    HANDLED.fetch_add(1, Ordering::Relaxed);
}

/// Check-ins handled since start.
pub fn handled_total() -> u64 {
    HANDLED.load(Ordering::Relaxed)
}

/// Cumulative seconds spent in `stage` since start, over all check-ins.
pub fn seconds(stage: Stage) -> f64 {
    NANOS[stage as usize].load(Ordering::Relaxed) as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_lap_adds_the_elapsed_time_to_its_stage_only() {
        let verify_before = seconds(Stage::Verify);
        let start = Instant::now() - Duration::from_millis(20);
        let next = lap(Stage::Verify, start);
        assert!(next >= start);
        assert!(seconds(Stage::Verify) - verify_before >= 0.019);
    }
}
