//! The service layer: use cases over the store, the keys and the pure core.
//!
//! One unit per concern, each with its own state, sharing the store handle and each other's
//! public API (never each other's fields). [`Service`] composes them; its accessors name them.
//!
//! | unit | module | owns |
//! |---|---|---|
//! | [`LogBook`] | [`log`] | the Merkle log, proofs, checkpoints |
//! | [`MasterData`] | [`master`] | enterprises, products, product ownership records |
//! | [`ActorRegistry`] | [`registry`] | custody actors and their keys |
//! | [`Engagements`] | [`engagements`] | which actor works for which enterprise, when |
//! | [`keyring::Keyring`] | [`keyring`] | issuer keys: the current one, rotations, revocations |
//! | [`Issuance`] | [`issuance`], [`items`] | batches of signed codes, issued items |
//! | [`Custody`] | [`custody`] | submissions, lot states, recalls, views, EPCIS |
//! | [`Telemetry`] | [`telemetry`] | scan records, clone warnings, forged-code attempts |
//! | [`ConsumerServices`] | [`complaints`], [`credit`] | complaints, credit profiles |
//! | [`Scans`] | [`scan`] | the verdict for a scanned code |
//! | [`Printing`] | [`printing`] | print jobs and reprints |
//! | [`AnchorBook`] | [`anchoring`] | anchor records (the worker: [`anchoring::Anchorer`]) |
//! | [`Accounts`] | [`accounts`] | API tokens, users, sessions |
//! | [`AuditTrail`] | [`audit`] | the audit trail of authenticated writes |
//! | [`Certificates`] | [`certificates`] | published certificate files (content-addressed) |
//!
//! Use cases that span units are [`Service`]'s own: [`setup`] (`init`, `open`), [`bundle`]
//! (a proof bundle), [`demo`], and the async [`verify::Verifier`] (a scan with its anchor).
//! The units and what they share (errors, counters, the write locks) are built in
//! [`setup`]; [`base`] holds what every unit imports.
//!
//! Every method here is blocking (RocksDB, CPU-heavy signing); the HTTP edge calls them through
//! `spawn_blocking`.

pub mod accounts;
pub mod anchoring;
pub mod audit;
pub mod base;
pub mod bundle;
pub mod cache;
pub mod certificates;
pub mod complaints;
pub mod custody;
pub mod demo;
pub mod engagements;
pub mod errors;
pub mod grading;
pub mod issuance;
pub mod keyring;
pub mod log;
pub mod master;
pub mod merchant;
pub mod ownership;
pub mod printing;
pub mod registry;
pub mod report;
pub mod scan;
pub mod setup;
pub mod telemetry;
pub mod verdict;
pub mod verify;

use std::sync::Arc;

use crate::code::Host;
use crate::store::Store;

pub use self::accounts::Accounts;
pub use self::anchoring::AnchorBook;
pub use self::audit::AuditTrail;
pub use self::base::{now_unix, Result, Stats, WriteLocks};
pub use self::certificates::Certificates;
pub use self::complaints::credit;
pub use self::complaints::ConsumerServices;
pub use self::custody::Custody;
pub use self::engagements::Engagements;
pub use self::errors::{ErrorKind, ServiceError};
pub use self::grading::Grading;
pub use self::issuance::items;
pub use self::issuance::Issuance;
pub use self::keyring::Issuer;
pub use self::log::{LogBook, SignedCheckpoint};
pub use self::master::MasterData;
pub use self::printing::Printing;
pub use self::registry::ActorRegistry;
pub use self::scan::Scans;
pub use self::telemetry::Telemetry;

pub(crate) use self::base::{lock, now, rfc3339};

/// The traceseal service: one per data directory, the units composed.
pub struct Service {
    store: Arc<dyn Store>,
    stats: Arc<Stats>,
    log: Arc<LogBook>,
    master: Arc<MasterData>,
    registry: Arc<ActorRegistry>,
    engagements: Arc<Engagements>,
    issuance: Arc<Issuance>,
    custody: Arc<Custody>,
    telemetry: Arc<Telemetry>,
    consumer: Arc<ConsumerServices>,
    scans: Arc<Scans>,
    printing: Arc<Printing>,
    anchors: Arc<AnchorBook>,
    accounts: Arc<Accounts>,
    audit: Arc<AuditTrail>,
    certificates: Arc<Certificates>,
    grading: Arc<Grading>,
    keyring: Arc<keyring::Keyring>,
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
        self.issuance.host()
    }

    /// The log's origin line (also the checkpoint key name).
    pub fn origin(&self) -> &str {
        self.log.origin()
    }

    /// The Merkle log and its checkpoints.
    pub fn log(&self) -> &Arc<LogBook> {
        &self.log
    }

    /// Enterprises and products.
    pub fn master(&self) -> &Arc<MasterData> {
        &self.master
    }

    /// Custody actors and their keys.
    pub fn registry(&self) -> &Arc<ActorRegistry> {
        &self.registry
    }

    /// Engagements of actors by enterprises.
    pub fn engagements(&self) -> &Arc<Engagements> {
        &self.engagements
    }

    /// Batches of signed codes and issued items.
    pub fn issuance(&self) -> &Arc<Issuance> {
        &self.issuance
    }

    /// Custody submissions, lot states, recalls and views.
    pub fn custody(&self) -> &Arc<Custody> {
        &self.custody
    }

    /// Scan records and the clone warning.
    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.telemetry
    }

    /// Complaints and credit profiles.
    pub fn consumer(&self) -> &Arc<ConsumerServices> {
        &self.consumer
    }

    /// Verdicts for scanned codes.
    pub fn scans(&self) -> &Arc<Scans> {
        &self.scans
    }

    /// Print jobs.
    pub fn printing(&self) -> &Arc<Printing> {
        &self.printing
    }

    /// Anchor records.
    pub fn anchors(&self) -> &Arc<AnchorBook> {
        &self.anchors
    }

    /// Principals and their API tokens.
    pub fn accounts(&self) -> &Arc<Accounts> {
        &self.accounts
    }

    /// The audit trail of authenticated writes.
    pub fn audit(&self) -> &Arc<AuditTrail> {
        &self.audit
    }

    /// Published certificate files.
    pub fn certificates(&self) -> &Arc<Certificates> {
        &self.certificates
    }

    /// Credit-risk grades.
    pub fn grading(&self) -> &Arc<Grading> {
        &self.grading
    }

    /// Issuer keys: which signs new batches, which verify codes, rotations and revocations.
    pub fn keyring(&self) -> &Arc<keyring::Keyring> {
        &self.keyring
    }
}
