//! Manual entries (issue 6): leave (izin, sakit, cuti) and WFH assignments over a date range,
//! entered by an operator. Append-only: a correction is a new row superseding the old one, a
//! cancellation a row of kind `batal` superseding it; nothing is deleted. Each row is written with
//! an audit entry and queued in the outbox (kind `manual-entry`) in one transaction.

use jiff::civil::Date;
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::operators::audit_forwarded;
use super::{outbox, Store, StoreError};

/// Longest range of one entry, days.
pub const MAX_ENTRY_DAYS: i32 = 366;

/// What a manual entry says about the days it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// Permission to be absent (izin).
    Izin,
    /// Sick (sakit).
    Sakit,
    /// Leave (cuti tahunan, besar, melahirkan, ...).
    Cuti,
    /// Assigned to work from home: present only with a check-in that day.
    Wfh,
    /// Cancels the entry it supersedes.
    Batal,
}

impl EntryKind {
    /// The name stored and forwarded.
    pub fn as_str(self) -> &'static str {
        match self {
            EntryKind::Izin => "izin",
            EntryKind::Sakit => "sakit",
            EntryKind::Cuti => "cuti",
            EntryKind::Wfh => "wfh",
            EntryKind::Batal => "batal",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<EntryKind> {
        Some(match s {
            "izin" => EntryKind::Izin,
            "sakit" => EntryKind::Sakit,
            "cuti" => EntryKind::Cuti,
            "wfh" => EntryKind::Wfh,
            "batal" => EntryKind::Batal,
            _ => return None,
        })
    }

    /// Indonesian label.
    pub fn label(self) -> &'static str {
        match self {
            EntryKind::Izin => "Izin",
            EntryKind::Sakit => "Sakit",
            EntryKind::Cuti => "Cuti",
            EntryKind::Wfh => "WFH",
            EntryKind::Batal => "Batal",
        }
    }
}

/// A stored manual entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManualEntry {
    /// Stable id (also the outbox record id).
    pub id: String,
    /// Employee NIP.
    pub nip: String,
    /// What it records.
    pub kind: EntryKind,
    /// First day covered (office zone).
    pub date_from: Date,
    /// Last day covered, inclusive.
    pub date_to: Date,
    /// Reason, letter number, ...
    pub note: String,
    /// Operator who entered it.
    pub entered_by: String,
    /// When it was entered (UTC).
    pub created_utc: String,
    /// The entry this one corrects or cancels.
    pub supersedes: Option<String>,
    /// True while no later row supersedes it.
    pub in_force: bool,
}

/// A manual entry to record.
#[derive(Debug, Clone, Deserialize)]
pub struct NewManualEntry {
    /// Employee NIP (must be on the roster).
    pub nip: String,
    /// What it records (`batal` only via [`Store::cancel_manual_entry`]).
    pub kind: EntryKind,
    /// First day covered.
    pub date_from: Date,
    /// Last day covered, inclusive.
    pub date_to: Date,
    /// Reason, letter number, ... (at most 500 characters).
    #[serde(default)]
    pub note: String,
    /// The in-force entry this one corrects, if any.
    #[serde(default)]
    pub supersedes: Option<String>,
}

/// Which entries to list.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EntryFilter {
    /// Only this employee.
    #[serde(default)]
    pub nip: Option<String>,
    /// Only entries covering a day on or after this.
    #[serde(default)]
    pub from: Option<Date>,
    /// Only entries covering a day on or before this.
    #[serde(default)]
    pub to: Option<Date>,
    /// Also list superseded entries and cancellations (the full history).
    #[serde(default)]
    pub history: bool,
}

