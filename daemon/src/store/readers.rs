//! Push readers, roster sync and fingerprint templates (issue 7): unknown serial numbers, upload
//! stamps, the per-reader command queue, what each reader holds, and the templates themselves.
//!
//! Every write here runs in the writer's transaction, so a push reader is answered `OK` only
//! after its lines, its stamp and anything derived from them (outbox entries, queued copies to
//! other readers) committed together.

use std::collections::{HashMap, HashSet};

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD as B64};
use base64::engine::DecodePaddingMode;
use base64::Engine;
use hadir_drivers::zk::push::{Command, CommandResult, PushTemplate, PushUser};
use rusqlite::{params, Connection, OptionalExtension, Transaction};
use serde::Serialize;

use super::{outbox, punches, Appended, Store, StoreError};
use crate::record::{payload_hash, stable_id, NewPunch};

/// A reader that called with a serial number not in the config.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UnknownReader {
    /// Serial number it gave.
    pub serial: String,
    /// First and last request (UTC).
    pub first_seen_utc: String,
    /// Last request (UTC).
    pub last_seen_utc: String,
    /// Address it called from.
    pub remote_addr: String,
    /// Requests refused so far.
    pub requests: i64,
    /// When an operator approved it (it may then upload), if they did.
    pub approved_utc: Option<String>,
    /// Who approved it.
    pub approved_by: Option<String>,
}

/// What a roster-sync pass queued for one push reader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SyncReport {
    /// Users created or renamed.
    pub users_set: usize,
    /// Users removed.
    pub users_deleted: usize,
    /// Fingerprint templates copied.
    pub templates: usize,
}

/// How a sync pass decides.
#[derive(Debug, Clone, Copy)]
pub struct SyncPolicy {
    /// Copy fingerprint templates.
    pub templates: bool,
    /// Remove reader users the gateway did not create (never privileged ones).
    pub prune_unknown: bool,
}

/// The roster as readers should hold it, and what the gateway believes a reader holds.
#[derive(Debug, Clone, Default)]
pub struct ReaderRoster {
    /// Active employees: NIP → name.
    pub desired: Vec<(String, String)>,
    /// Users recorded for this reader: pin → (name, privilege, managed by the gateway).
    pub held: HashMap<String, (String, i64, bool)>,
}

/// Outcome of an OPERLOG-style upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct OperStored {
    /// User lines recorded.
    pub users: usize,
    /// Templates that were new or changed (queued upstream and to the other readers).
    pub templates_new: usize,
    /// Templates already stored exactly so.
    pub templates_same: usize,
}

/// A fingerprint template read from a pull reader, under the reader's user id (PIN); the
/// reader's internal slot number is already mapped to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PulledTemplate {
    /// User id on the reader (the NIP).
    pub pin: String,
    /// Finger index 0–9.
    pub fid: u8,
    /// Valid flag as the reader reports it.
    pub valid: u8,
    /// Template bytes.
    pub template: Vec<u8>,
}

/// A stored template a pull reader lacks, decoded for writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateToWrite {
    /// User id (NIP).
    pub pin: String,
    /// Finger index 0–9.
    pub fid: u8,
    /// Template bytes.
    pub template: Vec<u8>,
    /// SHA-256 of the template's standard base64 (what `reader_templates` records).
    pub sha256: String,
}

/// What storing the templates read from a pull reader did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PulledStored {
    /// Enrolled or changed on the reader: stored, queued upstream and to the other readers.
    pub new: usize,
    /// The reader holds the stored version.
    pub same: usize,
    /// The reader still holds an older version the gateway knows it has (a newer one, enrolled
    /// elsewhere, is written to it).
    pub outdated: usize,
    /// Templates the gateway believed the reader held but it no longer does (written again).
    pub forgotten: usize,
}

/// Reads stored template text with or without `=` padding (push firmware may omit it).
const B64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Standard base64 of template bytes and the SHA-256 of that text (how templates are stored).
fn template_text(bytes: &[u8]) -> (String, String) {
    let text = B64.encode(bytes);
    let sha = payload_hash(text.as_bytes());
    (text, sha)
}

/// A stored template beside the version a reader holds: pin, fid, size, valid, base64,
/// sha256, sha256 held by the reader.
type TemplateRow = (String, u8, u32, u8, String, String, Option<String>);

fn now() -> String {
    jiff::Timestamp::now().to_string()
}

fn set_stamp(
    tx: &Transaction<'_>,
    serial: &str,
    table: &str,
    stamp: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO push_stamps (serial, tbl, stamp, updated_utc) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (serial, tbl) DO UPDATE SET stamp = excluded.stamp, updated_utc = excluded.updated_utc",
        params![serial, table, stamp, now()],
    )?;
    Ok(())
}

