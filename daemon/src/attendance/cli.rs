//! `hadir recap`, `hadir roster import` and `hadir holidays`: the same recap, import and holiday
//! functions the web UI uses, run against the gateway's database beside the daemon.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use super::export::{self, CsvTable};
use super::recap::{self, Month, RecapQuery};
use super::roster_import;
use crate::store::{Store, StoreOwner};

/// Arguments of `hadir recap`.
#[derive(Debug, Args)]
pub struct RecapArgs {
    /// Configuration file (TOML). Also read from $HADIR_CONFIG.
    #[arg(long, short, env = "HADIR_CONFIG")]
    pub config: Option<PathBuf>,
    /// The month, YYYY-MM.
    #[arg(long)]
    pub month: String,
    /// Output file; `.xlsx` writes the workbook, `.csv` one table (see --table).
    #[arg(long)]
    pub out: PathBuf,
    /// Count days up to this date (YYYY-MM-DD; default today in the office zone).
    #[arg(long)]
    pub as_of: Option<String>,
    /// Only this unit (exact name).
    #[arg(long)]
    pub unit: Option<String>,
    /// CSV table: pegawai (default), unit or harian.
    #[arg(long, default_value = "pegawai")]
    pub table: String,
}

/// `hadir roster ...`.
#[derive(Debug, Subcommand)]
pub enum RosterCommand {
    /// Import employees from a SIMPEG export (CSV, XLSX, XLS or ODS); prints a report per row.
    Import {
        /// The file.
        file: PathBuf,
        /// Only check and report; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `hadir holidays ...`.
#[derive(Debug, Subcommand)]
pub enum HolidaysCommand {
    /// List holidays of a year.
    List {
        /// The year (default: this year).
        #[arg(long)]
        year: Option<i16>,
    },
    /// Import holidays from a CSV with columns tanggal, nama[, jenis].
    Import {
        /// The file.
        file: PathBuf,
    },
}

fn today(config: &hadir_config::Config) -> anyhow::Result<jiff::civil::Date> {
    let tz = jiff::tz::TimeZone::get(&config.office.timezone)?;
    Ok(jiff::Timestamp::now().to_zoned(tz).date())
}

async fn with_store<T, F, Fut>(config: &hadir_config::Config, f: F) -> anyhow::Result<T>
where
    F: FnOnce(Store) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let owner = StoreOwner::open_for_tool(config).await?;
    let result = f(owner.store()).await;
    tokio::task::spawn_blocking(move || owner.close()).await?;
    result
}

/// Writes `bytes` to `path` through a temporary file in the same directory, so a reader never
/// sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| anyhow::anyhow!("{} is not a file name", path.display()))?;
    let tmp = dir.join(format!(".{}.tmp", name.to_string_lossy()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// `hadir recap`: builds the month's recap and writes it as XLSX or CSV.
pub async fn recap(config: hadir_config::Config, args: RecapArgs) -> anyhow::Result<()> {
    let month = Month::parse(&args.month)?;
    let as_of = match &args.as_of {
        Some(s) => s
            .parse::<jiff::civil::Date>()
            .map_err(|e| anyhow::anyhow!("--as-of {s:?}: {e}"))?,
        None => today(&config)?,
    };
    let ext = args
        .out
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let table = CsvTable::parse(&args.table)
        .ok_or_else(|| anyhow::anyhow!("--table must be pegawai, unit or harian"))?;
    if ext != "xlsx" && ext != "csv" {
        anyhow::bail!("--out must end in .xlsx or .csv");
    }
    let query = RecapQuery {
        month,
        as_of,
        unit: args.unit.clone(),
        nip: None,
    };
    let r = with_store(&config, |store| async move {
        Ok(recap::load(&store, query).await?)
    })
    .await?;
    let bytes = if ext == "xlsx" {
        export::xlsx(&r)?
    } else {
        export::csv(&r, table)?
    };
    write_atomically(&args.out, &bytes)?;
    let rate = r
        .overall
        .rate_pct
        .map(|p| format!("{p:.2} %"))
        .unwrap_or_else(|| "-".into());
    println!(
        "rekap {month} (sampai {as_of}): {} pegawai, {} unit, kehadiran {rate} → {}",
        r.employees.len(),
        r.units.len(),
        args.out.display()
    );
    Ok(())
}

/// `hadir roster import FILE`: prints the report; fails when any row was skipped.
pub async fn roster(config: hadir_config::Config, command: RosterCommand) -> anyhow::Result<()> {
    let RosterCommand::Import { file, dry_run } = command;
    let bytes =
        std::fs::read(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let name = file.to_string_lossy().to_string();
    let report = with_store(&config, |store| async move {
        Ok(roster_import::import_bytes(&store, bytes, &name, "cli", dry_run).await?)
    })
    .await?;
    println!(
        "{}{}: judul di baris {}, {} baris data: {} baru, {} diubah, {} tetap, {} dilewati",
        if dry_run {
            "(uji, tidak disimpan) "
        } else {
            ""
        },
        file.display(),
        report.header_line,
        report.rows,
        report.inserted,
        report.updated,
        report.unchanged,
        report.skipped
    );
    for i in &report.issues {
        println!(
            "  baris {}: {} {}: {}",
            i.line,
            if i.skipped { "DILEWATI" } else { "peringatan" },
            i.nip,
            i.reasons.join("; ")
        );
    }
    anyhow::ensure!(
        report.skipped == 0,
        "{} baris dilewati; perbaiki lalu impor ulang",
        report.skipped
    );
    Ok(())
}

/// `hadir holidays list|import`.
pub async fn holidays(
    config: hadir_config::Config,
    command: HolidaysCommand,
) -> anyhow::Result<()> {
    match command {
        HolidaysCommand::List { year } => {
            let year = match year {
                Some(y) => y,
                None => today(&config)?.year(),
            };
            let from = jiff::civil::Date::new(year, 1, 1)?;
            let to = jiff::civil::Date::new(year, 12, 31)?;
            let list = with_store(&config, |store| async move {
                Ok(store.holidays(from, to).await?)
            })
            .await?;
            for h in list {
                println!("{}  {:<15} {}", h.day, h.kind.as_str(), h.name);
            }
            Ok(())
        }
        HolidaysCommand::Import { file } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            let report = with_store(&config, |store| async move {
                Ok(store.import_holidays_csv(bytes, "cli".into()).await?)
            })
            .await?;
            println!("{} hari libur disimpan", report.saved);
            for (line, why) in &report.problems {
                println!("  baris {line}: {why}");
            }
            anyhow::ensure!(
                report.problems.is_empty(),
                "{} baris dilewati",
                report.problems.len()
            );
            Ok(())
        }
    }
}
