//! The protocol between a Hadir gateway and the provincial server (see
//! `docs/upstream-protocol.md`). Shared by the gateway's forwarder and the reference receiver.
//!
//! A gateway's records form one hash chain: each record's `hash` covers the previous record's
//! hash, its sequence number, its id and its exact body bytes. A batch carries consecutive
//! records and an Ed25519 signature over their hashes, so the server can tell that nothing was
//! altered, and — by checking each batch continues the chain — that nothing was deleted.
#![forbid(unsafe_code)]

use std::fmt::Write as _;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Protocol version carried in every batch and ack.
pub const VERSION: u32 = 1;

/// The `prev_hash` of the first record of a chain.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One record in a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchRecord {
    /// Position in the gateway's chain (increasing, not necessarily contiguous).
    pub seq: u64,
    /// Stable record id: the server de-duplicates by it.
    pub record_id: String,
    /// What the body is: `punch`, `checkin`, `audit`, ...
    pub kind: String,
    /// Hash of the previous record in the chain ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// This record's chain hash (see [`record_hash`]).
    pub hash: String,
    /// The record itself, as a JSON document in a string: hashed byte for byte.
    pub body: String,
}

/// A signed batch of consecutive records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    /// Protocol version ([`VERSION`]).
    pub v: u32,
    /// The gateway (office) id.
    pub gateway: String,
    /// Identifies one chain; a new one starts when a gateway's database is replaced.
    pub chain_id: String,
    /// `<gateway>:<chain_id>:<first seq>-<last seq>`; also the HTTP idempotency key.
    pub batch_id: String,
    /// When the batch was built (UTC, RFC 3339).
    pub created_utc: String,
    /// The gateway's Ed25519 public key, hex.
    pub key: String,
    /// The records, in chain order.
    pub records: Vec<BatchRecord>,
    /// Ed25519 signature over [`Batch::signing_bytes`], hex.
    pub signature: String,
}

/// What the server says about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AckStatus {
    /// Every record is stored (some may have been duplicates).
    Stored,
    /// The batch was refused; `reason` says why. The gateway re-sends later.
    Rejected,
}

/// The server's acknowledgement of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Protocol version.
    pub v: u32,
    /// The batch acknowledged.
    pub batch_id: String,
    /// Stored or rejected.
    pub status: AckStatus,
    /// Records newly stored.
    #[serde(default)]
    pub stored: u64,
    /// Records already held (re-sent).
    #[serde(default)]
    pub duplicates: u64,
    /// Why a batch was rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why a batch is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Unknown protocol version; upgrade the receiver.
    #[error("unsupported protocol version {0}")]
    Version(u32),
    /// The batch has no records.
    #[error("empty batch")]
    Empty,
    /// The key or signature is not valid hex of the right length.
    #[error("malformed key or signature: {0}")]
    Malformed(String),
    /// The signature does not match the contents: altered in transit or on the gateway.
    #[error("bad signature")]
    BadSignature,
    /// A record's hash does not match its contents: the record was altered.
    #[error("record seq {seq}: hash mismatch (record altered)")]
    HashMismatch {
        /// The record.
        seq: u64,
    },
    /// Records do not link: one was removed or reordered.
    #[error(
        "record seq {seq}: prev_hash does not continue the chain (record removed or reordered)"
    )]
    Broken {
        /// The record whose `prev_hash` is wrong.
        seq: u64,
    },
    /// The batch id does not match its records.
    #[error("batch id {0} does not match its records")]
    BatchId(String),
}

/// The chain hash of a record: SHA-256 over the previous hash (32 bytes), the sequence number
/// (u64 little-endian), the record id, a zero byte and the body bytes. Hex.
pub fn record_hash(prev_hash: &str, seq: u64, record_id: &str, body: &str) -> String {
    let mut h = Sha256::new();
    let mut prev = [0u8; 32];
    if hex::decode_to_slice(prev_hash, &mut prev).is_ok() {
        h.update(prev);
    } else {
        // Not 64 hex digits: whatever it decodes to (nothing if it is not hex), as always.
        h.update(hex::decode(prev_hash).unwrap_or_default());
    }
    h.update(seq.to_le_bytes());
    h.update(record_id.as_bytes());
    h.update([0u8]);
    h.update(body.as_bytes());
    let mut out = [0u8; 64];
    match hex::encode_to_slice(h.finalize(), &mut out) {
        Ok(()) => std::str::from_utf8(&out)
            .map(str::to_owned)
            .unwrap_or_default(),
        Err(_) => String::new(), // 32 bytes always fit 64 hex digits
    }
}

/// The id of a batch holding `first..=last` of a chain.
pub fn batch_id(gateway: &str, chain_id: &str, first: u64, last: u64) -> String {
    format!("{gateway}:{chain_id}:{first}-{last}")
}