fn enqueue_command(
    tx: &Transaction<'_>,
    serial: &str,
    cmd: &Command,
    subject: &str,
) -> Result<i64, StoreError> {
    tx.prepare_cached(
        "INSERT INTO reader_commands (serial, command, subject, created_utc) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![serial, cmd.to_wire(), subject, now()])?;
    Ok(tx.last_insert_rowid())
}

fn pending_subjects(tx: &Connection, serial: &str) -> Result<HashSet<String>, StoreError> {
    let mut stmt = tx.prepare_cached(
        "SELECT subject FROM reader_commands WHERE serial = ?1 AND done_utc IS NULL",
    )?;
    let rows = stmt
        .query_map([serial], |r| r.get::<_, String>(0))?
        .collect::<Result<HashSet<_>, _>>()?;
    Ok(rows)
}

/// Whether a new command for `subject` may be queued: drops pending commands for it that were
/// not handed out yet (they are superseded); false while one is out on the reader.
fn supersede(
    tx: &Transaction<'_>,
    serial: &str,
    subject: &str,
    pending: &HashSet<String>,
) -> Result<bool, StoreError> {
    if !pending.contains(subject) {
        return Ok(true);
    }
    tx.prepare_cached(
        "DELETE FROM reader_commands
         WHERE serial = ?1 AND subject = ?2 AND done_utc IS NULL AND sent_utc IS NULL",
    )?
    .execute(params![serial, subject])?;
    let out: i64 = tx
        .prepare_cached(
            "SELECT COUNT(*) FROM reader_commands WHERE serial = ?1 AND subject = ?2 AND done_utc IS NULL",
        )?
        .query_row(params![serial, subject], |r| r.get(0))?;
    Ok(out == 0)
}

fn desired_roster(conn: &Connection) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT nip, name FROM employees WHERE active = 1 ORDER BY nip")?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

fn held_users(
    conn: &Connection,
    serial: &str,
) -> Result<HashMap<String, (String, i64, bool)>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT pin, name, privilege, managed FROM reader_users WHERE serial = ?1",
    )?;
    let rows = stmt
        .query_map([serial], |r| {
            Ok((r.get::<_, String>(0)?, (r.get(1)?, r.get(2)?, r.get(3)?)))
        })?
        .collect::<Result<HashMap<_, _>, _>>()?;
    Ok(rows)
}

fn upsert_held(
    tx: &Transaction<'_>,
    serial: &str,
    pin: &str,
    name: &str,
    privilege: i64,
    managed: bool,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO reader_users (serial, pin, name, privilege, managed, updated_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (serial, pin) DO UPDATE SET name = excluded.name,
             privilege = excluded.privilege,
             managed = MAX(reader_users.managed, excluded.managed),
             updated_utc = excluded.updated_utc",
    )?
    .execute(params![serial, pin, name, privilege, managed, now()])?;
    Ok(())
}

/// Name as readers show it: printable, at most 23 bytes (the 72-byte user record has a 24-byte
/// NUL-terminated name field), cut at a character boundary.
pub fn reader_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars().map(|c| if c.is_control() { ' ' } else { c }) {
        if out.len() + c.len_utf8() > 23 {
            break;
        }
        out.push(c);
    }
    out.trim().to_string()
}

