//! `hadir zk …`: field tools for IT staff to talk to a reader directly (the gateway need not run),
//! and `hadir zk import` for USB attendance exports.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use clap::{Args, Subcommand};
use hadir_drivers::zk::{ClientOptions, Transport, ZkClient, ZkDateTime};

/// Which reader and how to reach it.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Reader address, HOST or HOST:PORT (port 4370 by default).
    #[arg(long)]
    pub addr: String,
    /// Use UDP instead of TCP.
    #[arg(long)]
    pub udp: bool,
    /// Communication key set on the reader.
    #[arg(long, default_value_t = 0)]
    pub comm_key: u32,
    /// Seconds to wait for each reply.
    #[arg(long, default_value_t = 5)]
    pub timeout: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// What to do with the reader.
#[derive(Subcommand, Debug)]
pub enum ZkCommand {
    /// Serial number, firmware, platform, counts.
    Info(Target),
    /// Enrolled users.
    Users(Target),
    /// The attendance log.
    Attendance(Target),
    /// The reader's clock and its drift from this machine.
    Time(Target),
    /// Set the reader's clock to this machine's time in a zone.
    SetTime {
        #[command(flatten)]
        target: Target,
        /// IANA zone of the office (Asia/Jakarta, Asia/Makassar, Asia/Jayapura).
        #[arg(long, default_value = "Asia/Jakarta")]
        timezone: String,
    },
    /// Print punches as they happen until Ctrl-C.
    Live(Target),
    /// Import a reader's USB attendance export (attlog .dat) into the store, de-duplicated
    /// with everything pulled or pushed from the same reader. Bad lines are reported with
    /// their line numbers; good lines are kept. Exit code 2 when some lines were rejected.
    Import(ImportArgs),
}

/// Arguments of `hadir zk import`.
#[derive(Args, Debug, Clone)]
pub struct ImportArgs {
    /// The attlog file from the reader's USB export.
    pub file: std::path::PathBuf,
    /// Serial number of the reader the file came from (as the reader reports it over the
    /// network, so punches it also sent are recognised as the same).
    #[arg(long)]
    pub device: String,
    /// Configuration file (data directory, office, time zone); the built-in default otherwise.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Column order after the time: `usb` = verify then state (USB exports), `push` = state
    /// then verify (ADMS ATTLOG lines saved to a file).
    #[arg(long, value_enum, default_value = "usb")]
    pub columns: Columns,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Column order of an attlog file.
#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum Columns {
    /// PIN, time, verify, state, workcode, ...
    Usb,
    /// PIN, time, state, verify, workcode, ...
    Push,
}

/// Largest attlog file accepted, bytes.
const MAX_IMPORT_BYTES: u64 = 512 << 20;
/// Punches stored per transaction during an import.
const IMPORT_CHUNK: usize = 5_000;

/// Exit code of `hadir zk import` when some lines were rejected (the good ones were stored).
pub const EXIT_SOME_REJECTED: i32 = 2;

