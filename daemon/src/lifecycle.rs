//! Process lifecycle: systemd notifications (READY, STATUS, WATCHDOG, STOPPING) and the shutdown
//! signal. Every notification is a no-op when not started by systemd.

use std::time::Duration;

use sd_notify::NotifyState;

use crate::store::Store;

/// Tells systemd the gateway is ready: call only after every listener is bound and the store is
/// open.
pub fn notify_ready(status: &str) {
    notify(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// Updates the one-line status shown by `systemctl status hadir`.
pub fn notify_status(status: &str) {
    notify(&[NotifyState::Status(status)]);
}

/// Tells systemd the gateway is stopping.
pub fn notify_stopping() {
    notify(&[NotifyState::Stopping, NotifyState::Status("stopping")]);
}

fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(false, states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// The watchdog interval systemd asked for (`WATCHDOG_USEC`), if any.
pub fn watchdog_interval() -> Option<Duration> {
    let mut usec = 0u64;
    if sd_notify::watchdog_enabled(false, &mut usec) && usec > 0 {
        Some(Duration::from_micros(usec))
    } else {
        None
    }
}

/// Pings the watchdog at half the interval, but only while the store writer is committing: a
/// wedged writer stops the pings and systemd restarts the service.
pub async fn run_watchdog(interval: Duration, store: Store) {
    let period = interval / 2;
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match tokio::time::timeout(period, store.ping()).await {
            Ok(Ok(())) => notify(&[NotifyState::Watchdog]),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "store ping failed; not feeding the watchdog")
            }
            Err(_) => {
                tracing::error!("store writer did not answer in time; not feeding the watchdog")
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => tracing::info!("SIGTERM received: stopping intake and closing the store"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupt received: stopping intake and closing the store"),
    }
}
