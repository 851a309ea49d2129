//! Configuration: one documented struct, defaults as named constants, read from a TOML file
//! (`DATA_DIR/traceseal.toml` unless `--config` names another) and then overridden by
//! `TRACESEAL_*` environment variables. Secrets are never in the config: keys and the operator
//! token are files in the data directory. `docs/configuration.md` lists every field.

mod env;

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The commented configuration file, with `{name}` where a default value goes.
const DEFAULT_TOML: &str = include_str!("default.toml");

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Default public verification host (signed into every code).
pub const DEFAULT_PUBLIC_HOST: &str = "localhost:8080";
/// Default interval between checkpoint attempts, in milliseconds.
pub const DEFAULT_CHECKPOINT_INTERVAL_MS: u64 = 1000;
/// Default number of distinct client networks (within the window) above which a scan warns.
pub const DEFAULT_WARN_AFTER_NETWORKS: usize = 5;
/// Default sliding window of the warning rule, in days.
pub const DEFAULT_SCAN_WINDOW_DAYS: u32 = 30;
/// Default time within which one network's scans of one code count once, in seconds.
pub const DEFAULT_SCAN_REPEAT_SECS: u64 = 3600;
/// Default sustained public requests per second per client address.
pub const DEFAULT_RATE_PER_SECOND: u32 = 20;
/// Default burst of public requests per client address.
pub const DEFAULT_RATE_BURST: u32 = 40;
/// Default cap on request bodies, in bytes.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default log format.
pub const DEFAULT_LOG_FORMAT: LogFormat = LogFormat::Text;
/// Default number of blocks (the anchor's included) before an anchor counts as confirmed.
pub const DEFAULT_CONFIRMATIONS: u64 = 2;
/// Default minimum time between two anchors, in ms.
pub const DEFAULT_ANCHOR_INTERVAL_MS: u64 = 5_000;
/// Default minimum number of new leaves before anchoring again.
pub const DEFAULT_ANCHOR_MIN_NEW_LEAVES: u64 = 1;
/// Default interval between checks of pending anchors, in ms.
pub const DEFAULT_ANCHOR_POLL_MS: u64 = 500;
/// Default age after which a pending anchor transaction is fee-bumped, in ms.
pub const DEFAULT_FEE_BUMP_AFTER_MS: u64 = 30_000;
/// Default cap on maxFeePerGas, in gwei.
pub const DEFAULT_MAX_FEE_GWEI: u64 = 200;
/// Default cap on maxPriorityFeePerGas, in gwei.
pub const DEFAULT_MAX_PRIORITY_FEE_GWEI: u64 = 5;
/// Default port of the development chain (anvil).
pub const DEFAULT_DEV_PORT: u16 = 8545;
/// Default block time of the development chain, in seconds.
pub const DEFAULT_DEV_BLOCK_TIME_S: u64 = 1;
/// Default anchoring key file, relative to the data directory.
pub const DEFAULT_ANCHOR_KEY: &str = "keys/anchor.pem";

/// Most distinct networks remembered per code by scan telemetry (far above any sane warning
/// threshold; `scan.warn_after_networks` must stay below it).
pub const MAX_TRACKED_NETWORKS: usize = 64;

/// Name of the config file inside the data directory.
pub const CONFIG_FILE_NAME: &str = "traceseal.toml";

/// Structured log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The rule that turns suspicious scan patterns into `genuine_with_warning`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanRules {
    /// A code scanned from more than this many distinct client networks (IPv4 /24, IPv6 /48)
    /// within the window warns ("scanned from M networks since …").
    pub warn_after_networks: usize,
    /// The sliding window, in days: networks not seen within it no longer count.
    pub window_days: u32,
    /// One network's scans of one code count once per this many seconds, however many
    /// there are (so no single client can flag an item).
    pub repeat_secs: u64,
}

impl Default for ScanRules {
    fn default() -> Self {
        ScanRules {
            warn_after_networks: DEFAULT_WARN_AFTER_NETWORKS,
            window_days: DEFAULT_SCAN_WINDOW_DAYS,
            repeat_secs: DEFAULT_SCAN_REPEAT_SECS,
        }
    }
}

