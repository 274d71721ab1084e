//! Benchmark: 200 simulated tablets check in over the embedded broker (no face model), in two
//! phases of 30 s each: capacity (closed loop: each tablet sends its next check-in when it has
//! its reply) and latency at a fixed offered load (open loop: 2,000 check-ins/s on a fixed
//! schedule, latency counted from the scheduled send). Prints check-ins/s, p50/p99 latency, the
//! daemon's peak RSS, where the pipeline's time went (from `/metrics`), and the broker's raw
//! QoS-1 publish→PUBACK rate (the ceiling).
//!
//! `cargo bench -p hadir --bench tablet_checkins` (HADIR_BENCH_SECS, HADIR_BENCH_TABLETS,
//! HADIR_BENCH_RATE).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hadir::tablets::envelope::{self, TabletKey};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use support::peers::free_port;
use support::tablet::{b64, provision};
use support::{http, test_config, Gateway, TempDir, TOKEN};

fn tiny_jpeg(seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut px = Vec::with_capacity(32 * 32 * 3);
    let mut blocks = [0u8; 64];
    for b in blocks.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    for y in 0..32 {
        for xx in 0..32 {
            let v = blocks[(y / 4) * 8 + xx / 4];
            px.extend_from_slice(&[v, v, v]);
        }
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, 80)
        .encode(&px, 32, 32, jpeg_encoder::ColorType::Rgb)
        .unwrap();
    out
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    hadir::memory::ProcStatus::read(Some(pid))
        .and_then(|s| s.kib(field))
        .unwrap_or(0)
}

/// The daemon's largest resident set seen, KiB, with its anonymous and file-backed parts.
#[derive(Default, Clone, Copy)]
struct PeakRss {
    total: u64,
    anon: u64,
    file: u64,
}

impl PeakRss {
    /// Reads the daemon's status and keeps it if its resident set is the largest yet.
    fn sample(&mut self, pid: u32) {
        let Some(status) = hadir::memory::ProcStatus::read(Some(pid)) else {
            return;
        };
        let kib = |f| status.kib(f).unwrap_or(0);
        if kib("VmRSS") > self.total {
            *self = PeakRss {
                total: kib("VmRSS"),
                anon: kib("RssAnon"),
                file: kib("RssFile"),
            };
        }
    }
}

