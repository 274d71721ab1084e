//! The monthly recap per employee and per unit, as the BKD reports it, and today's counts for
//! the dashboard. Reads attendance, the roster, schedules, holidays, manual entries and travel
//! orders in one pass over the month and evaluates every employee-day with [`day::evaluate`].
//!
//! Attendance rate policy: `rate = (hadir + dinas luar) ÷ (hari kerja − cuti) × 100`, rounded to
//! two decimals. Official travel counts as present; cuti (an entitlement) is taken out of the
//! working days instead of counting against the employee; izin, sakit and tanpa keterangan stay in
//! the working days and lower the rate. Holidays, cuti bersama and days off are not working days;
//! days after "as of" are not counted yet. No working days → no rate.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::{Date, Time};
use rusqlite::{params, Connection};
use serde::Serialize;

use super::day::{self, DayInput, DayResult, DayStatus, Punch};
use super::AttendanceError;
use crate::store::{self, EntryFilter, EntryKind, Store};

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Month {
    /// Year.
    pub year: i16,
    /// Month 1–12.
    pub month: i8,
}

impl Month {
    /// Parses `YYYY-MM`.
    pub fn parse(s: &str) -> Result<Month, AttendanceError> {
        let bad = || AttendanceError::Invalid(format!("bulan {s:?} tidak valid; pakai YYYY-MM"));
        let (y, m) = s.trim().split_once('-').ok_or_else(bad)?;
        let (year, month) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        Date::new(year, month, 1).map_err(|_| bad())?;
        Ok(Month { year, month })
    }

    /// The month containing `d`.
    pub fn of(d: Date) -> Month {
        Month {
            year: d.year(),
            month: d.month(),
        }
    }

    /// First day.
    pub fn first(self) -> Date {
        Date::constant(self.year, self.month, 1)
    }

    /// Last day.
    pub fn last(self) -> Date {
        self.first().last_of_month()
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// What to recap.
#[derive(Debug, Clone)]
pub struct RecapQuery {
    /// The month.
    pub month: Month,
    /// Days after this are not counted yet (normally today in the office zone).
    pub as_of: Date,
    /// Only this unit (exact match), if set.
    pub unit: Option<String>,
    /// Only this employee, if set.
    pub nip: Option<String>,
}

impl RecapQuery {
    /// The whole roster for `month`, counted up to `as_of`.
    pub fn month(month: Month, as_of: Date) -> RecapQuery {
        RecapQuery {
            month,
            as_of,
            unit: None,
            nip: None,
        }
    }
}

/// Counts over a span of days (one employee, a unit or everyone).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Working days evaluated (hari kerja).
    pub working_days: u32,
    /// Present, in the office or WFH (hadir).
    pub present: u32,
    /// Of which working from home.
    pub wfh: u32,
    /// Official travel (dinas luar).
    pub dinas_luar: u32,
    /// Permission (izin).
    pub izin: u32,
    /// Sick (sakit).
    pub sakit: u32,
    /// Leave (cuti).
    pub cuti: u32,
    /// Absent without an entry (tanpa keterangan / alpa).
    pub tanpa_keterangan: u32,
    /// Days late.
    pub late_count: u32,
    /// Minutes late in total.
    pub late_minutes: u32,
    /// Days left early.
    pub early_count: u32,
    /// Minutes left early in total.
    pub early_minutes: u32,
    /// Present days without an arrival punch.
    pub missing_in: u32,
    /// Present days without a departure punch.
    pub missing_out: u32,
    /// Attendance rate in percent, two decimals (see the module documentation).
    pub rate_pct: Option<f64>,
}

impl Totals {
    fn add_day(&mut self, d: &DayResult) {
        if !d.status.is_working() {
            return;
        }
        self.working_days += 1;
        match d.status {
            DayStatus::Hadir => {
                self.present += 1;
                self.wfh += u32::from(d.wfh);
                self.late_count += u32::from(d.late_min > 0);
                self.late_minutes += d.late_min;
                self.early_count += u32::from(d.early_min > 0);
                self.early_minutes += d.early_min;
                self.missing_in += u32::from(d.missing_in);
                self.missing_out += u32::from(d.missing_out);
            }
            DayStatus::DinasLuar => self.dinas_luar += 1,
            DayStatus::Izin => self.izin += 1,
            DayStatus::Sakit => self.sakit += 1,
            DayStatus::Cuti => self.cuti += 1,
            _ => self.tanpa_keterangan += 1,
        }
    }

