//! Consumer complaints: "report a problem" from the scan page, stored with the scan it came
//! from (so the operator sees exactly what the consumer scanned and was told), with a
//! reference number for the consumer; the operator lists them and moves them through
//! `open → investigating → resolved | rejected`, each change kept in the history.
//!
//! Limits: per client address (the HTTP edge's complaint limiter) and per scan
//! ([`crate::config::ComplaintRules::per_scan`]). See `docs/complaints.md`.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::base::WriteLocks;
use super::base::{lock, now, rfc3339, Result};
use super::errors::{ComplaintError, InputError};
use super::master::check_text;
use super::master::MasterData;
use super::telemetry::Telemetry;
use super::telemetry::VerdictKind;
use super::telemetry::{scan_id_bytes, ScanRecord, SCAN_VALID_DAYS};
use crate::config::ComplaintRules;
use crate::store::schema::{
    counts_key, decode_json, decode_u64, encode_json, u64_key, upheld_key, META_NEXT_COMPLAINT,
};
use crate::store::Store;
use crate::store::{Cf, Durability, WriteBatch};
use std::sync::Arc;

pub mod credit;
pub mod follow;
pub mod upheld;

/// Longest description, in characters.
pub const MAX_DESCRIPTION: usize = 2000;
/// Longest contact, in characters.
pub const MAX_CONTACT: usize = 200;
/// Longest operator note, in characters.
pub const MAX_NOTE: usize = 2000;

/// What the complaint is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintCategory {
    /// The consumer suspects a counterfeit.
    Counterfeit,
    /// A quality problem with the product.
    Quality,
    /// A problem with the seller's service.
    Service,
}

/// Where a complaint stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintStatus {
    /// Received, not yet looked at.
    Open,
    /// The operator is investigating.
    Investigating,
    /// Handled; see the history's notes.
    Resolved,
    /// Not upheld; see the history's notes.
    Rejected,
}

/// Body of `POST /api/v1/complaints`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintInput {
    /// The scan the complaint comes from (`scan_id` of the verdict, 32 hex).
    pub scan_id: String,
    /// What it is about.
    pub category: ComplaintCategory,
    /// What happened, 1–2,000 characters.
    pub description: String,
    /// How to reach the consumer (phone, e-mail), optional, up to 200 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// Response of `POST /api/v1/complaints`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComplaintReceipt {
    /// Reference number to quote, e.g. `TS20261126-000042`.
    pub reference: String,
    /// The secret that, with the reference, shows the complaint's progress
    /// (`POST /api/v1/complaints/{reference}/progress`, the page `/complaints/follow`). Given
    /// once: only its SHA-256 is kept.
    pub secret: String,
    /// `open`.
    pub status: ComplaintStatus,
    /// RFC 3339 time received.
    pub created_at: String,
}

/// How a partner body's handling of a referred complaint ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferralResult {
    /// The partner upheld the complaint.
    Upheld,
    /// The partner did not uphold it.
    NotUpheld,
    /// Settled between the consumer and the seller through the partner.
    Settled,
    /// Closed without a finding (withdrawn, out of the partner's remit).
    Closed,
}

/// The outcome of a referral.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReferralOutcome {
    /// How it ended.
    pub result: ReferralResult,
    /// What the partner reported, 1–2,000 characters.
    pub note: String,
    /// RFC 3339 time recorded.
    pub at: String,
}

/// A complaint referred to a partner body, e.g. a Hong Kong consumer council under the
/// Ningbo–Hong Kong cooperation agreement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Referral {
    /// The partner (`complaints.partners`), as configured when referred.
    pub partner: crate::config::Partner,
    /// Why it was referred, 1–2,000 characters.
    pub note: String,
    /// RFC 3339 time referred.
    pub at: String,
    /// The outcome, once the partner reported it.
    pub outcome: Option<ReferralOutcome>,
}

/// Body of `POST /api/v1/complaints/{reference}/referral`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReferralInput {
    /// The partner's id (`complaints.partners`).
    pub partner: String,
    /// Why, 1–2,000 characters (the consumer sees it).
    pub note: String,
}

