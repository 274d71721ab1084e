//! The writer thread: takes queued jobs, runs several in one transaction (each in its own
//! savepoint, so one failing job does not undo the others), commits, and hands the commit to the
//! sync thread (`durable.rs`), which answers the jobs once the commit is on disk.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::mpsc;

use super::{DiskLimits, StoreError};

/// Called once the transaction holding a job has committed (or failed to).
pub(crate) type Completion = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// Runs a job inside the open transaction, or answers it with the refusal. Returns whether the
/// job failed (its savepoint is rolled back) and what to call after the commit.
pub(crate) type RunJob =
    Box<dyn FnOnce(Result<&Transaction<'_>, StoreError>) -> (bool, Completion) + Send>;

/// One unit of work for the writer.
pub(crate) struct Job {
    /// New records: refused when the disk limits are reached.
    pub intake: bool,
    /// The work.
    pub run: RunJob,
}

static COMMITS: AtomicU64 = AtomicU64::new(0);
static JOBS: AtomicU64 = AtomicU64::new(0);
static BUSY_NANOS: AtomicU64 = AtomicU64::new(0);

/// What the writer has done since start: transactions, jobs in them, and seconds spent running
/// and committing them (the rest of the time it waited for work).
#[derive(Debug, Clone, Copy, Default)]
pub struct WriterTotals {
    /// Transactions committed (or failed).
    pub commits: u64,
    /// Jobs run in them.
    pub jobs: u64,
    /// Seconds spent running jobs and committing, fsync included.
    pub busy_seconds: f64,
}

/// The writer's totals since start.
pub fn totals() -> WriterTotals {
    WriterTotals {
        commits: COMMITS.load(Ordering::Relaxed),
        jobs: JOBS.load(Ordering::Relaxed),
        busy_seconds: BUSY_NANOS.load(Ordering::Relaxed) as f64 / 1e9,
    }
}

/// Most jobs committed in one transaction.
const MAX_GROUP: usize = 256;
/// How often disk limits are re-checked at most.
const DISK_CHECK_EVERY: Duration = Duration::from_millis(500);

/// Where the writer's commits are made durable.
pub(crate) enum Durability {
    /// The commit itself synced the WAL (`synchronous=FULL`): answer at once.
    AtCommit,
    /// The sync thread syncs the WAL (`synchronous=NORMAL`), then answers.
    SyncThread(super::durable::WalFile),
}

/// The writer: its commit loop and where commits are made durable.
pub(crate) struct Writer {
    pub commits: Commits,
    pub durability: Durability,
}

/// Runs the writer (and, with [`Durability::SyncThread`], the sync thread beside it) until every
/// [`Store`](super::Store) handle is dropped; then syncs what is left, checkpoints and closes.
pub(crate) fn run(writer: Writer, queue: mpsc::Receiver<Job>) {
    let Writer {
        commits,
        durability,
    } = writer;
    let generations = commits.generations.clone();
    let generations = &*generations;
    match durability {
        Durability::AtCommit => close(commits.run(queue, |c| answer_now(c, generations))),
        Durability::SyncThread(mut wal) => {
            let (to_sync, synced) = std::sync::mpsc::sync_channel(super::durable::QUEUE);
            let conn = std::thread::scope(|scope| {
                let sync_thread = std::thread::Builder::new()
                    .name("hadir-sync".into())
                    .spawn_scoped(scope, move || {
                        super::durable::run(|| wal.sync(), synced, generations)
                    });
                match sync_thread {
                    Ok(_) => commits.run(queue, move |committed| {
                        // The sync thread only stops early after a failed sync, on its way to
                        // exiting the process.
                        if let Err(std::sync::mpsc::SendError(c)) = to_sync.send(committed) {
                            fail(c, "the WAL sync thread stopped", generations);
                        }
                    }),
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start the WAL sync thread; committing with synchronous=FULL");
                        commits
                            .synced_at_commit()
                            .run(queue, |c| answer_now(c, generations))
                    }
                }
                // Leaving the scope joins the sync thread once it has answered every commit.
            });
            close(conn);
        }
    }
    generations.mark_durable(generations.committing());
}

/// Answers a commit's jobs at once: the commit itself synced the WAL.
fn answer_now(committed: super::durable::Committed, generations: &super::durable::Generations) {
    generations.mark_durable(committed.generation);
    committed.answer(None);
}

/// Answers a commit's jobs with a failure: nothing may be acknowledged unsynced.
fn fail(
    committed: super::durable::Committed,
    why: &str,
    generations: &super::durable::Generations,
) {
    generations.mark_durable(committed.generation);
    committed.answer(Some(why.to_string()));
}

