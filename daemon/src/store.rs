//! The durable store: one SQLite file in WAL mode, every commit synced before it is answered.
//!
//! All writes go through one writer thread that owns the write connection and commits several
//! queued jobs in one transaction (group commit). A job's caller is answered only after the
//! transaction holding it has committed and the WAL holding that commit was synced (by the sync
//! thread, `durable.rs`, while the writer runs the next group), so an answer means "on disk":
//! this is where a record becomes durable, and only after it may a device or tablet be
//! acknowledged. The job queue is bounded; a full queue makes callers wait (back-pressure),
//! never drops work.

mod checkins;
mod checkpoint;
mod devices;
mod durable;
mod faces;
mod leave;
mod open;
mod operators;
mod outbox;
mod punches;
mod readers;
mod roster;
mod schedules;
mod schema;
mod timed;
mod views;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

pub use checkins::{
    CheckinHistory, CheckinOutcome, CheckinRecord, Employee, HistoryQuery, TabletRow,
    TravelOrderRow,
};
pub use checkpoint::{totals as checkpoint_totals, CheckpointTotals};
pub use devices::DeviceStatus;
pub use durable::totals as sync_totals;
pub use faces::{FaceEnrollment, FaceTemplate, NewFaceTemplate};
pub use leave::{
    list as list_manual_entries, EntryFilter, EntryKind, ManualEntry, NewManualEntry,
    MAX_ENTRY_DAYS,
};
pub use open::OpenReport;
pub use operators::{OperatorRow, Role, SessionRow};
pub use outbox::OutboxRow;
pub use punches::{Appended, StoreStats};
pub use readers::{
    reader_name, OperStored, PulledStored, PulledTemplate, ReaderRoster, SyncPolicy, SyncReport,
    TemplateToWrite, UnknownReader,
};
pub use roster::{RosterApplied, RosterRow};
pub use schedules::{holidays as holidays_between, load_calendar, HolidayImport};
pub use schema::CURRENT_VERSION;
pub use timed::Timed;
pub use views::{
    AuditEntry, DayPresence, EmployeeView, PunchView, ReviewRow, TabletActivity, TravelOrderView,
};
pub use writer::{totals as writer_totals, WriterTotals};
use writer::{Completion, Job};

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "hadir.db";

/// Read connections (one per core of a Raspberry Pi 4 would be 4; reads are short).
const READERS: usize = 2;

/// Jobs waiting for the writer thread; callers wait when it is full.
const QUEUE_CAPACITY: usize = 1024;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error; the operation was rolled back.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A file-system operation failed.
    #[error("cannot {what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database was written by a newer Hadir; install that version or newer.
    #[error("database schema version {found} is newer than this binary supports ({supported}); upgrade hadir")]
    TooNew {
        /// Version found in the file.
        found: i64,
        /// Highest version this binary knows.
        supported: i64,
    },
    /// The transaction holding this write could not be committed; nothing was stored.
    #[error("commit failed, nothing stored: {0}")]
    CommitFailed(String),
    /// Intake is refused until space is freed or records are forwarded; nothing was stored.
    #[error("storage full: {0}; new records are refused until space is freed")]
    Full(String),
    /// The store is shutting down; retry against the restarted gateway.
    #[error("the store is closed")]
    Closed,
    /// The request itself is invalid (for example, a time that does not exist).
    #[error("{0}")]
    Invalid(String),
}

