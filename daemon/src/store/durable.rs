//! Making commits durable beside the writer (pipelined group commit).
//!
//! The writer's connection runs with `synchronous=NORMAL`: a commit writes its WAL frames and
//! returns without waiting for the disk. The `hadir-sync` thread then calls `fdatasync` on the
//! WAL file — once for every commit that finished meanwhile — and only after that answers those
//! commits' jobs, in commit order. An answer therefore still means "on disk", exactly as with
//! `synchronous=FULL` (a commit's frames, and every earlier commit's, are synced before anyone is
//! told), but the writer already runs the next group while the disk syncs the last one.
//!
//! A reader connection may see a commit before it is synced. [`Generations`] numbers the
//! commits: the writer announces a commit's number before committing, this thread publishes
//! the highest synced one, and `Store::read` waits after reading until every commit its
//! snapshot could hold is synced. So nothing a reader hands on (a batch forwarded upstream, a
//! stored reply sent to a tablet) can disappear in a power cut.
//!
//! A failed `fdatasync` leaves the file's state unknown (Linux may already have dropped the dirty
//! pages), so the jobs are answered with the failure and the process exits; systemd restarts it
//! and SQLite recovers from what really is on disk.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::watch;

use super::timed::{Timed, TimedEvents};
use super::writer::Completion;
use super::StoreError;

/// Commits queued for syncing at most; the writer waits when this many are unsynced.
pub(crate) const QUEUE: usize = 64;

/// The sync thread's `fdatasync` calls on the WAL (each covers every commit that finished before
/// it).
static SYNCS: TimedEvents = TimedEvents::new();

/// The sync thread's work since start (for `/metrics`).
pub fn totals() -> Timed {
    SYNCS.read()
}

/// Commit numbers: the last one started by the writer and the last one known to be on disk.
pub(crate) struct Generations {
    committing: AtomicU64,
    durable: watch::Sender<u64>,
}

impl Default for Generations {
    fn default() -> Self {
        Generations {
            committing: AtomicU64::new(0),
            durable: watch::Sender::new(0),
        }
    }
}

impl Generations {
    /// Called by the writer just before it commits: the number of that commit. A reader that
    /// saw this commit's data loads this number (or a later one) after its read.
    pub(crate) fn begin_commit(&self) -> u64 {
        self.committing.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The number of the last commit started; load it after a read.
    pub(crate) fn committing(&self) -> u64 {
        self.committing.load(Ordering::SeqCst)
    }

    /// Every commit up to `generation` is on disk (or failed and holds nothing).
    pub(crate) fn mark_durable(&self, generation: u64) {
        self.durable.send_if_modified(|d| {
            let newer = generation > *d;
            if newer {
                *d = generation;
            }
            newer
        });
    }

    /// Waits until every commit up to `generation` is on disk.
    pub(crate) async fn wait_durable(&self, generation: u64) {
        let mut rx = self.durable.subscribe();
        // The sender lives as long as `self`, so this only ends when the commit is synced.
        let _ = rx.wait_for(|d| *d >= generation).await;
    }
}

/// A committed (or failed) transaction whose jobs wait for the sync.
pub(crate) struct Committed {
    /// Its number from [`Generations::begin_commit`].
    pub generation: u64,
    /// The commit's outcome as SQLite reported it.
    pub outcome: Result<(), String>,
    /// What to call once it is on disk.
    pub completions: Vec<Completion>,
}

impl Committed {
    /// Answers every job of this commit: with the commit's outcome, or with `failure` when the
    /// commit cannot be counted on (its sync failed or never ran).
    pub(crate) fn answer(self, failure: Option<String>) {
        let outcome = failure.map_or(self.outcome, Err);
        for done in self.completions {
            done(outcome.clone().map_err(StoreError::CommitFailed));
        }
    }
}

/// The WAL file, opened beside SQLite's own handle to sync it. `fdatasync` applies to the file,
/// whichever descriptor names it; the descriptor is checked against the path before each sync
/// so a WAL file created anew (it never is while the store is open) would be synced too.
pub(crate) struct WalFile {
    path: PathBuf,
    file: File,
}

impl WalFile {
    /// Opens the WAL of the database at `db` (it exists once the database is open in WAL mode)
    /// and syncs what it already holds.
    pub(crate) fn open(db: &std::path::Path) -> std::io::Result<WalFile> {
        let path = PathBuf::from(format!("{}-wal", db.display()));
        let file = File::open(&path)?;
        file.sync_data()?;
        Ok(WalFile { path, file })
    }

    /// Syncs the WAL file's data to disk.
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let current = std::fs::metadata(&self.path)?;
        let mine = self.file.metadata()?;
        if (current.dev(), current.ino()) != (mine.dev(), mine.ino()) {
            self.file = File::open(&self.path)?;
        }
        self.file.sync_data()
    }
}

