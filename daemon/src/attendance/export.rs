//! The recap as files: an XLSX workbook (rust_xlsxwriter) with a sheet per employee recap, per
//! unit and per day, headers in Indonesian, number formats and frozen headers; and CSV tables with
//! the same headers and numbers. `hadir recap` and the web download both use these functions.

use rust_xlsxwriter::{Color, ExcelDateTime, Format, FormatAlign, Workbook, Worksheet, XlsxError};
use serde::Serialize;

use super::recap::{Recap, Totals};
use super::schedule::{weekday_index, DAY_NAMES};
use super::AttendanceError;

/// Headers of the count columns, shared by the employee and unit tables.
pub const COUNT_HEADERS: [&str; 14] = [
    "Hari Kerja",
    "Hadir",
    "WFH",
    "Dinas Luar",
    "Izin",
    "Sakit",
    "Cuti",
    "Tanpa Keterangan",
    "Terlambat (kali)",
    "Terlambat (menit)",
    "Pulang Cepat (kali)",
    "Pulang Cepat (menit)",
    "Tidak Absen Masuk",
    "Tidak Absen Pulang",
];

/// Header of the attendance rate column.
pub const RATE_HEADER: &str = "Persentase Kehadiran (%)";

/// Headers of the employee table before the counts.
pub const EMPLOYEE_HEADERS: [&str; 6] = [
    "No",
    "NIP",
    "Nama",
    "Unit Kerja",
    "Jabatan",
    "Kelompok Jadwal",
];

/// Headers of the unit table before the counts.
pub const UNIT_HEADERS: [&str; 3] = ["No", "Unit Kerja", "Jumlah Pegawai"];

/// Headers of the daily table.
pub const DAY_HEADERS: [&str; 12] = [
    "NIP",
    "Nama",
    "Unit Kerja",
    "Tanggal",
    "Hari",
    "Status",
    "Jam Masuk",
    "Jam Pulang",
    "Terlambat (menit)",
    "Pulang Cepat (menit)",
    "WFH",
    "Keterangan",
];

/// Sheet names in the workbook.
pub const SHEETS: [&str; 4] = [
    "Rekap Pegawai",
    "Rekap Unit",
    "Rincian Harian",
    "Keterangan",
];

/// The count columns of a [`Totals`], in [`COUNT_HEADERS`] order.
pub fn counts(t: &Totals) -> [u32; 14] {
    [
        t.working_days,
        t.present,
        t.wfh,
        t.dinas_luar,
        t.izin,
        t.sakit,
        t.cuti,
        t.tanpa_keterangan,
        t.late_count,
        t.late_minutes,
        t.early_count,
        t.early_minutes,
        t.missing_in,
        t.missing_out,
    ]
}

/// Which table a CSV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CsvTable {
    /// One row per employee (the default).
    Pegawai,
    /// One row per unit.
    Unit,
    /// One row per employee-day.
    Harian,
}

impl CsvTable {
    /// Parses `pegawai`, `unit` or `harian`.
    pub fn parse(s: &str) -> Option<CsvTable> {
        match s {
            "pegawai" | "employees" => Some(CsvTable::Pegawai),
            "unit" | "units" => Some(CsvTable::Unit),
            "harian" | "days" => Some(CsvTable::Harian),
            _ => None,
        }
    }
}

fn rate_text(r: Option<f64>) -> String {
    r.map(|r| format!("{r:.2}")).unwrap_or_default()
}

/// The recap as CSV (comma-separated, UTF-8, header row): the rate as `88.89`, times `HH:MM`,
/// dates `YYYY-MM-DD`.
pub fn csv(recap: &Recap, table: CsvTable) -> Result<Vec<u8>, AttendanceError> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(64 * 1024));
    let err = |e: csv::Error| AttendanceError::Invalid(format!("CSV: {e}"));
    match table {
        CsvTable::Pegawai => {
            let mut h: Vec<&str> = EMPLOYEE_HEADERS.to_vec();
            h.extend(COUNT_HEADERS);
            h.push(RATE_HEADER);
            w.write_record(&h).map_err(err)?;
            for (i, e) in recap.employees.iter().enumerate() {
                let mut row = vec![
                    (i + 1).to_string(),
                    e.nip.clone(),
                    e.name.clone(),
                    e.unit.clone(),
                    e.position.clone(),
                    e.schedule_group.clone(),
                ];
                row.extend(counts(&e.totals).iter().map(u32::to_string));
                row.push(rate_text(e.totals.rate_pct));
                w.write_record(&row).map_err(err)?;
            }
        }
        CsvTable::Unit => {
            let mut h: Vec<&str> = UNIT_HEADERS.to_vec();
            h.extend(COUNT_HEADERS);
            h.push(RATE_HEADER);
            w.write_record(&h).map_err(err)?;
            for (i, u) in recap.units.iter().enumerate() {
                let mut row = vec![(i + 1).to_string(), u.unit.clone(), u.employees.to_string()];
                row.extend(counts(&u.totals).iter().map(u32::to_string));
                row.push(rate_text(u.totals.rate_pct));
                w.write_record(&row).map_err(err)?;
            }
        }
        CsvTable::Harian => {
            w.write_record(DAY_HEADERS).map_err(err)?;
            for e in &recap.employees {
                for d in &e.days {
                    let t = |t: Option<jiff::civil::Time>| {
                        t.map(|t| t.strftime("%H:%M").to_string())
                            .unwrap_or_default()
                    };
                    w.write_record([
                        e.nip.as_str(),
                        &e.name,
                        &e.unit,
                        &d.date.to_string(),
                        DAY_NAMES[weekday_index(d.date.weekday())],
                        d.status.label(),
                        &t(d.first_in),
                        &t(d.last_out),
                        &d.late_min.to_string(),
                        &d.early_min.to_string(),
                        if d.wfh { "Ya" } else { "" },
                        d.holiday.as_deref().unwrap_or(""),
                    ])
                    .map_err(err)?;
                }
            }
        }
    }
    w.into_inner()
        .map_err(|e| AttendanceError::Invalid(format!("CSV: {e}")))
}