/// Limits that make the writer refuse new intake.
#[derive(Debug, Clone, Copy)]
pub struct DiskLimits {
    /// Refuse intake when the database file exceeds this many bytes (0 = no cap).
    pub max_db_bytes: u64,
    /// Refuse intake when the file system has fewer free bytes than this.
    pub min_free_bytes: u64,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct Store {
    jobs: mpsc::Sender<Job>,
    readers: Arc<[Mutex<Connection>]>,
    path: Arc<PathBuf>,
    office: Arc<str>,
    tz: jiff::tz::TimeZone,
    appended: Arc<tokio::sync::Notify>,
    pressure: Arc<Mutex<Option<String>>>,
    generations: Arc<durable::Generations>,
}

/// Page cache of the writer connection, KiB. The writer reads every check-in's history and
/// touches about ten index pages per check-in; a miss is a read from the kernel's page cache.
/// Readers keep 2 MB, which every commit empties anyway.
const WRITER_CACHE_KIB: u32 = 4_000;

/// Owns the writer thread; [`StoreOwner::close`] finishes queued writes and closes the file.
pub struct StoreOwner {
    store: Store,
    thread: std::thread::JoinHandle<()>,
    checkpointer: std::thread::JoinHandle<()>,
    stop_checkpointer: Arc<std::sync::atomic::AtomicBool>,
}

impl StoreOwner {
    /// Opens the database in `data_dir`, checking integrity and migrating it, and starts the
    /// writer thread.
    pub fn open(
        data_dir: &Path,
        office: &str,
        tz: jiff::tz::TimeZone,
        limits: DiskLimits,
    ) -> Result<(StoreOwner, OpenReport), StoreError> {
        let path = data_dir.join(DB_FILE);
        let (mut conn, report) = open::open_checked(&path)?;
        faces::restrict_permissions(&path)?;
        let wal_pages = checkpoint::WalPages::default();
        checkpoint::hand_over(&mut conn, &wal_pages)?;
        // temp_store=MEMORY: each job runs in a savepoint, whose journal (the original of every
        // page the job changes) otherwise moves to a temporary file once it passes 64 KiB, and
        // from then on every page a job touches is one more write system call.
        conn.execute_batch(&format!(
            "PRAGMA cache_size=-{WRITER_CACHE_KIB}; PRAGMA temp_store=MEMORY"
        ))?;
        // Commits are synced by the sync thread (`durable.rs`), which answers their jobs only
        // afterwards: the writer goes on with the next group meanwhile.
        let durability = match durable::WalFile::open(&path) {
            Ok(wal) => {
                conn.execute_batch("PRAGMA synchronous=NORMAL")?;
                writer::Durability::SyncThread(wal)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot open the WAL file to sync it beside the writer; every commit syncs itself");
                writer::Durability::AtCommit
            }
        };
        let generations = Arc::new(durable::Generations::default());
        let stop_checkpointer = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let checkpointer = std::thread::Builder::new()
            .name("hadir-checkpoint".into())
            .spawn({
                let conn = open::connect(&path)?;
                let stop = stop_checkpointer.clone();
                let wal_pages = wal_pages.clone();
                let db_file = std::fs::File::open(&path).ok();
                move || checkpoint::run(conn, db_file, wal_pages, stop)
            })
            .map_err(|source| StoreError::Io {
                what: "start the WAL checkpoint thread",
                source,
            })?;
        let readers = (0..READERS)
            .map(|_| open::connect(&path).map(Mutex::new))
            .collect::<Result<Vec<_>, _>>()?;
        let (jobs, queue) = mpsc::channel(QUEUE_CAPACITY);
        let pressure = Arc::new(Mutex::new(None));
        let data_dir = data_dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("hadir-store".into())
            .spawn({
                let writer = writer::Writer {
                    commits: writer::Commits {
                        conn,
                        data_dir,
                        limits,
                        pressure: pressure.clone(),
                        wal_pages,
                        generations: generations.clone(),
                    },
                    durability,
                };
                move || writer::run(writer, queue)
            })
            .map_err(|source| StoreError::Io {
                what: "start the store writer thread",
                source,
            })?;
        let store = Store {
            jobs,
            readers: readers.into(),
            path: Arc::new(path),
            office: office.into(),
            tz,
            appended: Arc::new(tokio::sync::Notify::new()),
            pressure,
            generations,
        };
        Ok((
            StoreOwner {
                store,
                thread,
                checkpointer,
                stop_checkpointer,
            },
            report,
        ))
    }

