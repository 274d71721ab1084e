//! Benchmark: drain a 200k-record backlog to a real mosquitto broker with the reference receiver
//! acknowledging, and, in the same run, the rate of a plain QoS-1 publisher sending the same
//! bytes (the ceiling). Prints records/s for both and the ratio.
//!
//! `cargo bench -p hadir --bench forward_drain` (set HADIR_BENCH_RECORDS to change the size,
//! HADIR_BENCH_BATCH the batch size).

#[path = "../../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use rumqttc::{Client, Event, MqttOptions, Outgoing, Packet, QoS};
use support::peers::{Mosquitto, Receiver, BROKER_PASS, BROKER_USER};
use support::{post_punches, test_config, Gateway, TempDir};

fn main() {
    let records: u32 = std::env::var("HADIR_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let batch: u32 = std::env::var("HADIR_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let window = 8;
    let dir = TempDir::new("bench-drain");
    let broker = Mosquitto::start(dir.path());
    let config = dir.path().join("hadir.toml");

    // 1. Fill the backlog with forwarding off.
    std::fs::write(&config, test_config(dir.path(), "")).unwrap();
    let gw = Gateway::start(&config);
    let t = Instant::now();
    let mut n = 0u32;
    while n < records {
        let punches: Vec<_> = (n..(n + 1000).min(records))
            .map(|i| {
                serde_json::json!({
                    "device": format!("reader-{}", i % 5),
                    "employee": format!("1987{:014}", i % 2000),
                    "time": format!("2026-{:02}-{:02}T{:02}:{:02}:{:02}", 1 + i / (86_400 * 28) % 12, 1 + i / 86_400 % 28, i % 86_400 / 3600, i / 60 % 60, i % 60),
                    "state": 0
                })
            })
            .collect();
        let r = post_punches(gw.admin, &serde_json::Value::Array(punches)).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        n += 1000;
    }
    let fill = t.elapsed();
    assert_eq!(gw.terminate(), Some(0));
    println!("intake: {records} records via the import API in {:.2} s = {:.0} records/s (1000 per request, durable commit each)", fill.as_secs_f64(), records as f64 / fill.as_secs_f64());

    // 2. Drain it to mosquitto + receiver.
    let receiver = Receiver::start(
        &dir.path().join("receiver.db"),
        &["--mqtt", &broker.url(), "--username", BROKER_USER, "--tofu"],
    );
    let upstream = format!(
        "[upstream]\nmode = \"mqtt\"\nurl = \"{}\"\nusername = \"{BROKER_USER}\"\npassword = \"{BROKER_PASS}\"\n\
         batch_max_records = {batch}\nbatch_max_age_s = 0\nmax_in_flight = {window}\n",
        broker.url()
    );
    std::fs::write(&config, test_config(dir.path(), &upstream)).unwrap();
    let t = Instant::now();
    let gw = Gateway::start(&config);
    // The forwarder starts right after the ready line; the drain is timed from there to the
    // gateway's durable mark of the last acknowledged batch (its own `last_forward_utc`), so
    // polling /health (which counts the whole store) can be slow and stay out of the way.
    let ready = jiff::Timestamp::now();
    let startup = t.elapsed();
    let last_mark = loop {
        let h = support::http(gw.admin, "GET", "/health", &[], b"")
            .unwrap()
            .json();
        if h["store"]["backlog"] == 0 {
            let last: jiff::Timestamp = h["store"]["last_forward_utc"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("last_forward_utc after a drain");
            break last;
        }
        assert!(
            t.elapsed() < Duration::from_secs(1800),
            "drain did not finish"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    let drain: Duration = last_mark
        .duration_since(ready)
        .try_into()
        .expect("the last mark is after the ready line");
    let held = receiver.record_ids().len();
    assert_eq!(held, records as usize, "receiver holds {held}");
    let bytes = std::fs::metadata(dir.path().join("receiver.db"))
        .map(|m| m.len())
        .unwrap_or(0);
    let drain_rate = records as f64 / drain.as_secs_f64();
    println!(
        "drain:  {records} records in {:.2} s = {drain_rate:.0} records/s (batches of {batch}, {window} in flight, signed; receiver verifies + commits + acks; gateway marks durably; from ready to the last mark; gateway start-up before that: {:.2} s)",
        drain.as_secs_f64(),
        startup.as_secs_f64()
    );

    // 3. The ceiling: a plain QoS-1 publisher sending the same number of same-sized messages.
    let sample = {
        let conn = rusqlite::Connection::open(dir.path().join("data/hadir.db")).unwrap();
        let body_bytes: i64 = conn
            .query_row(
                "SELECT SUM(LENGTH(body)) + COUNT(*) * 260 FROM outbox",
                [],
                |r| r.get(0),
            )
            .unwrap();
        body_bytes as usize / (records as usize / batch as usize)
    };
    // Several rounds of the drain's message count back to back on one connection; the median
    // round is the ceiling (one round alone is ~0.1 s and jumps around).
    let messages = records.div_ceil(batch) as usize;
    let rounds = 9;
    let mut opts = MqttOptions::new("bench-ceiling", "127.0.0.1", broker.port);
    opts.set_credentials(BROKER_USER, BROKER_PASS);
    opts.set_max_packet_size(64 << 20, 64 << 20);
    let (client, mut conn) = Client::new(opts, 64);
    let payload = vec![b'x'; sample];
    let t = Instant::now();
    let publisher = std::thread::spawn(move || {
        for _ in 0..messages * rounds {
            client
                .publish("bench/ceiling", QoS::AtLeastOnce, false, payload.clone())
                .unwrap();
        }
        client
    });
    let mut acked = 0;
    let mut round_ends = vec![Duration::ZERO];
    for event in conn.iter() {
        match event {
            Ok(Event::Incoming(Packet::PubAck(_))) => {
                acked += 1;
                if acked % messages == 0 {
                    round_ends.push(t.elapsed());
                    if acked == messages * rounds {
                        break;
                    }
                }
            }
            Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
            Ok(_) => {}
            Err(e) => panic!("ceiling publisher: {e}"),
        }
    }
    let _ = publisher.join();
    let mut per_round: Vec<f64> = round_ends
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64())
        .collect();
    per_round.sort_by(f64::total_cmp);
    let median = per_round[per_round.len() / 2];
    let ceiling_rate = records as f64 / median;
    println!(
        "ceiling: {rounds} rounds of {messages} QoS-1 messages of {sample} bytes, no subscriber; median round {:.3} s (fastest {:.3}, slowest {:.3}) = {ceiling_rate:.0} records/s equivalent",
        median,
        per_round[0],
        per_round[per_round.len() - 1]
    );
    println!(
        "ratio:  drain / ceiling = {:.1} %",
        100.0 * drain_rate / ceiling_rate
    );
    println!("receiver database: {:.1} MiB", bytes as f64 / 1048576.0);
    drop(gw);
}
