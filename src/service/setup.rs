//! Creating and opening a data directory.
//!
//! ```text
//! DATA_DIR/
//!   traceseal.toml      configuration (written by init with every default, commented)
//!   admin.token         operator bearer token (0600)
//!   keys/issuer.pem     issuer key, PKCS#8 PEM (0600): signs item codes
//!   keys/issuer-<kid>.pem  each issuer key a rotation added (`traceseal keys rotate`)
//!   keys/log.pem        log key, PKCS#8 PEM (0600): signs checkpoints
//!   db/                 RocksDB
//! ```
//!
//! `init` refuses a directory holding any of these; `open` refuses a directory without them
//! (the server never creates critical state implicitly).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use ed25519_dalek::SigningKey;

use super::base::{now, Result, ServiceError, Stats, WriteLocks};
use super::custody::{Custody, CustodyDeps};
use super::errors::{KeyError, SetupError};
use super::grading::{Grading, GradingDeps};
use super::issuance::{Issuance, IssuanceParts};
use super::keyring::{put_key, Keyring, Rotation, ISSUER, LOG};
pub use super::keyring::{KeyInfo, KeySet};
use super::scan::{ScanDeps, Scans};
use super::{
    Accounts, ActorRegistry, AnchorBook, AuditTrail, Certificates, ConsumerServices, Engagements,
    LogBook, MasterData, Printing, Service, Telemetry,
};
use crate::checkpoint::NoteSigner;
use crate::code::{Host, KeyId};
use crate::config::{Config, ScanRules};
use crate::keys;
use crate::store::rocks::RocksStore;
use crate::store::schema::META_LOG_ORIGIN;
use crate::store::{Cf, Durability, Store, WriteBatch};

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
    /// The issuer key file `init` writes.
    pub fn issuer_key(&self) -> PathBuf {
        self.keys().join("issuer.pem")
    }
    /// The key file of an issuer key a rotation added.
    pub fn rotated_issuer_key(&self, kid: KeyId) -> PathBuf {
        self.keys().join(format!("issuer-{kid}.pem"))
    }
    /// Every issuer key file: `issuer.pem` and the `issuer-<kid>.pem` of rotations, by name.
    pub fn issuer_key_files(&self) -> std::io::Result<Vec<PathBuf>> {
        let mut files = Vec::new();
        for e in std::fs::read_dir(self.keys())? {
            let name = e?.file_name();
            let name = name.to_string_lossy();
            let rotated = name
                .strip_prefix("issuer-")
                .and_then(|r| r.strip_suffix(".pem"))
                .is_some_and(|k| KeyId::parse(k).is_ok());
            if name == "issuer.pem" || rotated {
                files.push(self.keys().join(name.as_ref()));
            }
        }
        files.sort();
        Ok(files)
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
        let toml = Config::init_toml(host.as_str());
        std::fs::write(dir.config(), toml).map_err(|e| io("the config", e))?;
    }

    let origin = format!("{}/log", host.as_str());
    let signer = NoteSigner::new(&origin, log_key.clone())
        .map_err(|e| ServiceError::Internal(format!("log key name {origin:?}: {e}")))?;
    let issuer_kid = KeyId::of(&issuer.verifying_key());
    let t = now().unix_timestamp();
    let issuer_info = KeyInfo::new(issuer_kid.to_string(), ISSUER, &issuer.verifying_key(), t);
    let mut log_info = KeyInfo::new(hex4(signer.key_id()), LOG, &log_key.verifying_key(), t);
    log_info.vkey = Some(signer.vkey());

    let store = RocksStore::create(&dir.db())?;
    let mut b = WriteBatch::new();
    b.put(Cf::Meta, META_LOG_ORIGIN, origin.as_bytes());
    put_key(&mut b, &issuer_info);
    put_key(&mut b, &log_info);
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
    /// The credit-risk model.
    pub credit_model: crate::grading::Model,
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
            // `Config::validate` checked the file; a file gone since falls back to the
            // model built in, with a warning.
            credit_model: cfg.credit.model().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "credit model; using the one built in");
                crate::grading::Model::default_model()
            }),
        }
    }
}

/// Opens an initialised data directory. Refuses one whose `keys/` holds an issuer key file the
/// store does not register (an interrupted `traceseal keys rotate`: run it again to finish it).
pub fn open(dir: &DataDir, opts: OpenOptions) -> Result<Service> {
    let (svc, pending) = open_with_pending(dir, opts)?;
    if !pending.is_empty() {
        return Err(KeyError::UnregisteredKeyFiles { files: pending }.into());
    }
    Ok(svc)
}