impl Store {
    /// Whether an operator approved this (unconfigured) push reader.
    pub async fn push_approved(&self, serial: String) -> Result<bool, StoreError> {
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT approved_utc IS NOT NULL FROM push_unknown WHERE serial = ?1",
                [&serial],
                |r| r.get::<_, bool>(0),
            )
            .optional()?
            .unwrap_or(false))
        })
        .await
    }

    /// Records a request from an unknown serial; at most `max` serials are remembered.
    pub async fn record_unknown_reader(
        &self,
        serial: String,
        remote_addr: String,
        max: u32,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            let t = now();
            let updated = tx.execute(
                "UPDATE push_unknown SET last_seen_utc = ?2, remote_addr = ?3, requests = requests + 1
                 WHERE serial = ?1",
                params![serial, t, remote_addr],
            )?;
            if updated == 0 {
                let n: i64 = tx.query_row("SELECT COUNT(*) FROM push_unknown", [], |r| r.get(0))?;
                if n < i64::from(max) {
                    tx.execute(
                        "INSERT INTO push_unknown (serial, first_seen_utc, last_seen_utc, remote_addr, requests)
                         VALUES (?1, ?2, ?2, ?3, 1)",
                        params![serial, t, remote_addr],
                    )?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Unknown push readers, newest first.
    pub async fn unknown_readers(&self) -> Result<Vec<UnknownReader>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT serial, first_seen_utc, last_seen_utc, remote_addr, requests, approved_utc,
                        approved_by FROM push_unknown ORDER BY last_seen_utc DESC",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    Ok(UnknownReader {
                        serial: r.get(0)?,
                        first_seen_utc: r.get(1)?,
                        last_seen_utc: r.get(2)?,
                        remote_addr: r.get(3)?,
                        requests: r.get(4)?,
                        approved_utc: r.get(5)?,
                        approved_by: r.get(6)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Approves an unknown push reader so it may upload; false when the serial was never seen.
    pub async fn approve_reader(&self, serial: String, by: String) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let t = now();
            let n = tx.execute(
                "UPDATE push_unknown SET approved_utc = COALESCE(approved_utc, ?2), approved_by = COALESCE(approved_by, ?3)
                 WHERE serial = ?1",
                params![serial, t, by],
            )?;
            if n == 1 {
                tx.execute(
                    "INSERT INTO audit_log (at_utc, actor, action, subject, detail) VALUES (?1, ?2, 'reader-approved', ?3, '')",
                    params![t, by, serial],
                )?;
            }
            Ok(n == 1)
        })
        .await
    }

    /// Serials of approved (unconfigured) push readers.
    pub async fn approved_readers(&self) -> Result<Vec<String>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT serial FROM push_unknown WHERE approved_utc IS NOT NULL ORDER BY serial",
            )?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// The stored stamps of a push reader: (ATTLOG, OPERLOG); "0" when none.
    pub async fn push_stamps(&self, serial: String) -> Result<(String, String), StoreError> {
        self.read(move |c| {
            let get = |t: &str| -> Result<String, StoreError> {
                Ok(c.query_row(
                    "SELECT stamp FROM push_stamps WHERE serial = ?1 AND tbl = ?2",
                    params![serial, t],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or_else(|| "0".to_string()))
            };
            Ok((get("ATTLOG")?, get("OPERLOG")?))
        })
        .await
    }

    /// Stores pushed punches and the upload's stamp in one transaction; resolves after commit.
    pub async fn store_pushed_punches(
        &self,
        serial: String,
        punches: Vec<NewPunch>,
        stamp: Option<String>,
    ) -> Result<Vec<Appended>, StoreError> {
        let office = self.office.clone();
        let tz = self.tz.clone();
        let result = self
            .write_intake(move |tx| {
                let out = punches::insert(tx, &office, &tz, &punches)?;
                if let Some(s) = &stamp {
                    set_stamp(tx, &serial, "ATTLOG", s)?;
                }
                Ok(out)
            })
            .await;
        if result
            .as_ref()
            .is_ok_and(|r| r.iter().any(|a| !a.duplicate))
        {
            self.appended.notify_one();
        }
        result
    }

    /// Stores users and fingerprint templates a reader reported (OPERLOG, USERINFO,
    /// FINGERTMP). A new or changed template is queued upstream in the same transaction.
    pub async fn store_reader_oper(
        &self,
        serial: String,
        users: Vec<PushUser>,
        templates: Vec<PushTemplate>,
        stamp: Option<(String, String)>,
    ) -> Result<OperStored, StoreError> {
        let office = self.office.clone();
        let result = self
            .write_intake(move |tx| {
                let mut out = OperStored::default();
                for u in &users {
                    upsert_held(tx, &serial, &u.pin, &u.name, i64::from(u.privilege), false)?;
                    out.users += 1;
                }
                for t in &templates {
                    if store_template(tx, &office, &serial, t)? {
                        out.templates_new += 1;
                    } else {
                        out.templates_same += 1;
                    }
                }
                if let Some((table, s)) = &stamp {
                    set_stamp(tx, &serial, table, s)?;
                }
                Ok(out)
            })
            .await;
        if result.as_ref().is_ok_and(|o| o.templates_new > 0) {
            self.appended.notify_one();
        }
        result
    }

    /// Hands out up to `limit` queued commands for a push reader and marks them sent. Commands
    /// sent more than `resend_after_s` ago without a result are sent again (they are idempotent).
    pub async fn take_reader_commands(
        &self,
        serial: String,
        limit: usize,
        resend_after_s: i64,
    ) -> Result<Vec<(u64, String)>, StoreError> {
        self.write(move |tx| {
            let t = jiff::Timestamp::now();
            let cutoff = (t - jiff::SignedDuration::from_secs(resend_after_s)).to_string();
            let rows: Vec<(i64, String)> = tx
                .prepare_cached(
                    "SELECT id, command FROM reader_commands
                     WHERE serial = ?1 AND done_utc IS NULL AND (sent_utc IS NULL OR sent_utc < ?2)
                     ORDER BY id LIMIT ?3",
                )?
                .query_map(params![serial, cutoff, limit as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?
                .collect::<Result<_, _>>()?;
            let now = t.to_string();
            for (id, _) in &rows {
                tx.prepare_cached(
                    "UPDATE reader_commands SET sent_utc = ?2, sent_count = sent_count + 1 WHERE id = ?1",
                )?
                .execute(params![id, now])?;
            }
            Ok(rows.into_iter().map(|(id, c)| (id as u64, c)).collect())
        })
        .await
    }

    /// Records command results from a push reader. A failed user or template command forgets
    /// what the gateway believed the reader holds, so the next sync pass queues it again.
    /// Returns how many results matched a command of this reader.
    pub async fn record_command_results(
        &self,
        serial: String,
        results: Vec<CommandResult>,
    ) -> Result<usize, StoreError> {
        self.write(move |tx| {
            let mut matched = 0;
            for r in &results {
                let row: Option<String> = tx
                    .query_row(
                        "SELECT subject FROM reader_commands WHERE id = ?1 AND serial = ?2",
                        params![r.id as i64, serial],
                        |x| x.get(0),
                    )
                    .optional()?;
                let Some(subject) = row else {
                    continue;
                };
                matched += 1;
                tx.execute(
                    "UPDATE reader_commands SET done_utc = COALESCE(done_utc, ?2), return_code = ?3 WHERE id = ?1",
                    params![r.id as i64, now(), r.ret],
                )?;
                if r.ret == 0 {
                    continue;
                }
                if let Some(pin) = subject.strip_prefix("user:") {
                    tx.execute(
                        "DELETE FROM reader_users WHERE serial = ?1 AND pin = ?2",
                        params![serial, pin],
                    )?;
                } else if let Some(rest) = subject.strip_prefix("fp:") {
                    if let Some((pin, fid)) = rest.split_once(':') {
                        tx.execute(
                            "DELETE FROM reader_templates WHERE serial = ?1 AND pin = ?2 AND fid = ?3",
                            params![serial, pin, fid],
                        )?;
                    }
                }
            }
            Ok(matched)
        })
        .await
    }

    /// A cheap fingerprint of the roster and templates; changes whenever either changes.
    pub async fn roster_version(&self) -> Result<String, StoreError> {
        self.read(|c| {
            let v: (i64, Option<String>, i64, Option<String>) = c.query_row(
                "SELECT (SELECT COUNT(*) FROM employees WHERE active = 1),
                        (SELECT MAX(updated_utc) FROM employees),
                        (SELECT COUNT(*) FROM fingerprint_templates),
                        (SELECT MAX(updated_utc) FROM fingerprint_templates)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            Ok(format!("{v:?}"))
        })
        .await
    }

    /// Queues the commands that bring one push reader in step with the roster and the stored
    /// templates. Does nothing while the roster is empty (a fresh gateway must not wipe
    /// readers).
    pub async fn sync_push_reader(
        &self,
        serial: String,
        policy: SyncPolicy,
    ) -> Result<SyncReport, StoreError> {
        self.write(move |tx| {
            let mut report = SyncReport::default();
            // Finished commands are kept a week for the UI and support, then dropped.
            let week_ago = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * 7)).to_string();
            tx.execute(
                "DELETE FROM reader_commands WHERE serial = ?1 AND done_utc IS NOT NULL AND done_utc < ?2",
                params![serial, week_ago],
            )?;
            let desired = desired_roster(tx)?;
            if desired.is_empty() {
                return Ok(report);
            }
            let held = held_users(tx, &serial)?;
            let pending = pending_subjects(tx, &serial)?;
            let wanted: HashSet<&str> = desired.iter().map(|(n, _)| n.as_str()).collect();
            for (nip, name) in &desired {
                let name = reader_name(name);
                let subject = format!("user:{nip}");
                if held.get(nip).is_some_and(|(n, _, _)| *n == name) {
                    continue;
                }
                if !supersede(tx, &serial, &subject, &pending)? {
                    continue;
                }
                let user = PushUser {
                    pin: nip.clone(),
                    name: name.clone(),
                    ..Default::default()
                };
                enqueue_command(tx, &serial, &Command::UpdateUser(user), &subject)?;
                upsert_held(tx, &serial, nip, &name, 0, true)?;
                report.users_set += 1;
            }
            for (pin, (_, privilege, managed)) in &held {
                if wanted.contains(pin.as_str()) {
                    continue;
                }
                let removable = *managed || (policy.prune_unknown && *privilege == 0);
                let subject = format!("user:{pin}");
                if !removable || !supersede(tx, &serial, &subject, &pending)? {
                    continue;
                }
                enqueue_command(
                    tx,
                    &serial,
                    &Command::DeleteUser { pin: pin.clone() },
                    &subject,
                )?;
                tx.execute(
                    "DELETE FROM reader_users WHERE serial = ?1 AND pin = ?2",
                    params![serial, pin],
                )?;
                tx.execute(
                    "DELETE FROM reader_templates WHERE serial = ?1 AND pin = ?2",
                    params![serial, pin],
                )?;
                report.users_deleted += 1;
            }
            if policy.templates {
                let rows: Vec<TemplateRow> = tx
                    .prepare_cached(
                        "SELECT f.pin, f.fid, f.size, f.valid, f.template, f.sha256, r.sha256
                         FROM fingerprint_templates f
                         LEFT JOIN reader_templates r
                           ON r.serial = ?1 AND r.pin = f.pin AND r.fid = f.fid
                         ORDER BY f.pin, f.fid",
                    )?
                    .query_map([&serial], |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                            r.get(6)?,
                        ))
                    })?
                    .collect::<Result<_, _>>()?;
                for (pin, fid, size, valid, tmp, sha, held_sha) in rows {
                    if !wanted.contains(pin.as_str()) || held_sha.as_deref() == Some(sha.as_str()) {
                        continue;
                    }
                    let subject = format!("fp:{pin}:{fid}");
                    if !supersede(tx, &serial, &subject, &pending)? {
                        continue;
                    }
                    let t = PushTemplate {
                        pin: pin.clone(),
                        fid,
                        size,
                        valid,
                        tmp,
                    };
                    enqueue_command(tx, &serial, &Command::UpdateTemplate(t), &subject)?;
                    mark_template_held(tx, &serial, &pin, fid, &sha)?;
                    report.templates += 1;
                }
            }
            Ok(report)
        })
        .await
    }

    /// Queues a clock correction for a push reader unless one is already pending.
    pub async fn queue_reader_clock(
        &self,
        serial: String,
        local_time: String,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            if pending_subjects(tx, &serial)?.contains("clock") {
                return Ok(false);
            }
            let cmd = Command::SetOption {
                key: "DateTime".into(),
                value: local_time,
            };
            enqueue_command(tx, &serial, &cmd, "clock")?;
            Ok(true)
        })
        .await
    }

    /// Takes an employee off the roster (kept for history; re-adding them activates them
    /// again). Readers drop the user at the next sync. False when no active employee has it.
    pub async fn deactivate_employee(&self, nip: String, by: String) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let t = now();
            let n = tx.execute(
                "UPDATE employees SET active = 0, updated_utc = ?2 WHERE nip = ?1 AND active = 1",
                params![nip, t],
            )?;
            if n == 1 {
                tx.execute(
                    "INSERT INTO audit_log (at_utc, actor, action, subject, detail) VALUES (?1, ?2, 'employee-deactivated', ?3, '')",
                    params![t, by, nip],
                )?;
            }
            Ok(n == 1)
        })
        .await
    }

    /// The roster and what the gateway believes a pull reader holds.
    pub async fn reader_roster(&self, serial: String) -> Result<ReaderRoster, StoreError> {
        self.read(move |c| {
            Ok(ReaderRoster {
                desired: desired_roster(c)?,
                held: held_users(c, &serial)?,
            })
        })
        .await
    }

    /// Records users set on (`set`: pin, name) and removed from (`deleted`) a pull reader.
    /// A removed user's fingerprints went with them.
    pub async fn record_reader_users(
        &self,
        serial: String,
        set: Vec<(String, String)>,
        deleted: Vec<String>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            for (pin, name) in &set {
                upsert_held(tx, &serial, pin, name, 0, true)?;
            }
            for pin in &deleted {
                tx.execute(
                    "DELETE FROM reader_users WHERE serial = ?1 AND pin = ?2",
                    params![serial, pin],
                )?;
                tx.execute(
                    "DELETE FROM reader_templates WHERE serial = ?1 AND pin = ?2",
                    params![serial, pin],
                )?;
            }
            Ok(())
        })
        .await
    }

    /// Stores the complete set of templates read from a pull reader. A template the reader holds
    /// that is neither the stored version nor the version the gateway last saw or wrote there
    /// was enrolled on the reader: it is stored like a pushed one (de-duplicated by SHA-256,
    /// queued upstream, copied to the other readers). `reader_templates` for this serial is
    /// set to what the reader holds, so templates it lost are written again.
    pub async fn store_pulled_templates(
        &self,
        serial: String,
        templates: Vec<PulledTemplate>,
    ) -> Result<PulledStored, StoreError> {
        let office = self.office.clone();
        let result = self
            .write_intake(move |tx| {
                let mut out = PulledStored::default();
                let mut seen: HashSet<(String, u8)> = HashSet::new();
                for t in &templates {
                    seen.insert((t.pin.clone(), t.fid));
                    let (text, sha) = template_text(&t.template);
                    let stored: Option<(String, String)> = tx
                        .prepare_cached(
                            "SELECT template, sha256 FROM fingerprint_templates WHERE pin = ?1 AND fid = ?2",
                        )?
                        .query_row(params![t.pin, t.fid], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()?;
                    let held: Option<String> = tx
                        .prepare_cached(
                            "SELECT sha256 FROM reader_templates WHERE serial = ?1 AND pin = ?2 AND fid = ?3",
                        )?
                        .query_row(params![serial, t.pin, t.fid], |r| r.get(0))
                        .optional()?;
                    let is_stored = stored.as_ref().is_some_and(|(tmp, stored_sha)| {
                        *stored_sha == sha || B64_LENIENT.decode(tmp.trim()).is_ok_and(|b| b == t.template)
                    });
                    if is_stored {
                        mark_template_held(tx, &serial, &t.pin, t.fid, &sha)?;
                        out.same += 1;
                    } else if held.as_deref() == Some(sha.as_str()) {
                        out.outdated += 1;
                    } else {
                        let pushed = PushTemplate {
                            pin: t.pin.clone(),
                            fid: t.fid,
                            size: t.template.len() as u32,
                            valid: t.valid,
                            tmp: text,
                        };
                        store_template(tx, &office, &serial, &pushed)?;
                        out.new += 1;
                    }
                }
                let believed: Vec<(String, u8)> = tx
                    .prepare_cached("SELECT pin, fid FROM reader_templates WHERE serial = ?1")?
                    .query_map([&serial], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                for (pin, fid) in believed {
                    if !seen.contains(&(pin.clone(), fid)) {
                        tx.execute(
                            "DELETE FROM reader_templates WHERE serial = ?1 AND pin = ?2 AND fid = ?3",
                            params![serial, pin, fid],
                        )?;
                        out.forgotten += 1;
                    }
                }
                Ok(out)
            })
            .await;
        if result.as_ref().is_ok_and(|o| o.new > 0) {
            self.appended.notify_one();
        }
        result
    }

    /// Stored templates of the given users that a pull reader is not known to hold, decoded.
    /// Templates whose stored text is not valid base64 are skipped with a warning.
    pub async fn templates_for_pull_reader(
        &self,
        serial: String,
        pins: Vec<String>,
    ) -> Result<Vec<TemplateToWrite>, StoreError> {
        self.read(move |c| {
            let pins: HashSet<String> = pins.into_iter().collect();
            let mut stmt = c.prepare_cached(
                "SELECT f.pin, f.fid, f.template, r.sha256
                 FROM fingerprint_templates f
                 LEFT JOIN reader_templates r
                   ON r.serial = ?1 AND r.pin = f.pin AND r.fid = f.fid
                 WHERE r.sha256 IS NULL OR r.sha256 <> f.sha256
                 ORDER BY f.pin, f.fid",
            )?;
            let rows = stmt
                .query_map([&serial], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u8>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut out = Vec::new();
            for (pin, fid, text, held) in rows {
                if !pins.contains(&pin) {
                    continue;
                }
                let Ok(template) = B64_LENIENT.decode(text.trim()) else {
                    tracing::warn!(serial, pin, fid, "stored fingerprint template is not valid base64; not written to the reader");
                    continue;
                };
                // The reader may hold exactly these bytes under another spelling of the base64.
                let (_, sha256) = template_text(&template);
                if held.as_deref() == Some(sha256.as_str()) {
                    continue;
                }
                out.push(TemplateToWrite {
                    pin,
                    fid,
                    template,
                    sha256,
                });
            }
            Ok(out)
        })
        .await
    }

    /// Records templates written to a pull reader: (pin, finger, SHA-256 of its base64).
    pub async fn record_templates_written(
        &self,
        serial: String,
        written: Vec<(String, u8, String)>,
    ) -> Result<(), StoreError> {
        self.write(move |tx| {
            for (pin, fid, sha) in &written {
                mark_template_held(tx, &serial, pin, *fid, sha)?;
            }
            Ok(())
        })
        .await
    }
}

fn mark_template_held(
    tx: &Transaction<'_>,
    serial: &str,
    pin: &str,
    fid: u8,
    sha: &str,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO reader_templates (serial, pin, fid, sha256, updated_utc) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (serial, pin, fid) DO UPDATE SET sha256 = excluded.sha256, updated_utc = excluded.updated_utc",
    )?
    .execute(params![serial, pin, fid, sha, now()])?;
    Ok(())
}

/// Stores a template reported by `serial`; true when it was new or changed (then it is queued
/// upstream). The reporting reader is recorded as holding it either way.
fn store_template(
    tx: &Transaction<'_>,
    office: &str,
    serial: &str,
    t: &PushTemplate,
) -> Result<bool, StoreError> {
    let sha = payload_hash(t.tmp.as_bytes());
    mark_template_held(tx, serial, &t.pin, t.fid, &sha)?;
    let old: Option<String> = tx
        .query_row(
            "SELECT sha256 FROM fingerprint_templates WHERE pin = ?1 AND fid = ?2",
            params![t.pin, t.fid],
            |r| r.get(0),
        )
        .optional()?;
    if old.as_deref() == Some(sha.as_str()) {
        return Ok(false);
    }
    let record_id = stable_id(&[
        "hadir-fingerprint-template-v1",
        office,
        &t.pin,
        &t.fid.to_string(),
        &sha,
    ]);
    let t_now = now();
    tx.execute(
        "INSERT INTO fingerprint_templates (pin, fid, size, valid, template, sha256, source_serial, record_id, updated_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (pin, fid) DO UPDATE SET size = excluded.size, valid = excluded.valid,
             template = excluded.template, sha256 = excluded.sha256,
             source_serial = excluded.source_serial, record_id = excluded.record_id,
             updated_utc = excluded.updated_utc",
        params![t.pin, t.fid, t.size, t.valid, t.tmp, sha, serial, record_id, t_now],
    )?;
    let exists: bool = tx
        .query_row(
            "SELECT 1 FROM outbox WHERE record_id = ?1",
            [&record_id],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if !exists {
        let body = serde_json::json!({
            "type": "fingerprint-template",
            "record_id": record_id,
            "office": office,
            "employee": t.pin,
            "finger": t.fid,
            "size": t.size,
            "valid": t.valid,
            "template_b64": t.tmp,
            "template_sha256": sha,
            "source_device": serial,
            "received_utc": t_now,
        })
        .to_string();
        outbox::enqueue(tx, &record_id, "fingerprint-template", &body, &t_now)?;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DiskLimits, Employee, StoreOwner};

    fn employee(nip: &str, name: &str) -> Employee {
        Employee {
            nip: nip.into(),
            name: name.into(),
            unit: String::new(),
            position: String::new(),
            home_lat: None,
            home_lon: None,
        }
    }

    #[tokio::test]
    async fn sync_queues_once_requeues_after_a_failure_and_never_acts_on_an_empty_roster() {
        let dir = std::env::temp_dir().join(format!(
            "hadir-readers-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let limits = DiskLimits {
            max_db_bytes: 0,
            min_free_bytes: 0,
        };
        let (owner, _) = StoreOwner::open(&dir, "o", jiff::tz::TimeZone::UTC, limits).unwrap();
        let store = owner.store();
        let policy = SyncPolicy {
            templates: true,
            prune_unknown: false,
        };
        let sn = || "SN1".to_string();
        // A user the reader reported, while the roster is empty: nothing happens.
        store
            .store_reader_oper(
                sn(),
                vec![PushUser {
                    pin: "5".into(),
                    name: "Lokal".into(),
                    ..Default::default()
                }],
                Vec::new(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            store.sync_push_reader(sn(), policy).await.unwrap(),
            SyncReport::default()
        );

        store
            .upsert_employee(employee("1001", "Siti"))
            .await
            .unwrap();
        let r = store.sync_push_reader(sn(), policy).await.unwrap();
        assert_eq!(
            (r.users_set, r.users_deleted),
            (1, 0),
            "the reader's own user stays"
        );
        assert_eq!(
            store.sync_push_reader(sn(), policy).await.unwrap(),
            SyncReport::default(),
            "nothing queued twice"
        );
        let cmds = store.take_reader_commands(sn(), 16, 300).await.unwrap();
        assert_eq!(cmds.len(), 1);
        assert!(cmds[0]
            .1
            .starts_with("DATA UPDATE USERINFO PIN=1001\tName=Siti"));
        assert!(store
            .take_reader_commands(sn(), 16, 300)
            .await
            .unwrap()
            .is_empty());
        // The reader fails it: the next pass queues it again.
        let failed = CommandResult {
            id: cmds[0].0,
            ret: -1,
            cmd: "DATA".into(),
        };
        assert_eq!(
            store
                .record_command_results(sn(), vec![failed])
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store
                .sync_push_reader(sn(), policy)
                .await
                .unwrap()
                .users_set,
            1
        );
        // A result for another reader's command is ignored.
        let foreign = CommandResult {
            id: cmds[0].0,
            ret: 0,
            cmd: "DATA".into(),
        };
        assert_eq!(
            store
                .record_command_results("SN2".into(), vec![foreign])
                .await
                .unwrap(),
            0
        );
        // Off the roster: removed, since the gateway put it there.
        store
            .upsert_employee(employee("1002", "Budi"))
            .await
            .unwrap();
        store
            .deactivate_employee("1001".into(), "t".into())
            .await
            .unwrap();
        let r = store.sync_push_reader(sn(), policy).await.unwrap();
        assert_eq!((r.users_set, r.users_deleted), (1, 1));
        drop(store);
        owner.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn pulled_templates_are_stored_once_and_an_older_copy_on_a_reader_is_not_a_new_enrolment()
    {
        let dir = std::env::temp_dir().join(format!(
            "hadir-pulled-{}-{}",
            std::process::id(),
            jiff::Timestamp::now().as_nanosecond()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let limits = DiskLimits {
            max_db_bytes: 0,
            min_free_bytes: 0,
        };
        let (owner, _) = StoreOwner::open(&dir, "o", jiff::tz::TimeZone::UTC, limits).unwrap();
        let store = owner.store();
        let a = || "PULLA".to_string();
        let pulled = |fid: u8, bytes: &[u8]| PulledTemplate {
            pin: "1001".into(),
            fid,
            valid: 1,
            template: bytes.to_vec(),
        };
        let fingerprints = |s: &Store| {
            let s = s.clone();
            async move {
                s.read(|c| {
                    Ok(c.query_row(
                        "SELECT COUNT(*) FROM outbox WHERE kind = 'fingerprint-template'",
                        [],
                        |r| r.get::<_, i64>(0),
                    )?)
                })
                .await
                .unwrap()
            }
        };
        let pins = || vec!["1001".to_string()];

        // Enrolled on reader A: stored once.
        let x = b"finger X".to_vec();
        let r = store
            .store_pulled_templates(a(), vec![pulled(1, &x)])
            .await
            .unwrap();
        assert_eq!((r.new, r.same), (1, 0));
        let r = store
            .store_pulled_templates(a(), vec![pulled(1, &x)])
            .await
            .unwrap();
        assert_eq!((r.new, r.same), (0, 1));
        assert!(store
            .templates_for_pull_reader(a(), pins())
            .await
            .unwrap()
            .is_empty());

        // Re-enrolled at a push reader: reader A's older copy is not taken for a new enrolment,
        // and the newer one is due for A.
        let y = b"finger Y, newer".to_vec();
        let push_y = PushTemplate {
            pin: "1001".into(),
            fid: 1,
            size: y.len() as u32,
            valid: 1,
            tmp: B64.encode(&y),
        };
        store
            .store_reader_oper("PUSH1".into(), Vec::new(), vec![push_y], None)
            .await
            .unwrap();
        let r = store
            .store_pulled_templates(a(), vec![pulled(1, &x)])
            .await
            .unwrap();
        assert_eq!((r.new, r.outdated), (0, 1));
        let due = store.templates_for_pull_reader(a(), pins()).await.unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].template, y);
        // Only employees asked for.
        assert!(store
            .templates_for_pull_reader(a(), vec!["2002".into()])
            .await
            .unwrap()
            .is_empty());
        store
            .record_templates_written(a(), vec![("1001".into(), 1, due[0].sha256.clone())])
            .await
            .unwrap();
        assert!(store
            .templates_for_pull_reader(a(), pins())
            .await
            .unwrap()
            .is_empty());
        let r = store
            .store_pulled_templates(a(), vec![pulled(1, &y)])
            .await
            .unwrap();
        assert_eq!((r.new, r.same), (0, 1));

        // The reader lost it: written again.
        let r = store.store_pulled_templates(a(), Vec::new()).await.unwrap();
        assert_eq!(r.forgotten, 1);
        assert_eq!(
            store
                .templates_for_pull_reader(a(), pins())
                .await
                .unwrap()
                .len(),
            1
        );

        // Base64 without padding from push firmware: written once, read back as the same.
        let z = b"Hadir template".to_vec();
        let push_z = PushTemplate {
            pin: "1001".into(),
            fid: 2,
            size: 14,
            valid: 1,
            tmp: "SGFkaXIgdGVtcGxhdGU".into(),
        };
        store
            .store_reader_oper("PUSH1".into(), Vec::new(), vec![push_z], None)
            .await
            .unwrap();
        let due = store.templates_for_pull_reader(a(), pins()).await.unwrap();
        assert_eq!(due.len(), 2);
        let written = due
            .iter()
            .map(|t| ("1001".to_string(), t.fid, t.sha256.clone()))
            .collect();
        store.record_templates_written(a(), written).await.unwrap();
        assert!(store
            .templates_for_pull_reader(a(), pins())
            .await
            .unwrap()
            .is_empty());
        let r = store
            .store_pulled_templates(a(), vec![pulled(1, &y), pulled(2, &z)])
            .await
            .unwrap();
        assert_eq!((r.new, r.same), (0, 2));
        assert_eq!(
            fingerprints(&store).await,
            3,
            "X, Y and Z queued upstream once each"
        );
        drop(store);
        owner.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn reader_names_are_cut_to_23_bytes_at_a_character_boundary() {
        assert_eq!(reader_name("Siti Aminah"), "Siti Aminah");
        let long = "Dr. Ir. Héndra Wïjaya Kusuma, S.T., M.Eng.";
        let cut = reader_name(long);
        assert!(cut.len() <= 23, "{cut}");
        assert!(long.starts_with(&cut));
        assert_eq!(reader_name("a\tb"), "a b");
    }
}
