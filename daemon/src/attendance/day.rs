//! Evaluating one employee's day: working or not, present or which kind of absence, first in,
//! last out, late and early-leave minutes. Pure; the recap and the dashboard feed it.
//!
//! Policy (the rules the recap applies; see also `docs/ARCHITECTURE.md`):
//! - A day is a working day when the employee's schedule group has hours on that weekday and it
//!   is not a holiday (libur nasional, cuti bersama, libur daerah). Punches on other days are
//!   shown but not counted.
//! - Counted punches: fingerprint punches and tablet check-ins whose verdict is `accepted`
//!   (including check-ins approved on review); rejected and still-to-review ones do not count.
//! - Punches before the midpoint of the working hours are arrivals, the rest departures. First
//!   in is the earliest arrival, last out the latest departure. Times are compared in whole
//!   minutes, as readers print them (07:30:59 is 07:30).
//! - Late: first in after start + tolerance; late minutes are counted from the start. Early
//!   leave: last out before end − tolerance; minutes counted to the end. No arrival punch is
//!   "tidak absen masuk", no departure "tidak absen pulang"; neither adds minutes.
//! - Precedence on a working day: official travel (SPT) → dinas luar; an in-force izin, sakit
//!   or cuti entry → that absence (the operator's entry wins over punches); counted punches →
//!   present (WFH when a check-in was made in WFH mode or a WFH assignment covers the day); a
//!   day after the recap's "as of" date → not yet; otherwise tanpa keterangan (alpa).

use jiff::civil::{Date, Time};
use serde::Serialize;

use super::schedule::{minutes_of, WorkHours};
use crate::store::EntryKind;

/// What a day was for an employee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DayStatus {
    /// A weekend or other day off of the schedule group.
    DayOff,
    /// A holiday or cuti bersama.
    Holiday,
    /// After the recap's "as of" date: not evaluated.
    NotYet,
    /// Present (in the office or WFH with a check-in).
    Hadir,
    /// Official travel (dinas luar) under an SPT.
    DinasLuar,
    /// Permission (izin).
    Izin,
    /// Sick (sakit).
    Sakit,
    /// Leave (cuti).
    Cuti,
    /// Absent without an entry (tanpa keterangan / alpa).
    TanpaKeterangan,
}

impl DayStatus {
    /// Indonesian label used in exports.
    pub fn label(self) -> &'static str {
        match self {
            DayStatus::DayOff => "Libur",
            DayStatus::Holiday => "Hari Libur",
            DayStatus::NotYet => "-",
            DayStatus::Hadir => "Hadir",
            DayStatus::DinasLuar => "Dinas Luar",
            DayStatus::Izin => "Izin",
            DayStatus::Sakit => "Sakit",
            DayStatus::Cuti => "Cuti",
            DayStatus::TanpaKeterangan => "Tanpa Keterangan",
        }
    }

    /// Whether the day is a working day that has been evaluated.
    pub fn is_working(self) -> bool {
        !matches!(
            self,
            DayStatus::DayOff | DayStatus::Holiday | DayStatus::NotYet
        )
    }
}

/// One counted punch on a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Punch {
    /// Office wall time.
    pub time: Time,
    /// Made as a WFH check-in.
    pub wfh: bool,
}

/// Everything known about one employee's day.
#[derive(Debug, Clone)]
pub struct DayInput<'a> {
    /// The date.
    pub date: Date,
    /// Working hours; `None` when it is not a working day.
    pub hours: Option<WorkHours>,
    /// The holiday's name when the day is a holiday.
    pub holiday: Option<&'a str>,
    /// Counted punches that day, any order.
    pub punches: &'a [Punch],
    /// In-force leave or WFH entry covering the day.
    pub entry: Option<EntryKind>,
    /// A travel order (SPT) covers the day.
    pub on_travel: bool,
    /// The day is after the recap's "as of" date.
    pub future: bool,
    /// Schedule tolerance for arriving, minutes.
    pub late_tolerance_min: u32,
    /// Schedule tolerance for leaving, minutes.
    pub early_tolerance_min: u32,
}

