//! The checkpoint thread: copies committed pages from the WAL back into the database file on its
//! own connection, so the writer thread (whose commits answer devices and tablets) never stops
//! to do it. The writer's connection has `wal_autocheckpoint=0`; without this thread the WAL
//! would only grow.
//!
//! The WAL only goes back to its beginning once every frame in it is copied. Under a steady load
//! the writer appends all the time, so that moment never comes by itself: once the WAL is long
//! ([`RESTART_PAGES`]) this thread copies in short back-to-back passes, and the writer, between
//! two of its transactions, copies the last few hundred pages itself ([`restart_if_due`]); its
//! next transaction then writes from the WAL's beginning. The two never wait for each other in
//! SQLite's busy handler (which backs off in steps of up to 100 ms): a pass is run under
//! [`WalPages`]' lock, and the writer skips its turn when this thread holds it.
//!
//! Durability is unchanged: a record is durable once its commit's WAL frames are synced (the
//! sync thread, `durable.rs`); a checkpoint syncs the WAL, copies, then syncs the database file.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::Connection;

use super::timed::{Timed, TimedEvents};

/// How often the WAL is looked at.
const EVERY: Duration = Duration::from_millis(100);
/// How often the WAL is looked at once it is [`RESTART_PAGES`] long: passes follow each other
/// closely so that little is left for the writer to copy.
const EVERY_WHEN_LONG: Duration = Duration::from_millis(2);
/// WAL pages that start a pass (SQLite's own auto-checkpoint default, 4 MiB of 4 KiB pages).
const PASS_PAGES: i64 = 1000;
/// Pages that start a pass once the WAL is [`RESTART_PAGES`] long.
const PASS_PAGES_WHEN_LONG: i64 = 64;
/// From this many pages on (128 MiB of 4 KiB pages), the writer copies what is left and the WAL
/// starts again from its beginning, once at most [`RESTART_LEFT_PAGES`] are left to copy.
const RESTART_PAGES: i64 = 32_000;
/// Pages at most left for the writer to copy (2 MiB; the pass, mostly syncing the database
/// file, took 5–75 ms between two of its transactions under the tablet benchmark).
const RESTART_LEFT_PAGES: i64 = 512;
/// From this many pages on, the writer restarts the WAL however much is left to copy, waiting
/// for readers if it must (readers kept the checkpoint passes from finishing); this bounds the
/// WAL at about 384 MiB.
const RESTART_ANYWAY_PAGES: i64 = 96_000;

static FRAMES_WRITTEN: AtomicU64 = AtomicU64::new(0);
static PASSES: AtomicU64 = AtomicU64::new(0);
static PASS_NANOS: AtomicU64 = AtomicU64::new(0);
/// The writer's passes that let the WAL restart.
static RESTARTS: TimedEvents = TimedEvents::new();

/// Checkpoint passes since start (for `/metrics`): the checkpoint thread's, and those the writer
/// ran so that the WAL starts again from its beginning.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckpointTotals {
    /// Pages the writer's commits appended to the WAL.
    pub frames_written: u64,
    /// Passes run, restarts included.
    pub passes: u64,
    /// Seconds spent in them.
    pub seconds: f64,
    /// The writer's passes that let the WAL restart: the writer waits while they run.
    pub restarts: Timed,
}

/// The checkpoint totals since start.
pub fn totals() -> CheckpointTotals {
    CheckpointTotals {
        frames_written: FRAMES_WRITTEN.load(Ordering::Relaxed),
        passes: PASSES.load(Ordering::Relaxed),
        seconds: PASS_NANOS.load(Ordering::Relaxed) as f64 / 1e9,
        restarts: RESTARTS.read(),
    }
}

/// Frames in the WAL after the writer's last commit, as SQLite reports them to the writer, how
/// many of them the checkpoint thread has copied, and the lock a checkpoint pass runs under.
#[derive(Clone, Default)]
pub(crate) struct WalPages {
    in_wal: Arc<AtomicI64>,
    copied: Arc<AtomicI64>,
    passing: Arc<Mutex<()>>,
}

impl WalPages {
    /// Pages in the WAL not yet copied into the database file. After the WAL went back to its
    /// beginning (fewer frames than were copied), none of it is.
    fn left(&self) -> i64 {
        let in_wal = self.in_wal.load(Ordering::Relaxed);
        let copied = self.copied.load(Ordering::Relaxed);
        if copied > in_wal {
            in_wal
        } else {
            in_wal - copied
        }
    }
}

/// Hands the writer's commits to the checkpoint thread instead of checkpointing in the
/// writer: auto-checkpoint off, and each commit publishes the WAL's length.
pub(crate) fn hand_over(writer: &mut Connection, pages: &WalPages) -> rusqlite::Result<()> {
    writer.execute_batch("PRAGMA wal_autocheckpoint=0")?;
    let pages = pages.in_wal.clone();
    writer.wal_hook(Some(
        move |_: &mut rusqlite::hooks::Wal, n: std::ffi::c_int| {
            let n = i64::from(n);
            let before = pages.swap(n, Ordering::Relaxed);
            // After a restart the WAL holds only this commit's frames.
            let written = if n >= before { n - before } else { n };
            FRAMES_WRITTEN.fetch_add(written.unsigned_abs(), Ordering::Relaxed);
            Ok(())
        },
    ))
}

