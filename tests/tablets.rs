//! Tablet check-ins through the real binary's embedded broker, with real MQTT clients over TCP:
//! honest check-ins, retries, and every attack and fake-GPS sign the gateway must catch.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hadir::demo::tablet::Checkin;
use support::peers::free_port;
use support::tablet::{b64, jpeg, provision, try_connect, Tablet};
use support::*;

const NIP: &str = "198703152010011002";
const OFFICE: (f64, f64) = (0.5436, 117.6261);

struct Office {
    dir: TempDir,
    config: PathBuf,
    gw: Gateway,
    port: u16,
    display_token: String,
}

impl Office {
    fn start(tag: &str) -> Office {
        Office::start_with(tag, "")
    }

    /// Starts with more `[tablets]` settings.
    fn start_with(tag: &str, tablets: &str) -> Office {
        let dir = TempDir::new(tag);
        let port = free_port();
        let config = dir.path().join("hadir.toml");
        std::fs::write(
            &config,
            test_config(
                dir.path(),
                &format!("[tablets]\nlisten = \"127.0.0.1:{port}\"\n{tablets}"),
            ),
        )
        .unwrap();
        // Register before start so the first reload sees them; later ones are picked up live.
        let gw = Gateway::start(&config);
        let display_token = std::fs::read_to_string(dir.path().join("data/display-token"))
            .unwrap()
            .trim()
            .to_string();
        let office = Office {
            dir,
            config,
            gw,
            port,
            display_token,
        };
        office.add_employee(NIP, None);
        office
    }

    fn tablet(&self, name: &str) -> Tablet {
        let p = provision(&self.config, name);
        std::thread::sleep(Duration::from_millis(3500)); // the gateway reloads tablets every 3 s
        Tablet::connect(self.port, &p)
    }

