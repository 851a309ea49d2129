//! Creating and opening a data directory.
//!
//! ```text
//! DATA_DIR/
//!   traceseal.toml      configuration (written by init with every default, commented)
//!   admin.token         operator bearer token (0600)
//!   keys/issuer.pem     issuer key, PKCS#8 PEM (0600): signs item codes
//!   keys/log.pem        log key, PKCS#8 PEM (0600): signs checkpoints
//!   db/                 RocksDB
//! ```
//!
//! `init` refuses a directory holding any of these; `open` refuses a directory without them
//! (the server never creates critical state implicitly).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use ed25519_dalek::VerifyingKey;

use super::base::{now, rfc3339, Result, ServiceError, Stats, WriteLocks};
use super::custody::{Custody, CustodyDeps};
use super::errors::SetupError;
use super::issuance::{Issuance, IssuanceParts, Issuer};
use super::scan::{ScanDeps, Scans};
use super::{
    Accounts, ActorRegistry, AnchorBook, AuditTrail, ConsumerServices, Engagements, LogBook,
    MasterData, Printing, Service, Telemetry,
};
use crate::checkpoint::NoteSigner;
use crate::code::{Host, KeyId};
use crate::config::{Config, ScanRules};
use crate::keys;
use crate::store::rocks::RocksStore;
use crate::store::schema::{decode_json, encode_json, META_LOG_ORIGIN};
use crate::store::{Cf, Durability, Store, WriteBatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A public key of the service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyInfo {
    /// Key id: 8 hex chars (issuer: SHA-256 of the public key; log: C2SP note key id).
    pub kid: String,
    /// `issuer` (signs codes) or `log` (signs checkpoints).
    pub role: String,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// Base64 of the 32 raw public key bytes.
    pub public_key: String,
    /// RFC 3339 start of validity.
    pub not_before: String,
    /// RFC 3339 end of validity, if any.
    pub not_after: Option<String>,
    /// For the log key: its C2SP verifier key string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vkey: Option<String>,
}

/// Response of `GET /api/v1/keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeySet {
    /// Every issuer and log key.
    pub keys: Vec<KeyInfo>,
}

/// Paths inside a data directory.
#[derive(Clone, Debug)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    /// A data directory at `root` (not touched until used).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DataDir { root: root.into() }
    }
    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The RocksDB directory.
    pub fn db(&self) -> PathBuf {
        self.root.join("db")
    }
    /// The key directory.
    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }
    /// The issuer key file.
    pub fn issuer_key(&self) -> PathBuf {
        self.keys().join("issuer.pem")
    }
    /// The log key file.
    pub fn log_key(&self) -> PathBuf {
        self.keys().join("log.pem")
    }
    /// The operator token file.
    pub fn admin_token(&self) -> PathBuf {
        self.root.join("admin.token")
    }
    /// The default config file.
    pub fn config(&self) -> PathBuf {
        self.root.join(crate::config::CONFIG_FILE_NAME)
    }

    /// True when any piece of an initialised directory is present.
    pub fn is_initialised(&self) -> bool {
        self.db().exists()
            || self.admin_token().exists()
            || self.issuer_key().exists()
            || self.log_key().exists()
    }
}

/// What `init` created.
#[derive(Debug)]
pub struct InitReport {
    /// Issuer key id.
    pub issuer_kid: String,
    /// Log verifier key string.
    pub log_vkey: String,
    /// Log origin.
    pub origin: String,
}

