//! `traceseal token add|list|revoke`: API tokens on the server's data directory (the service
//! must not be running on it; while it runs, use `POST /api/v1/tokens` and friends).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::support::{audit_cli, load_config, open_service};
use super::DEFAULT_DATA_DIR;
use crate::authz::Principal;
use crate::service::accounts::TokenInput;
use crate::service::setup::DataDir;
use crate::service::Service;

/// The data directory of a token command.
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The data directory (initialised).
    #[arg(long, default_value = DEFAULT_DATA_DIR, env = "TRACESEAL_DATA_DIR", global = true)]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: TokenAction,
}

/// Token commands.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a token and print it (once: only its hash is kept).
    Add {
        /// `operator`, `regulator`, `enterprise_admin` or `label_printer`.
        #[arg(long)]
        role: String,
        /// The enterprise of an enterprise role.
        #[arg(long)]
        enterprise: Option<u64>,
        /// What it is for, e.g. "customs dashboard".
        #[arg(long)]
        name: String,
        /// Days until it expires (1 to 3650).
        #[arg(long, default_value_t = crate::service::accounts::DEFAULT_TOKEN_DAYS)]
        expires_in_days: u32,
    },
    /// List the tokens (never their secrets).
    List,
    /// Revoke a token by its id (the 10 hex characters after `tst_`).
    Revoke {
        /// The token's id.
        id: String,
    },
}

/// Runs a token command.
pub fn run(a: &TokenArgs) -> anyhow::Result<()> {
    let svc = open(a)?;
    let accounts = svc.accounts();
    match &a.action {
        TokenAction::Add {
            role,
            enterprise,
            name,
            expires_in_days,
        } => {
            let input = TokenInput {
                name: name.clone(),
                role: role.clone(),
                enterprise_id: *enterprise,
                expires_in_days: Some(*expires_in_days),
            };
            let cli = Principal::cli();
            let t = accounts.create_token(&input, &cli)?;
            let id = [("id", t.view.id.clone()), ("role", t.view.role.clone())];
            audit_cli(&svc, &cli, "traceseal token add", &id, t.view.enterprise_id)?;
            println!("{}", t.token);
            eprintln!(
                "token {} ({}, {}) expires {}; it is shown only now: keep it secret",
                t.view.id, t.view.role, t.view.name, t.view.expires_at
            );
        }
        TokenAction::List => {
            for t in accounts.tokens(None)? {
                let state = match (&t.revoked_at, &t.last_used_at) {
                    (Some(r), _) => format!("revoked {r}"),
                    (None, Some(u)) => format!("last used {u}"),
                    (None, None) => "never used".into(),
                };
                let role = match t.enterprise_id {
                    Some(e) => format!("{} of enterprise {e}", t.role),
                    None => t.role.clone(),
                };
                println!(
                    "{}  {role:<16}  {}  expires {}  {state}",
                    t.id, t.name, t.expires_at
                );
            }
        }
        TokenAction::Revoke { id } => {
            let cli = Principal::cli();
            let t = accounts.revoke_token(id, &cli)?;
            let ids = [("id", t.id.clone())];
            audit_cli(&svc, &cli, "traceseal token revoke", &ids, t.enterprise_id)?;
            println!("token {} revoked", t.id);
        }
    }
    Ok(())
}

fn open(a: &TokenArgs) -> anyhow::Result<Service> {
    let dir = DataDir::new(&a.data_dir);
    let cfg = load_config(&dir, None)?;
    open_service(&dir, &cfg).map_err(|e| {
        anyhow!("{e:#} (is the service running on this data directory? stop it first)")
    })
}
