//! The embedded rumqttd broker, configured in code from Hadir's validated config (rumqttd ignores
//! unknown config keys and its sample sizes are far too big for a Pi). Every client must log in
//! as a registered, unrevoked tablet whose client id equals its username; the check runs against
//! an in-memory cache because rumqttd calls it on the listener's single thread.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use hadir_config::Tablets;
use rumqttd::local::{LinkRx, LinkTx};
use rumqttd::{
    Broker, Config, ConnectionSettings, RouterConfig, SegmentConfig, ServerSettings, TlsConfig,
};
use sha2::{Digest, Sha256};

use super::envelope::{CHECKIN_FILTER, REPLY_FILTER};
use crate::store::TabletRow;

/// Largest MQTT packet a tablet may send, bytes: room for the largest allowed photo, base64'd
/// twice (inside the JSON, then the envelope), so an oversized photo up to about twice the limit
/// still gets a reply with the reason; beyond this the broker disconnects the client.
pub fn max_packet_bytes(photo_max_kb: u32) -> usize {
    (photo_max_kb as usize * 1024 * 2 + (64 << 10)).max(2 << 20)
}

/// Registered tablets as the auth handler sees them: id → SHA-256 of the password.
#[derive(Clone, Default)]
pub struct AuthCache(Arc<RwLock<HashMap<String, String>>>);

impl AuthCache {
    /// Replaces the cache with the unrevoked tablets.
    pub fn load(&self, tablets: &[TabletRow]) {
        let map = tablets
            .iter()
            .filter(|t| t.revoked_utc.is_none())
            .map(|t| (t.id.clone(), t.password_sha256.clone()))
            .collect();
        if let Ok(mut m) = self.0.write() {
            *m = map;
        }
    }

    /// Whether these credentials belong to a registered tablet.
    pub fn check(&self, client_id: &str, user: &str, pass: &str) -> bool {
        if client_id != user {
            return false;
        }
        let Ok(map) = self.0.read() else { return false };
        let Some(expected) = map.get(user) else {
            return false;
        };
        let given = hex::encode(Sha256::digest(pass.as_bytes()));
        crate::http::constant_time_eq(given.as_bytes(), expected.as_bytes())
    }
}

/// SHA-256 (hex) of a tablet password, as stored.
pub fn hash_password(pass: &str) -> String {
    hex::encode(Sha256::digest(pass.as_bytes()))
}

/// The gateway's link into the broker and the bound listeners (kind, address).
pub type Started = (LinkTx, LinkRx, Vec<(String, SocketAddr)>);

/// Why the broker could not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// A listener address is taken; change `tablets.*listen` or stop the other program.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The error.
        source: std::io::Error,
    },
    /// rumqttd refused its configuration or failed to start.
    #[error("broker: {0}")]
    Broker(String),
}

fn settings(
    name: &str,
    listen: SocketAddr,
    tls: Option<TlsConfig>,
    auth: &AuthCache,
    max_packet: usize,
) -> ServerSettings {
    let mut connections = ConnectionSettings {
        connection_timeout_ms: 10_000,
        max_payload_size: max_packet,
        max_inflight_count: 100,
        auth: None,
        external_auth: None,
        dynamic_filters: false,
    };
    let cache = auth.clone();
    connections.set_auth_handler(move |client_id: String, user: String, pass: String| {
        let ok = cache.check(&client_id, &user, &pass);
        if !ok {
            tracing::warn!(
                client_id,
                user,
                "tablet login refused (unknown, revoked, or wrong password)"
            );
        }
        async move { ok }
    });
    ServerSettings {
        name: name.to_string(),
        listen,
        tls,
        next_connection_delay_ms: 1,
        connections,
    }
}

/// Whether some socket listens on TCP `port` (Linux `/proc/net/tcp{,6}`; true elsewhere).
fn is_listening(port: u16) -> bool {
    let needle = format!(":{port:04X} ");
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        for line in text.lines().skip(1) {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1).unwrap_or("");
            let state = fields.nth(1).unwrap_or("");
            if state == "0A" && format!("{local} ").contains(&needle) {
                return true;
            }
        }
    }
    !readable
}

