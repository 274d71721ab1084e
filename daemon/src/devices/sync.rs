//! Roster sync: the gateway's employee table decides which users every reader holds.
//!
//! - Push readers: a task compares the roster (and the stored fingerprint templates) with what
//!   each reader is believed to hold and queues `DATA UPDATE/DELETE USERINFO` and
//!   `DATA UPDATE FINGERTMP` commands; it runs when the roster or templates change (checked
//!   every 2 s with one cheap query), when the push listener reports new users or templates,
//!   and every `roster_sync.interval_s`.
//! - Pull readers: [`sync_pull_reader`] runs inside each pull session and sets/deletes users
//!   over the binary protocol.
//!
//! User id mapping: the reader's user id (PIN) is the NIP itself. The 72-byte user record has a
//! 24-byte user id string, which holds an 18-digit NIP. Readers with the 28-byte record (old
//! firmware, numeric u32 user id) cannot hold an 18-digit NIP; such employees are skipped on
//! those readers with a warning. Names are cut to what the reader's record holds.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use hadir_config::{Config, DeviceKind, RosterSync};
use hadir_drivers::zk::{User, UserLayout, ZkClient, ZkError};
use tokio::sync::{watch, Notify};

use super::sleep_or_shutdown;
use crate::store::{reader_name, Store, StoreError, SyncPolicy};

/// How often the roster's version is checked.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Runs the push-reader sync until shutdown.
pub async fn run_push_sync(
    config: Arc<Config>,
    store: Store,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    let cfg = config.roster_sync.clone();
    if !cfg.enabled {
        return;
    }
    let configured: Vec<String> = config
        .devices
        .iter()
        .filter(|d| d.kind == DeviceKind::ZkPush)
        .filter_map(|d| d.serial.clone())
        .collect();
    let policy = SyncPolicy {
        templates: cfg.templates,
        prune_unknown: cfg.prune_unknown_users,
    };
    let full_every = Duration::from_secs(cfg.interval_s.max(1));
    let mut last_version = String::new();
    let mut last_full = tokio::time::Instant::now() - full_every;
    loop {
        let version = match store.roster_version().await {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, "roster sync: cannot read the roster");
                String::new()
            }
        };
        if version != last_version || last_full.elapsed() >= full_every {
            match sync_all(&store, &configured, policy).await {
                Ok(()) => {
                    last_version = version;
                    last_full = tokio::time::Instant::now();
                }
                Err(e) => tracing::warn!(error = %e, "roster sync pass failed; retrying"),
            }
        }
        tokio::select! {
            _ = wake.notified() => { last_version.clear(); }
            stop = sleep_or_shutdown(CHECK_EVERY, &mut shutdown) => if stop { return; },
        }
    }
}

async fn sync_all(
    store: &Store,
    configured: &[String],
    policy: SyncPolicy,
) -> Result<(), StoreError> {
    let mut serials: Vec<String> = configured.to_vec();
    for s in store.approved_readers().await? {
        if !serials.contains(&s) {
            serials.push(s);
        }
    }
    for serial in serials {
        let r = store.sync_push_reader(serial.clone(), policy).await?;
        if r.users_set + r.users_deleted + r.templates > 0 {
            tracing::info!(
                serial,
                users_set = r.users_set,
                users_deleted = r.users_deleted,
                templates = r.templates,
                "roster sync: commands queued for push reader"
            );
        }
    }
    Ok(())
}

/// Why a pull-reader sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum PullSyncError {
    /// Talking to the reader failed.
    #[error(transparent)]
    Reader(#[from] ZkError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a pull sync did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PullSyncReport {
    /// Users created or renamed.
    pub set: usize,
    /// Users removed.
    pub deleted: usize,
    /// Employees that do not fit this reader's user record.
    pub skipped: usize,
}

fn fit_name(name: &str, layout: Option<UserLayout>) -> String {
    let max = match layout {
        Some(UserLayout::Zk6) => 7,
        _ => 23,
    };
    let mut out = String::new();
    for c in reader_name(name).chars() {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// Brings a pull reader's users in step with the roster over the binary protocol.
pub async fn sync_pull_reader(
    client: &mut ZkClient,
    store: &Store,
    serial: &str,
    cfg: &RosterSync,
) -> Result<PullSyncReport, PullSyncError> {
    let mut report = PullSyncReport::default();
    let roster = store.reader_roster(serial.to_string()).await?;
    if roster.desired.is_empty() {
        return Ok(report);
    }
    let users = client.users().await?;
    let layout = client.user_layout();
    let by_id: HashMap<&str, &User> = users.iter().map(|u| (u.user_id.as_str(), u)).collect();
    let wanted: HashSet<&str> = roster.desired.iter().map(|(n, _)| n.as_str()).collect();
    let mut next_uid = users.iter().map(|u| u.uid).max().unwrap_or(0);
    let mut set = Vec::new();
    let mut deleted = Vec::new();
    for (nip, name) in &roster.desired {
        let name = fit_name(name, layout);
        let user = match by_id.get(nip.as_str()) {
            Some(u) if u.name == name => {
                if !roster.held.contains_key(nip) {
                    set.push((nip.clone(), name));
                }
                continue;
            }
            Some(u) => {
                let mut u = (*u).clone();
                u.name_raw = name.as_bytes().to_vec();
                u.name = name.clone();
                u
            }
            None => {
                let Some(uid) = next_uid.checked_add(1) else {
                    tracing::warn!(serial, nip, "reader has no free user slot");
                    report.skipped += 1;
                    continue;
                };
                next_uid = uid;
                let mut u = User::new(uid, nip.clone(), name.clone());
                u.group = "1".into();
                u
            }
        };
        match client.set_user(&user).await {
            Ok(()) => {
                set.push((nip.clone(), name));
                report.set += 1;
            }
            Err(ZkError::Record { .. }) => {
                tracing::warn!(serial, nip, "employee does not fit this reader's user record (28-byte firmware holds numeric ids up to 4294967295); skipped");
                report.skipped += 1;
            }
            Err(e @ ZkError::DeviceError { .. }) => {
                tracing::warn!(serial, nip, error = %e, "reader refused the user; skipped");
                report.skipped += 1;
            }
            Err(e) => return Err(e.into()),
        }
    }
    for u in &users {
        if wanted.contains(u.user_id.as_str()) {
            continue;
        }
        let managed = roster.held.get(&u.user_id).is_some_and(|h| h.2);
        let prunable = cfg.prune_unknown_users && u.privilege & !1 == 0;
        if managed || prunable {
            client.delete_user(u.uid).await?;
            deleted.push(u.user_id.clone());
            report.deleted += 1;
        }
    }
    if !set.is_empty() || !deleted.is_empty() {
        store
            .record_reader_users(serial.to_string(), set, deleted)
            .await?;
    }
    if report.set + report.deleted > 0 {
        tracing::info!(
            serial,
            set = report.set,
            deleted = report.deleted,
            skipped = report.skipped,
            "roster sync: pull reader updated"
        );
    }
    Ok(report)
}
