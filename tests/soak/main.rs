//! `hadir-soak`: the long run, compressed. For a configurable time it drives simulated readers
//! and tablets at a morning-rush profile against the real gateway binary, flaps the provincial
//! broker, SIGKILLs and restarts the gateway, pushes the data directory past its free-space
//! watermark, and skews a reader's clock. At the end it drains and checks, record by record, that
//! everything acknowledged to a device reached the provincial receiver exactly once.
//!
//! `hadir-soak --short` (about two minutes) runs in the test suite; `hadir-soak --minutes 60`
//! is the long soak. Exit status 1 when anything was lost or doubled.

mod peers;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use hadir::demo::tablet::{selfie, Checkin, SimTablet};
use hadir::devices::pull::to_punch;
use hadir::record::{punch_record_id, Source};
use hadir_drivers::zk::records::{AttendanceRecord, User};
use hadir_drivers::zk::sim::{SimConfig, SimHandle, Simulator};
use rand::Rng;

use peers::{Broker, Gateway, Receiver};

const OFFICE_ID: &str = "soak-office";
const OFFICE: (f64, f64) = (0.5436, 117.6261);
const WITA_S: i64 = 8 * 3600;

#[derive(Parser, Debug, Clone)]
#[command(
    name = "hadir-soak",
    about = "Soak and chaos run against the real gateway"
)]
struct Opts {
    /// About two minutes, for the test suite.
    #[arg(long)]
    short: bool,
    /// Length of the run (without the final drain), minutes.
    #[arg(long, default_value_t = 30.0)]
    minutes: f64,
    /// Simulated fingerprint readers.
    #[arg(long, default_value_t = 5)]
    readers: usize,
    /// Simulated tablets.
    #[arg(long, default_value_t = 200)]
    tablets: usize,
    /// SIGKILL and restart the gateway this often, seconds (long enough for the rush, a
    /// minute of warm-up and a few minutes of growth measurement in every life).
    #[arg(long, default_value_t = 480)]
    kill_every_s: u64,
    /// Stop the provincial broker for 5 s this often, seconds.
    #[arg(long, default_value_t = 120)]
    flap_every_s: u64,
    /// Work here and keep the files (default: a temporary folder, removed on success).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// After every gateway start, each tablet checks in back to back this many times (the
    /// 07:30 rush at the door; at most 5 minutes). 220 cycles every slot of the broker's fixed
    /// 200-entry queues of each connection once, so RSS growth measured after it is growth,
    /// not warm-up.
    #[arg(long, default_value_t = 220)]
    rush_checkins: u64,
}

/// What happened, counted by the soak's side of every conversation.
#[derive(Default)]
struct Tally {
    /// Record ids the gateway must deliver: every reader punch, every tablet receipt.
    acked: Mutex<HashSet<String>>,
    reader_punches: AtomicU64,
    checkins_sent: AtomicU64,
    checkins_acked: AtomicU64,
    checkins_refused: AtomicU64,
    checkins_unanswered: AtomicU64,
    retries: AtomicU64,
}

