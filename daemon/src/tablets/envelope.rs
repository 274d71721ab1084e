//! The tablet envelope: every check-in and every reply is encrypted and authenticated with a key
//! only that tablet and the gateway can compute, so a tablet that subscribes to `#` on the broker
//! (rumqttd has no ACL) reads nothing of its colleagues' check-ins, and cannot submit as another
//! tablet.
//!
//! key(T) = HKDF-SHA256(salt = "hadir-tablet-v1", ikm = X25519(gateway secret, T's public key),
//! info = "key:" ‖ T's id). Messages are XChaCha20-Poly1305 with a random 24-byte nonce and the
//! MQTT topic as associated data, carried as `{"v":1,"n":base64(nonce),"c":base64(ciphertext)}`.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};

use crate::runtime::read_or_create_secret;

/// Key file of the gateway's X25519 tablet key inside the data directory.
pub const GATEWAY_KEY_FILE: &str = "tablet-gateway.key";

/// Topic a tablet publishes check-ins on.
pub fn checkin_topic(tablet: &str) -> String {
    format!("hadir/tablet/{tablet}/checkin")
}

/// Topic a tablet receives its replies on.
pub fn reply_topic(tablet: &str) -> String {
    format!("hadir/tablet/{tablet}/reply")
}

/// Filter the gateway subscribes to.
pub const CHECKIN_FILTER: &str = "hadir/tablet/+/checkin";
/// Filter created up front so replies always have somewhere to go.
pub const REPLY_FILTER: &str = "hadir/tablet/+/reply";

/// Why an envelope could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// Not `{"v":1,"n":…,"c":…}` with base64 fields and a 24-byte nonce.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// Authentication failed: wrong key (another tablet's, or forged), wrong topic, or altered.
    #[error("cannot decrypt: not sealed with this tablet's key for this topic")]
    Forged,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    v: u32,
    n: String,
    c: String,
}

/// A symmetric key shared by one tablet and the gateway.
#[derive(Clone)]
pub struct TabletKey([u8; 32]);

impl TabletKey {
    /// Derives the key from one side's secret and the other side's public key.
    pub fn derive(
        own_secret: &StaticSecret,
        their_public: &PublicKey,
        tablet_id: &str,
    ) -> TabletKey {
        let shared = own_secret.diffie_hellman(their_public);
        let hk = Hkdf::<Sha256>::new(Some(b"hadir-tablet-v1"), shared.as_bytes());
        let mut key = [0u8; 32];
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hk.expand(format!("key:{tablet_id}").as_bytes(), &mut key);
        TabletKey(key)
    }

    /// Encrypts `plaintext` for `topic`; returns the envelope JSON.
    pub fn seal(&self, topic: &str, plaintext: &[u8]) -> Vec<u8> {
        use rand::RngCore;
        let mut nonce = [0u8; 24];
        rand::thread_rng().fill_bytes(&mut nonce);
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: topic.as_bytes(),
                },
            )
            .unwrap_or_default();
        let wire = Wire {
            v: 1,
            n: B64.encode(nonce),
            c: B64.encode(ct),
        };
        serde_json::to_vec(&wire).unwrap_or_default()
    }

    /// Opens an envelope received on `topic`.
    pub fn open(&self, topic: &str, envelope: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
        let wire: Wire = serde_json::from_slice(envelope)
            .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
        if wire.v != 1 {
            return Err(EnvelopeError::Malformed(format!(
                "unsupported envelope version {}",
                wire.v
            )));
        }
        let nonce = B64
            .decode(&wire.n)
            .map_err(|e| EnvelopeError::Malformed(format!("n: {e}")))?;
        if nonce.len() != 24 {
            return Err(EnvelopeError::Malformed("n must be 24 bytes".into()));
        }
        let ct = B64
            .decode(&wire.c)
            .map_err(|e| EnvelopeError::Malformed(format!("c: {e}")))?;
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        cipher
            .decrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &ct,
                    aad: topic.as_bytes(),
                },
            )
            .map_err(|_| EnvelopeError::Forged)
    }
}

/// Loads the gateway's X25519 tablet key, generating it on first use.
pub fn load_gateway_secret(data_dir: &Path) -> anyhow::Result<StaticSecret> {
    let text = read_or_create_secret(&data_dir.join(GATEWAY_KEY_FILE), || {
        hex::encode(StaticSecret::random_from_rng(rand::rngs::OsRng).to_bytes())
    })?;
    parse_secret(&text)
}

/// Parses a hex X25519 secret.
pub fn parse_secret(text: &str) -> anyhow::Result<StaticSecret> {
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow::anyhow!("not a 32-byte hex X25519 key"))?;
    Ok(StaticSecret::from(bytes))
}

/// Parses a hex X25519 public key.
pub fn parse_public(text: &str) -> Option<PublicKey> {
    let bytes: [u8; 32] = hex::decode(text.trim()).ok()?.try_into().ok()?;
    Some(PublicKey::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair() -> (StaticSecret, PublicKey) {
        let s = StaticSecret::random_from_rng(rand::rngs::OsRng);
        let p = PublicKey::from(&s);
        (s, p)
    }

    #[test]
    fn a_tablet_and_the_gateway_derive_the_same_key() {
        let (g, gp) = pair();
        let (t, tp) = pair();
        let k1 = TabletKey::derive(&g, &tp, "t1");
        let k2 = TabletKey::derive(&t, &gp, "t1");
        let env = k2.seal("hadir/tablet/t1/checkin", b"halo");
        assert_eq!(k1.open("hadir/tablet/t1/checkin", &env).unwrap(), b"halo");
    }

    #[test]
    fn a_message_moved_to_another_tablets_topic_does_not_open() {
        let (g, _) = pair();
        let (_, tp) = pair();
        let k = TabletKey::derive(&g, &tp, "t1");
        let env = k.seal("hadir/tablet/t1/checkin", b"halo");
        assert!(matches!(
            k.open("hadir/tablet/t2/checkin", &env),
            Err(EnvelopeError::Forged)
        ));
    }

    #[test]
    fn another_tablets_key_does_not_open_it() {
        let (g, gp) = pair();
        let (_, t1p) = pair();
        let (t2, _) = pair();
        let gateway_view = TabletKey::derive(&g, &t1p, "t1");
        let forged = TabletKey::derive(&t2, &gp, "t1").seal("hadir/tablet/t1/checkin", b"x");
        assert!(matches!(
            gateway_view.open("hadir/tablet/t1/checkin", &forged),
            Err(EnvelopeError::Forged)
        ));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        let (g, gp) = pair();
        let k = TabletKey::derive(&g, &gp, "t");
        for bad in [
            &b""[..],
            b"{",
            b"{\"v\":1,\"n\":\"!!\",\"c\":\"\"}",
            b"{\"v\":2,\"n\":\"\",\"c\":\"\"}",
        ] {
            assert!(matches!(k.open("x", bad), Err(EnvelopeError::Malformed(_))));
        }
    }
}
