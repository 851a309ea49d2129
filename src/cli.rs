//! The command line (clap): `init`, `serve`, `verify`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use base64::Engine;
use clap::{Parser, Subcommand};
use ed25519_dalek::VerifyingKey;

use crate::code::{Code, Host, KeyId};
use crate::config::{Config, LogFormat};
use crate::http::{self, AppState};
use crate::keys;
use crate::service::setup::{self, DataDir, OpenOptions};
use crate::service::types::KeySet;

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// traceseal: signed item codes, an append-only Merkle log, public scans.
#[derive(Debug, Parser)]
#[command(name = "traceseal", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a data directory: store, issuer and log keys (PKCS#8 PEM, 0600), operator token.
    Init {
        /// The data directory (must not be initialised).
        #[arg(long, default_value = DEFAULT_DATA_DIR, env = "TRACESEAL_DATA_DIR")]
        data_dir: PathBuf,
        /// Public verification host for codes and the log origin (default: from the config).
        #[arg(long)]
        public_host: Option<String>,
    },
    /// Run the service.
    Serve {
        /// The data directory.
        #[arg(long, default_value = DEFAULT_DATA_DIR, env = "TRACESEAL_DATA_DIR")]
        data_dir: PathBuf,
        /// Listen address (overrides the config file and TRACESEAL_LISTEN).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Config file (default: DATA_DIR/traceseal.toml).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Initialise DATA_DIR first if it is not initialised yet.
        #[arg(long)]
        init: bool,
    },
    /// Check a code offline against public keys; exit 0 when genuine.
    Verify {
        /// The code URI.
        code: String,
        /// Keys: the JSON of GET /api/v1/keys, or a PEM public (or private) key.
        #[arg(long)]
        keys: PathBuf,
    },
}

/// Runs the CLI; returns the process exit code.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Init {
            data_dir,
            public_host,
        } => match init(&data_dir, public_host) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Command::Serve {
            data_dir,
            listen,
            config,
            init,
        } => match serve(&data_dir, listen, config, init) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Command::Verify { code, keys } => verify(&code, &keys),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn load_config(dir: &DataDir, file: Option<PathBuf>) -> Result<Config, String> {
    let path = file.unwrap_or_else(|| dir.config());
    Config::load(&path, |k| std::env::var(k).ok()).map_err(|e| e.to_string())
}

fn init(data_dir: &Path, host: Option<String>) -> Result<(), String> {
    let dir = DataDir::new(data_dir);
    let cfg = load_config(&dir, None)?;
    let host = host.unwrap_or(cfg.public_host);
    let host = Host::parse(&host).map_err(|e| format!("public host {host:?}: {e}"))?;
    let r = setup::init(&dir, &host).map_err(|e| e.to_string())?;
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
    println!("  operator token {}", dir.admin_token().display());
    println!("  config       {}", dir.config().display());
    Ok(())
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("traceseal=info,tower_http=info"));
    use std::io::IsTerminal;
    // Logs go to stderr; stdout carries only the start-up banner.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

fn serve(
    data_dir: &Path,
    listen: Option<std::net::SocketAddr>,
    config: Option<PathBuf>,
    init_if_needed: bool,
) -> Result<(), String> {
    let dir = DataDir::new(data_dir);
    let mut cfg = load_config(&dir, config.clone())?;
    if let Some(l) = listen {
        cfg.listen = l;
    }
    init_tracing(cfg.log_format);
    if !dir.db().exists() {
        if !init_if_needed {
            return Err(format!(
                "{} is not initialised; run `traceseal init --data-dir {}` first, or pass --init",
                dir.root().display(),
                dir.root().display()
            ));
        }
        init(data_dir, None)?;
        // init wrote DATA_DIR/traceseal.toml; read it so the file is the one in force.
        cfg = load_config(&dir, config)?;
        if let Some(l) = listen {
            cfg.listen = l;
        }
    }
    let host = Host::parse(&cfg.public_host).map_err(|e| e.to_string())?;
    let svc = setup::open(
        &dir,
        OpenOptions {
            host,
            scan_rules: cfg.scan.clone(),
        },
    )
    .map_err(|e| e.to_string())?;
    let token = keys::read_secret_file(&dir.admin_token()).map_err(|e| e.to_string())?;
    let token = String::from_utf8(token).map_err(|_| "admin.token is not UTF-8".to_string())?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let token_path = std::fs::canonicalize(dir.admin_token())
            .unwrap_or_else(|_| dir.admin_token());
        println!("traceseal listening on http://{addr}");
        println!("  data dir        {}", dir.root().display());
        println!("  operator token  {}", token_path.display());
        println!("  public host     {}", cfg.public_host);
        println!("  try:            curl -s http://{addr}/api/v1/log/checkpoint");
        println!(
            "                  curl -s -H \"Authorization: Bearer $(cat {})\" http://{addr}/api/v1/enterprises",
            token_path.display()
        );
        let state = AppState::new(Arc::new(svc), &token, cfg);
        http::serve(state, listener, http::shutdown_signal())
            .await
            .map_err(|e| format!("server error: {e}"))
    })
}

/// Issuer keys from a keys file: the JSON of `GET /api/v1/keys`, or a PEM key.
pub fn load_issuer_keys(path: &Path) -> Result<Vec<VerifyingKey>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if text.trim_start().starts_with('{') {
        let set: KeySet =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut out = Vec::new();
        for k in set.keys.iter().filter(|k| k.role == "issuer") {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&k.public_key)
                .map_err(|e| format!("key {}: {e}", k.kid))?;
            let arr: [u8; 32] = raw
                .as_slice()
                .try_into()
                .map_err(|_| format!("key {}: not 32 bytes", k.kid))?;
            out.push(VerifyingKey::from_bytes(&arr).map_err(|e| format!("key {}: {e}", k.kid))?);
        }
        if out.is_empty() {
            return Err(format!("{} holds no issuer key", path.display()));
        }
        Ok(out)
    } else {
        keys::public_key_from_pem(&text)
            .map(|k| vec![k])
            .map_err(|e| format!("{}: not a key file: {e}", path.display()))
    }
}

/// Offline verification: exit 0 genuine, 1 not genuine (with the reason), 2 on usage errors.
fn verify(code: &str, keys_file: &Path) -> ExitCode {
    let keys = match load_issuer_keys(keys_file) {
        Ok(k) => k,
        Err(e) => return fail(&e),
    };
    let code = match Code::parse(code.trim()) {
        Ok(c) => c,
        Err(e) => {
            println!("NOT GENUINE: the code is malformed: {e}");
            return ExitCode::from(1);
        }
    };
    let Some(key) = keys.iter().find(|k| KeyId::of(k) == code.kid()) else {
        println!(
            "NOT GENUINE: the code names issuer key {}, which is not in {}",
            code.kid(),
            keys_file.display()
        );
        return ExitCode::from(1);
    };
    match code.verify(key) {
        Ok(()) => {
            let i = code.item();
            println!(
                "GENUINE signature: GTIN {} lot {} serial {}{} (issuer key {})",
                i.gtin.as_str(),
                i.lot.as_str(),
                i.serial.as_str(),
                i.expiry
                    .as_ref()
                    .map(|e| format!(" expiry {}", e.to_iso()))
                    .unwrap_or_default(),
                code.kid()
            );
            println!("(offline check: the code was signed by this issuer; scan online for issuance status and scan history)");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("NOT GENUINE: {e}");
            ExitCode::from(1)
        }
    }
}
