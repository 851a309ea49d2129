//! Composition of the anchoring side at start-up (used by `traceseal serve` and the end-to-end
//! tests): start the development chain when no RPC URL is configured, connect, find or deploy
//! the registry contract, check the key is its anchorer, and build the worker.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{info, warn};

use crate::anchor::{hex0x, ChainError};
use crate::chain::anvil::{self, Anvil, AnvilError, AnvilOptions};
use crate::chain::key::AnchorKeyError;
use crate::chain::{self, ChainClient, Reader, SetupError};
use crate::config::ChainConfig;
use crate::service::anchoring::{Anchorer, Deployment};
use crate::service::setup::DataDir;
use crate::service::{Service, ServiceError};

/// Balance the development chain gives the anchoring account (1,000 ETH).
const DEV_FUNDING_WEI: u128 = 1_000_000_000_000_000_000_000;
/// Timeout of start-up RPC calls.
const RPC_TIMEOUT: Duration = Duration::from_secs(5);

/// The running anchoring side.
pub struct ChainRuntime {
    /// The development node, when we started one.
    pub anvil: Option<Arc<Mutex<Anvil>>>,
    /// The worker.
    pub anchorer: Arc<Anchorer<ChainClient>>,
    /// The RPC URL in use.
    pub rpc_url: String,
}

/// `path` relative to the data directory unless absolute.
pub fn data_path(dir: &DataDir, path: &str) -> PathBuf {
    let p = Path::new(path);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.root().join(p)
    }
}

/// Starts the development chain for `dir` (state and log under `DATA_DIR/chain/`).
pub fn start_dev_chain(dir: &DataDir, cfg: &ChainConfig) -> Result<Anvil, DevChainError> {
    let chain_dir = dir.root().join("chain");
    let log = chain_dir.join("anvil.log");
    let err = |source| DevChainError {
        source,
        port: cfg.dev_port,
        log: log.clone(),
    };
    std::fs::create_dir_all(&chain_dir).map_err(|source| {
        err(AnvilError::Io {
            path: chain_dir.clone(),
            source,
        })
    })?;
    let mut opts = AnvilOptions::new(anvil::find_binary().map_err(err)?);
    opts.port = cfg.dev_port;
    opts.block_time = Some(cfg.dev_block_time_s.max(1));
    opts.state = Some(chain_dir.join("anvil-state.json"));
    opts.log = Some(log.clone());
    Anvil::start(opts).map_err(err)
}

/// The development chain did not start.
#[derive(Debug, thiserror::Error)]
#[error("development chain: {source} (port {port} is chain.dev_port / TRACESEAL_DEV_CHAIN_PORT; log {})", log.display())]
pub struct DevChainError {
    /// Why.
    pub source: AnvilError,
    /// The port it was to listen on.
    pub port: u16,
    /// Its log file.
    pub log: PathBuf,
}

/// Restarts the development node whenever it exits, until the process ends.
pub fn supervise(anvil: Arc<Mutex<Anvil>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let a = anvil.clone();
            let res = tokio::task::spawn_blocking(move || {
                // A panic elsewhere while holding it leaves the handle usable.
                let mut g = a.lock().unwrap_or_else(|p| p.into_inner());
                g.exited().then(|| {
                    warn!("development chain exited; restarting it");
                    g.restart()
                })
            })
            .await;
            match res {
                Ok(Some(Ok(()))) => info!("development chain restarted"),
                Ok(Some(Err(e))) => warn!(error = %e, "development chain restart failed; retrying"),
                _ => {}
            }
        }
    })
}

