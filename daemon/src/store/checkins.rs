//! Tablets, the roster and travel orders as the check-in pipeline needs them, and storing a
//! verified check-in (raw event, attendance record, evidence, retained photo, outbox entry) in
//! one transaction.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::{outbox, StoreError};

/// A registered tablet.
#[derive(Debug, Clone, Serialize)]
pub struct TabletRow {
    /// Tablet id (also its MQTT username and topic segment).
    pub id: String,
    /// Human name ("Tablet pintu depan").
    pub name: String,
    /// SHA-256 (hex) of the MQTT password.
    #[serde(skip)]
    pub password_sha256: String,
    /// The tablet's X25519 public key, hex.
    pub public_key: String,
    /// When registered.
    pub created_utc: String,
    /// When revoked, if it was.
    pub revoked_utc: Option<String>,
}

/// An employee on the roster.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Employee {
    /// 18-digit NIP (or the id used on the readers).
    #[serde(default)]
    pub nip: String,
    /// Full name.
    pub name: String,
    /// Unit / bidang.
    #[serde(default)]
    pub unit: String,
    /// Position.
    #[serde(default)]
    pub position: String,
    /// Registered home location for WFH: latitude.
    #[serde(default)]
    pub home_lat: Option<f64>,
    /// Registered home location for WFH: longitude.
    #[serde(default)]
    pub home_lon: Option<f64>,
}

/// An official travel order (SPT) as stored.
#[derive(Debug, Clone, Serialize)]
pub struct TravelOrderRow {
    /// SPT number.
    pub spt_number: String,
    /// First day (YYYY-MM-DD, office zone).
    pub date_from: String,
    /// Last day, inclusive.
    pub date_to: String,
}

pub(crate) fn tablets(conn: &Connection) -> Result<Vec<TabletRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, name, password_sha256, public_key, created_utc, revoked_utc FROM tablets ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok(TabletRow {
                id: r.get(0)?,
                name: r.get(1)?,
                password_sha256: r.get(2)?,
                public_key: r.get(3)?,
                created_utc: r.get(4)?,
                revoked_utc: r.get(5)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(crate) fn insert_tablet(tx: &Transaction<'_>, t: &TabletRow) -> Result<(), StoreError> {
    let n = tx.execute(
        "INSERT INTO tablets (id, name, password_sha256, public_key, created_utc) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO NOTHING",
        params![t.id, t.name, t.password_sha256, t.public_key, t.created_utc],
    )?;
    if n == 0 {
        return Err(StoreError::Invalid(format!(
            "a tablet with id {:?} already exists",
            t.id
        )));
    }
    Ok(())
}

pub(crate) fn revoke_tablet(tx: &Transaction<'_>, id: &str) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE tablets SET revoked_utc = ?2 WHERE id = ?1 AND revoked_utc IS NULL",
        params![id, jiff::Timestamp::now().to_string()],
    )?;
    Ok(n == 1)
}

pub(crate) fn upsert_employee(tx: &Transaction<'_>, e: &Employee) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO employees (nip, name, unit, position, home_lat, home_lon, updated_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (nip) DO UPDATE SET name = excluded.name, unit = excluded.unit,
             position = excluded.position, home_lat = excluded.home_lat, home_lon = excluded.home_lon,
             active = 1, updated_utc = excluded.updated_utc",
        params![e.nip, e.name, e.unit, e.position, e.home_lat, e.home_lon, jiff::Timestamp::now().to_string()],
    )?;
    Ok(())
}

