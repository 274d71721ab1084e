//! The receiver's SQLite store and the acceptance rules for a batch.

use std::path::Path;

use hadir_upstream::{Ack, AckStatus, Batch, GENESIS, VERSION};
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
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        let _: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch(
            "PRAGMA synchronous=FULL;
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
        let reject = |reason: String| Outcome {
            ack: Ack {
                v: VERSION,
                batch_id: batch.batch_id.clone(),
                status: AckStatus::Rejected,
                stored: 0,
                duplicates: 0,
                reason: Some(reason),
            },
        };
        if let Err(e) = batch.verify() {
            return Ok(reject(e.to_string()));
        }
        let tx = self.conn.transaction()?;
        let known: Option<String> = tx
            .query_row(
                "SELECT key FROM gateways WHERE gateway = ?1",
                [&batch.gateway],
                |r| r.get(0),
            )
            .optional()?;
        match known {
            Some(k) if k == batch.key => {}
            Some(_) => {
                return Ok(reject(format!(
                    "key does not match the key registered for gateway {}",
                    batch.gateway
                )))
            }
            None if self.policy == KeyPolicy::TrustOnFirstUse => {
                tx.execute(
                    "INSERT INTO gateways (gateway, key, registered_utc) VALUES (?1, ?2, datetime('now'))",
                    params![batch.gateway, batch.key],
                )?;
            }
            None => {
                return Ok(reject(format!(
                    "gateway {} is not registered",
                    batch.gateway
                )))
            }
        }
        let head: Option<(i64, String)> = tx
            .query_row(
                "SELECT last_seq, last_hash FROM chains WHERE gateway = ?1 AND chain_id = ?2",
                params![batch.gateway, batch.chain_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (mut last_seq, mut last_hash) = match head {
            Some((s, h)) => (s as u64, h),
            None => (0, GENESIS.to_string()),
        };
        let (mut stored, mut duplicates) = (0u64, 0u64);
        for r in &batch.records {
            if r.seq <= last_seq {
                // A re-sent record: it must be the one we hold at that position.
                let held: Option<String> = tx
                    .query_row(
                        "SELECT hash FROM chain_links WHERE gateway = ?1 AND chain_id = ?2 AND seq = ?3",
                        params![batch.gateway, batch.chain_id, r.seq as i64],
                        |row| row.get(0),
                    )
                    .optional()?;
                if held.as_deref() != Some(r.hash.as_str()) {
                    return Ok(reject(format!(
                        "record seq {} differs from the one already received at that position",
                        r.seq
                    )));
                }
                duplicates += 1;
                continue;
            }
            if r.prev_hash != last_hash {
                return Ok(reject(format!(
                    "chain break at seq {}: expected prev_hash {} (after seq {}); records are missing",
                    r.seq, last_hash, last_seq
                )));
            }
            tx.execute(
                "INSERT INTO chain_links (gateway, chain_id, seq, hash, record_id) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![batch.gateway, batch.chain_id, r.seq as i64, r.hash, r.record_id],
            )?;
            let n = tx.execute(
                "INSERT INTO records (record_id, gateway, chain_id, seq, kind, hash, body, received_utc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, datetime('now'))
                 ON CONFLICT (record_id) DO NOTHING",
                params![r.record_id, batch.gateway, batch.chain_id, r.seq as i64, r.kind, r.hash, r.body],
            )?;
            if n == 1 {
                stored += 1;
            } else {
                duplicates += 1;
            }
            last_seq = r.seq;
            last_hash = r.hash.clone();
        }
        tx.execute(
            "INSERT INTO chains (gateway, chain_id, last_seq, last_hash, started_utc)
             VALUES (?1, ?2, ?3, ?4, datetime('now'))
             ON CONFLICT (gateway, chain_id) DO UPDATE SET last_seq = excluded.last_seq, last_hash = excluded.last_hash",
            params![batch.gateway, batch.chain_id, last_seq as i64, last_hash],
        )?;
        tx.execute(
            "INSERT INTO batches (batch_id, received_utc, stored, duplicates) VALUES (?1, datetime('now'), ?2, ?3)
             ON CONFLICT (batch_id) DO UPDATE SET duplicates = duplicates + excluded.duplicates + excluded.stored",
            params![batch.batch_id, stored as i64, duplicates as i64],
        )?;
        tx.commit()?;
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

    /// Number of distinct records held.
    pub fn record_count(&self) -> rusqlite::Result<u64> {
        self.conn
            .query_row("SELECT COUNT(*) FROM records", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    }
}
