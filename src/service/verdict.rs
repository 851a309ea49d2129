//! The answer to a scan, as consumers' phones, the scan page and verifiers read it: the verdict,
//! its reasons, the item and product, the log position with its proof, the anchor and the
//! custody chain. Data only; [`super::scan`] assembles it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::anchoring::AnchorView;
use super::credit::CreditProfile;
use super::custody::RecordView;
use super::grading::GradeSummary;
use super::master::Enterprise;
use super::telemetry::{ScanSummary, VerdictKind};
use crate::code::Code;

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
    pub credit: Option<CreditProfile>,
    /// The enterprise's credit-risk grade (`docs/credit-model.md`), once graded.
    #[serde(default)]
    pub grade: Option<GradeSummary>,
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
    pub anchor: Option<AnchorView>,
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
    pub record: RecordView,
    /// RFC 9162 inclusion proof (base64 hashes) against the verdict's checkpoint.
    pub inclusion_proof: Option<Vec<String>>,
    /// Base64 of the leaf data (checkable against `record_hash` and the proof).
    pub leaf_data: String,
    /// The SHA-256 (hex) of each of the record's documents that its signer published, fetchable
    /// at `/certificates/{sha256}` (origin attestations only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
}

pub(crate) fn reason(code: &str, message: impl Into<String>) -> Reason {
    Reason {
        code: code.into(),
        message: message.into(),
    }
}

impl Verdict {
    pub(crate) fn new(kind: VerdictKind, code: &Code) -> Verdict {
        let item = code.item();
        Verdict {
            verdict: kind,
            scan_id: None,
            reasons: Vec::new(),
            item: Some(ItemView {
                gtin: item.gtin.as_str().to_string(),
                lot: item.lot.as_str().to_string(),
                serial: item.serial.as_str().to_string(),
                expiry: item.expiry.as_ref().map(|e| e.to_iso()),
            }),
            product: None,
            issuer_kid: Some(code.kid().to_string()),
            issued_at: None,
            scans: None,
            log: None,
            anchor: None,
            custody: None,
        }
    }

    pub(crate) fn not_genuine(code: &Code, why: &str, message: impl Into<String>) -> Verdict {
        let mut v = Verdict::new(VerdictKind::NotGenuine, code);
        v.reasons.push(reason(why, message));
        v
    }

    /// The answer when we are at fault and cannot check.
    pub fn cannot_verify_now(message: impl Into<String>) -> Verdict {
        Verdict {
            verdict: VerdictKind::CannotVerifyNow,
            scan_id: None,
            reasons: vec![reason("unavailable", message)],
            item: None,
            product: None,
            issuer_kid: None,
            issued_at: None,
            scans: None,
            log: None,
            anchor: None,
            custody: None,
        }
    }
}