/// Initialises `dir` for public host `host`. Refuses an initialised directory.
pub fn init(dir: &DataDir, host: &Host) -> Result<InitReport> {
    if dir.is_initialised() {
        return Err(SetupError::AlreadyInitialised {
            dir: dir.root().to_path_buf(),
        }
        .into());
    }
    let io = |what: &str, e: std::io::Error| {
        ServiceError::Internal(format!("cannot create {what}: {e}"))
    };
    std::fs::create_dir_all(dir.keys()).map_err(|e| io("the key directory", e))?;
    let kerr = |e: keys::KeyFileError| ServiceError::Internal(e.to_string());
    let issuer = keys::generate();
    let log_key = keys::generate();
    keys::write_private_pem(&dir.issuer_key(), &issuer).map_err(kerr)?;
    keys::write_private_pem(&dir.log_key(), &log_key).map_err(kerr)?;
    let mut token = [0u8; 32];
    getrandom::getrandom(&mut token)
        .map_err(|e| ServiceError::Internal(format!("OS random generator failed: {e}")))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token);
    keys::write_secret_file(&dir.admin_token(), format!("{token}\n").as_bytes()).map_err(kerr)?;
    if !dir.config().exists() {
        std::fs::write(dir.config(), Config::default_toml()).map_err(|e| io("the config", e))?;
    }

    let origin = format!("{}/log", host.as_str());
    let signer = NoteSigner::new(&origin, log_key.clone())
        .map_err(|e| ServiceError::Internal(format!("log key name {origin:?}: {e}")))?;
    let issuer_kid = KeyId::of(&issuer.verifying_key());
    let t = rfc3339(now().unix_timestamp());
    let b64 = |k: &VerifyingKey| base64::engine::general_purpose::STANDARD.encode(k.as_bytes());
    let issuer_info = KeyInfo {
        kid: issuer_kid.to_string(),
        role: "issuer".into(),
        algorithm: "Ed25519".into(),
        public_key: b64(&issuer.verifying_key()),
        not_before: t.clone(),
        not_after: None,
        vkey: None,
    };
    let log_info = KeyInfo {
        kid: hex4(signer.key_id()),
        role: "log".into(),
        algorithm: "Ed25519".into(),
        public_key: b64(&log_key.verifying_key()),
        not_before: t,
        not_after: None,
        vkey: Some(signer.vkey()),
    };

    let store = RocksStore::create(&dir.db())?;
    let mut b = WriteBatch::new();
    b.put(Cf::Meta, META_LOG_ORIGIN, origin.as_bytes());
    b.put(
        Cf::Keys,
        issuer_info.kid.as_bytes(),
        encode_json(&issuer_info),
    );
    b.put(Cf::Keys, log_info.kid.as_bytes(), encode_json(&log_info));
    store.write(b, Durability::Synced)?;
    Ok(InitReport {
        issuer_kid: issuer_info.kid,
        log_vkey: signer.vkey(),
        origin,
    })
}

