//! Reader supervisors: one task per configured pull-mode reader; push readers come to the
//! gateway's push listener ([`push`]); [`sync`] keeps every reader's users in step with the roster.

pub mod pull;
pub mod push;
pub mod sync;

use std::time::Duration;

use hadir_config::{Config, DeviceKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::store::Store;

/// Starts a supervisor for every pull reader in the config.
pub fn spawn_pull_readers(
    config: &Config,
    store: &Store,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let tz = jiff::tz::TimeZone::get(&config.office.timezone)?;
    let mut tasks = Vec::new();
    for device in config
        .devices
        .iter()
        .filter(|d| d.kind == DeviceKind::ZkPull)
    {
        let reader = pull::PullReader::from_config(device, tz.clone(), store.clone())?
            .with_roster_sync(config.roster_sync.clone());
        tasks.push(tokio::spawn(reader.run(shutdown.clone())));
    }
    Ok(tasks)
}

/// Starts the push listener (when given) and the roster sync for push readers.
pub fn spawn_push_service(
    config: std::sync::Arc<Config>,
    store: &Store,
    listener: Option<tokio::net::TcpListener>,
    shutdown: &watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let mut tasks = Vec::new();
    if let Some(listener) = listener {
        let state = push::PushState::new(&config, store.clone(), wake.clone())?;
        let app = push::router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
        let mut stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "push reader listener failed");
            }
        }));
    }
    tasks.push(tokio::spawn(sync::run_push_sync(
        config,
        store.clone(),
        wake,
        shutdown.clone(),
    )));
    Ok(tasks)
}

/// Sleeps for `d` or until shutdown; returns true when shutting down.
pub(crate) async fn sleep_or_shutdown(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
        _ = shutdown.changed() => true,
    }
}