    fn add(&mut self, o: &Totals) {
        self.working_days += o.working_days;
        self.present += o.present;
        self.wfh += o.wfh;
        self.dinas_luar += o.dinas_luar;
        self.izin += o.izin;
        self.sakit += o.sakit;
        self.cuti += o.cuti;
        self.tanpa_keterangan += o.tanpa_keterangan;
        self.late_count += o.late_count;
        self.late_minutes += o.late_minutes;
        self.early_count += o.early_count;
        self.early_minutes += o.early_minutes;
        self.missing_in += o.missing_in;
        self.missing_out += o.missing_out;
    }

    fn finish(&mut self) {
        let denom = self.working_days.saturating_sub(self.cuti);
        self.rate_pct = (denom > 0).then(|| {
            let r = f64::from(self.present + self.dinas_luar) * 100.0 / f64::from(denom);
            (r * 100.0).round() / 100.0
        });
    }
}

/// One employee's month.
#[derive(Debug, Clone, Serialize)]
pub struct EmployeeRecap {
    /// NIP.
    pub nip: String,
    /// Name.
    pub name: String,
    /// Unit / bidang.
    pub unit: String,
    /// Position.
    pub position: String,
    /// Schedule group that applied.
    pub schedule_group: String,
    /// The month's counts.
    pub totals: Totals,
    /// Every day of the month, evaluated.
    pub days: Vec<DayResult>,
}

/// One unit's month: the sums over its employees.
#[derive(Debug, Clone, Serialize)]
pub struct UnitRecap {
    /// Unit / bidang (`""` for employees without one).
    pub unit: String,
    /// Employees counted.
    pub employees: u32,
    /// Summed counts; the rate is computed from the sums.
    pub totals: Totals,
}

/// The monthly recap.
#[derive(Debug, Clone, Serialize)]
pub struct Recap {
    /// Office id.
    pub office: String,
    /// The month.
    pub month: Month,
    /// Days after this were not counted.
    pub as_of: Date,
    /// Per employee, by unit then name.
    pub employees: Vec<EmployeeRecap>,
    /// Per unit, by name.
    pub units: Vec<UnitRecap>,
    /// Everyone together.
    pub overall: Totals,
    /// Holidays in the month: (date, name).
    pub holidays: Vec<(Date, String)>,
}

struct Person {
    nip: String,
    name: String,
    unit: String,
    position: String,
    group: String,
}

fn roster(conn: &Connection, q: &RecapQuery) -> Result<Vec<Person>, AttendanceError> {
    let mut stmt = conn.prepare_cached(
        "SELECT nip, name, unit, position, schedule_group FROM employees
         WHERE active = 1 AND (?1 IS NULL OR unit = ?1) AND (?2 IS NULL OR nip = ?2)
         ORDER BY unit, name, nip",
    )?;
    let rows = stmt
        .query_map(params![q.unit, q.nip], |r| {
            Ok(Person {
                nip: r.get(0)?,
                name: r.get(1)?,
                unit: r.get(2)?,
                position: r.get(3)?,
                group: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// `HH:MM:SS` at byte 11 of `YYYY-MM-DDTHH:MM:SS`.
fn parse_local(s: &str) -> Option<(Date, Time)> {
    let b = s.as_bytes();
    if b.len() < 19 {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i16>().ok();
    let date = Date::new(num(0..4)?, num(5..7)? as i8, num(8..10)? as i8).ok()?;
    let time = Time::new(
        num(11..13)? as i8,
        num(14..16)? as i8,
        num(17..19)? as i8,
        0,
    )
    .ok()?;
    Some((date, time))
}

/// Builds the recap for `q` on a read connection (see the module documentation for the rules).
pub fn build(conn: &Connection, office: &str, q: &RecapQuery) -> Result<Recap, AttendanceError> {
    build_span(conn, office, q, q.month.first(), q.month.last())
}

/// [`build`] over the days `from..=to` of `q.month` only (the dashboard needs one day).
fn build_span(
    conn: &Connection,
    office: &str,
    q: &RecapQuery,
    from: Date,
    to: Date,
) -> Result<Recap, AttendanceError> {
    let people = roster(conn, q)?;
    let cal = store::load_calendar(conn, from, to)?;
    let ndays = (to.day() - from.day() + 1) as usize;
    let index: HashMap<&str, usize> = people
        .iter()
        .enumerate()
        .map(|(i, p)| (p.nip.as_str(), i))
        .collect();

    // Counted punches, per employee: (day index, punch).
    let mut punches: Vec<Vec<(u8, Punch)>> = vec![Vec::new(); people.len()];
    {
        let mut stmt = conn.prepare_cached(
            "SELECT a.employee, a.occurred_local,
                    CASE WHEN a.source = 'tablet'
                         THEN (SELECT c.mode FROM checkins c WHERE c.record_id = a.record_id) END
             FROM attendance a
             WHERE a.occurred_local >= ?1 AND a.occurred_local < ?2 AND a.verdict = 'accepted'",
        )?;
        let end = to
            .tomorrow()
            .map_err(|e| AttendanceError::Invalid(e.to_string()))?;
        let mut rows = stmt.query(params![
            format!("{from}T00:00:00"),
            format!("{end}T00:00:00")
        ])?;
        while let Some(r) = rows.next()? {
            let emp = r.get_ref(0)?.as_str().unwrap_or("");
            let Some(&i) = index.get(emp) else { continue };
            let Some((d, time)) = parse_local(r.get_ref(1)?.as_str().unwrap_or("")) else {
                continue;
            };
            let wfh = matches!(r.get_ref(2)?.as_str_or_null(), Ok(Some("wfh")));
            punches[i].push(((d.day() - from.day()) as u8, Punch { time, wfh }));
        }
    }

    // In-force leave / WFH entries and travel orders overlapping the month.
    let mut entries: HashMap<&str, Vec<(Date, Date, EntryKind)>> = HashMap::new();
    let listed = store::list_manual_entries(
        conn,
        &EntryFilter {
            nip: q.nip.clone(),
            from: Some(from),
            to: Some(to),
            history: false,
        },
    )?;
    for e in &listed {
        if let Some(&i) = index.get(e.nip.as_str()) {
            entries.entry(people[i].nip.as_str()).or_default().push((
                e.date_from,
                e.date_to,
                e.kind,
            ));
        }
    }
    let mut travel: HashMap<&str, Vec<(Date, Date)>> = HashMap::new();
    {
        let mut stmt = conn.prepare_cached(
            "SELECT nip, date_from, date_to FROM travel_orders WHERE date_to >= ?1 AND date_from <= ?2",
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
        for (nip, a, b) in rows {
            let (Some(&i), Ok(a), Ok(b)) = (index.get(nip.as_str()), a.parse(), b.parse()) else {
                continue;
            };
            travel
                .entry(people[i].nip.as_str())
                .or_default()
                .push((a, b));
        }
    }

    let mut employees = Vec::with_capacity(people.len());
    let mut units: BTreeMap<String, UnitRecap> = BTreeMap::new();
    let mut overall = Totals::default();
    let mut day_punches: Vec<Vec<Punch>> = vec![Vec::new(); ndays];
    for (i, p) in people.iter().enumerate() {
        let group = cal.group(&p.group);
        for v in &mut day_punches {
            v.clear();
        }
        for (d, pu) in &punches[i] {
            day_punches[*d as usize].push(*pu);
        }
        let my_entries = entries.get(p.nip.as_str());
        let my_travel = travel.get(p.nip.as_str());
        let mut totals = Totals::default();
        let mut days = Vec::with_capacity(ndays);
        let mut date = from;
        for dp in &day_punches {
            let entry = my_entries.and_then(|es| {
                es.iter()
                    .find(|(a, b, _)| *a <= date && date <= *b)
                    .map(|e| e.2)
            });
            let on_travel =
                my_travel.is_some_and(|ts| ts.iter().any(|(a, b)| *a <= date && date <= *b));
            let r = day::evaluate(&DayInput {
                date,
                hours: cal.hours(group, date),
                holiday: cal.holiday(date).map(|h| h.name.as_str()),
                punches: dp,
                entry,
                on_travel,
                future: date > q.as_of,
                late_tolerance_min: group.late_tolerance_min,
                early_tolerance_min: group.early_tolerance_min,
            });
            totals.add_day(&r);
            days.push(r);
            date = match date.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        totals.finish();
        let u = units.entry(p.unit.clone()).or_insert_with(|| UnitRecap {
            unit: p.unit.clone(),
            employees: 0,
            totals: Totals::default(),
        });
        u.employees += 1;
        u.totals.add(&totals);
        overall.add(&totals);
        employees.push(EmployeeRecap {
            nip: p.nip.clone(),
            name: p.name.clone(),
            unit: p.unit.clone(),
            position: p.position.clone(),
            schedule_group: group.name.clone(),
            totals,
            days,
        });
    }
    let mut units: Vec<UnitRecap> = units.into_values().collect();
    for u in &mut units {
        u.totals.finish();
    }
    overall.finish();
    let holidays = store::holidays_between(conn, from, to)?
        .into_iter()
        .map(|h| (h.day, h.name))
        .collect();
    Ok(Recap {
        office: office.to_string(),
        month: q.month,
        as_of: q.as_of,
        employees,
        units,
        overall,
        holidays,
    })
}

/// Builds the recap on one of the store's reader connections, off the async runtime.
pub async fn load(store: &Store, q: RecapQuery) -> Result<Recap, AttendanceError> {
    let office = store.office().to_string();
    store.read(move |c| Ok(build(c, &office, &q))).await?
}

/// Today's counts for the dashboard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TodayCounts {
    /// The day counted.
    pub date: Option<Date>,
    /// Active employees on the roster.
    pub employees: u32,
    /// Employees for whom the day is a working day.
    pub working: u32,
    /// Present (in the office or WFH).
    pub present: u32,
    /// Of the present, arrived late.
    pub late: u32,
    /// Of the present, working from home.
    pub wfh: u32,
    /// No punch yet and no entry (tanpa keterangan so far).
    pub absent: u32,
    /// On izin, sakit or cuti.
    pub on_leave: u32,
    /// On official travel.
    pub on_travel: u32,
}

/// Counts for one day (normally today): present, late, absent, on leave, on travel.
pub fn day_counts(
    conn: &Connection,
    office: &str,
    day: Date,
) -> Result<TodayCounts, AttendanceError> {
    let recap = build_span(
        conn,
        office,
        &RecapQuery::month(Month::of(day), day),
        day,
        day,
    )?;
    let idx = 0;
    let mut c = TodayCounts {
        date: Some(day),
        employees: recap.employees.len() as u32,
        ..TodayCounts::default()
    };
    for e in &recap.employees {
        let Some(d) = e.days.get(idx) else { continue };
        if d.status.is_working() {
            c.working += 1;
        }
        match d.status {
            DayStatus::Hadir => {
                c.present += 1;
                c.late += u32::from(d.late_min > 0);
                c.wfh += u32::from(d.wfh);
            }
            DayStatus::TanpaKeterangan => c.absent += 1,
            DayStatus::Izin | DayStatus::Sakit | DayStatus::Cuti => c.on_leave += 1,
            DayStatus::DinasLuar => c.on_travel += 1,
            _ => {}
        }
    }
    Ok(c)
}

/// [`day_counts`] on a reader connection, off the async runtime.
pub async fn load_day_counts(store: &Store, day: Date) -> Result<TodayCounts, AttendanceError> {
    let office = store.office().to_string();
    store.read(move |c| Ok(day_counts(c, &office, day))).await?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_know_their_last_day() {
        let m = Month::parse("2026-02").unwrap();
        assert_eq!(m.last(), jiff::civil::date(2026, 2, 28));
        assert_eq!(m.to_string(), "2026-02");
        assert!(Month::parse("2026-13").is_err());
        assert!(Month::parse("November").is_err());
    }

    #[test]
    fn the_rate_takes_cuti_out_of_the_working_days() {
        // 20 working days, 2 cuti, 15 present, 1 dinas luar, 2 izin:
        // (15 + 1) / (20 − 2) × 100 = 88.888… → 88.89
        let mut t = Totals {
            working_days: 20,
            present: 15,
            dinas_luar: 1,
            izin: 2,
            cuti: 2,
            ..Totals::default()
        };
        t.finish();
        assert_eq!(t.rate_pct, Some(88.89));
    }
}
