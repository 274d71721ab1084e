//! Roster import from a SIMPEG export (CSV or XLSX/XLS/ODS via calamine): tolerant header
//! matching, NIP validation, a report per row with line numbers and reasons, then one upsert.
//!
//! Header matching ignores case, spaces and punctuation; the header row may follow title rows.
//! Columns: NIP (`NIP`, `NIP Baru`; never `NIP Lama`), name (`Nama`, `Nama Pegawai`, plus
//! `Gelar Depan` / `Gelar Belakang` when present), unit (`Bidang`, `Sub Unit Kerja`, `Unit
//! Kerja`, `Unit Organisasi` — the most specific present wins), position (`Jabatan`, `Nama
//! Jabatan`) and schedule group (`Kelompok Jadwal`, `Jadwal`). Rows with errors are skipped and
//! reported; the others are applied.

use std::collections::HashMap;
use std::io::Cursor;

use calamine::{Data, Reader};
use serde::Serialize;

use super::AttendanceError;
use crate::store::{RosterRow, Store};

/// Most data rows accepted in one file.
pub const MAX_ROWS: usize = 50_000;

/// A problem with one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowIssue {
    /// Line (CSV) or row number (spreadsheet), 1-based.
    pub line: usize,
    /// The NIP as written, if any.
    pub nip: String,
    /// What is wrong, in Indonesian.
    pub reasons: Vec<String>,
    /// True when the row was not imported; false for a warning.
    pub skipped: bool,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImportReport {
    /// `csv` or `xlsx` (also for xls/ods).
    pub format: String,
    /// Line of the header row.
    pub header_line: usize,
    /// Recognised columns: (field, header as written).
    pub columns: Vec<(String, String)>,
    /// Data rows read (empty rows not counted).
    pub rows: usize,
    /// New employees.
    pub inserted: usize,
    /// Employees updated.
    pub updated: usize,
    /// Employees already as in the file.
    pub unchanged: usize,
    /// Rows skipped because of errors.
    pub skipped: usize,
    /// Errors and warnings per row, in line order.
    pub issues: Vec<RowIssue>,
    /// Nothing was written.
    pub dry_run: bool,
}

/// Text of a file: UTF-8 (BOM stripped), else Windows-1252 as SIMPEG exports on Windows are.
pub fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| cp1252(b)).collect(),
    }
}

fn cp1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[(b - 0x80) as usize],
        _ => char::from(b),
    }
}

/// The field separator of a CSV text: `,`, `;` or tab, whichever the first line has most of.
pub fn sniff_delimiter(text: &str) -> u8 {
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| first.bytes().filter(|b| b == d).count())
        .unwrap_or(b',')
}

/// A header reduced to lowercase letters and digits ("Unit Kerja / Bidang" → "unitkerjabidang").
pub fn normalize_header(h: &str) -> String {
    h.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Checks an 18-digit NIP: digits 1–8 the birth date (YYYYMMDD), 9–14 the TMT (YYYYMM), 15 the
/// sex (1 or 2), 16–18 a sequence. Returns errors (the NIP is unusable) and warnings (the TMT
/// looks odd, which PPPK and old records sometimes do).
pub fn check_nip(nip: &str) -> (Vec<String>, Vec<String>) {
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    if nip.len() != 18 || !nip.bytes().all(|b| b.is_ascii_digit()) {
        errors.push(format!(
            "NIP harus 18 angka (ada {} karakter)",
            nip.chars().count()
        ));
        return (errors, warnings);
    }
    let num = |r: std::ops::Range<usize>| nip[r].parse::<i32>().unwrap_or(0);
    let (by, bm, bd) = (num(0..4), num(4..6), num(6..8));
    let birth_ok = (1940..=2010).contains(&by)
        && jiff::civil::Date::new(by as i16, bm as i8, bd as i8).is_ok();
    if !birth_ok {
        errors.push(format!("tanggal lahir di NIP ({}) tidak valid", &nip[0..8]));
    }
    let (ty, tm) = (num(8..12), num(12..14));
    let this_year = i32::from(jiff::Zoned::now().year());
    if !(1960..=this_year + 1).contains(&ty) || !((1..=12).contains(&tm) || tm == 21) {
        warnings.push(format!("TMT di NIP ({}) tidak lazim", &nip[8..14]));
    } else if birth_ok && ty < by + 15 {
        warnings.push(format!(
            "TMT di NIP ({ty}) kurang dari 15 tahun setelah tahun lahir ({by})"
        ));
    }
    if !matches!(&nip[14..15], "1" | "2") {
        errors.push(format!(
            "digit ke-15 NIP (jenis kelamin) harus 1 atau 2, bukan {}",
            &nip[14..15]
        ));
    }
    (errors, warnings)
}

/// One cell as read: its text, and whether it was a number that had lost digits.
#[derive(Debug, Clone, Default)]
struct Cell {
    text: String,
    lossy_number: bool,
}

fn cell_from(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::default(),
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => Cell {
            text: s.trim().to_string(),
            lossy_number: false,
        },
        Data::Int(i) => Cell {
            text: i.to_string(),
            lossy_number: false,
        },
        Data::Float(f) => {
            // Above 2^53 a float cannot hold every integer: an 18-digit NIP typed as a number
            // has already lost its last digits.
            if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                Cell {
                    text: format!("{}", *f as i64),
                    lossy_number: false,
                }
            } else {
                Cell {
                    text: format!("{f}"),
                    lossy_number: f.fract() == 0.0,
                }
            }
        }
        Data::Bool(b) => Cell {
            text: b.to_string(),
            lossy_number: false,
        },
        Data::DateTime(dt) => Cell {
            text: dt.to_string(),
            lossy_number: false,
        },
        Data::Error(e) => Cell {
            text: format!("#{e:?}"),
            lossy_number: false,
        },
    }
}