/// Body of `POST /api/v1/complaints/{reference}/referral/outcome`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OutcomeInput {
    /// How it ended.
    pub result: ReferralResult,
    /// What the partner reported, 1–2,000 characters (the consumer sees it).
    pub note: String,
}

/// Body of `POST /api/v1/complaints/{reference}/progress`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FollowInput {
    /// The secret on the receipt (`-` and spaces are ignored, case does not matter).
    pub secret: String,
}

/// What the consumer who filed a complaint sees of it: its status, the operator's answers
/// and any referral; not the scan's network, the contact or the item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComplaintProgress {
    /// Reference number.
    pub reference: String,
    /// Category.
    pub category: ComplaintCategory,
    /// Current status.
    pub status: ComplaintStatus,
    /// RFC 3339 time received.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
    /// Status changes with the operator's notes, oldest first.
    pub history: Vec<ComplaintChange>,
    /// The referral to a partner body, if any.
    pub referral: Option<Referral>,
}

/// One status change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComplaintChange {
    /// RFC 3339 time.
    pub at: String,
    /// The new status.
    pub status: ComplaintStatus,
    /// The operator's note.
    pub note: String,
}

/// The scan a complaint came from, as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComplaintScan {
    /// Scan id.
    pub scan_id: String,
    /// RFC 3339 time of the scan.
    pub at: String,
    /// The code as scanned.
    pub code: String,
    /// The verdict the consumer was shown.
    pub verdict: VerdictKind,
    /// Its reason codes.
    pub reasons: Vec<String>,
    /// Coarse client network of the scan.
    pub network: String,
}

/// A complaint (operator view).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Complaint {
    /// Reference number.
    pub reference: String,
    /// Category.
    pub category: ComplaintCategory,
    /// The consumer's description.
    pub description: String,
    /// The consumer's contact, if given.
    pub contact: Option<String>,
    /// Current status.
    pub status: ComplaintStatus,
    /// RFC 3339 time received.
    pub created_at: String,
    /// RFC 3339 time of the last change.
    pub updated_at: String,
    /// The scan it came from.
    pub scan: ComplaintScan,
    /// GTIN-14 of the item, when the code named one.
    pub gtin: Option<String>,
    /// Lot, when the code named one.
    pub lot: Option<String>,
    /// Serial, when the code named one.
    pub serial: Option<String>,
    /// The enterprise owning the product, when known.
    pub enterprise_id: Option<u64>,
    /// Status changes, oldest first.
    pub history: Vec<ComplaintChange>,
    /// SHA-256 (hex) of the consumer's follow-up secret (the secret is never kept);
    /// complaints filed before follow-up existed have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_sha256: Option<String>,
    /// The referral to a partner body, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
}

/// Body of `PATCH /api/v1/complaints/{reference}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintUpdate {
    /// The new status.
    pub status: ComplaintStatus,
    /// What was done or found, 1–2,000 characters.
    pub note: String,
}

/// Filter of the operator's list.
#[derive(Clone, Debug, Default)]
pub struct ComplaintFilter {
    /// Only this status.
    pub status: Option<ComplaintStatus>,
    /// Only about this enterprise.
    pub enterprise_id: Option<u64>,
}

fn reference(n: u64, at: OffsetDateTime) -> String {
    format!(
        "TS{:04}{:02}{:02}-{n:06}",
        at.year(),
        u8::from(at.month()),
        at.day()
    )
}

