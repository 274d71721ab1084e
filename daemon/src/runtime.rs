//! Wiring: opens the store, binds every listener, tells systemd it is ready, and shuts down in
//! order on SIGTERM (stop intake, finish in-flight writes, close the database).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use hadir_config::{secret, Config, SecretString};

use crate::forward::{self, ForwardStatus, Forwarder};
use crate::http::{self, AdminState};
use crate::lifecycle;
use crate::store::{DiskLimits, Store, StoreOwner};

/// Runs the gateway until SIGTERM/SIGINT.
pub async fn run(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o027));
    let data_dir = config.storage.data_dir.clone();
    create_private_dir(&data_dir)?;
    // One process-wide TLS provider (ring) for MQTT and HTTPS upstream links.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);

    let tz = jiff::tz::TimeZone::get(&config.office.timezone)
        .with_context(|| format!("office time zone {}", config.office.timezone))?;
    let limits = DiskLimits {
        max_db_bytes: config.storage.max_db_mb << 20,
        min_free_bytes: config.storage.min_free_mb << 20,
    };
    let (owner, report) = {
        let data_dir = data_dir.clone();
        let office = config.office.id.clone();
        tokio::task::spawn_blocking(move || StoreOwner::open(&data_dir, &office, tz, limits))
            .await
            .context("store open task")?
            .context("opening the database")?
    };
    if let Some(moved) = &report.quarantined {
        eprintln!(
            "hadir: WARNING: the database was corrupt and was moved to {}; a fresh one was created",
            moved.display()
        );
    }
    let store = owner.store();
    // First start: an `admin` operator with a one-time password (printed once below).
    let first_admin = crate::http::auth::ensure_admin(&store, &data_dir)
        .await
        .context("creating the first operator account")?;
    let key = forward::identity::load_or_create(&data_dir)?;
    let forward_status = Arc::new(std::sync::Mutex::new(ForwardStatus {
        mode: format!("{:?}", config.upstream.mode).to_lowercase(),
        ..Default::default()
    }));

    let (api_token, token_path) = api_token(&config, &data_dir)?;
    let display_token = read_or_create_secret(&data_dir.join("display-token"), random_token)?;
    let qr_secret = Arc::new(
        hex::decode(read_or_create_secret(
            &data_dir.join("qr-secret"),
            random_token,
        )?)
        .context("data_dir/qr-secret is not hex")?,
    );
    let config = Arc::new(config);
    let face_pool = crate::face::start_pool(&config).await?;
    let (tablet_listeners, tablet_tasks) = if config.tablets.enabled {
        let service = crate::tablets::start(
            config.clone(),
            store.clone(),
            qr_secret.clone(),
            face_pool.clone(),
            shutdown_rx.clone(),
        )
        .await
        .context("starting the tablet broker")?;
        (service.listeners, service.tasks)
    } else {
        (Vec::new(), Vec::new())
    };
    let admin_listener = tokio::net::TcpListener::bind(config.admin.listen)
        .await
        .with_context(|| format!("binding the admin HTTP server to {}", config.admin.listen))?;
    let admin_addr = admin_listener.local_addr()?;
    let push_listener = if config.push.enabled {
        Some(
            tokio::net::TcpListener::bind(config.push.listen)
                .await
                .with_context(|| {
                    format!("binding the push reader listener to {}", config.push.listen)
                })?,
        )
    } else {
        None
    };
    let push_addr = push_listener.as_ref().map(|l| l.local_addr()).transpose()?;

    let state = AdminState {
        store: store.clone(),
        api_token: Arc::new(api_token),
        office_id: config.office.id.as_str().into(),
        started,
        schema_version: report.schema_version,
        forward: forward_status.clone(),
        display_token: Arc::new(SecretString::new(display_token)),
        qr_secret,
        qr_step_s: config.verification.qr_step_s,
        office_name: config.office.name.as_str().into(),
        office_tz: config.office.timezone.as_str().into(),
        face: face_pool.clone(),
    };
    let app = http::router(state);

    // Machine-readable lines on stdout: tests and scripts read the bound addresses from here.
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "hadir {} — office {} ({})",
        env!("CARGO_PKG_VERSION"),
        config.office.name,
        config.office.id
    )?;
    writeln!(out, "hadir: database {}", store.path().display())?;
    writeln!(
        out,
        "hadir: admin http://{admin_addr}/ (health: http://{admin_addr}/health)"
    )?;
    for (kind, addr) in &tablet_listeners {
        writeln!(out, "hadir: tablets {kind}://{addr}")?;
    }
    if let Some(addr) = push_addr {
        writeln!(out, "hadir: push readers http://{addr}/iclock/cdata")?;
    }
    writeln!(
        out,
        "hadir: office QR display http://{admin_addr}/qr?token=<token in {}>",
        data_dir.join("display-token").display()
    )?;
    if let Some(p) = &token_path {
        writeln!(out, "hadir: API token in {}", p.display())?;
    }
    if let Some((path, password)) = &first_admin {
        writeln!(
            out,
            "hadir: first start: operator web UI login \"admin\" with one-time password {password} (also in {}; change it at first login)",
            path.display()
        )?;
    }
    writeln!(out, "hadir: ready")?;
    out.flush()?;
    drop(out);

    tracing::info!(%admin_addr, schema = report.schema_version, "ready");
    lifecycle::notify_ready(&format!("ready; admin on {admin_addr}"));
    let watchdog = lifecycle::watchdog_interval()
        .map(|interval| tokio::spawn(lifecycle::run_watchdog(interval, store.clone())));
    let retention = tokio::spawn(run_retention(
        store.clone(),
        config.storage.retention_days,
        shutdown_rx.clone(),
    ));
    let trimmer = tokio::spawn(crate::memory::run_trimmer(shutdown_rx.clone()));
    let readers = crate::devices::spawn_pull_readers(&config, &store, &shutdown_rx)?;
    let push_tasks =
        crate::devices::spawn_push_service(config.clone(), &store, push_listener, &shutdown_rx)?;
    let forwarder = if config.upstream.mode != hadir_config::UpstreamMode::None {
        let password = secret::resolve(
            "password",
            config.upstream.password.as_ref(),
            config.upstream.password_file.as_deref(),
        )?;
        let fwd = Forwarder {
            store: store.clone(),
            cfg: config.upstream.clone(),
            password,
            gateway: config.office.id.clone(),
            key: key.clone(),
            status: forward_status.clone(),
        };
        let rx = shutdown_rx.clone();
        Some(tokio::spawn(async move {
            if let Err(e) = fwd.run(rx).await {
                tracing::error!(error = %e, "forwarder stopped; records stay queued until restart");
            }
        }))
    } else {
        tracing::info!("upstream.mode = none: records are kept locally and not forwarded");
        None
    };

    let served = axum::serve(admin_listener, app)
        .with_graceful_shutdown(async move {
            lifecycle::shutdown_signal().await;
            lifecycle::notify_stopping();
            let _ = shutdown_tx.send(true);
        })
        .await;
    if let Some(w) = watchdog {
        w.abort();
    }
    // Intake has stopped; give the tasks a moment to finish what they are doing, then stop them.
    // Anything they had not committed was never acknowledged to anyone.
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = readers;
    tasks.extend(tablet_tasks);
    tasks.extend(push_tasks);
    tasks.extend(forwarder);
    tasks.push(retention);
    tasks.push(trimmer);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    for mut task in tasks {
        if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
            tracing::warn!("a task did not stop within 5 s; stopping it");
            task.abort();
            let _ = task.await;
        }
    }
    drop(store);
    tokio::task::spawn_blocking(move || owner.close())
        .await
        .context("store close task")?;
    served.context("admin HTTP server")?;
    tracing::info!("stopped cleanly");
    Ok(())
}

