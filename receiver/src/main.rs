//! `hadir-receiver`: the reference provincial receiver (see `docs/upstream-protocol.md`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use hadir_receiver::db::KeyPolicy;
use hadir_receiver::http::Behaviour;
use hadir_receiver::mqtt::BrokerSettings;
use hadir_receiver::ReceiverDb;

/// Reference receiver for Hadir batches.
#[derive(Parser)]
#[command(name = "hadir-receiver", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Receive batches over MQTT and/or HTTP until stopped.
    Serve {
        /// SQLite database of received records.
        #[arg(long)]
        db: PathBuf,
        /// Broker URL, e.g. mqtt://127.0.0.1:1883.
        #[arg(long)]
        mqtt: Option<String>,
        /// Broker username.
        #[arg(long, default_value = "")]
        username: String,
        /// Broker password (also $HADIR_RECEIVER_PASSWORD).
        #[arg(
            long,
            env = "HADIR_RECEIVER_PASSWORD",
            default_value = "",
            hide_env_values = true
        )]
        password: String,
        /// HTTP listen address for POST /v1/batches, e.g. 127.0.0.1:8443.
        #[arg(long)]
        http: Option<String>,
        /// Require this Basic-auth user on HTTP (password from --password).
        #[arg(long)]
        http_user: Option<String>,
        /// Pin the first key each gateway presents (trials) instead of requiring `register`.
        #[arg(long)]
        tofu: bool,
        /// Sleep this many ms before storing each batch (tests).
        #[arg(long, default_value_t = 0)]
        delay_ms: u64,
        /// Refuse every n-th batch (tests).
        #[arg(long, default_value_t = 0)]
        reject_every: u64,
    },
    /// Register a gateway's public key (from `hadir identity`).
    Register {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        gateway: String,
        #[arg(long)]
        key: String,
    },
    /// Import an offline bundle from `hadir export-batches`.
    Import {
        #[arg(long)]
        db: PathBuf,
        #[arg(long)]
        tofu: bool,
        bundle: PathBuf,
    },
    /// Print how many records are held.
    Count {
        #[arg(long)]
        db: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let policy = |tofu: bool| {
        if tofu {
            KeyPolicy::TrustOnFirstUse
        } else {
            KeyPolicy::RegisteredOnly
        }
    };
    match cli.command {
        Command::Register { db, gateway, key } => {
            hadir_upstream::parse_key(&key).context("key")?;
            ReceiverDb::open(&db, KeyPolicy::RegisteredOnly)?.register(&gateway, &key)?;
            println!("registered {gateway}");
        }
        Command::Count { db } => {
            println!(
                "{}",
                ReceiverDb::open(&db, KeyPolicy::RegisteredOnly)?.record_count()?
            );
        }
        Command::Import { db, tofu, bundle } => {
            let text =
                std::fs::read(&bundle).with_context(|| format!("reading {}", bundle.display()))?;
            let bundle: hadir_upstream::Bundle =
                serde_json::from_slice(&text).context("not a Hadir bundle")?;
            anyhow::ensure!(bundle.format == "hadir-bundle", "not a Hadir bundle");
            let mut db = ReceiverDb::open(&db, policy(tofu))?;
            // A few dozen batches per durable commit, as `serve` does with batches waiting.
            for chunk in bundle.batches.chunks(32) {
                let checked: Vec<_> = chunk.iter().map(|b| (b, b.verify())).collect();
                let outcomes = db.offer_checked(&checked)?;
                for (batch, outcome) in chunk.iter().zip(outcomes) {
                    println!(
                        "{} {:?} stored={} duplicates={}{}",
                        batch.batch_id,
                        outcome.ack.status,
                        outcome.ack.stored,
                        outcome.ack.duplicates,
                        outcome
                            .ack
                            .reason
                            .map(|r| format!(" reason={r}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
        Command::Serve {
            db,
            mqtt,
            username,
            password,
            http,
            http_user,
            tofu,
            delay_ms,
            reject_every,
        } => {
            anyhow::ensure!(
                mqtt.is_some() || http.is_some(),
                "give --mqtt and/or --http"
            );
            let db = Arc::new(Mutex::new(ReceiverDb::open(&db, policy(tofu))?));
            let behaviour = Behaviour {
                delay: Duration::from_millis(delay_ms),
                reject_every,
                ..Default::default()
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let mut tasks = Vec::new();
                if let Some(addr) = http {
                    let listener = tokio::net::TcpListener::bind(&addr)
                        .await
                        .with_context(|| format!("binding {addr}"))?;
                    println!(
                        "hadir-receiver: http http://{}/v1/batches",
                        listener.local_addr()?
                    );
                    let creds = http_user.map(|u| (u, password.clone()));
                    let app = hadir_receiver::http::router(db.clone(), behaviour.clone(), creds);
                    tasks.push(tokio::spawn(async move {
                        axum::serve(listener, app)
                            .await
                            .map_err(anyhow::Error::from)
                    }));
                }
                if let Some(url) = mqtt {
                    let rest = url
                        .strip_prefix("mqtt://")
                        .context("--mqtt must be mqtt://host:port")?;
                    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "1883"));
                    let settings = BrokerSettings {
                        host: host.to_string(),
                        port: port.parse().context("port")?,
                        credentials: (!username.is_empty())
                            .then(|| (username.clone(), password.clone())),
                        client_id: "hadir-receiver".into(),
                    };
                    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
                    tasks.push(tokio::spawn(hadir_receiver::mqtt::serve(
                        db.clone(),
                        settings,
                        behaviour.clone(),
                        move || {
                            let _ = ready_tx.send(());
                        },
                    )));
                    let _ = ready_rx.await;
                    println!(
                        "hadir-receiver: mqtt subscribed to {}",
                        hadir_receiver::mqtt::BATCH_FILTER
                    );
                }
                println!("hadir-receiver: ready");
                use std::io::Write;
                std::io::stdout().flush()?;
                for t in tasks {
                    t.await??;
                }
                anyhow::Ok(())
            })?;
        }
    }
    Ok(())
}