async fn import(a: ImportArgs) -> anyhow::Result<bool> {
    use hadir_drivers::zk::push::ColumnOrder;
    let device = a.device.trim().to_string();
    if device.is_empty() || device.len() > 64 || !device.bytes().all(|b| b.is_ascii_graphic()) {
        anyhow::bail!("--device must be the reader's serial number (1–64 printable characters)");
    }
    let config = match &a.config {
        Some(p) => hadir_config::load(p).map_err(|e| anyhow::anyhow!("{e}"))?,
        None => hadir_config::embedded_default(),
    };
    let len = std::fs::metadata(&a.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.file.display()))?
        .len();
    if len > MAX_IMPORT_BYTES {
        anyhow::bail!(
            "{} is larger than {} MiB",
            a.file.display(),
            MAX_IMPORT_BYTES >> 20
        );
    }
    let body = std::fs::read(&a.file)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", a.file.display()))?;
    let order = match a.columns {
        Columns::Usb => ColumnOrder::UsbDat,
        Columns::Push => ColumnOrder::Push,
    };
    let (punches, bad) =
        crate::devices::push::lines_to_punches(&device, &body, order, crate::record::Source::ZkUsb);
    for (line, reason) in &bad {
        eprintln!("{}:{line}: rejected: {reason}", a.file.display());
    }
    let owner = crate::store::StoreOwner::open_for_tool(&config).await?;
    let store = owner.store();
    let total = punches.len();
    let mut new = 0usize;
    let mut chunk = Vec::with_capacity(IMPORT_CHUNK);
    let mut result = Ok(());
    for p in punches {
        chunk.push(p);
        if chunk.len() == IMPORT_CHUNK {
            match store.append_punches(std::mem::take(&mut chunk)).await {
                Ok(out) => new += out.iter().filter(|x| !x.duplicate).count(),
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
    }
    if result.is_ok() && !chunk.is_empty() {
        match store.append_punches(chunk).await {
            Ok(out) => new += out.iter().filter(|x| !x.duplicate).count(),
            Err(e) => result = Err(e),
        }
    }
    if result.is_ok() {
        let detail = format!(
            "{} lines: {new} new, {} duplicates, {} rejected",
            total + bad.len(),
            total - new,
            bad.len()
        );
        result = store.audit("cli", "usb-import", &device, &detail).await;
    }
    drop(store);
    tokio::task::spawn_blocking(move || owner.close()).await?;
    result.map_err(|e| {
        anyhow::anyhow!("import stopped, nothing after the last stored chunk was kept: {e}")
    })?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"device": device, "lines": total + bad.len(), "stored": total,
                "new": new, "duplicates": total - new,
                "rejected": bad.iter().map(|(l, r)| serde_json::json!({"line": l, "reason": r})).collect::<Vec<_>>()})
        );
    } else {
        println!(
            "imported {total} punch(es) from {}: {new} new, {} already stored, {} line(s) rejected",
            a.file.display(),
            total - new,
            bad.len()
        );
    }
    Ok(bad.is_empty())
}

