//! Work schedules, holidays and employees' schedule groups (issue 6). Reads run on reader
//! connections; every change goes through the writer in one transaction with an audit entry that
//! is also queued upstream.

use jiff::civil::Date;
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::operators::audit_forwarded;
use super::{Store, StoreError};
use crate::attendance::schedule::{
    parse_holiday_csv, Calendar, Holiday, HolidayKind, ScheduleGroup, WorkHours,
};

/// Outcome of a holiday list import.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HolidayImport {
    /// Holidays added or updated.
    pub saved: usize,
    /// Lines that were skipped: (line number, reason in Indonesian).
    pub problems: Vec<(usize, String)>,
}

/// Every schedule group with its days, default first then by name.
pub(crate) fn groups(conn: &Connection) -> Result<Vec<ScheduleGroup>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, label, late_tolerance_min, early_tolerance_min, is_default
         FROM schedule_groups ORDER BY is_default DESC, name",
    )?;
    let mut out = stmt
        .query_map([], |r| {
            Ok(ScheduleGroup {
                name: r.get(0)?,
                label: r.get(1)?,
                late_tolerance_min: r.get(2)?,
                early_tolerance_min: r.get(3)?,
                is_default: r.get(4)?,
                days: [None; 7],
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut days = conn.prepare_cached(
        "SELECT weekday, start_local, end_local FROM schedule_days WHERE grp = ?1",
    )?;
    for g in &mut out {
        let rows = days
            .query_map([&g.name], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        for (wd, start, end) in rows {
            let hours = WorkHours::parse(&start, &end)
                .map_err(|e| StoreError::Invalid(format!("schedule group {}: {e}", g.name)))?;
            if let Some(slot) = usize::try_from(wd - 1).ok().and_then(|i| g.days.get_mut(i)) {
                *slot = Some(hours);
            }
        }
    }
    Ok(out)
}

/// Holidays from `from` to `to`, inclusive, in date order.
pub fn holidays(conn: &Connection, from: Date, to: Date) -> Result<Vec<Holiday>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT day, name, kind FROM holidays WHERE day >= ?1 AND day <= ?2 ORDER BY day",
    )?;
    let rows = stmt
        .query_map(params![from.to_string(), to.to_string()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(day, name, kind)| {
            Ok(Holiday {
                day: day
                    .parse()
                    .map_err(|e| StoreError::Invalid(format!("holiday date {day:?}: {e}")))?,
                name,
                kind: HolidayKind::parse(&kind).unwrap_or(HolidayKind::LiburNasional),
            })
        })
        .collect()
}

/// Schedules and the holidays between `from` and `to`.
pub fn load_calendar(conn: &Connection, from: Date, to: Date) -> Result<Calendar, StoreError> {
    Ok(Calendar::new(groups(conn)?, holidays(conn, from, to)?))
}

fn save_group(tx: &Transaction<'_>, g: &ScheduleGroup) -> Result<(), StoreError> {
    let now = jiff::Timestamp::now().to_string();
    if g.is_default {
        tx.execute(
            "UPDATE schedule_groups SET is_default = 0 WHERE name <> ?1",
            [&g.name],
        )?;
    } else {
        let was_default: bool = tx
            .query_row(
                "SELECT is_default FROM schedule_groups WHERE name = ?1",
                [&g.name],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(false);
        if was_default {
            return Err(StoreError::Invalid(format!(
                "kelompok {} adalah jadwal bawaan; jadikan kelompok lain bawaan terlebih dahulu",
                g.name
            )));
        }
    }
    tx.execute(
        "INSERT INTO schedule_groups (name, label, late_tolerance_min, early_tolerance_min, is_default, updated_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (name) DO UPDATE SET label = excluded.label,
             late_tolerance_min = excluded.late_tolerance_min,
             early_tolerance_min = excluded.early_tolerance_min,
             is_default = excluded.is_default, updated_utc = excluded.updated_utc",
        params![g.name, g.label, g.late_tolerance_min, g.early_tolerance_min, g.is_default, now],
    )?;
    tx.execute("DELETE FROM schedule_days WHERE grp = ?1", [&g.name])?;
    for (i, d) in g.days.iter().enumerate() {
        if let Some(h) = d {
            tx.execute(
                "INSERT INTO schedule_days (grp, weekday, start_local, end_local) VALUES (?1, ?2, ?3, ?4)",
                params![
                    g.name,
                    i as i64 + 1,
                    h.start.strftime("%H:%M").to_string(),
                    h.end.strftime("%H:%M").to_string()
                ],
            )?;
        }
    }
    Ok(())
}

fn save_holiday(tx: &Transaction<'_>, h: &Holiday) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO holidays (day, name, kind, updated_utc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (day) DO UPDATE SET name = excluded.name, kind = excluded.kind,
             updated_utc = excluded.updated_utc",
    )?
    .execute(params![
        h.day.to_string(),
        h.name,
        h.kind.as_str(),
        jiff::Timestamp::now().to_string()
    ])?;
    Ok(())
}

impl Store {
    /// Every work schedule group, the default first.
    pub async fn schedule_groups(&self) -> Result<Vec<ScheduleGroup>, StoreError> {
        self.read(groups).await
    }

    /// Adds or replaces a schedule group (its days are replaced as a whole). Marking it default
    /// unmarks the previous default; the default cannot be unmarked directly. `Invalid` with the
    /// problems in Indonesian when the group is not valid. Audited.
    pub async fn save_schedule_group(
        &self,
        group: ScheduleGroup,
        actor: String,
    ) -> Result<(), StoreError> {
        let problems = group.problems();
        if !problems.is_empty() {
            return Err(StoreError::Invalid(problems.join("; ")));
        }
        let office = self.office.clone();
        self.write(move |tx| {
            save_group(tx, &group)?;
            let detail = serde_json::to_string(&group).unwrap_or_default();
            audit_forwarded(
                tx,
                &office,
                &actor,
                "schedule-group-saved",
                &group.name,
                &detail,
            )?;
            Ok(())
        })
        .await
    }

    /// Deletes a schedule group. `Invalid` when it is the default or employees still use it.
    pub async fn delete_schedule_group(
        &self,
        name: String,
        actor: String,
    ) -> Result<bool, StoreError> {
        let office = self.office.clone();
        self.write(move |tx| {
            let row: Option<bool> = tx
                .query_row(
                    "SELECT is_default FROM schedule_groups WHERE name = ?1",
                    [&name],
                    |r| r.get(0),
                )
                .optional()?;
            match row {
                None => return Ok(false),
                Some(true) => {
                    return Err(StoreError::Invalid(format!(
                        "kelompok {name} adalah jadwal bawaan dan tidak dapat dihapus"
                    )))
                }
                Some(false) => {}
            }
            let used: i64 = tx.query_row(
                "SELECT COUNT(*) FROM employees WHERE schedule_group = ?1 AND active = 1",
                [&name],
                |r| r.get(0),
            )?;
            if used > 0 {
                return Err(StoreError::Invalid(format!(
                    "kelompok {name} masih dipakai {used} pegawai; pindahkan mereka terlebih dahulu"
                )));
            }
            tx.execute("DELETE FROM schedule_days WHERE grp = ?1", [&name])?;
            tx.execute("DELETE FROM schedule_groups WHERE name = ?1", [&name])?;
            audit_forwarded(tx, &office, &actor, "schedule-group-deleted", &name, "")?;
            Ok(true)
        })
        .await
    }

    /// Puts an employee in a schedule group (`""` = the default group). False when the employee
    /// is not on the roster; `Invalid` when the group does not exist. Audited.
    pub async fn set_schedule_group(
        &self,
        nip: String,
        group: String,
        actor: String,
    ) -> Result<bool, StoreError> {
        let office = self.office.clone();
        self.write(move |tx| {
            if !group.is_empty() {
                let exists: bool = tx.query_row(
                    "SELECT EXISTS (SELECT 1 FROM schedule_groups WHERE name = ?1)",
                    [&group],
                    |r| r.get(0),
                )?;
                if !exists {
                    return Err(StoreError::Invalid(format!(
                        "kelompok jadwal {group:?} tidak ada"
                    )));
                }
            }
            let n = tx.execute(
                "UPDATE employees SET schedule_group = ?2, updated_utc = ?3 WHERE nip = ?1",
                params![nip, group, jiff::Timestamp::now().to_string()],
            )?;
            if n == 1 {
                audit_forwarded(tx, &office, &actor, "schedule-group-assigned", &nip, &group)?;
            }
            Ok(n == 1)
        })
        .await
    }

    /// Holidays from `from` to `to` inclusive, in date order.
    pub async fn holidays(&self, from: Date, to: Date) -> Result<Vec<Holiday>, StoreError> {
        self.read(move |c| holidays(c, from, to)).await
    }

    /// Adds or renames a holiday (one per date). Audited.
    pub async fn save_holiday(&self, holiday: Holiday, actor: String) -> Result<(), StoreError> {
        if holiday.name.trim().is_empty() || holiday.name.len() > 200 {
            return Err(StoreError::Invalid(
                "nama hari libur wajib diisi (paling banyak 200 karakter)".into(),
            ));
        }
        let office = self.office.clone();
        self.write(move |tx| {
            save_holiday(tx, &holiday)?;
            let detail = format!("{} ({})", holiday.name, holiday.kind.as_str());
            audit_forwarded(
                tx,
                &office,
                &actor,
                "holiday-saved",
                &holiday.day.to_string(),
                &detail,
            )?;
            Ok(())
        })
        .await
    }

    /// Removes the holiday on `day`; false when there was none. Audited.
    pub async fn delete_holiday(&self, day: Date, actor: String) -> Result<bool, StoreError> {
        let office = self.office.clone();
        self.write(move |tx| {
            let n = tx.execute("DELETE FROM holidays WHERE day = ?1", [day.to_string()])?;
            if n == 1 {
                audit_forwarded(tx, &office, &actor, "holiday-deleted", &day.to_string(), "")?;
            }
            Ok(n == 1)
        })
        .await
    }

    /// Imports a holiday list (CSV, see [`parse_holiday_csv`]): good lines are saved in one
    /// transaction, bad lines reported. Audited once.
    pub async fn import_holidays_csv(
        &self,
        bytes: Vec<u8>,
        actor: String,
    ) -> Result<HolidayImport, StoreError> {
        let (good, problems) = parse_holiday_csv(&bytes);
        let office = self.office.clone();
        let saved = good.len();
        self.write(move |tx| {
            for h in &good {
                save_holiday(tx, h)?;
            }
            let detail = format!("{} disimpan, {} baris dilewati", good.len(), problems.len());
            audit_forwarded(
                tx,
                &office,
                &actor,
                "holidays-imported",
                "holidays",
                &detail,
            )?;
            Ok(HolidayImport { saved, problems })
        })
        .await
    }

    /// Schedules and holidays for the dates `from`..=`to`.
    pub async fn calendar(&self, from: Date, to: Date) -> Result<Calendar, StoreError> {
        self.read(move |c| load_calendar(c, from, to)).await
    }
}
