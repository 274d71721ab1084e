//! `hadir operator add|list|reset`: operator accounts for the web UI from the command line (runs
//! beside the daemon on the same database). A password comes from `--password-file` (the operator
//! may keep it) or is generated, printed once and must be changed at the first login.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::http::auth;
use crate::store::{Role, StoreOwner};

/// `hadir operator ...`.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// Create an operator account.
    Add {
        /// Login name (2–32 lower-case letters, digits, '.', '-', '_').
        name: String,
        /// admin, operator or viewer.
        #[arg(long, default_value = "operator")]
        role: String,
        /// Read the password from this file (first line); otherwise one is generated and printed
        /// once, to be changed at the first login.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
    /// List operator accounts.
    List,
    /// Set a new password (and unlock the account); ends the account's sessions.
    Reset {
        /// Login name.
        name: String,
        /// Read the new password from this file; otherwise one is generated and printed once.
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

fn password_from(file: Option<&PathBuf>, name: &str) -> anyhow::Result<(String, bool)> {
    match file {
        Some(p) => {
            let text =
                std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
            let pw = text.lines().next().unwrap_or("").to_string();
            auth::password_policy(name, &pw).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok((pw, false))
        }
        None => Ok((auth::random_hex(9), true)),
    }
}

/// Runs an operator command.
pub async fn run(config: hadir_config::Config, command: OperatorCommand) -> anyhow::Result<()> {
    let owner = StoreOwner::open_for_tool(&config).await?;
    let store = owner.store();
    let result = async {
        match command {
            OperatorCommand::List => {
                for o in store.operators().await? {
                    println!(
                        "{:<20} {:<9} {}{}",
                        o.name,
                        o.role.as_str(),
                        if o.must_change {
                            "must change password"
                        } else {
                            ""
                        },
                        o.locked_until_utc
                            .map(|u| format!(" locked until {u}"))
                            .unwrap_or_default()
                    );
                }
            }
            OperatorCommand::Add {
                name,
                role,
                password_file,
            } => {
                auth::name_ok(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
                let role = Role::parse(&role)
                    .ok_or_else(|| anyhow::anyhow!("role must be admin, operator or viewer"))?;
                let (pw, generated) = password_from(password_file.as_ref(), &name)?;
                let hash = auth::hash_password_async(pw.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                store
                    .add_operator(name.clone(), role, hash, generated, "cli".into())
                    .await?;
                if generated {
                    println!("operator {name} ({}) created; one-time password: {pw} (change it at the first login)", role.as_str());
                } else {
                    println!("operator {name} ({}) created", role.as_str());
                }
            }
            OperatorCommand::Reset {
                name,
                password_file,
            } => {
                let (pw, generated) = password_from(password_file.as_ref(), &name)?;
                let hash = auth::hash_password_async(pw.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                if !store
                    .set_operator_password(name.clone(), hash, generated, None, "cli".into())
                    .await?
                {
                    anyhow::bail!("no operator named {name:?}");
                }
                if generated {
                    println!("operator {name}: new one-time password: {pw} (change it at the first login)");
                } else {
                    println!("operator {name}: password set");
                }
            }
        }
        Ok(())
    }
    .await;
    drop(store);
    tokio::task::spawn_blocking(move || owner.close()).await?;
    result
}