/// Runs a `hadir zk` command.
pub async fn run(cmd: ZkCommand) -> anyhow::Result<()> {
    match cmd {
        ZkCommand::Import(a) => {
            if !import(a).await? {
                std::process::exit(EXIT_SOME_REJECTED);
            }
        }
        ZkCommand::Info(t) => {
            let mut c = connect(&t).await?;
            let info = c.device_info().await?;
            let _ = c.disconnect().await;
            if t.json {
                println!(
                    "{}",
                    serde_json::json!({
                        "serial": info.serial, "firmware": info.firmware, "platform": info.platform,
                        "device_name": info.device_name, "users": info.counts.users,
                        "fingers": info.counts.fingers, "records": info.counts.records,
                        "user_capacity": info.counts.user_capacity, "record_capacity": info.counts.record_capacity,
                    })
                );
            } else {
                println!("serial      {}", info.serial);
                println!("firmware    {}", info.firmware);
                println!("platform    {}", info.platform);
                println!("name        {}", info.device_name);
                println!(
                    "users       {} / {}",
                    info.counts.users, info.counts.user_capacity
                );
                println!("fingers     {}", info.counts.fingers);
                println!(
                    "records     {} / {}",
                    info.counts.records, info.counts.record_capacity
                );
            }
        }
        ZkCommand::Users(t) => {
            let mut c = connect(&t).await?;
            let users = c.users().await?;
            let _ = c.disconnect().await;
            if t.json {
                let v: Vec<_> = users
                    .iter()
                    .map(|u| serde_json::json!({"uid": u.uid, "user_id": u.user_id, "name": u.name, "privilege": u.privilege, "card": u.card, "group": u.group}))
                    .collect();
                println!("{}", serde_json::Value::Array(v));
            } else {
                println!(
                    "{:>5}  {:<20}  {:<24}  {:>4}  {:>10}",
                    "uid", "user id", "name", "priv", "card"
                );
                for u in &users {
                    println!(
                        "{:>5}  {:<20}  {:<24}  {:>4}  {:>10}",
                        u.uid, u.user_id, u.name, u.privilege, u.card
                    );
                }
                println!("{} user(s)", users.len());
            }
        }
        ZkCommand::Attendance(t) => {
            let mut c = connect(&t).await?;
            let records = c.attendance().await?;
            let _ = c.disconnect().await;
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if t.json {
                let v: Vec<_> = records
                    .iter()
                    .map(|r| serde_json::json!({"uid": r.uid, "user_id": r.user_id, "time": r.time.to_string(), "status": r.status, "punch": r.punch, "workcode": r.workcode}))
                    .collect();
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            } else {
                writeln!(
                    out,
                    "{:<20}  {:<19}  {:>5}  {:>6}",
                    "user id", "time", "punch", "verify"
                )?;
                for r in &records {
                    writeln!(
                        out,
                        "{:<20}  {:<19}  {:>5}  {:>6}",
                        r.user_id,
                        r.time.to_string(),
                        r.punch,
                        r.status
                    )?;
                }
                writeln!(out, "{} record(s)", records.len())?;
            }
            out.flush()?;
        }
        ZkCommand::Time(t) => {
            let mut c = connect(&t).await?;
            let device = c.get_time().await?;
            let _ = c.disconnect().await;
            let local = jiff::Zoned::now().datetime();
            let drift = device.to_civil_seconds() - civil_seconds(local);
            if t.json {
                println!(
                    "{}",
                    serde_json::json!({"reader_time": device.to_string(), "local_time": local.strftime("%Y-%m-%d %H:%M:%S").to_string(), "drift_s": drift})
                );
            } else {
                println!("reader  {device}");
                println!(
                    "here    {}  (this machine's zone)",
                    local.strftime("%Y-%m-%d %H:%M:%S")
                );
                println!("drift   {drift:+} s");
            }
        }
        ZkCommand::SetTime { target, timezone } => {
            let tz = jiff::tz::TimeZone::get(&timezone)?;
            let now = jiff::Timestamp::now().to_zoned(tz).datetime();
            let t = ZkDateTime::from_civil_seconds(civil_seconds(now))?;
            let mut c = connect(&target).await?;
            c.set_time(t).await?;
            let _ = c.disconnect().await;
            println!("reader clock set to {t} ({timezone})");
        }
        ZkCommand::Live(t) => {
            let c = connect(&t).await?;
            let mut live = c.live_events().await?;
            eprintln!("listening for punches; Ctrl-C to stop");
            loop {
                tokio::select! {
                    ev = live.next() => match ev {
                        Some(Ok(r)) => {
                            if t.json {
                                println!("{}", serde_json::json!({"user_id": r.user_id, "time": r.time.to_string(), "punch": r.punch, "status": r.status}));
                            } else {
                                println!("{}  {:<20}  punch {}  verify {}", r.time, r.user_id, r.punch, r.status);
                            }
                        }
                        Some(Err(e)) => return Err(e.into()),
                        None => break,
                    },
                    _ = tokio::signal::ctrl_c() => break,
                }
            }
            live.stop().await;
        }
    }
    Ok(())
}

fn civil_seconds(t: jiff::civil::DateTime) -> i64 {
    t.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp().as_second())
        .unwrap_or(0)
}

async fn connect(t: &Target) -> anyhow::Result<ZkClient> {
    let addr = resolve(&t.addr)?;
    let transport = if t.udp {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let opts = ClientOptions {
        comm_key: t.comm_key,
        timeout: Duration::from_secs(t.timeout.max(1)),
    };
    Ok(ZkClient::connect(addr, transport, opts).await?)
}

fn resolve(addr: &str) -> anyhow::Result<SocketAddr> {
    let with_port = if addr.contains(':') {
        addr.to_string()
    } else {
        format!("{addr}:4370")
    };
    with_port
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| anyhow::anyhow!("{addr} does not resolve"))
}
