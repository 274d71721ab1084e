//! `hadir export-batches`: unacknowledged records as a signed offline bundle, for offices with no
//! connection at all. The batches are built exactly as the forwarder builds them, so the server
//! accepts them as if they had arrived online (and de-duplicates them if they later do).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use anyhow::Context;
use hadir_upstream::{Bundle, GatewayKey, VERSION};

use super::{build_batch, split_at_chain_break};
use crate::store::{Store, StoreOwner};

/// `hadir identity`: prints the gateway id and public key.
pub fn print_identity(config: &hadir_config::Config) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.storage.data_dir)
        .with_context(|| format!("creating {}", config.storage.data_dir.display()))?;
    let key = super::identity::load_or_create(&config.storage.data_dir)?;
    println!("gateway: {}", config.office.id);
    println!(
        "public key (ed25519, hex): {}",
        super::identity::public_hex(&key)
    );
    Ok(())
}

/// `hadir export-batches`: opens the store (the daemon may keep running) and writes the bundle.
pub async fn run_cli(
    config: hadir_config::Config,
    out: std::path::PathBuf,
    since: Option<String>,
) -> anyhow::Result<()> {
    let since_utc = match since {
        Some(d) => {
            let date: jiff::civil::Date = d
                .parse()
                .with_context(|| format!("--since {d:?} is not a date (YYYY-MM-DD)"))?;
            Some(
                date.at(0, 0, 0, 0)
                    .to_zoned(jiff::tz::TimeZone::UTC)?
                    .timestamp()
                    .to_string(),
            )
        }
        None => None,
    };
    let owner = StoreOwner::open_for_tool(&config).await?;
    let key = super::identity::load_or_create(&config.storage.data_dir)?;
    let store = owner.store();
    let result = export(
        &store,
        &key,
        &config.office.id,
        config.upstream.batch_max_records,
        since_utc,
        &out,
    )
    .await;
    drop(store);
    tokio::task::spawn_blocking(move || owner.close()).await?;
    let (batches, records) = result?;
    println!(
        "wrote {batches} signed batch(es), {records} record(s) to {}",
        out.display()
    );
    Ok(())
}

/// Writes the bundle; returns (batches, records) written.
pub async fn export(
    store: &Store,
    key: &GatewayKey,
    gateway: &str,
    batch_size: usize,
    since_utc: Option<String>,
    out: &Path,
) -> anyhow::Result<(usize, usize)> {
    let chain_id = store.chain_id().await?;
    let rows = store
        .unsent_since(since_utc.unwrap_or_default())
        .await
        .context("reading unacknowledged records")?;
    let total = rows.len();
    let mut batches = Vec::new();
    let mut rest = rows;
    while !rest.is_empty() {
        let tail = rest.split_off(batch_size.max(1).min(rest.len()));
        let mut chunk = rest;
        // A batch is one unbroken piece of the chain; what a break cuts off goes first next.
        let mut cut = split_at_chain_break(&mut chunk);
        cut.extend(tail);
        rest = cut;
        batches.push(build_batch(key, gateway, &chain_id, chunk));
    }
    let bundle = Bundle {
        format: "hadir-bundle".into(),
        v: VERSION,
        gateway: gateway.to_string(),
        exported_utc: jiff::Timestamp::now().to_string(),
        batches,
    };
    let n = bundle.batches.len();
    let tmp = out.with_extension("tmp");
    {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o640)
            .open(&tmp)
            .with_context(|| format!("creating {}", tmp.display()))?;
        serde_json::to_writer(&mut f, &bundle)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
    Ok((n, total))
}
