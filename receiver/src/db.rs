//! The receiver's SQLite store and the acceptance rules for a batch.

use std::path::Path;

use hadir_upstream::{Ack, AckStatus, Batch, VerifyError, GENESIS, VERSION};
use rusqlite::{params, Connection, OptionalExtension};

/// The result of offering a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The acknowledgement to send back.
    pub ack: Ack,
}

/// How unknown gateways are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPolicy {
    /// Pin the first key a gateway presents (trials).
    TrustOnFirstUse,
    /// Accept only gateways registered with `register`.
    RegisteredOnly,
}

/// The receiver database.
pub struct ReceiverDb {
    conn: Connection,
    policy: KeyPolicy,
}

impl ReceiverDb {
    /// Opens or creates the database.
    pub fn open(path: &Path, policy: KeyPolicy) -> rusqlite::Result<ReceiverDb> {
        // Every commit is durable (synchronous=FULL). The record-id index takes random inserts,
        // so a large page cache and checkpointing every ~40 MiB of WAL rather than every 4 MiB
        // keep the same index pages from being read and written back over and over.
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch(
            "PRAGMA synchronous=FULL;
             PRAGMA cache_size=-65536;
             PRAGMA wal_autocheckpoint=10000;
             CREATE TABLE IF NOT EXISTS gateways (
                 gateway TEXT PRIMARY KEY, key TEXT NOT NULL, registered_utc TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS chains (
                 gateway TEXT NOT NULL, chain_id TEXT NOT NULL, last_seq INTEGER NOT NULL,
                 last_hash TEXT NOT NULL, started_utc TEXT NOT NULL,
                 PRIMARY KEY (gateway, chain_id));
             CREATE TABLE IF NOT EXISTS records (
                 record_id TEXT PRIMARY KEY, gateway TEXT NOT NULL, chain_id TEXT NOT NULL,
                 seq INTEGER NOT NULL, kind TEXT NOT NULL, hash TEXT NOT NULL, body TEXT NOT NULL,
                 received_utc TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS chain_links (
                 gateway TEXT NOT NULL, chain_id TEXT NOT NULL, seq INTEGER NOT NULL,
                 hash TEXT NOT NULL, record_id TEXT NOT NULL,
                 PRIMARY KEY (gateway, chain_id, seq));
             CREATE TABLE IF NOT EXISTS batches (
                 batch_id TEXT PRIMARY KEY, received_utc TEXT NOT NULL,
                 stored INTEGER NOT NULL, duplicates INTEGER NOT NULL);",
        )?;
        Ok(ReceiverDb { conn, policy })
    }

    /// Registers (or replaces) a gateway's public key.
    pub fn register(&self, gateway: &str, key_hex: &str) -> rusqlite::Result<()> {
        self.conn.execute(
            "INSERT INTO gateways (gateway, key, registered_utc) VALUES (?1, ?2, datetime('now'))
             ON CONFLICT (gateway) DO UPDATE SET key = excluded.key",
            params![gateway, key_hex],
        )?;
        Ok(())
    }

    /// Verifies and stores a batch; the returned ack is valid only after this returns (the
    /// transaction has committed).
    pub fn offer(&mut self, batch: &Batch) -> rusqlite::Result<Outcome> {
        let verdict = batch.verify();
        let mut out = self.offer_checked(&[(batch, verdict)])?;
        out.pop().ok_or(rusqlite::Error::QueryReturnedNoRows)
    }

    /// Stores several batches whose signature and hashes were already checked (the verdict of
    /// [`Batch::verify`] for each), in order, in one transaction: one durable commit for all
    /// of them. A batch is checked against what is held (and what the batches before it in
    /// the group added) before anything of it is written, so a rejected batch changes nothing
    /// and does not affect the others. The returned acks (one per batch, same order) are valid
    /// only after this returns; on an error nothing was stored.
    pub fn offer_checked(
        &mut self,
        batches: &[(&Batch, Result<(), VerifyError>)],
    ) -> rusqlite::Result<Vec<Outcome>> {
        let policy = self.policy;
        let tx = self.conn.transaction()?;
        let mut outcomes = Vec::with_capacity(batches.len());
        for (batch, verdict) in batches {
            outcomes.push(match verdict {
                Err(e) => reject(batch, e.to_string()),
                Ok(()) => store(&tx, policy, batch)?,
            });
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// Number of distinct records held.
    pub fn record_count(&self) -> rusqlite::Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    }
}

fn reject(batch: &Batch, reason: String) -> Outcome {
    Outcome {
        ack: Ack {
            v: VERSION,
            batch_id: batch.batch_id.clone(),
            status: AckStatus::Rejected,
            stored: 0,
            duplicates: 0,
            reason: Some(reason),
        },
    }
}

/// Applies one verified batch in `tx`: first every check (registered key, chain continuity,
/// re-sent records identical to those held), then, only if all pass, the writes.
fn store(tx: &Connection, policy: KeyPolicy, batch: &Batch) -> rusqlite::Result<Outcome> {
    let known: Option<String> = tx
        .prepare_cached("SELECT key FROM gateways WHERE gateway = ?1")?
        .query_row([&batch.gateway], |r| r.get(0))
        .optional()?;
    let pin = match known {
        Some(k) if k == batch.key => false,
        Some(_) => {
            return Ok(reject(
                batch,
                format!(
                    "key does not match the key registered for gateway {}",
                    batch.gateway
                ),
            ))
        }
        None if policy == KeyPolicy::TrustOnFirstUse => true,
        None => {
            return Ok(reject(
                batch,
                format!("gateway {} is not registered", batch.gateway),
            ))
        }
    };
    let head: Option<(i64, String)> = tx
        .prepare_cached(
            "SELECT last_seq, last_hash FROM chains WHERE gateway = ?1 AND chain_id = ?2",
        )?
        .query_row(params![batch.gateway, batch.chain_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    let (held_seq, held_hash) = match head {
        Some((s, h)) => (s as u64, h),
        None => (0, GENESIS.to_string()),
    };
    // Checks. Records up to `held_seq` were received before: each must be the one held at its
    // position. The rest must continue the chain from the head.
    let mut held_at = tx.prepare_cached(
        "SELECT hash FROM chain_links WHERE gateway = ?1 AND chain_id = ?2 AND seq = ?3",
    )?;
    let (mut last_seq, mut last_hash) = (held_seq, held_hash.as_str());
    let mut new_from = batch.records.len();
    for (i, r) in batch.records.iter().enumerate() {
        if r.seq <= held_seq {
            let held: Option<String> = held_at
                .query_row(
                    params![batch.gateway, batch.chain_id, r.seq as i64],
                    |row| row.get(0),
                )
                .optional()?;
            if held.as_deref() != Some(r.hash.as_str()) {
                return Ok(reject(
                    batch,
                    format!(
                        "record seq {} differs from the one already received at that position",
                        r.seq
                    ),
                ));
            }
            continue;
        }
        if r.prev_hash != last_hash {
            return Ok(reject(
                batch,
                format!(
                    "chain break at seq {}: expected prev_hash {} (after seq {}); records are missing",
                    r.seq, last_hash, last_seq
                ),
            ));
        }
        new_from = new_from.min(i);
        last_seq = r.seq;
        last_hash = &r.hash;
    }
    let duplicates_held = batch.records.iter().filter(|r| r.seq <= held_seq).count() as u64;

    // Writes.
    let now: String = tx
        .prepare_cached("SELECT datetime('now')")?
        .query_row([], |r| r.get(0))?;
    if pin {
        tx.prepare_cached(
            "INSERT INTO gateways (gateway, key, registered_utc) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![batch.gateway, batch.key, now])?;
    }
    let mut link = tx.prepare_cached(
        "INSERT INTO chain_links (gateway, chain_id, seq, hash, record_id) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut record = tx.prepare_cached(
        "INSERT INTO records (record_id, gateway, chain_id, seq, kind, hash, body, received_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (record_id) DO NOTHING",
    )?;
    let (mut stored, mut duplicates) = (0u64, duplicates_held);
    for r in batch.records.iter().skip(new_from) {
        link.execute(params![
            batch.gateway,
            batch.chain_id,
            r.seq as i64,
            r.hash,
            r.record_id
        ])?;
        let n = record.execute(params![
            r.record_id,
            batch.gateway,
            batch.chain_id,
            r.seq as i64,
            r.kind,
            r.hash,
            r.body,
            now
        ])?;
        if n == 1 {
            stored += 1;
        } else {
            duplicates += 1;
        }
    }
    tx.prepare_cached(
        "INSERT INTO chains (gateway, chain_id, last_seq, last_hash, started_utc)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (gateway, chain_id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
    )?
    .execute(params![batch.gateway, batch.chain_id, last_seq as i64, last_hash, now])?;
    tx.prepare_cached(
        "INSERT INTO batches (batch_id, received_utc, stored, duplicates) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (batch_id) DO UPDATE SET duplicates = duplicates + excluded.duplicates + excluded.stored",
    )?
    .execute(params![batch.batch_id, now, stored as i64, duplicates as i64])?;
    Ok(Outcome {
        ack: Ack {
            v: VERSION,
            batch_id: batch.batch_id.clone(),
            status: AckStatus::Stored,
            stored,
            duplicates,
            reason: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use hadir_upstream::{record_hash, BatchRecord, GatewayKey};

    struct TempDb(std::path::PathBuf);

    impl TempDb {
        fn new(name: &str) -> TempDb {
            let dir = std::env::temp_dir().join(format!(
                "hadir-receiver-{name}-{}-{}",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            TempDb(dir)
        }
    }

    impl Drop for TempDb {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Records `1..=n` of a chain.
    fn chain(n: u64) -> Vec<BatchRecord> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let body = format!("{{\"n\":{seq}}}");
                let record_id = format!("rec{seq}");
                let hash = record_hash(&prev, seq, &record_id, &body);
                BatchRecord {
                    seq,
                    record_id,
                    kind: "punch".into(),
                    prev_hash: std::mem::replace(&mut prev, hash.clone()),
                    hash,
                    body,
                }
            })
            .collect()
    }

    fn batch(records: &[BatchRecord]) -> Batch {
        let key = GatewayKey::from_bytes(&[7u8; 32]);
        Batch::sign(
            &key,
            "kutim",
            "c1",
            "2026-11-23T00:00:00Z".into(),
            records.to_vec(),
        )
    }

    fn offer_all(db: &mut ReceiverDb, batches: &[Batch]) -> Vec<Ack> {
        let checked: Vec<_> = batches.iter().map(|b| (b, b.verify())).collect();
        db.offer_checked(&checked)
            .unwrap()
            .into_iter()
            .map(|o| o.ack)
            .collect()
    }

    #[test]
    fn a_group_commits_consecutive_batches_and_a_bad_one_changes_nothing() {
        let dir = TempDb::new("group");
        let mut db = ReceiverDb::open(&dir.0.join("r.db"), KeyPolicy::TrustOnFirstUse).unwrap();
        let records = chain(9);
        // 1-3, then 7-9 (4-6 missing: a chain break), then 4-6, then 1-3 again.
        let acks = offer_all(
            &mut db,
            &[
                batch(&records[0..3]),
                batch(&records[6..9]),
                batch(&records[3..6]),
                batch(&records[0..3]),
            ],
        );
        let status: Vec<_> = acks
            .iter()
            .map(|a| (a.status, a.stored, a.duplicates))
            .collect();
        assert_eq!(
            status,
            [
                (AckStatus::Stored, 3, 0),
                (AckStatus::Rejected, 0, 0),
                (AckStatus::Stored, 3, 0),
                (AckStatus::Stored, 0, 3),
            ]
        );
        assert!(acks[1]
            .reason
            .as_deref()
            .unwrap_or("")
            .contains("chain break"));
        assert_eq!(db.record_count().unwrap(), 6);
        // The rejected batch now continues the chain.
        let acks = offer_all(&mut db, &[batch(&records[6..9])]);
        assert_eq!((acks[0].status, acks[0].stored), (AckStatus::Stored, 3));
        assert_eq!(db.record_count().unwrap(), 9);
    }

    #[test]
    fn a_re_sent_record_that_differs_is_rejected_without_storing_anything() {
        let dir = TempDb::new("differs");
        let mut db = ReceiverDb::open(&dir.0.join("r.db"), KeyPolicy::TrustOnFirstUse).unwrap();
        let records = chain(4);
        assert_eq!(
            offer_all(&mut db, &[batch(&records[0..2])])[0].status,
            AckStatus::Stored
        );
        // Seq 2 re-sent with other contents (a re-signed, internally consistent history).
        let mut other = chain(4);
        other[1].body = "{\"n\":20}".into();
        other[1].hash = record_hash(&other[1].prev_hash, 2, &other[1].record_id, &other[1].body);
        other[2].prev_hash = other[1].hash.clone();
        other[2].hash = record_hash(&other[2].prev_hash, 3, &other[2].record_id, &other[2].body);
        let acks = offer_all(&mut db, &[batch(&other[1..3])]);
        assert_eq!(acks[0].status, AckStatus::Rejected);
        assert_eq!(db.record_count().unwrap(), 2);
    }

    #[test]
    fn an_unregistered_gateway_is_refused_and_not_pinned_by_a_rejected_batch() {
        let dir = TempDb::new("pin");
        let path = dir.0.join("r.db");
        let records = chain(3);
        let mut strict = ReceiverDb::open(&path, KeyPolicy::RegisteredOnly).unwrap();
        assert_eq!(
            offer_all(&mut strict, &[batch(&records[0..1])])[0].status,
            AckStatus::Rejected
        );
        drop(strict);
        let mut tofu = ReceiverDb::open(&path, KeyPolicy::TrustOnFirstUse).unwrap();
        // A first batch that breaks the chain pins nothing ...
        assert_eq!(
            offer_all(&mut tofu, &[batch(&records[1..3])])[0].status,
            AckStatus::Rejected
        );
        let pinned: i64 = tofu
            .conn
            .query_row("SELECT COUNT(*) FROM gateways", [], |r| r.get(0))
            .unwrap();
        assert_eq!(pinned, 0);
        // ... a good one does.
        assert_eq!(
            offer_all(&mut tofu, &[batch(&records[0..3])])[0].status,
            AckStatus::Stored
        );
        assert_eq!(tofu.record_count().unwrap(), 3);
    }
}