fn main() -> std::process::ExitCode {
    let mut opts = Opts::parse();
    if opts.short {
        opts.minutes = 1.5;
        opts.kill_every_s = 25;
        opts.flap_every_s = 20;
        opts.tablets = opts.tablets.min(60);
        opts.rush_checkins = 0;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hadir-soak: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(run(opts)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("hadir-soak: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(opts: Opts) -> anyhow::Result<bool> {
    let (dir, temporary) = match &opts.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("hadir-soak-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let ok = soak(&opts, &dir).await?;
    if temporary && ok {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("soak files in {}", dir.display());
    }
    Ok(ok)
}

struct Ports {
    admin: std::net::SocketAddr,
    tablets: std::net::SocketAddr,
    push: std::net::SocketAddr,
}

fn write_config(
    dir: &Path,
    ports: &Ports,
    readers: &[SimHandle],
    broker: &Broker,
    watermark_mb: u64,
) -> anyhow::Result<PathBuf> {
    let mut devices = String::new();
    for (i, r) in readers.iter().enumerate() {
        devices.push_str(&format!(
            "[[devices]]\nname = \"reader-{i}\"\nkind = \"zk-pull\"\naddress = \"{}\"\n\
             poll_interval_s = 1\nmax_drift_s = 60\n\n",
            r.addr()
        ));
    }
    let text = format!(
        "[office]\nid = \"{OFFICE_ID}\"\nname = \"Kantor Soak\"\ntimezone = \"Asia/Makassar\"\n\n\
         [[office.sites]]\nlatitude = {}\nlongitude = {}\n\n\
         [storage]\ndata_dir = \"{}\"\nmin_free_mb = {watermark_mb}\n\n\
         [admin]\nlisten = \"{}\"\napi_token = \"soak-token-0123456789\"\n\n\
         {devices}\
         [upstream]\nmode = \"mqtt\"\nurl = \"{}\"\nusername = \"{}\"\npassword = \"{}\"\n\
         batch_max_records = 200\nbatch_max_age_s = 1\nack_timeout_s = 5\n\n\
         [tablets]\nlisten = \"{}\"\nmax_connections = 1000\n\n\
         [push]\nlisten = \"{}\"\n",
        OFFICE.0,
        OFFICE.1,
        dir.join("data").display(),
        ports.admin,
        broker.url(),
        peers::BROKER_USER,
        peers::BROKER_PASS,
        ports.tablets,
        ports.push,
    );
    let path = dir.join("hadir.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

fn nip(reader: usize, user: usize) -> String {
    format!("1990010120150{}{:04}", 1 + reader % 2, reader * 1000 + user)
}

async fn soak(opts: &Opts, dir: &Path) -> anyhow::Result<bool> {
    let started = Instant::now();
    let run_for = Duration::from_secs_f64(opts.minutes * 60.0);
    let users_per_reader = opts.tablets.div_ceil(opts.readers.max(1)).max(20);
    println!(
        "soak: {} readers, {} tablets, {:.1} min, kill -9 every {} s, broker flap every {} s",
        opts.readers, opts.tablets, opts.minutes, opts.kill_every_s, opts.flap_every_s
    );

    let mut broker = Broker::start(dir)?;
    let receiver = Receiver::start(&dir.join("provinsi.db"), &broker)?;

    let mut readers = Vec::new();
    for r in 0..opts.readers {
        let users = (0..users_per_reader)
            .map(|u| User::new(u as u16 + 1, nip(r, u), format!("Pegawai {r}-{u}")))
            .collect();
        readers.push(
            Simulator::start(SimConfig {
                users,
                serial: format!("SOAK{r:04}"),
                // Reader 1 starts ten minutes fast; the gateway must set it right.
                clock_offset_secs: WITA_S + if r == 1 { 600 } else { 0 },
                ..SimConfig::default()
            })
            .await?,
        );
    }
    let readers = Arc::new(readers);
    let ports = Ports {
        admin: std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?,
        tablets: std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?,
        push: std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?,
    };
    let config_path = write_config(dir, &ports, &readers, &broker, 16)?;
    let config = hadir_config::load(&config_path).map_err(|e| anyhow::anyhow!("{e}"))?;

    // Tablets are registered before the first start, as an installer would.
    let mut provisioned = Vec::new();
    for t in 0..opts.tablets {
        provisioned
            .push(hadir::tablets::provision::register(&config, &format!("tablet {t}")).await?);
    }
    let mut gateway = Gateway::new(&config_path);
    gateway.start()?;
    add_roster(ports.admin, opts.readers, users_per_reader).await?;

    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    // Gateway lives so far (a tablet that sees a new one starts its rush), and how many
    // tablets finished their rush in the current one.
    let life_no = Arc::new(AtomicU64::new(1));
    let rushed = Arc::new(AtomicU64::new(0));
    let start_rush = || {
        rushed.store(0, Ordering::Relaxed);
        life_no.fetch_add(1, Ordering::Relaxed);
    };
    let rush_checkins = opts.rush_checkins;
    let qr_secret =
        hex::decode(std::fs::read_to_string(config.storage.data_dir.join("qr-secret"))?.trim())
            .context("qr-secret")?;
    let qr_step = config.verification.qr_step_s;

    // Readers: punches at a rush profile, each remembered by its stable id.
    let mut tasks = Vec::new();
    for (r, _) in readers.iter().enumerate() {
        let (readers, tally, stop) = (readers.clone(), tally.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let serial = format!("SOAK{r:04}");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                pause(rush_interval(started, run_for, 1.2), &stop).await;
                let reader = &readers[r];
                let users = reader.users();
                let Some(u) = users.get((n as usize * 7 + r) % users.len().max(1)) else {
                    continue;
                };
                n += 1;
                let record = AttendanceRecord {
                    uid: u.uid,
                    user_id: u.user_id.clone(),
                    time: reader.device_time(),
                    status: 1,
                    punch: (n % 2) as u8,
                    workcode: 0,
                };
                if let Ok(p) = to_punch(&serial, &record, Source::ZkPull) {
                    let id = punch_record_id(OFFICE_ID, &p);
                    if let Ok(mut acked) = tally.acked.lock() {
                        if acked.insert(id) {
                            tally.reader_punches.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                reader.push_live_event(record);
            }
        }));
    }

    // Tablets: honest check-ins at a rush profile; a check-in without a reply is re-sent with
    // the same nonce, as the app does, until it gets one.
    for (t, p) in provisioned.into_iter().enumerate() {
        let (tally, stop, secret) = (tally.clone(), stop.clone(), qr_secret.clone());
        let (life_no, rushed) = (life_no.clone(), rushed.clone());
        let addr = ports.tablets;
        let people = opts.readers * users_per_reader;
        tasks.push(tokio::spawn(async move {
            let mut tablet = loop {
                match SimTablet::connect(addr, &p).await {
                    Ok(c) => break c,
                    Err(_) if !stop.load(Ordering::Relaxed) => {
                        tokio::time::sleep(Duration::from_secs(1)).await
                    }
                    Err(_) => return,
                }
            };
            let mut n = 0u64;
            let (mut seen_life, mut rush_left, mut rush_started) = (0, 0u64, Instant::now());
            while !stop.load(Ordering::Relaxed) {
                let life = life_no.load(Ordering::Relaxed);
                if life != seen_life {
                    (seen_life, rush_left, rush_started) = (life, rush_checkins, Instant::now());
                }
                if rush_left > 0 && rush_started.elapsed() > MAX_RUSH {
                    rush_left = 0; // a slow machine: this life's warm-up stays unfinished
                }
                if rush_left > 0 {
                    rush_left -= 1;
                    if rush_left == 0 && life_no.load(Ordering::Relaxed) == seen_life {
                        rushed.fetch_add(1, Ordering::Relaxed);
                    }
                } else if !pause(rush_interval(started, run_for, 20.0), &stop).await {
                    break;
                }
                n += 1;
                let person = (t * 13 + n as usize * 7) % people.max(1);
                let who = nip(person / users_per_reader, person % users_per_reader);
                let payload = checkin(&who, &secret, qr_step, t as u64 * 1_000_000 + n);
                tally.checkins_sent.fetch_add(1, Ordering::Relaxed);
                let mut answered = false;
                for attempt in 0..12 {
                    if attempt > 0 {
                        tally.retries.fetch_add(1, Ordering::Relaxed);
                    }
                    match tablet.check_in(&payload, Duration::from_secs(8)).await {
                        Ok(reply) => {
                            answered = true;
                            match reply.receipt {
                                Some(id) => {
                                    tally.checkins_acked.fetch_add(1, Ordering::Relaxed);
                                    if let Ok(mut acked) = tally.acked.lock() {
                                        acked.insert(id);
                                    }
                                }
                                None => {
                                    tally.checkins_refused.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            break;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
                    }
                }
                if !answered {
                    tally.checkins_unanswered.fetch_add(1, Ordering::Relaxed);
                }
            }
            tablet.disconnect().await;
        }));
    }

    // Chaos: kills, broker flaps, the disk watermark, a clock skew; memory sampled throughout.
    let mut peak_kib = 0u64;
    let mut lives: Vec<Vec<(f64, u64)>> = vec![Vec::new()];
    let mut anon_lives: Vec<Vec<(f64, u64)>> = vec![Vec::new()];
    let mut sqlite_lives: Vec<Vec<(f64, u64)>> = vec![Vec::new()];
    // Per life: the age from which its samples count towards growth (a minute after every
    // tablet finished its rush; none if that never happened).
    let mut warm_from: Vec<Option<f64>> = vec![None];
    let mut last_memory_line = Instant::now();
    let mut life_start = Instant::now();
    let mut last_kill = Instant::now();
    let mut last_flap = Instant::now();
    let mut watermark_done = false;
    let mut skew_done = false;
    let mut refused_during_watermark = 0;
    while started.elapsed() < run_for {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if let Some(last) = warm_from.last_mut() {
            if last.is_none()
                && rush_checkins > 0
                && rushed.load(Ordering::Relaxed) >= opts.tablets as u64
            {
                let age = life_start.elapsed().as_secs_f64();
                *last = Some(age + WARM_UP_S);
                println!(
                    "soak: {:>5.0}s every tablet's rush done ({age:.0} s into this life)",
                    started.elapsed().as_secs_f64()
                );
            }
        }
        if let Some(m) = gateway.pid().and_then(peers::memory_kib) {
            peak_kib = peak_kib.max(m.peak);
            let age = life_start.elapsed().as_secs_f64();
            if let Some(life) = lives.last_mut() {
                life.push((age, m.rss));
            }
            if let Some(life) = anon_lives.last_mut() {
                life.push((age, m.anon));
            }
            if last_memory_line.elapsed() >= Duration::from_secs(60) {
                last_memory_line = Instant::now();
                let mib = |kib: u64| kib as f64 / 1024.0;
                let sqlite_kib = sqlite_heap_kib(ports.admin).await;
                if let (Some(kib), Some(life)) = (sqlite_kib, sqlite_lives.last_mut()) {
                    life.push((age, kib));
                }
                println!(
                    "soak: {:>5.0}s gateway RSS {:.1} MiB (anon {:.1} of which SQLite {}, file {:.1}, shared {:.1}), {:.0} s into this life",
                    started.elapsed().as_secs_f64(),
                    mib(m.rss),
                    mib(m.anon),
                    sqlite_kib.map_or("?".into(), |k| format!("{:.1}", mib(k))),
                    mib(m.file),
                    mib(m.shmem),
                    age
                );
            }
        }
        let elapsed = started.elapsed().as_secs_f64() / run_for.as_secs_f64();
        if !skew_done && elapsed > 0.3 {
            skew_done = true;
            readers[2].skew_clock(-420);
            println!(
                "soak: {:>5.0}s reader-2 clock set back 7 minutes",
                started.elapsed().as_secs_f64()
            );
        }
        if !watermark_done && elapsed > 0.55 {
            watermark_done = true;
            let before = tally.checkins_refused.load(Ordering::Relaxed);
            let free_mb = free_mb(dir).unwrap_or(0);
            gateway.kill9();
            write_config(dir, &ports, &readers, &broker, free_mb + 1024)?;
            gateway.start()?;
            println!(
                "soak: {:>5.0}s free-space watermark above free space: intake refused",
                started.elapsed().as_secs_f64()
            );
            tokio::time::sleep(Duration::from_secs(10)).await;
            gateway.kill9();
            write_config(dir, &ports, &readers, &broker, 16)?;
            gateway.start()?;
            refused_during_watermark = tally.checkins_refused.load(Ordering::Relaxed) - before;
            start_rush();
            println!("soak: {:>5.0}s watermark lowered again ({refused_during_watermark} check-ins refused with a reason meanwhile)", started.elapsed().as_secs_f64());
            lives.push(Vec::new());
            anon_lives.push(Vec::new());
            sqlite_lives.push(Vec::new());
            warm_from.push(None);
            life_start = Instant::now();
            last_kill = Instant::now();
            continue;
        }
        if last_kill.elapsed() >= Duration::from_secs(opts.kill_every_s) {
            gateway.kill9();
            gateway.start()?;
            start_rush();
            println!(
                "soak: {:>5.0}s gateway killed with SIGKILL and restarted",
                started.elapsed().as_secs_f64()
            );
            lives.push(Vec::new());
            anon_lives.push(Vec::new());
            sqlite_lives.push(Vec::new());
            warm_from.push(None);
            life_start = Instant::now();
            last_kill = Instant::now();
        }
        if last_flap.elapsed() >= Duration::from_secs(opts.flap_every_s) {
            broker.stop();
            tokio::time::sleep(Duration::from_secs(5)).await;
            broker.restart()?;
            println!(
                "soak: {:>5.0}s provincial broker down for 5 s",
                started.elapsed().as_secs_f64()
            );
            last_flap = Instant::now();
        }
    }

    // Stop producing, let the last check-ins finish, then drain everything upstream.
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(120), t).await;
    }
    let expected: HashSet<String> = tally.acked.lock().map(|a| a.clone()).unwrap_or_default();
    let drain_started = Instant::now();
    let mut received = received_ids(&receiver.db)?;
    while !expected.is_subset(&received) && drain_started.elapsed() < Duration::from_secs(180) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        received = received_ids(&receiver.db)?;
    }
    if let Some(m) = gateway.pid().and_then(peers::memory_kib) {
        peak_kib = peak_kib.max(m.peak);
    }
    gateway.stop();

    let lost: Vec<&String> = expected.difference(&received).collect();
    let (rows, distinct, resent) = receiver_counts(&receiver.db)?;
    let duplicated = rows - distinct;
    let growth = slope_mib_per_hour(&lives, &warm_from, 60);
    let anon_growth = slope_mib_per_hour(&anon_lives, &warm_from, 60);
    let sqlite_growth = slope_mib_per_hour(&sqlite_lives, &warm_from, 3);
    let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
    println!();
    println!(
        "soak result ({:.1} min, {} gateway starts, drain {:.0} s)",
        started.elapsed().as_secs_f64() / 60.0,
        gateway.starts,
        drain_started.elapsed().as_secs_f64()
    );
    println!(
        "  reader punches generated            {}",
        r(&tally.reader_punches)
    );
    println!(
        "  tablet check-ins sent               {}",
        r(&tally.checkins_sent)
    );
    println!(
        "    acknowledged with a receipt       {}",
        r(&tally.checkins_acked)
    );
    println!(
        "    refused with a reason (disk)      {}",
        r(&tally.checkins_refused)
    );
    println!(
        "    never answered (gave up)          {}",
        r(&tally.checkins_unanswered)
    );
    println!(
        "    re-sent after no reply            {}",
        r(&tally.retries)
    );
    println!("  records acknowledged to devices     {}", expected.len());
    println!(
        "  received upstream exactly once      {}",
        expected.intersection(&received).count()
    );
    println!("  re-sent batches' records de-duplicated by the receiver {resent}");
    println!("  lost                                {}", lost.len());
    println!("  duplicated at the receiver          {duplicated}");
    println!(
        "  peak RSS                            {:.1} MiB",
        peak_kib as f64 / 1024.0
    );
    match growth {
        Some(g) => println!("  RSS growth                          {g:+.1} MiB/hour"),
        None => println!("  RSS growth                          (not measured: no life had 3 minutes after its rush; use a release build and --kill-every-s ≥ 480)"),
    }
    if let Some(g) = anon_growth {
        println!("    of it anonymous (heap)            {g:+.1} MiB/hour");
    }
    if let Some(g) = sqlite_growth {
        println!("    of that SQLite's page caches      {g:+.1} MiB/hour (bounded by cache_size)");
    }
    println!(
        "soak-result: {}",
        serde_json::json!({
            "reader_punches": r(&tally.reader_punches),
            "checkins_sent": r(&tally.checkins_sent),
            "checkins_acked": r(&tally.checkins_acked),
            "checkins_refused": r(&tally.checkins_refused),
            "checkins_unanswered": r(&tally.checkins_unanswered),
            "acknowledged": expected.len(),
            "received_once": expected.intersection(&received).count(),
            "lost": lost.len(),
            "duplicated": duplicated,
            "refused_during_watermark": refused_during_watermark,
            "gateway_starts": gateway.starts,
            "peak_rss_kib": peak_kib,
            "rss_growth_mib_per_hour": growth,
            "anon_growth_mib_per_hour": anon_growth,
            "sqlite_growth_mib_per_hour": sqlite_growth,
        })
    );
    for id in lost.iter().take(10) {
        println!("  lost record id {id}");
    }
    drop(receiver);
    broker.stop();
    // Memory must stay flat over a long run; short runs are too short to judge.
    let flat = opts.short || growth.is_none_or(|g| g < MAX_GROWTH_MIB_PER_HOUR);
    if !flat {
        println!("  RSS grows faster than {MAX_GROWTH_MIB_PER_HOUR} MiB/hour");
    }
    Ok(lost.is_empty() && duplicated == 0 && flat)
}

/// Seconds after each life's rush before RSS samples count towards growth.
const WARM_UP_S: f64 = 60.0;

/// The longest a tablet's rush lasts.
const MAX_RUSH: Duration = Duration::from_secs(300);

/// The most RSS growth a long soak tolerates (a leak of a few bytes per record shows up here).
const MAX_GROWTH_MIB_PER_HOUR: f64 = 8.0;

/// Sleeps for `d` unless told to stop first; false when stopping.
async fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let end = tokio::time::Instant::now() + d;
    while tokio::time::Instant::now() < end {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        tokio::time::sleep_until(end.min(tokio::time::Instant::now() + Duration::from_millis(250)))
            .await;
    }
    !stop.load(Ordering::Relaxed)
}

/// Time to the next event for one producer: a morning rush peaking at 40 % of the run, with
/// `quiet_s` as the mean gap outside the peak (a quarter of it at the peak), exponential.
fn rush_interval(started: Instant, run_for: Duration, quiet_s: f64) -> Duration {
    let x = started.elapsed().as_secs_f64() / run_for.as_secs_f64().max(1.0);
    let peak = (-((x - 0.4) / 0.15).powi(2)).exp();
    let mean = quiet_s / (1.0 + 3.0 * peak);
    let u: f64 = rand::thread_rng().gen_range(1e-6..1.0);
    Duration::from_secs_f64((-u.ln() * mean).min(quiet_s * 4.0))
}

fn checkin(nip: &str, qr_secret: &[u8], qr_step: u32, seed: u64) -> serde_json::Value {
    let k = (seed % 97) as f64;
    Checkin {
        nip,
        mode: "regular",
        at: (
            OFFICE.0 + 0.00005 + k * 0.000001,
            OFFICE.1 + 0.00004 - k * 0.000001,
        ),
        accuracy_m: 5.0 + (seed % 11) as f64,
        qr: &hadir::verify::qr::code_at(qr_secret, qr_step, jiff::Timestamp::now()),
        photo: &selfie(seed),
        nonce: format!("soak{seed:012}"),
        utc_offset_h: 8,
    }
    .to_json()
}

async fn add_roster(admin: std::net::SocketAddr, readers: usize, per: usize) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    for r in 0..readers {
        for u in 0..per {
            let resp = http
                .put(format!("http://{admin}/api/v1/employees/{}", nip(r, u)))
                .bearer_auth("soak-token-0123456789")
                .json(&serde_json::json!({"name": format!("Pegawai {r}-{u}"), "unit": format!("Bidang {r}")}))
                .send()
                .await?;
            anyhow::ensure!(resp.status().is_success(), "roster: {}", resp.text().await?);
        }
    }
    Ok(())
}

/// SQLite's heap in the gateway (`hadir_sqlite_memory_bytes` on `/metrics`), KiB.
async fn sqlite_heap_kib(admin: std::net::SocketAddr) -> Option<u64> {
    let text = reqwest::Client::new()
        .get(format!("http://{admin}/metrics"))
        .timeout(Duration::from_secs(2))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    let bytes: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("hadir_sqlite_memory_bytes "))?
        .trim()
        .parse()
        .ok()?;
    Some(bytes / 1024)
}

fn free_mb(dir: &Path) -> Option<u64> {
    let s = rustix::fs::statvfs(dir).ok()?;
    Some(s.f_bavail * s.f_frsize / (1 << 20))
}

fn received_ids(db: &Path) -> anyhow::Result<HashSet<String>> {
    if !db.exists() {
        return Ok(HashSet::new());
    }
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut stmt = conn.prepare("SELECT record_id FROM records")?;
    let ids = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<HashSet<_>, _>>()?;
    Ok(ids)
}

/// (rows, distinct record ids, records the receiver saw again and de-duplicated).
fn receiver_counts(db: &Path) -> anyhow::Result<(u64, u64, u64)> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let (rows, distinct): (i64, i64) = conn.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT record_id) FROM records",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let resent: i64 = conn.query_row(
        "SELECT COALESCE(SUM(duplicates), 0) FROM batches",
        [],
        |r| r.get(0),
    )?;
    let n = |v: i64| u64::try_from(v).unwrap_or(0);
    Ok((n(rows), n(distinct), n(resent)))
}

