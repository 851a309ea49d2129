//! The command line (clap): `init`, `serve`, `demo`, `verify`, `verify-bundle`, and the actor
//! commands `actor-key`, `attest`, `event` ([`custody`]).

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
use crate::service::anchor::AnchorSlot;
use crate::service::setup::{self, DataDir, OpenOptions};
use crate::service::types::KeySet;
use crate::wiring;

pub mod custody;
pub mod labels;

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
        /// With --init: load the demo data set into the new data directory (demo actors'
        /// keys go to DATA_DIR/demo-keys/). Never on a production directory.
        #[arg(long, requires = "init")]
        demo: bool,
        /// Development mode: with no chain configured, start the local development chain
        /// (anvil) and let the scan page read it on loopback. Without --dev, anchoring needs
        /// a configured chain (TRACESEAL_CHAIN_RPC and an anchoring key) or
        /// chain.enabled = false, and `serve` refuses to start otherwise.
        #[arg(long)]
        dev: bool,
    },
    /// Check a proof bundle (GET /api/v1/bundle?code=CODE) offline and, with
    /// --rpc, against the anchor contract. Exit 0: verified and anchored; 1: a check failed
    /// (the reason is printed); 2: usage error or unreadable file; 3: valid but not anchored
    /// yet; 4: the chain could not be reached.
    VerifyBundle {
        /// The bundle file (`-` for standard input).
        file: PathBuf,
        /// JSON-RPC URL of a node of the bundle's chain: read the anchored root from the
        /// contract and check every record with its on-chain verifier.
        #[arg(long)]
        rpc: Option<String>,
        /// Pin the keys: the JSON of GET /api/v1/keys obtained independently of the bundle. The
        /// bundle's issuer and log keys must be among them.
        #[arg(long)]
        keys: Option<PathBuf>,
        /// Pin the anchor contract (0x address) the bundle's anchor must be in.
        #[arg(long)]
        contract: Option<String>,
        /// Pin the chain id the bundle's anchor must be on.
        #[arg(long)]
        chain_id: Option<u64>,
    },
    /// Make an actor's Ed25519 signing key (PKCS#8 PEM, 0600) and print its public key and
    /// kid for the operator to register.
    ActorKey {
        /// Where to write the private key (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sign an origin attestation with your actor key and submit it. Exit 0: accepted;
    /// 1: refused (the reason is printed); 2: usage; 4: server unreachable.
    Attest(custody::AttestArgs),
    /// Sign a custody event with your actor key and submit it (exit codes as `attest`).
    Event(custody::EventArgs),
    /// Load the demo data set (products, actors with their keys, issued lots and complete
    /// custody chains) into a data directory. The service must not be running on it.
    Demo {
        /// The data directory (initialised).
        #[arg(long, default_value = DEFAULT_DATA_DIR, env = "TRACESEAL_DATA_DIR")]
        data_dir: PathBuf,
        /// The demo file (default: the built-in copy of fixtures/demo.json).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Create a print job for a batch (prints are recorded; reprints need --reprint-reason
    /// and are logged) and write its labels to a file, with progress. Exit 0: all labels
    /// written; 1: refused (reason printed); 2: usage; 4: server unreachable or stream broken.
    Labels(labels::LabelsArgs),
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
        } => done(init(&data_dir, public_host)),
        Command::Serve {
            data_dir,
            listen,
            config,
            init,
            demo,
            dev,
        } => done(serve(
            &data_dir,
            &ServeOptions {
                listen,
                config,
                init,
                demo,
                dev,
            },
        )),
        Command::Verify { code, keys } => verify(&code, &keys),
        Command::ActorKey { out } => custody::actor_key(&out),
        Command::Attest(a) => custody::attest(&a),
        Command::Event(a) => custody::event(&a),
        Command::Labels(a) => labels::run(&a),
        Command::Demo { data_dir, file } => done(demo_cmd(&data_dir, file)),
        Command::VerifyBundle {
            file,
            rpc,
            keys,
            contract,
            chain_id,
        } => verify_bundle(
            &file,
            rpc.as_deref(),
            &Pins {
                keys,
                contract,
                chain_id,
            },
        ),
    }
}