const SELECT: &str = "SELECT m.id, m.nip, m.kind, m.date_from, m.date_to, m.note, m.entered_by,
        m.created_utc, m.supersedes,
        NOT EXISTS (SELECT 1 FROM manual_entries s WHERE s.supersedes = m.id) AS in_force
    FROM manual_entries m";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ManualEntry> {
    let date = |i: usize| -> rusqlite::Result<Date> {
        let s: String = r.get(i)?;
        s.parse().map_err(|e: jiff::Error| {
            rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Text, e.into())
        })
    };
    let kind: String = r.get(2)?;
    Ok(ManualEntry {
        id: r.get(0)?,
        nip: r.get(1)?,
        kind: EntryKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                2,
                rusqlite::types::Type::Text,
                format!("unknown entry kind {kind:?}").into(),
            )
        })?,
        date_from: date(3)?,
        date_to: date(4)?,
        note: r.get(5)?,
        entered_by: r.get(6)?,
        created_utc: r.get(7)?,
        supersedes: r.get(8)?,
        in_force: r.get(9)?,
    })
}

/// Entries matching `f`, oldest first. Without `history`, only in-force entries other than
/// cancellations.
pub fn list(conn: &Connection, f: &EntryFilter) -> Result<Vec<ManualEntry>, StoreError> {
    let sql = format!(
        "{SELECT} WHERE (?1 IS NULL OR m.nip = ?1) AND (?2 IS NULL OR m.date_to >= ?2)
           AND (?3 IS NULL OR m.date_from <= ?3)
         ORDER BY m.created_utc, m.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt
        .query_map(
            params![
                f.nip,
                f.from.map(|d| d.to_string()),
                f.to.map(|d| d.to_string())
            ],
            row,
        )?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .into_iter()
        .filter(|e| f.history || (e.in_force && e.kind != EntryKind::Batal))
        .collect())
}

fn get(conn: &Connection, id: &str) -> Result<Option<ManualEntry>, StoreError> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE m.id = ?1"))?
        .query_row([id], row)
        .optional()?)
}

fn insert(
    tx: &Transaction<'_>,
    office: &str,
    e: &NewManualEntry,
    actor: &str,
) -> Result<ManualEntry, StoreError> {
    let now = jiff::Timestamp::now().to_string();
    let chain = outbox::chain_id(tx)?;
    let id = crate::record::stable_id(&[
        "hadir-manual-entry-v1",
        office,
        &chain,
        &e.nip,
        e.kind.as_str(),
        &e.date_from.to_string(),
        &e.date_to.to_string(),
        &e.note,
        actor,
        &now,
        e.supersedes.as_deref().unwrap_or(""),
    ]);
    tx.execute(
        "INSERT INTO manual_entries (id, nip, kind, date_from, date_to, note, entered_by, created_utc, supersedes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            id,
            e.nip,
            e.kind.as_str(),
            e.date_from.to_string(),
            e.date_to.to_string(),
            e.note,
            actor,
            now,
            e.supersedes
        ],
    )?;
    let body = serde_json::json!({
        "type": "manual-entry",
        "record_id": id,
        "office": office,
        "nip": e.nip,
        "kind": e.kind.as_str(),
        "date_from": e.date_from.to_string(),
        "date_to": e.date_to.to_string(),
        "note": e.note,
        "entered_by": actor,
        "created_utc": now,
        "supersedes": e.supersedes,
    })
    .to_string();
    outbox::enqueue(tx, &id, "manual-entry", &body, &now)?;
    let detail = format!(
        "{} {}..{} {}",
        e.kind.as_str(),
        e.date_from,
        e.date_to,
        e.note
    );
    let action = match (e.kind, &e.supersedes) {
        (EntryKind::Batal, _) => "manual-entry-cancelled",
        (_, Some(_)) => "manual-entry-corrected",
        _ => "manual-entry-added",
    };
    audit_forwarded(tx, office, actor, action, &e.nip, detail.trim_end())?;
    get(tx, &id)?.ok_or_else(|| StoreError::Invalid(format!("entry {id} vanished")))
}