    fn add_employee(&self, nip: &str, home: Option<(f64, f64)>) {
        let mut body = serde_json::json!({"name": "Siti Rahma", "unit": "Bidang Umum"});
        if let Some((lat, lon)) = home {
            body["home_lat"] = lat.into();
            body["home_lon"] = lon.into();
        }
        let r = http(
            self.gw.admin,
            "PUT",
            &format!("/api/v1/employees/{nip}"),
            &[("Authorization", &format!("Bearer {TOKEN}"))],
            body.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
    }

    fn qr(&self) -> String {
        let r = http(
            self.gw.admin,
            "GET",
            &format!("/api/v1/qr?token={}", self.display_token),
            &[],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["code"].as_str().unwrap().to_string()
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("data/hadir.db")).unwrap()
    }

    fn count(&self, table: &str) -> i64 {
        self.db()
            .query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }
}

fn checkin(office: &Office, tablet: &Tablet, seed: u64) -> serde_json::Value {
    let mut msg = Checkin {
        nip: NIP,
        mode: "regular",
        at: (OFFICE.0 + 0.00011, OFFICE.1 + 0.00007),
        accuracy_m: 8.5,
        qr: &office.qr(),
        photo: &jpeg(seed),
        nonce: format!("nonce{seed:08}"),
        utc_offset_h: 8,
    }
    .to_json();
    msg["tablet"] = tablet.id.clone().into();
    msg
}

fn codes(reply: &serde_json::Value) -> Vec<String> {
    reply["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn an_honest_check_in_is_accepted_stored_and_survives_kill_9() {
    let office = Office::start("tab-ok");
    let tablet = office.tablet("Tablet Pintu Depan");
    let reply = tablet.checkin(&checkin(&office, &tablet, 1));
    assert_eq!(reply["verdict"], "accepted", "{reply:#}");
    assert_eq!(reply["message_id"], "Presensi diterima");
    assert_eq!(reply["counted"], true);
    let receipt = reply["receipt"].as_str().unwrap().to_string();
    let Office { dir, gw, .. } = office;
    gw.kill9();
    let conn = rusqlite::Connection::open(dir.path().join("data/hadir.db")).unwrap();
    let (verdict, employee): (String, String) = conn
        .query_row(
            "SELECT verdict, employee FROM attendance WHERE record_id = ?1",
            [&receipt],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((verdict.as_str(), employee.as_str()), ("accepted", NIP));
    let queued: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM outbox WHERE record_id = ?1",
            [&receipt],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(queued, 1, "the check-in is queued for the province");
    let photos: i64 = conn
        .query_row("SELECT COUNT(*) FROM checkin_photos", [], |r| r.get(0))
        .unwrap();
    assert_eq!(photos, 0, "accepted selfies are not kept");
}

#[test]
fn a_burst_larger_than_the_brokers_link_buffer_is_answered_in_full() {
    // One check-in verified at a time, so a burst piles up in the broker: once more than ~200
    // wait, rumqttd stops feeding the gateway's link until the gateway asks again. Before the
    // gateway did, such a burst was answered at a few check-ins a second.
    let office = Office::start_with("tab-burst", "queue = 1\n");
    let tablet = office.tablet("t1");
    let topic = hadir::tablets::envelope::checkin_topic(&tablet.id);
    const BURST: u64 = 300;
    for seed in 1..=BURST {
        let msg = checkin(&office, &tablet, seed);
        let sealed = tablet.key.seal(&topic, msg.to_string().as_bytes());
        tablet
            .client
            .publish(&topic, rumqttc::QoS::AtLeastOnce, false, sealed)
            .unwrap();
    }
    let mut receipts = std::collections::HashSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while (receipts.len() as u64) < BURST && std::time::Instant::now() < deadline {
        if let Some(reply) = tablet.next_reply(Duration::from_secs(1)) {
            if let Some(r) = reply["receipt"].as_str() {
                receipts.insert(r.to_string());
            }
        }
    }
    assert_eq!(
        receipts.len() as u64,
        BURST,
        "every check-in of the burst gets its receipt"
    );
    assert_eq!(office.count("checkins"), BURST as i64);
}

#[test]
fn a_retry_with_the_same_nonce_gets_the_same_receipt_and_is_stored_once() {
    let office = Office::start("tab-retry");
    let tablet = office.tablet("t1");
    let msg = checkin(&office, &tablet, 2);
    let first = tablet.checkin(&msg);
    let second = tablet.checkin(&msg);
    assert_eq!(first["receipt"], second["receipt"]);
    assert_eq!(office.count("checkins"), 1);
}

#[test]
fn two_check_ins_arriving_together_are_judged_one_after_the_other() {
    // The same employee from two tablets at the same moment, the second with the first's photo:
    // the rules must see the first when judging the second, although neither is committed when
    // the other arrives. Only one counts, and the second photo is a replay.
    let office = Office::start("tab-together");
    let (a, b) = (office.tablet("t1"), office.tablet("t2"));
    let together = |first: &serde_json::Value, second: &serde_json::Value| {
        for (tablet, msg) in [(&a, first), (&b, second)] {
            let topic = hadir::tablets::envelope::checkin_topic(&tablet.id);
            let sealed = tablet.key.seal(&topic, msg.to_string().as_bytes());
            tablet
                .client
                .publish(&topic, rumqttc::QoS::AtLeastOnce, false, sealed)
                .unwrap();
        }
        [&a, &b].map(|t| t.next_reply(Duration::from_secs(10)).expect("a reply"))
    };
    let first = checkin(&office, &a, 701);
    let mut second = checkin(&office, &b, 702);
    second["photo"] = first["photo"].clone();
    let replies = together(&first, &second);
    let replayed = replies
        .iter()
        .filter(|r| codes(r).iter().any(|c| c == "photo.replayed"))
        .count();
    assert_eq!(replayed, 1, "the later photo is a replay: {replies:#?}");
    // Another employee, two fresh photos: the second is a repeat within the window.
    const NIP2: &str = "199001012015032001";
    office.add_employee(NIP2, None);
    let (mut first, mut second) = (checkin(&office, &a, 703), checkin(&office, &b, 704));
    first["nip"] = NIP2.into();
    second["nip"] = NIP2.into();
    let replies = together(&first, &second);
    assert!(
        replies.iter().all(|r| r["verdict"] == "accepted"),
        "{replies:#?}"
    );
    let counted = replies.iter().filter(|r| r["counted"] == true).count();
    assert_eq!(counted, 1, "one of the two counts: {replies:#?}");
    assert_eq!(office.count("checkins"), 4, "all are kept");
}

#[test]
fn a_wrong_password_cannot_connect() {
    let office = Office::start("tab-auth");
    let p = provision(&office.config, "t1");
    std::thread::sleep(Duration::from_millis(3500));
    let id = p["tablet"].as_str().unwrap();
    assert!(try_connect(office.port, id, "salah", "hadir/tablet/t1/reply").is_err());
    assert!(try_connect(office.port, "someone", "x", "x").is_err());
    // The right password, but another client id than the username, is refused too.
    assert!(try_connect(office.port, "t2", p["password"].as_str().unwrap(), "x").is_err());
}

#[test]
fn a_tablet_subscribed_to_everything_learns_nothing_readable_of_another_check_in() {
    let office = Office::start("tab-snoop");
    let honest = office.tablet("honest");
    let p = provision(&office.config, "snoop");
    std::thread::sleep(Duration::from_millis(3500));
    let snoop = {
        let id = p["tablet"].as_str().unwrap();
        let (client, rx) =
            try_connect(office.port, id, p["password"].as_str().unwrap(), "#").unwrap();
        (client, rx)
    };
    let reply = honest.checkin(&checkin(&office, &honest, 3));
    assert_eq!(reply["verdict"], "accepted");
    std::thread::sleep(Duration::from_millis(300));
    let seen: Vec<(String, Vec<u8>)> = snoop.1.try_iter().collect();
    assert!(
        seen.len() >= 2,
        "the snooper saw the check-in and the reply go by: {}",
        seen.len()
    );
    let snoop_key = {
        let secret =
            hadir::tablets::envelope::parse_secret(p["secret_key"].as_str().unwrap()).unwrap();
        let gateway =
            hadir::tablets::envelope::parse_public(p["gateway_key"].as_str().unwrap()).unwrap();
        hadir::tablets::envelope::TabletKey::derive(&secret, &gateway, "honest")
    };
    for (topic, bytes) in seen {
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(NIP) && !text.contains("accepted") && !text.contains("/9j/"),
            "readable on {topic}: {text}"
        );
        assert!(
            snoop_key.open(&topic, &bytes).is_err(),
            "the snooper's key opened {topic}"
        );
    }
}

#[test]
fn publishing_on_another_tablets_topic_is_refused_and_stores_nothing() {
    let office = Office::start("tab-spoof");
    let victim = office.tablet("victim");
    let attacker = office.tablet("attacker");
    // The attacker seals with its own key but publishes on the victim's topic, as the victim.
    let mut msg = checkin(&office, &attacker, 4);
    msg["tablet"] = "victim".into();
    let topic = hadir::tablets::envelope::checkin_topic("victim");
    let sealed = attacker.key.seal(&topic, msg.to_string().as_bytes());
    attacker
        .client
        .publish(&topic, rumqttc::QoS::AtLeastOnce, false, sealed)
        .unwrap();
    let reply = victim
        .next_reply(Duration::from_secs(10))
        .expect("a reply on the victim's topic");
    assert_eq!(reply["verdict"], "error");
    assert_eq!(codes(&reply), vec!["input.envelope"]);
    // A forged HMAC/ciphertext on its own topic is refused the same way.
    let reply = attacker.publish_raw(
        &hadir::tablets::envelope::checkin_topic("attacker"),
        br#"{"v":1,"n":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","c":"AAAAAAAAAAAAAAAAAAAAAA=="}"#
            .to_vec(),
    );
    assert_eq!(codes(&reply), vec!["input.envelope"]);
    assert_eq!(office.count("checkins"), 0);
}

#[test]
fn malformed_input_gets_a_reason_and_the_connection_survives() {
    let office = Office::start("tab-bad");
    let tablet = office.tablet("t1");
    let topic = hadir::tablets::envelope::checkin_topic(&tablet.id);
    // Garbage instead of an envelope.
    let reply = tablet.publish_raw(&topic, b"\x00\x01garbage{".to_vec());
    assert_eq!(codes(&reply), vec!["input.envelope"]);
    // A sealed envelope around garbage JSON.
    let reply = tablet.publish_raw(&topic, tablet.key.seal(&topic, b"{not json"));
    assert_eq!(codes(&reply), vec!["input.payload"]);
    // Oversized photo.
    let mut msg = checkin(&office, &tablet, 5);
    msg["photo"] = b64(&vec![0xAB; 600 * 1024]).into();
    let reply = tablet.checkin(&msg);
    assert_eq!(codes(&reply), vec!["input.payload"]);
    assert!(
        reply["message_en"].as_str().unwrap().contains("photo"),
        "{reply:#}"
    );
    // A PNG pretending to be a JPEG, and a truncated JPEG.
    let mut msg = checkin(&office, &tablet, 6);
    msg["photo"] = b64(b"\x89PNG\r\n\x1a\n0000000000000000").into();
    let reply = tablet.checkin(&msg);
    assert_eq!(codes(&reply), vec!["photo.not-jpeg"], "{reply:#}");
    assert_eq!(reply["verdict"], "error");
    let mut msg = checkin(&office, &tablet, 7);
    msg["photo"] = b64(&jpeg(7)[..200]).into();
    let reply = tablet.checkin(&msg);
    assert_eq!(codes(&reply), vec!["photo.truncated"], "{reply:#}");
    assert_eq!(office.count("checkins"), 0);
    // Still connected and served.
    let reply = tablet.checkin(&checkin(&office, &tablet, 8));
    assert_eq!(reply["verdict"], "accepted", "{reply:#}");
}

fn expect(
    office: &Office,
    tablet: &Tablet,
    mut msg: serde_json::Value,
    edit: impl FnOnce(&mut serde_json::Value),
    verdict: &str,
    code: &str,
) {
    edit(&mut msg);
    let reply = tablet.checkin(&msg);
    assert_eq!(reply["verdict"], verdict, "{code}: {reply:#}");
    assert!(
        codes(&reply).iter().any(|c| c == code),
        "{code} missing: {reply:#}"
    );
    assert!(reply["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| !r["id"].as_str().unwrap().is_empty()));
    let _ = office;
}

#[test]
fn every_fake_gps_sign_is_caught_with_its_reason() {
    let office = Office::start("tab-gps");
    let tablet = office.tablet("t1");
    let mut seed = 100;
    let mut next = |o: &Office| {
        seed += 1;
        checkin(o, &tablet, seed)
    };
    expect(
        &office,
        &tablet,
        next(&office),
        |m| m["location"]["mock"] = true.into(),
        "rejected",
        "gps.mock",
    );
    expect(
        &office,
        &tablet,
        next(&office),
        |m| {
            m["location"]["lat"] = 0.0.into();
            m["location"]["lon"] = 0.0.into();
        },
        "rejected",
        "gps.zero",
    );
    expect(
        &office,
        &tablet,
        next(&office),
        |m| m["location"]["accuracy_m"] = 0.4.into(),
        "needs-review",
        "gps.accuracy-too-perfect",
    );
    expect(
        &office,
        &tablet,
        next(&office),
        |m| m["location"]["accuracy_m"] = 900.0.into(),
        "needs-review",
        "gps.accuracy-poor",
    );
    expect(
        &office,
        &tablet,
        next(&office),
        |m| {
            m["location"]["lat"] = 0.544.into();
            m["location"]["lon"] = 117.626.into();
        },
        "needs-review",
        "gps.round-coordinates",
    );
    expect(
        &office,
        &tablet,
        next(&office),
        |m| {
            m["location"]["fix_time"] = jiff::Timestamp::now()
                .checked_sub(jiff::SignedDuration::from_hours(2))
                .unwrap()
                .to_string()
                .into();
        },
        "needs-review",
        "gps.stale-fix",
    );
    expect(
        &office,
        &tablet,
        next(&office),
        |m| m["client_time"] = "2026-01-01T07:00:00+08:00".into(),
        "rejected",
        "time.client-skew",
    );
    // Far outside the office.
    expect(
        &office,
        &tablet,
        next(&office),
        |m| {
            m["location"]["lat"] = (-6.175392).into();
            m["location"]["lon"] = 106.827153.into();
        },
        "rejected",
        "geofence.outside",
    );
    // Jakarta a moment after the office: impossible speed.
    let reply = tablet.checkin(&next(&office));
    assert_eq!(reply["verdict"], "accepted", "{reply:#}");
    expect(
        &office,
        &tablet,
        next(&office),
        |m| {
            m["location"]["lat"] = (-6.175392).into();
            m["location"]["lon"] = 106.827153.into();
            m["mode"] = "wfh".into();
        },
        "rejected",
        "gps.impossible-speed",
    );
}

#[test]
fn expired_forged_and_missing_office_codes_are_refused() {
    let office = Office::start("tab-qr");
    let tablet = office.tablet("t1");
    let secret = hex::decode(
        std::fs::read_to_string(office.dir.path().join("data/qr-secret"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let old = hadir::verify::qr::code_at(
        &secret,
        30,
        jiff::Timestamp::now() - jiff::SignedDuration::from_secs(300),
    );
    expect(
        &office,
        &tablet,
        checkin(&office, &tablet, 201),
        |m| m["qr"] = old.into(),
        "needs-review",
        "qr.expired",
    );
    expect(
        &office,
        &tablet,
        checkin(&office, &tablet, 202),
        |m| m["qr"] = "H1-123-45678901".into(),
        "rejected",
        "qr.forged",
    );
    expect(
        &office,
        &tablet,
        checkin(&office, &tablet, 203),
        |m| {
            m.as_object_mut().unwrap().remove("qr");
        },
        "needs-review",
        "qr.missing",
    );
}

#[test]
fn a_replayed_photo_is_refused_and_kept_for_review() {
    let office = Office::start("tab-replay");
    let tablet = office.tablet("t1");
    let first = checkin(&office, &tablet, 301);
    assert_eq!(tablet.checkin(&first)["verdict"], "accepted");
    let mut again = checkin(&office, &tablet, 302);
    again["photo"] = first["photo"].clone();
    let reply = tablet.checkin(&again);
    assert!(
        codes(&reply).iter().any(|c| c == "photo.replayed"),
        "{reply:#}"
    );
    assert_ne!(reply["verdict"], "accepted");
    assert_eq!(
        office.count("checkin_photos"),
        1,
        "the suspicious selfie is kept for review"
    );
}

#[test]
fn official_travel_needs_a_travel_order_covering_the_day() {
    let office = Office::start("tab-travel");
    let tablet = office.tablet("t1");
    let away = |m: &mut serde_json::Value| {
        m["mode"] = "dinas-luar".into();
        m["location"]["lat"] = (-0.502106).into();
        m["location"]["lon"] = 117.153709.into();
        m.as_object_mut().unwrap().remove("qr");
    };
    expect(
        &office,
        &tablet,
        checkin(&office, &tablet, 401),
        away,
        "needs-review",
        "travel.no-order",
    );
    let today = jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::get("Asia/Makassar").unwrap())
        .date();
    let body = serde_json::json!({"nip": NIP, "spt_number": "800/123/BKPSDM/XI/2026", "from": today.to_string(), "to": today.to_string()});
    let r = http(
        office.gw.admin,
        "POST",
        "/api/v1/travel-orders",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
        body.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let mut msg = checkin(&office, &tablet, 402);
    away(&mut msg);
    let reply = tablet.checkin(&msg);
    assert_eq!(reply["verdict"], "accepted", "{reply:#}");
}

#[test]
fn mosquitto_clients_from_the_shell_get_a_reason_for_garbage() {
    let office = Office::start("tab-shell");
    let p = provision(&office.config, "shell");
    std::thread::sleep(Duration::from_millis(3500));
    let id = p["tablet"].as_str().unwrap();
    let pass = p["password"].as_str().unwrap();
    let port = office.port.to_string();
    let sub = Command::new("mosquitto_sub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-i",
            id,
            "-u",
            id,
            "-P",
            pass,
            "-t",
            &format!("hadir/tablet/{id}/reply"),
            "-C",
            "1",
            "-W",
            "10",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    // mosquitto_pub must use another client id; the broker only admits client id == username, so
    // it uses the same id after the subscriber... instead publish with a second tablet.
    let p2 = provision(&office.config, "shell-pub");
    std::thread::sleep(Duration::from_millis(3500));
    let id2 = p2["tablet"].as_str().unwrap();
    let _ = (id2, Path::new("."));
    let status = Command::new("mosquitto_pub")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-i",
            id2,
            "-u",
            id2,
            "-P",
            p2["password"].as_str().unwrap(),
            "-q",
            "1",
            "-t",
            &format!("hadir/tablet/{id}/checkin"),
            "-m",
            "bukan json",
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let out = sub.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("input.envelope"), "mosquitto_sub got: {text}");
    assert_eq!(office.count("checkins"), 0);
}

#[test]
fn the_tls_and_websocket_listeners_admit_registered_tablets_only() {
    use std::io::{Read, Write};
    let dir = TempDir::new("tab-tls");
    let (tcp, tls, ws) = (free_port(), free_port(), free_port());
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    // A test CA and a server certificate for 127.0.0.1 signed by it.
    let d = dir.path();
    std::fs::write(
        d.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=hadir-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "key.pem",
        "-out",
        "leaf.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        "cert.pem",
        "-extfile",
        "san.ext",
    ]);
    let config = dir.path().join("hadir.toml");
    std::fs::write(
        &config,
        test_config(
            dir.path(),
            &format!(
                "[tablets]\nlisten = \"127.0.0.1:{tcp}\"\ntls_listen = \"127.0.0.1:{tls}\"\nws_listen = \"127.0.0.1:{ws}\"\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\n",
                cert.display(),
                key.display()
            ),
        ),
    )
    .unwrap();
    let gw = Gateway::start(&config);
    for kind in ["tablets mqtt://", "tablets mqtts://", "tablets ws://"] {
        assert!(
            gw.stdout_lines.iter().any(|l| l.contains(kind)),
            "{kind} not announced: {:#?}",
            gw.stdout_lines
        );
    }
    let p = provision(&config, "tls-tablet");
    std::thread::sleep(Duration::from_millis(3500));
    let id = p["tablet"].as_str().unwrap();
    let pass = p["password"].as_str().unwrap();
    let ca = std::fs::read(d.join("ca.pem")).unwrap();
    let reply_topic = hadir::tablets::envelope::reply_topic(id);
    let r = support::tablet::try_connect_with(tls, id, pass, &reply_topic, Some(&ca));
    assert!(r.is_ok(), "TLS login failed: {:?}", r.err());
    assert!(support::tablet::try_connect_with(tls, id, "salah", &reply_topic, Some(&ca)).is_err());
    // WebSocket: the broker answers the MQTT-over-WebSocket upgrade.
    let mut s = std::net::TcpStream::connect(("127.0.0.1", ws)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1:{ws}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: mqtt\r\n\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf).unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    drop(gw);
}
