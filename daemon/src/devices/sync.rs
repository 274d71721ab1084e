//! Roster sync: the gateway's employee table decides which users every reader holds.
//!
//! - Push readers: a task compares the roster (and the stored fingerprint templates) with what
//!   each reader is believed to hold and queues `DATA UPDATE/DELETE USERINFO` and
//!   `DATA UPDATE FINGERTMP` commands; it runs when the roster or templates change (checked
//!   every 2 s with one cheap query), when the push listener reports new users or templates,
//!   and every `roster_sync.interval_s`.
//! - Pull readers: [`sync_pull_reader`] runs inside each pull session and sets/deletes users
//!   over the binary protocol. With `roster_sync.templates` it also reads the reader's
//!   fingerprint templates (when its finger count changed, before writing to it, and every
//!   [`TEMPLATE_RESCAN`]), stores those enrolled there like pushed ones, and writes the stored
//!   templates of roster employees that the reader lacks (CMD_SAVE_USERTEMPS).
//!
//! User id mapping: the reader's user id (PIN) is the NIP itself. The 72-byte user record has a
//! 24-byte user id string, which holds an 18-digit NIP. Readers with the 28-byte record (old
//! firmware, numeric u32 user id) cannot hold an 18-digit NIP; such employees are skipped on
//! those readers with a warning. Names are cut to what the reader's record holds.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use hadir_config::{Config, DeviceKind, RosterSync};
use hadir_drivers::zk::{FingerTemplate, User, UserLayout, ZkClient, ZkError};
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

use super::sleep_or_shutdown;
use crate::store::{reader_name, PulledTemplate, Store, StoreError, SyncPolicy, TemplateToWrite};

/// How often the roster's version is checked.
const CHECK_EVERY: Duration = Duration::from_secs(2);
/// A pull reader's templates are read again after this long even when its finger count did
/// not change (a finger enrolled again in place keeps the count).
pub const TEMPLATE_RESCAN: Duration = Duration::from_secs(15 * 60);
/// Before writing templates to a pull reader they are read first (so a finger enrolled there
/// is not overwritten unseen), unless they were read this recently.
const RESCAN_BEFORE_WRITE: Duration = Duration::from_secs(60);
/// Largest template upload (users + templates) per CMD_SAVE_USERTEMPS, bytes.
const UPLOAD_BATCH: usize = 32 * 1024;

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
    /// Whether the reader's templates were read.
    pub templates_read: bool,
    /// Templates enrolled on the reader and stored (new or changed).
    pub templates_stored: usize,
    /// Stored templates written to the reader.
    pub templates_written: usize,
}

/// What the gateway remembers between sessions about reading a pull reader's templates.
#[derive(Debug, Default, Clone)]
pub struct TemplateScan {
    serial: String,
    fingers: Option<u32>,
    at: Option<Instant>,
    /// The last writes were refused: retried, but without reading everything first each time.
    refused: bool,
}

impl TemplateScan {
    /// Whether the templates must be read: never read (this run or this serial), the finger
    /// count moved, [`TEMPLATE_RESCAN`] passed, or a write is due and the last read is not fresh.
    fn due(&self, serial: &str, fingers: u32, writing: bool) -> bool {
        let Some(at) = self.at.filter(|_| self.serial == serial) else {
            return true;
        };
        self.fingers != Some(fingers)
            || at.elapsed() >= TEMPLATE_RESCAN
            || (writing && !self.refused && at.elapsed() >= RESCAN_BEFORE_WRITE)
    }

    fn read(&mut self, serial: &str, fingers: u32) {
        self.serial = serial.to_string();
        self.fingers = Some(fingers);
        self.at = Some(Instant::now());
    }
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
    scan: &mut TemplateScan,
) -> Result<PullSyncReport, PullSyncError> {
    let mut report = PullSyncReport::default();
    let roster = store.reader_roster(serial.to_string()).await?;
    if roster.desired.is_empty() {
        return Ok(report);
    }
    let users = client.users().await?;
    let layout = client.user_layout();
    let by_id: HashMap<&str, &User> = users.iter().map(|u| (u.user_id.as_str(), u)).collect();
    // The users on the reader once this pass is done: user id → record.
    let mut on_reader: HashMap<String, User> = users
        .iter()
        .map(|u| (u.user_id.clone(), u.clone()))
        .collect();
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
                on_reader.insert(nip.clone(), user);
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
            on_reader.remove(&u.user_id);
            report.deleted += 1;
        }
    }
    if !set.is_empty() || !deleted.is_empty() {
        store
            .record_reader_users(serial.to_string(), set, deleted)
            .await?;
    }
    if cfg.templates {
        sync_pull_templates(
            client,
            store,
            serial,
            &on_reader,
            &wanted,
            scan,
            &mut report,
        )
        .await?;
    }
    if report.set + report.deleted + report.templates_stored + report.templates_written > 0 {
        tracing::info!(
            serial,
            set = report.set,
            deleted = report.deleted,
            skipped = report.skipped,
            templates_stored = report.templates_stored,
            templates_written = report.templates_written,
            "roster sync: pull reader updated"
        );
    }
    Ok(report)
}