/// Rows of a file with their line numbers.
type Table = Vec<(usize, Vec<Cell>)>;

fn read_csv(bytes: &[u8]) -> Result<Table, AttendanceError> {
    let text = decode_text(bytes);
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(sniff_delimiter(&text))
        .from_reader(text.as_bytes());
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.map_err(|e| AttendanceError::Invalid(format!("CSV tidak terbaca: {e}")))?;
        let line = rec.position().map(|p| p.line() as usize).unwrap_or(0);
        let cells = rec
            .iter()
            .map(|s| {
                let t = s.trim();
                // "1.98703E+17": a NIP that went through a number in a spreadsheet.
                let lossy = t.contains(['E', 'e'])
                    && t.parse::<f64>().is_ok()
                    && t.bytes().filter(u8::is_ascii_digit).count() < 18;
                Cell {
                    text: t.to_string(),
                    lossy_number: lossy,
                }
            })
            .collect();
        out.push((line, cells));
        if out.len() > MAX_ROWS + 50 {
            return Err(AttendanceError::Invalid(format!(
                "berkas terlalu besar: paling banyak {MAX_ROWS} baris"
            )));
        }
    }
    Ok(out)
}

fn read_sheet(bytes: Vec<u8>) -> Result<Table, AttendanceError> {
    let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| AttendanceError::Invalid(format!("lembar kerja tidak terbaca: {e}")))?;
    let range = wb
        .worksheet_range_at(0)
        .ok_or_else(|| AttendanceError::Invalid("lembar kerja kosong".into()))?
        .map_err(|e| AttendanceError::Invalid(format!("lembar kerja tidak terbaca: {e}")))?;
    if range.height() > MAX_ROWS + 50 {
        return Err(AttendanceError::Invalid(format!(
            "berkas terlalu besar: paling banyak {MAX_ROWS} baris"
        )));
    }
    let (r0, _) = range.start().unwrap_or((0, 0));
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, row)| (r0 as usize + i + 1, row.iter().map(cell_from).collect()))
        .collect())
}

#[derive(Debug, Default)]
struct Columns {
    nip: usize,
    name: usize,
    front: Option<usize>,
    back: Option<usize>,
    unit: Option<usize>,
    position: Option<usize>,
    group: Option<usize>,
}

fn find_columns(cells: &[Cell]) -> Option<(Columns, Vec<(String, String)>)> {
    let norm: Vec<String> = cells.iter().map(|c| normalize_header(&c.text)).collect();
    let find = |names: &[&str]| names.iter().find_map(|n| norm.iter().position(|h| h == n));
    let nip = find(&["nip", "nipbaru", "nip18", "nipnrp", "nomorindukpegawai"])?;
    let name = find(&["nama", "namapegawai", "namalengkap", "name", "namaasn"])?;
    let c = Columns {
        nip,
        name,
        front: find(&["gelardepan"]),
        back: find(&["gelarbelakang"]),
        unit: find(&[
            "bidang",
            "subbidang",
            "subunitkerja",
            "subunit",
            "unitkerjabidang",
            "unitkerja",
            "unit",
            "unitorganisasi",
            "satuankerja",
        ]),
        position: find(&["jabatan", "namajabatan", "position"]),
        group: find(&[
            "kelompokjadwal",
            "jadwal",
            "grupjadwal",
            "schedulegroup",
            "jadwalkerja",
        ]),
    };
    let mut named = vec![
        ("nip".to_string(), cells[c.nip].text.clone()),
        ("nama".to_string(), cells[c.name].text.clone()),
    ];
    for (field, col) in [
        ("gelar_depan", c.front),
        ("gelar_belakang", c.back),
        ("unit", c.unit),
        ("jabatan", c.position),
        ("kelompok_jadwal", c.group),
    ] {
        if let Some(i) = col {
            named.push((field.to_string(), cells[i].text.clone()));
        }
    }
    Some((c, named))
}

