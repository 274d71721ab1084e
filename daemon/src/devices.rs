//! Reader supervisors: one task per configured pull-mode reader (push readers come to the
//! gateway's HTTP listener instead).

pub mod pull;

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
        let reader = pull::PullReader::from_config(device, tz.clone(), store.clone())?;
        tasks.push(tokio::spawn(reader.run(shutdown.clone())));
    }
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