/// Custody submissions: how fresh a signed statement must be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustodyRules {
    /// A statement whose `signed_at` is further than this many seconds from the server's
    /// clock (either way) is refused as stale; nonces are remembered at least this long.
    pub freshness_secs: u64,
    /// Load the demo data set (`fixtures/demo.json`) when `serve --init` creates a new data
    /// directory, as `serve --init --demo` does (`TRACESEAL_DEMO`, default false: a production
    /// data directory never gets the demo actors and their keys by accident).
    pub demo_on_init: bool,
    /// Customs clearance is on time within this many hours of the declaration; later, it
    /// counts against the importer's credit grade (`docs/credit-model.md`).
    pub on_time_clearance_hours: u32,
    /// Receiving into the bonded warehouse is on time within this many hours of clearance.
    pub on_time_receiving_hours: u32,
}

/// Default freshness window of signed custody statements, in seconds.
pub const DEFAULT_CUSTODY_FRESHNESS_SECS: u64 = 300;
/// Largest freshness window accepted (one day).
pub const MAX_CUSTODY_FRESHNESS_SECS: u64 = 86_400;

impl Default for CustodyRules {
    fn default() -> Self {
        CustodyRules {
            freshness_secs: DEFAULT_CUSTODY_FRESHNESS_SECS,
            demo_on_init: false,
            on_time_clearance_hours: 72,
            on_time_receiving_hours: 48,
        }
    }
}

/// Label rendering.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LabelConfig {
    /// TrueType font (with `glyf` outlines) covering Chinese and Latin text, for PNG, SVG
    /// and PDF labels (`TRACESEAL_LABEL_FONT`). Default: Debian's `fonts-wqy-microhei`,
    /// which `./scripts/dev setup` installs.
    pub font: std::path::PathBuf,
}

impl Default for LabelConfig {
    fn default() -> Self {
        LabelConfig {
            font: crate::labels::font::DEFAULT_FONT.into(),
        }
    }
}

/// Limits on consumer complaints (`[complaints]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComplaintRules {
    /// Complaints one client address may file per hour (`TRACESEAL_COMPLAINTS_PER_HOUR`).
    pub per_hour: u32,
    /// Complaints one scan may carry (`TRACESEAL_COMPLAINTS_PER_SCAN`).
    pub per_scan: u32,
    /// Partner bodies complaints may be referred to (`[[complaints.partners]]`).
    pub partners: Vec<Partner>,
}

/// A partner body complaints may be referred to, e.g. a consumer council under a cooperation
/// agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// Its id in the API (`a-z`, `0-9`, `-`).
    pub id: String,
    /// Its name in Chinese.
    pub name_zh: String,
    /// Its name in English.
    pub name_en: String,
}

impl Default for ComplaintRules {
    fn default() -> Self {
        ComplaintRules {
            per_hour: 10,
            per_scan: 3,
            partners: vec![Partner {
                id: "hk-consumer-council".into(),
                name_zh: "香港消费者委员会".into(),
                name_en: "Consumer Council (Hong Kong)".into(),
            }],
        }
    }
}

/// The credit-risk model (`[credit]`, `docs/credit-model.md`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CreditConfig {
    /// A model file (TOML) in place of the one built in (`TRACESEAL_CREDIT_MODEL`).
    pub model_file: Option<std::path::PathBuf>,
}

impl CreditConfig {
    /// The model: the file's, checked, or the one built in.
    pub fn model(&self) -> Result<crate::grading::Model, ConfigError> {
        let Some(path) = &self.model_file else {
            return Ok(crate::grading::Model::default_model());
        };
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::Invalid(format!("credit.model_file {}: {e}", path.display()))
        })?;
        crate::grading::Model::parse(&text)
            .map_err(|e| ConfigError::Invalid(format!("{} ({})", e, path.display())))
    }
}