/// Final checkpoint and close, after the last commit.
fn close(conn: Connection) {
    if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
        tracing::warn!(error = %e, "final WAL checkpoint failed (data is safe in the WAL)");
    }
    if let Err((_, e)) = conn.close() {
        tracing::warn!(error = %e, "closing the database failed");
    }
    tracing::info!("store closed");
}

/// The commit loop's state: the write connection and what decides whether intake is refused.
pub(crate) struct Commits {
    pub conn: Connection,
    pub data_dir: PathBuf,
    pub limits: DiskLimits,
    pub pressure: Arc<Mutex<Option<String>>>,
    pub wal_pages: super::checkpoint::WalPages,
    pub generations: Arc<super::durable::Generations>,
}

impl Commits {
    /// Makes every commit sync the WAL itself (when there is no sync thread).
    fn synced_at_commit(self) -> Self {
        if let Err(e) = self.conn.execute_batch("PRAGMA synchronous=FULL") {
            tracing::error!(error = %e, "cannot set synchronous=FULL on the writer");
        }
        self
    }

    /// Takes jobs until the queue closes; hands each commit to `committed`. Returns the
    /// connection for the final checkpoint.
    fn run(
        self,
        mut queue: mpsc::Receiver<Job>,
        mut committed: impl FnMut(super::durable::Committed),
    ) -> Connection {
        let Commits {
            mut conn,
            data_dir,
            limits,
            pressure,
            wal_pages,
            generations,
        } = self;
        let mut group = Vec::with_capacity(MAX_GROUP);
        let mut full: Option<String> = None;
        let mut last_disk_check: Option<Instant> = None;
        while let Some(first) = queue.blocking_recv() {
            group.push(first);
            while group.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok(job) => group.push(job),
                    Err(_) => break,
                }
            }
            if group.iter().any(|j| j.intake)
                && last_disk_check.is_none_or(|t| t.elapsed() >= DISK_CHECK_EVERY)
            {
                full = disk_full(&conn, &data_dir, limits);
                if full.is_some() && make_room(&mut conn) {
                    full = disk_full(&conn, &data_dir, limits);
                }
                last_disk_check = Some(Instant::now());
                if let Ok(mut p) = pressure.lock() {
                    match (&full, p.is_some()) {
                    (Some(reason), false) => tracing::error!(
                        reason,
                        "ALERT: storage limit reached: refusing new records until space is freed or records are forwarded"
                    ),
                    (None, true) => tracing::warn!("storage is below its limits again: accepting new records"),
                    _ => {}
                }
                    p.clone_from(&full);
                }
            }
            let started = Instant::now();
            JOBS.fetch_add(group.len() as u64, Ordering::Relaxed);
            if let Some(c) = commit_group(&mut conn, &mut group, full.as_deref(), &generations) {
                committed(c);
            }
            COMMITS.fetch_add(1, Ordering::Relaxed);
            super::checkpoint::restart_if_due(&conn, &wal_pages);
            let busy = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            BUSY_NANOS.fetch_add(busy, Ordering::Relaxed);
        }
        conn
    }
}

/// Runs a group of jobs in one transaction and commits it. Returns the commit, whose jobs are
/// answered once it is durable; `None` when the transaction could not even begin (the jobs were
/// answered with the failure at once, nothing was written).
fn commit_group(
    conn: &mut Connection,
    group: &mut Vec<Job>,
    full: Option<&str>,
    generations: &super::durable::Generations,
) -> Option<super::durable::Committed> {
    // IMMEDIATE: take the write lock at BEGIN (waiting out a checkpoint that holds it). A deferred
    // transaction whose first job only reads (a check-in's history) would hold a read snapshot,
    // and upgrading it to a write after a checkpoint moved the WAL fails at once with BUSY.
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let msg = e.to_string();
            for job in group.drain(..) {
                let (_, done) = (job.run)(Err(StoreError::CommitFailed(msg.clone())));
                done(Err(StoreError::CommitFailed(msg.clone())));
            }
            return None;
        }
    };
    let mut completions = Vec::with_capacity(group.len());
    for job in group.drain(..) {
        if let (true, Some(reason)) = (job.intake, full) {
            let (_, done) = (job.run)(Err(StoreError::Full(reason.to_string())));
            completions.push(done);
            continue;
        }
        if let Err(e) = run_cached(&tx, "SAVEPOINT job") {
            let (_, done) = (job.run)(Err(StoreError::Sqlite(e)));
            completions.push(done);
            continue;
        }
        let (failed, done) = (job.run)(Ok(&tx));
        let ended = if failed {
            run_cached(&tx, "ROLLBACK TO job").and_then(|()| run_cached(&tx, "RELEASE job"))
        } else {
            run_cached(&tx, "RELEASE job")
        };
        if let Err(e) = ended {
            tracing::error!(error = %e, "savepoint release failed");
        }
        completions.push(done);
    }
    // Numbered before it commits: a reader that sees this commit loads this number or a later
    // one after its read, and waits for it to be durable.
    let generation = generations.begin_commit();
    let outcome = tx.commit().map_err(|e| e.to_string());
    if let Err(msg) = &outcome {
        tracing::error!(error = %msg, "commit failed; the jobs in this group were not stored");
    }
    Some(super::durable::Committed {
        generation,
        outcome,
        completions,
    })
}

