//! `hadir tablet add|list|revoke`: registering tablets. The credentials are printed once, with a
//! provisioning QR code for the tablet app to scan; the gateway keeps only the password's hash
//! and the tablet's public key.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use hadir_config::Config;
use qrcode::render::unicode::Dense1x2;
use qrcode::QrCode;
use x25519_dalek::{PublicKey, StaticSecret};

use super::broker::hash_password;
use super::envelope;
use crate::store::{StoreOwner, TabletRow};

/// Turns a name into a tablet id: lowercase letters, digits and '-'.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for ch in name.chars() {
        let c = ch.to_ascii_lowercase();
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(48).collect()
}

/// Credentials and settings a tablet needs, as printed and encoded in the provisioning QR.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Provisioning {
    /// Format tag `hadir-tablet`.
    pub format: String,
    /// Version 1.
    pub v: u32,
    /// Office id.
    pub office: String,
    /// Tablet id = MQTT client id = username.
    pub tablet: String,
    /// MQTT password.
    pub password: String,
    /// The tablet's X25519 secret key, hex.
    pub secret_key: String,
    /// The gateway's X25519 public key, hex.
    pub gateway_key: String,
    /// Broker addresses (`mqtt://`, `ws://`, `mqtts://`).
    pub brokers: Vec<String>,
}

fn broker_urls(config: &Config) -> Vec<String> {
    let host = |a: std::net::SocketAddr| {
        if a.ip().is_unspecified() {
            format!("<gateway-ip>:{}", a.port())
        } else {
            a.to_string()
        }
    };
    let t = &config.tablets;
    let mut v = vec![format!("mqtt://{}", host(t.listen))];
    if let Some(a) = t.ws_listen {
        v.push(format!("ws://{}/mqtt", host(a)));
    }
    if let Some(a) = t.tls_listen {
        v.push(format!("mqtts://{}", host(a)));
    }
    v
}

/// Registers a tablet and prints its provisioning data (as JSON with `json`).
pub async fn add(config: &Config, name: &str, json: bool) -> anyhow::Result<Provisioning> {
    let p = register(config, name).await?;
    print(&p, json)?;
    Ok(p)
}

/// Registers a tablet and returns its provisioning data without printing it.
pub async fn register(config: &Config, name: &str) -> anyhow::Result<Provisioning> {
    let id = slug(name);
    anyhow::ensure!(
        !id.is_empty(),
        "the tablet name needs at least one letter or digit"
    );
    std::fs::create_dir_all(&config.storage.data_dir)?;
    let gateway_secret = envelope::load_gateway_secret(&config.storage.data_dir)?;
    let secret = StaticSecret::random_from_rng(rand::rngs::OsRng);
    let public = PublicKey::from(&secret);
    let password = {
        use rand::RngCore;
        let mut b = [0u8; 18];
        rand::rngs::OsRng.fill_bytes(&mut b);
        B64URL.encode(b)
    };
    let owner = StoreOwner::open_for_tool(config).await?;
    let store = owner.store();
    let result = store
        .add_tablet(TabletRow {
            id: id.clone(),
            name: name.to_string(),
            password_sha256: hash_password(&password),
            public_key: hex::encode(public.as_bytes()),
            created_utc: jiff::Timestamp::now().to_string(),
            revoked_utc: None,
        })
        .await;
    if result.is_ok() {
        store.audit("cli", "tablet-added", &id, name).await?;
    }
    drop(store);
    tokio::task::spawn_blocking(move || owner.close()).await?;
    result?;
    let p = Provisioning {
        format: "hadir-tablet".into(),
        v: 1,
        office: config.office.id.clone(),
        tablet: id,
        password,
        secret_key: hex::encode(secret.to_bytes()),
        gateway_key: hex::encode(PublicKey::from(&gateway_secret).as_bytes()),
        brokers: broker_urls(config),
    };
    Ok(p)
}

fn print(p: &Provisioning, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(p)?);
    } else {
        println!("Tablet registered: {}", p.tablet);
        println!("  MQTT client id / username: {}", p.tablet);
        println!("  MQTT password:             {}", p.password);
        println!("  brokers:                   {}", p.brokers.join("  "));
        println!(
            "  check-ins go to:           {}",
            envelope::checkin_topic(&p.tablet)
        );
        println!(
            "  replies come on:           {}",
            envelope::reply_topic(&p.tablet)
        );
        println!();
        println!("These credentials are shown once. Scan this code in the Hadir tablet app:");
        let text = serde_json::to_string(p)?;
        match QrCode::new(text.as_bytes()) {
            Ok(code) => println!("{}", code.render::<Dense1x2>().quiet_zone(true).build()),
            Err(e) => println!("(QR code unavailable: {e}); provisioning JSON:\n{text}"),
        }
    }
    Ok(())
}

/// Lists tablets.
pub async fn list(config: &Config) -> anyhow::Result<()> {
    let owner = StoreOwner::open_for_tool(config).await?;
    let store = owner.store();
    let tablets = store.tablets().await;
    drop(store);
    tokio::task::spawn_blocking(move || owner.close()).await?;
    for t in tablets? {
        let state = t
            .revoked_utc
            .map(|r| format!("revoked {r}"))
            .unwrap_or_else(|| "active".into());
        println!("{:<24} {:<32} {}", t.id, t.name, state);
    }
    Ok(())
}

/// Revokes a tablet: its login and its key stop working within seconds.
pub async fn revoke(config: &Config, id: &str) -> anyhow::Result<()> {
    let owner = StoreOwner::open_for_tool(config).await?;
    let store = owner.store();
    let done = store.revoke_tablet(id.to_string()).await;
    if matches!(done, Ok(true)) {
        store.audit("cli", "tablet-revoked", id, "").await?;
    }
    drop(store);
    tokio::task::spawn_blocking(move || owner.close()).await?;
    anyhow::ensure!(done?, "no active tablet {id:?}");
    println!("revoked {id}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tablet_name_becomes_a_safe_id() {
        assert_eq!(slug("Tablet Pintu Depan #1"), "tablet-pintu-depan-1");
        assert_eq!(slug("  ÜBER  "), "ber");
        assert_eq!(slug("///"), "");
    }
}