/// Users' sessions and sign-in (`docs/authorization.md`, Users and sessions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionRules {
    /// A session unused for this long ends, in minutes (`TRACESEAL_SESSION_IDLE_MINUTES`).
    pub idle_minutes: u32,
    /// A session ends this long after sign-in however it is used, in hours
    /// (`TRACESEAL_SESSION_ABSOLUTE_HOURS`).
    pub absolute_hours: u32,
    /// Wrong passwords in a row before an account's sign-in pauses.
    pub max_failures: u32,
    /// How long sign-in pauses after `max_failures`, in minutes.
    pub lockout_minutes: u32,
    /// Failed sign-ins one client network (IPv4 /24, IPv6 /48) may make per hour, over all
    /// accounts, before it gets 429 (`TRACESEAL_LOGIN_FAILURES_PER_HOUR`).
    pub network_failures_per_hour: u32,
    /// Set by `serve --dev` only (never from a file or the environment): the session cookie
    /// goes without `Secure` (and without the `__Host-` prefix), for plain HTTP on loopback.
    #[serde(skip)]
    pub dev_mode: bool,
}

/// Default idle expiry of a session, in minutes.
pub const DEFAULT_SESSION_IDLE_MINUTES: u32 = 30;
/// Default absolute expiry of a session, in hours.
pub const DEFAULT_SESSION_ABSOLUTE_HOURS: u32 = 12;

impl Default for SessionRules {
    fn default() -> Self {
        SessionRules {
            idle_minutes: DEFAULT_SESSION_IDLE_MINUTES,
            absolute_hours: DEFAULT_SESSION_ABSOLUTE_HOURS,
            max_failures: 5,
            lockout_minutes: 15,
            network_failures_per_hour: 100,
            dev_mode: false,
        }
    }
}

/// Per-client-address rate limit of the public endpoints (token bucket).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimit {
    /// Sustained requests per second per client address.
    pub per_second: u32,
    /// Requests a client may make at once before being limited.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_second: DEFAULT_RATE_PER_SECOND,
            burst: DEFAULT_RATE_BURST,
        }
    }
}

/// Where and how checkpoints are anchored on an EVM chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainConfig {
    /// Anchor at all (`TRACESEAL_CHAIN_ENABLED`). Off: scans carry no anchor.
    pub enabled: bool,
    /// JSON-RPC URL of the node (`TRACESEAL_CHAIN_RPC`). Empty: under `serve --dev`, start the
    /// local development chain (anvil) with its state under `DATA_DIR/chain/`; without `--dev`
    /// an empty URL with anchoring on is refused at start.
    pub rpc_url: String,
    /// Expected chain id (`TRACESEAL_CHAIN_ID`); 0 accepts whatever the node reports.
    pub chain_id: u64,
    /// Registry contract address (`TRACESEAL_CHAIN_CONTRACT`). Empty: use the one recorded in
    /// the store for this chain, or deploy one and record it.
    pub contract: String,
    /// Anchoring key file (secp256k1 PKCS#8 PEM, mode 0600), relative to the data directory
    /// unless absolute (`TRACESEAL_ANCHOR_KEY`). Created for the development chain.
    pub anchor_key: String,
    /// Blocks (the anchor's included) before an anchor is confirmed
    /// (`TRACESEAL_CHAIN_CONFIRMATIONS`).
    pub confirmations: u64,
    /// Minimum time between two anchors, in ms (`TRACESEAL_ANCHOR_INTERVAL_MS`).
    pub anchor_interval_ms: u64,
    /// Minimum new leaves since the last anchor (`TRACESEAL_ANCHOR_MIN_NEW_LEAVES`).
    pub min_new_leaves: u64,
    /// How often pending anchors are re-checked, in ms (`TRACESEAL_ANCHOR_POLL_MS`).
    pub poll_ms: u64,
    /// A pending anchor transaction older than this is fee-bumped, in ms.
    pub fee_bump_after_ms: u64,
    /// Cap on maxFeePerGas, in gwei (`TRACESEAL_MAX_FEE_GWEI`).
    pub max_fee_gwei: u64,
    /// Cap on maxPriorityFeePerGas, in gwei.
    pub max_priority_fee_gwei: u64,
    /// Development chain: port on 127.0.0.1 (`TRACESEAL_DEV_CHAIN_PORT`).
    pub dev_port: u16,
    /// Development chain: seconds per block.
    pub dev_block_time_s: u64,
    /// JSON-RPC URL the scan page's script reads the anchored root from with `eth_call`
    /// (`TRACESEAL_CHAIN_PUBLIC_RPC`): a public endpoint of the same chain that answers
    /// browsers (CORS). Empty: the development chain's URL when it runs, else no in-browser
    /// chain check.
    pub public_rpc_url: String,
    /// Set by `serve --dev` only (never from a file or the environment): the development
    /// chain may be started, and the scan page may read a chain on loopback.
    #[serde(skip)]
    pub dev_mode: bool,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            enabled: true,
            rpc_url: String::new(),
            chain_id: 0,
            contract: String::new(),
            anchor_key: DEFAULT_ANCHOR_KEY.to_string(),
            confirmations: DEFAULT_CONFIRMATIONS,
            anchor_interval_ms: DEFAULT_ANCHOR_INTERVAL_MS,
            min_new_leaves: DEFAULT_ANCHOR_MIN_NEW_LEAVES,
            poll_ms: DEFAULT_ANCHOR_POLL_MS,
            fee_bump_after_ms: DEFAULT_FEE_BUMP_AFTER_MS,
            max_fee_gwei: DEFAULT_MAX_FEE_GWEI,
            max_priority_fee_gwei: DEFAULT_MAX_PRIORITY_FEE_GWEI,
            dev_port: DEFAULT_DEV_PORT,
            dev_block_time_s: DEFAULT_DEV_BLOCK_TIME_S,
            public_rpc_url: String::new(),
            dev_mode: false,
        }
    }
}

