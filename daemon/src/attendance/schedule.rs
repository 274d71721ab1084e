//! Work schedules (kelompok jadwal) and holidays: pure types and rules deciding whether a date is
//! a working day for a group and when it starts and ends. Stored by `store::schedules`.

use std::collections::BTreeMap;

use jiff::civil::{Date, Time, Weekday};
use serde::{Deserialize, Serialize};

/// Start and end of a working day, office wall time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkHours {
    /// When work starts (arrivals after it, beyond the tolerance, are late).
    pub start: Time,
    /// When work ends (departures before it, beyond the tolerance, are early).
    pub end: Time,
}

impl WorkHours {
    /// Hours from `HH:MM` strings.
    pub fn parse(start: &str, end: &str) -> Result<WorkHours, String> {
        let t = |s: &str| {
            s.trim()
                .parse::<Time>()
                .map_err(|e| format!("jam {s:?} tidak valid (HH:MM): {e}"))
        };
        let h = WorkHours {
            start: t(start)?,
            end: t(end)?,
        };
        if h.start >= h.end {
            return Err(format!("jam mulai {start} harus sebelum jam selesai {end}"));
        }
        Ok(h)
    }

    /// The midpoint: punches before it are arrivals, punches at or after it departures.
    pub fn midpoint(&self) -> Time {
        let s = minutes_of(self.start);
        let e = minutes_of(self.end);
        let m = s + (e - s) / 2;
        Time::constant((m / 60) as i8, (m % 60) as i8, 0, 0)
    }
}

/// Whole minutes since midnight (seconds are dropped, as readers print HH:MM).
pub fn minutes_of(t: Time) -> i32 {
    i32::from(t.hour()) * 60 + i32::from(t.minute())
}

/// A named work schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleGroup {
    /// Key stored in `employees.schedule_group` (`reguler`, `6-hari`, ...).
    pub name: String,
    /// Description shown to operators.
    pub label: String,
    /// Minutes after the start that still count as on time.
    pub late_tolerance_min: u32,
    /// Minutes before the end that still do not count as leaving early.
    pub early_tolerance_min: u32,
    /// The group used for employees with no or an unknown group; exactly one is the default.
    pub is_default: bool,
    /// Working hours Monday (index 0) to Sunday (index 6); `None` is a day off.
    pub days: [Option<WorkHours>; 7],
}

/// Longest tolerance accepted, minutes.
pub const MAX_TOLERANCE_MIN: u32 = 240;

impl ScheduleGroup {
    /// The built-in default: Monday–Thursday 07:30–16:00, Friday 07:30–11:30, weekend off.
    pub fn reguler() -> ScheduleGroup {
        let long = Some(WorkHours {
            start: Time::constant(7, 30, 0, 0),
            end: Time::constant(16, 0, 0, 0),
        });
        let friday = Some(WorkHours {
            start: Time::constant(7, 30, 0, 0),
            end: Time::constant(11, 30, 0, 0),
        });
        ScheduleGroup {
            name: "reguler".into(),
            label: "Reguler 5 hari (Senin-Kamis 07.30-16.00, Jumat 07.30-11.30)".into(),
            late_tolerance_min: 0,
            early_tolerance_min: 0,
            is_default: true,
            days: [long, long, long, long, friday, None, None],
        }
    }

    /// Working hours on `date`'s weekday, ignoring holidays.
    pub fn hours_on(&self, date: Date) -> Option<WorkHours> {
        self.days[weekday_index(date.weekday())]
    }

    /// Every problem with this group, in Indonesian; empty when it can be saved.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 40
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !name_ok {
            out.push("nama kelompok: 1–40 huruf kecil, angka, '-' atau '_'".into());
        }
        if self.label.trim().is_empty() || self.label.len() > 200 {
            out.push("keterangan wajib diisi (paling banyak 200 karakter)".into());
        }
        if self.late_tolerance_min > MAX_TOLERANCE_MIN
            || self.early_tolerance_min > MAX_TOLERANCE_MIN
        {
            out.push(format!("toleransi paling lama {MAX_TOLERANCE_MIN} menit"));
        }
        if self.days.iter().all(Option::is_none) {
            out.push("paling sedikit satu hari kerja".into());
        }
        for (i, d) in self.days.iter().enumerate() {
            if let Some(h) = d {
                if h.start >= h.end {
                    out.push(format!(
                        "{}: jam mulai harus sebelum jam selesai",
                        DAY_NAMES[i]
                    ));
                }
            }
        }
        out
    }
}