pub(crate) fn insert_travel_order(
    tx: &Transaction<'_>,
    nip: &str,
    order: &TravelOrderRow,
    by: &str,
) -> Result<i64, StoreError> {
    tx.execute(
        "INSERT INTO travel_orders (nip, spt_number, date_from, date_to, created_utc, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            nip,
            order.spt_number,
            order.date_from,
            order.date_to,
            jiff::Timestamp::now().to_string(),
            by
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// What the rules need from the store about one employee and one photo.
#[derive(Debug, Clone, Default)]
pub struct CheckinHistory {
    /// The reply already stored for this (tablet, nonce): the check-in is a retry.
    pub earlier_reply: Option<String>,
    /// The employee, when on the roster.
    pub employee: Option<Employee>,
    /// Their travel orders that could cover `day`.
    pub travel_orders: Vec<TravelOrderRow>,
    /// Their last located check-in: (lat, lon, received UTC).
    pub previous_fix: Option<(f64, f64, String)>,
    /// The exact same coordinates were used by them on another day.
    pub coords_seen_other_day: bool,
    /// The exact same photo was used before.
    pub photo_seen: bool,
    /// A counted check-in by them in the same mode within the repeat window.
    pub recent_counted: bool,
    /// How long reading all this took.
    pub read_in: std::time::Duration,
}

/// What storing a check-in came to.
#[derive(Debug)]
pub enum CheckinOutcome<T> {
    /// It was stored before (a retry with the same nonce): the reply then sent, JSON.
    Earlier(String),
    /// Stored now; what the decision returned besides the record.
    Stored(T),
}

/// What to look up for one check-in.
#[derive(Debug, Clone)]
pub struct HistoryQuery {
    /// Tablet id and the check-in's nonce (to find a retry).
    pub tablet: String,
    /// The check-in's nonce.
    pub nonce: String,
    /// Employee NIP.
    pub nip: String,
    /// `regular`, `wfh`, `dinas-luar`.
    pub mode: String,
    /// Office-zone date of the check-in, `YYYY-MM-DD`.
    pub day: String,
    /// The fix, if any.
    pub coords: Option<(f64, f64)>,
    /// SHA-256 (hex) of the photo bytes.
    pub photo_sha256: String,
    /// Start of the repeat window (UTC).
    pub repeat_since_utc: String,
}

/// Gathers the history for one check-in.
pub(crate) fn history(conn: &Connection, q: &HistoryQuery) -> Result<CheckinHistory, StoreError> {
    let started = std::time::Instant::now();
    let (nip, mode, day, coords, photo_sha256, repeat_since_utc) = (
        q.nip.as_str(),
        q.mode.as_str(),
        q.day.as_str(),
        q.coords,
        q.photo_sha256.as_str(),
        q.repeat_since_utc.as_str(),
    );
    let earlier_reply = earlier_reply(conn, &q.tablet, &q.nonce)?;
    if earlier_reply.is_some() {
        return Ok(CheckinHistory {
            earlier_reply,
            ..Default::default()
        });
    }
    let employee = conn
        .prepare_cached(
            "SELECT nip, name, unit, position, home_lat, home_lon FROM employees WHERE nip = ?1 AND active = 1",
        )?
        .query_row([nip], |r| {
            Ok(Employee {
                nip: r.get(0)?,
                name: r.get(1)?,
                unit: r.get(2)?,
                position: r.get(3)?,
                home_lat: r.get(4)?,
                home_lon: r.get(5)?,
            })
        })
        .optional()?;
    let mut stmt = conn.prepare_cached(
        "SELECT spt_number, date_from, date_to FROM travel_orders WHERE nip = ?1 AND date_from <= ?2 AND date_to >= ?2",
    )?;
    let travel_orders = stmt
        .query_map(params![nip, day], |r| {
            Ok(TravelOrderRow {
                spt_number: r.get(0)?,
                date_from: r.get(1)?,
                date_to: r.get(2)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let previous_fix = conn
        .prepare_cached(
            "SELECT lat, lon, received_utc FROM checkins
             WHERE nip = ?1 AND lat IS NOT NULL AND verdict <> 'rejected'
             ORDER BY received_utc DESC LIMIT 1",
        )?
        .query_row([nip], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    let coords_seen_other_day = match coords {
        Some((lat, lon)) => conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM checkins WHERE nip = ?1 AND lat = ?2 AND lon = ?3 AND local_day < ?4)
                     OR EXISTS (SELECT 1 FROM checkins WHERE nip = ?1 AND lat = ?2 AND lon = ?3 AND local_day > ?4)",
            )?
            .query_row(params![nip, lat, lon, day], |r| r.get(0))?,
        None => false,
    };
    let photo_seen = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM checkins WHERE photo_sha256 = ?1)")?
        .query_row([photo_sha256], |r| r.get(0))?;
    let recent_counted = conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM checkins WHERE nip = ?1 AND mode = ?2 AND counted = 1
                            AND verdict <> 'rejected' AND received_utc >= ?3)",
        )?
        .query_row(params![nip, mode, repeat_since_utc], |r| r.get(0))?;
    Ok(CheckinHistory {
        earlier_reply: None,
        employee,
        travel_orders,
        previous_fix,
        coords_seen_other_day,
        photo_seen,
        recent_counted,
        read_in: started.elapsed(),
    })
}

/// The reply already sent for a (tablet, nonce), when the check-in was stored before (a retry).
pub(crate) fn earlier_reply(
    conn: &Connection,
    tablet: &str,
    nonce: &str,
) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT reply FROM checkins WHERE tablet = ?1 AND nonce = ?2")?
        .query_row(params![tablet, nonce], |r| r.get(0))
        .optional()?)
}