/// Opens an initialised data directory, also when `keys/` holds issuer key files the store
/// does not register; returns them (what `traceseal keys rotate` finishes).
pub fn open_with_pending(dir: &DataDir, opts: OpenOptions) -> Result<(Service, Vec<PathBuf>)> {
    if !dir.db().exists() {
        return Err(SetupError::NotInitialised {
            dir: dir.root().to_path_buf(),
        }
        .into());
    }
    let kerr = |e: keys::KeyFileError| ServiceError::Internal(e.to_string());
    let files = dir
        .issuer_key_files()
        .map_err(|e| ServiceError::internal(format!("{}: {e}", dir.keys().display())))?;
    let issuer_keys = files
        .iter()
        .map(|f| keys::read_private_pem(f).map_err(kerr))
        .collect::<Result<Vec<SigningKey>>>()?;
    let log_key = keys::read_private_pem(&dir.log_key()).map_err(kerr)?;
    let store: Arc<dyn Store> = Arc::new(RocksStore::open(&dir.db())?);
    let svc = Service::from_parts(store, issuer_keys.clone(), log_key, opts)?;
    // A data directory from before the print history index: its jobs are indexed once.
    let indexed = svc.printing.index_history()?;
    if indexed > 0 {
        tracing::info!(jobs = indexed, "indexed earlier print jobs by batch");
    }
    let pending = svc.keyring.pending()?;
    let files = files
        .into_iter()
        .zip(issuer_keys)
        .filter(|(_, k)| pending.contains(k))
        .map(|(f, _)| f)
        .collect();
    Ok((svc, files))
}

impl Service {
    /// Assembles a service over an initialised store (used by [`open`] and by tests with a
    /// [`crate::store::mem::MemStore`]) with the private keys of the issuer key files: checks
    /// that the current issuer key and the log key match the store's key registry, rebuilds
    /// the log frontier and signs the first checkpoint of an empty log.
    pub fn from_parts(
        store: Arc<dyn Store>,
        issuer_keys: Vec<SigningKey>,
        log_key: SigningKey,
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
        let svc = Service::compose(store, signer, issuer_keys, opts)?;
        if !svc.keyring.is_log_key(&log_pub)? {
            return Err(ServiceError::Internal(
                "the log key file does not match the store's registered log key".into(),
            ));
        }
        svc.issuance.index_lot_batches()?;
        svc.engagements.index_by_actor()?;
        svc.consumer.index_upheld()?;
        svc.custody.load_nonces()?;
        svc.log.checkpoint_now()?;
        Ok(svc)
    }

    /// Builds the units over `store`, each with the units it reads.
    fn compose(
        store: Arc<dyn Store>,
        signer: NoteSigner,
        issuer_keys: Vec<SigningKey>,
        opts: OpenOptions,
    ) -> Result<Service> {
        let stats = Arc::new(Stats::default());
        let locks = Arc::new(WriteLocks::default());
        let st = || store.clone();
        let log = Arc::new(LogBook::open(st(), stats.clone(), signer)?);
        let keyring = Arc::new(Keyring::open(
            st(),
            locks.clone(),
            log.clone(),
            issuer_keys,
        )?);
        let parts = IssuanceParts {
            host: opts.host.clone(),
            keyring: keyring.clone(),
        };
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
        Ok(Service::compose_readers(
            store, stats, locks, keyring, core, opts,
        ))
    }