/// Indonesian weekday names, Monday first.
pub const DAY_NAMES: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];

/// 0 for Monday .. 6 for Sunday.
pub fn weekday_index(w: Weekday) -> usize {
    (w.to_monday_one_offset() - 1) as usize
}

/// What kind of day off a holiday is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HolidayKind {
    /// National holiday (hari libur nasional).
    LiburNasional,
    /// Collective leave (cuti bersama); for ASN not deducted from annual leave in the recap.
    CutiBersama,
    /// A regional holiday set by the local government.
    LiburDaerah,
}

impl HolidayKind {
    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            HolidayKind::LiburNasional => "libur-nasional",
            HolidayKind::CutiBersama => "cuti-bersama",
            HolidayKind::LiburDaerah => "libur-daerah",
        }
    }

    /// Parses a stored name or a tolerant spelling from an imported file.
    pub fn parse(s: &str) -> Option<HolidayKind> {
        let k: String = s
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase();
        match k.as_str() {
            "" | "liburnasional" | "libur" | "nasional" | "national" | "holiday" => {
                Some(HolidayKind::LiburNasional)
            }
            "cutibersama" | "cuti" | "collectiveleave" => Some(HolidayKind::CutiBersama),
            "liburdaerah" | "daerah" | "regional" => Some(HolidayKind::LiburDaerah),
            _ => None,
        }
    }
}

/// A day that is not a working day for anyone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    /// The date (office zone).
    pub day: Date,
    /// Its name ("Hari Raya Idul Fitri 1447 H").
    pub name: String,
    /// National, collective leave or regional.
    pub kind: HolidayKind,
}

/// Parses a holiday list: CSV (`,` `;` or tab) with a header naming a date column (`tanggal`,
/// `date`) and a name column (`nama`, `keterangan`, `name`), optionally a kind column (`jenis`,
/// `kind`). Dates as `YYYY-MM-DD` or `DD/MM/YYYY`. Returns the holidays and, per bad line, its
/// number and reason.
pub fn parse_holiday_csv(bytes: &[u8]) -> (Vec<Holiday>, Vec<(usize, String)>) {
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let text = super::roster_import::decode_text(bytes);
    let delim = super::roster_import::sniff_delimiter(&text);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delim)
        .from_reader(text.as_bytes());
    let mut cols: Option<(usize, usize, Option<usize>)> = None;
    for (i, rec) in rdr.records().enumerate() {
        let line = rec
            .as_ref()
            .ok()
            .and_then(|r| r.position())
            .map(|p| p.line() as usize)
            .unwrap_or(i + 1);
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                bad.push((line, format!("baris tidak terbaca: {e}")));
                continue;
            }
        };
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let Some((dc, nc, kc)) = cols else {
            let norm: Vec<String> = rec
                .iter()
                .map(super::roster_import::normalize_header)
                .collect();
            let find = |names: &[&str]| norm.iter().position(|h| names.contains(&h.as_str()));
            match (
                find(&["tanggal", "date", "tgl", "hari"]),
                find(&["nama", "keterangan", "name", "libur", "namalibur"]),
            ) {
                (Some(d), Some(n)) => cols = Some((d, n, find(&["jenis", "kind", "tipe", "type"]))),
                _ => bad.push((
                    line,
                    "baris judul harus punya kolom tanggal dan nama/keterangan".into(),
                )),
            }
            continue;
        };
        let field = |c: usize| rec.get(c).unwrap_or("").trim();
        let day = match parse_date(field(dc)) {
            Some(d) => d,
            None => {
                bad.push((line, format!("tanggal {:?} tidak valid", field(dc))));
                continue;
            }
        };
        let name = field(nc);
        if name.is_empty() || name.len() > 200 {
            bad.push((
                line,
                "nama hari libur wajib diisi (paling banyak 200 karakter)".into(),
            ));
            continue;
        }
        let kind = match kc.map(field) {
            None => Some(HolidayKind::LiburNasional),
            Some(k) => HolidayKind::parse(k),
        };
        let Some(kind) = kind else {
            bad.push((
                line,
                format!(
                    "jenis {:?} tidak dikenal (libur-nasional, cuti-bersama, libur-daerah)",
                    kc.map(field).unwrap_or("")
                ),
            ));
            continue;
        };
        good.push(Holiday {
            day,
            name: name.to_string(),
            kind,
        });
    }
    (good, bad)
}

