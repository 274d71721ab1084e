//! The checkpoint thread: copies committed pages from the WAL back into the database file on its
//! own connection, so the writer thread (whose commits answer devices and tablets) never stops
//! to do it. The writer's connection has `wal_autocheckpoint=0`; without this thread the WAL
//! would only grow.
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
/// From this many pages on, a pass waits for readers so the WAL restarts from its beginning.
const RESTART_PAGES: i64 = 16_000;

static PASSES: AtomicU64 = AtomicU64::new(0);

/// Checkpoint passes since start (for `/metrics`).
pub fn passes() -> u64 {
    PASSES.load(Ordering::Relaxed)
}

/// Frames in the WAL after the writer's last commit, as SQLite reports them to the writer.
#[derive(Clone, Default)]
pub(crate) struct WalPages(Arc<AtomicI64>);

/// Hands the writer's commits to the checkpoint thread instead of checkpointing in the
/// writer: auto-checkpoint off, and each commit publishes the WAL's length.
pub(crate) fn hand_over(writer: &mut Connection, pages: &WalPages) -> rusqlite::Result<()> {
    writer.execute_batch("PRAGMA wal_autocheckpoint=0")?;
    let pages = pages.0.clone();
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
        let in_wal = pages.0.load(Ordering::Relaxed);
        // The WAL restarted from its beginning (its frame numbers start again at 1).
        if in_wal < copied_up_to {
            copied_up_to = 0;
        }
        if in_wal - copied_up_to < PASS_PAGES {
            continue;
        }
        let mode = if in_wal >= RESTART_PAGES {
            "RESTART"
        } else {
            "PASSIVE"
        };
        match conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
            Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
        }) {
            Ok((log, done)) => {
                PASSES.fetch_add(1, Ordering::Relaxed);
                copied_up_to = done.max(0);
                tracing::trace!(mode, log, done, "WAL checkpoint");
            }
            Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed; retrying"),
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
        assert!(pages.0.load(Ordering::Relaxed) >= PASS_PAGES);

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