/// A verified check-in ready to store.
#[derive(Debug, Clone)]
pub struct CheckinRecord {
    /// Stable record id.
    pub record_id: String,
    /// Tablet id.
    pub tablet: String,
    /// Client nonce.
    pub nonce: String,
    /// Employee NIP.
    pub nip: String,
    /// `regular`, `wfh`, `dinas-luar`.
    pub mode: String,
    /// Client clock (UTC).
    pub client_time_utc: String,
    /// Gateway clock at receipt (UTC).
    pub received_utc: String,
    /// Gateway wall time at receipt in the office zone, `YYYY-MM-DDTHH:MM:SS`.
    pub received_local: String,
    /// Location, if sent.
    pub location: Option<(f64, f64, f64)>,
    /// Photo SHA-256 (hex) and dHash.
    pub photo_sha256: String,
    /// 64-bit perceptual hash.
    pub photo_dhash: u64,
    /// `accepted`, `needs-review`, `rejected`.
    pub verdict: String,
    /// Findings as JSON.
    pub findings: String,
    /// The reply sent to the tablet (JSON, before encryption).
    pub reply: String,
    /// Counts towards attendance (false for a repeat within the window).
    pub counted: bool,
    /// The decrypted check-in as received, with the photo replaced by its hash.
    pub raw: Vec<u8>,
    /// The photo, kept until `photo_keep_until_utc` when set.
    pub photo: Option<(Vec<u8>, String)>,
    /// The record body forwarded upstream.
    pub body: String,
}

pub(crate) fn insert_checkin(tx: &Transaction<'_>, c: &CheckinRecord) -> Result<bool, StoreError> {
    let now = jiff::Timestamp::now().to_string();
    let hash = crate::record::payload_hash(&c.raw);
    let raw_id = super::punches::store_raw_event(tx, &now, "tablet", &c.tablet, &c.raw, &hash)?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO attendance (record_id, raw_id, source, device, employee, occurred_utc,
                                     occurred_local, state, verify, verdict, reasons, created_utc)
             VALUES (?1, ?2, 'tablet', ?3, ?4, ?5, ?6, 255, 15, ?7, ?8, ?9)
             ON CONFLICT (record_id) DO NOTHING",
        )?
        .execute(params![
            c.record_id,
            raw_id,
            c.tablet,
            c.nip,
            c.received_utc,
            c.received_local,
            c.verdict,
            c.findings,
            now
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    let (lat, lon, acc) = match c.location {
        Some((a, b, d)) => (Some(a), Some(b), Some(d)),
        None => (None, None, None),
    };
    tx.prepare_cached(
        "INSERT INTO checkins (record_id, tablet, nonce, nip, mode, client_time_utc, received_utc, local_day,
                               lat, lon, accuracy_m, photo_sha256, photo_dhash, verdict, findings, reply, counted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )?
    .execute(params![
        c.record_id,
        c.tablet,
        c.nonce,
        c.nip,
        c.mode,
        c.client_time_utc,
        c.received_utc,
        &c.received_local[..10.min(c.received_local.len())],
        lat,
        lon,
        acc,
        c.photo_sha256,
        c.photo_dhash as i64,
        c.verdict,
        c.findings,
        c.reply,
        c.counted
    ])?;
    if let Some((jpeg, until)) = &c.photo {
        tx.prepare_cached(
            "INSERT INTO checkin_photos (record_id, jpeg, keep_until_utc) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![c.record_id, jpeg, until])?;
    }
    outbox::enqueue(tx, &c.record_id, "checkin", &c.body, &now)?;
    Ok(true)
}

/// Recent photo hashes (for near-duplicate detection), newest last.
pub(crate) fn recent_dhashes(conn: &Connection, limit: usize) -> Result<Vec<u64>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT photo_dhash FROM (SELECT photo_dhash, received_utc FROM checkins ORDER BY received_utc DESC LIMIT ?1)
         ORDER BY received_utc",
    )?;
    let rows = stmt
        .query_map([limit as i64], |r| r.get::<_, i64>(0).map(|v| v as u64))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Deletes retained photos past their time; returns how many.
pub(crate) fn expire_photos(tx: &Transaction<'_>, now_utc: &str) -> Result<usize, StoreError> {
    Ok(tx.execute(
        "DELETE FROM checkin_photos WHERE keep_until_utc < ?1",
        [now_utc],
    )?)
}
