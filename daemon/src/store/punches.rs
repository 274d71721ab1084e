//! Storing punches: raw event first, then the derived attendance record and its outbox entry, all
//! in the caller's transaction.

use rusqlite::{params, Transaction};
use serde::Serialize;

use super::{outbox, StoreError};
use crate::record::{local_to_utc, payload_hash, punch_record_id, NewPunch};

/// A punch to store.
pub type PunchInput = NewPunch;

/// The outcome for one punch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Appended {
    /// The stable record id.
    pub record_id: String,
    /// True when the same punch was already stored (nothing new was written).
    pub duplicate: bool,
}

/// Stores a payload exactly as received in `raw_events` (once per source, device and `hash`, its
/// SHA-256 from `record::payload_hash`) and returns its row id, new or earlier.
pub(crate) fn store_raw_event(
    tx: &Transaction<'_>,
    now: &str,
    source: &str,
    device: &str,
    payload: &[u8],
    hash: &str,
) -> Result<i64, StoreError> {
    // No RETURNING: SQLite collects RETURNING rows in an ephemeral table, a b-tree and page
    // cache built and freed on every execution (it showed in the writer's profile).
    let inserted = tx
        .prepare_cached(
            "INSERT INTO raw_events (received_utc, source, device, payload, payload_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (source, device, payload_sha256) DO NOTHING",
        )?
        .execute(params![now, source, device, payload, hash])?;
    if inserted == 1 {
        return Ok(tx.last_insert_rowid());
    }
    Ok(tx
        .prepare_cached(
            "SELECT id FROM raw_events WHERE source = ?1 AND device = ?2 AND payload_sha256 = ?3",
        )?
        .query_row(params![source, device, hash], |r| r.get(0))?)
}

pub(crate) fn insert(
    tx: &Transaction<'_>,
    office: &str,
    tz: &jiff::tz::TimeZone,
    punches: &[NewPunch],
) -> Result<Vec<Appended>, StoreError> {
    let now = jiff::Timestamp::now().to_string();
    let mut att_insert = tx.prepare_cached(
        "INSERT INTO attendance (record_id, raw_id, source, device, employee, occurred_utc,
                                 occurred_local, state, verify, created_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (record_id) DO NOTHING",
    )?;
    let mut out = Vec::with_capacity(punches.len());
    for p in punches {
        let utc = local_to_utc(tz, p.local_time).map_err(|e| {
            StoreError::Invalid(format!("time {} in the office zone: {e}", p.local_time))
        })?;
        let hash = payload_hash(&p.payload);
        let source = p.source.as_str();
        let raw_id = store_raw_event(tx, &now, source, &p.device, &p.payload, &hash)?;
        let record_id = punch_record_id(office, p);
        let local = p.local_time.strftime("%Y-%m-%dT%H:%M:%S").to_string();
        let utc = utc.to_string();
        let inserted = att_insert.execute(params![
            record_id, raw_id, source, p.device, p.employee, utc, local, p.state, p.verify, now,
        ])?;
        if inserted == 1 {
            let body = serde_json::json!({
                "type": "punch",
                "record_id": record_id,
                "office": office,
                "source": source,
                "device": p.device,
                "employee": p.employee,
                "occurred_utc": utc,
                "occurred_local": local,
                "state": p.state,
                "verify": p.verify,
                "verdict": "accepted",
                "received_utc": now,
                "payload_sha256": hash,
            })
            .to_string();
            outbox::enqueue(tx, &record_id, "punch", &body, &now)?;
        }
        out.push(Appended {
            record_id,
            duplicate: inserted == 0,
        });
    }
    Ok(out)
}

/// Counts for `/health` and the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct StoreStats {
    /// Attendance records stored.
    pub records: i64,
    /// Records not yet acknowledged upstream.
    pub backlog: i64,
    /// When the oldest unacknowledged record was queued (UTC), if any.
    pub oldest_unsent_utc: Option<String>,
    /// When a batch was last acknowledged upstream (UTC), if ever.
    pub last_forward_utc: Option<String>,
    /// Size of the database file and its WAL, bytes.
    pub db_bytes: u64,
    /// Free bytes on the data file system.
    pub free_bytes: Option<u64>,
    /// Why new records are being refused (storage limits), if they are.
    pub intake_refused: Option<String>,
}

pub(crate) fn stats(conn: &rusqlite::Connection) -> Result<StoreStats, StoreError> {
    let records: i64 = conn.query_row("SELECT COUNT(*) FROM attendance", [], |r| r.get(0))?;
    let (backlog, oldest): (i64, Option<String>) = conn.query_row(
        "SELECT COUNT(*), (SELECT enqueued_utc FROM outbox WHERE forwarded_utc IS NULL ORDER BY seq LIMIT 1)
         FROM outbox WHERE forwarded_utc IS NULL",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let path = conn.path().map(std::path::PathBuf::from);
    let db_bytes = path
        .as_ref()
        .map(|p| {
            let wal = std::path::PathBuf::from(format!("{}-wal", p.display()));
            file_len(p) + file_len(&wal)
        })
        .unwrap_or(0);
    let free_bytes = path
        .as_ref()
        .and_then(|p| p.parent())
        .and_then(super::writer::free_bytes);
    Ok(StoreStats {
        records,
        backlog,
        oldest_unsent_utc: oldest,
        last_forward_utc: outbox::last_forward(conn)?,
        db_bytes,
        free_bytes,
        intake_refused: None,
    })
}

fn file_len(p: &std::path::Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}
