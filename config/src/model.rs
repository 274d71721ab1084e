//! The configuration tree. Every field has a default, so an empty file (or no file) is a working
//! configuration for a single office on one machine.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use crate::secret::SecretString;

/// The whole configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Config {
    /// The office this gateway serves.
    pub office: Office,
    /// Where and how records are stored.
    pub storage: Storage,
    /// The operator's web UI and local API.
    pub admin: Admin,
    /// Fingerprint readers.
    pub devices: Vec<Device>,
    /// The provincial server batches are forwarded to.
    pub upstream: Upstream,
    /// Local verification policy for tablet and phone check-ins.
    pub verification: Verification,
    /// The embedded MQTT broker that tablets and phones connect to.
    pub tablets: Tablets,
}

/// The embedded MQTT broker for check-in tablets and phones.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Tablets {
    /// Run the broker (default true).
    pub enabled: bool,
    /// Plain MQTT (v3.1.1) listener.
    pub listen: SocketAddr,
    /// MQTT over WebSocket listener for browser-based tablet apps (none = off).
    pub ws_listen: Option<SocketAddr>,
    /// MQTT over TLS listener (needs `tls_cert_file` and `tls_key_file`).
    pub tls_listen: Option<SocketAddr>,
    /// Server certificate chain (PEM) for the TLS listener.
    pub tls_cert_file: Option<PathBuf>,
    /// Server private key (PEM) for the TLS listener.
    pub tls_key_file: Option<PathBuf>,
    /// Most tablets connected at once.
    pub max_connections: usize,
    /// Check-ins waiting to be verified and stored; beyond this the broker's log absorbs
    /// bursts and tablets retry until they get a reply.
    pub queue: usize,
}

impl Default for Tablets {
    fn default() -> Self {
        Tablets {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            ws_listen: None,
            tls_listen: None,
            tls_cert_file: None,
            tls_key_file: None,
            max_connections: 500,
            queue: 64,
        }
    }
}

/// The office (OPD/SKPD, UPT, kecamatan, puskesmas) the gateway belongs to.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Office {
    /// Stable identifier, used in record ids and upstream topics: lowercase letters, digits, `-`.
    pub id: String,
    /// Human-readable name shown in the UI.
    pub name: String,
    /// IANA zone of the office: Asia/Jakarta (WIB), Asia/Makassar (WITA), Asia/Jayapura (WIT).
    pub timezone: String,
    /// One or more places where being present counts as "in office".
    pub sites: Vec<Site>,
}

impl Default for Office {
    fn default() -> Self {
        Office {
            id: "kantor-contoh".into(),
            name: "Kantor Contoh".into(),
            timezone: "Asia/Jakarta".into(),
            sites: Vec::new(),
        }
    }
}

/// Default geofence radius around an office site, in metres.
pub const DEFAULT_RADIUS_M: f64 = 50.0;

/// One office location with its geofence.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Site {
    /// Label shown in verdicts ("Kantor Bupati", "Gedung B").
    pub name: String,
    /// WGS84 latitude in degrees.
    pub latitude: f64,
    /// WGS84 longitude in degrees.
    pub longitude: f64,
    /// Geofence radius in metres.
    pub radius_m: f64,
}

impl Default for Site {
    fn default() -> Self {
        Site {
            name: String::new(),
            latitude: f64::NAN,
            longitude: f64::NAN,
            radius_m: DEFAULT_RADIUS_M,
        }
    }
}

/// Storage settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Storage {
    /// Directory holding the database, keys and generated secrets.
    pub data_dir: PathBuf,
    /// Refuse intake when the database grows beyond this many MiB (0 = no cap).
    pub max_db_mb: u64,
    /// Refuse intake when the file system has less than this many MiB free.
    pub min_free_mb: u64,
    /// Keep records already acknowledged upstream this many days for local reports.
    pub retention_days: u32,
    /// Keep selfies of rejected and needs-review check-ins this many days (accepted: none).
    pub photo_retention_days: u32,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            data_dir: PathBuf::from("./hadir-data"),
            max_db_mb: 0,
            min_free_mb: 256,
            retention_days: 400,
            photo_retention_days: 30,
        }
    }
}

/// The operator's web UI and local API.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Admin {
    /// Address the admin HTTP server binds to.
    pub listen: SocketAddr,
    /// Bearer token for the local import API. When neither this nor `api_token_file` is set, one
    /// is generated in the data directory (`api-token`, readable by the service user only).
    pub api_token: Option<SecretString>,
    /// File holding the API token (first line).
    pub api_token_file: Option<PathBuf>,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_token: None,
            api_token_file: None,
        }
    }
}

/// How the gateway talks to a fingerprint reader.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeviceKind {
    /// Binary protocol on port 4370; the gateway pulls.
    ZkPull,
    /// ADMS/iclock over HTTP; the reader pushes.
    ZkPush,
}

