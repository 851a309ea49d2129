//! What the commands share: data directory set-up, configuration, the service, issuer keys,
//! error exits.

use anyhow::{anyhow, bail};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use base64::Engine;
use ed25519_dalek::VerifyingKey;

use crate::code::{Host, KeyId};
use crate::config::Config;
use crate::issuer::{parse_when, Revocation};
use crate::keys;
use crate::service::setup::{self, DataDir, KeySet, OpenOptions};
use crate::wiring;

pub(super) fn fail(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg:#}");
    ExitCode::from(2)
}

pub(super) fn load_config(dir: &DataDir, file: Option<PathBuf>) -> anyhow::Result<Config> {
    let path = file.unwrap_or_else(|| dir.config());
    Config::load(&path, |k| std::env::var(k).ok()).map_err(anyhow::Error::from)
}

pub(super) fn init(data_dir: &Path, host: Option<String>) -> anyhow::Result<()> {
    let dir = DataDir::new(data_dir);
    let cfg = load_config(&dir, None)?;
    let cfg_chain_key = cfg.chain.anchor_key.clone();
    let host = host.unwrap_or(cfg.public_host);
    let host = Host::parse(&host).map_err(|e| anyhow!("public host {host:?}: {e}"))?;
    let r = setup::init(&dir, &host).map_err(anyhow::Error::from)?;
    println!("initialised {}", dir.root().display());
    println!(
        "  issuer key   {}  (kid {})",
        dir.issuer_key().display(),
        r.issuer_kid
    );
    println!(
        "  log key      {}  (vkey {})",
        dir.log_key().display(),
        r.log_vkey
    );
    let anchor_key = wiring::data_path(&dir, &cfg_chain_key);
    let signer = crate::chain::key::load_or_generate(&anchor_key, true)?;
    println!(
        "  anchor key   {}  (account {})",
        anchor_key.display(),
        crate::anchor::hex0x(&signer.address().0 .0)
    );
    println!("  operator token {}", dir.admin_token().display());
    println!("  config       {}", dir.config().display());
    Ok(())
}

pub(super) fn print_demo(r: &crate::service::demo::DemoReport) {
    if !r.loaded {
        println!("demo data: already loaded");
        return;
    }
    println!(
        "demo data: {} products, {} actors, {} engagements, {} lots, {} custody records (actors' keys in {})",
        r.products,
        r.actors,
        r.engagements,
        r.lots,
        r.records,
        r.keys_dir.display()
    );
    for c in &r.sample_codes {
        println!("  scan          {c}");
    }
}

pub(super) fn open_service(dir: &DataDir, cfg: &Config) -> anyhow::Result<crate::service::Service> {
    let host = Host::parse(&cfg.public_host).map_err(anyhow::Error::from)?;
    setup::open(dir, OpenOptions::from_config(host, cfg)).map_err(anyhow::Error::from)
}

/// What a keys file gives a verifier.
pub struct PublishedKeys {
    /// The issuer keys, each with its revocation (none from a PEM file).
    pub issuers: Vec<(VerifyingKey, Option<Revocation>)>,
    /// The log's verifier key (from the JSON only).
    pub log_vkey: Option<String>,
}

impl PublishedKeys {
    /// The issuer key `kid` and its revocation.
    pub fn issuer(&self, kid: KeyId) -> Option<&(VerifyingKey, Option<Revocation>)> {
        self.issuers.iter().find(|(k, _)| KeyId::of(k) == kid)
    }
}

/// Records a change made with the CLI on the data directory in the audit trail: principal
/// `cli`, method `CLI`, route the command (e.g. `traceseal token add`), the targets named.
pub(super) fn audit_cli(
    svc: &crate::service::Service,
    by: &crate::authz::Principal,
    command: &str,
    targets: &[(&str, String)],
    enterprise: Option<u64>,
) -> anyhow::Result<()> {
    let entry = crate::service::audit::AuditEntry {
        principal: by.id.clone(),
        role: by.role.as_str().to_string(),
        principal_enterprise: None,
        method: "CLI".into(),
        route: command.to_string(),
        path: command.to_string(),
        targets: targets
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        enterprise,
        request_id: by.request.clone(),
        status: 200,
    };
    svc.audit().record(entry)?;
    Ok(())
}

/// Issuer keys from a keys file: the JSON of `GET /api/v1/keys` (with each key's revocation
/// and the log key), or a PEM key.
pub fn load_issuer_keys(path: &Path) -> anyhow::Result<PublishedKeys> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    if !text.trim_start().starts_with('{') {
        let key = keys::public_key_from_pem(&text)
            .map_err(|e| anyhow!("{}: not a key file: {e}", path.display()))?;
        return Ok(PublishedKeys {
            issuers: vec![(key, None)],
            log_vkey: None,
        });
    }
    let set: KeySet =
        serde_json::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    let mut issuers = Vec::new();
    for k in set.keys.iter().filter(|k| k.role == "issuer") {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&k.public_key)
            .map_err(|e| anyhow!("key {}: {e}", k.kid))?;
        let arr: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| anyhow!("key {}: not 32 bytes", k.kid))?;
        let key = VerifyingKey::from_bytes(&arr).map_err(|e| anyhow!("key {}: {e}", k.kid))?;
        if let Some(f) = k
            .revoked_from
            .as_deref()
            .filter(|f| parse_when(f).is_none())
        {
            bail!("key {}: revoked_from {f:?} is not an RFC 3339 time", k.kid);
        }
        issuers.push((key, k.revocation()));
    }
    if issuers.is_empty() {
        bail!("{} holds no issuer key", path.display());
    }
    let log_vkey = set
        .keys
        .iter()
        .find(|k| k.role == "log")
        .and_then(|k| k.vkey.clone());
    Ok(PublishedKeys { issuers, log_vkey })
}