/// Runs until `stop` is set, then returns (the writer does the final full checkpoint).
///
/// `db_file` is the database file opened beside SQLite's handle. SQLite syncs the database file
/// only after a pass that copied the whole WAL, which a steady load seldom allows, so the pages
/// of many passes would wait in the page cache for the writer's pass to sync them all (50–85 ms
/// under the tablet benchmark, with the writer stopped). Each pass is therefore followed by a
/// sync here, off the writer's path, and the writer's pass only has its own pages to sync.
pub(crate) fn run(
    conn: Connection,
    db_file: Option<std::fs::File>,
    pages: WalPages,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let long = pages.in_wal.load(Ordering::Relaxed) >= RESTART_PAGES;
        std::thread::sleep(if long { EVERY_WHEN_LONG } else { EVERY });
        let threshold = if long {
            PASS_PAGES_WHEN_LONG
        } else {
            PASS_PAGES
        };
        if pages.left() < threshold {
            continue;
        }
        let Ok(_passing) = pages.passing.lock() else {
            return;
        };
        if let Some(done) = pass(&conn, "PASSIVE", Runner::CheckpointThread) {
            if let Some(file) = &db_file {
                if let Err(e) = file.sync_data() {
                    // SQLite syncs the file itself before the WAL may start again; this one
                    // only spares the writer the wait.
                    tracing::warn!(error = %e, "syncing the database file after a checkpoint pass failed");
                }
            }
            pages.copied.store(done, Ordering::Relaxed);
        }
    }
}

/// Called by the writer between transactions: once the WAL is long and (nearly) all copied,
/// copies the rest, so that the writer's next transaction writes from the WAL's beginning and
/// the WAL does not grow without end under a steady load.
///
/// This is a passive pass: it waits for nobody. When the checkpoint thread is in a pass the
/// writer leaves it for now (it looks again after its next commit); when a reader still uses
/// the WAL, SQLite goes on appending and the writer tries again later. Only a WAL of
/// [`RESTART_ANYWAY_PAGES`] makes the writer wait, for the checkpoint thread and for readers.
pub(crate) fn restart_if_due(writer: &Connection, pages: &WalPages) {
    let in_wal = pages.in_wal.load(Ordering::Relaxed);
    if in_wal >= RESTART_ANYWAY_PAGES {
        let Ok(_passing) = pages.passing.lock() else {
            return;
        };
        if pass(writer, "RESTART", Runner::Writer).is_some() {
            pages.in_wal.store(0, Ordering::Relaxed);
            pages.copied.store(0, Ordering::Relaxed);
        }
        return;
    }
    if in_wal < RESTART_PAGES || pages.left() > RESTART_LEFT_PAGES {
        return;
    }
    let Ok(_passing) = pages.passing.try_lock() else {
        return;
    };
    if let Some(done) = pass(writer, "PASSIVE", Runner::Writer) {
        pages.copied.store(done, Ordering::Relaxed);
    }
}

/// Who runs a checkpoint pass.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Runner {
    /// The checkpoint thread; nobody waits for it.
    CheckpointThread,
    /// The writer, between two transactions; devices wait meanwhile.
    Writer,
}

/// One checkpoint pass; returns the WAL frames copied so far.
fn pass(conn: &Connection, mode: &str, runner: Runner) -> Option<i64> {
    let started = std::time::Instant::now();
    let result = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    });
    let took = started.elapsed();
    PASSES.fetch_add(1, Ordering::Relaxed);
    PASS_NANOS.fetch_add(
        u64::try_from(took.as_nanos()).unwrap_or(u64::MAX),
        Ordering::Relaxed,
    );
    if runner == Runner::Writer {
        RESTARTS.record(took);
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

    /// A fresh database in its own directory, its writer handed over to a checkpoint thread
    /// (not started), and a table `t (x BLOB)`.
    fn writer_with_table(
        name: &str,
    ) -> (std::path::PathBuf, std::path::PathBuf, Connection, WalPages) {
        let dir = std::env::temp_dir().join(format!(
            "{name}-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let mut writer = super::super::open::connect(&path).unwrap();
        let pages = WalPages::default();
        hand_over(&mut writer, &pages).unwrap();
        writer.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        (dir, path, writer, pages)
    }

    #[test]
    fn under_steady_writes_a_long_wal_starts_again_from_its_beginning() {
        let (dir, path, writer, pages) = writer_with_table("hadir-checkpoint-restart");
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::spawn({
            let conn = super::super::open::connect(&path).unwrap();
            let (pages, stop) = (pages.clone(), stop.clone());
            move || run(conn, None, pages, stop)
        });
        // Commits of 50 pages, the writer looking after each one as it does in the store,
        // until the WAL has gone back to its beginning twice.
        let mut longest = 0;
        let mut restarts = 0;
        let mut commits = 0;
        let mut before = 0;
        while restarts < 2 && commits < 10_000 {
            writer
                .execute_batch(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50)
                     INSERT INTO t SELECT zeroblob(4000) FROM n",
                )
                .unwrap();
            commits += 1;
            let in_wal = pages.in_wal.load(Ordering::Relaxed);
            longest = longest.max(in_wal);
            if in_wal < before {
                restarts += 1;
            }
            before = in_wal;
            restart_if_due(&writer, &pages);
        }
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        assert_eq!(restarts, 2, "the WAL never went back to its beginning");
        // It went back once it was long and nearly all copied, well before the writer would
        // have had to wait for it.
        assert!(longest >= RESTART_PAGES);
        assert!(
            longest < RESTART_ANYWAY_PAGES,
            "WAL grew to {longest} pages"
        );
        let rows: i64 = writer
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, commits * 50);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_checkpoint_thread_copies_the_writers_wal_into_the_database_file() {
        let (dir, path, writer, pages) = writer_with_table("hadir-checkpoint");
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
            let db_file = std::fs::File::open(&path).ok();
            move || run(conn, db_file, pages, stop)
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