/// Reads the reader's templates when due and stores those enrolled there; then writes the
/// stored templates of roster employees on the reader that it lacks, in uploads of at most
/// [`UPLOAD_BATCH`] bytes.
async fn sync_pull_templates(
    client: &mut ZkClient,
    store: &Store,
    serial: &str,
    on_reader: &HashMap<String, User>,
    wanted: &HashSet<&str>,
    scan: &mut TemplateScan,
    report: &mut PullSyncReport,
) -> Result<(), PullSyncError> {
    let pins: Vec<String> = on_reader
        .keys()
        .filter(|p| wanted.contains(p.as_str()))
        .cloned()
        .collect();
    let fingers = client.free_sizes().await?.fingers;
    let mut missing = store
        .templates_for_pull_reader(serial.to_string(), pins.clone())
        .await?;
    if scan.due(serial, fingers, !missing.is_empty()) {
        let by_uid: HashMap<u16, &str> = on_reader
            .values()
            .map(|u| (u.uid, u.user_id.as_str()))
            .collect();
        let read = client.templates().await?;
        report.templates_read = true;
        let mut pulled = Vec::with_capacity(read.len());
        for t in read {
            match by_uid.get(&t.uid) {
                Some(pin) if t.fid <= 9 => pulled.push(PulledTemplate {
                    pin: (*pin).to_string(),
                    fid: t.fid,
                    valid: t.valid,
                    template: t.template,
                }),
                _ => tracing::debug!(
                    serial,
                    uid = t.uid,
                    fid = t.fid,
                    "template of no known user or finger; ignored"
                ),
            }
        }
        let stored = store
            .store_pulled_templates(serial.to_string(), pulled)
            .await?;
        report.templates_stored = stored.new;
        if stored.forgotten > 0 {
            tracing::info!(
                serial,
                templates = stored.forgotten,
                "pull reader no longer holds templates it was given; writing them again"
            );
        }
        scan.read(serial, fingers);
        missing = store
            .templates_for_pull_reader(serial.to_string(), pins)
            .await?;
    }
    if missing.is_empty() {
        scan.refused = false;
        return Ok(());
    }
    let mut refused = false;
    for batch in upload_batches(missing, on_reader) {
        let entries: Vec<(User, Vec<FingerTemplate>)> = batch
            .iter()
            .map(|(user, ts)| {
                let fingers = ts
                    .iter()
                    .map(|t| FingerTemplate {
                        uid: user.uid,
                        fid: t.fid,
                        valid: 1,
                        template: t.template.clone(),
                    })
                    .collect();
                ((*user).clone(), fingers)
            })
            .collect();
        match client.save_user_templates(&entries).await {
            Ok(()) => {
                let written: Vec<(String, u8, String)> = batch
                    .iter()
                    .flat_map(|(_, ts)| ts.iter().map(|t| (t.pin.clone(), t.fid, t.sha256.clone())))
                    .collect();
                report.templates_written += written.len();
                store
                    .record_templates_written(serial.to_string(), written)
                    .await?;
            }
            Err(e @ (ZkError::Record { .. } | ZkError::DeviceError { .. })) => {
                let pins: Vec<&str> = batch.iter().map(|(u, _)| u.user_id.as_str()).collect();
                tracing::warn!(serial, ?pins, error = %e, "reader refused fingerprint templates; skipped, retried next poll");
                refused = true;
            }
            Err(e) => return Err(e.into()),
        }
    }
    // The reader's own count after the writes, so they do not look like enrolments there.
    let fingers = client.free_sizes().await?.fingers;
    if scan.at.is_some() {
        scan.fingers = Some(fingers);
    }
    scan.refused = refused;
    Ok(())
}

/// Groups templates by user and cuts them into uploads of at most [`UPLOAD_BATCH`] bytes (a
/// single user's fingers always travel together).
fn upload_batches(
    missing: Vec<TemplateToWrite>,
    on_reader: &HashMap<String, User>,
) -> Vec<Vec<(&User, Vec<TemplateToWrite>)>> {
    let mut by_pin: BTreeMap<String, Vec<TemplateToWrite>> = BTreeMap::new();
    for t in missing {
        by_pin.entry(t.pin.clone()).or_default().push(t);
    }
    let mut batches = Vec::new();
    let mut batch: Vec<(&User, Vec<TemplateToWrite>)> = Vec::new();
    let mut size = 0;
    for (pin, ts) in by_pin {
        let Some(user) = on_reader.get(&pin) else {
            continue;
        };
        let bytes = 80 + ts.iter().map(|t| 10 + t.template.len()).sum::<usize>();
        if !batch.is_empty() && size + bytes > UPLOAD_BATCH {
            batches.push(std::mem::take(&mut batch));
            size = 0;
        }
        size += bytes;
        batch.push((user, ts));
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}
