//! `traceseal keys list|rotate|revoke`: issuer keys on the server's data directory. The
//! service must not be running on it: it reads its keys when it starts (`docs/operations.md`,
//! Issuer keys).

use std::path::PathBuf;

use anyhow::anyhow;
use clap::{Args, Subcommand};

use super::support::{audit_cli, load_config, open_service};
use super::DEFAULT_DATA_DIR;
use crate::authz::Principal;
use crate::code::Host;
use crate::issuer::when;
use crate::service::keyring::{KeyInfo, RevokeInput};
use crate::service::setup::{self, DataDir, OpenOptions};
use crate::service::Service;

/// The data directory of a keys command.
#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The data directory (initialised).
    #[arg(long, default_value = DEFAULT_DATA_DIR, env = "TRACESEAL_DATA_DIR", global = true)]
    pub data_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub action: KeysAction,
}

/// Keys commands.
#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// List the issuer and log keys with their validity and revocation.
    List,
    /// Add a new issuer key (keys/issuer-KID.pem, 0600) that signs every batch created from
    /// now on, and retire the current one: the codes it signed stay valid. Logged.
    Rotate,
    /// Revoke an issuer key (after a leak): codes of batches issued at or after --from scan
    /// not genuine (issuer_key_revoked); those issued before stay genuine. Logged. The
    /// current key cannot be revoked: rotate first.
    Revoke {
        /// The key id (8 hex characters).
        kid: String,
        /// From when (RFC 3339, e.g. 2026-11-25T10:00:00Z, or Unix seconds): the earliest
        /// time the key may have leaked. Not in the future.
        #[arg(long)]
        from: String,
        /// Why (shown to whoever scans a code it invalidates).
        #[arg(long)]
        reason: String,
    },
}

/// Runs a keys command.
pub fn run(a: &KeysArgs) -> anyhow::Result<()> {
    let dir = DataDir::new(&a.data_dir);
    match &a.action {
        KeysAction::List => list(&open(&dir)?),
        KeysAction::Rotate => rotate(&dir),
        KeysAction::Revoke { kid, from, reason } => {
            let from = parse_time(from)?;
            revoke(&open(&dir)?, kid, from, reason)
        }
    }
}

/// `--from`: RFC 3339 or Unix seconds.
fn parse_time(s: &str) -> anyhow::Result<i64> {
    let s = s.trim();
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse().map_err(|_| anyhow!("--from {s:?}: out of range"));
    }
    crate::issuer::parse_when(s).ok_or_else(|| {
        anyhow!("--from {s:?} is not an RFC 3339 time (e.g. 2026-11-25T10:00:00Z) or Unix seconds")
    })
}

fn open(dir: &DataDir) -> anyhow::Result<Service> {
    let cfg = load_config(dir, None)?;
    open_service(dir, &cfg).map_err(stopped)
}

fn stopped(e: anyhow::Error) -> anyhow::Error {
    anyhow!("{e:#} (is the service running on this data directory? stop it first)")
}

fn list(svc: &Service) -> anyhow::Result<()> {
    for k in svc.keys()?.keys {
        println!("{}", describe(&k));
    }
    Ok(())
}

/// One line about a key.
fn describe(k: &KeyInfo) -> String {
    let state = match (k.role.as_str(), k.current, &k.revoked_from) {
        ("log", ..) => "log key".to_string(),
        (_, _, Some(from)) => format!(
            "revoked from {from} ({})",
            k.revoke_reason.as_deref().unwrap_or("")
        ),
        (_, true, None) => "current: signs new batches".to_string(),
        (_, false, None) => "retired: its codes stay valid".to_string(),
    };
    let validity = match &k.not_after {
        Some(to) => format!("{} to {to}", k.not_before),
        None => format!("from {}", k.not_before),
    };
    format!("{}  {:<6}  {validity}  {state}", k.kid, k.role)
}

fn rotate(dir: &DataDir) -> anyhow::Result<()> {
    let cfg = load_config(dir, None)?;
    let host = Host::parse(&cfg.public_host)?;
    let (svc, pending) = setup::open_with_pending(dir, OpenOptions::from_config(host, &cfg))
        .map_err(|e| stopped(e.into()))?;
    if let [file] = pending.as_slice() {
        eprintln!(
            "finishing an interrupted rotation with the key in {}",
            file.display()
        );
    }
    let (r, path) = svc.rotate_issuer_key(dir)?;
    let t = [
        ("retired", r.retired.kid.clone()),
        ("added", r.added.kid.clone()),
    ];
    audit_cli(&svc, &Principal::cli(), "traceseal keys rotate", &t, None)?;
    println!("rotated: {} -> {}", r.retired.kid, r.added.kid);
    println!("  {}", describe(&r.retired));
    println!("  {}", describe(&r.added));
    println!(
        "  key file {} (0600): back it up with the other keys",
        path.display()
    );
    let leaves: Vec<String> = (r.retired.records.last().into_iter())
        .chain(&r.added.records)
        .map(u64::to_string)
        .collect();
    println!("  log records: leaves {}", leaves.join(", "));
    Ok(())
}

fn revoke(svc: &Service, kid: &str, from: i64, reason: &str) -> anyhow::Result<()> {
    let input = RevokeInput {
        from,
        reason: reason.to_string(),
    };
    let k = svc.keyring().revoke(kid, &input)?;
    let t = [("kid", k.kid.clone()), ("from", when(from))];
    audit_cli(svc, &Principal::cli(), "traceseal keys revoke", &t, None)?;
    svc.log().checkpoint_now()?;
    println!("revoked: {}", describe(&k));
    if let Some(leaf) = k.records.last() {
        println!("  log record: leaf {leaf}");
    }
    let batches = svc.issuance().batches_signed_by(&k.kid)?;
    let (bad, good): (Vec<_>, Vec<_>) = batches.iter().partition(|b| b.created_unix >= from);
    if bad.is_empty() {
        println!(
            "  no batch of this key was issued at or after {}",
            when(from)
        );
    } else {
        println!("  re-label (their codes now scan not_genuine, issuer_key_revoked):");
    }
    for b in &bad {
        let b = &b.batch;
        println!(
            "    batch {}  GTIN {} lot {}  {} codes  issued {}",
            b.id, b.gtin, b.lot, b.issued, b.created_at
        );
    }
    if !good.is_empty() {
        let ids: Vec<String> = good.iter().map(|b| b.batch.id.to_string()).collect();
        println!(
            "  issued before {} (still genuine): batch {}",
            when(from),
            ids.join(", ")
        );
    }
    Ok(())
}