    /// Opens the store for a command-line tool (`hadir tablet`, `export-batches`) that runs
    /// beside the daemon: same checks and migrations, no intake limits.
    pub async fn open_for_tool(config: &hadir_config::Config) -> anyhow::Result<StoreOwner> {
        std::fs::create_dir_all(&config.storage.data_dir)?;
        let tz = jiff::tz::TimeZone::get(&config.office.timezone)?;
        let data_dir = config.storage.data_dir.clone();
        let office = config.office.id.clone();
        let limits = DiskLimits {
            max_db_bytes: 0,
            min_free_bytes: 0,
        };
        let (owner, _) =
            tokio::task::spawn_blocking(move || StoreOwner::open(&data_dir, &office, tz, limits))
                .await??;
        Ok(owner)
    }

    /// A handle for callers.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// Waits until every handle is dropped and queued writes are committed, then checkpoints the
    /// WAL and closes the database.
    pub fn close(self) {
        let StoreOwner {
            store,
            thread,
            checkpointer,
            stop_checkpointer,
        } = self;
        stop_checkpointer.store(true, std::sync::atomic::Ordering::Relaxed);
        if checkpointer.join().is_err() {
            tracing::error!("WAL checkpoint thread panicked");
        }
        drop(store);
        if thread.join().is_err() {
            tracing::error!("store writer thread panicked during shutdown");
        }
    }
}

impl Store {
    /// The office id records are stored under.
    pub fn office(&self) -> &str {
        &self.office
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in the writer's transaction; resolves after the transaction committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(false, f).await
    }

    /// Like [`Store::write`], for new records: refused with [`StoreError::Full`] when the disk
    /// limits are reached.
    pub async fn write_intake<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        self.submit(true, f).await
    }