impl ChainConfig {
    /// Whether the development chain is to be started: only with `serve --dev`, when
    /// anchoring is on and no RPC URL is configured.
    pub fn dev(&self) -> bool {
        self.enabled && self.rpc_url.is_empty() && self.dev_mode
    }
}

/// Everything `traceseal serve` can be told.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Socket address to listen on (`TRACESEAL_LISTEN`).
    pub listen: SocketAddr,
    /// Public verification host (DNS name, optionally `:port`) written into every new code as
    /// `https://HOST/…` and signed (`TRACESEAL_PUBLIC_HOST`). Changing it affects new codes
    /// only; old codes stay valid.
    pub public_host: String,
    /// How often the checkpointer looks for new leaves and signs a checkpoint, in ms
    /// (`TRACESEAL_CHECKPOINT_INTERVAL_MS`).
    pub checkpoint_interval_ms: u64,
    /// Scan warning rule (`TRACESEAL_WARN_AFTER_NETWORKS`, `TRACESEAL_SCAN_WINDOW_DAYS`,
    /// `TRACESEAL_SCAN_REPEAT_SECS`).
    pub scan: ScanRules,
    /// Public endpoint rate limit (`TRACESEAL_RATE_PER_SECOND`, `TRACESEAL_RATE_BURST`).
    pub rate_limit: RateLimit,
    /// Proxies whose `X-Forwarded-For` is believed; the client address of any other peer is
    /// the socket's (`TRACESEAL_TRUSTED_PROXIES`, comma-separated).
    pub trusted_proxies: Vec<IpAddr>,
    /// Largest accepted request body in bytes (`TRACESEAL_MAX_BODY_BYTES`).
    pub max_body_bytes: usize,
    /// `text` or `json` logs (`TRACESEAL_LOG_FORMAT`); verbosity from `RUST_LOG`.
    pub log_format: LogFormat,
    /// Anchoring on an EVM chain.
    pub chain: ChainConfig,
    /// Custody submissions (`TRACESEAL_CUSTODY_FRESHNESS_SECS`, `TRACESEAL_DEMO`).
    pub custody: CustodyRules,
    /// Label rendering (`TRACESEAL_LABEL_FONT`).
    pub labels: LabelConfig,
    /// Consumer complaint limits.
    pub complaints: ComplaintRules,
    /// Users' sessions and sign-in limits.
    pub sessions: SessionRules,
    /// HTTP server limits and the metrics listener.
    pub server: ServerConfig,
    /// The credit-risk model.
    pub credit: CreditConfig,
}

/// Default time allowed for a request's headers, in ms.
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 10_000;
/// Default time allowed for a request's body, in ms.
pub const DEFAULT_BODY_READ_TIMEOUT_MS: u64 = 30_000;
/// Default time a connection may idle, in ms.
pub const DEFAULT_IDLE_TIMEOUT_MS: u64 = 60_000;
/// Default cap on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;

