//! Language choice (Bahasa Indonesia first, English on request) and Indonesian date formats in
//! the office's zone: "Senin, 23 November 2026", 24-hour times, WIB/WITA/WIT.

use axum::http::HeaderMap;

/// Cookie that remembers the language.
pub const LANG_COOKIE: &str = "hadir_lang";

/// The page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Bahasa Indonesia (default).
    Id,
    /// English.
    En,
}

impl Lang {
    /// `?lang=` wins, then the cookie, then Indonesian.
    pub fn pick(query: Option<&str>, headers: &HeaderMap) -> Lang {
        match query {
            Some("en") => return Lang::En,
            Some("id") => return Lang::Id,
            _ => {}
        }
        match super::auth::cookie(headers, LANG_COOKIE).as_deref() {
            Some("en") => Lang::En,
            _ => Lang::Id,
        }
    }

    /// `id` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Id => "id",
            Lang::En => "en",
        }
    }

    /// The Indonesian text, or the English one.
    pub fn t(self, id: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Id => id,
            Lang::En => en,
        }
    }
}

const DAYS_ID: [&str; 7] = [
    "Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu",
];
const DAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS_ID: [&str; 12] = [
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// "Senin, 23 November 2026" / "Monday, 23 November 2026".
pub fn long_date(lang: Lang, d: jiff::civil::Date) -> String {
    let wd = d.weekday().to_monday_zero_offset() as usize;
    let m = (d.month() as usize).saturating_sub(1).min(11);
    let (days, months) = match lang {
        Lang::Id => (&DAYS_ID, &MONTHS_ID),
        Lang::En => (&DAYS_EN, &MONTHS_EN),
    };
    format!("{}, {} {} {}", days[wd], d.day(), months[m], d.year())
}

/// "November 2026".
pub fn month_name(lang: Lang, year: i16, month: i8) -> String {
    let m = (month as usize).saturating_sub(1).min(11);
    match lang {
        Lang::Id => format!("{} {year}", MONTHS_ID[m]),
        Lang::En => format!("{} {year}", MONTHS_EN[m]),
    }
}

/// Short weekday name ("Sen", "Mon").
pub fn short_weekday(lang: Lang, d: jiff::civil::Date) -> &'static str {
    let wd = d.weekday().to_monday_zero_offset() as usize;
    match lang {
        Lang::Id => ["Sen", "Sel", "Rab", "Kam", "Jum", "Sab", "Min"][wd],
        Lang::En => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][wd],
    }
}

/// WIB / WITA / WIT for the Indonesian zones, else the IANA name.
pub fn zone_label(tz: &str) -> &str {
    match tz {
        "Asia/Jakarta" | "Asia/Pontianak" => "WIB",
        "Asia/Makassar" => "WITA",
        "Asia/Jayapura" => "WIT",
        other => other,
    }
}

/// The office zone (UTC when the name is unknown, which validation prevents).
pub fn office_zone(tz: &str) -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get(tz).unwrap_or(jiff::tz::TimeZone::UTC)
}

/// Today in the office zone.
pub fn today(tz: &str) -> jiff::civil::Date {
    jiff::Timestamp::now().to_zoned(office_zone(tz)).date()
}

/// A stored UTC time as "23/11/2026 07:29 WITA" in the office zone; "—" when absent.
pub fn utc_to_local(utc: Option<&str>, tz: &str) -> String {
    match utc.and_then(|u| u.parse::<jiff::Timestamp>().ok()) {
        Some(t) => {
            let z = t.to_zoned(office_zone(tz));
            format!("{} {}", z.strftime("%d/%m/%Y %H:%M"), zone_label(tz))
        }
        None => "—".into(),
    }
}

/// "07:29" from a stored local time `YYYY-MM-DDTHH:MM:SS`.
pub fn hhmm(local: &str) -> &str {
    local.get(11..16).unwrap_or(local)
}

/// Bytes as "1.2 GiB" / "340 MiB".
pub fn bytes(n: u64) -> String {
    const GIB: f64 = (1u64 << 30) as f64;
    const MIB: f64 = (1u64 << 20) as f64;
    let f = n as f64;
    if f >= GIB {
        format!("{:.1} GiB", f / GIB)
    } else {
        format!("{:.0} MiB", (f / MIB).ceil())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_the_indonesian_way() {
        let d = jiff::civil::date(2026, 11, 23);
        assert_eq!(long_date(Lang::Id, d), "Senin, 23 November 2026");
        assert_eq!(long_date(Lang::En, d), "Monday, 23 November 2026");
        assert_eq!(month_name(Lang::Id, 2026, 8), "Agustus 2026");
        assert_eq!(zone_label("Asia/Makassar"), "WITA");
        assert_eq!(
            utc_to_local(Some("2026-11-23T23:30:00Z"), "Asia/Jayapura"),
            "24/11/2026 08:30 WIT"
        );
        assert_eq!(hhmm("2026-11-23T07:29:05"), "07:29");
    }
}