/// Lowercase hex of a 4-byte key id.
pub(crate) fn hex4(id: [u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Options for opening a service.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Public host for new codes.
    pub host: Host,
    /// Scan warning rule.
    pub scan_rules: ScanRules,
    /// Custody submission rules.
    pub custody: crate::config::CustodyRules,
    /// Label rendering.
    pub labels: crate::config::LabelConfig,
    /// Complaint limits.
    pub complaints: crate::config::ComplaintRules,
    /// Sessions and sign-in limits.
    pub sessions: crate::config::SessionRules,
}

impl OpenOptions {
    /// Every option at its default (tools, benches, examples).
    pub fn defaults(host: Host) -> Self {
        Self::from_config(host, &crate::config::Config::default())
    }

    /// The options a configuration gives.
    pub fn from_config(host: Host, cfg: &crate::config::Config) -> Self {
        OpenOptions {
            host,
            scan_rules: cfg.scan.clone(),
            custody: cfg.custody.clone(),
            labels: cfg.labels.clone(),
            complaints: cfg.complaints.clone(),
            sessions: cfg.sessions.clone(),
        }
    }
}

/// Opens an initialised data directory.
pub fn open(dir: &DataDir, opts: OpenOptions) -> Result<Service> {
    if !dir.db().exists() {
        return Err(SetupError::NotInitialised {
            dir: dir.root().to_path_buf(),
        }
        .into());
    }
    let kerr = |e: keys::KeyFileError| ServiceError::Internal(e.to_string());
    let issuer = keys::read_private_pem(&dir.issuer_key()).map_err(kerr)?;
    let log_key = keys::read_private_pem(&dir.log_key()).map_err(kerr)?;
    let store: Arc<dyn Store> = Arc::new(RocksStore::open(&dir.db())?);
    Service::from_parts(store, issuer, log_key, opts)
}

impl Service {
    /// Assembles a service over an initialised store (used by [`open`] and by tests with a
    /// [`crate::store::mem::MemStore`]). Checks that the keys match the store's key registry,
    /// rebuilds the log frontier and signs the first checkpoint of an empty log.
    pub fn from_parts(
        store: Arc<dyn Store>,
        issuer: ed25519_dalek::SigningKey,
        log_key: ed25519_dalek::SigningKey,
        opts: OpenOptions,
    ) -> Result<Service> {
        let origin = match store.get(Cf::Meta, META_LOG_ORIGIN)? {
            Some(v) => String::from_utf8(v)
                .map_err(|_| ServiceError::Internal("log origin is not UTF-8".into()))?,
            None => {
                return Err(ServiceError::Internal(
                    "log origin missing from store".into(),
                ))
            }
        };
        let log_pub = log_key.verifying_key();
        let signer = NoteSigner::new(&origin, log_key)
            .map_err(|e| ServiceError::Internal(format!("log key: {e}")))?;
        let mut issuer_keys = HashMap::new();
        let mut saw_log_key = false;
        for (_, v) in store.range(Cf::Keys, &[], None, usize::MAX)? {
            let info: KeyInfo = decode_json("key record", &v)?;
            let raw = base64::engine::general_purpose::STANDARD
                .decode(&info.public_key)
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                .ok_or_else(|| ServiceError::Internal(format!("key {} is corrupt", info.kid)))?;
            match info.role.as_str() {
                "issuer" => {
                    issuer_keys.insert(KeyId::of(&raw), raw);
                }
                "log" => saw_log_key |= raw == log_pub,
                _ => {}
            }
        }
        let issuer_kid = KeyId::of(&issuer.verifying_key());
        if issuer_keys.get(&issuer_kid) != Some(&issuer.verifying_key()) {
            return Err(ServiceError::Internal(format!(
                "the issuer key file (kid {issuer_kid}) is not registered in this store"
            )));
        }
        if !saw_log_key {
            return Err(ServiceError::Internal(
                "the log key file does not match the store's registered log key".into(),
            ));
        }
        let parts = IssuanceParts {
            host: opts.host.clone(),
            issuer: Issuer {
                key: issuer,
                kid: issuer_kid,
            },
            issuer_keys,
        };
        let svc = Service::compose(store, signer, parts, opts)?;
        svc.issuance.index_lot_batches()?;
        svc.log.checkpoint_now()?;
        Ok(svc)
    }

    /// Builds the units over `store`, each with the units it reads.
    fn compose(
        store: Arc<dyn Store>,
        signer: NoteSigner,
        parts: IssuanceParts,
        opts: OpenOptions,
    ) -> Result<Service> {
        let stats = Arc::new(Stats::default());
        let locks = Arc::new(WriteLocks::default());
        let st = || store.clone();
        let log = Arc::new(LogBook::open(st(), stats.clone(), signer)?);
        let master = Arc::new(MasterData::new(st(), locks.clone(), log.clone()));
        let registry = Arc::new(ActorRegistry::new(st(), locks.clone(), log.clone()));
        let engagements = Arc::new(Engagements::new(
            st(),
            locks.clone(),
            log.clone(),
            master.clone(),
            registry.clone(),
        ));
        let issuance = Arc::new(Issuance::new(
            st(),
            stats.clone(),
            locks.clone(),
            log.clone(),
            master.clone(),
            parts,
        ));
        let core = CustodyDeps {
            log,
            master,
            registry,
            engagements,
            issuance,
        };
        Ok(Service::compose_readers(store, stats, locks, core, opts))
    }

    /// Builds custody and the units that read across the others (scans, printing) over the
    /// `core` units.
    fn compose_readers(
        store: Arc<dyn Store>,
        stats: Arc<Stats>,
        locks: Arc<WriteLocks>,
        core: CustodyDeps,
        opts: OpenOptions,
    ) -> Service {
        let st = || store.clone();
        let CustodyDeps {
            log,
            master,
            registry,
            engagements,
            issuance,
        } = &core;
        let custody = Arc::new(Custody::new(
            st(),
            locks.clone(),
            core.clone(),
            opts.custody,
        ));
        let telemetry = Arc::new(Telemetry::new(
            st(),
            stats.clone(),
            master.clone(),
            opts.scan_rules,
        ));
        let consumer = Arc::new(ConsumerServices::new(
            st(),
            locks.clone(),
            log.clone(),
            master.clone(),
            telemetry.clone(),
            opts.complaints,
        ));
        let scans = Arc::new(Scans::new(
            stats.clone(),
            ScanDeps {
                log: log.clone(),
                master: master.clone(),
                issuance: issuance.clone(),
                custody: custody.clone(),
                registry: registry.clone(),
                telemetry: telemetry.clone(),
                consumer: consumer.clone(),
            },
        ));
        let printing = Arc::new(Printing::new(
            st(),
            locks,
            log.clone(),
            master.clone(),
            issuance.clone(),
            opts.labels.font,
        ));
        Service {
            anchors: Arc::new(AnchorBook::new(st())),
            accounts: Arc::new(Accounts::new(
                st(),
                master.clone(),
                log.clone(),
                opts.sessions,
            )),
            audit: Arc::new(AuditTrail::new(st())),
            log: log.clone(),
            master: master.clone(),
            registry: registry.clone(),
            engagements: engagements.clone(),
            issuance: issuance.clone(),
            store,
            stats,
            custody,
            telemetry,
            consumer,
            scans,
            printing,
        }
    }
}

/// Creates an in-memory service for unit tests: a [`crate::store::mem::MemStore`] holding
/// what `init` would write.
#[cfg(test)]
pub(crate) fn test_service() -> (Service, Arc<crate::store::mem::MemStore>) {
    let mem = Arc::new(crate::store::mem::MemStore::new());
    let issuer = keys::generate();
    let log_key = keys::generate();
    let host = Host::parse("verify.example.com").unwrap();
    let origin = "verify.example.com/log".to_string();
    let signer = NoteSigner::new(&origin, log_key.clone()).unwrap();
    let mk = |kid: String, role: &str, k: &VerifyingKey, vkey| KeyInfo {
        kid,
        role: role.into(),
        algorithm: "Ed25519".into(),
        public_key: base64::engine::general_purpose::STANDARD.encode(k.as_bytes()),
        not_before: rfc3339(0),
        not_after: None,
        vkey,
    };
    let mut b = WriteBatch::new();
    b.put(Cf::Meta, META_LOG_ORIGIN, origin.as_bytes());
    let ii = mk(
        KeyId::of(&issuer.verifying_key()).to_string(),
        "issuer",
        &issuer.verifying_key(),
        None,
    );
    let li = mk(
        hex4(signer.key_id()),
        "log",
        &log_key.verifying_key(),
        Some(signer.vkey()),
    );
    b.put(Cf::Keys, ii.kid.as_bytes(), encode_json(&ii));
    b.put(Cf::Keys, li.kid.as_bytes(), encode_json(&li));
    mem.write(b, Durability::Synced).unwrap();
    let svc = Service::from_parts(
        mem.clone(),
        issuer,
        log_key,
        OpenOptions {
            host,
            scan_rules: ScanRules {
                warn_after_networks: 2,
                ..crate::config::ScanRules::default()
            },
            custody: Default::default(),
            labels: Default::default(),
            complaints: Default::default(),
            sessions: Default::default(),
        },
    )
    .unwrap();
    (svc, mem)
}

impl Service {
    /// Every registered issuer and log key.
    pub fn keys(&self) -> Result<super::setup::KeySet> {
        let keys = self
            .store
            .range(Cf::Keys, &[], None, usize::MAX)?
            .iter()
            .map(|(_, v)| Ok(decode_json::<KeyInfo>("key record", v)?))
            .collect::<Result<Vec<_>>>()?;
        Ok(super::setup::KeySet { keys })
    }
}
