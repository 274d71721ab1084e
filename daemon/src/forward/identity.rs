//! The gateway's Ed25519 identity: generated on first start into `data_dir/gateway.key`
//! (mode 0600), used to sign every batch. `hadir identity` prints the public half for the
//! provincial server to register.

use std::path::Path;

use anyhow::Context;
use hadir_upstream::GatewayKey;

use crate::runtime::read_or_create_secret;

/// File name of the key inside the data directory.
pub const KEY_FILE: &str = "gateway.key";

/// Loads the gateway key, generating it on first use.
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<GatewayKey> {
    let path = data_dir.join(KEY_FILE);
    let text = read_or_create_secret(&path, || {
        hex::encode(hadir_upstream::generate_key().to_bytes())
    })?;
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("{} is not a 32-byte hex Ed25519 key", path.display()))?;
    Ok(GatewayKey::from_bytes(&bytes))
}

/// The public key, hex, as the server registers it.
pub fn public_hex(key: &GatewayKey) -> String {
    hex::encode(key.verifying_key().to_bytes())
}
