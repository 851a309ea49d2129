//! `traceseal serve`: the service's main job.

use anyhow::{anyhow, bail};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::support::{init, load_config, open_service, print_demo};
use crate::config::{Config, LogFormat};
use crate::http::{self, AppState};
use crate::keys;
use crate::service::anchoring::AnchorSlot;
use crate::service::setup::DataDir;
use crate::service::Service;
use crate::wiring;

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
pub(super) struct ServeOptions {
    pub(super) listen: Option<std::net::SocketAddr>,
    pub(super) config: Option<PathBuf>,
    pub(super) init: bool,
    pub(super) demo: bool,
    pub(super) dev: bool,
}

/// The configuration `serve` runs with: the file and environment, then the flags.
fn serve_config(dir: &DataDir, o: &ServeOptions) -> anyhow::Result<crate::config::Config> {
    let mut cfg = load_config(dir, o.config.clone())?;
    if let Some(l) = o.listen {
        cfg.listen = l;
    }
    cfg.chain.dev_mode = o.dev;
    cfg.sessions.dev_mode = o.dev;
    Ok(cfg)
}

/// Refuses a production start that would fall back to the development chain.
fn check_chain_choice(cfg: &crate::config::Config) -> anyhow::Result<()> {
    let c = &cfg.chain;
    if c.enabled && c.rpc_url.is_empty() && !c.dev_mode {
        bail!("no chain is configured for anchoring: set TRACESEAL_CHAIN_RPC (chain.rpc_url) and an anchoring key (chain.anchor_key), or disable anchoring with chain.enabled = false (TRACESEAL_CHAIN_ENABLED=false); for development, pass --dev to start the local development chain (docs/anchoring.md)");
    }
    Ok(())
}

/// Refuses an operator token too short to resist guessing (the file is the operator's
/// password; `init` writes 43 random characters).
pub fn check_operator_token(token: &str) -> anyhow::Result<()> {
    let t = token.trim();
    if t.chars().count() < MIN_OPERATOR_TOKEN_CHARS {
        bail!(
            "the operator token (admin.token) is {} characters; it must be at least {MIN_OPERATOR_TOKEN_CHARS} (make a new one: head -c 32 /dev/urandom | base64 | tr -d '=+/' > admin.token; chmod 600 admin.token)",
            t.chars().count()
        );
    }
    if t.chars().any(|c| c.is_whitespace() || c.is_control()) {
        bail!("the operator token (admin.token) must be one line without spaces");
    }
    Ok(())
}

/// The bootstrap operator token, `DATA_DIR/admin.token`; empty once it is retired (the file
/// deleted: operators then sign in as users or use API tokens; `docs/operations.md`).
fn bootstrap_token(dir: &DataDir) -> anyhow::Result<String> {
    if !dir.admin_token().exists() {
        return Ok(String::new());
    }
    let token = keys::read_secret_file(&dir.admin_token()).map_err(anyhow::Error::from)?;
    let token = String::from_utf8(token).map_err(|_| anyhow!("admin.token is not UTF-8"))?;
    check_operator_token(&token)?;
    Ok(token)
}

/// Shortest operator token `serve` accepts.
pub const MIN_OPERATOR_TOKEN_CHARS: usize = 32;

/// `traceseal serve`: opens (or initialises) the data directory, then runs the server until
/// a signal, with anchoring and the hourly purge of old scan records alongside.
pub(super) fn serve(data_dir: &Path, o: &ServeOptions) -> anyhow::Result<()> {
    let dir = DataDir::new(data_dir);
    let (cfg, fresh) = prepare(&dir, o)?;
    let svc = open_service(&dir, &cfg)?;
    if fresh && (o.demo || cfg.custody.demo_on_init) {
        let r = svc
            .load_demo(crate::service::demo::BUILTIN, &dir.root().join("demo-keys"))
            .map_err(|e| anyhow!("loading the demo data: {e}"))?;
        print_demo(&r);
    }
    let token = bootstrap_token(&dir)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| anyhow!("cannot start the async runtime: {e}"))?;
    rt.block_on(run(dir, cfg, Arc::new(svc), token))
}

/// The configuration in force, after initialising a fresh data directory when allowed (then
/// `true`).
fn prepare(dir: &DataDir, o: &ServeOptions) -> anyhow::Result<(Config, bool)> {
    let mut cfg = serve_config(dir, o)?;
    init_tracing(cfg.log_format);
    let fresh = !dir.db().exists();
    if fresh {
        if !o.init {
            bail!(
                "{} is not initialised; run `traceseal init --data-dir {}` first, or pass --init",
                dir.root().display(),
                dir.root().display()
            );
        }
        init(dir.root(), None)?;
        // init wrote DATA_DIR/traceseal.toml; read it so the file is the one in force.
        cfg = serve_config(dir, o)?;
    }
    check_chain_choice(&cfg)?;
    Ok((cfg, fresh))
}

/// What anchoring starts with: the chain, or none (off, or a configured node not reachable
/// yet, to be retried in the background).
struct ChainStart {
    chain: Option<wiring::ChainRuntime>,
    retry: bool,
}