/// HTTP server limits (`docs/operations.md`, Server limits).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Time allowed for a request's headers, from the connection's start or the previous
    /// response, in ms (`TRACESEAL_HEADER_READ_TIMEOUT_MS`).
    pub header_read_timeout_ms: u64,
    /// Time allowed for a request's body, from its head, in ms (`TRACESEAL_BODY_READ_TIMEOUT_MS`).
    pub body_read_timeout_ms: u64,
    /// A connection with no request in flight and no bytes moving for this long is closed, in
    /// ms (`TRACESEAL_IDLE_TIMEOUT_MS`).
    pub idle_timeout_ms: u64,
    /// Most open connections; at the cap the oldest idle one is closed to make room
    /// (`TRACESEAL_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Serve `/metrics` on this address instead (no token: keep it private); when unset,
    /// `/metrics` is on the main listener behind the operator token
    /// (`TRACESEAL_METRICS_LISTEN`).
    pub metrics_listen: Option<SocketAddr>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            body_read_timeout_ms: DEFAULT_BODY_READ_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_IDLE_TIMEOUT_MS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            metrics_listen: None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            // The constant is a valid socket address literal.
            listen: DEFAULT_LISTEN
                .parse()
                .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 8080))),
            public_host: DEFAULT_PUBLIC_HOST.to_string(),
            checkpoint_interval_ms: DEFAULT_CHECKPOINT_INTERVAL_MS,
            scan: ScanRules::default(),
            rate_limit: RateLimit::default(),
            trusted_proxies: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            log_format: DEFAULT_LOG_FORMAT,
            chain: ChainConfig::default(),
            custody: CustodyRules::default(),
            labels: LabelConfig::default(),
            complaints: ComplaintRules::default(),
            sessions: SessionRules::default(),
            server: ServerConfig::default(),
            credit: CreditConfig::default(),
        }
    }
}

/// The server's timeouts, connection cap and metrics listener.
fn check_sessions(s: &SessionRules) -> Result<(), ConfigError> {
    let ok = (1..=1440).contains(&s.idle_minutes)
        && (1..=720).contains(&s.absolute_hours)
        && (1..=100).contains(&s.max_failures)
        && (1..=1440).contains(&s.lockout_minutes)
        && s.network_failures_per_hour >= 1;
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid(
            "sessions.idle_minutes must be 1 to 1440, sessions.absolute_hours 1 to 720, sessions.max_failures 1 to 100, sessions.lockout_minutes 1 to 1440 and sessions.network_failures_per_hour at least 1".into(),
        ))
    }
}

fn check_server(sv: &ServerConfig) -> Result<(), ConfigError> {
    if sv.header_read_timeout_ms == 0
        || sv.body_read_timeout_ms == 0
        || sv.idle_timeout_ms == 0
        || !(1..=1_000_000).contains(&sv.max_connections)
    {
        return Err(ConfigError::Invalid(
            "server timeouts must be at least 1 ms and server.max_connections 1 to 1000000".into(),
        ));
    }
    if let Some(m) = sv.metrics_listen {
        let private = match m.ip() {
            IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
            IpAddr::V6(v6) => {
                v6.is_loopback()
                    || (v6.segments()[0] & 0xfe00) == 0xfc00
                    || (v6.segments()[0] & 0xffc0) == 0xfe80
            }
        };
        if !private {
            return Err(ConfigError::Invalid(format!(
                "server.metrics_listen {m} would publish /metrics without a token; give a loopback or private address (e.g. 127.0.0.1:9464), or leave it unset to serve /metrics behind the operator token"
            )));
        }
    }
    Ok(())
}

