//! The outbox: records queued for the provincial server, each fixed into the gateway's hash chain
//! when it is stored, and the queries the forwarder and the retention task use.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::StoreError;

/// One queued record as the forwarder sends it.
#[derive(Debug, Clone)]
pub struct OutboxRow {
    /// Chain position.
    pub seq: u64,
    /// Stable record id.
    pub record_id: String,
    /// `punch`, `audit`, ...
    pub kind: String,
    /// Hash of the previous record in the chain.
    pub prev_hash: String,
    /// This record's chain hash.
    pub hash: String,
    /// The exact JSON body sent.
    pub body: String,
    /// When it was queued (UTC, RFC 3339).
    pub enqueued_utc: String,
}

fn meta(tx: &Connection, key: &str) -> Result<String, StoreError> {
    Ok(tx
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([key], |r| r.get(0))?)
}

fn set_meta(tx: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![key, value])?;
    Ok(())
}

/// Appends a record to the outbox and the chain, in the caller's transaction.
pub(crate) fn enqueue(
    tx: &Transaction<'_>,
    record_id: &str,
    kind: &str,
    body: &str,
    now: &str,
) -> Result<u64, StoreError> {
    let prev = meta(tx, "chain_head")?;
    let seq: u64 = meta(tx, "chain_seq")?
        .parse::<u64>()
        .map_err(|e| StoreError::Invalid(format!("meta chain_seq: {e}")))?
        + 1;
    let hash = hadir_upstream::record_hash(&prev, seq, record_id, body);
    tx.prepare_cached(
        "INSERT INTO outbox (seq, record_id, kind, body, prev_hash, hash, enqueued_utc)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![seq as i64, record_id, kind, body, prev, hash, now])?;
    set_meta(tx, "chain_seq", &seq.to_string())?;
    set_meta(tx, "chain_head", &hash)?;
    Ok(seq)
}

/// The chain id of this database.
pub fn chain_id(conn: &Connection) -> Result<String, StoreError> {
    meta(conn, "chain_id")
}

/// Up to `limit` unforwarded rows after `after_seq`, in order.
pub fn unsent_after(
    conn: &Connection,
    after_seq: u64,
    limit: usize,
) -> Result<Vec<OutboxRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, record_id, kind, prev_hash, hash, body, enqueued_utc FROM outbox
         WHERE forwarded_utc IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2",
    )?;
    let rows = stmt
        .query_map(params![after_seq as i64, limit as i64], |r| {
            Ok(OutboxRow {
                seq: r.get::<_, i64>(0)? as u64,
                record_id: r.get(1)?,
                kind: r.get(2)?,
                prev_hash: r.get(3)?,
                hash: r.get(4)?,
                body: r.get(5)?,
                enqueued_utc: r.get(6)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// Unforwarded rows enqueued at or after `since` (UTC, RFC 3339), in order.
pub fn unsent_since(conn: &Connection, since: &str) -> Result<Vec<OutboxRow>, StoreError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let rows = unsent_after(conn, after, 10_000)?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        out.extend(
            rows.into_iter()
                .filter(|r| r.enqueued_utc.as_str() >= since),
        );
    }
    Ok(out)
}

/// Marks every row up to `last` not yet forwarded as forwarded under `batch_id` (the ack that
/// covered it); returns how many rows changed.
///
/// The server stores a batch only when it continues the chain it holds (docs/upstream-protocol.md,
/// "What the server must do with a batch"), so a `stored` ack for a batch ending at `last`
/// means it holds every record up to `last`. Marking the whole prefix, not just the batch, keeps
/// the unforwarded rows one gap-free tail of the chain even when an earlier batch's ack was lost
/// or marks committed out of order before a crash.
pub(crate) fn mark_forwarded_through(
    tx: &Transaction<'_>,
    last: u64,
    batch_id: &str,
    now: &str,
) -> Result<usize, StoreError> {
    let n = tx.execute(
        "UPDATE outbox SET forwarded_utc = ?1, batch_id = ?2
         WHERE seq <= ?3 AND forwarded_utc IS NULL",
        params![now, batch_id, last as i64],
    )?;
    set_meta(tx, "last_forward_utc", now)?;
    Ok(n)
}

/// When a batch was last acknowledged, if ever.
pub fn last_forward(conn: &Connection) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'last_forward_utc'",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// Deletes up to `limit` forwarded records (outbox row, attendance row, and raw event when no
/// longer referenced) forwarded before `before` (UTC RFC 3339), oldest first. Unforwarded
/// records are never touched. Returns how many records were evicted.
pub(crate) fn evict_forwarded(
    tx: &Transaction<'_>,
    before: &str,
    limit: usize,
) -> Result<usize, StoreError> {
    tx.execute_batch("CREATE TEMP TABLE IF NOT EXISTS evict (record_id TEXT PRIMARY KEY); DELETE FROM temp.evict;")?;
    let n = tx.execute(
        "INSERT INTO temp.evict (record_id)
         SELECT record_id FROM outbox WHERE forwarded_utc IS NOT NULL AND forwarded_utc < ?1
         ORDER BY forwarded_utc LIMIT ?2",
        params![before, limit as i64],
    )?;
    if n == 0 {
        return Ok(0);
    }
    tx.execute_batch(
        "DELETE FROM outbox WHERE record_id IN (SELECT record_id FROM temp.evict);
         CREATE TEMP TABLE IF NOT EXISTS evict_raw (id INTEGER PRIMARY KEY); DELETE FROM temp.evict_raw;
         INSERT OR IGNORE INTO temp.evict_raw (id)
             SELECT raw_id FROM attendance WHERE record_id IN (SELECT record_id FROM temp.evict);
         DELETE FROM attendance WHERE record_id IN (SELECT record_id FROM temp.evict);
         DELETE FROM raw_events WHERE id IN (SELECT id FROM temp.evict_raw)
             AND id NOT IN (SELECT raw_id FROM attendance);",
    )?;
    Ok(n)
}