/// Validated rows, the per-row problems, and the report's header facts.
#[derive(Debug, Default)]
pub struct Parsed {
    /// Rows that can be applied.
    pub rows: Vec<RosterRow>,
    /// Errors (skipped rows) and warnings.
    pub issues: Vec<RowIssue>,
    /// Line of the header row.
    pub header_line: usize,
    /// Recognised columns: (field, header as written).
    pub columns: Vec<(String, String)>,
    /// Data rows read.
    pub data_rows: usize,
    /// `csv` or `xlsx`.
    pub format: String,
}

fn is_spreadsheet(bytes: &[u8], filename: &str) -> bool {
    let lower = filename.to_lowercase();
    if [".xlsx", ".xlsm", ".xls", ".ods", ".xlsb"]
        .iter()
        .any(|e| lower.ends_with(e))
    {
        return true;
    }
    // ZIP (xlsx/ods) or OLE2 (xls) magic.
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0])
}

/// Reads and validates a roster file (type from the name, else from its first bytes). Schedule
/// group names are matched case-insensitively against `groups`.
pub fn parse(bytes: Vec<u8>, filename: &str, groups: &[String]) -> Result<Parsed, AttendanceError> {
    let spreadsheet = is_spreadsheet(&bytes, filename);
    let table = if spreadsheet {
        read_sheet(bytes)?
    } else {
        read_csv(&bytes)?
    };
    let mut p = Parsed {
        format: if spreadsheet { "xlsx" } else { "csv" }.into(),
        ..Parsed::default()
    };
    let mut rows = table.into_iter();
    let mut cols = None;
    for (line, cells) in rows.by_ref().take(20) {
        if let Some((c, named)) = find_columns(&cells) {
            p.header_line = line;
            p.columns = named;
            cols = Some(c);
            break;
        }
    }
    let Some(c) = cols else {
        return Err(AttendanceError::Invalid(
            "baris judul tidak ditemukan: perlu kolom NIP dan Nama (dalam 20 baris pertama)".into(),
        ));
    };
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, cells) in rows {
        if cells.iter().all(|c| c.text.is_empty()) {
            continue;
        }
        p.data_rows += 1;
        if p.data_rows > MAX_ROWS {
            return Err(AttendanceError::Invalid(format!(
                "berkas terlalu besar: paling banyak {MAX_ROWS} baris data"
            )));
        }
        let get = |i: Option<usize>| {
            i.and_then(|i| cells.get(i))
                .map(|c| c.text.trim().to_string())
                .unwrap_or_default()
        };
        let raw_nip = get(Some(c.nip));
        let nip: String = raw_nip
            .trim_start_matches('\'')
            .chars()
            .filter(|ch| !ch.is_whitespace() && *ch != '.' && *ch != '-')
            .collect();
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        if cells.get(c.nip).is_some_and(|x| x.lossy_number) {
            errors.push(
                "NIP tersimpan sebagai angka sehingga digit terakhirnya hilang; format kolom NIP sebagai Teks lalu ekspor ulang"
                    .into(),
            );
        } else if nip.is_empty() {
            errors.push("NIP kosong".into());
        } else {
            let (e, w) = check_nip(&nip);
            errors.extend(e);
            warnings.extend(w);
        }
        let mut name = get(Some(c.name));
        let front = get(c.front);
        let back = get(c.back);
        if !front.is_empty() && !name.is_empty() {
            name = format!("{front} {name}");
        }
        if !back.is_empty() && !name.is_empty() {
            name = format!("{name}, {back}");
        }
        if name.is_empty() {
            errors.push("Nama kosong".into());
        } else if name.chars().count() > 200 {
            errors.push("Nama lebih dari 200 karakter".into());
        }
        let unit = get(c.unit);
        let position = get(c.position);
        for (what, v) in [("Unit kerja", &unit), ("Jabatan", &position)] {
            if v.chars().count() > 200 {
                errors.push(format!("{what} lebih dari 200 karakter"));
            }
        }
        let group_text = get(c.group);
        let schedule_group = if group_text.is_empty() {
            None
        } else {
            match groups.iter().find(|g| g.eq_ignore_ascii_case(&group_text)) {
                Some(g) => Some(g.clone()),
                None => {
                    errors.push(format!(
                        "kelompok jadwal {group_text:?} tidak ada (ada: {})",
                        groups.join(", ")
                    ));
                    None
                }
            }
        };
        if errors.is_empty() {
            if let Some(first) = seen.get(&nip) {
                errors.push(format!("NIP {nip} sudah ada di baris {first}"));
            }
        }
        let skipped = !errors.is_empty();
        if skipped || !warnings.is_empty() {
            errors.extend(warnings);
            p.issues.push(RowIssue {
                line,
                nip: raw_nip.clone(),
                reasons: errors,
                skipped,
            });
        }
        if skipped {
            continue;
        }
        seen.insert(nip.clone(), line);
        p.rows.push(RosterRow {
            line,
            nip,
            name,
            unit,
            position,
            schedule_group,
        });
    }
    Ok(p)
}