/// Runs until the writer drops its sender: syncs, then answers, every commit that arrives.
pub(crate) fn run(
    mut sync: impl FnMut() -> std::io::Result<()>,
    queue: std::sync::mpsc::Receiver<Committed>,
    generations: &Generations,
) {
    let mut waiting = Vec::with_capacity(QUEUE);
    while let Ok(first) = queue.recv() {
        waiting.push(first);
        while let Ok(more) = queue.try_recv() {
            waiting.push(more);
        }
        let started = std::time::Instant::now();
        let synced = sync();
        SYNCS.record(started.elapsed());
        let last = waiting.last().map_or(0, |c| c.generation);
        if let Err(e) = &synced {
            tracing::error!(
                error = %e,
                "ALERT: syncing the database's WAL to disk failed; what it holds is not known to be \
                 on disk. Answering the waiting writes with the failure and exiting so that the \
                 service restarts and recovers from what the disk really holds"
            );
        }
        let failure = synced
            .as_ref()
            .err()
            .map(|e| format!("syncing the WAL: {e}"));
        for committed in waiting.drain(..) {
            committed.answer(failure.clone());
        }
        if synced.is_err() {
            std::process::exit(1);
        }
        generations.mark_durable(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    fn committed(generation: u64, log: &Arc<Mutex<Vec<String>>>) -> Committed {
        let log = log.clone();
        Committed {
            generation,
            outcome: Ok(()),
            completions: vec![Box::new(move |r| {
                log.lock()
                    .unwrap()
                    .push(format!("answered {generation} {}", r.is_ok()));
            })],
        }
    }

    #[test]
    fn commits_are_answered_in_order_and_only_after_a_sync_that_covers_them() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let generations = Generations::default();
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        for g in 1..=3 {
            assert_eq!(generations.begin_commit(), g);
            tx.send(committed(g, &log)).unwrap();
        }
        drop(tx);
        let sync_log = log.clone();
        run(
            move || {
                sync_log.lock().unwrap().push("synced".into());
                Ok(())
            },
            rx,
            &generations,
        );
        let log = log.lock().unwrap();
        assert_eq!(log.first().map(String::as_str), Some("synced"));
        let answers: Vec<_> = log.iter().filter(|l| l.starts_with("answered")).collect();
        assert_eq!(
            answers,
            ["answered 1 true", "answered 2 true", "answered 3 true"]
        );
        assert_eq!(*generations.durable.borrow(), 3);
    }

    #[test]
    fn a_failed_commit_is_answered_with_its_failure_after_the_sync() {
        let (tx, rx) = std::sync::mpsc::sync_channel(QUEUE);
        let (answer_tx, answer_rx) = std::sync::mpsc::channel();
        tx.send(Committed {
            generation: 1,
            outcome: Err("disk I/O error".into()),
            completions: vec![Box::new(move |r| {
                let _ = answer_tx.send(r.map_err(|e| e.to_string()));
            })],
        })
        .unwrap();
        drop(tx);
        let generations = Generations::default();
        run(|| Ok(()), rx, &generations);
        let answer = answer_rx.recv().unwrap().unwrap_err();
        assert!(answer.contains("disk I/O error"));
        assert_eq!(answer.matches("commit failed").count(), 1, "{answer}");
        assert_eq!(*generations.durable.borrow(), 1);
    }

    #[tokio::test]
    async fn a_reader_waits_until_the_commit_it_may_have_seen_is_synced() {
        let generations = Arc::new(Generations::default());
        let seen = generations.begin_commit();
        let waiter = tokio::spawn({
            let generations = generations.clone();
            async move { generations.wait_durable(seen).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiter.is_finished(), "the read returned before the sync");
        generations.mark_durable(seen);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("the read still waits after the sync")
            .unwrap();
    }

    #[test]
    fn the_wal_file_is_synced_through_its_path_even_if_it_was_replaced() {
        let dir = std::env::temp_dir().join(format!(
            "hadir-durable-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("t.db");
        std::fs::write(dir.join("t.db-wal"), b"frames").unwrap();
        let mut wal = WalFile::open(&db).unwrap();
        wal.sync().unwrap();
        std::fs::remove_file(dir.join("t.db-wal")).unwrap();
        std::fs::write(dir.join("t.db-wal"), b"new frames").unwrap();
        wal.sync().unwrap();
        use std::os::unix::fs::MetadataExt;
        assert_eq!(
            wal.file.metadata().unwrap().ino(),
            std::fs::metadata(dir.join("t.db-wal")).unwrap().ino()
        );
        std::fs::remove_file(dir.join("t.db-wal")).unwrap();
        assert!(wal.sync().is_err(), "a missing WAL file synced");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