/// Deletes records already acknowledged upstream once they are older than the retention, hourly.
async fn run_retention(store: Store, days: u32, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        match store.expire_photos().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                deleted = n,
                "retention: deleted selfies past their retention"
            ),
            Err(e) => tracing::warn!(error = %e, "photo retention pass failed"),
        }
        let cutoff =
            jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * i64::from(days));
        loop {
            match store.evict_forwarded(cutoff, 5_000).await {
                Ok(0) => break,
                Ok(n) => tracing::info!(evicted = n, days, "retention: removed forwarded records"),
                Err(e) => {
                    tracing::warn!(error = %e, "retention pass failed");
                    break;
                }
            }
        }
    }
}

fn random_token() -> String {
    use rand::Rng;
    let bytes: [u8; 24] = rand::thread_rng().gen();
    hex::encode(bytes)
}

/// Creates `dir` (and parents) readable by the service user and group only.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(dir)
        .with_context(|| format!("creating data directory {}", dir.display()))?;
    Ok(())
}

/// The API token from the config, or from (or newly generated into) `data_dir/api-token`.
fn api_token(
    config: &Config,
    data_dir: &Path,
) -> anyhow::Result<(SecretString, Option<std::path::PathBuf>)> {
    if let Some(t) = secret::resolve(
        "api_token",
        config.admin.api_token.as_ref(),
        config.admin.api_token_file.as_deref(),
    )? {
        return Ok((t, None));
    }
    let path = data_dir.join("api-token");
    let token = read_or_create_secret(&path, random_token)?;
    Ok((SecretString::new(token), Some(path)))
}

/// Reads a generated secret file, creating it (mode 0600) with `make()` if absent.
pub fn read_or_create_secret(path: &Path, make: impl FnOnce() -> String) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(s) if !s.trim().is_empty() => {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o007 != 0 {
                tracing::warn!(path = %path.display(), "secret file is world-accessible; fixing to 0600");
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
            Ok(s.trim().to_string())
        }
        Ok(_) => create_secret(path, make()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_secret(path, make()),
        Err(e) => Err(anyhow::Error::new(e).context(format!("reading {}", path.display()))),
    }
}

fn create_secret(path: &Path, value: String) -> anyhow::Result<String> {
    {
        let tmp = path.with_extension("tmp");
        {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .with_context(|| format!("creating {}", tmp.display()))?;
            writeln!(f, "{value}")?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        Ok(value)
    }
}