struct Formats {
    header: Format,
    int: Format,
    text: Format,
    pct: Format,
    date: Format,
    time: Format,
    bold: Format,
}

fn formats() -> Formats {
    Formats {
        header: Format::new()
            .set_bold()
            .set_text_wrap()
            .set_align(FormatAlign::Center)
            .set_align(FormatAlign::VerticalCenter)
            .set_background_color(Color::RGB(0xD9E1F2))
            .set_border(rust_xlsxwriter::FormatBorder::Thin),
        int: Format::new().set_num_format("#,##0"),
        text: Format::new().set_num_format("@"),
        pct: Format::new().set_num_format("0.00%"),
        date: Format::new().set_num_format("dd/mm/yyyy"),
        time: Format::new().set_num_format("hh:mm"),
        bold: Format::new().set_bold(),
    }
}

fn header(ws: &mut Worksheet, f: &Formats, cols: &[&str]) -> Result<(), XlsxError> {
    ws.set_row_height(0, 32)?;
    for (c, h) in cols.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &f.header)?;
    }
    Ok(())
}

fn write_counts(
    ws: &mut Worksheet,
    f: &Formats,
    row: u32,
    col: u16,
    t: &Totals,
) -> Result<(), XlsxError> {
    for (i, n) in counts(t).iter().enumerate() {
        ws.write_number_with_format(row, col + i as u16, f64::from(*n), &f.int)?;
    }
    let rc = col + COUNT_HEADERS.len() as u16;
    match t.rate_pct {
        Some(r) => ws.write_number_with_format(row, rc, r / 100.0, &f.pct)?,
        None => ws.write_string(row, rc, "-")?,
    };
    Ok(())
}

