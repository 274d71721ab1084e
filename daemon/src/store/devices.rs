//! Reader status and per-reader log cursors.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::StoreError;

/// A reader's state as last observed, for `/health` and the UI.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DeviceStatus {
    /// Configured name.
    pub name: String,
    /// `zk-pull` or `zk-push`.
    pub kind: String,
    /// Serial number reported by the reader.
    pub serial: Option<String>,
    /// Address polled.
    pub address: Option<String>,
    /// Whether the last contact succeeded.
    pub online: bool,
    /// Last successful contact (UTC).
    pub last_seen_utc: Option<String>,
    /// Last error, for IT staff.
    pub last_error: Option<String>,
    /// Reader clock minus gateway clock, seconds, as last measured.
    pub drift_s: Option<i64>,
    /// Firmware version.
    pub firmware: Option<String>,
    /// Platform.
    pub platform: Option<String>,
    /// Users enrolled.
    pub users: Option<i64>,
    /// Attendance records held by the reader.
    pub records: Option<i64>,
}

pub(crate) fn upsert_status(tx: &Transaction<'_>, s: &DeviceStatus) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO devices (name, kind, serial, address, online, last_seen_utc, last_error, drift_s,
                              firmware, platform, users, records, updated_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (name) DO UPDATE SET
             kind = excluded.kind,
             serial = COALESCE(excluded.serial, devices.serial),
             address = excluded.address,
             online = excluded.online,
             last_seen_utc = COALESCE(excluded.last_seen_utc, devices.last_seen_utc),
             last_error = excluded.last_error,
             drift_s = COALESCE(excluded.drift_s, devices.drift_s),
             firmware = COALESCE(excluded.firmware, devices.firmware),
             platform = COALESCE(excluded.platform, devices.platform),
             users = COALESCE(excluded.users, devices.users),
             records = COALESCE(excluded.records, devices.records),
             updated_utc = excluded.updated_utc",
        params![
            s.name,
            s.kind,
            s.serial,
            s.address,
            s.online,
            s.last_seen_utc,
            s.last_error,
            s.drift_s,
            s.firmware,
            s.platform,
            s.users,
            s.records,
            jiff::Timestamp::now().to_string()
        ],
    )?;
    Ok(())
}

pub(crate) fn all(conn: &Connection) -> Result<Vec<DeviceStatus>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT name, kind, serial, address, online, last_seen_utc, last_error, drift_s, firmware,
                platform, users, records FROM devices ORDER BY name",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(DeviceStatus {
                name: r.get(0)?,
                kind: r.get(1)?,
                serial: r.get(2)?,
                address: r.get(3)?,
                online: r.get(4)?,
                last_seen_utc: r.get(5)?,
                last_error: r.get(6)?,
                drift_s: r.get(7)?,
                firmware: r.get(8)?,
                platform: r.get(9)?,
                users: r.get(10)?,
                records: r.get(11)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(crate) fn cursor(conn: &Connection, serial: &str) -> Result<u64, StoreError> {
    Ok(conn
        .query_row(
            "SELECT log_position FROM device_cursors WHERE serial = ?1",
            [serial],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0) as u64)
}

pub(crate) fn set_cursor(
    tx: &Transaction<'_>,
    serial: &str,
    position: u64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO device_cursors (serial, log_position, updated_utc) VALUES (?1, ?2, ?3)
         ON CONFLICT (serial) DO UPDATE SET log_position = excluded.log_position,
                                            updated_utc = excluded.updated_utc",
        params![serial, position as i64, jiff::Timestamp::now().to_string()],
    )?;
    Ok(())
}

/// Whether every given record id has been acknowledged upstream.
pub(crate) fn all_forwarded(conn: &Connection, record_ids: &[String]) -> Result<bool, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT forwarded_utc IS NOT NULL FROM outbox WHERE record_id = ?1")?;
    for id in record_ids {
        let forwarded: Option<bool> = stmt.query_row([id], |r| r.get(0)).optional()?;
        if forwarded != Some(true) {
            return Ok(false);
        }
    }
    Ok(true)
}