    /// Builds custody and the units that read across the others (scans, printing) over the
    /// `core` units.
    fn compose_readers(
        store: Arc<dyn Store>,
        stats: Arc<Stats>,
        locks: Arc<WriteLocks>,
        keyring: Arc<Keyring>,
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
        let certificates = Arc::new(Certificates::new(st(), log.clone()));
        let printing = Arc::new(Printing::new(
            st(),
            locks,
            log.clone(),
            master.clone(),
            issuance.clone(),
            opts.labels.font,
        ));
        let deps = grading_deps(&core, &custody, &telemetry, &consumer, &printing);
        let grading = supervising(Grading::new(st(), deps, opts.credit_model.clone()));
        let readers = (custody.clone(), telemetry.clone(), consumer.clone());
        let deps = scan_deps(&core, readers, certificates.clone(), grading.clone());
        let scans = Arc::new(Scans::new(stats.clone(), deps));
        Service {
            anchors: Arc::new(AnchorBook::new(st())),
            grading,
            accounts: Arc::new(Accounts::new(
                st(),
                master.clone(),
                log.clone(),
                opts.sessions,
            )),
            audit: Arc::new(AuditTrail::new(st())),
            certificates,
            keyring,
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

/// The grading unit, made custody's supervisor (which lots need a sampling inspection).
fn supervising(grading: Grading) -> Arc<Grading> {
    let grading = Arc::new(grading);
    let weak: std::sync::Weak<Grading> = Arc::downgrade(&grading);
    grading.custody().set_supervisor(weak);
    grading
}

/// What grades read: the log, enterprises, and the units whose records move a grade.
fn grading_deps(
    core: &CustodyDeps,
    custody: &Arc<Custody>,
    telemetry: &Arc<super::Telemetry>,
    consumer: &Arc<ConsumerServices>,
    printing: &Arc<Printing>,
) -> GradingDeps {
    GradingDeps {
        log: core.log.clone(),
        master: core.master.clone(),
        custody: custody.clone(),
        telemetry: telemetry.clone(),
        consumer: consumer.clone(),
        printing: printing.clone(),
    }
}

/// What scans read: the core units and the readers built over them.
fn scan_deps(
    core: &CustodyDeps,
    (custody, telemetry, consumer): (Arc<Custody>, Arc<super::Telemetry>, Arc<ConsumerServices>),
    certificates: Arc<Certificates>,
    grading: Arc<Grading>,
) -> ScanDeps {
    ScanDeps {
        log: core.log.clone(),
        master: core.master.clone(),
        issuance: core.issuance.clone(),
        registry: core.registry.clone(),
        custody,
        telemetry,
        consumer,
        certificates,
        grading,
    }
}

/// Creates an in-memory service for unit tests: a [`crate::store::mem::MemStore`] holding
/// what `init` would write.
#[cfg(test)]
pub(crate) fn test_service() -> (Service, Arc<crate::store::mem::MemStore>) {
    test_service_with(Default::default())
}

/// [`test_service`] with custody rules of the test's own.
#[cfg(test)]
pub(crate) fn test_service_with(
    custody: crate::config::CustodyRules,
) -> (Service, Arc<crate::store::mem::MemStore>) {
    let mem = Arc::new(crate::store::mem::MemStore::new());
    let issuer = keys::generate();
    let log_key = keys::generate();
    let host = Host::parse("verify.example.com").unwrap();
    let origin = "verify.example.com/log".to_string();
    let signer = NoteSigner::new(&origin, log_key.clone()).unwrap();
    let mut b = WriteBatch::new();
    b.put(Cf::Meta, META_LOG_ORIGIN, origin.as_bytes());
    let ii = KeyInfo::new(
        KeyId::of(&issuer.verifying_key()).to_string(),
        ISSUER,
        &issuer.verifying_key(),
        0,
    );
    let mut li = KeyInfo::new(hex4(signer.key_id()), LOG, &log_key.verifying_key(), 0);
    li.vkey = Some(signer.vkey());
    put_key(&mut b, &ii);
    put_key(&mut b, &li);
    mem.write(b, Durability::Synced).unwrap();
    let svc = Service::from_parts(
        mem.clone(),
        vec![issuer],
        log_key,
        OpenOptions {
            host,
            scan_rules: ScanRules {
                warn_after_networks: 2,
                ..crate::config::ScanRules::default()
            },
            custody,
            labels: Default::default(),
            complaints: Default::default(),
            sessions: Default::default(),
            credit_model: crate::grading::Model::default_model(),
        },
    )
    .unwrap();
    (svc, mem)
}

impl Service {
    /// Every registered issuer and log key, with their validity and revocation.
    pub fn keys(&self) -> Result<KeySet> {
        self.keyring.key_set()
    }

    /// Rotates the issuer key of data directory `dir` (`traceseal keys rotate`, the service
    /// stopped): a new key is written to `keys/issuer-<kid>.pem` (0600, file and directory
    /// synced) **before** the store registers it in one synced write with its log records, so
    /// a crash leaves either nothing registered and a pending key file, or both. A pending key
    /// file (from such a crash) is registered instead of making a new key; more than one is
    /// refused. Returns the rotation and the new key's file; signs a checkpoint covering it.
    pub fn rotate_issuer_key(&self, dir: &DataDir) -> Result<(Rotation, PathBuf)> {
        let kerr = |e: keys::KeyFileError| ServiceError::Internal(e.to_string());
        let pending = self.keyring.pending()?;
        let (key, path) = match pending.as_slice() {
            [] => {
                let taken = self.keys()?.keys;
                let key = std::iter::repeat_with(keys::generate)
                    .find(|k| {
                        let kid = KeyId::of(&k.verifying_key()).to_string();
                        !taken.iter().any(|t| t.kid == kid)
                    })
                    .ok_or_else(|| ServiceError::internal("no fresh key id"))?;
                let path = dir.rotated_issuer_key(KeyId::of(&key.verifying_key()));
                keys::write_private_pem(&path, &key).map_err(kerr)?;
                keys::sync_dir(&dir.keys()).map_err(kerr)?;
                (key, path)
            }
            [key] => (key.clone(), pending_file(dir, key)?),
            _ => {
                let files = pending
                    .iter()
                    .map(|k| pending_file(dir, k))
                    .collect::<Result<Vec<_>>>()?;
                return Err(KeyError::UnregisteredKeyFiles { files }.into());
            }
        };
        let rotation = self.keyring.rotate(key)?;
        self.log.checkpoint_now()?;
        Ok((rotation, path))
    }
}

/// The key file in `dir` that holds `key`.
fn pending_file(dir: &DataDir, key: &SigningKey) -> Result<PathBuf> {
    let files = dir
        .issuer_key_files()
        .map_err(|e| ServiceError::internal(format!("{}: {e}", dir.keys().display())))?;
    files
        .into_iter()
        .find(|f| keys::read_private_pem(f).is_ok_and(|k| &k == key))
        .ok_or_else(|| ServiceError::internal("the pending key file is gone"))
}

#[cfg(test)]
mod tests {
    //! Key files of a real data directory across a rotation and its crash cases.

    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn opts() -> OpenOptions {
        OpenOptions::defaults(Host::parse("verify.example.com").unwrap())
    }

    fn new_dir() -> (tempfile::TempDir, DataDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = DataDir::new(tmp.path().join("d"));
        init(&dir, &Host::parse("verify.example.com").unwrap()).unwrap();
        (tmp, dir)
    }

    #[test]
    fn a_rotation_writes_the_new_key_file_0600_and_reopens_with_both_keys() {
        let (_tmp, dir) = new_dir();
        let svc = open(&dir, opts()).unwrap();
        let k1 = svc.keyring().current().unwrap().kid;
        let (r, path) = svc.rotate_issuer_key(&dir).unwrap();
        drop(svc);
        let k2 = KeyId::parse(&r.added.kid).unwrap();
        assert_eq!(path, dir.rotated_issuer_key(k2));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut want = vec![dir.issuer_key(), path.clone()];
        want.sort();
        assert_eq!(dir.issuer_key_files().unwrap(), want);
        let svc = open(&dir, opts()).unwrap();
        assert_eq!(svc.keyring().current().unwrap().kid, k2);
        assert!(
            svc.keyring().signer(k1).unwrap().is_some(),
            "the retired key resumes its batches"
        );
        let cp = svc.log().latest_checkpoint().unwrap().unwrap();
        assert_eq!(cp.size, 2, "the rotation's records are checkpointed");
        drop(svc);
        // The current key's file gone: refused, with what to do.
        std::fs::rename(&path, dir.root().join("aside.pem")).unwrap();
        let e = open(&dir, opts()).err().unwrap();
        assert_eq!(e.code(), "keys.current_key_file_missing", "{e}");
        assert!(e.to_string().contains(&format!("issuer-{k2}.pem")), "{e}");
    }

    #[test]
    fn a_rotation_interrupted_after_writing_its_key_file_is_refused_at_open_and_finished_by_rotating(
    ) {
        let (_tmp, dir) = new_dir();
        // What a crash between the key file's write and the store's write leaves.
        let key = keys::generate();
        let kid = KeyId::of(&key.verifying_key());
        let file = dir.rotated_issuer_key(kid);
        keys::write_private_pem(&file, &key).unwrap();
        let e = open(&dir, opts()).err().unwrap();
        assert_eq!(e.code(), "keys.unregistered_key_files");
        let msg = e.to_string();
        assert!(
            msg.contains(&file.display().to_string()) && msg.contains("keys rotate"),
            "{msg}"
        );
        let (svc, pending) = open_with_pending(&dir, opts()).unwrap();
        assert_eq!(pending, vec![file.clone()]);
        assert_eq!(svc.log().log_size().unwrap(), 0, "nothing was registered");
        let (r, path) = svc.rotate_issuer_key(&dir).unwrap();
        assert_eq!((r.added.kid, path), (kid.to_string(), file));
        drop(svc);
        let svc = open(&dir, opts()).unwrap();
        assert_eq!(svc.keyring().current().unwrap().kid, kid);
        drop(svc);
        // Two stray key files: rotating refuses to choose.
        for _ in 0..2 {
            let k = keys::generate();
            keys::write_private_pem(&dir.rotated_issuer_key(KeyId::of(&k.verifying_key())), &k)
                .unwrap();
        }
        let (svc, pending) = open_with_pending(&dir, opts()).unwrap();
        assert_eq!(pending.len(), 2);
        let e = svc.rotate_issuer_key(&dir).unwrap_err();
        assert_eq!(e.code(), "keys.unregistered_key_files");
        assert_eq!(svc.log().log_size().unwrap(), 2, "nothing more was logged");
    }
}
