//! The service layer: use cases over the store, the keys and the pure core.
//!
//! - [`setup`]: `init` and `open` of a data directory.
//! - [`master`]: enterprises and products.
//! - [`issuance`]: batches of signed codes (parallel signing, synced atomic chunks).
//! - [`log`]: the Merkle log, proofs and the checkpointer.
//! - [`scan`]: verdicts for scanned codes; [`telemetry`]: scan recording and the warning rule.
//! - [`complaints`], [`credit`]: consumer complaints and merchant credit profiles.
//!
//! Every method here is blocking (RocksDB, CPU-heavy signing); the HTTP edge calls them through
//! `spawn_blocking`.

pub mod anchoring;
pub mod bundle;
pub mod cache;
pub mod complaints;
pub mod credit;
pub mod custody;
pub mod demo;
pub mod engagements;
pub mod issuance;
pub mod items;
pub mod log;
pub mod master;
pub mod printing;
pub mod scan;
pub mod setup;
pub mod telemetry;
pub mod verdict;
pub mod verify;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, RwLock};

use ed25519_dalek::{SigningKey, VerifyingKey};
use time::OffsetDateTime;

use crate::checkpoint::NoteSigner;
use crate::code::{Host, KeyId};
use crate::config::ScanRules;
use crate::store::{Store, StoreError};

use self::log::LogState;
pub use self::log::SignedCheckpoint;

/// Errors of the use cases; the HTTP edge maps each variant to one status code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// The named resource does not exist (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with current state (HTTP 409).
    #[error("{0}")]
    Conflict(String),
    /// Well-formed but refers to something unusable, e.g. an unknown GTIN (HTTP 422).
    #[error("{0}")]
    Unprocessable(String),
    /// Storage is unavailable; retry later (HTTP 503).
    #[error("{0}")]
    Unavailable(String),
    /// The signed request could not be authenticated: unknown actor or key, bad signature,
    /// key not valid at signing time, stale timestamp (HTTP 401).
    #[error("{0}")]
    Unauthenticated(String),
    /// Authenticated, but this actor's role may not do this (HTTP 403).
    #[error("{0}")]
    Forbidden(String),
    /// Our own invariant broke (HTTP 500, details only in the server log).
    #[error("{0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ServiceError::Unavailable(e.to_string()),
            _ => ServiceError::Internal(e.to_string()),
        }
    }
}

/// Result of a use case.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// Counters the metrics endpoint reads.
#[derive(Debug, Default)]
pub struct Stats {
    /// Codes issued by this process since start.
    pub codes_issued: AtomicU64,
    /// Scans answered by this process since start.
    pub scans: AtomicU64,
    /// Checkpoints signed by this process since start.
    pub checkpoints_signed: AtomicU64,
    /// Scans whose telemetry could not be read or written (the verdict was served anyway).
    pub scan_telemetry_failures: AtomicU64,
}

/// An issuer key able to sign codes.
pub struct Issuer {
    /// The private key (never logged: its `Debug` shows only the public half).
    pub key: SigningKey,
    /// Its key id.
    pub kid: KeyId,
}

/// The traceseal service: one per data directory.
pub struct Service {
    store: Arc<dyn Store>,
    host: Host,
    issuer: Arc<Issuer>,
    issuer_keys: HashMap<KeyId, VerifyingKey>,
    log_signer: NoteSigner,
    origin: String,
    log: Mutex<LogState>,
    latest: RwLock<Option<SignedCheckpoint>>,
    issuance: Mutex<()>,
    scan_rules: ScanRules,
    custody_rules: crate::config::CustodyRules,
    label_font: std::path::PathBuf,
    complaint_rules: crate::config::ComplaintRules,
    complaints: Mutex<()>,
    custody: Mutex<()>,
    registry_generation: AtomicU64,
    batch_generation: AtomicU64,
    lot_view_cache: Mutex<scan::LotViewCache>,
    lot_pages: cache::ViewCache<custody::LotView>,
    epcis_pages: cache::ViewCache<custody::EpcisPage>,
    print_progress: printing::PrintProgress,
    scan_locks: Vec<Mutex<()>>,
    scan_id_key: Mutex<Option<[u8; 32]>>,
    forged_quota: Mutex<telemetry::ForgedQuota>,
    stats: Stats,
}

impl Service {
    /// The store (for tests and tools).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Process counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The public host new codes are issued for.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The log's origin line (also the checkpoint key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// Current time, truncated to whole seconds.
pub(crate) fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t.replace_nanosecond(0).unwrap_or(t)
}

/// RFC 3339 text of a Unix time in seconds.
pub(crate) fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}

/// Lock a mutex, turning poisoning (a panic elsewhere while holding it) into an error.
pub(crate) fn lock<T>(m: &Mutex<T>) -> Result<std::sync::MutexGuard<'_, T>> {
    m.lock()
        .map_err(|_| ServiceError::Internal("a lock was poisoned by an earlier panic".into()))
}

/// Current Unix time in seconds.
pub fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}