/// Starts anchoring: the dev chain must come up (we start it); a configured node that cannot
/// be reached yet is retried in the background while scans say "anchor_pending".
async fn start_anchoring(
    dir: &DataDir,
    cfg: &Config,
    svc: &Arc<Service>,
) -> anyhow::Result<ChainStart> {
    if !cfg.chain.enabled {
        return Ok(ChainStart {
            chain: None,
            retry: false,
        });
    }
    if cfg.chain.dev() {
        banner!(
            "starting the development chain (anvil on 127.0.0.1:{}, state in {})",
            cfg.chain.dev_port,
            dir.root().join("chain").display()
        );
    }
    match wiring::start_chain(dir, &cfg.chain, svc.clone()).await {
        Ok(c) => Ok(ChainStart {
            chain: Some(c),
            retry: false,
        }),
        Err(wiring::StartError::Unreachable(e)) if !cfg.chain.dev() => {
            tracing::warn!(error = %e, "chain RPC unreachable at start; serving anyway, anchoring will start when it answers");
            Ok(ChainStart {
                chain: None,
                retry: true,
            })
        }
        Err(e) => Err(e.into()),
    }
}

async fn run(dir: DataDir, cfg: Config, svc: Arc<Service>, token: String) -> anyhow::Result<()> {
    // Signal handlers first: a SIGTERM during start-up (or right after the banner) must
    // still mean a graceful stop that also stops the dev chain.
    let shutdown =
        http::shutdown_signal().map_err(|e| anyhow!("cannot install the signal handlers: {e}"))?;
    let start = start_anchoring(&dir, &cfg, &svc).await?;
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener.local_addr().map_err(anyhow::Error::from)?;
    print_banner(addr, &dir, &cfg, &start);
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut tasks = vec![spawn_scan_purge(svc.clone())];
    let slot = match &start.chain {
        Some(c) => {
            tasks.push(tokio::spawn(c.anchorer.clone().run(stop_rx.clone())));
            if let Some(a) = &c.anvil {
                tasks.push(wiring::supervise(a.clone()));
            }
            AnchorSlot::ready(c.anchorer.clone())
        }
        None if start.retry => AnchorSlot::waiting(cfg.chain.chain_id, cfg.chain.contract.clone()),
        None => AnchorSlot::off(),
    };
    let chain_cfg = cfg.chain.clone();
    let state = AppState::with_anchor(svc.clone(), &token, cfg, slot);
    if start.retry {
        tasks.push(spawn_chain_retry(
            dir,
            chain_cfg,
            svc,
            state.clone(),
            stop_rx,
        ));
    }
    let res = http::serve(state, listener, shutdown)
        .await
        .map_err(|e| anyhow!("server error: {e}"));
    let _ = stop_tx.send(true);
    for t in tasks {
        t.abort();
    }
    if let Some(c) = start.chain {
        stop_dev_chain(c).await;
    }
    res
}

/// The start-up banner: where the server listens, its data and token, and anchoring.
fn print_banner(addr: std::net::SocketAddr, dir: &DataDir, cfg: &Config, start: &ChainStart) {
    let token_path = std::fs::canonicalize(dir.admin_token()).unwrap_or_else(|_| dir.admin_token());
    let retired = !token_path.exists();
    banner!("traceseal listening on http://{addr}");
    banner!("  data dir        {}", dir.root().display());
    if retired {
        banner!(
            "  operator token  retired (no admin.token): sign in as a user, or use an API token"
        );
    } else {
        banner!("  operator token  {}", token_path.display());
    }
    banner!("  public host     {}", cfg.public_host);
    match &start.chain {
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
        None if start.retry => banner!(
            "  anchoring       waiting for {} (unreachable; retrying)",
            cfg.chain.rpc_url
        ),
        None => banner!("  anchoring       off (chain.enabled = false)"),
    }
    banner!("  try:            curl -s http://{addr}/api/v1/log/checkpoint");
    if !retired {
        banner!(
            "                  curl -s -H \"Authorization: Bearer $(cat {})\" http://{addr}/api/v1/enterprises",
            token_path.display()
        );
    }
}

/// Scan records older than the complaint window are purged hourly.
fn spawn_scan_purge(svc: Arc<Service>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let s = svc.clone();
            let res = tokio::task::spawn_blocking(move || {
                let days = crate::service::telemetry::SCAN_RETENTION_DAYS;
                s.telemetry()
                    .purge_scans(crate::service::now_unix() - days * 86_400)
            })
            .await;
            match res {
                Ok(Ok(n)) if n > 0 => tracing::info!(purged = n, "old scan records purged"),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "scan record purge failed; retrying in an hour")
                }
                _ => {}
            }
            tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
        }
    })
}

/// Retries a configured chain that was unreachable at start (backing off to 30 s), then runs
/// the anchoring worker.
fn spawn_chain_retry(
    dir: DataDir,
    cfg: crate::config::ChainConfig,
    svc: Arc<Service>,
    state: Arc<AppState>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut delay = std::time::Duration::from_secs(1);
        loop {
            tokio::time::sleep(delay).await;
            match wiring::start_chain(&dir, &cfg, svc.clone()).await {
                Ok(c) => {
                    tracing::info!(rpc = %c.rpc_url, "chain reached; anchoring started");
                    state.verifier.anchor().set(c.anchorer.clone());
                    c.anchorer.clone().run(stop).await;
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "chain still not usable; retrying");
                    delay = (delay * 2).min(std::time::Duration::from_secs(30));
                }
            }
        }
    })
}

/// Stops the development chain (SIGTERM: anvil writes its state file before exiting).
async fn stop_dev_chain(c: wiring::ChainRuntime) {
    if let Some(a) = c.anvil {
        let _ = tokio::task::spawn_blocking(move || {
            if let Ok(mut g) = a.lock() {
                g.stop();
            }
        })
        .await;
    }
}
