//! Camera tablets and phones: the embedded MQTT broker, the sealed check-in protocol, the intake
//! pipeline and provisioning (`hadir tablet add`).

pub mod broker;
pub mod envelope;
pub mod intake;
pub mod payload;
pub mod provision;
pub mod recent_photos;
pub mod timing;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hadir_config::Config;
use tokio::sync::watch;

use crate::store::Store;
use broker::AuthCache;
use intake::{Intake, TabletKeys};

/// How often the tablet list is re-read (new registrations, revocations).
const RELOAD_EVERY: Duration = Duration::from_secs(3);
/// Most check-ins in the pipeline at once, whatever `tablets.queue` says: each holds its decoded
/// photo (at most `verification.photo_max_kb`) until its reply is sent.
const MAX_IN_PIPELINE: usize = 1024;

/// A running tablet service.
pub struct TabletService {
    /// Bound listeners (kind, address).
    pub listeners: Vec<(String, SocketAddr)>,
    /// The intake and reload tasks; they end on shutdown.
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Starts the broker and the check-in pipeline.
pub async fn start(
    config: Arc<Config>,
    store: Store,
    qr_secret: Arc<Vec<u8>>,
    face: Option<crate::face::FacePool>,
    shutdown: watch::Receiver<bool>,
) -> anyhow::Result<TabletService> {
    let data_dir = config.storage.data_dir.clone();
    let gateway_secret = envelope::load_gateway_secret(&data_dir)?;
    let auth = AuthCache::default();
    let keys = TabletKeys::default();
    let tablets = store.tablets().await?;
    auth.load(&tablets);
    keys.load(&gateway_secret, &tablets);
    let cfg = config.tablets.clone();
    let auth_for_broker = auth.clone();
    let max_packet = broker::max_packet_bytes(config.verification.photo_max_kb);
    let (link_tx, link_rx, listeners) =
        tokio::task::spawn_blocking(move || broker::start(&cfg, max_packet, &auth_for_broker))
            .await??;
    let mut recent_photos = recent_photos::RecentPhotos::new(
        intake::DHASH_WINDOW,
        config.verification.photo_near_duplicate_bits,
    );
    for dhash in store.recent_dhashes(intake::DHASH_WINDOW).await? {
        recent_photos.insert(dhash);
    }
    let tz = jiff::tz::TimeZone::get(&config.office.timezone)?;
    let intake = Arc::new(Intake {
        store: store.clone(),
        config: config.clone(),
        tz,
        keys: keys.clone(),
        qr_secret,
        recent_photos: Arc::new(Mutex::new(recent_photos)),
        link_tx: Mutex::new(link_tx),
        face,
    });
    // Check-ins verified and stored at once: enough for the store's group commit to batch many
    // fsyncs into one, bounded by `tablets.queue`.
    let concurrency = config.tablets.queue.clamp(1, MAX_IN_PIPELINE);
    let intake_task = tokio::spawn(intake.run(link_rx, concurrency, shutdown.clone()));
    // Keep the auth cache and keys in step with `hadir tablet add/revoke` (another process).
    let mut shutdown = shutdown;
    let reload_task = tokio::spawn(async move {
        loop {
            if crate::devices::sleep_or_shutdown(RELOAD_EVERY, &mut shutdown).await {
                return;
            }
            match store.tablets().await {
                Ok(t) => {
                    auth.load(&t);
                    keys.load(&gateway_secret, &t);
                }
                Err(e) => tracing::warn!(error = %e, "cannot reload tablets"),
            }
        }
    });
    Ok(TabletService {
        listeners,
        tasks: vec![intake_task, reload_task],
    })
}
