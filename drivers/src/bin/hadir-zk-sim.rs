//! Runs the ZKTeco reader simulator from the shell until Ctrl-C.
//!
//! `hadir-zk-sim --listen 127.0.0.1:4370 --users 50 --records 100000 --comm-key 12 --fingers 2`
//! `hadir-zk-sim --push http://127.0.0.1:8081 --serial CKJ0001 --users 20 --records 100`

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use hadir_drivers::zk::sim::{synthetic_records, synthetic_templates, synthetic_users};
use hadir_drivers::zk::{
    Faults, LiveEventFormat, RecordLayout, SimConfig, Simulator, UserLayout, ZkDateTime,
};

/// Attendance record layout served.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Layout {
    /// 8-byte records.
    #[value(name = "8")]
    Compact8,
    /// 8-byte records in MA300 order.
    Ma300,
    /// 16-byte records.
    #[value(name = "16")]
    Extended16,
    /// 40-byte records.
    #[value(name = "40")]
    Full40,
    /// 40-byte fields, 49-byte stride.
    #[value(name = "49")]
    SpeedFace49,
}

/// User record size served.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Users {
    /// 28-byte users.
    #[value(name = "28")]
    Zk6,
    /// 72-byte users.
    #[value(name = "72")]
    Zk8,
}

/// Simulated ZKTeco fingerprint reader (binary protocol, TCP and UDP on one port).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on (TCP and UDP).
    #[arg(long, default_value = "127.0.0.1:4370")]
    listen: SocketAddr,
    /// Number of synthetic users.
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Number of synthetic attendance records.
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// Synthetic fingerprint templates per user (0–10; binary protocol only).
    #[arg(long, default_value_t = 0)]
    fingers: usize,
    /// Comm key (0 = none).
    #[arg(long, default_value_t = 0)]
    comm_key: u32,
    /// Attendance record layout.
    #[arg(long, value_enum, default_value = "40")]
    layout: Layout,
    /// User record layout.
    #[arg(long, value_enum, default_value = "72")]
    user_layout: Users,
    /// Serial number reported.
    #[arg(long, default_value = "HADIRSIM0001")]
    serial: String,
    /// Device clock offset from the host clock (UTC), in seconds.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset: i64,
    /// Delay before every reply, in milliseconds.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Drop every n-th outgoing UDP datagram.
    #[arg(long)]
    drop_every_nth_udp: Option<u32>,
    /// Reset each TCP connection after this many bytes sent.
    #[arg(long)]
    reset_after_bytes: Option<usize>,
    /// Replace every n-th outgoing packet with garbage.
    #[arg(long)]
    garbage_every_nth: Option<u32>,
    /// Pause between PREPARE_DATA and DATA on TCP, in milliseconds (pyzk needs > 0).
    #[arg(long, default_value_t = 1)]
    tcp_prepare_gap_ms: u64,
    /// Push a synthetic live punch every this many seconds (0 = never).
    #[arg(long, default_value_t = 0)]
    live_every_secs: u64,
    /// Run as a push-mode (ADMS/iclock) reader uploading to this gateway URL
    /// (e.g. http://127.0.0.1:8081) instead of serving the binary protocol.
    #[arg(long)]
    push: Option<String>,
    /// Push mode: seconds between command polls (default: the gateway's `Delay`).
    #[arg(long)]
    poll_secs: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let (record_layout, user_layout) = (
        match args.layout {
            Layout::Compact8 => RecordLayout::Compact8,
            Layout::Ma300 => RecordLayout::Ma300,
            Layout::Extended16 => RecordLayout::Extended16,
            Layout::Full40 => RecordLayout::Full40,
            Layout::SpeedFace49 => RecordLayout::SpeedFace49,
        },
        match args.user_layout {
            Users::Zk6 => UserLayout::Zk6,
            Users::Zk8 => UserLayout::Zk8,
        },
    );
    let users = synthetic_users(args.users, user_layout);
    let start = ZkDateTime::new(2025, 1, 6, 7, 30, 0).unwrap_or(ZkDateTime::EPOCH);
    let records = synthetic_records(args.records, &users, start);
    if let Some(server) = args.push.clone() {
        return run_push(server, &args, &users, &records).await;
    }
    let cfg = SimConfig {
        listen: args.listen,
        templates: synthetic_templates(&users, args.fingers),
        users: users.clone(),
        records,
        comm_key: args.comm_key,
        user_layout,
        record_layout,
        event_format: match user_layout {
            UserLayout::Zk6 => LiveEventFormat::Short12,
            UserLayout::Zk8 => LiveEventFormat::Long36,
        },
        serial: args.serial,
        faults: Faults {
            reply_delay: Duration::from_millis(args.delay_ms),
            drop_every_nth_udp: args.drop_every_nth_udp,
            reset_after_bytes: args.reset_after_bytes,
            garbage_every_nth: args.garbage_every_nth,
        },
        clock_offset_secs: args.clock_offset,
        tcp_prepare_gap: Duration::from_millis(args.tcp_prepare_gap_ms),
        ..SimConfig::default()
    };
    let sim = match Simulator::start(cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hadir-zk-sim: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    println!("{}", sim.addr());
    eprintln!(
        "hadir-zk-sim: serving {} users, {} fingerprint templates and {} records on {} (TCP+UDP); Ctrl-C to stop",
        args.users,
        sim.templates().len(),
        args.records,
        sim.addr()
    );
    let mut tick = tokio::time::interval(Duration::from_secs(args.live_every_secs.max(1)));
    let mut n = 0usize;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick(), if args.live_every_secs > 0 && !users.is_empty() => {
                let now = sim.device_time();
                let mut rec = synthetic_records(1, &users[n % users.len()..], now);
                n += 1;
                if let Some(r) = rec.pop() {
                    let sent = sim.push_live_event(r);
                    eprintln!("hadir-zk-sim: live punch sent to {sent} session(s)");
                }
            }
        }
    }
    sim.shutdown().await;
    ExitCode::SUCCESS
}

