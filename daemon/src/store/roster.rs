//! Bulk roster upsert from an imported SIMPEG export (issue 6): one transaction, one audit entry.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::operators::audit_forwarded;
use super::{Store, StoreError};

/// One validated employee row from an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RosterRow {
    /// Line in the file (1-based), for the report.
    pub line: usize,
    /// 18-digit NIP.
    pub nip: String,
    /// Full name with titles.
    pub name: String,
    /// Unit / bidang.
    pub unit: String,
    /// Position.
    pub position: String,
    /// Schedule group; `None` keeps the current one (new employees get the default).
    pub schedule_group: Option<String>,
}

/// What an import did (or, on a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RosterApplied {
    /// New employees.
    pub inserted: usize,
    /// Employees whose data changed.
    pub updated: usize,
    /// Employees already exactly as in the file.
    pub unchanged: usize,
    /// Lines (1-based) with a schedule group that does not exist: (line, nip, group).
    pub unknown_groups: Vec<(usize, String, String)>,
}

type Existing = (String, String, String, String, bool);

/// Applies (or with `write` false only counts) the rows on `conn`, which must be the writer's
/// transaction when writing.
fn apply(conn: &Connection, rows: &[RosterRow], write: bool) -> Result<RosterApplied, StoreError> {
    let mut out = RosterApplied::default();
    let groups: Vec<String> = conn
        .prepare_cached("SELECT name FROM schedule_groups")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let now = jiff::Timestamp::now().to_string();
    for r in rows {
        if let Some(g) = &r.schedule_group {
            if !groups.contains(g) {
                out.unknown_groups.push((r.line, r.nip.clone(), g.clone()));
                continue;
            }
        }
        let old: Option<Existing> = conn
            .prepare_cached(
                "SELECT name, unit, position, schedule_group, active FROM employees WHERE nip = ?1",
            )?
            .query_row([&r.nip], |x| {
                Ok((x.get(0)?, x.get(1)?, x.get(2)?, x.get(3)?, x.get(4)?))
            })
            .optional()?;
        let group = match (&r.schedule_group, &old) {
            (Some(g), _) => g.clone(),
            (None, Some(o)) => o.3.clone(),
            (None, None) => String::new(),
        };
        match &old {
            None => out.inserted += 1,
            Some(o)
                if o.0 == r.name && o.1 == r.unit && o.2 == r.position && o.3 == group && o.4 =>
            {
                out.unchanged += 1;
                continue;
            }
            Some(_) => out.updated += 1,
        }
        if write {
            conn.prepare_cached(
                "INSERT INTO employees (nip, name, unit, position, schedule_group, active, updated_utc)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)
                 ON CONFLICT (nip) DO UPDATE SET name = excluded.name, unit = excluded.unit,
                     position = excluded.position, schedule_group = excluded.schedule_group,
                     active = 1, updated_utc = excluded.updated_utc",
            )?
            .execute(params![r.nip, r.name, r.unit, r.position, group, now])?;
        }
    }
    Ok(out)
}

impl Store {
    /// Adds or updates the validated rows of an imported roster in one transaction with one
    /// audit entry naming `source` (the file name). Rows naming an unknown schedule group are
    /// not applied and are returned in `unknown_groups`. With `dry_run` nothing is written.
    pub async fn import_roster(
        &self,
        rows: Vec<RosterRow>,
        source: String,
        actor: String,
        dry_run: bool,
    ) -> Result<RosterApplied, StoreError> {
        if dry_run {
            return self.read(move |c| apply(c, &rows, false)).await;
        }
        let office = self.office.clone();
        self.write(move |tx| {
            let out = apply(tx, &rows, true)?;
            let detail = format!(
                "{source}: {} baru, {} diubah, {} tetap",
                out.inserted, out.updated, out.unchanged
            );
            audit_forwarded(tx, &office, &actor, "roster-imported", "employees", &detail)?;
            Ok(out)
        })
        .await
    }
}
