//! Monthly recap benchmark: 2,000 employees in 10 units × 31 days of punches (December 2026,
//! two punches a day, every day including weekends and holidays, some late or leaving early),
//! stored through the store API in a real SQLite file. Then, in a fresh child process so its
//! peak RSS (VmHWM) covers only the report: open the store, build the recap, write the XLSX
//! workbook (and the CSV tables). Goal: recap + XLSX < 2 s, peak RSS < 100 MB.
//!
//! `cargo bench -p hadir --bench recap_xlsx` (set `RECAP_BENCH_EMPLOYEES` for another size).

use std::path::{Path, PathBuf};
use std::time::Instant;

use hadir::attendance::export::{self, CsvTable};
use hadir::attendance::recap::{self, Month, RecapQuery};
use hadir::record::{NewPunch, Source};
use hadir::store::{DiskLimits, RosterRow, StoreOwner};

const CHILD_ENV: &str = "HADIR_RECAP_BENCH_CHILD";
const DAYS: i8 = 31;

fn open(dir: &Path) -> StoreOwner {
    let tz = jiff::tz::TimeZone::get("Asia/Makassar").expect("zone");
    let limits = DiskLimits {
        max_db_bytes: 0,
        min_free_bytes: 0,
    };
    StoreOwner::open(dir, "bench", tz, limits)
        .expect("open store")
        .0
}

fn nip(i: usize) -> String {
    // 18 digits, unique below 7,000 (lcm of 28, 2 and 1,000): born 1980-01-(1..28), TMT 2005-01,
    // sex 1 or 2, sequence i mod 1000.
    format!("198001{:02}200501{}{:03}", 1 + i % 28, 1 + i % 2, i % 1000)
}

fn vm_hwm_kib() -> u64 {
    hadir::memory::ProcStatus::read(None)
        .and_then(|s| s.kib("VmHWM"))
        .unwrap_or(0)
}

async fn fill(dir: &Path, employees: usize) {
    let owner = open(dir);
    let store = owner.store();
    let rows: Vec<RosterRow> = (0..employees)
        .map(|i| RosterRow {
            line: i + 2,
            nip: nip(i),
            name: format!("Pegawai {i}"),
            unit: format!("Bidang {}", i % 10),
            position: "Staf".into(),
            schedule_group: Some(if i % 5 == 0 { "6-hari" } else { "reguler" }.into()),
        })
        .collect();
    let nips: Vec<String> = rows.iter().map(|r| r.nip.clone()).collect();
    store
        .import_roster(rows, "bench".into(), "bench".into(), false)
        .await
        .expect("roster");
    let t = Instant::now();
    let mut batch = Vec::with_capacity(1000);
    let mut total = 0usize;
    for day in 1..=DAYS {
        let d = jiff::civil::date(2026, 12, day);
        for (i, n) in nips.iter().enumerate() {
            // Most arrive 07:1x, every 7th is late by up to 40 min, every 11th leaves early.
            let in_min = if (i + day as usize) % 7 == 0 {
                31 + (i % 40) as i8
            } else {
                10 + (i % 19) as i8
            };
            let (ih, im) = (7 + in_min / 60, in_min % 60);
            let (oh, om) = if (i + day as usize) % 11 == 0 {
                (15, 10)
            } else {
                (16, 5)
            };
            for (h, m, state) in [(ih, im, 0u8), (oh, om, 1u8)] {
                batch.push(NewPunch {
                    source: Source::Api,
                    device: "pintu-depan".into(),
                    employee: n.clone(),
                    local_time: d.at(h, m, (i % 60) as i8, 0),
                    state,
                    verify: Some(1),
                    payload: format!("{n} {d} {h}:{m} {state}").into_bytes(),
                });
            }
            if batch.len() >= 1000 {
                total += batch.len();
                store
                    .append_punches(std::mem::take(&mut batch))
                    .await
                    .expect("punches");
            }
        }
    }
    total += batch.len();
    store.append_punches(batch).await.expect("punches");
    eprintln!(
        "filled {employees} employees × {DAYS} days: {total} punches in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    drop(store);
    tokio::task::spawn_blocking(move || owner.close())
        .await
        .expect("close");
}

/// The measured part, in a fresh process.
async fn child(dir: PathBuf) {
    let base = vm_hwm_kib();
    let owner = open(&dir);
    let store = owner.store();
    let q = RecapQuery::month(
        Month::parse("2026-12").expect("month"),
        jiff::civil::date(2026, 12, 31),
    );
    let t0 = Instant::now();
    let r = recap::load(&store, q).await.expect("recap");
    let t_recap = t0.elapsed();
    let xlsx = export::xlsx(&r).expect("xlsx");
    let t_xlsx = t0.elapsed();
    let hwm_xlsx = vm_hwm_kib();
    let t1 = Instant::now();
    let mut csv_bytes = 0;
    for table in [CsvTable::Pegawai, CsvTable::Unit, CsvTable::Harian] {
        csv_bytes += export::csv(&r, table).expect("csv").len();
    }
    let t_csv = t1.elapsed();
    println!(
        "recap: {} employees, {} units, {} employee-days, overall rate {:?} %",
        r.employees.len(),
        r.units.len(),
        r.employees.iter().map(|e| e.days.len()).sum::<usize>(),
        r.overall.rate_pct
    );
    println!(
        "time: recap {:.0} ms, recap + XLSX {:.0} ms (XLSX {} KiB); three CSV tables {:.0} ms ({} KiB)",
        t_recap.as_secs_f64() * 1e3,
        t_xlsx.as_secs_f64() * 1e3,
        xlsx.len() / 1024,
        t_csv.as_secs_f64() * 1e3,
        csv_bytes / 1024
    );
    println!(
        "peak RSS (VmHWM): {:.1} MiB after recap + XLSX ({:.1} MiB at process start)",
        hwm_xlsx as f64 / 1024.0,
        base as f64 / 1024.0
    );
    drop(store);
    tokio::task::spawn_blocking(move || owner.close())
        .await
        .expect("close");
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        rt.block_on(child(PathBuf::from(dir)));
        return;
    }
    let employees: usize = std::env::var("RECAP_BENCH_EMPLOYEES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = std::env::temp_dir().join(format!("hadir-recap-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    rt.block_on(fill(&dir, employees));
    let db = std::fs::metadata(dir.join(hadir::store::DB_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    eprintln!("database: {:.1} MiB", db as f64 / (1024.0 * 1024.0));
    let status = std::process::Command::new(std::env::current_exe().expect("exe"))
        .env(CHILD_ENV, &dir)
        .status()
        .expect("child");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(status.success(), "the measuring child failed");
}
