//! The supervisor of one pull-mode reader: connect, measure and correct its clock, read new log
//! entries past the stored cursor, store them (punches and cursor in one transaction), optionally
//! clear the reader's log once everything on it was acknowledged upstream, then listen for live
//! events until the next poll. Reconnects with backoff; never gives up.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use hadir_config::{secret, Device, Transport as CfgTransport};
use hadir_drivers::zk::{
    AttendanceRecord, ClientOptions, Transport, ZkClient, ZkDateTime, ZkError,
};
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use tokio::sync::watch;

use super::sleep_or_shutdown;
use crate::record::{punch_record_id, NewPunch, Source};
use crate::store::{DeviceStatus, Store, StoreError};

/// Most log entries stored per transaction.
const CHUNK: usize = 5_000;
/// Timeout for one reader request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a session with a reader ended early.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The reader could not be reached or misbehaved; retried with backoff.
    #[error(transparent)]
    Reader(#[from] ZkError),
    /// Storing failed (for example, storage full); retried with backoff, nothing is lost since
    /// the cursor did not move.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The reader's address does not resolve; check `devices[].address`.
    #[error("reader address {0}")]
    Address(String),
    /// A reader timestamp could not be interpreted.
    #[error("reader time: {0}")]
    Time(String),
}

/// A configured pull reader.
pub struct PullReader {
    name: String,
    address: String,
    configured_serial: Option<String>,
    transport: Transport,
    comm_key: u32,
    poll_interval: Duration,
    max_drift_s: i64,
    clear_after_forward: bool,
    tz: TimeZone,
    store: Store,
    roster_sync: Option<hadir_config::RosterSync>,
    template_scan: super::sync::TemplateScan,
}

impl PullReader {
    /// Builds a supervisor from its config entry.
    pub fn from_config(d: &Device, tz: TimeZone, store: Store) -> anyhow::Result<PullReader> {
        let comm_key = match secret::resolve("comm_key", None, d.comm_key_file.as_deref())? {
            Some(s) => s.expose().parse().map_err(|_| {
                anyhow::anyhow!("devices {:?}: comm_key_file must hold a number", d.name)
            })?,
            None => d.comm_key,
        };
        Ok(PullReader {
            name: d.name.clone(),
            address: d.address.clone().unwrap_or_default(),
            configured_serial: d.serial.clone(),
            transport: match d.transport {
                CfgTransport::Tcp => Transport::Tcp,
                CfgTransport::Udp => Transport::Udp,
            },
            comm_key,
            poll_interval: Duration::from_secs(d.poll_interval_s.max(1)),
            max_drift_s: d.max_drift_s as i64,
            clear_after_forward: d.clear_after_forward,
            tz,
            store,
            roster_sync: None,
            template_scan: super::sync::TemplateScan::default(),
        })
    }

    /// Keeps the reader's users (and, with `templates`, fingerprint templates) in step with the
    /// roster on every poll.
    pub fn with_roster_sync(mut self, cfg: hadir_config::RosterSync) -> Self {
        self.roster_sync = cfg.enabled.then_some(cfg);
        self
    }

    fn status(&self) -> DeviceStatus {
        DeviceStatus {
            name: self.name.clone(),
            kind: "zk-pull".into(),
            address: Some(self.address.clone()),
            ..Default::default()
        }
    }