/// The alphabet of follow-up secrets (Crockford's base 32: no I, L, O or U).
const SECRET_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new follow-up secret: 120 random bits as 24 base-32 characters in groups of four, e.g.
/// `7QKM-2XWP-9RTA-4HVN-B3CE-M8D1`.
fn new_secret() -> Result<String> {
    let mut b = [0u8; 15];
    getrandom::getrandom(&mut b)
        .map_err(|e| super::ServiceError::internal(format!("no randomness for a secret: {e}")))?;
    let mut bits = 0u32;
    let mut n = 0;
    let mut chars = Vec::with_capacity(24);
    for byte in b {
        bits = (bits << 8) | u32::from(byte);
        n += 8;
        while n >= 5 {
            n -= 5;
            chars.push(SECRET_ALPHABET[((bits >> n) & 31) as usize] as char);
        }
    }
    let groups: Vec<String> = chars.chunks(4).map(|c| c.iter().collect()).collect();
    Ok(groups.join("-"))
}

/// The secret as typed, normalised: `-` and spaces dropped, upper case, `O` read as `0` and
/// `I`/`L` as `1` (Crockford).
pub(crate) fn normalise_secret(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '-' && !c.is_whitespace())
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect()
}

/// SHA-256 (hex) of the normalised secret.
pub(crate) fn secret_hash(s: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::custody::record::hex(&Sha256::digest(normalise_secret(s).as_bytes()))
}

/// The complaint number inside a reference (`TS20261126-000042` → 42).
fn reference_number(r: &str) -> Option<u64> {
    let (head, n) = r.split_once('-')?;
    if head.len() != 10 || !head.starts_with("TS") || !head[2..].bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    if n.len() < 6 || n.len() > 20 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// Complaint counts of an enterprise (kept with every complaint and status change). Only
/// `resolved` — complaints the operator looked into and upheld — is shown to consumers:
/// anyone can file complaints, so the received count alone says little.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ComplaintCounts {
    /// Complaints received about the enterprise's items.
    pub received: u64,
    /// Of those, upheld and handled by the operator (`resolved`).
    pub resolved: u64,
    /// Of those, not upheld (`rejected`).
    pub rejected: u64,
    /// Complaints filed and status changes so far (moves whenever any count could).
    #[serde(default)]
    pub changes: u64,
}

impl ComplaintCounts {
    /// Moves one complaint from status `from` to `to` (`None`: a new complaint).
    pub(crate) fn apply(&mut self, from: Option<ComplaintStatus>, to: ComplaintStatus) {
        use ComplaintStatus as S;
        self.changes += 1;
        match from {
            None => self.received += 1,
            Some(S::Resolved) => self.resolved = self.resolved.saturating_sub(1),
            Some(S::Rejected) => self.rejected = self.rejected.saturating_sub(1),
            Some(_) => {}
        }
        match to {
            S::Resolved => self.resolved += 1,
            S::Rejected => self.rejected += 1,
            _ => {}
        }
    }
}

/// An upheld complaint, as the index keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upheld {
    /// Its category.
    pub category: ComplaintCategory,
    /// When it was upheld (Unix seconds).
    pub at: i64,
}

/// Stages complaint `n`'s index row as its status now says: present while upheld.
pub(crate) fn stage_upheld(wb: &mut WriteBatch, n: u64, c: &Complaint) {
    let Some(e) = c.enterprise_id else { return };
    match (c.status, upheld_at(c)) {
        (ComplaintStatus::Resolved, Some(at)) => {
            let row = Upheld {
                category: c.category,
                at,
            };
            wb.put(Cf::Credit, upheld_key(e, n), encode_json(&row));
        }
        _ => wb.delete(Cf::Credit, upheld_key(e, n)),
    }
}

/// When the complaint was last moved to `resolved`.
fn upheld_at(c: &Complaint) -> Option<i64> {
    let change = c
        .history
        .iter()
        .rev()
        .find(|h| h.status == ComplaintStatus::Resolved)?;
    let t = time::OffsetDateTime::parse(&change.at, &time::format_description::well_known::Rfc3339);
    t.ok().map(|t| t.unix_timestamp())
}

/// Consumer services: complaints about scans, and the merchant credit profiles shown with
/// each verdict.
pub struct ConsumerServices {
    store: Arc<dyn Store>,
    locks: Arc<WriteLocks>,
    log: Arc<super::LogBook>,
    master: Arc<MasterData>,
    telemetry: Arc<Telemetry>,
    complaint_rules: ComplaintRules,
}

