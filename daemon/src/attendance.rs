//! Attendance rules and reports (issue 6): work schedules and holidays ([`schedule`]), the
//! evaluation of one employee-day ([`day`]), the monthly recap per employee and unit
//! ([`recap`]), its XLSX and CSV export ([`export`]), roster import from a SIMPEG export
//! ([`roster_import`]) and the `hadir recap` / `hadir roster` / `hadir holidays` commands
//! ([`cli`]). Storage of schedules, holidays and manual entries lives in `store::schedules` and
//! `store::leave`.
//!
//! Entry points for the web UI and API:
//! - [`recap::load`] / [`recap::build`] — the month's recap; [`recap::load_day_counts`] — today's
//!   present / late / absent / on leave / on travel counts.
//! - [`export::xlsx`], [`export::csv`] — the downloads (same numbers as `hadir recap`).
//! - [`roster_import::import_bytes`] — an uploaded CSV/XLSX roster.
//! - `Store::{schedule_groups, save_schedule_group, delete_schedule_group, set_schedule_group,
//!   holidays, save_holiday, delete_holiday, import_holidays_csv, add_manual_entry,
//!   cancel_manual_entry, manual_entries, manual_entry}`.

pub mod cli;
pub mod day;
pub mod export;
pub mod recap;
pub mod roster_import;
pub mod schedule;

pub use day::{DayResult, DayStatus};
pub use recap::{Month, Recap, RecapQuery, TodayCounts, Totals};
pub use roster_import::{ImportReport, RowIssue};
pub use schedule::{Calendar, Holiday, HolidayKind, ScheduleGroup, WorkHours};

use crate::store::StoreError;

/// Why an attendance operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AttendanceError {
    /// The store failed; see the inner error (retry, or fix the database).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Reading the database failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The request is invalid (bad month, unreadable file, ...); the message says why.
    #[error("{0}")]
    Invalid(String),
    /// Writing the spreadsheet failed.
    #[error("cannot write the spreadsheet: {0}")]
    Xlsx(String),
}

impl AttendanceError {
    /// True when the request or file was at fault (answer 400 with the message), false when the
    /// gateway was (answer 500 / 507).
    pub fn is_bad_input(&self) -> bool {
        matches!(
            self,
            AttendanceError::Invalid(_) | AttendanceError::Store(StoreError::Invalid(_))
        )
    }
}