/// Least-squares slope of memory samples (age in the life, KiB) within each gateway life from
/// its `warm_from` age on (a minute after every tablet's rush: the broker's fixed 200-entry
/// queues of each connection, about 0.4 MiB a tablet, its bounded per-topic logs and the SQLite
/// caches fill up to their caps first), weighted by length, in MiB per hour. Lives whose rush
/// never finished, or with fewer than `min_samples` samples or under three minutes after the
/// warm-up, are left out.
fn slope_mib_per_hour(
    lives: &[Vec<(f64, u64)>],
    warm_from: &[Option<f64>],
    min_samples: usize,
) -> Option<f64> {
    let mut weighted = 0.0;
    let mut weight = 0.0;
    for (life, warm) in lives.iter().zip(warm_from) {
        let Some(warm_up_s) = *warm else { continue };
        let pts: Vec<(f64, f64)> = life
            .iter()
            .filter(|(t, _)| *t >= warm_up_s)
            .map(|(t, kib)| (*t, *kib as f64 / 1024.0))
            .collect();
        let span = match (pts.first(), pts.last()) {
            (Some(a), Some(b)) => b.0 - a.0,
            _ => 0.0,
        };
        if span < 180.0 || pts.len() < min_samples {
            continue;
        }
        let n = pts.len() as f64;
        let mx = pts.iter().map(|p| p.0).sum::<f64>() / n;
        let my = pts.iter().map(|p| p.1).sum::<f64>() / n;
        let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
        let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
        if sxx > 0.0 {
            weighted += sxy / sxx * 3600.0 * span;
            weight += span;
        }
    }
    (weight > 0.0).then(|| weighted / weight)
}