fn done(r: Result<(), String>) -> ExitCode {
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
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
    let cfg_chain_key = cfg.chain.anchor_key.clone();
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

fn print_demo(r: &crate::service::demo::DemoReport) {
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

fn open_service(dir: &DataDir, cfg: &Config) -> Result<crate::service::Service, String> {
    let host = Host::parse(&cfg.public_host).map_err(|e| e.to_string())?;
    setup::open(dir, OpenOptions::from_config(host, cfg)).map_err(|e| e.to_string())
}

fn demo_cmd(data_dir: &Path, file: Option<PathBuf>) -> Result<(), String> {
    let dir = DataDir::new(data_dir);
    let cfg = load_config(&dir, None)?;
    let text = match &file {
        Some(f) => {
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?
        }
        None => crate::service::demo::BUILTIN.to_string(),
    };
    let svc = open_service(&dir, &cfg).map_err(|e| {
        format!("{e} (is the service running on this data directory? stop it first)")
    })?;
    let r = svc
        .load_demo(&text, &dir.root().join("demo-keys"))
        .map_err(|e| e.to_string())?;
    print_demo(&r);
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

/// Prints a line of `serve`'s start-up banner. The server keeps running if nobody reads its
/// standard output any more (a supervisor that read the banner and closed the pipe): a failed
/// write is ignored instead of panicking as `println!` would.
macro_rules! banner {
    ($($t:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($t)*);
    }};
}

/// The flags of `traceseal serve`.
struct ServeOptions {
    listen: Option<std::net::SocketAddr>,
    config: Option<PathBuf>,
    init: bool,
    demo: bool,
    dev: bool,
}

/// The configuration `serve` runs with: the file and environment, then the flags.
fn serve_config(dir: &DataDir, o: &ServeOptions) -> Result<crate::config::Config, String> {
    let mut cfg = load_config(dir, o.config.clone())?;
    if let Some(l) = o.listen {
        cfg.listen = l;
    }
    cfg.chain.dev_mode = o.dev;
    Ok(cfg)
}

/// Refuses a production start that would fall back to the development chain.
fn check_chain_choice(cfg: &crate::config::Config) -> Result<(), String> {
    let c = &cfg.chain;
    if c.enabled && c.rpc_url.is_empty() && !c.dev_mode {
        return Err("no chain is configured for anchoring: set TRACESEAL_CHAIN_RPC (chain.rpc_url) and an anchoring key (chain.anchor_key), or disable anchoring with chain.enabled = false (TRACESEAL_CHAIN_ENABLED=false); for development, pass --dev to start the local development chain (docs/anchoring.md)".into());
    }
    Ok(())
}

/// Refuses an operator token too short to resist guessing (the file is the operator's
/// password; `init` writes 43 random characters).
pub fn check_operator_token(token: &str) -> Result<(), String> {
    let t = token.trim();
    if t.chars().count() < MIN_OPERATOR_TOKEN_CHARS {
        return Err(format!(
            "the operator token (admin.token) is {} characters; it must be at least {MIN_OPERATOR_TOKEN_CHARS} (make a new one: head -c 32 /dev/urandom | base64 | tr -d '=+/' > admin.token; chmod 600 admin.token)",
            t.chars().count()
        ));
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the operator token (admin.token) must be one line without spaces".into());
    }
    Ok(())
}

/// Shortest operator token `serve` accepts.
pub const MIN_OPERATOR_TOKEN_CHARS: usize = 32;

fn serve(data_dir: &Path, o: &ServeOptions) -> Result<(), String> {
    let (init_if_needed, demo) = (o.init, o.demo);
    let dir = DataDir::new(data_dir);
    let mut cfg = serve_config(&dir, o)?;
    init_tracing(cfg.log_format);
    let fresh = !dir.db().exists();
    if fresh {
        if !init_if_needed {
            return Err(format!(
                "{} is not initialised; run `traceseal init --data-dir {}` first, or pass --init",
                dir.root().display(),
                dir.root().display()
            ));
        }
        init(data_dir, None)?;
        // init wrote DATA_DIR/traceseal.toml; read it so the file is the one in force.
        cfg = serve_config(&dir, o)?;
    }
    check_chain_choice(&cfg)?;
    let svc = open_service(&dir, &cfg)?;
    if fresh && (demo || cfg.custody.demo_on_init) {
        let r = svc
            .load_demo(crate::service::demo::BUILTIN, &dir.root().join("demo-keys"))
            .map_err(|e| format!("loading the demo data: {e}"))?;
        print_demo(&r);
    }
    let token = keys::read_secret_file(&dir.admin_token()).map_err(|e| e.to_string())?;
    let token = String::from_utf8(token).map_err(|_| "admin.token is not UTF-8".to_string())?;
    check_operator_token(&token)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    let svc = Arc::new(svc);
    rt.block_on(async move {
        // Signal handlers first: a SIGTERM during start-up (or right after the banner) must
        // still mean a graceful stop that also stops the dev chain.
        let shutdown = http::shutdown_signal()
            .map_err(|e| format!("cannot install the signal handlers: {e}"))?;
        // Anchoring: the dev chain must come up (we start it); a configured node that cannot
        // be reached yet is retried in the background while scans say "anchor_pending".
        let mut chain = None;
        let mut retry_chain = false;
        if cfg.chain.enabled {
            if cfg.chain.dev() {
                banner!(
                    "starting the development chain (anvil on 127.0.0.1:{}, state in {})",
                    cfg.chain.dev_port,
                    dir.root().join("chain").display()
                );
            }
            match wiring::start_chain(&dir, &cfg.chain, svc.clone()).await {
                Ok(c) => chain = Some(c),
                Err(wiring::StartError::Unreachable(e)) if !cfg.chain.dev() => {
                    tracing::warn!(error = %e, "chain RPC unreachable at start; serving anyway, anchoring will start when it answers");
                    retry_chain = true;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let token_path = std::fs::canonicalize(dir.admin_token())
            .unwrap_or_else(|_| dir.admin_token());
        banner!("traceseal listening on http://{addr}");
        banner!("  data dir        {}", dir.root().display());
        banner!("  operator token  {}", token_path.display());
        banner!("  public host     {}", cfg.public_host);
        match &chain {
            Some(c) => {
                use crate::anchor::ChainPort;
                let client = c.anchorer.chain();
                banner!(
                    "  anchoring       chain {} via {}, contract {}, account {}",
                    client.chain_id(),
                    c.rpc_url,
                    crate::anchor::hex0x(&client.contract()),
                    crate::anchor::hex0x(&client.account())
                );
            }
            None if retry_chain => banner!(
                "  anchoring       waiting for {} (unreachable; retrying)",
                cfg.chain.rpc_url
            ),
            None => banner!("  anchoring       off (chain.enabled = false)"),
        }
        banner!("  try:            curl -s http://{addr}/api/v1/log/checkpoint");
        banner!(
            "                  curl -s -H \"Authorization: Bearer $(cat {})\" http://{addr}/api/v1/enterprises",
            token_path.display()
        );
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut tasks = Vec::new();
        let slot = match &chain {
            Some(c) => {
                tasks.push(tokio::spawn(c.anchorer.clone().run(stop_rx.clone())));
                if let Some(a) = &c.anvil {
                    tasks.push(wiring::supervise(a.clone()));
                }
                AnchorSlot::ready(c.anchorer.clone())
            }
            None if retry_chain => AnchorSlot::waiting(cfg.chain.chain_id, cfg.chain.contract.clone()),
            None => AnchorSlot::off(),
        };
        // Scan records older than the complaint window are purged hourly.
        let purge_svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let s = purge_svc.clone();
                let res = tokio::task::spawn_blocking(move || {
                    let days = crate::service::telemetry::SCAN_RETENTION_DAYS;
                    s.purge_scans(crate::service::now_unix() - days * 86_400)
                })
                .await;
                match res {
                    Ok(Ok(n)) if n > 0 => tracing::info!(purged = n, "old scan records purged"),
                    Ok(Err(e)) => tracing::warn!(error = %e, "scan record purge failed; retrying in an hour"),
                    _ => {}
                }
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
        }));
        let chain_cfg = cfg.chain.clone();
        let state = AppState::with_anchor(svc.clone(), &token, cfg, slot);
        if retry_chain {
            let st = state.clone();
            let d = dir.clone();
            tasks.push(tokio::spawn(async move {
                let mut delay = std::time::Duration::from_secs(1);
                loop {
                    tokio::time::sleep(delay).await;
                    match wiring::start_chain(&d, &chain_cfg, svc.clone()).await {
                        Ok(c) => {
                            tracing::info!(rpc = %c.rpc_url, "chain reached; anchoring started");
                            st.anchor.set(c.anchorer.clone());
                            c.anchorer.clone().run(stop_rx).await;
                            return;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "chain still not usable; retrying");
                            delay = (delay * 2).min(std::time::Duration::from_secs(30));
                        }
                    }
                }
            }));
        }
        let res = http::serve(state, listener, shutdown)
            .await
            .map_err(|e| format!("server error: {e}"));
        let _ = stop_tx.send(true);
        for t in tasks {
            t.abort();
        }
        if let Some(c) = chain {
            if let Some(a) = c.anvil {
                // SIGTERM: anvil writes its state file before exiting.
                let _ = tokio::task::spawn_blocking(move || {
                    if let Ok(mut g) = a.lock() {
                        g.stop();
                    }
                })
                .await;
            }
        }
        res
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

/// Exit codes of `verify-bundle`.
mod bundle_exit {
    pub const OK: u8 = 0;
    pub const INVALID: u8 = 1;
    pub const USAGE: u8 = 2;
    pub const NOT_ANCHORED: u8 = 3;
    pub const CHAIN_UNREACHABLE: u8 = 4;
}

fn read_bundle(file: &Path) -> Result<String, String> {
    use std::io::Read;
    let limit = crate::bundle::MAX_BUNDLE_BYTES;
    let mut text = String::new();
    let res = if file == Path::new("-") {
        std::io::stdin().take(limit + 1).read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(limit + 1).read_to_string(&mut text))
    };
    res.map_err(|e| format!("{}: {e}", file.display()))?;
    if text.len() as u64 > limit {
        return Err(format!("{}: larger than {limit} bytes", file.display()));
    }
    Ok(text)
}

/// What `verify-bundle` is told to trust instead of the bundle's own claims.
struct Pins {
    keys: Option<PathBuf>,
    contract: Option<String>,
    chain_id: Option<u64>,
}

/// Checks the bundle's keys and anchor against the pins; `Err` is the failure to print.
fn check_pins(
    b: &crate::bundle::Bundle,
    v: &crate::bundle::Verified,
    pins: &Pins,
) -> Result<Vec<String>, String> {
    let mut notes = Vec::new();
    match &pins.keys {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("--keys {}: {e}", path.display()))?;
            let set: KeySet = serde_json::from_str(&text)
                .map_err(|e| format!("--keys {}: not the JSON of GET /api/v1/keys: {e}", path.display()))?;
            let issuer = b
                .keys
                .issuers
                .iter()
                .find(|k| k.kid == v.kid)
                .ok_or_else(|| format!("the bundle has no issuer key {}", v.kid))?;
            if !set
                .keys
                .iter()
                .any(|k| k.role == "issuer" && k.kid == issuer.kid && k.public_key == issuer.public_key)
            {
                return Err(format!("keys: issuer key {} is not one of the pinned keys", v.kid));
            }
            if !set
                .keys
                .iter()
                .any(|k| k.role == "log" && k.vkey.as_deref() == Some(b.keys.log_vkey.as_str()))
            {
                return Err("keys: the bundle's log key is not the pinned log key".into());
            }
            notes.push(format!("ok  issuer and log keys are the pinned ones ({})", path.display()));
        }
        None => notes.push("note: keys are the bundle's own; pin them with --keys (GET /api/v1/keys, fetched independently)".into()),
    }
    if let Some(claim) = &v.anchor {
        if let Some(c) = &pins.contract {
            let want = crate::chain::parse_address(c).map_err(|e| format!("--contract: {e}"))?;
            if want != claim.contract {
                return Err(format!(
                    "anchor: the bundle's contract {} is not the pinned {}",
                    crate::anchor::hex0x(&claim.contract),
                    c
                ));
            }
        }
        if let Some(id) = pins.chain_id {
            if id != claim.chain_id {
                return Err(format!(
                    "anchor: the bundle's chain {} is not the pinned chain {id}",
                    claim.chain_id
                ));
            }
        }
        if pins.contract.is_none() {
            notes.push(
                "note: the contract is the bundle's own; pin it with --contract (and --chain-id)"
                    .into(),
            );
        }
    }
    Ok(notes)
}

/// `traceseal verify-bundle FILE [--rpc URL] [--keys FILE] [--contract ADDR] [--chain-id N]`.
fn verify_bundle(file: &Path, rpc: Option<&str>, pins: &Pins) -> ExitCode {
    use crate::anchor::hex0x;
    let text = match read_bundle(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(bundle_exit::USAGE);
        }
    };
    let bad = |e: &dyn std::fmt::Display| {
        println!("FAILED {e}");
        ExitCode::from(bundle_exit::INVALID)
    };
    let b = match crate::bundle::parse(&text) {
        Ok(b) => b,
        Err(e) => return bad(&e),
    };
    let v = match crate::bundle::verify(&b) {
        Ok(v) => v,
        Err(e) => return bad(&e),
    };
    let notes = match check_pins(&b, &v, pins) {
        Ok(n) => n,
        Err(e) => {
            println!("FAILED {e}");
            return ExitCode::from(bundle_exit::INVALID);
        }
    };
    println!(
        "ok  code signature (issuer key {}): GTIN {} serial {}",
        v.kid, v.gtin, v.serial
    );
    println!(
        "ok  {} record(s) included in the signed checkpoint of {} (size {}, root {})",
        v.records.len(),
        v.origin,
        v.tree_size,
        hex0x(&v.root)
    );
    if v.newer_records > 0 {
        println!(
            "ok  {} newer record(s) included in the latest signed checkpoint (not anchored yet)",
            v.newer_records
        );
    }
    if v.custody_records > 0 {
        println!(
            "ok  {} custody record(s): signatures by the signers' logged keys, roles, engagements by the importer, lot and hash links",
            v.custody_records
        );
        println!(
            "note: the links prove nothing is missing between the bundle's first and last lot-wide record; records after them (or an item record, an engagement's end or a product's change of owner left out) cannot be excluded offline: compare GET /api/v1/lots/{{lot}}/head"
        );
    }
    for w in &v.custody_warnings {
        println!("WARN {w}");
    }
    if let Some(l) = v.latest_size {
        println!("ok  consistent with the latest signed checkpoint (size {l})");
    }
    for n in &notes {
        println!("{n}");
    }
    let Some(claim) = v.anchor.clone() else {
        match v.anchor_status {
            Some(s) => println!("NOT ANCHORED YET: the checkpoint's anchoring state was {:?} when the bundle was made; fetch a new bundle later", s.as_str()),
            None => println!("NOT ANCHORED: the service that made this bundle does not anchor"),
        }
        return ExitCode::from(bundle_exit::NOT_ANCHORED);
    };
    println!(
        "ok  anchor claim matches the checkpoint: chain {} contract {} tx {} block {}",
        claim.chain_id,
        hex0x(&claim.contract),
        claim
            .tx_hash
            .map(|t| hex0x(&t))
            .unwrap_or_else(|| "-".into()),
        claim
            .block_number
            .map(|n| n.to_string())
            .unwrap_or_else(|| "-".into())
    );
    if let Some(u) = rpc {
        if let Err(e) = crate::chain::parse_rpc_url(u) {
            eprintln!("error: --rpc: {e}");
            return ExitCode::from(bundle_exit::USAGE);
        }
    }
    let Some(url) = rpc else {
        println!("VERIFIED offline. Pass --rpc URL to check the anchor on chain.");
        return ExitCode::from(bundle_exit::OK);
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(bundle_exit::USAGE);
        }
    };
    rt.block_on(check_on_chain(url, &v, &claim))
}