impl ConsumerServices {
    /// Consumer services over `store`.
    pub fn new(
        store: Arc<dyn Store>,
        locks: Arc<WriteLocks>,
        log: Arc<super::LogBook>,
        master: Arc<MasterData>,
        telemetry: Arc<Telemetry>,
        complaint_rules: ComplaintRules,
    ) -> ConsumerServices {
        ConsumerServices {
            store,
            locks,
            log,
            master,
            telemetry,
            complaint_rules,
        }
    }
}

impl ConsumerServices {
    /// Complaint counts of enterprise `id`.
    pub(crate) fn complaint_counts(&self, id: u64) -> Result<ComplaintCounts> {
        Ok(match self.store.get(Cf::Credit, &counts_key(id))? {
            Some(b) => decode_json("complaint counts", &b)?,
            None => ComplaintCounts::default(),
        })
    }

    /// The complaint counts of enterprises `ids`, in order (one multi-read; zeros where none).
    pub fn complaint_counts_of(&self, ids: &[u64]) -> Result<Vec<ComplaintCounts>> {
        let keys: Vec<Vec<u8>> = ids.iter().map(|&e| counts_key(e)).collect();
        self.store
            .multi_get(Cf::Credit, &keys)?
            .into_iter()
            .map(|v| match v {
                Some(b) => Ok(decode_json("complaint counts", &b)?),
                None => Ok(ComplaintCounts::default()),
            })
            .collect()
    }

    /// The scan a complaint is about: kept, recent enough, and under the per-scan limit.
    fn complainable_scan(&self, sid: &[u8; 16], scan_id: &str, now: i64) -> Result<ScanRecord> {
        let scan: ScanRecord = match self.telemetry.scan_record(sid)? {
            Some(s) => s,
            None => {
                return Err(ComplaintError::ScanNotFound {
                    scan_id: scan_id.to_string(),
                }
                .into())
            }
        };
        if now - scan.at > SCAN_VALID_DAYS * 86_400 {
            return Err(ComplaintError::ScanTooOld {
                scan_id: scan_id.to_string(),
                max_days: SCAN_VALID_DAYS,
            }
            .into());
        }
        if scan.complaints >= self.complaint_rules.per_scan {
            return Err(ComplaintError::ScanLimitReached {
                complaints: scan.complaints,
                repeat_secs: self.telemetry.rules().repeat_secs,
            }
            .into());
        }
        Ok(scan)
    }

