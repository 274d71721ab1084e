//! Benchmark: a full attendance pull by `ZkClient` and by pyzk from the same
//! simulator in one run, plus parse throughput of the 40-byte layout.
//!
//! `cargo run --release -p hadir-drivers --bin zk-bench [-- --records 100000]`
//! pyzk is looked up in `HADIR_PYZK_PYTHON`, else `target/pyzk-venv/bin/python`.

use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use hadir_drivers::zk::records::{self, RecordLayout};
use hadir_drivers::zk::sim::{synthetic_records, synthetic_users};
use hadir_drivers::zk::{
    ClientOptions, SimConfig, Simulator, Transport, UserLayout, ZkClient, ZkDateTime,
};

/// Attendance pull benchmark: Hadir's client vs pyzk.
#[derive(Debug, Parser)]
struct Args {
    /// Records in the simulated log.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Users in the simulated reader.
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// Rounds of the in-memory parse benchmark.
    #[arg(long, default_value_t = 20)]
    parse_rounds: usize,
}

fn pyzk_python() -> Option<PathBuf> {
    let candidate = match std::env::var_os("HADIR_PYZK_PYTHON") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyzk-venv/bin/python"),
    };
    let ok = std::process::Command::new(&candidate)
        .args(["-c", "import zk"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(candidate)
}

/// Pulls with pyzk; returns (records, seconds inside get_attendance, wall seconds).
async fn pyzk_pull(python: &PathBuf, port: u16, udp: bool) -> Result<(usize, f64, f64), String> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pyzk_check.py");
    let mut cmd = tokio::process::Command::new(python);
    cmd.arg(script)
        .args(["--port", &port.to_string(), "--summary", "--timeout", "30"]);
    if udp {
        cmd.arg("--udp");
    }
    let started = Instant::now();
    let out = cmd.output().await.map_err(|e| e.to_string())?;
    let wall = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| -> Option<f64> {
        let at = text.find(&format!("\"{name}\": "))? + name.len() + 4;
        let rest = &text[at..];
        let end = rest.find([',', '}'])?;
        rest[..end].trim().parse().ok()
    };
    let count = field("record_count").ok_or("no record_count in pyzk output")? as usize;
    let secs = field("attendance_seconds").ok_or("no attendance_seconds in pyzk output")?;
    Ok((count, secs, wall))
}

fn rate(n: usize, secs: f64) -> f64 {
    n as f64 / secs.max(1e-9)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let users = synthetic_users(args.users, UserLayout::Zk8);
    let start = ZkDateTime::new(2025, 1, 6, 7, 30, 0).unwrap_or(ZkDateTime::EPOCH);
    let recs = synthetic_records(args.records, &users, start);

    // Parse throughput of the 40-byte layout.
    let body = match records::encode_attendance(&recs, RecordLayout::Full40) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("zk-bench: cannot encode records: {e}");
            return ExitCode::FAILURE;
        }
    };
    let t = Instant::now();
    let mut parsed = 0;
    for _ in 0..args.parse_rounds {
        parsed += records::parse_attendance(&body, RecordLayout::Full40)
            .map(|s| s.records.len())
            .unwrap_or(0);
    }
    let parse_secs = t.elapsed().as_secs_f64();
    println!(
        "parse 40-byte layout: {} records in {:.3}s = {:.0} records/s ({:.0} MB/s)",
        parsed,
        parse_secs,
        rate(parsed, parse_secs),
        (body.len() * args.parse_rounds) as f64 / parse_secs / 1e6
    );

    let sim = match Simulator::start(SimConfig {
        users,
        records: recs,
        ..SimConfig::default()
    })
    .await
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("zk-bench: cannot start simulator: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "simulator {} with {} users, {} records (40-byte layout)",
        sim.addr(),
        args.users,
        args.records
    );
    let python = pyzk_python();
    let mut ok = true;
    for transport in [Transport::Tcp, Transport::Udp] {
        let opts = ClientOptions {
            comm_key: 0,
            timeout: Duration::from_secs(10),
        };
        let t = Instant::now();
        let res = async {
            let mut c = ZkClient::connect(sim.addr(), transport, opts).await?;
            let pulled = c.attendance().await?;
            c.disconnect().await?;
            Ok::<_, hadir_drivers::zk::ZkError>(pulled.len())
        }
        .await;
        let ours_secs = t.elapsed().as_secs_f64();
        let ours = match res {
            Ok(n) => n,
            Err(e) => {
                eprintln!("zk-bench: ZkClient pull over {transport:?} failed: {e}");
                ok = false;
                continue;
            }
        };
        let ours_rate = rate(ours, ours_secs);
        println!(
            "{transport:?}: ZkClient pulled {ours} records in {ours_secs:.3}s = {ours_rate:.0} records/s (incl. connect)"
        );
        let Some(python) = &python else {
            println!("{transport:?}: pyzk not installed (create target/pyzk-venv); no comparison");
            continue;
        };
        match pyzk_pull(python, sim.addr().port(), transport == Transport::Udp).await {
            Ok((n, secs, wall)) => {
                let py_rate = rate(n, secs);
                println!(
                    "{transport:?}: pyzk     pulled {n} records in {secs:.3}s = {py_rate:.0} records/s (process wall {wall:.2}s)"
                );
                println!(
                    "{transport:?}: ratio ZkClient/pyzk = {:.1}x (goal >= 10x)",
                    ours_rate / py_rate
                );
            }
            Err(e) => {
                eprintln!("zk-bench: pyzk pull over {transport:?} failed: {e}");
                ok = false;
            }
        }
    }
    sim.shutdown().await;
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