/// Makes sure an address can be bound (rumqttd binds on its own threads and only logs failures).
fn probe(addr: SocketAddr) -> Result<(), BrokerError> {
    std::net::TcpListener::bind(addr)
        .map(drop)
        .map_err(|source| BrokerError::Bind { addr, source })
}

/// Starts the broker and returns the gateway's own link into it, already subscribed to every
/// tablet's check-in topic. Returns once every listener accepts connections.
pub fn start(cfg: &Tablets, max_packet: usize, auth: &AuthCache) -> Result<Started, BrokerError> {
    let mut listeners = vec![("mqtt".to_string(), cfg.listen)];
    let mut v4 = HashMap::new();
    probe(cfg.listen)?;
    v4.insert(
        "tablets".to_string(),
        settings("tablets", cfg.listen, None, auth, max_packet),
    );
    if let (Some(addr), Some(cert), Some(key)) =
        (cfg.tls_listen, &cfg.tls_cert_file, &cfg.tls_key_file)
    {
        probe(addr)?;
        let tls = TlsConfig::Rustls {
            capath: None,
            certpath: cert.display().to_string(),
            keypath: key.display().to_string(),
        };
        v4.insert(
            "tablets-tls".to_string(),
            settings("tablets-tls", addr, Some(tls), auth, max_packet),
        );
        listeners.push(("mqtts".to_string(), addr));
    }
    let ws = match cfg.ws_listen {
        Some(addr) => {
            probe(addr)?;
            listeners.push(("ws".to_string(), addr));
            let mut m = HashMap::new();
            m.insert(
                "tablets-ws".to_string(),
                settings("tablets-ws", addr, None, auth, max_packet),
            );
            Some(m)
        }
        None => None,
    };
    let config = Config {
        id: 0,
        router: RouterConfig {
            max_connections: cfg.max_connections + 1,
            max_outgoing_packet_count: 200,
            // rumqttd keeps one in-memory log per subscribed filter: every tablet's reply topic
            // is one. Keep those tiny (16 KiB × 2; each segment also reserves room for 1,024
            // entries, see `memory.rs`; one segment would make rumqttd warn of a jumped cursor
            // at every roll-over). Only the check-in filter, where bursts wait until the
            // gateway takes them, gets 2 MiB × 4.
            max_segment_size: 16 << 10,
            max_segment_count: 2,
            custom_segment: Some(HashMap::from([(
                CHECKIN_FILTER.to_string(),
                SegmentConfig {
                    max_segment_size: 2 << 20,
                    max_segment_count: 4,
                },
            )])),
            initialized_filters: Some(vec![CHECKIN_FILTER.to_string(), REPLY_FILTER.to_string()]),
            shared_subscriptions_strategy: Default::default(),
        },
        v4: Some(v4),
        v5: None,
        ws,
        cluster: None,
        console: None,
        bridge: None,
        prometheus: None,
        metrics: None,
    };
    let mut broker = Broker::new(config);
    let (mut link_tx, link_rx) = broker
        .link("hadir-gateway")
        .map_err(|e| BrokerError::Broker(e.to_string()))?;
    link_tx
        .subscribe(CHECKIN_FILTER)
        .map_err(|e| BrokerError::Broker(e.to_string()))?;
    std::thread::Builder::new()
        .name("hadir-broker".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "the tablet broker stopped");
            }
        })
        .map_err(|e| BrokerError::Broker(e.to_string()))?;
    // Wait until every listener is bound (read from the kernel's socket table, so no probe
    // connection shows up in the broker's log).
    for (_, addr) in &listeners {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !is_listening(addr.port()) {
            if std::time::Instant::now() > deadline {
                return Err(BrokerError::Broker(format!(
                    "listener {addr} did not come up"
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    Ok((link_tx, link_rx, listeners))
}
