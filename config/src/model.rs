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
    /// The HTTP listener push-mode (ADMS/iclock) readers upload to.
    pub push: Push,
    /// Keeping the readers' user lists and fingerprints in step with the roster.
    pub roster_sync: RosterSync,
    /// Face verification of check-in selfies (off until models are configured).
    pub face: Face,
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
            queue: 256,
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
    /// Keep selfies of rejected and needs-review check-ins this many days.
    pub photo_retention_days: u32,
    /// Keep selfies of accepted check-ins this many days (0 = not kept at all).
    pub photo_retention_accepted_days: u32,
}

impl Default for Storage {
    fn default() -> Self {
        Storage {
            data_dir: PathBuf::from("./hadir-data"),
            max_db_mb: 0,
            min_free_mb: 256,
            retention_days: 400,
            photo_retention_days: 30,
            photo_retention_accepted_days: 0,
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

/// Face verification of check-in selfies: a face detector and an embedding model (ONNX), run on
/// the gateway. Off while `detector_model` and `embedder_model` are unset; check-ins then record
/// "face check not performed", never a pass. The defaults describe the reference models
/// (BlazeFace back 256 and HSE faceres), so a config needs only the two paths for them.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Face {
    /// Face detector model (BlazeFace-style ONNX).
    pub detector_model: Option<PathBuf>,
    /// Face embedding model (ONNX); its SHA-256 is the identity stored with every template.
    pub embedder_model: Option<PathBuf>,
    /// Cosine similarity at or above which the selfie matches the enrolled face.
    pub match_threshold: f32,
    /// Scores in `[match_threshold - uncertain_band, match_threshold)` are "uncertain" (review);
    /// below that the face does not match (reject).
    pub uncertain_band: f32,
    /// Face checks running at once (one thread each; inference is single-threaded).
    pub workers: usize,
    /// Face checks waiting for a worker; when full, a check-in gets "face check busy" (review)
    /// at once instead of waiting.
    pub queue: usize,
    /// Longest a check-in waits for its face check (queue + inference), milliseconds; then it is
    /// stored with "face check busy" (review).
    pub wait_ms: u64,
    /// Largest decoded image, pixels (width × height), checked before decoding.
    pub max_image_pixels: u64,
    /// Largest photo file accepted for enrollment, KiB (check-in selfies are capped by
    /// `verification.photo_max_kb`).
    pub max_photo_kb: u32,
    /// Enrollment: smallest accepted face, pixels (detected box width in the photo).
    pub min_face_px: u32,
    /// The detector.
    pub detector: FaceDetector,
    /// The embedding model.
    pub embedder: FaceEmbedder,
}

impl Default for Face {
    fn default() -> Self {
        Face {
            detector_model: None,
            embedder_model: None,
            match_threshold: 0.60,
            uncertain_band: 0.10,
            workers: 1,
            queue: 4,
            wait_ms: 5000,
            max_image_pixels: 4096 * 4096,
            max_photo_kb: 8192,
            min_face_px: 80,
            detector: FaceDetector::default(),
            embedder: FaceEmbedder::default(),
        }
    }
}

/// Memory layout of a model's image input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TensorLayout {
    /// [1, height, width, channels] (TensorFlow).
    #[default]
    Nhwc,
    /// [1, channels, height, width] (PyTorch, Caffe).
    Nchw,
}

/// Channel order of a model's image input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelOrder {
    /// Red, green, blue.
    #[default]
    Rgb,
    /// Blue, green, red (Caffe/OpenCV-trained models).
    Bgr,
}

/// How overlapping detections of one face are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NmsKind {
    /// Keep the best box and drop the ones overlapping it.
    Plain,
    /// Average the overlapping boxes weighted by score (MediaPipe's choice; steadier boxes).
    #[default]
    Weighted,
}

/// A BlazeFace-style detector: SSD anchors on a square input, score logits and box/keypoint
/// regressors per anchor.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FaceDetector {
    /// Input width and height, pixels.
    pub input_size: u32,
    /// Input layout.
    pub layout: TensorLayout,
    /// Input channel order.
    pub channels: ChannelOrder,
    /// Input value = (pixel × `scale` − `mean`) / `std`, pixel in 0..255, per channel in the
    /// model's channel order.
    pub scale: f32,
    /// Per-channel mean (see `scale`).
    pub mean: [f32; 3],
    /// Per-channel divisor (see `scale`).
    pub std: [f32; 3],
    /// Anchor grid strides, pixels of the input (one per output pair).
    pub strides: Vec<u32>,
    /// Anchors per grid cell, one per stride.
    pub anchors_per_cell: Vec<u32>,
    /// Regressor values are offsets in input pixels divided by this (0 = `input_size`).
    pub box_scale: f32,
    /// Lowest face probability kept.
    pub score_threshold: f32,
    /// Boxes overlapping more than this (IoU) are the same face.
    pub iou_threshold: f32,
    /// Merging of overlapping boxes.
    pub nms: NmsKind,
}

