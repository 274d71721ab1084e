//! Reader wall-clock time: the packed 32-bit ZK encoding and the 6-byte live-event form.
//!
//! A reader keeps local wall-clock time with no zone; the daemon interprets a
//! [`ZkDateTime`] in the office's zone.

use std::fmt;

/// First year a ZK reader can represent (the encoding counts from 2000).
pub const MIN_YEAR: u16 = 2000;
/// Last year whose every instant fits the packed 32-bit encoding.
pub const MAX_YEAR: u16 = 2132;

/// Why a date-time was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// A field is outside its calendar range (e.g. month 13, 31 April); the device sent a corrupt time.
    #[error("invalid date-time {year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")]
    OutOfRange {
        /// Year as given.
        year: u32,
        /// Month as given.
        month: u32,
        /// Day as given.
        day: u32,
        /// Hour as given.
        hour: u32,
        /// Minute as given.
        minute: u32,
        /// Second as given.
        second: u32,
    },
}

/// A validated reader wall-clock time (no zone), second precision.
///
/// Ordering is chronological.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZkDateTime {
    year: u16,
    month: u8,
    day: u8,
    hour: u8,
    minute: u8,
    second: u8,
}

/// Days in `month` of `year` (proleptic Gregorian).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a civil date (Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

impl ZkDateTime {
    /// 2000-01-01 00:00:00, the earliest time a reader can hold.
    pub const EPOCH: ZkDateTime = ZkDateTime {
        year: MIN_YEAR,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
    };

    /// Builds a validated time; years 2000–2132 only (what a reader can store).
    pub fn new(
        year: u16,
        month: u8,
        day: u8,
        hour: u8,
        minute: u8,
        second: u8,
    ) -> Result<Self, TimeError> {
        Self::checked(
            u32::from(year),
            u32::from(month),
            u32::from(day),
            u32::from(hour),
            u32::from(minute),
            u32::from(second),
        )
    }

    fn checked(
        year: u32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
    ) -> Result<Self, TimeError> {
        let ok = (u32::from(MIN_YEAR)..=u32::from(MAX_YEAR)).contains(&year)
            && (1..=12).contains(&month)
            && day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        if !ok {
            return Err(TimeError::OutOfRange {
                year,
                month,
                day,
                hour,
                minute,
                second,
            });
        }
        // The range checks above make every narrowing below lossless.
        Ok(Self {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
        })
    }

    /// Calendar year (2000–2132).
    pub fn year(&self) -> u16 {
        self.year
    }
    /// Month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }
    /// Day of month, 1–31.
    pub fn day(&self) -> u8 {
        self.day
    }
    /// Hour, 0–23.
    pub fn hour(&self) -> u8 {
        self.hour
    }
    /// Minute, 0–59.
    pub fn minute(&self) -> u8 {
        self.minute
    }
    /// Second, 0–59.
    pub fn second(&self) -> u8 {
        self.second
    }

    /// Packs into the reader's 32-bit time (31-day months, 12-month years from 2000).
    pub fn to_zk(&self) -> u32 {
        let yy = u32::from(self.year - MIN_YEAR);
        let days = yy * 12 * 31 + (u32::from(self.month) - 1) * 31 + u32::from(self.day) - 1;
        days * 86_400
            + (u32::from(self.hour) * 60 + u32::from(self.minute)) * 60
            + u32::from(self.second)
    }

    /// Unpacks the reader's 32-bit time; impossible dates (e.g. 30 February) are errors.
    pub fn from_zk(t: u32) -> Result<Self, TimeError> {
        let second = t % 60;
        let t = t / 60;
        let minute = t % 60;
        let t = t / 60;
        let hour = t % 24;
        let t = t / 24;
        let day = t % 31 + 1;
        let t = t / 31;
        let month = t % 12 + 1;
        let year = t / 12 + u32::from(MIN_YEAR);
        Self::checked(year, month, day, hour, minute, second)
    }

    /// The six raw bytes `YY MM DD hh mm ss` used in live events.
    pub fn to_event_bytes(&self) -> [u8; 6] {
        [
            (self.year - MIN_YEAR) as u8,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
        ]
    }

    /// Parses the six raw live-event bytes `YY MM DD hh mm ss` (YY + 2000).
    pub fn from_event_bytes(b: [u8; 6]) -> Result<Self, TimeError> {
        Self::checked(
            u32::from(b[0]) + u32::from(MIN_YEAR),
            u32::from(b[1]),
            u32::from(b[2]),
            u32::from(b[3]),
            u32::from(b[4]),
            u32::from(b[5]),
        )
    }

    /// Seconds since 1970-01-01 00:00:00 *on the same wall clock* (no zone applied).
    pub fn to_civil_seconds(&self) -> i64 {
        let days = days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        );
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }

    /// Inverse of [`ZkDateTime::to_civil_seconds`]; out-of-range years are errors.
    pub fn from_civil_seconds(secs: i64) -> Result<Self, TimeError> {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let clamp = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        Self::checked(
            clamp(year),
            clamp(month),
            clamp(day),
            clamp(rem / 3600),
            clamp(rem / 60 % 60),
            clamp(rem % 60),
        )
    }
}

impl fmt::Display for ZkDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_time_matches_the_formula_in_the_fact_sheet() {
        let t = ZkDateTime::new(2016, 1, 1, 19, 2, 0).unwrap();
        assert_eq!(t.to_zk(), 0x1ea7_eba8);
        assert_eq!(ZkDateTime::from_zk(0x1ea7_eba8).unwrap(), t);
    }

    #[test]
    fn impossible_packed_dates_are_rejected_not_wrapped() {
        // 2021-02-30 exists in the 31-day encoding but not on a calendar.
        let bogus = ((21 * 12 * 31 + 31 + 29) * 86_400) as u32;
        assert!(ZkDateTime::from_zk(bogus).is_err());
        assert!(ZkDateTime::new(2023, 2, 29, 0, 0, 0).is_err());
        assert!(ZkDateTime::new(2024, 2, 29, 0, 0, 0).is_ok());
        assert!(ZkDateTime::new(1999, 1, 1, 0, 0, 0).is_err());
    }

    #[test]
    fn the_largest_year_still_fits_the_packed_encoding() {
        let t = ZkDateTime::new(MAX_YEAR, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(ZkDateTime::from_zk(t.to_zk()).unwrap(), t);
        assert!(ZkDateTime::from_zk(u32::MAX).is_err());
    }

    #[test]
    fn civil_seconds_round_trip_across_leap_days() {
        let t = ZkDateTime::new(2024, 2, 29, 23, 59, 59).unwrap();
        assert_eq!(t.to_civil_seconds(), 1_709_251_199);
        assert_eq!(ZkDateTime::from_civil_seconds(1_709_251_199).unwrap(), t);
    }

    #[test]
    fn event_bytes_round_trip() {
        let t = ZkDateTime::new(2025, 6, 30, 7, 5, 9).unwrap();
        assert_eq!(t.to_event_bytes(), [25, 6, 30, 7, 5, 9]);
        assert_eq!(ZkDateTime::from_event_bytes(t.to_event_bytes()).unwrap(), t);
        assert!(ZkDateTime::from_event_bytes([25, 0, 1, 0, 0, 0]).is_err());
    }
}