/// `--push URL`: a push-mode reader uploading to a gateway until Ctrl-C.
async fn run_push(
    server: String,
    args: &Args,
    users: &[hadir_drivers::zk::User],
    records: &[hadir_drivers::zk::AttendanceRecord],
) -> ExitCode {
    use hadir_drivers::zk::push::{AttLogLine, PushUser};
    use hadir_drivers::zk::{PushSim, PushSimConfig};
    let cfg = PushSimConfig {
        server: server.clone(),
        serial: args.serial.clone(),
        users: users
            .iter()
            .map(|u| PushUser {
                pin: u.user_id.clone(),
                name: u.name.clone(),
                privilege: u.privilege,
                ..Default::default()
            })
            .collect(),
        records: records
            .iter()
            .map(|r| AttLogLine {
                pin: r.user_id.clone(),
                time: r.time,
                state: r.punch,
                verify: r.status,
                workcode: "0".into(),
            })
            .collect(),
        clock_skew_secs: args.clock_offset,
        poll_interval: args.poll_secs.map(|s| Duration::from_secs(s.max(1))),
        ..PushSimConfig::default()
    };
    let sim = match PushSim::start(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hadir-zk-sim: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "hadir-zk-sim: push reader {} with {} users and {} records uploading to {server}; Ctrl-C to stop",
        args.serial, args.users, args.records
    );
    let mut tick = tokio::time::interval(Duration::from_secs(args.live_every_secs.max(1)));
    let mut report = tokio::time::interval(Duration::from_secs(10));
    let mut n = 0usize;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick(), if args.live_every_secs > 0 && !users.is_empty() => {
                let u = &users[n % users.len()];
                n += 1;
                let line = sim.punch(&u.user_id, (n % 2) as u8, 1);
                eprintln!("hadir-zk-sim: punch {} at {}", line.pin, line.time);
            }
            _ = report.tick() => {
                let s = sim.stats();
                eprintln!("hadir-zk-sim: acked {} line(s), {} failed post(s), {} command(s), {} pending, last HTTP {}", s.lines_acked, s.posts_failed, s.commands, sim.pending(), s.last_status);
            }
        }
    }
    sim.shutdown().await;
    ExitCode::SUCCESS
}