fn xlsx_inner(recap: &Recap) -> Result<Vec<u8>, XlsxError> {
    let f = formats();
    let mut wb = Workbook::new();
    let count_widths = |ws: &mut Worksheet, from: u16| -> Result<(), XlsxError> {
        for i in 0..=COUNT_HEADERS.len() as u16 {
            ws.set_column_width(from + i, 11)?;
        }
        Ok(())
    };

    // Rekap Pegawai.
    {
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name(SHEETS[0])?;
        for (c, w) in [5.0, 21.0, 30.0, 24.0, 24.0, 14.0].iter().enumerate() {
            ws.set_column_width(c as u16, *w)?;
        }
        count_widths(ws, EMPLOYEE_HEADERS.len() as u16)?;
        ws.set_freeze_panes(1, 3)?;
        let mut h: Vec<&str> = EMPLOYEE_HEADERS.to_vec();
        h.extend(COUNT_HEADERS);
        h.push(RATE_HEADER);
        header(ws, &f, &h)?;
        for (i, e) in recap.employees.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_number_with_format(r, 0, (i + 1) as f64, &f.int)?;
            ws.write_string_with_format(r, 1, &e.nip, &f.text)?;
            ws.write_string(r, 2, &e.name)?;
            ws.write_string(r, 3, &e.unit)?;
            ws.write_string(r, 4, &e.position)?;
            ws.write_string(r, 5, &e.schedule_group)?;
            write_counts(ws, &f, r, EMPLOYEE_HEADERS.len() as u16, &e.totals)?;
        }
        if !recap.employees.is_empty() {
            ws.autofilter(0, 0, recap.employees.len() as u32, h.len() as u16 - 1)?;
        }
    }

    // Rekap Unit.
    {
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name(SHEETS[1])?;
        for (c, w) in [5.0, 30.0, 10.0].iter().enumerate() {
            ws.set_column_width(c as u16, *w)?;
        }
        count_widths(ws, UNIT_HEADERS.len() as u16)?;
        ws.set_freeze_panes(1, 2)?;
        let mut h: Vec<&str> = UNIT_HEADERS.to_vec();
        h.extend(COUNT_HEADERS);
        h.push(RATE_HEADER);
        header(ws, &f, &h)?;
        let mut r = 1;
        for (i, u) in recap.units.iter().enumerate() {
            ws.write_number_with_format(r, 0, (i + 1) as f64, &f.int)?;
            ws.write_string(r, 1, &u.unit)?;
            ws.write_number_with_format(r, 2, f64::from(u.employees), &f.int)?;
            write_counts(ws, &f, r, UNIT_HEADERS.len() as u16, &u.totals)?;
            r += 1;
        }
        ws.write_string_with_format(r, 1, "Jumlah", &f.bold)?;
        ws.write_number_with_format(r, 2, recap.employees.len() as f64, &f.int)?;
        write_counts(ws, &f, r, UNIT_HEADERS.len() as u16, &recap.overall)?;
    }

    // Rincian Harian.
    {
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name(SHEETS[2])?;
        for (c, w) in [
            21.0, 30.0, 24.0, 11.0, 8.0, 16.0, 10.0, 10.0, 11.0, 11.0, 6.0, 36.0,
        ]
        .iter()
        .enumerate()
        {
            ws.set_column_width(c as u16, *w)?;
        }
        ws.set_freeze_panes(1, 2)?;
        header(ws, &f, &DAY_HEADERS)?;
        let mut r = 1u32;
        for e in &recap.employees {
            for d in &e.days {
                ws.write_string_with_format(r, 0, &e.nip, &f.text)?;
                ws.write_string(r, 1, &e.name)?;
                ws.write_string(r, 2, &e.unit)?;
                let date = ExcelDateTime::from_ymd(
                    d.date.year() as u16,
                    d.date.month() as u8,
                    d.date.day() as u8,
                )?;
                ws.write_datetime_with_format(r, 3, &date, &f.date)?;
                ws.write_string(r, 4, DAY_NAMES[weekday_index(d.date.weekday())])?;
                ws.write_string(r, 5, d.status.label())?;
                for (c, t) in [(6, d.first_in), (7, d.last_out)] {
                    if let Some(t) = t {
                        let t = ExcelDateTime::from_hms(
                            t.hour() as u16,
                            t.minute() as u8,
                            t.second() as u8,
                        )?;
                        ws.write_datetime_with_format(r, c, &t, &f.time)?;
                    }
                }
                if d.status.is_working() {
                    ws.write_number_with_format(r, 8, f64::from(d.late_min), &f.int)?;
                    ws.write_number_with_format(r, 9, f64::from(d.early_min), &f.int)?;
                }
                if d.wfh {
                    ws.write_string(r, 10, "Ya")?;
                }
                if let Some(h) = &d.holiday {
                    ws.write_string(r, 11, h)?;
                } else if d.missing_in || d.missing_out {
                    let s = match (d.missing_in, d.missing_out) {
                        (true, true) => "Tidak absen masuk dan pulang",
                        (true, false) => "Tidak absen masuk",
                        _ => "Tidak absen pulang",
                    };
                    ws.write_string(r, 11, s)?;
                }
                r += 1;
            }
        }
    }

    // Keterangan.
    {
        let ws = wb.add_worksheet_with_constant_memory();
        ws.set_name(SHEETS[3])?;
        ws.set_column_width(0, 24)?;
        ws.set_column_width(1, 90)?;
        let rows: Vec<(String, String)> = vec![
            ("Kantor".into(), recap.office.clone()),
            ("Bulan".into(), recap.month.to_string()),
            ("Dihitung sampai".into(), recap.as_of.to_string()),
            ("Jumlah pegawai".into(), recap.employees.len().to_string()),
            (
                "Persentase kehadiran".into(),
                "(Hadir + Dinas Luar) ÷ (Hari Kerja − Cuti) × 100; izin, sakit dan tanpa keterangan mengurangi persentase".into(),
            ),
            (
                "Hari kerja".into(),
                "Hari dengan jam kerja menurut kelompok jadwal, bukan hari libur nasional, cuti bersama atau libur daerah".into(),
            ),
            (
                "Terlambat / pulang cepat".into(),
                "Dihitung dalam menit penuh dari jam mulai / sampai jam selesai, setelah toleransi kelompok jadwal".into(),
            ),
        ];
        let mut r = 0;
        for (k, v) in &rows {
            ws.write_string_with_format(r, 0, k, &f.bold)?;
            ws.write_string(r, 1, v)?;
            r += 1;
        }
        r += 1;
        ws.write_string_with_format(r, 0, "Hari libur", &f.bold)?;
        r += 1;
        for (d, name) in &recap.holidays {
            let date = ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)?;
            ws.write_datetime_with_format(r, 0, &date, &f.date)?;
            ws.write_string(r, 1, name)?;
            r += 1;
        }
    }
    wb.save_to_buffer()
}

/// The recap as an XLSX workbook: sheets "Rekap Pegawai", "Rekap Unit", "Rincian Harian" and
/// "Keterangan". Counts are numbers (`#,##0`), the rate a percentage (`0.00%`, stored as a
/// fraction), NIPs text, dates `dd/mm/yyyy`, times `hh:mm`; the header row is frozen.
pub fn xlsx(recap: &Recap) -> Result<Vec<u8>, AttendanceError> {
    xlsx_inner(recap).map_err(|e| AttendanceError::Xlsx(e.to_string()))
}