async fn check_on_chain(
    url: &str,
    v: &crate::bundle::Verified,
    claim: &crate::bundle::AnchorClaim,
) -> ExitCode {
    use crate::anchor::{hex0x, ChainError};
    let unreachable = |e: &dyn std::fmt::Display| {
        println!("CANNOT CHECK the chain: {e}");
        ExitCode::from(bundle_exit::CHAIN_UNREACHABLE)
    };
    let bad = |e: String| {
        println!("FAILED chain: {e}");
        ExitCode::from(bundle_exit::INVALID)
    };
    let reader = match crate::chain::Reader::connect(
        url,
        claim.contract,
        std::time::Duration::from_secs(10),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return unreachable(&e),
    };
    if reader.chain_id() != claim.chain_id {
        return bad(format!(
            "{url} is chain {}, the bundle's anchor is on chain {}",
            reader.chain_id(),
            claim.chain_id
        ));
    }
    match reader.has_code().await {
        Ok(true) => {}
        Ok(false) => {
            return bad(format!(
                "no contract at {} on chain {}",
                hex0x(&claim.contract),
                claim.chain_id
            ))
        }
        Err(e) => return unreachable(&e),
    }
    let on = match reader.anchor_at(&claim.log_id, claim.tree_size).await {
        Ok(Some(a)) => a,
        Ok(None) => {
            return bad(format!(
                "the contract holds no anchor of tree size {} for this log (reorged away, or never anchored)",
                claim.tree_size
            ))
        }
        Err(ChainError::Unavailable(e)) => return unreachable(&e),
        Err(e) => return bad(e.to_string()),
    };
    if on.root != claim.root {
        return bad(format!(
            "the contract's root for tree size {} is {}, the bundle's checkpoint has {}",
            claim.tree_size,
            hex0x(&on.root),
            hex0x(&claim.root)
        ));
    }
    if on.checkpoint_hash != claim.checkpoint_hash {
        return bad(format!(
            "the contract's checkpoint hash is {}, the bundle's checkpoint hashes to {}",
            hex0x(&on.checkpoint_hash),
            hex0x(&claim.checkpoint_hash)
        ));
    }
    println!(
        "ok  contract holds root {} for tree size {} (block {})",
        hex0x(&on.root),
        on.tree_size,
        on.block_number
    );
    for (index, leaf_hash, proof) in &v.records {
        match reader
            .verify_anchored_inclusion(&claim.log_id, claim.tree_size, leaf_hash, *index, proof)
            .await
        {
            Ok(true) => println!("ok  contract verifies the inclusion of leaf {index}"),
            Ok(false) => {
                return bad(format!(
                    "the contract rejects the inclusion proof of leaf {index}"
                ))
            }
            Err(ChainError::Unavailable(e)) => return unreachable(&e),
            Err(e) => return bad(e.to_string()),
        }
    }
    // The contract state above is what proves the anchor. The transaction is informative: after
    // a reorg the anchor may have been re-sent in another transaction or block.
    if let Some(tx) = claim.tx_hash {
        match reader.receipt(&tx).await {
            Ok(Some(r)) if r.success && Some(r.block_number) == claim.block_number => {
                println!("ok  anchor transaction {} is in block {}", hex0x(&tx), r.block_number);
            }
            Ok(Some(r)) => println!(
                "note: anchor transaction {} is in block {} (the bundle says {:?}); the contract holds the anchor from block {}",
                hex0x(&tx),
                r.block_number,
                claim.block_number,
                on.block_number
            ),
            Ok(None) => println!(
                "note: anchor transaction {} is not on this chain (re-sent after a reorg); the contract holds the same anchor from block {}",
                hex0x(&tx),
                on.block_number
            ),
            Err(ChainError::Unavailable(e)) => return unreachable(&e),
            Err(e) => return bad(e.to_string()),
        }
    }
    println!(
        "VERIFIED: the item's records are in a checkpoint whose root is anchored on chain {}",
        claim.chain_id
    );
    ExitCode::from(bundle_exit::OK)
}
