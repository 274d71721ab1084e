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

/// The kernel's tables of TCP sockets (Linux).
const TCP_TABLES: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];

/// Whether some socket listens on TCP `port` (Linux `/proc/net/tcp{,6}`; true elsewhere).
fn is_listening(port: u16) -> bool {
    let readable = TCP_TABLES.iter().any(|t| std::path::Path::new(t).exists());
    !readable || !listening_inodes(port).is_empty()
}

/// Socket inodes of the listeners on TCP `port` (Linux `/proc/net/tcp{,6}`).
fn listening_inodes(port: u16) -> Vec<u64> {
    let needle = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in TCP_TABLES {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) =
                (fields.get(1), fields.get(3), fields.get(9))
            else {
                continue;
            };
            if *state == "0A" && local.ends_with(&needle) {
                if let Ok(inode) = inode.parse() {
                    inodes.push(inode);
                }
            }
        }
    }
    inodes
}

/// Turns on `TCP_NODELAY` for this process's listener on `port`; connections it accepts
/// inherit it (Linux copies the option from the listening socket).
///
/// rumqttd never sets it, so a reply published a few milliseconds after the PUBACK of the
/// check-in it answers waited in the kernel (Nagle) until the tablet's delayed ACK, about 40 ms,
/// on every check-in. rumqttd binds the listener itself and does not expose it, so it is found
/// in the process's own descriptor table by the inode `/proc/net/tcp` lists for the port.
/// Returns how many listening sockets were changed.
#[allow(unsafe_code)]
fn disable_nagle_on_listener(port: u16) -> usize {
    let inodes = listening_inodes(port);
    let Ok(fds) = std::fs::read_dir("/proc/self/fd") else {
        return 0;
    };
    let mut changed = 0;
    for entry in fds.flatten() {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|t| t.strip_suffix(']'))
            .and_then(|t| t.parse::<u64>().ok())
        else {
            continue;
        };
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|f| f.parse::<i32>().ok())
        else {
            continue;
        };
        if !inodes.contains(&inode) {
            continue;
        }
        let one: libc::c_int = 1;
        // SAFETY: `fd` is an open socket of this process (just read from /proc/self/fd); setting
        // an integer TCP option reads `one` for its declared size and touches no other memory. If
        // the descriptor was closed and reused meanwhile, the call fails or sets the option on
        // another TCP socket of ours, which is harmless.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::IPPROTO_TCP,
                libc::TCP_NODELAY,
                std::ptr::addr_of!(one).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            changed += 1;
        }
    }
    changed
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
            // is one, and keeps the last few replies it already delivered. Keep those tiny
            // (2 KiB × 2, a few replies; each segment also reserves room for 1,024 entries, see
            // `memory.rs`; one segment would make rumqttd warn of a jumped cursor at every
            // roll-over). A tablet that missed a reply re-sends and is answered from the store.
            // Only the check-in filter, where a burst waits while the gateway's link buffer
            // (~200 check-ins) is full, gets more: 1 MiB × 2, a couple of full-size photos a
            // segment (a segment may overflow by its last packet). Every payload it keeps also
            // keeps alive the read buffer of the connection it came in on.
            max_segment_size: 2 << 10,
            max_segment_count: 2,
            custom_segment: Some(HashMap::from([(
                CHECKIN_FILTER.to_string(),
                SegmentConfig {
                    max_segment_size: 1 << 20,
                    max_segment_count: 2,
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
        if disable_nagle_on_listener(addr.port()) == 0 {
            tracing::warn!(%addr, "could not set TCP_NODELAY on the tablet listener; replies may wait up to 40 ms for the tablet's ACK");
        }
    }
    Ok((link_tx, link_rx, listeners))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_accepted_after_nagle_is_disabled_on_the_listener_send_without_delay() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let before = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted_before, _) = listener.accept().unwrap();
        assert!(!accepted_before.nodelay().unwrap());
        assert!(is_listening(port));

        assert_eq!(disable_nagle_on_listener(port), 1);
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (accepted, _) = listener.accept().unwrap();
        assert!(accepted.nodelay().unwrap());
        drop(before);
    }

    #[test]
    fn a_port_nobody_listens_on_has_no_listener_to_change() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        assert!(!is_listening(port));
        assert_eq!(disable_nagle_on_listener(port), 0);
    }
}
