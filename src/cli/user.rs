//! `traceseal user add|list|disable`: users on the server's data directory (the service must
//! not be running on it; while it runs, use `POST /api/v1/users` and friends). This is how the
//! first operator is made: `traceseal user add --username alice --role operator
//! --generate-password`.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::anyhow;
use base64::Engine as _;
use clap::{Args, Subcommand};

use super::support::{audit_cli, load_config, open_service};
use super::DEFAULT_DATA_DIR;
use crate::authz::Principal;
use crate::service::accounts::users::UserInput;
use crate::service::setup::DataDir;
use crate::service::Service;

/// The data directory of a user command.
#[derive(Debug, Args)]
pub struct UserArgs {
    /// The data directory (initialised).
    #[arg(long, default_value = DEFAULT_DATA_DIR, env = "TRACESEAL_DATA_DIR", global = true)]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: UserAction,
}

/// User commands.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Make a user. The password is read from the first line of standard input, or made up
    /// and printed once with --generate-password.
    Add {
        /// The sign-in name (3–64 characters of a-z 0-9 . _ @ -).
        #[arg(long)]
        username: String,
        /// `operator`, `regulator`, `enterprise_admin` or `label_printer`.
        #[arg(long)]
        role: String,
        /// The enterprise of an enterprise role.
        #[arg(long)]
        enterprise: Option<u64>,
        /// Make up a strong password and print it (once) instead of reading one.
        #[arg(long)]
        generate_password: bool,
    },
    /// List the users.
    List,
    /// Disable a user: it cannot sign in, and its sessions end.
    Disable {
        /// The user name.
        username: String,
    },
}

/// Runs a user command.
pub fn run(a: &UserArgs) -> anyhow::Result<()> {
    let svc = open(a)?;
    let accounts = svc.accounts();
    let cli = Principal::cli();
    match &a.action {
        UserAction::Add {
            username,
            role,
            enterprise,
            generate_password,
        } => {
            let password = if *generate_password {
                generated_password()?
            } else {
                read_password()?
            };
            let input = UserInput {
                username: username.clone(),
                password: password.clone(),
                role: role.clone(),
                enterprise_id: *enterprise,
            };
            let u = accounts.create_user(&input, &cli)?;
            let t = [("username", u.username.clone()), ("role", u.role.clone())];
            audit_cli(&svc, &cli, "traceseal user add", &t, u.enterprise_id)?;
            if *generate_password {
                println!("{password}");
            }
            eprintln!(
                "user {} ({}) made; sign in with POST /api/v1/session",
                u.username, u.role
            );
        }
        UserAction::List => {
            for u in accounts.users(None)? {
                let role = match u.enterprise_id {
                    Some(e) => format!("{} of enterprise {e}", u.role),
                    None => u.role.clone(),
                };
                let state = match &u.disabled_at {
                    Some(d) => format!("disabled {d}"),
                    None => "active".into(),
                };
                println!("{}  {role}  made {}  {state}", u.username, u.created_at);
            }
        }
        UserAction::Disable { username } => {
            let u = accounts.disable_user(username, &cli)?;
            let t = [("username", u.username.clone())];
            audit_cli(&svc, &cli, "traceseal user disable", &t, u.enterprise_id)?;
            println!("user {username} disabled");
        }
    }
    Ok(())
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| anyhow!("cannot read the password from standard input: {e}"))?;
    let pw = line.trim_end_matches(['\r', '\n']).to_string();
    if pw.is_empty() {
        return Err(anyhow!(
            "no password on standard input (give one on its first line, or use --generate-password)"
        ));
    }
    Ok(pw)
}

/// 18 random bytes, base64url: 24 characters, 144 bits.
fn generated_password() -> anyhow::Result<String> {
    let mut b = [0u8; 18];
    getrandom::getrandom(&mut b).map_err(|e| anyhow!("OS random generator failed: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}

fn open(a: &UserArgs) -> anyhow::Result<Service> {
    let dir = DataDir::new(&a.data_dir);
    let cfg = load_config(&dir, None)?;
    open_service(&dir, &cfg).map_err(|e| {
        anyhow!("{e:#} (is the service running on this data directory? stop it first)")
    })
}