impl Batch {
    /// The bytes the signature covers: a header line, then one line per record with its seq,
    /// id and chain hash (the hash covers the body).
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "hadir-batch-v{}\n{}\n{}\n{}\n{}\n",
            self.v, self.gateway, self.chain_id, self.batch_id, self.created_utc
        );
        out.reserve(self.records.len() * 128);
        for r in &self.records {
            let _ = writeln!(out, "{} {} {} {}", r.seq, r.record_id, r.kind, r.hash);
        }
        out.into_bytes()
    }

    /// Builds and signs a batch. The records must already carry their chain hashes.
    pub fn sign(
        key: &SigningKey,
        gateway: &str,
        chain_id: &str,
        created_utc: String,
        records: Vec<BatchRecord>,
    ) -> Batch {
        let (first, last) = (
            records.first().map_or(0, |r| r.seq),
            records.last().map_or(0, |r| r.seq),
        );
        let mut batch = Batch {
            v: VERSION,
            gateway: gateway.to_string(),
            chain_id: chain_id.to_string(),
            batch_id: batch_id(gateway, chain_id, first, last),
            created_utc,
            key: hex::encode(key.verifying_key().to_bytes()),
            records,
            signature: String::new(),
        };
        batch.signature = hex::encode(key.sign(&batch.signing_bytes()).to_bytes());
        batch
    }

    /// Checks version, signature (against the batch's own key: the caller must check that key
    /// is the one registered for the gateway), record hashes and the links inside the batch.
    pub fn verify(&self) -> Result<(), VerifyError> {
        if self.v != VERSION {
            return Err(VerifyError::Version(self.v));
        }
        let (Some(first), Some(last)) = (self.records.first(), self.records.last()) else {
            return Err(VerifyError::Empty);
        };
        if self.batch_id != batch_id(&self.gateway, &self.chain_id, first.seq, last.seq) {
            return Err(VerifyError::BatchId(self.batch_id.clone()));
        }
        let key = parse_key(&self.key)?;
        let sig_bytes: [u8; 64] = hex::decode(&self.signature)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| VerifyError::Malformed("signature".into()))?;
        key.verify(&self.signing_bytes(), &Signature::from_bytes(&sig_bytes))
            .map_err(|_| VerifyError::BadSignature)?;
        let mut prev: Option<&BatchRecord> = None;
        for r in &self.records {
            if let Some(p) = prev {
                if r.prev_hash != p.hash || r.seq <= p.seq {
                    return Err(VerifyError::Broken { seq: r.seq });
                }
            }
            if record_hash(&r.prev_hash, r.seq, &r.record_id, &r.body) != r.hash {
                return Err(VerifyError::HashMismatch { seq: r.seq });
            }
            prev = Some(r);
        }
        Ok(())
    }
}

/// Parses a hex Ed25519 public key.
pub fn parse_key(hex_key: &str) -> Result<VerifyingKey, VerifyError> {
    let bytes: [u8; 32] = hex::decode(hex_key)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| VerifyError::Malformed("key".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| VerifyError::Malformed("key".into()))
}

/// Re-exported so users need not depend on `ed25519-dalek` directly.
pub use ed25519_dalek::SigningKey as GatewayKey;

/// Generates a new gateway key.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// An offline bundle: batches exported to a file for offices with no connection; the server
/// accepts each batch exactly as if it had arrived online.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// `"hadir-bundle"`.
    pub format: String,
    /// Protocol version.
    pub v: u32,
    /// The gateway.
    pub gateway: String,
    /// When exported (UTC).
    pub exported_utc: String,
    /// The batches, in chain order.
    pub batches: Vec<Batch>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<BatchRecord> {
        let mut prev = GENESIS.to_string();
        (1..=n)
            .map(|seq| {
                let body = format!("{{\"n\":{seq}}}");
                let id = format!("rec{seq}");
                let hash = record_hash(&prev, seq, &id, &body);
                let r = BatchRecord {
                    seq,
                    record_id: id,
                    kind: "punch".into(),
                    prev_hash: prev.clone(),
                    hash: hash.clone(),
                    body,
                };
                prev = hash;
                r
            })
            .collect()
    }

    fn batch(n: u64) -> Batch {
        let key = SigningKey::from_bytes(&[7u8; 32]);
        Batch::sign(&key, "kutim", "c1", "2026-11-23T00:00:00Z".into(), chain(n))
    }

    #[test]
    fn the_record_hash_is_stable() {
        // Fixed vector: SHA-256 over 32 zero bytes, 1u64 LE, "rec1", 0, "{}".
        let mut h = Sha256::new();
        h.update([0u8; 32]);
        h.update(1u64.to_le_bytes());
        h.update(b"rec1\0{}");
        assert_eq!(
            record_hash(GENESIS, 1, "rec1", "{}"),
            hex::encode(h.finalize())
        );
        // A malformed previous hash still hashes as it always did (as nothing, or its bytes).
        let mut h = Sha256::new();
        h.update([0xabu8]);
        h.update(2u64.to_le_bytes());
        h.update(b"r\0b");
        assert_eq!(record_hash("ab", 2, "r", "b"), hex::encode(h.finalize()));
        let mut h = Sha256::new();
        h.update(2u64.to_le_bytes());
        h.update(b"r\0b");
        assert_eq!(record_hash("zz", 2, "r", "b"), hex::encode(h.finalize()));
    }

    #[test]
    fn a_signed_batch_verifies() {
        batch(5).verify().unwrap();
    }

    #[test]
    fn an_altered_body_is_detected() {
        let mut b = batch(5);
        b.records[2].body = "{\"n\":99}".into();
        assert_eq!(b.verify(), Err(VerifyError::HashMismatch { seq: 3 }));
    }

    #[test]
    fn a_removed_record_is_detected_even_when_re_signed() {
        let mut b = batch(5);
        let mut records = b.records.clone();
        records.remove(2);
        let key = SigningKey::from_bytes(&[7u8; 32]);
        b = Batch::sign(&key, "kutim", "c1", b.created_utc.clone(), records);
        assert_eq!(b.verify(), Err(VerifyError::Broken { seq: 4 }));
    }

    #[test]
    fn a_forged_signature_is_rejected() {
        let mut b = batch(3);
        let other = SigningKey::from_bytes(&[8u8; 32]);
        b.signature = hex::encode(other.sign(&b.signing_bytes()).to_bytes());
        assert_eq!(b.verify(), Err(VerifyError::BadSignature));
    }

    #[test]
    fn the_batch_id_names_its_first_and_last_record() {
        assert_eq!(batch(4).batch_id, "kutim:c1:1-4");
    }
}
