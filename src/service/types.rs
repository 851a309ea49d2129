//! The service's records and API views (serde; `utoipa` schemas for the OpenAPI document).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A registered enterprise (importer or brand owner).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Enterprise {
    /// Assigned id.
    pub id: u64,
    /// Legal name.
    pub name: String,
    /// 18-character unified social credit code (GB 32100-2015).
    pub uscc: String,
    /// ISO 3166-1 alpha-2 country of registration.
    pub country: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last update.
    pub updated_at: String,
}

/// Body of `POST /api/v1/enterprises` and `PUT /api/v1/enterprises/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseInput {
    /// Legal name, 1–200 characters.
    pub name: String,
    /// Unified social credit code; its check character is validated.
    pub uscc: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `CN`, `AU`.
    pub country: String,
}

/// A registered product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    /// GTIN-14.
    pub gtin: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// The owning enterprise.
    pub enterprise_id: u64,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last update.
    pub updated_at: String,
}

/// Body of `POST /api/v1/products` and `PUT /api/v1/products/{gtin}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// GTIN-8/12/13/14 with a valid check digit (stored as GTIN-14).
    pub gtin: String,
    /// Chinese name, 1–200 characters.
    pub name_zh: String,
    /// English name, 1–200 characters.
    pub name_en: String,
    /// Id of a registered enterprise.
    pub enterprise_id: u64,
}

/// Body of `POST /api/v1/batches`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// GTIN of a registered product.
    pub gtin: String,
    /// Lot (GS1 AI 10): 1–20 characters of `[A-Za-z0-9._-]`.
    pub lot: String,
    /// Expiry date `YYYY-MM-DD` (GS1 AI 17), optional.
    #[serde(default)]
    pub expiry: Option<String>,
    /// Number of codes, 1..=1,000,000.
    pub quantity: u64,
}

/// State of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Codes are being written; none of them scans genuine yet.
    Issuing,
    /// Every code is durable and in the log; the batch scans genuine.
    Complete,
}

/// A batch of issued codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Batch {
    /// Assigned id.
    pub id: u64,
    /// GTIN-14.
    pub gtin: String,
    /// Lot.
    pub lot: String,
    /// Expiry `YYYY-MM-DD`, if any.
    pub expiry: Option<String>,
    /// Codes requested.
    pub quantity: u64,
    /// Codes durably issued so far.
    pub issued: u64,
    /// `issuing` or `complete`.
    pub status: BatchStatus,
    /// Key id of the issuer key that signs the batch.
    pub kid: String,
    /// RFC 3339 creation time (the items' issue time).
    pub created_at: String,
    /// RFC 3339 completion time.
    pub completed_at: Option<String>,
    /// The batch's leaves in the log as `[first_index, count]` runs, in issue order.
    pub segments: Vec<[u64; 2]>,
}

/// Response of `POST /api/v1/batches`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchCreated {
    /// The batch id.
    pub batch_id: u64,
    /// Codes issued.
    pub count: u64,
}

/// One line of `GET /api/v1/batches/{id}/codes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CodeLine {
    /// The item serial (GS1 AI 21).
    pub serial: String,
    /// The signed code URI to print.
    pub code: String,
}

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

/// The four possible scan answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictKind {
    /// Signed by our issuer, issued, nothing suspicious.
    Genuine,
    /// Genuine, but the scan history is suspicious (see reasons).
    GenuineWithWarning,
    /// Not a code we issued, or no longer valid (see reasons).
    NotGenuine,
    /// We cannot answer now (our fault, e.g. storage unavailable). Never means fake.
    CannotVerifyNow,
}

/// One reason behind a verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Reason {
    /// Stable machine-readable code, e.g. `bad_signature`, `scanned_widely`.
    pub code: String,
    /// Human-readable explanation (English).
    pub message: String,
}

/// Identity of the scanned item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ItemView {
    /// GTIN-14.
    pub gtin: String,
    /// Lot.
    pub lot: String,
    /// Serial.
    pub serial: String,
    /// Expiry `YYYY-MM-DD`, if any.
    pub expiry: Option<String>,
}

/// The product of the scanned item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProductView {
    /// GTIN-14.
    pub gtin: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// The owning enterprise, if it still exists.
    pub enterprise: Option<Enterprise>,
    /// The enterprise's credit profile (rating, disclosures, dishonesty listing), once the
    /// operator has written one.
    pub credit: Option<super::credit::CreditProfile>,
}

