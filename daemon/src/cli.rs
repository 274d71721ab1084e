//! The `hadir` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::{logging, runtime};

/// Exit code for an unusable configuration (sysexits EX_CONFIG); the systemd unit does not
/// restart on it, so a typo does not become a crash loop.
pub const EXIT_CONFIG: u8 = 78;

/// Hadir — attendance gateway for fingerprint readers and check-in tablets.
#[derive(Parser)]
#[command(name = "hadir", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (built-in defaults when no config is given).
    Run {
        /// Configuration file (TOML). Also read from $HADIR_CONFIG.
        #[arg(long, short, env = "HADIR_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Check a configuration file and print every problem with its line.
    CheckConfig {
        /// Configuration file (TOML).
        path: PathBuf,
    },
    /// Check an installation: config, admin port, disk, database, clock, readers, upstream.
    Doctor {
        /// Configuration file (default: $HADIR_CONFIG, else /etc/hadir/hadir.toml if present).
        #[arg(long, short, env = "HADIR_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Print this gateway's id and public signing key (register it at the provincial server).
    Identity {
        /// Configuration file (TOML). Also read from $HADIR_CONFIG.
        #[arg(long, short, env = "HADIR_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Write unacknowledged records as a signed offline bundle for the provincial server.
    ExportBatches {
        /// Configuration file (TOML). Also read from $HADIR_CONFIG.
        #[arg(long, short, env = "HADIR_CONFIG")]
        config: Option<PathBuf>,
        /// Bundle file to write.
        #[arg(long)]
        out: PathBuf,
        /// Only records queued on or after this date (YYYY-MM-DD, UTC).
        #[arg(long)]
        since: Option<String>,
    },
    /// Talk to a fingerprint reader directly (info, users, attendance, time, set-time, live), or
    /// import its USB attendance export (import).
    Zk {
        #[command(subcommand)]
        command: crate::zk_cli::ZkCommand,
    },
    /// Enroll, list or remove employees' faces for selfie verification.
    Face {
        /// Configuration file (TOML). Also read from $HADIR_CONFIG.
        #[arg(long, short, env = "HADIR_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: crate::face::cli::FaceCommand,
    },
    /// Register, list or revoke check-in tablets.
    Tablet {
        /// Configuration file (TOML). Also read from $HADIR_CONFIG.
        #[arg(long, short, env = "HADIR_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: TabletCommand,
    },
    /// Run a whole demo office on this machine: reader simulator, tablets, provincial receiver.
    Demo {
        /// Keep the demo's files here (default: a temporary folder removed at the end).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Admin UI port on 127.0.0.1 (a free port is used if it is taken).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// Stop by itself after this many seconds (default: run until Ctrl-C).
        #[arg(long = "for", value_name = "SECONDS")]
        run_for: Option<u64>,
    },
    /// Write the monthly attendance recap (per employee, per unit, per day) as XLSX or CSV.
    Recap(crate::attendance::cli::RecapArgs),
    /// Import the employee roster from a SIMPEG export (CSV, XLSX).
    Roster {
        /// Configuration file (TOML). Also read from $HADIR_CONFIG.
        #[arg(long, short, env = "HADIR_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: crate::attendance::cli::RosterCommand,
    },
    /// List or import national holidays and cuti bersama.
    Holidays {
        /// Configuration file (TOML). Also read from $HADIR_CONFIG.
        #[arg(long, short, env = "HADIR_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: crate::attendance::cli::HolidaysCommand,
    },
    /// Add, list or reset operator accounts of the web UI.
    Operator {
        /// Configuration file (TOML). Also read from $HADIR_CONFIG.
        #[arg(long, short, env = "HADIR_CONFIG", global = true)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: crate::operator_cli::OperatorCommand,
    },
    /// Print the version.
    Version,
}

#[derive(Subcommand)]
enum TabletCommand {
    /// Register a tablet; prints its credentials and a provisioning QR code once.
    Add {
        /// A name for the tablet ("Tablet pintu depan"); its id is derived from it.
        name: String,
        /// Print the provisioning data as JSON instead.
        #[arg(long)]
        json: bool,
    },
    /// List registered tablets.
    List,
    /// Revoke a tablet (it can no longer log in or submit).
    Revoke {
        /// Tablet id.
        id: String,
    },
}

/// Loads the given config, or the embedded default when none is given.
fn load_config(path: Option<&std::path::Path>) -> Result<hadir_config::Config, ExitCode> {
    match path {
        Some(p) => hadir_config::load(p).map_err(|e| {
            eprintln!("hadir: {e}");
            ExitCode::from(EXIT_CONFIG)
        }),
        None => Ok(hadir_config::embedded_default()),
    }
}

/// Parses arguments and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Recap(args) => match load_config(args.config.as_deref()) {
            Ok(config) => run_async(crate::attendance::cli::recap(config, args)),
            Err(code) => code,
        },
        Command::Roster { config, command } => match load_config(config.as_deref()) {
            Ok(config) => run_async(crate::attendance::cli::roster(config, command)),
            Err(code) => code,
        },
        Command::Holidays { config, command } => match load_config(config.as_deref()) {
            Ok(config) => run_async(crate::attendance::cli::holidays(config, command)),
            Err(code) => code,
        },
        Command::Operator { config, command } => match load_config(config.as_deref()) {
            Ok(config) => run_async(crate::operator_cli::run(config, command)),
            Err(code) => code,
        },
        Command::Version => {
            println!("hadir {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Doctor { config } => crate::doctor::main(config),
        Command::Demo { dir, port, run_for } => {
            let keep = dir.is_some();
            run_async(crate::demo::run(crate::demo::DemoOptions {
                dir,
                admin_port: port,
                run_for: run_for.map(std::time::Duration::from_secs),
                keep,
            }))
        }
        Command::Zk { command } => run_async(crate::zk_cli::run(command)),
        Command::Face { config, command } => {
            let config = match load_config(config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            run_async(crate::face::cli::run(config, command))
        }
        Command::Tablet { config, command } => {
            let config = match load_config(config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            use crate::tablets::provision;
            run_async(async move {
                match command {
                    TabletCommand::Add { name, json } => {
                        provision::add(&config, &name, json).await.map(drop)
                    }
                    TabletCommand::List => provision::list(&config).await,
                    TabletCommand::Revoke { id } => provision::revoke(&config, &id).await,
                }
            })
        }
        Command::Identity { config } => {
            let config = match load_config(config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            run_async(async move { crate::forward::export::print_identity(&config) })
        }
        Command::ExportBatches { config, out, since } => {
            let config = match load_config(config.as_deref()) {
                Ok(c) => c,
                Err(code) => return code,
            };
            run_async(crate::forward::export::run_cli(config, out, since))
        }
        Command::CheckConfig { path } => match hadir_config::load(&path) {
            Ok(_) => {
                println!("{}: OK", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
        Command::Run { config } => {
            logging::init();
            let config = match config {
                Some(path) => match hadir_config::load(&path) {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("hadir: cannot start: {e}");
                        tracing::error!("configuration is invalid; see the problems above");
                        return ExitCode::from(EXIT_CONFIG);
                    }
                },
                None => {
                    eprintln!(
                        "hadir: no --config given: running on the embedded default configuration"
                    );
                    hadir_config::embedded_default()
                }
            };
            run_async(runtime::run(config))
        }
    }
}

fn run_async(fut: impl std::future::Future<Output = anyhow::Result<()>>) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hadir: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(fut) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("hadir: {e:#}");
            ExitCode::FAILURE
        }
    }
}