/// The anchoring settings: positive counts, fees in order, a well-formed contract and URL.
fn check_chain(c: &ChainConfig) -> Result<(), ConfigError> {
    if c.confirmations == 0 || c.poll_ms == 0 || c.min_new_leaves == 0 {
        return Err(ConfigError::Invalid(
            "chain.confirmations, chain.poll_ms and chain.min_new_leaves must be at least 1".into(),
        ));
    }
    if c.max_priority_fee_gwei > c.max_fee_gwei {
        return Err(ConfigError::Invalid(
            "chain.max_priority_fee_gwei must not exceed chain.max_fee_gwei".into(),
        ));
    }
    if !c.contract.is_empty() && crate::anchor::parse_hex::<20>(&c.contract).is_err() {
        return Err(ConfigError::Invalid(format!(
            "chain.contract {:?} is not a 0x-prefixed 20-byte address",
            c.contract
        )));
    }
    let url_ok = c.rpc_url.is_empty()
        || c.rpc_url.starts_with("http://")
        || c.rpc_url.starts_with("https://");
    if !url_ok {
        return Err(ConfigError::Invalid(format!(
            "chain.rpc_url {:?} must be an http:// or https:// URL",
            c.rpc_url
        )));
    }
    Ok(())
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for [`Config`].
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message (names the bad field).
        message: String,
    },
    /// An environment variable has a bad value.
    #[error("environment variable {name}={value:?}: {message}")]
    Env {
        /// The variable.
        name: &'static str,
        /// Its value.
        value: String,
        /// What is wrong.
        message: String,
    },
    /// A value is out of range.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The checkpoint interval as a duration.
    pub fn checkpoint_interval(&self) -> Duration {
        Duration::from_millis(self.checkpoint_interval_ms)
    }

    /// Loads `file` (if it exists), then applies environment overrides from `env`.
    pub fn load(file: &Path, env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut cfg = if file.exists() {
            let text = std::fs::read_to_string(file).map_err(|source| ConfigError::Read {
                path: file.display().to_string(),
                source,
            })?;
            Self::from_toml(&text).map_err(|e| ConfigError::Parse {
                path: file.display().to_string(),
                message: e.to_string(),
            })?
        } else {
            Config::default()
        };
        cfg.apply_env(env)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses TOML text; missing fields take their defaults, unknown fields are errors.
    pub fn from_toml(text: &str) -> Result<Config, toml::de::Error> {
        toml::from_str(text)
    }

    /// Checks ranges that serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.checkpoint_interval_ms == 0 {
            return Err(ConfigError::Invalid(
                "checkpoint_interval_ms must be at least 1".into(),
            ));
        }
        if self.complaints.per_hour == 0 || self.complaints.per_scan == 0 {
            return Err(ConfigError::Invalid(
                "complaints.per_hour and complaints.per_scan must be at least 1".into(),
            ));
        }
        check_partners(&self.complaints.partners)?;
        check_server(&self.server)?;
        check_sessions(&self.sessions)?;
        self.credit.model()?;
        let sr = &self.scan;
        if !(1..=3650).contains(&sr.window_days)
            || !(1..=86_400).contains(&sr.repeat_secs)
            || sr.warn_after_networks >= MAX_TRACKED_NETWORKS
        {
            return Err(ConfigError::Invalid(format!(
                "scan.window_days must be 1 to 3650, scan.repeat_secs 1 to 86400, and scan.warn_after_networks below {}",
                MAX_TRACKED_NETWORKS
            )));
        }
        if self.rate_limit.per_second == 0 || self.rate_limit.burst == 0 {
            return Err(ConfigError::Invalid(
                "rate_limit.per_second and rate_limit.burst must be at least 1".into(),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be at least 1024".into(),
            ));
        }
        let c = &self.custody;
        if !(1..=8_760).contains(&c.on_time_clearance_hours)
            || !(1..=8_760).contains(&c.on_time_receiving_hours)
        {
            return Err(ConfigError::Invalid(
                "custody.on_time_clearance_hours and on_time_receiving_hours must be 1–8760".into(),
            ));
        }
        if !(1..=MAX_CUSTODY_FRESHNESS_SECS).contains(&self.custody.freshness_secs) {
            return Err(ConfigError::Invalid(format!(
                "custody.freshness_secs must be between 1 and {MAX_CUSTODY_FRESHNESS_SECS}"
            )));
        }
        check_chain(&self.chain)?;
        crate::code::Host::parse(&self.public_host).map_err(|e| {
            ConfigError::Invalid(format!("public_host {:?}: {e}", self.public_host))
        })?;
        Ok(())
    }

    /// A commented config file with every field at its default.
    pub fn default_toml() -> String {
        Config::init_toml(&Config::default().public_host)
    }

    /// The config file `traceseal init` writes: every field at its default but the public
    /// host, the one the data directory's log origin was made with (so the codes it issues
    /// name the same host).
    pub fn init_toml(public_host: &str) -> String {
        let d = Config::default();
        let values = [
            ("hrt", d.server.header_read_timeout_ms.to_string()),
            ("brt", d.server.body_read_timeout_ms.to_string()),
            ("idle", d.server.idle_timeout_ms.to_string()),
            ("maxconn", d.server.max_connections.to_string()),
            ("font", d.labels.font.display().to_string()),
            ("fresh", d.custody.freshness_secs.to_string()),
            ("akey", d.chain.anchor_key.to_string()),
            ("conf", d.chain.confirmations.to_string()),
            ("aint", d.chain.anchor_interval_ms.to_string()),
            ("minl", d.chain.min_new_leaves.to_string()),
            ("poll", d.chain.poll_ms.to_string()),
            ("bump", d.chain.fee_bump_after_ms.to_string()),
            ("maxfee", d.chain.max_fee_gwei.to_string()),
            ("maxtip", d.chain.max_priority_fee_gwei.to_string()),
            ("devport", d.chain.dev_port.to_string()),
            ("devbt", d.chain.dev_block_time_s.to_string()),
            ("listen", d.listen.to_string()),
            ("host", public_host.to_string()),
            ("cp", d.checkpoint_interval_ms.to_string()),
            ("body", d.max_body_bytes.to_string()),
            ("wan", d.scan.warn_after_networks.to_string()),
            ("wdays", d.scan.window_days.to_string()),
            ("rsecs", d.scan.repeat_secs.to_string()),
            ("rps", d.rate_limit.per_second.to_string()),
            ("burst", d.rate_limit.burst.to_string()),
        ];
        values
            .iter()
            .fold(DEFAULT_TOML.to_string(), |t, (name, value)| {
                t.replace(&format!("{{{name}}}"), value)
            })
    }
}