fn check_new(tx: &Transaction<'_>, e: &NewManualEntry) -> Result<(), StoreError> {
    let invalid = |m: String| Err(StoreError::Invalid(m));
    if e.date_to < e.date_from {
        return invalid("tanggal selesai sebelum tanggal mulai".into());
    }
    if (e.date_to - e.date_from).get_days() >= MAX_ENTRY_DAYS {
        return invalid(format!("rentang paling lama {MAX_ENTRY_DAYS} hari"));
    }
    if e.note.len() > 500 {
        return invalid("keterangan paling banyak 500 karakter".into());
    }
    let on_roster: bool = tx.query_row(
        "SELECT EXISTS (SELECT 1 FROM employees WHERE nip = ?1)",
        [&e.nip],
        |r| r.get(0),
    )?;
    if !on_roster {
        return invalid(format!("pegawai dengan NIP {} tidak ada di daftar", e.nip));
    }
    if let Some(old) = &e.supersedes {
        match get(tx, old)? {
            None => return invalid(format!("entri {old} tidak ada")),
            Some(o) if !o.in_force || o.kind == EntryKind::Batal => {
                return invalid(format!("entri {old} sudah dibatalkan atau dikoreksi"))
            }
            Some(o) if o.nip != e.nip => return invalid(format!("entri {old} milik pegawai lain")),
            Some(_) => {}
        }
    }
    if e.kind == EntryKind::Batal {
        return Ok(());
    }
    let clash = list(
        tx,
        &EntryFilter {
            nip: Some(e.nip.clone()),
            from: Some(e.date_from),
            to: Some(e.date_to),
            history: false,
        },
    )?
    .into_iter()
    .find(|o| Some(&o.id) != e.supersedes.as_ref());
    if let Some(o) = clash {
        return invalid(format!(
            "bertumpang tindih dengan {} {}..{} (entri {}); koreksi atau batalkan entri itu",
            o.kind.label(),
            o.date_from,
            o.date_to,
            o.id
        ));
    }
    Ok(())
}

impl Store {
    /// Records a leave or WFH entry (or a correction of an in-force one when `supersedes` is
    /// set), with its audit entry and outbox record, in one transaction. `Invalid` (message in
    /// Indonesian) when the dates are reversed or too long, the employee is unknown, or it
    /// overlaps another in-force entry of the employee.
    pub async fn add_manual_entry(
        &self,
        entry: NewManualEntry,
        actor: String,
    ) -> Result<ManualEntry, StoreError> {
        if entry.kind == EntryKind::Batal {
            return Err(StoreError::Invalid(
                "pembatalan memakai cancel_manual_entry".into(),
            ));
        }
        let office = self.office.clone();
        let r = self
            .write(move |tx| {
                check_new(tx, &entry)?;
                insert(tx, &office, &entry, &actor)
            })
            .await;
        if r.is_ok() {
            self.appended.notify_one();
        }
        r
    }

    /// Cancels an in-force entry by appending a `batal` row that supersedes it; the original is
    /// kept. `Invalid` when it does not exist or is no longer in force.
    pub async fn cancel_manual_entry(
        &self,
        id: String,
        reason: String,
        actor: String,
    ) -> Result<ManualEntry, StoreError> {
        let office = self.office.clone();
        let r = self
            .write(move |tx| {
                let Some(old) = get(tx, &id)? else {
                    return Err(StoreError::Invalid(format!("entri {id} tidak ada")));
                };
                let cancel = NewManualEntry {
                    nip: old.nip,
                    kind: EntryKind::Batal,
                    date_from: old.date_from,
                    date_to: old.date_to,
                    note: reason,
                    supersedes: Some(id),
                };
                check_new(tx, &cancel)?;
                insert(tx, &office, &cancel, &actor)
            })
            .await;
        if r.is_ok() {
            self.appended.notify_one();
        }
        r
    }

    /// Manual entries matching the filter, oldest first.
    pub async fn manual_entries(
        &self,
        filter: EntryFilter,
    ) -> Result<Vec<ManualEntry>, StoreError> {
        self.read(move |c| list(c, &filter)).await
    }

    /// One manual entry by id (whether or not in force).
    pub async fn manual_entry(&self, id: String) -> Result<Option<ManualEntry>, StoreError> {
        self.read(move |c| get(c, &id)).await
    }
}