/// Imports an uploaded roster (`filename` decides CSV or spreadsheet, else the bytes do):
/// validates every row, applies the good ones in one transaction with an audit entry by `actor`,
/// and reports per row. With `dry_run` nothing is written (a preview). `Invalid` when the file
/// cannot be read or has no NIP/Nama header.
pub async fn import_bytes(
    store: &Store,
    bytes: Vec<u8>,
    filename: &str,
    actor: &str,
    dry_run: bool,
) -> Result<ImportReport, AttendanceError> {
    let groups: Vec<String> = store
        .schedule_groups()
        .await?
        .into_iter()
        .map(|g| g.name)
        .collect();
    let name = filename.to_string();
    let parsed = tokio::task::spawn_blocking(move || parse(bytes, &name, &groups))
        .await
        .map_err(|e| AttendanceError::Invalid(format!("import stopped: {e}")))??;
    let applied = store
        .import_roster(
            parsed.rows,
            filename.to_string(),
            actor.to_string(),
            dry_run,
        )
        .await?;
    let mut issues = parsed.issues;
    for (line, nip, g) in applied.unknown_groups {
        issues.push(RowIssue {
            line,
            nip,
            reasons: vec![format!("kelompok jadwal {g:?} tidak ada")],
            skipped: true,
        });
    }
    issues.sort_by_key(|i| i.line);
    Ok(ImportReport {
        format: parsed.format,
        header_line: parsed.header_line,
        columns: parsed.columns,
        rows: parsed.data_rows,
        inserted: applied.inserted,
        updated: applied.updated,
        unchanged: applied.unchanged,
        skipped: issues.iter().filter(|i| i.skipped).count(),
        issues,
        dry_run,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_well_formed_nip_passes_and_a_bad_birth_date_fails() {
        assert_eq!(check_nip("198703152010011002"), (vec![], vec![]));
        let (e, _) = check_nip("198713352010011002");
        assert_eq!(e.len(), 1, "{e:?}");
        let (e, _) = check_nip("19870315201001100");
        assert!(e[0].contains("18 angka"));
        let (e, _) = check_nip("198703152010013002");
        assert!(e[0].contains("jenis kelamin"));
    }

    #[test]
    fn an_odd_tmt_is_a_warning_not_an_error() {
        let (e, w) = check_nip("198703152010151002");
        assert!(e.is_empty());
        assert_eq!(w.len(), 1);
    }

    #[test]
    fn headers_are_found_below_title_rows_with_semicolons_and_titles_are_joined() {
        let csv = "DAFTAR PEGAWAI;;;\nDinas Contoh;;;\nNo;NIP Baru;NIP Lama;Gelar Depan;Nama;Gelar Belakang;Bidang;Jabatan\n\
                   1;'19870315 201001 1 002;123456789;dr.;Siti Aminah;M.Kes;Pelayanan;Kepala Seksi\n";
        let p = parse(csv.as_bytes().to_vec(), "pegawai.csv", &["reguler".into()]).unwrap();
        assert_eq!(p.header_line, 3);
        assert!(p.issues.is_empty(), "{:?}", p.issues);
        assert_eq!(p.rows[0].nip, "198703152010011002");
        assert_eq!(p.rows[0].name, "dr. Siti Aminah, M.Kes");
        assert_eq!(p.rows[0].unit, "Pelayanan");
        assert_eq!(p.rows[0].line, 4);
    }

    #[test]
    fn a_nip_mangled_into_scientific_notation_is_reported() {
        let csv = "NIP,Nama\n1.98703E+17,Budi\n";
        let p = parse(csv.as_bytes().to_vec(), "x.csv", &[]).unwrap();
        assert!(p.rows.is_empty());
        assert!(p.issues[0].reasons[0].contains("Teks"));
    }

    #[test]
    fn windows_1252_text_is_decoded() {
        assert_eq!(decode_text(b"Jos\xe9 \x93A\x94"), "José “A”");
    }
}