/// Partner ids are `a-z`, `0-9`, `-` (1–64) and unique; names 1–200 characters.
fn check_partners(ps: &[Partner]) -> Result<(), ConfigError> {
    let mut seen = std::collections::HashSet::new();
    for p in ps {
        let id_ok = (1..=64).contains(&p.id.len())
            && p.id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let names_ok = [&p.name_zh, &p.name_en]
            .iter()
            .all(|n| (1..=200).contains(&n.chars().count()) && !n.chars().any(char::is_control));
        if !id_ok || !names_ok || !seen.insert(&p.id) {
            return Err(ConfigError::Invalid(format!(
                "complaints.partners: {:?} needs a unique id of a-z, 0-9 and - (1–64) and names of 1–200 characters",
                p.id
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_toml_parses_to_defaults() {
        assert_eq!(
            Config::from_toml(&Config::default_toml()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = Config::from_toml("listn = \"1.2.3.4:5\"")
            .unwrap_err()
            .to_string();
        assert!(err.contains("listn"), "{err}");
    }

    #[test]
    fn env_overrides_file() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(
            &f,
            "checkpoint_interval_ms = 500\n[rate_limit]\nburst = 7\n",
        )
        .unwrap();
        let cfg = Config::load(&f, |k| match k {
            "TRACESEAL_CHECKPOINT_INTERVAL_MS" => Some("250".into()),
            "TRACESEAL_TRUSTED_PROXIES" => Some("127.0.0.1, ::1".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(cfg.checkpoint_interval_ms, 250);
        assert_eq!(cfg.rate_limit.burst, 7);
        assert_eq!(cfg.trusted_proxies.len(), 2);
    }

    #[test]
    fn metrics_listen_must_be_private() {
        for (addr, ok) in [
            ("127.0.0.1:9464", true),
            ("10.0.0.5:9464", true),
            ("0.0.0.0:9464", false),
            ("203.0.113.9:9464", false),
            ("[::1]:9464", true),
            ("[::]:9464", false),
        ] {
            let mut c = Config::default();
            c.server.metrics_listen = Some(addr.parse().unwrap());
            assert_eq!(c.validate().is_ok(), ok, "{addr}");
        }
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let err = Config::load(Path::new("/nonexistent"), |k| {
            (k == "TRACESEAL_RATE_BURST").then(|| "lots".to_string())
        })
        .unwrap_err();
        assert!(err.to_string().contains("TRACESEAL_RATE_BURST"), "{err}");
    }

    #[test]
    fn zero_interval_is_invalid() {
        let c = Config {
            checkpoint_interval_ms: 0,
            ..Config::default()
        };
        assert!(c.validate().is_err());
    }
}