/// Runs a statement without parameters or rows from the connection's statement cache (a
/// savepoint's start and end are run for every job: parsing them each time showed in profiles).
fn run_cached(tx: &Transaction<'_>, sql: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(sql)?.execute([]).map(drop)
}

/// Under disk pressure, evicts the oldest records already acknowledged upstream (even inside
/// their retention) to make room. Returns whether anything was evicted.
fn make_room(conn: &mut Connection) -> bool {
    let result = conn.transaction().map_err(StoreError::from).and_then(|tx| {
        let far_future = "9999-12-31T00:00:00Z";
        let n = super::outbox::evict_forwarded(&tx, far_future, 5_000)?;
        tx.commit()?;
        Ok(n)
    });
    match result {
        Ok(0) => false,
        Ok(n) => {
            tracing::warn!(
                evicted = n,
                "storage limit reached: evicted the oldest records already acknowledged upstream"
            );
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "eviction under disk pressure failed");
            false
        }
    }
}

/// `Some(reason)` when new intake must be refused.
fn disk_full(conn: &Connection, data_dir: &std::path::Path, limits: DiskLimits) -> Option<String> {
    if limits.max_db_bytes > 0 {
        let size: Result<i64, _> = conn.query_row(
            "SELECT (page_count - freelist_count) * page_size
             FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
            [],
            |r| r.get(0),
        );
        if let Ok(size) = size {
            if size as u64 >= limits.max_db_bytes {
                return Some(format!(
                    "database is {} MiB, cap is {} MiB",
                    size as u64 >> 20,
                    limits.max_db_bytes >> 20
                ));
            }
        }
    }
    match free_bytes(data_dir) {
        Some(free) if free < limits.min_free_bytes => Some(format!(
            "only {} MiB free on the data file system, minimum is {} MiB",
            free >> 20,
            limits.min_free_bytes >> 20
        )),
        _ => None,
    }
}

/// Free bytes available to the service user on the file system holding `dir`.
pub(crate) fn free_bytes(dir: &std::path::Path) -> Option<u64> {
    rustix::fs::statvfs(dir)
        .ok()
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_takes_the_write_lock_at_its_start_so_a_job_that_reads_first_can_still_write() {
        let dir = std::env::temp_dir().join(format!(
            "hadir-writer-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.db");
        let mut writer = super::super::open::connect(&path).unwrap();
        writer.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let other = super::super::open::connect(&path).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();
        let (done, outcome) = std::sync::mpsc::channel();
        let job = Job {
            intake: false,
            run: Box::new(move |tx| {
                let tx = tx.expect("the group's transaction");
                let n: i64 = tx
                    .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
                    .unwrap();
                // Another connection tries to commit between this job's read and its write, as
                // a checkpoint holding the write lock would.
                let other_wrote = other.execute("INSERT INTO t VALUES (1)", []).is_ok();
                let mine = tx.execute("INSERT INTO t VALUES (?1)", [n + 10]).is_ok();
                let completion: Completion = Box::new(move |commit| {
                    let _ = done.send((other_wrote, mine, commit.is_ok()));
                });
                (!mine, completion)
            }),
        };
        let generations = super::super::durable::Generations::default();
        let committed = commit_group(&mut writer, &mut vec![job], None, &generations);
        answer_now(committed.expect("the group began"), &generations);
        let (other_wrote, mine, committed) = outcome.recv().unwrap();
        assert!(!other_wrote, "another connection wrote inside the group");
        assert!(mine, "the job's write after its read failed");
        assert!(committed);
        drop(writer);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