/// Scan history of the code, including this scan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScanSummary {
    /// Distinct client networks (IPv4 /24, IPv6 /48) that scanned the code within the
    /// window, this scan's included.
    pub networks: u64,
    /// RFC 3339: since when (the earliest of those networks' first scans in the window).
    pub since: String,
    /// The window, in days.
    pub window_days: u32,
    /// Scans counted within the window (each network once per `scan.repeat_secs`).
    pub scans: u64,
    /// RFC 3339 time of the first scan ever counted.
    pub first_scan_at: String,
}

/// Where the item sits in the log, with a proof against a signed checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LogView {
    /// Index of the item's leaf.
    pub leaf_index: u64,
    /// Size of the checkpoint the proof is against.
    pub tree_size: u64,
    /// RFC 9162 inclusion proof, base64 hashes.
    pub inclusion_proof: Vec<String>,
    /// The signed checkpoint note text.
    pub checkpoint: String,
    /// Base64 of the leaf data (so the proof can be checked from this answer alone).
    pub leaf_data: String,
}

/// The answer to a scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Verdict {
    /// The verdict.
    pub verdict: VerdictKind,
    /// Id of this scan (32 hex): quote it to report a problem (`POST /api/v1/complaints`).
    /// Absent when the scan could not be recorded.
    pub scan_id: Option<String>,
    /// Why (empty for a plain genuine answer).
    pub reasons: Vec<Reason>,
    /// The item as read from the code (absent when the code could not be read).
    pub item: Option<ItemView>,
    /// The product, when the item is known.
    pub product: Option<ProductView>,
    /// Issuer key id from the code.
    pub issuer_kid: Option<String>,
    /// RFC 3339 issue time, when the item is known.
    pub issued_at: Option<String>,
    /// Scan history, when the item is known.
    pub scans: Option<ScanSummary>,
    /// Log position and proof; absent until the leaf is in a signed checkpoint.
    pub log: Option<LogView>,
    /// Where the item's checkpoint is anchored on chain; absent when the service does not
    /// anchor or the leaf is in no checkpoint yet. `anchored` and later are live-checked.
    pub anchor: Option<super::anchor::AnchorView>,
    /// The item's custody chain (origin attestation, shipping, customs, warehouse, sale);
    /// absent when nothing was recorded for its lot.
    pub custody: Option<CustodyView>,
}

/// The custody chain of a scanned item.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustodyView {
    /// The lot, `{gtin14}.{lot}`.
    pub lot: String,
    /// How far the lot has come: `new`, `attested`, `shipped`, `departed`, `arrived`,
    /// `declared`, `cleared`, `received`.
    pub stage: String,
    /// `conformant` or `non_conformant`, once attested.
    pub attestation: Option<String>,
    /// Active holds (`customs`, `quality`).
    pub holds: Vec<String>,
    /// The recall reason, if recalled.
    pub recalled: Option<String>,
    /// Released from the bonded warehouse (the lot or this item).
    pub released: bool,
    /// Sold or picked up (the lot or this item).
    pub sold: bool,
    /// The lot-wide records and this item's records, in log order, each with its inclusion
    /// proof against the checkpoint of `log.tree_size` (absent until a checkpoint covers it).
    pub records: Vec<CustodyRecordView>,
}

/// One record of an item's chain with its proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CustodyRecordView {
    /// The record: signer, role, organisation, time, place, hash, data.
    pub record: super::custody::RecordView,
    /// RFC 9162 inclusion proof (base64 hashes) against the verdict's checkpoint.
    pub inclusion_proof: Option<Vec<String>>,
    /// Base64 of the leaf data (checkable against `record_hash` and the proof).
    pub leaf_data: String,
}

/// Response of `GET /api/v1/log/leaves/{index}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LeafView {
    /// Leaf index.
    pub index: u64,
    /// Base64 leaf data.
    pub data: String,
}

/// Response of `GET /api/v1/log/proof/inclusion`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct InclusionProofView {
    /// Leaf index.
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// Base64 hashes.
    pub proof: Vec<String>,
}

/// Response of `GET /api/v1/log/proof/consistency`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProofView {
    /// Older tree size.
    pub from: u64,
    /// Newer tree size.
    pub to: u64,
    /// Base64 hashes.
    pub proof: Vec<String>,
}