/// Why the anchoring side did not start. Only [`StartError::Unreachable`] is worth retrying
/// (the service runs meanwhile); every other variant needs the operator.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The RPC node could not be reached.
    #[error(transparent)]
    Unreachable(SetupError),
    /// The anchoring key file is missing, unreadable, too open or not a secp256k1 key.
    #[error("anchoring key: {0} (chain.anchor_key / TRACESEAL_ANCHOR_KEY must name a secp256k1 PKCS#8 PEM key, mode 0600, funded on the chain)")]
    Key(#[from] AnchorKeyError),
    /// The development node did not start.
    #[error(transparent)]
    DevChain(#[from] DevChainError),
    /// The RPC URL, the chain id, or the deployment.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A chain read or write during start-up.
    #[error("{what}: {source}")]
    Chain {
        /// What we were doing.
        what: &'static str,
        /// The chain's error.
        source: ChainError,
    },
    /// The node is another chain than configured.
    #[error("{url} is chain {actual}, but chain.chain_id is {want}")]
    WrongChain {
        /// The node.
        url: String,
        /// Its chain id.
        actual: u64,
        /// The configured one.
        want: u64,
    },
    /// The configured or recorded contract has no code on this chain.
    #[error("{which} {contract} has no code on chain {chain_id}{hint}")]
    NoCode {
        /// `chain.contract` or `the recorded contract`.
        which: &'static str,
        /// Its address.
        contract: String,
        /// The chain.
        chain_id: u64,
        /// What to do.
        hint: &'static str,
    },
    /// Our account is not the contract's anchorer.
    #[error("the anchoring key's account {me} is not the anchorer of contract {contract} (its anchorer is {anchorer}); the owner {owner} must call setAnchorer({me})")]
    NotAnchorer {
        /// Our account.
        me: String,
        /// The contract.
        contract: String,
        /// Its anchorer.
        anchorer: String,
        /// Its owner.
        owner: String,
    },
    /// Reading or writing the deployment record, or starting the worker.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A blocking start-up task panicked.
    #[error("a start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Connects to the chain (starting the dev node if configured so), resolves the contract
/// (configured → recorded for this chain → deployed now) and builds the worker.
pub async fn start_chain(
    dir: &DataDir,
    cfg: &ChainConfig,
    svc: Arc<Service>,
) -> Result<ChainRuntime, StartError> {
    let dev = cfg.dev();
    let key_path = data_path(dir, &cfg.anchor_key);
    let signer = chain::key::load_or_generate(&key_path, dev)?;
    let me = signer.address().0 .0;
    let (anvil, url) = chain_url(dir, cfg, dev).await?;
    let chain_id = probe_chain(&url, cfg, me, dev).await?;
    let client = ChainClient::connect(&url, signer, [0; 20], Some(chain_id), RPC_TIMEOUT).await?;
    let contract = resolve_contract(cfg, &svc, &client, chain_id, dev).await?;
    let client = client.with_contract(contract);
    check_anchorer(&client, me, contract).await?;
    info!(
        chain_id,
        contract = %hex0x(&contract),
        account = %hex0x(&me),
        rpc = %url,
        dev,
        "anchoring enabled"
    );
    let anchorer = Anchorer::new(
        svc.log().clone(),
        svc.anchors().clone(),
        Arc::new(client),
        cfg.into(),
    )?;
    Ok(ChainRuntime {
        anvil,
        anchorer,
        rpc_url: url,
    })
}

/// The RPC URL: a development chain started for us (kept running in the handle), or the
/// configured node.
async fn chain_url(
    dir: &DataDir,
    cfg: &ChainConfig,
    dev: bool,
) -> Result<(Option<Arc<Mutex<Anvil>>>, String), StartError> {
    if !dev {
        return Ok((None, cfg.rpc_url.clone()));
    }
    let d = dir.clone();
    let c = cfg.clone();
    let a = tokio::task::spawn_blocking(move || start_dev_chain(&d, &c)).await??;
    let url = a.url();
    Ok((Some(Arc::new(Mutex::new(a))), url))
}

/// Connects to `url`, checks it is the configured chain, funds our account on a dev chain;
/// returns the chain id.
async fn probe_chain(
    url: &str,
    cfg: &ChainConfig,
    me: [u8; 20],
    dev: bool,
) -> Result<u64, StartError> {
    let probe = Reader::connect(url, [0; 20], RPC_TIMEOUT)
        .await
        .map_err(|e| {
            if e.is_configuration() {
                StartError::Setup(e)
            } else {
                StartError::Unreachable(e)
            }
        })?;
    let chain_id = probe.chain_id();
    if cfg.chain_id != 0 && cfg.chain_id != chain_id {
        return Err(StartError::WrongChain {
            url: url.to_string(),
            actual: chain_id,
            want: cfg.chain_id,
        });
    }
    if dev {
        probe
            .anvil_set_balance(me, DEV_FUNDING_WEI)
            .await
            .map_err(|source| StartError::Chain {
                what: "funding the anchoring account on the dev chain",
                source,
            })?;
    }
    Ok(chain_id)
}

/// Our account must be the contract's anchorer (fatal otherwise: only its owner can fix it).
async fn check_anchorer(
    client: &ChainClient,
    me: [u8; 20],
    contract: [u8; 20],
) -> Result<(), StartError> {
    let (anchorer_on_chain, owner) =
        client
            .reader()
            .roles()
            .await
            .map_err(|source| StartError::Chain {
                what: "reading the contract's roles",
                source,
            })?;
    if anchorer_on_chain == me {
        return Ok(());
    }
    Err(StartError::NotAnchorer {
        me: hex0x(&me),
        contract: hex0x(&contract),
        anchorer: hex0x(&anchorer_on_chain),
        owner: hex0x(&owner),
    })
}

async fn resolve_contract(
    cfg: &ChainConfig,
    svc: &Arc<Service>,
    client: &ChainClient,
    chain_id: u64,
    dev: bool,
) -> Result<[u8; 20], StartError> {
    let has_code = |addr: [u8; 20]| {
        let r = client.clone().with_contract(addr);
        async move {
            r.reader()
                .has_code()
                .await
                .map_err(|source| StartError::Chain {
                    what: "reading the contract's code",
                    source,
                })
        }
    };
    if !cfg.contract.is_empty() {
        let addr = chain::parse_address(&cfg.contract)?;
        if !has_code(addr).await? {
            return Err(StartError::NoCode {
                which: "chain.contract",
                contract: cfg.contract.clone(),
                chain_id,
                hint: "",
            });
        }
        return Ok(addr);
    }
    let s = svc.clone();
    let recorded = tokio::task::spawn_blocking(move || s.anchors().deployment()).await??;
    if let Some(d) = recorded.filter(|d| d.chain_id == chain_id) {
        let addr = chain::parse_address(&d.contract)?;
        if has_code(addr).await? {
            return Ok(addr);
        }
        if !dev {
            return Err(StartError::NoCode {
                which: "the recorded contract",
                contract: d.contract,
                chain_id,
                hint: "; set chain.contract, or remove the record by configuring a new one",
            });
        }
        warn!(contract = %d.contract, "the development chain no longer has the recorded contract (its state was reset); deploying a new one");
    }
    let (addr, tx, block) = client.deploy(Duration::from_secs(60)).await?;
    let d = Deployment {
        chain_id,
        contract: hex0x(&addr),
        deploy_tx: Some(hex0x(&tx)),
        block_number: Some(block),
    };
    info!(contract = %d.contract, block, "deployed the anchor registry");
    let s = svc.clone();
    tokio::task::spawn_blocking(move || s.anchors().record_deployment(&d)).await??;
    Ok(addr)
}
