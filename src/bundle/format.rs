//! The bundle format: the document's types, its limits, and the error of each check.

use serde::{Deserialize, Serialize};

use crate::anchor::{Address, AnchorStatus, Word};
use crate::merkle::Hash;

/// The `format` value of this version.
pub const FORMAT: &str = "traceseal-bundle/v2";
/// Most records a bundle may hold (decoder limit).
pub const MAX_RECORDS: usize = 10_000;
/// Most hashes in one proof (a tree of 2^64 leaves needs 64).
pub const MAX_PROOF_LEN: usize = 64;
/// Largest bundle file the CLI reads.
pub const MAX_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// A proof bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// The item's signed code URI.
    pub code: String,
    /// Every log record about the item, each with its inclusion proof against `checkpoint`.
    pub records: Vec<BundleRecord>,
    /// The signed checkpoint note the proofs are against (the anchored one when there is one).
    pub checkpoint: String,
    /// A newer signed checkpoint, when the log has grown past `checkpoint`.
    pub latest_checkpoint: Option<String>,
    /// RFC 9162 consistency proof from `checkpoint` to `latest_checkpoint` (base64 hashes).
    pub consistency_proof: Vec<String>,
    /// Where `checkpoint` is anchored; `None` when the service does not anchor.
    pub anchor: Option<BundleAnchor>,
    /// The public keys needed to check everything.
    pub keys: BundleKeys,
}

/// One log record about the item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleRecord {
    /// Record kind (`item`: the issuance record).
    pub kind: String,
    /// Leaf index.
    pub leaf_index: u64,
    /// Base64 leaf bytes.
    pub leaf_data: String,
    /// RFC 9162 inclusion proof (base64 hashes) against `checkpoint`, or, when `tree_size`
    /// is set, against `latest_checkpoint` (a record newer than the anchored checkpoint).
    pub inclusion_proof: Vec<String>,
    /// Set (to the latest checkpoint's size) when the proof is against `latest_checkpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
}

/// The anchor of the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleAnchor {
    /// Anchoring state when the bundle was made.
    pub status: AnchorStatus,
    /// EVM chain id.
    pub chain_id: u64,
    /// Registry contract (`0x`).
    pub contract: String,
    /// SHA-256 of the log origin (`0x`).
    pub log_id: String,
    /// Anchored tree size (equals the checkpoint's when on chain).
    pub tree_size: Option<u64>,
    /// Anchored root (`0x`).
    pub root: Option<String>,
    /// SHA-256 of the checkpoint note (`0x`).
    pub checkpoint_hash: Option<String>,
    /// Anchor transaction (`0x`).
    pub tx_hash: Option<String>,
    /// Its block.
    pub block_number: Option<u64>,
    /// Its block hash (`0x`).
    pub block_hash: Option<String>,
    /// Its block time (Unix seconds).
    pub block_timestamp: Option<u64>,
}

/// Public keys in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleKeys {
    /// Issuer keys (code signatures).
    pub issuers: Vec<BundleIssuerKey>,
    /// The log's C2SP note verifier key (checkpoint signatures).
    pub log_vkey: String,
}

/// One issuer key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleIssuerKey {
    /// Key id (8 hex).
    pub kid: String,
    /// Base64 raw Ed25519 public key.
    pub public_key: String,
}

/// A failed check: which one (the variant) and exactly why (its text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    /// The `anchor` check.
    #[error("anchor: {0}")]
    Anchor(String),
    /// The `checkpoint` check.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The `code` check.
    #[error("code: {0}")]
    Code(String),
    /// The `consistency` check.
    #[error("consistency: {0}")]
    Consistency(String),
    /// The `custody` check.
    #[error("custody: {0}")]
    Custody(String),
    /// The `format` check.
    #[error("format: {0}")]
    Format(String),
    /// The `inclusion` check.
    #[error("inclusion: {0}")]
    Inclusion(String),
    /// The `issuer_key_revoked` check: the code's issuer key is revoked from a time at or
    /// before the item's issuance (`crate::issuer`).
    #[error("issuer_key_revoked: {0}")]
    IssuerKeyRevoked(String),
    /// The `keys` check.
    #[error("keys: {0}")]
    Keys(String),
    /// The `latest_checkpoint` check.
    #[error("latest_checkpoint: {0}")]
    LatestCheckpoint(String),
    /// The `records` check.
    #[error("records: {0}")]
    Records(String),
}