/// The evaluated day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayResult {
    /// The date.
    pub date: Date,
    /// What the day was.
    pub status: DayStatus,
    /// Holiday name, if a holiday.
    pub holiday: Option<String>,
    /// Working hours that applied.
    pub hours: Option<WorkHours>,
    /// Earliest arrival punch.
    pub first_in: Option<Time>,
    /// Latest departure punch.
    pub last_out: Option<Time>,
    /// Minutes late (0 when on time or absent).
    pub late_min: u32,
    /// Minutes left early (0 when not).
    pub early_min: u32,
    /// Present with no arrival punch.
    pub missing_in: bool,
    /// Present with no departure punch.
    pub missing_out: bool,
    /// Present working from home.
    pub wfh: bool,
    /// Counted punches that day (also on days off).
    pub punches: u32,
}

/// Evaluates one employee's day by the policy in the module documentation.
pub fn evaluate(d: &DayInput<'_>) -> DayResult {
    let mut r = DayResult {
        date: d.date,
        status: DayStatus::TanpaKeterangan,
        holiday: d.holiday.map(str::to_string),
        hours: d.hours,
        first_in: None,
        last_out: None,
        late_min: 0,
        early_min: 0,
        missing_in: false,
        missing_out: false,
        wfh: false,
        punches: d.punches.len() as u32,
    };
    let Some(hours) = d.hours else {
        r.status = if d.holiday.is_some() {
            DayStatus::Holiday
        } else {
            DayStatus::DayOff
        };
        // Shown, not counted: with no working hours there is no midpoint, so the earliest
        // punch is shown as in and the latest (when another) as out.
        r.first_in = d.punches.iter().map(|p| p.time).min();
        r.last_out = d
            .punches
            .iter()
            .map(|p| p.time)
            .max()
            .filter(|t| Some(*t) != r.first_in);
        return r;
    };
    if d.future {
        r.status = DayStatus::NotYet;
        return r;
    }
    if d.on_travel {
        r.status = DayStatus::DinasLuar;
        return r;
    }
    match d.entry {
        Some(EntryKind::Izin) => r.status = DayStatus::Izin,
        Some(EntryKind::Sakit) => r.status = DayStatus::Sakit,
        Some(EntryKind::Cuti) => r.status = DayStatus::Cuti,
        _ => {}
    }
    if r.status != DayStatus::TanpaKeterangan || d.punches.is_empty() {
        return r;
    }
    r.status = DayStatus::Hadir;
    r.wfh = d.entry == Some(EntryKind::Wfh) || d.punches.iter().any(|p| p.wfh);
    let mid = hours.midpoint();
    r.first_in = d.punches.iter().map(|p| p.time).filter(|t| *t < mid).min();
    r.last_out = d.punches.iter().map(|p| p.time).filter(|t| *t >= mid).max();
    match r.first_in {
        Some(t) => {
            let late = minutes_of(t) - minutes_of(hours.start);
            if late > d.late_tolerance_min as i32 {
                r.late_min = late as u32;
            }
        }
        None => r.missing_in = true,
    }
    match r.last_out {
        Some(t) => {
            let early = minutes_of(hours.end) - minutes_of(t);
            if early > d.early_tolerance_min as i32 {
                r.early_min = early as u32;
            }
        }
        None => r.missing_out = true,
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn hours() -> WorkHours {
        WorkHours::parse("07:30", "16:00").unwrap()
    }

    fn p(h: i8, m: i8, s: i8) -> Punch {
        Punch {
            time: Time::constant(h, m, s, 0),
            wfh: false,
        }
    }

    fn input(punches: &[Punch]) -> DayInput<'_> {
        DayInput {
            date: date(2026, 11, 23),
            hours: Some(hours()),
            holiday: None,
            punches,
            entry: None,
            on_travel: false,
            future: false,
            late_tolerance_min: 0,
            early_tolerance_min: 0,
        }
    }

    #[test]
    fn seconds_do_not_make_an_arrival_late() {
        let ps = [p(7, 30, 59), p(16, 0, 0)];
        let r = evaluate(&input(&ps));
        assert_eq!(r.status, DayStatus::Hadir);
        assert_eq!((r.late_min, r.early_min), (0, 0));
    }

    #[test]
    fn late_minutes_count_from_the_start_once_past_the_tolerance() {
        let ps = [p(7, 40, 0), p(16, 5, 0)];
        let mut i = input(&ps);
        assert_eq!(evaluate(&i).late_min, 10);
        i.late_tolerance_min = 10;
        assert_eq!(evaluate(&i).late_min, 0);
        i.late_tolerance_min = 9;
        assert_eq!(evaluate(&i).late_min, 10);
    }

    #[test]
    fn a_single_morning_punch_is_present_without_a_departure() {
        let ps = [p(7, 0, 0), p(7, 1, 0)];
        let r = evaluate(&input(&ps));
        assert!(r.missing_out && !r.missing_in);
        assert_eq!(r.early_min, 0);
        assert_eq!(r.first_in, Some(Time::constant(7, 0, 0, 0)));
    }

    #[test]
    fn leaving_before_the_end_counts_early_minutes() {
        let ps = [p(7, 15, 0), p(15, 20, 30)];
        let r = evaluate(&input(&ps));
        assert_eq!(r.early_min, 40);
    }

    #[test]
    fn travel_beats_leave_and_leave_beats_punches() {
        let ps = [p(7, 15, 0)];
        let mut i = input(&ps);
        i.entry = Some(EntryKind::Sakit);
        assert_eq!(evaluate(&i).status, DayStatus::Sakit);
        i.on_travel = true;
        assert_eq!(evaluate(&i).status, DayStatus::DinasLuar);
    }

    #[test]
    fn a_wfh_assignment_without_a_check_in_is_absent() {
        let mut i = input(&[]);
        i.entry = Some(EntryKind::Wfh);
        assert_eq!(evaluate(&i).status, DayStatus::TanpaKeterangan);
        let ps = [p(7, 25, 0)];
        i.punches = &ps;
        let r = evaluate(&i);
        assert!(r.wfh);
        assert_eq!(r.status, DayStatus::Hadir);
    }

    #[test]
    fn holidays_and_future_days_are_not_working_days() {
        let mut i = input(&[]);
        i.hours = None;
        i.holiday = Some("HUT RI");
        assert_eq!(evaluate(&i).status, DayStatus::Holiday);
        let mut i = input(&[]);
        i.future = true;
        assert_eq!(evaluate(&i).status, DayStatus::NotYet);
        assert!(!DayStatus::NotYet.is_working());
    }

    #[test]
    fn punches_on_a_day_off_are_shown_but_not_counted() {
        let ps = [p(9, 5, 0), p(7, 41, 0), p(12, 30, 0)];
        let mut i = input(&ps);
        i.hours = None;
        let r = evaluate(&i);
        assert_eq!(r.status, DayStatus::DayOff);
        assert_eq!(
            (r.first_in, r.last_out),
            (
                Some(Time::constant(7, 41, 0, 0)),
                Some(Time::constant(12, 30, 0, 0))
            )
        );
        assert_eq!(
            (r.late_min, r.early_min, r.missing_in, r.missing_out),
            (0, 0, false, false)
        );
        let one = [p(7, 41, 0)];
        let mut i = input(&one);
        i.hours = None;
        let r = evaluate(&i);
        assert_eq!(
            (r.first_in, r.last_out),
            (Some(Time::constant(7, 41, 0, 0)), None)
        );
    }
}
