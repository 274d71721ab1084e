//! `hadir face enroll|list|remove`: enrolling employees' faces from photo files, listing and
//! removing templates. Runs beside the daemon (the daemon reads templates per check-in, so an
//! enrollment applies to the next check-in).

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use hadir_config::Config;
use hadir_face::FaceEngine;

use super::{enroll_photos, EnrollError};
use crate::store::StoreOwner;

/// `hadir face ...`
#[derive(Debug, Subcommand)]
pub enum FaceCommand {
    /// Enroll an employee's face from 1–5 photos (JPEG or PNG); replaces earlier templates.
    Enroll {
        /// Employee NIP.
        #[arg(long)]
        nip: String,
        /// Photo files: one face each, well lit, facing the camera.
        #[arg(required = true, num_args = 1..=5)]
        photos: Vec<PathBuf>,
    },
    /// List enrolled employees (templates per model).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove every face template of an employee.
    Remove {
        /// Employee NIP.
        #[arg(long)]
        nip: String,
    },
}

/// Reads a photo file, refusing one larger than `max` bytes without reading it all.
fn read_capped(path: &std::path::Path, max: usize) -> anyhow::Result<Vec<u8>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes)
}

/// Runs a `hadir face` command.
pub async fn run(config: Config, command: FaceCommand) -> anyhow::Result<()> {
    match command {
        FaceCommand::Enroll { nip, photos } => enroll(&config, &nip, &photos).await,
        FaceCommand::List { json } => list(&config, json).await,
        FaceCommand::Remove { nip } => remove(&config, &nip).await,
    }
}

async fn enroll(config: &Config, nip: &str, paths: &[PathBuf]) -> anyhow::Result<()> {
    if !config.face.enabled() {
        anyhow::bail!(
            "face verification is not configured: set face.detector_model and face.embedder_model"
        );
    }
    let max = config.face.max_photo_kb as usize * 1024;
    let photos = paths
        .iter()
        .map(|p| read_capped(p, max))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let cfg = config.face.clone();
    let engine = tokio::task::spawn_blocking(move || FaceEngine::load(&cfg))
        .await
        .context("model loading task")??;
    let owner = StoreOwner::open_for_tool(config).await?;
    let store = owner.store();
    let result = enroll_photos(&engine, &store, nip, &photos, "cli").await;
    drop(store);
    tokio::task::spawn_blocking(move || owner.close()).await?;
    match result {
        Ok(r) => {
            println!(
                "enrolled NIP {}: {} template(s) for model {} (replaced {})",
                r.nip,
                r.enrolled,
                &r.model_sha256[..12.min(r.model_sha256.len())],
                r.replaced
            );
            for p in &r.photos {
                println!(
                    "  {}: face {} px, detection {:.2}, brightness {:.0}, sharpness {:.0}",
                    paths[p.index - 1].display(),
                    p.face_px,
                    p.detection_score,
                    p.brightness,
                    p.sharpness
                );
            }
            Ok(())
        }
        Err(EnrollError::Rejected(list)) => {
            for (i, why) in &list {
                eprintln!(
                    "hadir: {}: {} [{}]",
                    paths[i - 1].display(),
                    why,
                    why.code()
                );
            }
            anyhow::bail!("nothing enrolled: {} photo(s) rejected", list.len())
        }
        Err(e) => Err(e.into()),
    }
}

async fn list(config: &Config, json: bool) -> anyhow::Result<()> {
    let owner = StoreOwner::open_for_tool(config).await?;
    let store = owner.store();
    let rows = store.face_enrollments().await;
    drop(store);
    tokio::task::spawn_blocking(move || owner.close()).await?;
    let rows = rows?;
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    for r in rows {
        println!(
            "{:<20} {:>2} template(s)  model {}  last {}",
            r.nip,
            r.templates,
            &r.model_sha256[..12.min(r.model_sha256.len())],
            r.last_utc
        );
    }
    Ok(())
}

async fn remove(config: &Config, nip: &str) -> anyhow::Result<()> {
    let owner = StoreOwner::open_for_tool(config).await?;
    let store = owner.store();
    let removed = store.remove_face_templates(nip.to_string()).await;
    if let Ok(n) = &removed {
        let detail = serde_json::json!({ "templates": n }).to_string();
        let _ = store.audit("cli", "face.remove", nip, &detail).await;
    }
    drop(store);
    tokio::task::spawn_blocking(move || owner.close()).await?;
    let removed = removed?;
    if removed == 0 {
        anyhow::bail!("NIP {nip} has no face templates");
    }
    println!("removed {removed} face template(s) of NIP {nip}");
    Ok(())
}