impl Default for FaceDetector {
    fn default() -> Self {
        FaceDetector {
            input_size: 256,
            layout: TensorLayout::Nhwc,
            channels: ChannelOrder::Rgb,
            scale: 1.0,
            mean: [127.5; 3],
            std: [127.5; 3],
            strides: vec![16, 32],
            anchors_per_cell: vec![2, 6],
            box_scale: 0.0,
            score_threshold: 0.75,
            iou_threshold: 0.3,
            nms: NmsKind::Weighted,
        }
    }
}

/// A face embedding model: a square face crop in, a vector out (compared by cosine).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct FaceEmbedder {
    /// Input width and height, pixels.
    pub input_size: u32,
    /// Input layout.
    pub layout: TensorLayout,
    /// Input channel order.
    pub channels: ChannelOrder,
    /// Input value = (pixel × `scale` − `mean`) / `std`, pixel in 0..255, per channel in the
    /// model's channel order.
    pub scale: f32,
    /// Per-channel mean (see `scale`).
    pub mean: [f32; 3],
    /// Per-channel divisor (see `scale`).
    pub std: [f32; 3],
    /// Name of the embedding output (none = the model's largest output).
    pub output: Option<String>,
    /// The crop is the detected box enlarged by this factor, made square.
    pub crop_scale: f32,
    /// Rotate the crop so the eyes are level (from the detector's keypoints).
    pub align: bool,
}

impl Default for FaceEmbedder {
    fn default() -> Self {
        FaceEmbedder {
            input_size: 224,
            layout: TensorLayout::Nhwc,
            channels: ChannelOrder::Bgr,
            scale: 1.0,
            mean: [103.939, 116.779, 123.68],
            std: [1.0; 3],
            output: Some("global_pooling/Mean".into()),
            crop_scale: 1.4,
            align: false,
        }
    }
}

impl Face {
    /// Whether face verification is configured (both models set).
    pub fn enabled(&self) -> bool {
        self.detector_model.is_some() && self.embedder_model.is_some()
    }
}

/// The listener push-mode (ADMS/iclock) readers talk to; separate from the admin server because
/// readers expect their own port and no authentication header.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct Push {
    /// Run the push listener (default true).
    pub enabled: bool,
    /// Address readers push to (set `0.0.0.0:8081` so readers on the LAN reach it).
    pub listen: SocketAddr,
    /// Seconds between a reader's command polls (`Delay` in the handshake).
    pub delay_s: u32,
    /// Seconds a reader waits after a failed upload (`ErrorDelay`).
    pub error_delay_s: u32,
    /// Minutes between batched uploads when not real-time (`TransInterval`).
    pub trans_interval_min: u32,
    /// Ask readers to upload each punch as it happens (`Realtime=1`).
    pub realtime: bool,
    /// Largest upload accepted, KiB.
    pub max_body_kb: u32,
    /// Unknown serial numbers remembered for approval, at most.
    pub max_unknown: u32,
}

impl Default for Push {
    fn default() -> Self {
        Push {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            delay_s: 10,
            error_delay_s: 30,
            trans_interval_min: 1,
            realtime: true,
            max_body_kb: 2048,
            max_unknown: 64,
        }
    }
}

/// Roster sync: the gateway's employee table is the source of truth for the users on every
/// reader; fingerprints enrolled on one reader are copied to the others.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RosterSync {
    /// Create, rename and remove users on readers to match the roster (default true).
    pub enabled: bool,
    /// Copy fingerprint templates enrolled on one reader to the others (default true).
    pub templates: bool,
    /// Seconds between checks of the roster against each reader.
    pub interval_s: u64,
    /// Also remove reader users the gateway never created (never admins). Default false: only
    /// users the gateway put on a reader are removed when they leave the roster.
    pub prune_unknown_users: bool,
}

impl Default for RosterSync {
    fn default() -> Self {
        RosterSync {
            enabled: true,
            templates: true,
            interval_s: 30,
            prune_unknown_users: false,
        }
    }
}
