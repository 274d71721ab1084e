//! Opening the database safely: WAL, `synchronous=FULL` (the writer moves its commit syncs to
//! the sync thread, `durable.rs`), an integrity check, and moving a corrupt file aside instead of
//! crash-looping on it.

use std::path::{Path, PathBuf};

use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};

use super::{schema, StoreError};

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 96;

/// Opens (creating if needed) the database at `path` with the pragmas every connection uses.
pub(crate) fn connect(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // journal_mode returns a row; query it rather than execute.
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(mode, "database is not in WAL mode");
    }
    conn.execute_batch(
        "PRAGMA synchronous=FULL;
         PRAGMA foreign_keys=ON;
         PRAGMA wal_autocheckpoint=1000;
         PRAGMA cache_size=-2000;",
    )?;
    // Query plans that do not depend on the values bound: without this SQLite re-prepares a
    // statement whenever a new value is bound to a parameter its planner looked at (the
    // check-in history's coordinate query was parsed again for every check-in).
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // Every distinct statement a writer job runs stays prepared (rusqlite keeps 16).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// What `open_checked` did.
#[derive(Debug)]
pub struct OpenReport {
    /// The schema version now in the file.
    pub schema_version: i64,
    /// Where a corrupt database was moved, if one was.
    pub quarantined: Option<PathBuf>,
}

/// Opens the database, checks its integrity and migrates it. A file that is not a database or
/// fails `PRAGMA integrity_check` is renamed to `<name>.corrupt-<time>` (with its WAL and SHM)
/// and a fresh database is created, so the gateway keeps taking attendance.
pub(crate) fn open_checked(path: &Path) -> Result<(Connection, OpenReport), StoreError> {
    let mut quarantined = None;
    let mut conn = match connect(path).and_then(|c| check(&c).map(|r| (c, r))) {
        Ok((conn, None)) => conn,
        Ok((conn, Some(problem))) => {
            drop(conn);
            quarantined = Some(quarantine(path, &problem)?);
            connect(path)?
        }
        Err(e) if is_corruption(&e) => {
            quarantined = Some(quarantine(path, &e.to_string())?);
            connect(path)?
        }
        Err(e) => return Err(e.into()),
    };
    let schema_version = schema::migrate(&mut conn)?;
    if let Some(moved) = &quarantined {
        conn.execute(
            "INSERT INTO audit_log (at_utc, actor, action, subject, detail)
             VALUES (?1, 'hadir', 'database-quarantined', ?2, 'integrity check failed at start; a fresh database was created')",
            rusqlite::params![jiff::Timestamp::now().to_string(), moved.display().to_string()],
        )?;
    }
    Ok((
        conn,
        OpenReport {
            schema_version,
            quarantined,
        },
    ))
}

/// Runs the integrity check; `Some(reason)` when the file is damaged.
fn check(conn: &Connection) -> Result<Option<String>, rusqlite::Error> {
    let mut stmt = conn.prepare("PRAGMA integrity_check(20)")?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    if lines.len() == 1 && lines[0] == "ok" {
        Ok(None)
    } else {
        Ok(Some(lines.join("; ")))
    }
}

fn is_corruption(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::NotADatabase) | Some(rusqlite::ErrorCode::DatabaseCorrupt)
    )
}

fn quarantine(path: &Path, reason: &str) -> Result<PathBuf, StoreError> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let moved = path.with_extension(format!("db.corrupt-{stamp}"));
    tracing::error!(
        database = %path.display(),
        moved_to = %moved.display(),
        reason,
        "DATABASE IS CORRUPT: moved it aside and starting with a fresh one; \
         records not yet forwarded may be recoverable from the moved file"
    );
    std::fs::rename(path, &moved).map_err(|source| StoreError::Io {
        what: "move corrupt database aside",
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", path.display()));
        if side.exists() {
            let to = PathBuf::from(format!("{}{suffix}", moved.display()));
            std::fs::rename(&side, &to).map_err(|source| StoreError::Io {
                what: "move corrupt database aside",
                source,
            })?;
        }
    }
    Ok(moved)
}