    /// Runs until shutdown.
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(2);
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.session(&mut shutdown).await {
                Ok(()) => backoff = Duration::from_secs(2),
                Err(e) => {
                    tracing::warn!(device = %self.name, address = %self.address, error = %e, retry_in_s = backoff.as_secs(), "reader {} ({}) failed, retrying in {} s: {e}", self.name, self.address, backoff.as_secs());
                    let mut s = self.status();
                    s.online = false;
                    s.last_error = Some(e.to_string());
                    if let Err(e) = self.store.update_device(s).await {
                        tracing::warn!(error = %e, "cannot record reader status");
                    }
                    if sleep_or_shutdown(backoff, &mut shutdown).await {
                        return;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(300));
                }
            }
        }
    }

    fn resolve(&self) -> Result<SocketAddr, SessionError> {
        let with_port = if self.address.contains(':') {
            self.address.clone()
        } else {
            format!("{}:4370", self.address)
        };
        with_port
            .to_socket_addrs()
            .map_err(|e| SessionError::Address(format!("{}: {e}", self.address)))?
            .next()
            .ok_or_else(|| SessionError::Address(format!("{} does not resolve", self.address)))
    }

    async fn session(&mut self, shutdown: &mut watch::Receiver<bool>) -> Result<(), SessionError> {
        let addr = self.resolve()?;
        let opts = ClientOptions {
            comm_key: self.comm_key,
            timeout: REQUEST_TIMEOUT,
        };
        let mut client = ZkClient::connect(addr, self.transport, opts).await?;
        let info = client.device_info().await?;
        let serial = if !info.serial.is_empty() {
            info.serial.clone()
        } else {
            self.configured_serial
                .clone()
                .unwrap_or_else(|| self.name.clone())
        };
        if let Some(expected) = &self.configured_serial {
            if expected != &serial {
                tracing::warn!(device = %self.name, expected, found = %serial, "reader serial differs from the config (replaced reader?)");
            }
        }

        // Clock: measure drift in the office zone and correct it when too large.
        let device_time = client.get_time().await?;
        let now_local = jiff::Timestamp::now().to_zoned(self.tz.clone()).datetime();
        let drift = civil(&device_time)?
            .to_zoned(TimeZone::UTC)
            .map_err(|e| SessionError::Time(e.to_string()))?
            .timestamp()
            .as_second()
            - now_local
                .to_zoned(TimeZone::UTC)
                .map_err(|e| SessionError::Time(e.to_string()))?
                .timestamp()
                .as_second();
        let mut drift_after = drift;
        if drift.abs() > self.max_drift_s {
            let now = jiff::Timestamp::now().to_zoned(self.tz.clone()).datetime();
            client.set_time(zk_time(now)?).await?;
            drift_after = 0;
            tracing::warn!(device = %self.name, drift_s = drift, "reader clock corrected");
            self.store
                .audit(
                    "hadir",
                    "reader-clock-set",
                    &self.name,
                    &format!("drift was {drift} s"),
                )
                .await?;
        }

        // New log entries past the cursor.
        let cursor = self.store.device_cursor(serial.clone()).await?;
        let records = client.attendance().await?;
        let start = if (records.len() as u64) < cursor {
            tracing::warn!(device = %self.name, cursor, held = records.len(), "reader log is shorter than the cursor (cleared or replaced): reading it all; duplicates are skipped");
            0
        } else {
            cursor as usize
        };
        let mut stored = 0usize;
        let mut position = start;
        for chunk in records[start..].chunks(CHUNK) {
            let punches = chunk
                .iter()
                .map(|r| to_punch(&serial, r, Source::ZkPull))
                .collect::<Result<Vec<_>, _>>()?;
            position += chunk.len();
            let out = self
                .store
                .append_from_log(serial.clone(), punches, position as u64)
                .await?;
            stored += out.iter().filter(|a| !a.duplicate).count();
        }
        if stored > 0 {
            tracing::info!(device = %self.name, stored, "stored new punches from the reader");
        }

        if self.clear_after_forward && !records.is_empty() {
            self.clear_if_forwarded(&mut client, &serial, &records)
                .await?;
        }

        // Roster sync after the punches are safe; a failure here never holds up collection.
        let mut sync_error = None;
        if let Some(cfg) = &self.roster_sync {
            let scan = &mut self.template_scan;
            if let Err(e) =
                super::sync::sync_pull_reader(&mut client, &self.store, &serial, cfg, scan).await
            {
                tracing::warn!(device = %self.name, error = %e, "roster sync to the reader failed; retried next poll");
                match e {
                    // The link is gone: reconnect as for any other reader failure.
                    super::sync::PullSyncError::Reader(z) if z.is_transient() => {
                        return Err(z.into())
                    }
                    e => sync_error = Some(format!("roster sync: {e}")),
                }
            }
        }

        let mut status = self.status();
        status.serial = Some(serial.clone());
        status.online = true;
        status.last_error = sync_error;
        status.last_seen_utc = Some(jiff::Timestamp::now().to_string());
        status.drift_s = Some(drift_after);
        status.firmware = Some(info.firmware.clone());
        status.platform = Some(info.platform.clone());
        status.users = Some(i64::from(info.counts.users));
        status.records = Some(records.len() as i64);
        self.store.update_device(status).await?;

        // Live events until the next poll, when the reader supports them.
        let deadline = tokio::time::Instant::now() + self.poll_interval;
        match client.live_events().await {
            Ok(mut live) => {
                loop {
                    tokio::select! {
                        ev = live.next() => match ev {
                            Some(Ok(record)) => {
                                let punch = to_punch(&serial, &record, Source::ZkPull)?;
                                let out = self.store.append_punches(vec![punch]).await?;
                                tracing::debug!(device = %self.name, duplicate = out.first().is_some_and(|a| a.duplicate), "live punch");
                            }
                            Some(Err(e)) => {
                                live.stop().await;
                                return Err(e.into());
                            }
                            None => break,
                        },
                        _ = tokio::time::sleep_until(deadline) => break,
                        _ = shutdown.changed() => break,
                    }
                }
                live.stop().await;
            }
            Err(e) => {
                tracing::debug!(device = %self.name, error = %e, "no live events; polling only");
                sleep_or_shutdown(
                    deadline.saturating_duration_since(tokio::time::Instant::now()),
                    shutdown,
                )
                .await;
            }
        }
        Ok(())
    }

    /// Clears the reader's log only if nothing new arrived and every entry on it was
    /// acknowledged upstream, all while the reader is disabled.
    async fn clear_if_forwarded(
        &self,
        client: &mut ZkClient,
        serial: &str,
        records: &[AttendanceRecord],
    ) -> Result<(), SessionError> {
        let office = self.store_office();
        let ids = records
            .iter()
            .map(|r| to_punch(serial, r, Source::ZkPull).map(|p| punch_record_id(&office, &p)))
            .collect::<Result<Vec<_>, _>>()?;
        if !self.store.all_forwarded(ids).await? {
            return Ok(());
        }
        let expected = records.len();
        let cleared = client
            .with_disabled(async |c: &mut ZkClient| {
                let counts = c.free_sizes().await?;
                if counts.records as usize != expected {
                    return Ok(false);
                }
                c.clear_attendance().await?;
                Ok(true)
            })
            .await?;
        if cleared {
            self.store.reset_device_cursor(serial.to_string()).await?;
            self.store
                .audit(
                    "hadir",
                    "reader-log-cleared",
                    &self.name,
                    &format!("{expected} entries, all acknowledged upstream"),
                )
                .await?;
            tracing::info!(device = %self.name, entries = expected, "cleared the reader log (all entries acknowledged upstream)");
        }
        Ok(())
    }

    fn store_office(&self) -> String {
        self.store.office().to_string()
    }
}