/// Transport for pull-mode readers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// TCP (the default; what most readers use).
    #[default]
    Tcp,
    /// UDP (older firmware).
    Udp,
}

/// One fingerprint reader.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Device {
    /// Name shown in the UI ("Pintu depan").
    pub name: String,
    /// Pull or push.
    pub kind: DeviceKind,
    /// Serial number; required for push readers (they identify by it).
    pub serial: Option<String>,
    /// `host[:port]` for pull readers (port 4370 when left out).
    pub address: Option<String>,
    /// TCP or UDP for pull readers.
    pub transport: Transport,
    /// Numeric communication key set on the reader (0 = none).
    pub comm_key: u32,
    /// File holding the communication key (first line), instead of `comm_key`.
    pub comm_key_file: Option<PathBuf>,
    /// Seconds between polls for pull readers.
    pub poll_interval_s: u64,
    /// Correct the reader clock when it drifts more than this many seconds.
    pub max_drift_s: u64,
    /// Clear the reader's attendance log once its records are acknowledged upstream.
    pub clear_after_forward: bool,
}

impl Default for Device {
    fn default() -> Self {
        Device {
            name: String::new(),
            kind: DeviceKind::ZkPull,
            serial: None,
            address: None,
            transport: Transport::Tcp,
            comm_key: 0,
            comm_key_file: None,
            poll_interval_s: 60,
            max_drift_s: 30,
            clear_after_forward: false,
        }
    }
}

/// Which protocol carries batches to the province.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamMode {
    /// No forwarding (records stay local until configured).
    #[default]
    None,
    /// MQTT (QoS 1, persistent session).
    Mqtt,
    /// HTTPS POST with an idempotency key.
    Https,
}

/// The provincial server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Upstream {
    /// `none`, `mqtt` or `https`.
    pub mode: UpstreamMode,
    /// `mqtt://host:1883`, `mqtts://host:8883` or `https://host/path`.
    pub url: String,
    /// Username for the provincial server.
    pub username: String,
    /// Password for the provincial server.
    pub password: Option<SecretString>,
    /// File holding the password (first line), instead of `password`.
    pub password_file: Option<PathBuf>,
    /// Largest batch, in records.
    pub batch_max_records: usize,
    /// Send a partial batch once its oldest record is this many seconds old.
    pub batch_max_age_s: u64,
    /// Batches sent but not yet acknowledged, at most (MQTT; HTTPS sends one at a time).
    pub max_in_flight: usize,
    /// Re-send from the oldest unacknowledged batch when no ack arrives within this many seconds.
    pub ack_timeout_s: u64,
    /// MQTT topic prefix: batches go to `<prefix>/<office id>/batch`, acks come on `.../ack`.
    pub topic_prefix: String,
    /// CA certificate (PEM) to trust for mqtts:// and https:// instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    pub client_cert_file: Option<PathBuf>,
    /// Client private key (PEM) for mutual TLS.
    pub client_key_file: Option<PathBuf>,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            mode: UpstreamMode::None,
            url: String::new(),
            username: String::new(),
            password: None,
            password_file: None,
            batch_max_records: 500,
            batch_max_age_s: 5,
            max_in_flight: 4,
            ack_timeout_s: 30,
            topic_prefix: "hadir/v1".into(),
            ca_file: None,
            client_cert_file: None,
            client_key_file: None,
        }
    }
}

/// Local verification policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Verification {
    /// Reported GPS accuracy worse than this (metres) is a fake-GPS/poor-fix sign.
    pub max_accuracy_m: f64,
    /// Reported accuracy better than this (metres) is "too perfect".
    pub min_accuracy_m: f64,
    /// Faster movement between an employee's fixes than this is impossible.
    pub max_speed_kmh: f64,
    /// Largest accepted difference between device/client time and gateway time, seconds.
    pub max_clock_skew_s: u64,
    /// Check-ins by the same employee within this many minutes are not counted twice.
    pub repeat_window_min: u32,
    /// Length of one rotating office QR step, seconds.
    pub qr_step_s: u32,
    /// The office LAN(s) as CIDRs (`192.168.10.0/24`, `fd00:10::/64`). A regular check-in from a
    /// client address outside them is sent to review. Empty = the check is skipped.
    pub office_networks: Vec<String>,
    /// Two selfies whose perceptual hashes differ in at most this many bits (of 64) are treated
    /// as the same picture sent again.
    pub photo_near_duplicate_bits: u32,
    /// Largest accepted selfie, in KiB.
    pub photo_max_kb: u32,
}

impl Default for Verification {
    fn default() -> Self {
        Verification {
            max_accuracy_m: 100.0,
            min_accuracy_m: 1.0,
            max_speed_kmh: 150.0,
            max_clock_skew_s: 300,
            repeat_window_min: 10,
            qr_step_s: 30,
            office_networks: Vec::new(),
            photo_near_duplicate_bits: 6,
            photo_max_kb: 512,
        }
    }
}