impl BundleError {
    /// The check's stable name (`inclusion`, `custody`, …).
    pub fn check(&self) -> &'static str {
        match self {
            BundleError::Anchor(_) => "anchor",
            BundleError::Checkpoint(_) => "checkpoint",
            BundleError::Code(_) => "code",
            BundleError::Consistency(_) => "consistency",
            BundleError::Custody(_) => "custody",
            BundleError::Format(_) => "format",
            BundleError::Inclusion(_) => "inclusion",
            BundleError::IssuerKeyRevoked(_) => "issuer_key_revoked",
            BundleError::Keys(_) => "keys",
            BundleError::LatestCheckpoint(_) => "latest_checkpoint",
            BundleError::Records(_) => "records",
        }
    }

    /// What was wrong.
    pub fn detail(&self) -> &str {
        match self {
            BundleError::Anchor(d)
            | BundleError::Checkpoint(d)
            | BundleError::Code(d)
            | BundleError::Consistency(d)
            | BundleError::Custody(d)
            | BundleError::Format(d)
            | BundleError::Inclusion(d)
            | BundleError::IssuerKeyRevoked(d)
            | BundleError::Keys(d)
            | BundleError::LatestCheckpoint(d)
            | BundleError::Records(d) => d,
        }
    }
}

/// A check that can fail: the variant of [`BundleError`] it reports with.
pub(super) type Check = fn(String) -> BundleError;

pub(super) fn fail<T>(check: Check, detail: impl Into<String>) -> Result<T, BundleError> {
    Err(check(detail.into()))
}

/// What a verified bundle proves, and what remains to compare against the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// GTIN-14 of the item.
    pub gtin: String,
    /// Serial.
    pub serial: String,
    /// Issuer key id.
    pub kid: String,
    /// The item's issue time (Unix seconds), from its issuance record.
    pub issued_at: i64,
    /// The revocation of the issuer key the bundle's records show, if any (the item was issued
    /// before it, or the bundle would not verify).
    pub key_revocation: Option<crate::issuer::Revocation>,
    /// Log origin.
    pub origin: String,
    /// Size of the checkpoint the proofs are against.
    pub tree_size: u64,
    /// Its root.
    pub root: Word,
    /// Size of the latest checkpoint, if the bundle has one.
    pub latest_size: Option<u64>,
    /// (leaf index, leaf hash, proof) of each record proven against the checkpoint (the
    /// anchored one when the bundle has an anchor).
    pub records: Vec<(u64, Word, Vec<Word>)>,
    /// Records proven only against the latest checkpoint (newer than the anchored one).
    pub newer_records: usize,
    /// The anchor claim when the bundle says the checkpoint is on chain.
    pub anchor: Option<AnchorClaim>,
    /// The bundle's anchoring state (`None`: the service does not anchor).
    pub anchor_status: Option<AnchorStatus>,
    /// Custody records checked (signature, signer's logged key and role, lot, hash links).
    pub custody_records: usize,
    /// Custody records whose signing key was revoked or rotated out at or before the time
    /// of the signature (a later revocation, e.g. back-dated to a key compromise): their
    /// integrity holds, but they may not be genuine.
    pub custody_warnings: Vec<String>,
}

/// What must hold on chain for the bundle's anchor claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorClaim {
    /// Chain id.
    pub chain_id: u64,
    /// Contract.
    pub contract: Address,
    /// Log id.
    pub log_id: Word,
    /// Tree size.
    pub tree_size: u64,
    /// Root.
    pub root: Word,
    /// Checkpoint hash.
    pub checkpoint_hash: Word,
    /// Transaction, if known.
    pub tx_hash: Option<Word>,
    /// Block, if known.
    pub block_number: Option<u64>,
}

pub(super) fn b64_hash(check: Check, s: &str) -> Result<Hash, BundleError> {
    Hash::from_base64(s).or_else(|e| fail(check, format!("bad hash {s:?}: {e}")))
}

pub(super) fn proof(check: Check, p: &[String]) -> Result<Vec<Hash>, BundleError> {
    if p.len() > MAX_PROOF_LEN {
        return fail(
            check,
            format!(
                "proof has {} hashes, at most {MAX_PROOF_LEN} allowed",
                p.len()
            ),
        );
    }
    p.iter().map(|h| b64_hash(check, h)).collect()
}