fn main() {
    let secs: u64 = std::env::var("HADIR_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let n_tablets: usize = std::env::var("HADIR_BENCH_TABLETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let dir = TempDir::new("bench-tablets");
    let port = free_port();
    let config = dir.path().join("hadir.toml");
    std::fs::write(
        &config,
        test_config(
            dir.path(),
            &format!("[tablets]\nlisten = \"127.0.0.1:{port}\"\nmax_connections = 1000\n"),
        ),
    )
    .unwrap();
    // Register tablets before start (one CLI call each).
    let t = Instant::now();
    let provs: Vec<serde_json::Value> = (0..n_tablets)
        .map(|i| provision(&config, &format!("bench-{i}")))
        .collect();
    let ceiling_provs = [
        provision(&config, "ceiling-sub"),
        provision(&config, "ceiling-pub"),
    ];
    eprintln!(
        "registered {n_tablets} tablets in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let gw = Gateway::start(&config);
    let pid = gw.child.id();
    let display = std::fs::read_to_string(dir.path().join("data/display-token"))
        .unwrap()
        .trim()
        .to_string();
    for i in 0..n_tablets {
        let body = serde_json::json!({"name": format!("Pegawai {i}")}).to_string();
        http(
            gw.admin,
            "PUT",
            &format!("/api/v1/employees/1990{i:014}"),
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            body.as_bytes(),
        )
        .unwrap();
    }
    let qr = Arc::new(Mutex::new(String::new()));
    let refresh_qr = {
        let qr = qr.clone();
        let admin = gw.admin;
        move || {
            let r = http(
                admin,
                "GET",
                &format!("/api/v1/qr?token={display}"),
                &[],
                b"",
            )
            .unwrap();
            *qr.lock().unwrap() = r.json()["code"].as_str().unwrap().to_string();
        }
    };
    refresh_qr();
    let rate: u64 = std::env::var("HADIR_BENCH_RATE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let next_photo = Arc::new(AtomicU64::new(1));
    let peak = Arc::new(Mutex::new(PeakRss::default()));
    let tablets = rt.block_on(connect(&provs, port));
    eprintln!("{n_tablets} tablets connected");

    let phase = |load| {
        rt.block_on(run_phase(
            &tablets,
            load,
            secs,
            &qr,
            &refresh_qr,
            &next_photo,
            pid,
            &peak,
        ))
    };
    // Phase 1, capacity: every tablet sends its next check-in as soon as it has its reply.
    let closed = phase(Load::Closed);
    println!("tablets: {n_tablets}");
    println!(
        "capacity (closed loop: each tablet waits for its reply), {:.1} s: {:.0} replies/s, {:.0} accepted/s; publish→reply p50 {:.1} ms, p99 {:.1} ms",
        closed.elapsed, closed.replies as f64 / closed.elapsed, closed.accepted as f64 / closed.elapsed, closed.pct(0.5), closed.pct(0.99)
    );
    closed.print_not_accepted();
    // Let the gateway finish what phase 1 left in flight.
    std::thread::sleep(Duration::from_secs(3));
    // Phase 2, latency at a given load: check-ins leave on a fixed schedule (each tablet every
    // tablets/rate seconds, phases spread), whether or not earlier ones were answered, and
    // latency counts from the scheduled send, so a stalled gateway cannot hide its queue.
    let open = phase(Load::Open { per_second: rate });
    println!(
        "offered {rate}/s (open loop, fixed schedule), {:.1} s: sent {}, {:.0} replies/s, {:.0} accepted/s, unanswered {}; scheduled-send→reply p50 {:.1} ms, p99 {:.1} ms",
        open.elapsed, open.sent, open.replies as f64 / open.elapsed, open.accepted as f64 / open.elapsed,
        open.sent.saturating_sub(open.replies), open.pct(0.5), open.pct(0.99)
    );
    open.print_not_accepted();
    open.print_slow_seconds();
    let peak = *peak.lock().unwrap();
    println!(
        "daemon RSS: peak {:.1} MiB = anonymous {:.1} + file-backed {:.1} (VmHWM {:.1} MiB)",
        peak.total as f64 / 1024.0,
        peak.anon as f64 / 1024.0,
        peak.file as f64 / 1024.0,
        rss_kib(pid, "VmHWM") as f64 / 1024.0
    );
    print_pipeline_breakdown(gw.admin);

    // Ceiling: the broker's raw QoS-1 publish→receive rate with the same payload size.
    let size = {
        let p = &provs[0];
        let id = p["tablet"].as_str().unwrap();
        let secret = envelope::parse_secret(p["secret_key"].as_str().unwrap()).unwrap();
        let gateway = envelope::parse_public(p["gateway_key"].as_str().unwrap()).unwrap();
        let key = TabletKey::derive(&secret, &gateway, id);
        let msg = serde_json::json!({"photo": b64(&tiny_jpeg(1)), "pad": "x".repeat(300)});
        key.seal("x", msg.to_string().as_bytes()).len()
    };
    let count = 20_000u64;
    rt.block_on(async {
        let mk = |p: &serde_json::Value| {
            let id = p["tablet"].as_str().unwrap().to_string();
            let mut opts = MqttOptions::new(id.clone(), "127.0.0.1", port);
            opts.set_credentials(id, p["password"].as_str().unwrap());
            opts.set_max_packet_size(2 << 20, 2 << 20);
            opts.set_inflight(100);
            AsyncClient::new(opts, 256)
        };
        // The broker keeps tiny logs for filters other than the check-in filter, so the
        // ceiling is taken on the publisher side: QoS-1 publishes answered by PUBACK.
        let (publ, mut pub_el) = mk(&ceiling_provs[1]);
        let topic = "hadir/tablet/bench-ceiling/reply".to_string();
        let payload = vec![b'x'; size];
        let t = Instant::now();
        let sender = tokio::spawn(async move {
            for _ in 0..count {
                if publ.publish(topic.clone(), QoS::AtLeastOnce, false, payload.clone()).await.is_err() {
                    break;
                }
            }
            publ
        });
        let mut acked = 0u64;
        while acked < count {
            match tokio::time::timeout(Duration::from_secs(20), pub_el.poll()).await {
                Ok(Ok(Event::Incoming(Packet::PubAck(_)))) => acked += 1,
                Ok(_) => {}
                Err(_) => break,
            }
        }
        let e = t.elapsed().as_secs_f64();
        let _ = sender.await;
        println!("ceiling: broker QoS-1 publish→PUBACK {acked} messages of {size} bytes in {e:.2} s = {:.0} msg/s", acked as f64 / e);
    });
    drop(gw);
}

/// Where the gateway's time went, from its `/metrics`: mean milliseconds per check-in in each
/// pipeline stage and the store writer's group size.
fn print_pipeline_breakdown(admin: std::net::SocketAddr) {
    let Ok(r) = http(admin, "GET", "/metrics", &[], b"") else {
        return;
    };
    let text = r.body;
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    };
    let handled = value("hadir_checkins_handled_total").max(1.0);
    let stages: Vec<String> = [
        "queue", "parse", "history", "photo", "face", "verify", "store",
    ]
    .iter()
    .map(|s| {
        let secs = value(&format!(
            "hadir_checkin_stage_seconds_total{{stage=\"{s}\"}}"
        ));
        format!("{s} {:.2}", secs * 1000.0 / handled)
    })
    .collect();
    println!("pipeline, mean ms per check-in: {}", stages.join(", "));
    println!(
        "SQLite heap at the end: {:.1} MiB (page caches of every connection)",
        value("hadir_sqlite_memory_bytes") / f64::from(1 << 20)
    );
    let (commits, jobs, busy) = (
        value("hadir_store_commits_total").max(1.0),
        value("hadir_store_jobs_total"),
        value("hadir_store_busy_seconds_total"),
    );
    println!(
        "store writer: {commits:.0} commits, {:.1} writes per commit, {:.2} ms per commit, busy {busy:.1} s; {:.1} WAL pages per commit, {:.1} per check-in",
        jobs / commits,
        busy * 1000.0 / commits,
        value("hadir_store_wal_pages_written_total") / commits,
        value("hadir_store_wal_pages_written_total") / handled
    );
    println!(
        "WAL checkpoints: {:.0} passes, {:.2} s in all; {:.0} restarts (the writer waits), {:.3} s in all, longest {:.1} ms",
        value("hadir_store_checkpoints_total"),
        value("hadir_store_checkpoint_seconds_total"),
        value("hadir_store_wal_restarts_total"),
        value("hadir_store_wal_restart_seconds_total"),
        value("hadir_store_wal_restart_longest_seconds") * 1000.0
    );
    let syncs = value("hadir_store_wal_syncs_total").max(1.0);
    println!(
        "WAL syncs (beside the writer): {syncs:.0}, {:.1} commits each, mean {:.2} ms, longest {:.1} ms",
        value("hadir_store_commits_total") / syncs,
        value("hadir_store_wal_sync_seconds_total") * 1000.0 / syncs,
        value("hadir_store_wal_sync_longest_seconds") * 1000.0
    );
}

/// A connected benchmark tablet.
struct BenchTablet {
    id: String,
    nip: String,
    lat: f64,
    key: TabletKey,
    client: AsyncClient,
    replies: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<Vec<u8>>>,
}

async fn connect(provs: &[serde_json::Value], port: u16) -> Vec<Arc<BenchTablet>> {
    let mut out = Vec::with_capacity(provs.len());
    for (i, p) in provs.iter().enumerate() {
        let id = p["tablet"].as_str().unwrap().to_string();
        let secret = envelope::parse_secret(p["secret_key"].as_str().unwrap()).unwrap();
        let gateway = envelope::parse_public(p["gateway_key"].as_str().unwrap()).unwrap();
        let key = TabletKey::derive(&secret, &gateway, &id);
        let mut opts = MqttOptions::new(id.clone(), "127.0.0.1", port);
        opts.set_credentials(id.clone(), p["password"].as_str().unwrap());
        opts.set_max_packet_size(2 << 20, 2 << 20);
        let (client, mut el) = AsyncClient::new(opts, 64);
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(256);
        client
            .subscribe(envelope::reply_topic(&id), QoS::AtMostOnce)
            .await
            .unwrap();
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let mut ready = Some(ready_tx);
            loop {
                match el.poll().await {
                    Ok(Event::Incoming(Packet::SubAck(_))) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(());
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if tx.send(p.payload.to_vec()).await.is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        let _ = ready_rx.await;
        out.push(Arc::new(BenchTablet {
            id,
            nip: format!("1990{i:014}"),
            lat: 0.54361 + (i as f64) * 1e-6,
            key,
            client,
            replies: tokio::sync::Mutex::new(rx),
        }));
    }
    out
}

#[derive(Clone, Copy)]
enum Load {
    Closed,
    Open { per_second: u64 },
}

#[derive(Default)]
struct PhaseResult {
    elapsed: f64,
    sent: u64,
    replies: u64,
    accepted: u64,
    /// Reasons given for the replies that were not `accepted`, with how often.
    not_accepted: std::collections::BTreeMap<String, u64>,
    latencies_us: Vec<u32>,
    /// Replies slower than 50 ms, by the second of the phase their check-in was sent in.
    slow_by_second: std::collections::BTreeMap<u64, u64>,
}

impl PhaseResult {
    /// Whether the slow replies came in bursts (stalls) or all along (saturation).
    fn print_slow_seconds(&self) {
        let slow: u64 = self.slow_by_second.values().sum();
        if slow == 0 {
            return;
        }
        let mut worst: Vec<(u64, u64)> =
            self.slow_by_second.iter().map(|(s, n)| (*n, *s)).collect();
        worst.sort_unstable_by(|a, b| b.cmp(a));
        let list: Vec<String> = worst
            .iter()
            .take(6)
            .map(|(n, s)| format!("s{s} {n}"))
            .collect();
        println!(
            "  replies over 50 ms: {slow} in {} of the phase's seconds; most in: {}",
            self.slow_by_second.len(),
            list.join(", ")
        );
    }

    fn print_not_accepted(&self) {
        if !self.not_accepted.is_empty() {
            let list: Vec<String> = self
                .not_accepted
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            println!("  not accepted, by reason: {}", list.join(", "));
        }
    }

    fn pct(&self, q: f64) -> f64 {
        let lat = &self.latencies_us;
        lat.get(((lat.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    }
}

#[derive(Default)]
struct Tally {
    sent: AtomicU64,
    replies: AtomicU64,
    accepted: AtomicU64,
    not_accepted: Mutex<std::collections::BTreeMap<String, u64>>,
    latencies_us: Mutex<Vec<u32>>,
    slow_by_second: Mutex<std::collections::BTreeMap<u64, u64>>,
}

impl BenchTablet {
    fn checkin(&self, nonce: &str, qr: &str, photo_seed: u64) -> Vec<u8> {
        let msg = serde_json::json!({
            "v": 1, "tablet": self.id, "nip": self.nip,
            "client_time": jiff::Timestamp::now().to_string(), "mode": "regular",
            "location": {"lat": self.lat, "lon": 117.62612, "accuracy_m": 7.5, "provider": "gps"},
            "qr": qr, "photo": b64(&tiny_jpeg(photo_seed)), "nonce": nonce,
        });
        self.key.seal(
            &envelope::checkin_topic(&self.id),
            msg.to_string().as_bytes(),
        )
    }

    /// Opens a reply: its nonce, and the reason codes when it was not accepted.
    fn read_reply(&self, bytes: &[u8]) -> Option<(String, Option<Vec<String>>)> {
        let plain = self
            .key
            .open(&envelope::reply_topic(&self.id), bytes)
            .ok()?;
        let v: serde_json::Value = serde_json::from_slice(&plain).ok()?;
        let refused = (v["verdict"] != "accepted").then(|| {
            let reasons = v["reasons"].as_array().into_iter().flatten();
            reasons
                .filter(|r| r["severity"] != "info")
                .filter_map(|r| r["code"].as_str().map(str::to_string))
                .collect()
        });
        Some((v["nonce"].as_str()?.to_string(), refused))
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_phase(
    tablets: &[Arc<BenchTablet>],
    load: Load,
    secs: u64,
    qr: &Arc<Mutex<String>>,
    refresh_qr: &(impl Fn() + Clone + Send + 'static),
    next_photo: &Arc<AtomicU64>,
    pid: u32,
    peak: &Arc<Mutex<PeakRss>>,
) -> PhaseResult {
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let phase = match load {
        Load::Closed => "c",
        Load::Open { .. } => "o",
    };
    let n = tablets.len() as u64;
    let phase_start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for (i, t) in tablets.iter().enumerate() {
        let (t, stop, tally, qr, next_photo) = (
            t.clone(),
            stop.clone(),
            tally.clone(),
            qr.clone(),
            next_photo.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let topic = envelope::checkin_topic(&t.id);
            let mut replies = t.replies.lock().await;
            let phase_start = phase_start;
            while replies.try_recv().is_ok() {}
            let mut pending = std::collections::HashMap::<String, tokio::time::Instant>::new();
            let mut seq = 0u64;
            let record = |bytes: &[u8], pending: &mut std::collections::HashMap<String, tokio::time::Instant>| {
                if let Some((nonce, refused)) = t.read_reply(bytes) {
                    if let Some(sent) = pending.remove(&nonce) {
                        let latency = sent.elapsed();
                        tally.latencies_us.lock().unwrap().push(latency.as_micros() as u32);
                        if latency > Duration::from_millis(50) {
                            let second = sent.saturating_duration_since(phase_start).as_secs();
                            *tally.slow_by_second.lock().unwrap().entry(second).or_default() += 1;
                        }
                        tally.replies.fetch_add(1, Ordering::Relaxed);
                        match refused {
                            None => {
                                tally.accepted.fetch_add(1, Ordering::Relaxed);
                            }
                            Some(codes) => {
                                let mut by_code = tally.not_accepted.lock().unwrap();
                                for code in codes {
                                    *by_code.entry(code).or_default() += 1;
                                }
                            }
                        }
                    }
                }
            };
            match load {
                Load::Closed => {
                    while !stop.load(Ordering::Relaxed) {
                        seq += 1;
                        let nonce = format!("{phase}{i}n{seq:08}");
                        let code = qr.lock().unwrap().clone();
                        let body = t.checkin(&nonce, &code, next_photo.fetch_add(1, Ordering::Relaxed));
                        let at = tokio::time::Instant::now();
                        pending.insert(nonce, at);
                        tally.sent.fetch_add(1, Ordering::Relaxed);
                        if t.client.publish(topic.clone(), QoS::AtLeastOnce, false, body).await.is_err() {
                            break;
                        }
                        match tokio::time::timeout(Duration::from_secs(10), replies.recv()).await {
                            Ok(Some(bytes)) => record(&bytes, &mut pending),
                            Ok(None) => break,
                            Err(_) => continue,
                        }
                    }
                }
                Load::Open { per_second } => {
                    let period = Duration::from_secs_f64(n as f64 / per_second.max(1) as f64);
                    let offset = period.mul_f64(i as f64 / n as f64);
                    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    let mut sending = true;
                    loop {
                        tokio::select! {
                            scheduled = ticks.tick(), if sending => {
                                if stop.load(Ordering::Relaxed) {
                                    sending = false;
                                    continue;
                                }
                                seq += 1;
                                let nonce = format!("{phase}{i}n{seq:08}");
                                let code = qr.lock().unwrap().clone();
                                let body = t.checkin(&nonce, &code, next_photo.fetch_add(1, Ordering::Relaxed));
                                pending.insert(nonce, scheduled);
                                tally.sent.fetch_add(1, Ordering::Relaxed);
                                if t.client.publish(topic.clone(), QoS::AtLeastOnce, false, body).await.is_err() {
                                    break;
                                }
                            }
                            reply = replies.recv() => match reply {
                                Some(bytes) => record(&bytes, &mut pending),
                                None => break,
                            },
                            // After the schedule ends, wait up to 10 s for the last replies.
                            _ = tokio::time::sleep(Duration::from_secs(10)), if !sending => break,
                        }
                        if !sending && pending.is_empty() {
                            break;
                        }
                    }
                }
            }
        }));
    }
    let begin = Instant::now();
    while begin.elapsed() < Duration::from_secs(secs) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        tokio::task::spawn_blocking(refresh_qr.clone())
            .await
            .unwrap();
        peak.lock().unwrap().sample(pid);
    }
    let elapsed = begin.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    // Closed-loop tablets stop after their current check-in; open-loop ones after the answers to
    // what they sent (or 10 s).
    for t in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(15), t).await;
    }
    let mut latencies_us = std::mem::take(&mut *tally.latencies_us.lock().unwrap());
    latencies_us.sort_unstable();
    let not_accepted = std::mem::take(&mut *tally.not_accepted.lock().unwrap());
    let slow_by_second = std::mem::take(&mut *tally.slow_by_second.lock().unwrap());
    PhaseResult {
        elapsed,
        sent: tally.sent.load(Ordering::Relaxed),
        replies: tally.replies.load(Ordering::Relaxed),
        accepted: tally.accepted.load(Ordering::Relaxed),
        not_accepted,
        latencies_us,
        slow_by_second,
    }
}
