//! Counters of timed events for `/metrics`: how many, their total and their longest duration.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Events of one kind since start (a `static`; lock-free).
pub(crate) struct TimedEvents {
    count: AtomicU64,
    nanos: AtomicU64,
    longest_nanos: AtomicU64,
}

/// A reading of [`TimedEvents`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Timed {
    /// Events since start.
    pub count: u64,
    /// Seconds spent in them.
    pub seconds: f64,
    /// The longest one, seconds.
    pub longest_seconds: f64,
}

impl TimedEvents {
    /// No events yet.
    pub(crate) const fn new() -> TimedEvents {
        TimedEvents {
            count: AtomicU64::new(0),
            nanos: AtomicU64::new(0),
            longest_nanos: AtomicU64::new(0),
        }
    }

    /// Counts one event that took `took`.
    pub(crate) fn record(&self, took: Duration) {
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(nanos, Ordering::Relaxed);
        self.longest_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    /// The totals so far.
    pub(crate) fn read(&self) -> Timed {
        let secs = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e9;
        Timed {
            count: self.count.load(Ordering::Relaxed),
            seconds: secs(&self.nanos),
            longest_seconds: secs(&self.longest_nanos),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TimedEvents;
    use std::time::Duration;

    #[test]
    fn events_are_counted_with_their_total_and_longest_duration() {
        let events = TimedEvents::new();
        events.record(Duration::from_millis(30));
        events.record(Duration::from_millis(10));
        let t = events.read();
        assert_eq!(t.count, 2);
        assert!((t.seconds - 0.040).abs() < 1e-9, "{t:?}");
        assert!((t.longest_seconds - 0.030).abs() < 1e-9, "{t:?}");
    }
}