/// `YYYY-MM-DD`, `DD/MM/YYYY` or `DD-MM-YYYY`.
pub fn parse_date(s: &str) -> Option<Date> {
    let s = s.trim();
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    let parts: Vec<&str> = s.split(['/', '-', '.']).collect();
    if let [d, m, y] = parts[..] {
        let (d, m, y) = (d.parse().ok()?, m.parse().ok()?, y.parse().ok()?);
        return Date::new(y, m, d).ok();
    }
    None
}

/// Schedules and holidays for a span of dates: answers "is this a working day for this group,
/// and which hours".
#[derive(Debug, Clone)]
pub struct Calendar {
    groups: Vec<ScheduleGroup>,
    default: usize,
    holidays: BTreeMap<Date, Holiday>,
}

impl Calendar {
    /// A calendar from stored groups and holidays. With no groups the built-in
    /// [`ScheduleGroup::reguler`] is used; with no group marked default, the first.
    pub fn new(mut groups: Vec<ScheduleGroup>, holidays: Vec<Holiday>) -> Calendar {
        if groups.is_empty() {
            groups.push(ScheduleGroup::reguler());
        }
        let default = groups.iter().position(|g| g.is_default).unwrap_or(0);
        Calendar {
            groups,
            default,
            holidays: holidays.into_iter().map(|h| (h.day, h)).collect(),
        }
    }

    /// The group called `name`, or the default group when empty or unknown.
    pub fn group(&self, name: &str) -> &ScheduleGroup {
        self.groups
            .iter()
            .find(|g| g.name == name)
            .unwrap_or(&self.groups[self.default])
    }

    /// The default group.
    pub fn default_group(&self) -> &ScheduleGroup {
        &self.groups[self.default]
    }

    /// The holiday on `date`, if any.
    pub fn holiday(&self, date: Date) -> Option<&Holiday> {
        self.holidays.get(&date)
    }

    /// Working hours of `group` on `date`; `None` on its days off and on holidays.
    pub fn hours(&self, group: &ScheduleGroup, date: Date) -> Option<WorkHours> {
        if self.holidays.contains_key(&date) {
            return None;
        }
        group.hours_on(date)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn reguler_friday_is_a_half_day_and_the_weekend_is_off() {
        let g = ScheduleGroup::reguler();
        // 2026-11-20 is a Friday, 2026-11-21 a Saturday.
        let fri = g.hours_on(date(2026, 11, 20)).unwrap();
        assert_eq!(fri.end, Time::constant(11, 30, 0, 0));
        assert!(g.hours_on(date(2026, 11, 21)).is_none());
        assert!(g.problems().is_empty());
    }

    #[test]
    fn a_holiday_is_not_a_working_day_for_any_group() {
        let cal = Calendar::new(
            vec![ScheduleGroup::reguler()],
            vec![Holiday {
                day: date(2026, 8, 17),
                name: "HUT RI".into(),
                kind: HolidayKind::LiburNasional,
            }],
        );
        let g = cal.group("unknown-group");
        assert_eq!(g.name, "reguler");
        assert!(cal.hours(g, date(2026, 8, 17)).is_none());
        assert!(cal.hours(g, date(2026, 8, 18)).is_some());
    }

    #[test]
    fn holiday_csv_accepts_semicolons_and_day_first_dates_and_reports_bad_lines() {
        let csv = "Tanggal;Keterangan;Jenis\n17/08/2026;HUT RI;libur nasional\n31/02/2026;Salah;\n2026-12-24;Cuti bersama Natal;Cuti Bersama\n2026-12-26;X;entah\n";
        let (good, bad) = parse_holiday_csv(csv.as_bytes());
        assert_eq!(good.len(), 2);
        assert_eq!(good[0].day, date(2026, 8, 17));
        assert_eq!(good[1].kind, HolidayKind::CutiBersama);
        assert_eq!(bad.iter().map(|b| b.0).collect::<Vec<_>>(), vec![3, 5]);
    }

    #[test]
    fn a_group_without_working_days_or_with_reversed_hours_is_refused() {
        let mut g = ScheduleGroup::reguler();
        g.days[0] = Some(WorkHours {
            start: Time::constant(16, 0, 0, 0),
            end: Time::constant(7, 30, 0, 0),
        });
        assert_eq!(g.problems().len(), 1);
        g.days = [None; 7];
        assert!(!g.problems().is_empty());
    }
}
