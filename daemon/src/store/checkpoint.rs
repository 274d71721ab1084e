//! The checkpoint thread: copies committed pages from the WAL back into the database file on its
//! own connection, so the writer thread (whose commits answer devices and tablets) never stops
//! to do it. The writer's connection has `wal_autocheckpoint=0`; without this thread the WAL
//! would only grow.
//!
//! Restarting the WAL from its beginning needs the write lock, which the writer holds almost all
//! the time under load: a restart from this thread waited seconds for it, and the writer then
//! waited for the restart. So the writer restarts the WAL itself, between two transactions, once
//! the WAL is long and this thread has just copied nearly all of it ([`restart_if_due`]).
//!
//! Durability is unchanged: a record is durable once its commit's WAL frames are synced (the
//! writer, `synchronous=FULL`); a checkpoint syncs the WAL, copies, then syncs the database file.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

/// How often the WAL is looked at.
const EVERY: Duration = Duration::from_millis(100);
/// WAL pages that start a pass (SQLite's own auto-checkpoint default, 4 MiB of 4 KiB pages).
const PASS_PAGES: i64 = 1000;
/// From this many pages on, the writer restarts the WAL when at most [`RESTART_LEFT_PAGES`] are
/// left to copy (a short pause between two transactions).
const RESTART_PAGES: i64 = 32_000;
/// Pages at most left to copy for a restart at [`RESTART_PAGES`].
const RESTART_LEFT_PAGES: i64 = 2_000;
/// From this many pages on, the writer restarts the WAL however much is left to copy (readers
/// kept the checkpoint passes from finishing); this bounds the WAL at about 384 MiB.
const RESTART_ANYWAY_PAGES: i64 = 96_000;

static PASSES: AtomicU64 = AtomicU64::new(0);
static PASS_NANOS: AtomicU64 = AtomicU64::new(0);
static RESTARTS: AtomicU64 = AtomicU64::new(0);
static RESTART_NANOS: AtomicU64 = AtomicU64::new(0);
static RESTART_LONGEST_NANOS: AtomicU64 = AtomicU64::new(0);

/// Checkpoint passes since start (for `/metrics`): the checkpoint thread's, and the WAL restarts
/// the writer ran.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckpointTotals {
    /// Passes run, restarts included.
    pub passes: u64,
    /// Seconds spent in them.
    pub seconds: f64,
    /// Restarting passes: the writer waits while they run.
    pub restarts: u64,
    /// Seconds spent in restarting passes.
    pub restart_seconds: f64,
    /// The longest restarting pass, seconds.
    pub restart_longest_seconds: f64,
}

/// The checkpoint totals since start.
pub fn totals() -> CheckpointTotals {
    let secs = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e9;
    CheckpointTotals {
        passes: PASSES.load(Ordering::Relaxed),
        seconds: secs(&PASS_NANOS),
        restarts: RESTARTS.load(Ordering::Relaxed),
        restart_seconds: secs(&RESTART_NANOS),
        restart_longest_seconds: secs(&RESTART_LONGEST_NANOS),
    }
}

/// Frames in the WAL after the writer's last commit, as SQLite reports them to the writer, and
/// how many of them the checkpoint thread has copied.
#[derive(Clone, Default)]
pub(crate) struct WalPages {
    in_wal: Arc<AtomicI64>,
    copied: Arc<AtomicI64>,
}

/// Hands the writer's commits to the checkpoint thread instead of checkpointing in the
/// writer: auto-checkpoint off, and each commit publishes the WAL's length.
pub(crate) fn hand_over(writer: &mut Connection, pages: &WalPages) -> rusqlite::Result<()> {
    writer.execute_batch("PRAGMA wal_autocheckpoint=0")?;
    let pages = pages.in_wal.clone();
    writer.wal_hook(Some(
        move |_: &mut rusqlite::hooks::Wal, n: std::ffi::c_int| {
            pages.store(i64::from(n), Ordering::Relaxed);
            Ok(())
        },
    ))
}

/// Runs until `stop` is set, then returns (the writer does the final full checkpoint).
pub(crate) fn run(conn: Connection, pages: WalPages, stop: Arc<AtomicBool>) {
    let mut copied_up_to = 0;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(EVERY);
        let in_wal = pages.in_wal.load(Ordering::Relaxed);
        // The WAL restarted from its beginning (its frame numbers start again at 1).
        if in_wal < copied_up_to {
            copied_up_to = 0;
        }
        if in_wal - copied_up_to < PASS_PAGES {
            continue;
        }
        if let Some(done) = pass(&conn, "PASSIVE") {
            copied_up_to = done;
            pages.copied.store(done, Ordering::Relaxed);
        }
    }
}

/// Called by the writer between transactions: restarts the WAL from its beginning when it is
/// long and (nearly) all copied, so it does not grow without end under a steady load.
pub(crate) fn restart_if_due(writer: &Connection, pages: &WalPages) {
    let in_wal = pages.in_wal.load(Ordering::Relaxed);
    let left = in_wal - pages.copied.load(Ordering::Relaxed);
    let due =
        (in_wal >= RESTART_PAGES && left <= RESTART_LEFT_PAGES) || in_wal >= RESTART_ANYWAY_PAGES;
    if due && pass(writer, "RESTART").is_some() {
        pages.in_wal.store(0, Ordering::Relaxed);
        pages.copied.store(0, Ordering::Relaxed);
    }
}

/// One checkpoint pass; returns the WAL frames copied so far.
fn pass(conn: &Connection, mode: &str) -> Option<i64> {
    let started = std::time::Instant::now();
    let result = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    PASSES.fetch_add(1, Ordering::Relaxed);
    PASS_NANOS.fetch_add(nanos, Ordering::Relaxed);
    if mode == "RESTART" {
        RESTARTS.fetch_add(1, Ordering::Relaxed);
        RESTART_NANOS.fetch_add(nanos, Ordering::Relaxed);
        RESTART_LONGEST_NANOS.fetch_max(nanos, Ordering::Relaxed);
    }
    match result {
        Ok((log, done)) => {
            tracing::trace!(mode, log, done, "WAL checkpoint");
            Some(done.max(0))
        }
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_thread_copies_the_writers_wal_into_the_database_file() {
        let dir = std::env::temp_dir().join(format!(
            "hadir-checkpoint-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let mut writer = super::super::open::connect(&path).unwrap();
        let pages = WalPages::default();
        hand_over(&mut writer, &pages).unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        // 2,000 pages of 4 KiB in 20 commits: twice the pass threshold, all of it in the WAL,
        // since the writer no longer checkpoints.
        for _ in 0..20 {
            writer
                .execute_batch(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
                     INSERT INTO t SELECT zeroblob(4000) FROM n",
                )
                .unwrap();
        }
        let db_bytes = || std::fs::metadata(&path).unwrap().len();
        assert!(db_bytes() < 1 << 20, "the writer checkpointed by itself");
        assert!(pages.in_wal.load(Ordering::Relaxed) >= PASS_PAGES);

        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let conn = super::super::open::connect(&path).unwrap();
            let (pages, stop) = (pages.clone(), stop.clone());
            move || run(conn, pages, stop)
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while db_bytes() < 7 << 20 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        assert!(
            db_bytes() >= 7 << 20,
            "database file is {} bytes",
            db_bytes()
        );
        let rows: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2000);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
