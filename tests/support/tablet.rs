//! A tablet as the gateway's tests see it: provisioned with `hadir tablet add --json`, connected
//! to the embedded broker over real TCP with rumqttc, sealing check-ins with the documented
//! envelope and opening the replies.

use std::path::Path;
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use hadir::tablets::envelope::{self, TabletKey};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

/// Registers a tablet through the CLI and returns its provisioning JSON.
pub fn provision(config: &Path, name: &str) -> serde_json::Value {
    let out = Command::new(super::hadir_bin())
        .args(["tablet", "add", name, "--json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A connected tablet.
pub struct Tablet {
    pub id: String,
    pub key: TabletKey,
    pub client: Client,
    replies: mpsc::Receiver<Vec<u8>>,
    others: mpsc::Receiver<(String, Vec<u8>)>,
}

/// Messages received: (topic, payload).
pub type Messages = mpsc::Receiver<(String, Vec<u8>)>;

/// Connects as a tablet and subscribes; the error says why the broker refused.
pub fn try_connect(
    port: u16,
    id: &str,
    password: &str,
    subscribe: &str,
) -> Result<(Client, Messages), String> {
    try_connect_with(port, id, password, subscribe, None)
}

/// Like [`try_connect`], over TLS when `tls_ca` (PEM) is given.
pub fn try_connect_with(
    port: u16,
    id: &str,
    password: &str,
    subscribe: &str,
    tls_ca: Option<&[u8]>,
) -> Result<(Client, Messages), String> {
    let mut opts = MqttOptions::new(id, "127.0.0.1", port);
    if let Some(ca) = tls_ca {
        let _ = rustls::crypto::ring::default_provider().install_default();
        opts.set_transport(rumqttc::Transport::tls_with_config(
            rumqttc::TlsConfiguration::Simple {
                ca: ca.to_vec(),
                alpn: None,
                client_auth: None,
            },
        ));
    }
    opts.set_credentials(id, password);
    opts.set_max_packet_size(2 << 20, 2 << 20);
    opts.set_keep_alive(Duration::from_secs(30));
    let (client, mut conn) = Client::new(opts, 64);
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    client
        .subscribe(subscribe, QoS::AtLeastOnce)
        .map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        for event in conn.iter() {
            match event {
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = ready_tx.send(Ok(()));
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if tx.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            }
        }
    });
    match ready_rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Ok(())) => Ok((client, rx)),
        Ok(Err(e)) => Err(e),
        Err(_) => Err("no SUBACK within 10 s".into()),
    }
}

impl Tablet {
    /// Connects with the provisioned credentials and subscribes to its reply topic.
    pub fn connect(port: u16, p: &serde_json::Value) -> Tablet {
        let id = p["tablet"].as_str().unwrap().to_string();
        let secret = envelope::parse_secret(p["secret_key"].as_str().unwrap()).unwrap();
        let gateway = envelope::parse_public(p["gateway_key"].as_str().unwrap()).unwrap();
        let key = TabletKey::derive(&secret, &gateway, &id);
        let (client, rx) = try_connect(
            port,
            &id,
            p["password"].as_str().unwrap(),
            &envelope::reply_topic(&id),
        )
        .unwrap();
        let (reply_tx, replies) = mpsc::channel();
        let (other_tx, others) = mpsc::channel();
        let reply_topic = envelope::reply_topic(&id);
        std::thread::spawn(move || {
            for (topic, payload) in rx {
                let sent = if topic == reply_topic {
                    reply_tx.send(payload).is_ok()
                } else {
                    other_tx.send((topic, payload)).is_ok()
                };
                if !sent {
                    return;
                }
            }
        });
        Tablet {
            id,
            key,
            client,
            replies,
            others,
        }
    }

    /// Seals and publishes a check-in on its own topic; returns the decoded reply.
    pub fn checkin(&self, payload: &serde_json::Value) -> serde_json::Value {
        let topic = envelope::checkin_topic(&self.id);
        let sealed = self.key.seal(&topic, payload.to_string().as_bytes());
        self.publish_raw(&topic, sealed)
    }

    /// Publishes raw bytes on a topic and waits for the next reply.
    pub fn publish_raw(&self, topic: &str, bytes: Vec<u8>) -> serde_json::Value {
        while self.replies.try_recv().is_ok() {}
        self.client
            .publish(topic, QoS::AtLeastOnce, false, bytes)
            .unwrap();
        self.next_reply(Duration::from_secs(10))
            .expect("no reply within 10 s")
    }

    /// The next reply, opened (sealed) or as sent (plain error).
    pub fn next_reply(&self, within: Duration) -> Option<serde_json::Value> {
        let bytes = self.replies.recv_timeout(within).ok()?;
        let topic = envelope::reply_topic(&self.id);
        let text = match self.key.open(&topic, &bytes) {
            Ok(plain) => plain,
            Err(_) => bytes,
        };
        Some(serde_json::from_slice(&text).unwrap())
    }

    /// Messages seen on topics other than its reply topic (for the snooping test).
    pub fn others(&self) -> Vec<(String, Vec<u8>)> {
        self.others.try_iter().collect()
    }
}

/// A small, unique JPEG selfie (a pattern derived from `seed`), as the demo and soak draw them.
pub fn jpeg(seed: u64) -> Vec<u8> {
    hadir::demo::tablet::selfie(seed)
}

/// Base64 of bytes.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
