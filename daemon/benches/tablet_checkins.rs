//! Benchmark: 200 simulated tablets check in over the embedded broker for 30 s (no face model);
//! prints accepted check-ins/s, p50/p99 publish-to-reply latency, the daemon's peak RSS, and in
//! the same run the broker's raw publish→receive rate (the ceiling).
//!
//! `cargo bench -p hadir --bench tablet_checkins` (HADIR_BENCH_SECS, HADIR_BENCH_TABLETS).

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
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
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
    let photos: Arc<Vec<String>> = Arc::new(
        (0..(n_tablets as u64 * secs * 20).min(120_000))
            .map(|i| b64(&tiny_jpeg(i + 1)))
            .collect(),
    );
    eprintln!("prepared {} distinct photos", photos.len());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let accepted = Arc::new(AtomicU64::new(0));
    let replies = Arc::new(AtomicU64::new(0));
    let next_photo = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<u32>::new()));
    let start = Instant::now();
    let peak = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (i, p) in provs.iter().enumerate() {
            let id = p["tablet"].as_str().unwrap().to_string();
            let secret = envelope::parse_secret(p["secret_key"].as_str().unwrap()).unwrap();
            let gateway = envelope::parse_public(p["gateway_key"].as_str().unwrap()).unwrap();
            let key = TabletKey::derive(&secret, &gateway, &id);
            let mut opts = MqttOptions::new(id.clone(), "127.0.0.1", port);
            opts.set_credentials(id.clone(), p["password"].as_str().unwrap());
            opts.set_max_packet_size(2 << 20, 2 << 20);
            let (client, mut el) = AsyncClient::new(opts, 16);
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
            let reply_topic = envelope::reply_topic(&id);
            client.subscribe(reply_topic.clone(), QoS::AtMostOnce).await.unwrap();
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
            let (stop, accepted, replies, latencies, photos, next_photo, qr) =
                (stop.clone(), accepted.clone(), replies.clone(), latencies.clone(), photos.clone(), next_photo.clone(), qr.clone());
            tasks.push(tokio::spawn(async move {
                let topic = envelope::checkin_topic(&id);
                let nip = format!("1990{i:014}");
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let k = next_photo.fetch_add(1, Ordering::Relaxed) as usize % photos.len();
                    let code = qr.lock().unwrap().clone();
                    let msg = serde_json::json!({
                        "v": 1, "tablet": id, "nip": nip,
                        "client_time": jiff::Timestamp::now().to_string(), "mode": "regular",
                        "location": {"lat": 0.54361 + (i as f64) * 1e-6, "lon": 117.62612, "accuracy_m": 7.5, "provider": "gps"},
                        "qr": code, "photo": photos[k], "nonce": format!("b{i}n{n:08}"),
                    });
                    let sealed = key.seal(&topic, msg.to_string().as_bytes());
                    let t = Instant::now();
                    if client.publish(topic.clone(), QoS::AtLeastOnce, false, sealed).await.is_err() {
                        break;
                    }
                    match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                        Ok(Some(bytes)) => {
                            latencies.lock().unwrap().push(t.elapsed().as_micros() as u32);
                            replies.fetch_add(1, Ordering::Relaxed);
                            if let Ok(plain) = key.open(&reply_topic, &bytes) {
                                let v: serde_json::Value = serde_json::from_slice(&plain).unwrap_or_default();
                                if v["verdict"] == "accepted" {
                                    accepted.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        }
                        _ => continue,
                    }
                }
            }));
        }
        eprintln!("{n_tablets} tablets connected; running {secs} s");
        let begin = Instant::now();
        let (a0, r0) = (accepted.load(Ordering::Relaxed), replies.load(Ordering::Relaxed));
        latencies.lock().unwrap().clear();
        while begin.elapsed() < Duration::from_secs(secs) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let r = refresh_qr.clone();
            tokio::task::spawn_blocking(r).await.unwrap();
            peak.fetch_max(rss_kib(pid, "VmRSS:"), Ordering::Relaxed);
        }
        let elapsed = begin.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let acc = accepted.load(Ordering::Relaxed) - a0;
        let rep = replies.load(Ordering::Relaxed) - r0;
        let mut lat = latencies.lock().unwrap().clone();
        lat.sort_unstable();
        let pct = |q: f64| lat.get(((lat.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0) as f64 / 1000.0;
        println!("tablets: {n_tablets}, duration {elapsed:.1} s (closed loop: each tablet waits for its reply)");
        println!("check-ins: {:.0} replies/s, {:.0} accepted/s", rep as f64 / elapsed, acc as f64 / elapsed);
        println!("publish→reply latency: p50 {:.1} ms, p99 {:.1} ms", pct(0.5), pct(0.99));
        println!("daemon RSS: peak {:.1} MiB (VmHWM {:.1} MiB)", peak.load(Ordering::Relaxed) as f64 / 1024.0, rss_kib(pid, "VmHWM:") as f64 / 1024.0);
        for t in tasks {
            t.abort();
        }
    });
    let _ = start;

    // Ceiling: the broker's raw QoS-1 publish→receive rate with the same payload size.
    let size = {
        let p = &provs[0];
        let id = p["tablet"].as_str().unwrap();
        let secret = envelope::parse_secret(p["secret_key"].as_str().unwrap()).unwrap();
        let gateway = envelope::parse_public(p["gateway_key"].as_str().unwrap()).unwrap();
        let key = TabletKey::derive(&secret, &gateway, id);
        let msg = serde_json::json!({"photo": photos[0], "pad": "x".repeat(300)});
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