    async fn submit<T, F>(&self, intake: bool, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Transaction<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, StoreError>>();
        let job = Job {
            intake,
            run: Box::new(move |tx| match tx {
                Err(refused) => {
                    let _ = reply.send(Err(refused));
                    (false, Box::new(|_| {}) as Completion)
                }
                Ok(tx) => {
                    let result = f(tx);
                    let failed = result.is_err();
                    let completion: Completion = Box::new(move |commit| {
                        let _ = reply.send(commit.and(result));
                    });
                    (failed, completion)
                }
            }),
        };
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs a read-only query on a free reader connection (WAL lets them read beside the
    /// writer), off the async runtime. Returns once everything the read could have seen is on
    /// disk (`durable.rs`), so what it returns cannot vanish in a power cut.
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let readers = self.readers.clone();
        let generations = self.generations.clone();
        let (result, seen) = tokio::task::spawn_blocking(move || {
            let free = readers.iter().find_map(|m| m.try_lock().ok());
            let conn = match free {
                Some(c) => c,
                None => readers[0].lock().map_err(|_| StoreError::Closed)?,
            };
            let result = f(&conn);
            // Loaded after the read: at least the number of every commit it could have seen.
            Ok::<_, StoreError>((result, generations.committing()))
        })
        .await
        .map_err(|_| StoreError::Closed)??;
        self.generations.wait_durable(seen).await;
        result
    }

    /// Stores punches; each is answered as newly stored or as a duplicate of an earlier one.
    /// Resolves only after the commit.
    pub async fn append_punches(
        &self,
        punches: Vec<punches::PunchInput>,
    ) -> Result<Vec<Appended>, StoreError> {
        let office = self.office.clone();
        let tz = self.tz.clone();
        let result = self
            .write_intake(move |tx| punches::insert(tx, &office, &tz, &punches))
            .await;
        if result
            .as_ref()
            .is_ok_and(|r| r.iter().any(|a| !a.duplicate))
        {
            self.appended.notify_one();
        }
        result
    }

    /// Resolves when new records were queued for forwarding since the last call.
    pub async fn wait_appended(&self) {
        self.appended.notified().await
    }

    /// This database's chain id.
    pub async fn chain_id(&self) -> Result<String, StoreError> {
        self.read(outbox::chain_id).await
    }

    /// Up to `limit` records not yet acknowledged upstream, after chain position `after_seq`.
    pub async fn unsent_after(
        &self,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        self.read(move |c| outbox::unsent_after(c, after_seq, limit))
            .await
    }

    /// Every record not yet acknowledged upstream that was queued at or after `since` (UTC).
    pub async fn unsent_since(&self, since: String) -> Result<Vec<OutboxRow>, StoreError> {
        self.read(move |c| outbox::unsent_since(c, &since)).await
    }

    /// Records the server's acknowledgement of a batch ending at `last`: every record up to it
    /// is held upstream (durable when this returns; see `outbox::mark_forwarded_through`).
    pub async fn mark_forwarded_through(
        &self,
        last: u64,
        batch_id: String,
    ) -> Result<usize, StoreError> {
        self.write(move |tx| {
            let now = jiff::Timestamp::now().to_string();
            outbox::mark_forwarded_through(tx, last, &batch_id, &now)
        })
        .await
    }

    /// Deletes up to `limit` records forwarded before `before` (UTC); never unforwarded ones.
    pub async fn evict_forwarded(
        &self,
        before: jiff::Timestamp,
        limit: usize,
    ) -> Result<usize, StoreError> {
        self.write(move |tx| outbox::evict_forwarded(tx, &before.to_string(), limit))
            .await
    }

    /// Stores punches read from a reader's log and moves the reader's cursor to `position`, in
    /// one transaction: after a crash either both happened or neither.
    pub async fn append_from_log(
        &self,
        serial: String,
        punches: Vec<punches::PunchInput>,
        position: u64,
    ) -> Result<Vec<Appended>, StoreError> {
        let office = self.office.clone();
        let tz = self.tz.clone();
        let result = self
            .write_intake(move |tx| {
                let out = punches::insert(tx, &office, &tz, &punches)?;
                devices::set_cursor(tx, &serial, position)?;
                Ok(out)
            })
            .await;
        if result
            .as_ref()
            .is_ok_and(|r| r.iter().any(|a| !a.duplicate))
        {
            self.appended.notify_one();
        }
        result
    }

    /// How many entries of the reader's log are already stored.
    pub async fn device_cursor(&self, serial: String) -> Result<u64, StoreError> {
        self.read(move |c| devices::cursor(c, &serial)).await
    }

    /// Resets a reader's cursor (after its log was cleared).
    pub async fn reset_device_cursor(&self, serial: String) -> Result<(), StoreError> {
        self.write(move |tx| devices::set_cursor(tx, &serial, 0))
            .await
    }

    /// Records what was last observed about a reader.
    pub async fn update_device(&self, status: DeviceStatus) -> Result<(), StoreError> {
        self.write(move |tx| devices::upsert_status(tx, &status))
            .await
    }

    /// Every reader's last observed state.
    pub async fn devices(&self) -> Result<Vec<DeviceStatus>, StoreError> {
        self.read(devices::all).await
    }

    /// Whether all these records were acknowledged upstream.
    pub async fn all_forwarded(&self, record_ids: Vec<String>) -> Result<bool, StoreError> {
        self.read(move |c| devices::all_forwarded(c, &record_ids))
            .await
    }

    /// Registered tablets (including revoked ones).
    pub async fn tablets(&self) -> Result<Vec<TabletRow>, StoreError> {
        self.read(checkins::tablets).await
    }

    /// Registers a tablet.
    pub async fn add_tablet(&self, t: TabletRow) -> Result<(), StoreError> {
        self.write(move |tx| checkins::insert_tablet(tx, &t)).await
    }

    /// Revokes a tablet; false when it did not exist or was already revoked.
    pub async fn revoke_tablet(&self, id: String) -> Result<bool, StoreError> {
        self.write(move |tx| checkins::revoke_tablet(tx, &id)).await
    }

    /// Adds or updates an employee on the roster.
    pub async fn upsert_employee(&self, e: Employee) -> Result<(), StoreError> {
        self.write(move |tx| checkins::upsert_employee(tx, &e))
            .await
    }

    /// Records an official travel order for an employee.
    pub async fn add_travel_order(
        &self,
        nip: String,
        order: TravelOrderRow,
        by: String,
    ) -> Result<i64, StoreError> {
        self.write(move |tx| checkins::insert_travel_order(tx, &nip, &order, &by))
            .await
    }

    /// Reads an employee's history, runs `decide` on it and stores the record it returns, all in
    /// one job of the writer: the rules see every check-in stored before this one, including
    /// those committed in the same transaction (two check-ins arriving together cannot both be
    /// the first of the day or both pass with the same photo), and the history is read through
    /// the writer's page cache, which stays warm, instead of a reader's, which every commit
    /// empties. A retry of a stored check-in is answered with its stored reply and `decide` is not
    /// called. Resolves after the commit.
    pub async fn decide_and_store_checkin<T, F>(
        &self,
        q: HistoryQuery,
        decide: F,
    ) -> Result<CheckinOutcome<T>, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(CheckinHistory) -> (CheckinRecord, T) + Send + 'static,
    {
        let result = self
            .write_intake(move |tx| {
                let history = checkins::history(tx, &q)?;
                if let Some(reply) = history.earlier_reply {
                    return Ok(CheckinOutcome::Earlier(reply));
                }
                let decided =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || decide(history)));
                let (record, out) = decided.map_err(|_| {
                    StoreError::Invalid("the check-in rules failed on this check-in".into())
                })?;
                if checkins::insert_checkin(tx, &record)? {
                    return Ok(CheckinOutcome::Stored(out));
                }
                match checkins::earlier_reply(tx, &record.tablet, &record.nonce)? {
                    Some(reply) => Ok(CheckinOutcome::Earlier(reply)),
                    None => Err(StoreError::Invalid(format!(
                        "record {} is stored but its check-in is not",
                        record.record_id
                    ))),
                }
            })
            .await;
        if matches!(result, Ok(CheckinOutcome::Stored(_))) {
            self.appended.notify_one();
        }
        result
    }

    /// The reply stored for a tablet's check-in (by its nonce), if that check-in was stored.
    pub async fn checkin_reply(
        &self,
        tablet: &str,
        nonce: &str,
    ) -> Result<Option<String>, StoreError> {
        let (tablet, nonce) = (tablet.to_string(), nonce.to_string());
        self.read(move |c| checkins::earlier_reply(c, &tablet, &nonce))
            .await
    }

    /// Stores a verified check-in; false when it was already stored. Resolves after the commit.
    pub async fn store_checkin(&self, c: CheckinRecord) -> Result<bool, StoreError> {
        let result = self
            .write_intake(move |tx| checkins::insert_checkin(tx, &c))
            .await;
        if matches!(result, Ok(true)) {
            self.appended.notify_one();
        }
        result
    }

    /// Recent photo perceptual hashes, newest last.
    pub async fn recent_dhashes(&self, limit: usize) -> Result<Vec<u64>, StoreError> {
        self.read(move |c| checkins::recent_dhashes(c, limit)).await
    }

    /// Deletes retained selfies past their retention.
    pub async fn expire_photos(&self) -> Result<usize, StoreError> {
        self.write(|tx| checkins::expire_photos(tx, &jiff::Timestamp::now().to_string()))
            .await
    }

    /// Confirms the writer thread is alive and committing (used by the watchdog).
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.write(|_| Ok(())).await
    }

    /// Counts for `/health` and the dashboard.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut stats = self.read(punches::stats).await?;
        stats.intake_refused = self.pressure.lock().ok().and_then(|p| p.clone());
        Ok(stats)
    }

    /// Appends an audit entry (who, what, on what, why).
    pub async fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let (actor, action, subject, detail) = (
            actor.to_string(),
            action.to_string(),
            subject.to_string(),
            detail.to_string(),
        );
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO audit_log (at_utc, actor, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                rusqlite::params![jiff::Timestamp::now().to_string(), actor, action, subject, detail],
            )?;
            Ok(())
        })
        .await
    }
}