fn civil(t: &ZkDateTime) -> Result<DateTime, SessionError> {
    DateTime::new(
        t.year() as i16,
        t.month() as i8,
        t.day() as i8,
        t.hour() as i8,
        t.minute() as i8,
        t.second() as i8,
        0,
    )
    .map_err(|e| SessionError::Time(format!("{t}: {e}")))
}

fn zk_time(t: DateTime) -> Result<ZkDateTime, SessionError> {
    ZkDateTime::new(
        t.year() as u16,
        t.month() as u8,
        t.day() as u8,
        t.hour() as u8,
        t.minute() as u8,
        t.second() as u8,
    )
    .map_err(|e| SessionError::Time(e.to_string()))
}

/// A reader log entry as a punch. The `punch` byte is the verify state (0 in, 1 out, …) and
/// `status` how the person verified.
pub fn to_punch(
    serial: &str,
    r: &AttendanceRecord,
    source: Source,
) -> Result<NewPunch, SessionError> {
    let payload = serde_json::json!({
        "uid": r.uid,
        "user_id": r.user_id,
        "time": r.time.to_string(),
        "status": r.status,
        "punch": r.punch,
        "workcode": r.workcode,
    })
    .to_string()
    .into_bytes();
    Ok(NewPunch {
        source,
        device: serial.to_string(),
        employee: r.user_id.clone(),
        local_time: civil(&r.time)?,
        state: r.punch,
        verify: Some(r.status),
        payload,
    })
}