    /// Files a complaint about scan `input.scan_id`.
    pub fn file_complaint(&self, input: &ComplaintInput) -> Result<ComplaintReceipt> {
        let description = check_text("description", &input.description, MAX_DESCRIPTION, true)?;
        let contact = match input.contact.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(check_text("contact", c, MAX_CONTACT, false)?),
        };
        let sid = scan_id_bytes(&input.scan_id).ok_or_else(|| {
            InputError::field(
                "scan_id",
                "scan_id must be the 32 hex characters of a scan id",
            )
        })?;
        let secret = new_secret()?;
        let _guard = lock(&self.locks.complaints)?;
        let at = now();
        let mut scan = self.complainable_scan(&sid, &input.scan_id, at.unix_timestamp())?;
        let n = match self.store.get(Cf::Meta, META_NEXT_COMPLAINT)? {
            Some(b) => decode_u64(&b)?,
            None => 1,
        };
        let t = rfc3339(at.unix_timestamp());
        let c = Complaint {
            reference: reference(n, at),
            category: input.category,
            description,
            contact,
            status: ComplaintStatus::Open,
            created_at: t.clone(),
            updated_at: t.clone(),
            scan: ComplaintScan {
                scan_id: input.scan_id.to_ascii_lowercase(),
                at: rfc3339(scan.at),
                code: scan.code.clone(),
                verdict: scan.verdict,
                reasons: scan.reasons.clone(),
                network: scan.network.clone(),
            },
            gtin: scan.gtin.clone(),
            lot: scan.lot.clone(),
            serial: scan.serial.clone(),
            enterprise_id: scan.enterprise_id,
            history: vec![ComplaintChange {
                at: t.clone(),
                status: ComplaintStatus::Open,
                note: "received".into(),
            }],
            secret_sha256: Some(secret_hash(&secret)),
            referral: None,
        };
        scan.complaints += 1;
        let mut wb = WriteBatch::new();
        wb.put(Cf::Complaints, u64_key(n), encode_json(&c));
        wb.put(Cf::Meta, META_NEXT_COMPLAINT, u64_key(n + 1));
        self.telemetry.stage_scan_record(&mut wb, &sid, &scan);
        if let Some(e) = c.enterprise_id {
            let mut counts = self.complaint_counts(e)?;
            counts.apply(None, ComplaintStatus::Open);
            wb.put(Cf::Credit, counts_key(e), encode_json(&counts));
        }
        self.store.write(wb, Durability::Synced)?;
        Ok(ComplaintReceipt {
            reference: c.reference,
            secret,
            status: c.status,
            created_at: t,
        })
    }

    /// One complaint by reference.
    pub fn complaint(&self, reference: &str) -> Result<Complaint> {
        self.find_complaint(reference)?
            .map(|(_, c)| c)
            .ok_or_else(|| {
                ComplaintError::ComplaintNotFound {
                    reference: reference.to_string(),
                }
                .into()
            })
    }

    pub(crate) fn find_complaint(&self, r: &str) -> Result<Option<(u64, Complaint)>> {
        let Some(n) = reference_number(r) else {
            return Err(InputError::field(
                "reference",
                format!("{r:?} is not a complaint reference (like TS20261126-000042)"),
            )
            .into());
        };
        let Some(b) = self.store.get(Cf::Complaints, &u64_key(n))? else {
            return Ok(None);
        };
        let c: Complaint = decode_json("complaint", &b)?;
        // The date part must match too: a reference is quoted whole.
        Ok((c.reference == r).then_some((n, c)))
    }

    /// Complaints, newest first, numbered below `before` (all when `None`), at most `limit`.
    pub fn list_complaints(
        &self,
        filter: &ComplaintFilter,
        before: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Complaint>> {
        let limit = limit.clamp(1, super::master::MAX_LIST);
        let mut end = match before {
            Some(r) => reference_number(r).ok_or_else(|| {
                InputError::field(
                    "before",
                    format!("before: {r:?} is not a complaint reference"),
                )
            })?,
            None => match self.store.get(Cf::Meta, META_NEXT_COMPLAINT)? {
                Some(b) => decode_u64(&b)?,
                None => 1,
            },
        };
        let mut out = Vec::new();
        // Walk down in pages of numbers [start, end); filters are applied as we go.
        while out.len() < limit && end > 1 {
            let start = end.saturating_sub(500).max(1);
            let page =
                self.store
                    .range(Cf::Complaints, &u64_key(start), Some(&u64_key(end)), 500)?;
            for (_, v) in page.iter().rev() {
                let c: Complaint = decode_json("complaint", v)?;
                if filter.status.is_some_and(|s| s != c.status)
                    || filter
                        .enterprise_id
                        .is_some_and(|e| Some(e) != c.enterprise_id)
                {
                    continue;
                }
                out.push(c);
                if out.len() == limit {
                    break;
                }
            }
            end = start;
        }
        Ok(out)
    }

    /// Moves a complaint to a new status with a note.
    pub fn update_complaint(&self, r: &str, u: &ComplaintUpdate) -> Result<Complaint> {
        let note = check_text("note", &u.note, MAX_NOTE, true)?;
        let _guard = lock(&self.locks.complaints)?;
        let (n, mut c) =
            self.find_complaint(r)?
                .ok_or_else(|| ComplaintError::ComplaintNotFound {
                    reference: r.to_string(),
                })?;
        let was = c.status;
        let t = rfc3339(now().unix_timestamp());
        c.status = u.status;
        c.updated_at = t.clone();
        c.history.push(ComplaintChange {
            at: t,
            status: u.status,
            note,
        });
        let mut wb = WriteBatch::new();
        wb.put(Cf::Complaints, u64_key(n), encode_json(&c));
        if let (Some(e), true) = (c.enterprise_id, was != u.status) {
            let mut counts: ComplaintCounts = self.complaint_counts(e)?;
            counts.apply(Some(was), u.status);
            wb.put(Cf::Credit, counts_key(e), encode_json(&counts));
            stage_upheld(&mut wb, n, &c);
        }
        self.store.write(wb, Durability::Synced)?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::{ErrorKind, Service, ServiceError};

    fn scanned(svc: &Service) -> (String, Code) {
        let code = crate::service::scan::tests::issue(svc, 2).remove(0);
        let v = svc.scans().scan(
            &code,
            Some("10.0.0.1".parse().unwrap()),
            OffsetDateTime::now_utc(),
        );
        (v.scan_id.expect("a recorded scan has an id"), code)
    }

    fn input(scan_id: &str) -> ComplaintInput {
        ComplaintInput {
            scan_id: scan_id.into(),
            category: ComplaintCategory::Counterfeit,
            description: "The seal was broken and the tin looks different".into(),
            contact: Some("  ".into()),
        }
    }

    /// Secrets are 24 characters of Crockford base 32 in groups of four, all different, and
    /// read back however they are typed.
    #[test]
    fn secrets_are_random_base32_and_typed_loosely() {
        let a = new_secret().unwrap();
        let b = new_secret().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 29);
        assert!(a
            .split('-')
            .all(|g| g.len() == 4 && g.bytes().all(|c| SECRET_ALPHABET.contains(&c))));
        let loose = a.to_lowercase().replace('-', "  ").replace('1', "l");
        assert_eq!(secret_hash(&loose), secret_hash(&a));
        assert_ne!(secret_hash(&b), secret_hash(&a));
    }

    #[test]
    fn complaints_round_trip_with_counts_and_limits() {
        let (svc, _) = test_service();
        seed(&svc);
        let (sid, code) = scanned(&svc);
        let r = svc.consumer().file_complaint(&input(&sid)).unwrap();
        assert!(reference_number(&r.reference) == Some(1), "{}", r.reference);
        let c = svc.consumer().complaint(&r.reference).unwrap();
        assert_eq!(c.scan.code, code.as_str());
        assert_eq!(c.scan.verdict, VerdictKind::Genuine);
        assert_eq!(c.contact, None, "blank contact is no contact");
        assert_eq!(c.enterprise_id, Some(1));
        assert_eq!(svc.consumer().complaint_counts(1).unwrap().received, 1);
        // Per-scan limit (3 in the default rules).
        svc.consumer().file_complaint(&input(&sid)).unwrap();
        svc.consumer().file_complaint(&input(&sid)).unwrap();
        match svc.consumer().file_complaint(&input(&sid)) {
            Err(e @ ServiceError::Complaint(ComplaintError::ScanLimitReached { .. })) => {
                assert!(e.to_string().contains("3 problems"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        // Status changes keep the history and the counts.
        let u = svc
            .consumer()
            .update_complaint(
                &r.reference,
                &ComplaintUpdate {
                    status: ComplaintStatus::Resolved,
                    note: "Seller refunded; batch re-inspected".into(),
                },
            )
            .unwrap();
        assert_eq!(u.history.len(), 2);
        assert_eq!(svc.consumer().complaint_counts(1).unwrap().resolved, 1);
        svc.consumer()
            .update_complaint(
                &r.reference,
                &ComplaintUpdate {
                    status: ComplaintStatus::Investigating,
                    note: "reopened".into(),
                },
            )
            .unwrap();
        let c = svc.consumer().complaint_counts(1).unwrap();
        assert_eq!((c.received, c.resolved, c.rejected), (3, 0, 0));
        assert!(c.changes >= 4, "3 filed, then status changes: {c:?}");
        // Lists: newest first, filtered, paged.
        let all = svc
            .consumer()
            .list_complaints(&ComplaintFilter::default(), None, 10)
            .unwrap();
        assert_eq!(all.len(), 3);
        assert!(all[0].reference.ends_with("-000003"));
        let inv = svc
            .consumer()
            .list_complaints(
                &ComplaintFilter {
                    status: Some(ComplaintStatus::Investigating),
                    ..Default::default()
                },
                None,
                10,
            )
            .unwrap();
        assert_eq!(inv.len(), 1);
        let older = svc
            .consumer()
            .list_complaints(&ComplaintFilter::default(), Some(&all[0].reference), 1)
            .unwrap();
        assert_eq!(older.len(), 1);
        assert_eq!(older[0].reference, all[1].reference);
        // Refusals.
        for (bad, want) in [
            (input("zz"), "scan_id must be"),
            (
                ComplaintInput {
                    description: "\u{7}".into(),
                    ..input(&sid)
                },
                "control characters",
            ),
        ] {
            match svc.consumer().file_complaint(&bad) {
                Err(e) if e.kind() == ErrorKind::Invalid => {
                    assert!(e.to_string().contains(want), "{e}")
                }
                other => panic!("{other:?}"),
            }
        }
        assert!(matches!(
            svc.consumer().file_complaint(&input(&"ab".repeat(16))),
            Err(ServiceError::Complaint(ComplaintError::ScanNotFound { .. }))
        ));
        assert!(matches!(
            svc.consumer().complaint("TS20261126-000099"),
            Err(ServiceError::Complaint(
                ComplaintError::ComplaintNotFound { .. }
            ))
        ));
        assert!(matches!(
            svc.consumer().complaint("nope"),
            Err(ServiceError::Input(InputError::Field {
                field: "reference",
                ..
            }))
        ));
        let wrong_date = format!("TS19990101-{}", &r.reference[11..]);
        assert!(matches!(
            svc.consumer().complaint(&wrong_date),
            Err(ServiceError::Complaint(
                ComplaintError::ComplaintNotFound { .. }
            ))
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Untrusted complaint fields: never a panic; anything refused stores nothing.
        #[test]
        fn complaint_input_never_panics_and_refusals_store_nothing(
            sid in "[0-9a-fA-Fz+ -]{0,40}",
            desc in "\\PC{0,40}|[\\x00-\\x1f]{1,3}",
            contact in proptest::option::of("\\PC{0,20}"),
            r in "\\PC{0,24}",
        ) {
            let (svc, _) = test_service();
            let _ = reference_number(&r);
            let _ = svc.consumer().complaint(&r);
            let res = svc.consumer().file_complaint(&ComplaintInput {
                scan_id: sid,
                category: ComplaintCategory::Quality,
                description: desc,
                contact,
            });
            proptest::prop_assert!(res.is_err(), "no scan was recorded");
            let stored = svc.store().range(Cf::Complaints, &[], None, 10).unwrap();
            proptest::prop_assert!(stored.is_empty());
        }

        #[test]
        fn scan_ids_round_trip(b in proptest::array::uniform16(proptest::prelude::any::<u8>())) {
            let h = crate::custody::record::hex(&b);
            proptest::prop_assert_eq!(scan_id_bytes(&h), Some(b));
            proptest::prop_assert_eq!(scan_id_bytes(&h.to_uppercase()), Some(b));
            proptest::prop_assert_eq!(scan_id_bytes(&format!("+{}", &h[1..])), None);
        }
    }

    #[test]
    fn references_parse_back() {
        let t = OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap();
        let r = reference(42, t);
        assert_eq!(reference_number(&r), Some(42));
        assert_eq!(reference(1_234_567, t).len(), 18);
        for bad in [
            "",
            "TS-1",
            "TX20261126-000001",
            "TS2026112-000001",
            "TS20261126-01",
        ] {
            assert_eq!(reference_number(bad), None, "{bad}");
        }
    }
}
