//! Scans: the verdict for a presented code.
//!
//! Order of checks: issuer key known → signature (`verify_strict`) → serial issued → the code
//! is the one its leaf commits to → the issuer key not revoked from a time at or before the
//! item's issuance (a revoked key's code without an issuance record is not genuine either:
//! [`crate::issuer`]) → its batch complete → product → custody. Any storage
//! failure answers `cannot_verify_now` — never `not_genuine` for our own fault. What the scan
//! records, and the clone warning, are [`super::telemetry`]'s: they never fail a scan.

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use base64::Engine;
use time::OffsetDateTime;

use super::base::Stats;
use super::base::{rfc3339, Result};
use super::complaints::ConsumerServices;
use super::custody::Custody;
use super::issuance::Issuance;
use super::log::LogBook;
use super::master::{MasterData, Product};
use super::registry::ActorRegistry;
use super::telemetry::Telemetry;
use super::telemetry::{ScanFacts, ScanNote, VerdictKind};
use super::verdict::{reason, CustodyRecordView, CustodyView, LogView, ProductView, Verdict};
use crate::code::Code;
use crate::custody::record::Conformance;
use crate::custody::{LotId, LotState};
use crate::issuer::REVOKED_REASON;
use crate::merkle::Hash;
use std::sync::Arc;
use std::sync::Mutex;

/// Lots whose lot-wide custody views are cached for scans (the cache is dropped when full).
pub const LOT_VIEW_CACHE_LOTS: usize = 1024;

/// What a cached lot-wide custody view depends on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LotViewKey {
    head: Option<String>,
    tree_size: Option<u64>,
    registry: u64,
    certificates: u64,
}

/// The scan cache of lot-wide custody views, by lot key.
pub type LotViewCache =
    std::collections::HashMap<Vec<u8>, (LotViewKey, std::sync::Arc<Vec<CustodyRecordView>>)>;

/// The lot-wide records and the item's own, merged in log order.
fn merge_in_log_order(
    lot_wide: &[CustodyRecordView],
    own: Vec<CustodyRecordView>,
) -> Vec<CustodyRecordView> {
    let mut records = Vec::with_capacity(lot_wide.len() + own.len());
    let mut it = own.into_iter().peekable();
    for r in lot_wide {
        while it
            .peek()
            .is_some_and(|o| o.record.leaf_index < r.record.leaf_index)
        {
            records.extend(it.next());
        }
        records.push(r.clone());
    }
    records.extend(it);
    records
}

/// What the lot's custody says against the item: a recall makes it not genuine; a
/// non-conformant attestation, a hold or a record signed with a revoked key is a warning.
fn apply_custody_warnings(state: &LotState, records: &[CustodyRecordView], v: &mut Verdict) {
    let revoked: Vec<String> = records
        .iter()
        .filter(|r| r.record.key_revoked)
        .map(|r| format!("{} by {}", r.record.step, r.record.signer))
        .collect();
    let mut warn = Vec::new();
    if state.attestation == Some(Conformance::NonConformant) {
        warn.push(reason(
            "non_conformant",
            "the overseas inspection found this lot non-conformant; it should not have been released for sale",
        ));
    }
    if !state.holds.is_empty() {
        let h: Vec<&str> = state.holds.iter().map(|h| h.as_str()).collect();
        warn.push(reason(
            "on_hold",
            format!("this lot is under a {} hold", h.join(" and ")),
        ));
    }
    if !revoked.is_empty() {
        warn.push(reason(
            "revoked_key",
            format!(
                "records signed with a key revoked or rotated out since: {}; they may not be genuine",
                revoked.join(", ")
            ),
        ));
    }
    if let Some(r) = &state.recalled {
        v.verdict = VerdictKind::NotGenuine;
        v.reasons.insert(
            0,
            reason("recalled", format!("this lot has been recalled: {r}")),
        );
    }
    if !warn.is_empty() {
        if v.verdict == VerdictKind::Genuine {
            v.verdict = VerdictKind::GenuineWithWarning;
        }
        v.reasons.extend(warn);
    }
}

/// What telemetry records of a verdict.
fn facts(v: &Verdict) -> ScanFacts {
    ScanFacts {
        issued: v.issued_at.is_some(),
        verdict: v.verdict,
        reasons: v.reasons.iter().map(|r| r.code.clone()).collect(),
        item: v
            .item
            .as_ref()
            .map(|i| (i.gtin.clone(), i.lot.clone(), i.serial.clone())),
        enterprise_id: v
            .product
            .as_ref()
            .and_then(|p| p.enterprise.as_ref())
            .map(|e| e.id),
    }
}

/// Adds the scan id, the scan history and the clone warning to a verdict.
fn apply_note(v: &mut Verdict, note: ScanNote) {
    v.scan_id = note.scan_id;
    if let Some(c) = &note.summary {
        if note.warn && v.verdict != VerdictKind::NotGenuine {
            v.verdict = VerdictKind::GenuineWithWarning;
            v.reasons.push(reason(
                "scanned_widely",
                format!(
                    "this code has been scanned from {} different networks since {} (within {} days); copies of one label may be in circulation",
                    c.networks, c.since, c.window_days
                ),
            ));
        }
    }
    v.scans = note.summary;
}

/// Scans: the verdict for a scanned code, from the issuance records, the log, custody and the
/// enterprise's standing; telemetry is recorded on the way.
pub struct Scans {
    stats: Arc<Stats>,
    deps: ScanDeps,
    lot_view_cache: Mutex<LotViewCache>,
}

/// The units a scan reads.
pub struct ScanDeps {
    /// Proofs and the latest checkpoint.
    pub log: Arc<LogBook>,
    /// Products and enterprises.
    pub master: Arc<MasterData>,
    /// Issued items.
    pub issuance: Arc<Issuance>,
    /// Lot states and custody chains.
    pub custody: Arc<Custody>,
    /// Signers' registry state (cache key).
    pub registry: Arc<ActorRegistry>,
    /// Scan records and the clone warning.
    pub telemetry: Arc<Telemetry>,
    /// Credit profiles.
    pub consumer: Arc<ConsumerServices>,
    /// Which attestation documents are published.
    pub certificates: Arc<super::certificates::Certificates>,
    /// The importers' credit-risk grades.
    pub grading: Arc<super::grading::Grading>,
}

impl Scans {
    /// Scans over `store`, reading through `deps`.
    pub fn new(stats: Arc<Stats>, deps: ScanDeps) -> Scans {
        Scans {
            stats,
            deps,
            lot_view_cache: Mutex::default(),
        }
    }
}

impl Scans {
    /// Verifies a parsed code and records the scan. Never fails: storage problems become
    /// `cannot_verify_now`; telemetry problems leave the verdict as it is.
    pub fn scan(&self, code: &Code, client: Option<IpAddr>, at: OffsetDateTime) -> Verdict {
        self.stats.scans.fetch_add(1, Ordering::Relaxed);
        match self.try_scan(code) {
            Ok(mut v) => {
                let note = self.deps.telemetry.record_telemetry(
                    code,
                    client,
                    at.unix_timestamp(),
                    &facts(&v),
                );
                apply_note(&mut v, note);
                v
            }
            Err(e) => {
                tracing::error!(error = %e, "scan could not be verified");
                self.deps.telemetry.record_unverifiable(at.unix_timestamp());
                Verdict::cannot_verify_now(
                    "the verification service cannot check this code right now; please try again later",
                )
            }
        }
    }

    fn try_scan(&self, code: &Code) -> Result<Verdict> {
        use super::items::NotIssued;
        let found = match self.deps.issuance.find_issued(code)? {
            Ok(found) => found,
            Err(why) => {
                let (what, message) = match why {
                    NotIssued::UnknownKey => (
                        "unknown_key",
                        format!(
                            "the code names issuer key {}, which is not one of ours",
                            code.kid()
                        ),
                    ),
                    NotIssued::BadSignature => (
                        "bad_signature",
                        "the code's signature does not verify: it was altered or forged".into(),
                    ),
                    NotIssued::UnknownSerial => (
                        "unknown_serial",
                        "no item with this serial was issued".into(),
                    ),
                    NotIssued::CodeMismatch => (
                        "code_mismatch",
                        "the code differs from the one issued for this serial".into(),
                    ),
                    NotIssued::KeyRevoked(revoked) => (REVOKED_REASON, revoked.to_string()),
                };
                return Ok(Verdict::not_genuine(code, what, message));
            }
        };
        let item = code.item();
        let mut v = Verdict::new(VerdictKind::Genuine, code);
        v.issued_at = Some(rfc3339(found.issued_at));
        if let Some(p) = self.deps.master.find_product(&item.gtin)? {
            v.product = Some(self.product_view(p)?);
            if let Some(d) = v
                .product
                .as_ref()
                .and_then(|p| p.credit.as_ref())
                .and_then(|c| c.dishonest.as_ref())
            {
                v.reasons.push(reason(
                    "dishonest_enterprise",
                    format!(
                        "the importer is on the dishonesty list since {} ({}: {})",
                        d.listed_on, d.authority, d.reason
                    ),
                ));
            }
        }
        if let Some(revoked) = &found.key_revoked {
            v.verdict = VerdictKind::NotGenuine;
            v.reasons = vec![reason(REVOKED_REASON, revoked.to_string())];
        } else if !found.complete {
            v.verdict = VerdictKind::NotGenuine;
            v.reasons = vec![reason(
                "batch_incomplete",
                format!(
                    "issuance of batch {} was interrupted before it completed; its codes are not valid",
                    found.record.batch_id
                ),
            )];
        } else if !v.reasons.is_empty() {
            v.verdict = VerdictKind::GenuineWithWarning;
        }
        v.log = self.log_view(found.record.leaf_index, &found.leaf_data)?;
        let tree_size = v.log.as_ref().map(|l| l.tree_size);
        v.custody = self.custody_view(code, tree_size, &mut v)?;
        Ok(v)
    }

    /// The scanned item's product, with its owner, the owner's credit profile and grade.
    fn product_view(&self, p: Product) -> Result<ProductView> {
        let enterprise = self.deps.master.find_enterprise(p.enterprise_id)?;
        let (credit, grade) = match &enterprise {
            Some(e) => (
                self.deps.consumer.find_credit(e.id, &e.name)?,
                self.deps.grading.summary(e.id)?,
            ),
            None => (None, None),
        };
        Ok(ProductView {
            gtin: p.gtin,
            name_zh: p.name_zh,
            name_en: p.name_en,
            enterprise,
            credit,
            grade,
        })
    }

    /// The item's custody chain, and what it changes in the verdict: a recall makes it
    /// `not_genuine`; a non-conformant attestation, an active hold or a record signed with a
    /// since-revoked key add a warning.
    fn custody_view(
        &self,
        code: &Code,
        tree_size: Option<u64>,
        v: &mut Verdict,
    ) -> Result<Option<CustodyView>> {
        let item = code.item();
        let lot = LotId {
            gtin: item.gtin.clone(),
            lot: item.lot.clone(),
        };
        let Some(state) = self.deps.custody.find_lot_state(&lot)? else {
            return Ok(None);
        };
        // The lot-wide part is the same for every item of the lot: cached per (head, tree
        // size, registry generation); only the item's own records are read per scan.
        let lot_wide = self.lot_wide_views(&lot, &state, tree_size)?;
        let own = self
            .deps
            .custody
            .item_scoped_chain(&lot, item.serial.as_str())?;
        let own = self.proven_views(&own, tree_size)?;
        let records = merge_in_log_order(&lot_wide, own);
        let item_state = self.deps.custody.item_state(&lot, item.serial.as_str())?;
        apply_custody_warnings(&state, &records, v);
        Ok(Some(CustodyView {
            lot: lot.to_string(),
            stage: serde_json::to_value(state.stage)
                .ok()
                .and_then(|s| s.as_str().map(str::to_string))
                .unwrap_or_default(),
            attestation: state.attestation.map(|a| match a {
                Conformance::Conformant => "conformant".to_string(),
                Conformance::NonConformant => "non_conformant".to_string(),
            }),
            holds: state.holds.iter().map(|h| h.as_str().to_string()).collect(),
            recalled: state.recalled.clone(),
            released: state.released || item_state.released,
            sold: state.sold || item_state.sold,
            records,
        }))
    }

    /// Views of chain records with their inclusion proofs against `tree_size`.
    fn proven_views(
        &self,
        chain: &[super::custody::ChainRecord],
        tree_size: Option<u64>,
    ) -> Result<Vec<CustodyRecordView>> {
        let views = self.deps.custody.record_views(chain)?;
        chain
            .iter()
            .zip(views)
            .map(|(r, view)| {
                let inclusion_proof = match tree_size {
                    Some(n) if r.leaf_index < n => Some(
                        self.deps
                            .log
                            .inclusion_proof(r.leaf_index, n)?
                            .iter()
                            .map(Hash::to_base64)
                            .collect(),
                    ),
                    _ => None,
                };
                let certificates = self.published_documents(&view)?;
                Ok(CustodyRecordView {
                    certificates,
                    record: view,
                    inclusion_proof,
                    leaf_data: base64::engine::general_purpose::STANDARD.encode(&r.data),
                })
            })
            .collect()
    }

    /// The hashes of an origin attestation's documents that are published (none for other
    /// records).
    fn published_documents(&self, view: &super::custody::RecordView) -> Result<Vec<String>> {
        if view.step != "origin_attestation" {
            return Ok(Vec::new());
        }
        let hashes: Vec<&str> = view
            .data
            .get("documents")
            .and_then(|d| d.as_array())
            .map(|ds| {
                ds.iter()
                    .filter_map(|d| d.get("sha256").and_then(|h| h.as_str()))
                    .collect()
            })
            .unwrap_or_default();
        let published = self.deps.certificates.published(&hashes)?;
        Ok(hashes
            .into_iter()
            .zip(published)
            .filter(|(_, p)| *p)
            .map(|(h, _)| h.to_string())
            .collect())
    }

    /// The lot-wide records of a lot with their proofs, from the cache when the lot's head,
    /// the tree size and the actor registry are unchanged.
    fn lot_wide_views(
        &self,
        lot: &LotId,
        state: &crate::custody::LotState,
        tree_size: Option<u64>,
    ) -> Result<std::sync::Arc<Vec<CustodyRecordView>>> {
        let key = LotViewKey {
            head: state.head.clone(),
            tree_size,
            registry: self.deps.registry.generation(),
            certificates: self.deps.certificates.generation(),
        };
        let lk = super::custody::lot_key(lot);
        if let Some((k, v)) = super::base::lock(&self.lot_view_cache)?.get(&lk) {
            if *k == key {
                return Ok(v.clone());
            }
        }
        let chain = self.deps.custody.lot_wide_chain(lot)?;
        let views = std::sync::Arc::new(self.proven_views(&chain, tree_size)?);
        let mut cache = super::base::lock(&self.lot_view_cache)?;
        if cache.len() >= LOT_VIEW_CACHE_LOTS {
            cache.clear();
        }
        cache.insert(lk, (key, views.clone()));
        Ok(views)
    }

    /// Proof of the leaf against the latest checkpoint (None until a checkpoint covers it).
    fn log_view(&self, leaf_index: u64, leaf_data: &[u8]) -> Result<Option<LogView>> {
        let Some(cp) = self.deps.log.latest_checkpoint()? else {
            return Ok(None);
        };
        if leaf_index >= cp.size {
            return Ok(None);
        }
        let proof = self.deps.log.inclusion_proof(leaf_index, cp.size)?;
        Ok(Some(LogView {
            leaf_index,
            tree_size: cp.size,
            inclusion_proof: proof.iter().map(Hash::to_base64).collect(),
            checkpoint: cp.note,
            leaf_data: base64::engine::general_purpose::STANDARD.encode(leaf_data),
        }))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::service::issuance::BatchRequest;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::Service;

    /// Issues `q` codes of the seeded product (lot L1).
    pub(crate) fn issue(svc: &Service, q: u64) -> Vec<Code> {
        let (b, _) = svc
            .issuance()
            .issue_batch(
                &BatchRequest {
                    gtin: "09506000134352".into(),
                    lot: "L1".into(),
                    expiry: None,
                    quantity: q,
                },
                &format!("k{q}"),
                &|_| {},
            )
            .unwrap();
        svc.issuance()
            .batch_codes(&b, 0, 100)
            .unwrap()
            .iter()
            .map(|c| Code::parse(&c.code).unwrap())
            .collect()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn genuine_with_proof_then_warnings() {
        let (svc, _) = test_service();
        seed(&svc);
        let codes = issue(&svc, 3);
        svc.log().checkpoint_now().unwrap();
        let t = OffsetDateTime::now_utc();
        let v = svc.scans().scan(&codes[0], ip("10.1.2.3"), t);
        assert_eq!(v.verdict, VerdictKind::Genuine, "{v:?}");
        assert!(v.reasons.is_empty());
        assert_eq!(v.product.as_ref().unwrap().name_en, "Infant formula");
        let log = v.log.unwrap();
        assert_eq!(log.tree_size, 4, "the product record and 3 items");
        let proof: Vec<Hash> = log
            .inclusion_proof
            .iter()
            .map(|p| Hash::from_base64(p).unwrap())
            .collect();
        let data = base64::engine::general_purpose::STANDARD
            .decode(&log.leaf_data)
            .unwrap();
        let cp = svc.log().latest_checkpoint().unwrap().unwrap();
        crate::merkle::verify_inclusion(
            &crate::merkle::leaf_hash(&data),
            log.leaf_index,
            4,
            &proof,
            &cp.root_hash().unwrap(),
        )
        .unwrap();
        // Rules in the test service: warn beyond 2 networks in 30 days; a network counts
        // once an hour. 200 scans from one network (two addresses of one /24) never warn.
        for i in 0..200 {
            let v = svc
                .scans()
                .scan(&codes[0], ip(&format!("10.1.2.{}", i % 2 + 3)), t);
            assert_eq!(v.verdict, VerdictKind::Genuine, "scan {i}");
            assert_eq!(v.scans.as_ref().unwrap().networks, 1);
        }
        let v = svc.scans().scan(&codes[0], ip("10.9.9.9"), t);
        assert_eq!(
            v.verdict,
            VerdictKind::Genuine,
            "2 networks is not more than 2"
        );
        let v = svc.scans().scan(&codes[0], ip("2001:db8::1"), t);
        assert_eq!(v.verdict, VerdictKind::GenuineWithWarning);
        assert_eq!(v.reasons[0].code, "scanned_widely");
        let sum = v.scans.as_ref().unwrap();
        assert_eq!((sum.networks, sum.scans), (3, 3));
        // Another code of the same batch is untouched.
        assert_eq!(
            svc.scans().scan(&codes[1], ip("10.1.2.5"), t).verdict,
            VerdictKind::Genuine
        );
    }

    #[test]
    fn forged_and_unknown_codes_are_not_genuine() {
        let (svc, _) = test_service();
        seed(&svc);
        let codes = issue(&svc, 1);
        let t = OffsetDateTime::now_utc();
        // A code signed by someone else's key with our key id cannot verify.
        let other = crate::keys::generate();
        let forged = Code::sign(svc.host(), codes[0].item(), codes[0].kid(), &other);
        let v = svc.scans().scan(&forged, None, t);
        assert_eq!(v.verdict, VerdictKind::NotGenuine);
        assert_eq!(v.reasons[0].code, "bad_signature");
        // Their own key id: unknown key.
        let kid = crate::code::KeyId::of(&other.verifying_key());
        let v = svc.scans().scan(
            &Code::sign(svc.host(), codes[0].item(), kid, &other),
            None,
            t,
        );
        assert_eq!(v.reasons[0].code, "unknown_key");
        // Our key, a serial we never issued.
        let mut item = codes[0].item().clone();
        item.serial = crate::gs1::Serial::random();
        let v = svc.scans().scan(
            &Code::sign(
                svc.host(),
                &item,
                svc.issuance().issuer().kid,
                &svc.issuance().issuer().key,
            ),
            None,
            t,
        );
        assert_eq!(v.reasons[0].code, "unknown_serial");
    }

    #[test]
    fn storage_failure_is_cannot_verify_now_never_fake() {
        let (svc, mem) = test_service();
        seed(&svc);
        let codes = issue(&svc, 1);
        mem.set_failing(true);
        let v = svc.scans().scan(&codes[0], None, OffsetDateTime::now_utc());
        assert_eq!(v.verdict, VerdictKind::CannotVerifyNow);
    }

    #[test]
    fn scan_records_have_time_ordered_ids_and_old_ones_are_purged() {
        use crate::service::telemetry::{scan_id_bytes, SCAN_RETENTION_DAYS};
        let (svc, _) = test_service();
        seed(&svc);
        let codes = issue(&svc, 1);
        let old = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let now = OffsetDateTime::now_utc();
        let a = svc.scans().scan(&codes[0], None, old).scan_id.unwrap();
        let b = svc.scans().scan(&codes[0], None, now).scan_id.unwrap();
        assert!(a < b, "ids sort by time");
        assert_eq!(&a[..16], "000000006553ede0", "the hour's start, big-endian");
        // Scans from one network within the hour share one record.
        assert_eq!(svc.scans().scan(&codes[0], None, now).scan_id.unwrap(), b);
        let cutoff = now.unix_timestamp() - SCAN_RETENTION_DAYS * 86_400;
        assert_eq!(svc.telemetry().purge_scans(cutoff).unwrap(), 1);
        let record = |id: &str| {
            svc.telemetry()
                .scan_record(&scan_id_bytes(id).unwrap())
                .unwrap()
        };
        assert!(record(&a).is_none());
        assert!(record(&b).is_some());
        assert_eq!(svc.telemetry().purge_scans(cutoff).unwrap(), 0);
    }

    #[test]
    fn forged_scans_are_aggregated_and_one_record_per_network_and_hour() {
        let (svc, _) = test_service();
        seed(&svc);
        let codes = issue(&svc, 1);
        let mut item = codes[0].item().clone();
        item.serial = crate::gs1::Serial::random();
        let forged = Code::sign(
            svc.host(),
            &item,
            svc.issuance().issuer().kid,
            &svc.issuance().issuer().key,
        );
        let t = OffsetDateTime::now_utc();
        let ids: std::collections::BTreeSet<String> = (0..50)
            .map(|_| {
                svc.scans()
                    .scan(&forged, ip("10.0.0.1"), t)
                    .scan_id
                    .unwrap()
            })
            .collect();
        assert_eq!(ids.len(), 1, "one record for 50 scans from one network");
        svc.scans().scan(&forged, ip("10.0.1.1"), t);
        let days = svc.telemetry().forged_scans(None, 10).unwrap();
        assert_eq!(days.len(), 1);
        assert_eq!(
            (
                days[0].gtin.as_str(),
                days[0].reason.as_str(),
                days[0].scans
            ),
            ("09506000134352", "unknown_serial", 2)
        );
        // A GTIN that is no product of ours is aggregated under one key.
        item.gtin = crate::gs1::Gtin::parse("09312345000128").unwrap();
        let other = Code::sign(
            svc.host(),
            &item,
            svc.issuance().issuer().kid,
            &svc.issuance().issuer().key,
        );
        svc.scans().scan(&other, ip("10.0.0.1"), t);
        let days = svc.telemetry().forged_scans(None, 10).unwrap();
        assert!(days
            .iter()
            .any(|d| d.gtin == crate::service::telemetry::UNKNOWN_GTIN));
    }

    #[test]
    fn a_telemetry_write_failure_leaves_the_verdict_served_and_is_counted() {
        let (svc, mem) = test_service();
        seed(&svc);
        let codes = issue(&svc, 1);
        svc.log().checkpoint_now().unwrap();
        mem.set_failing_writes(true);
        let v = svc
            .scans()
            .scan(&codes[0], ip("10.0.0.1"), OffsetDateTime::now_utc());
        assert_eq!(v.verdict, VerdictKind::Genuine, "{v:?}");
        assert!(v.log.is_some(), "the proof is served");
        assert!(v.scan_id.is_none(), "no record to complain from");
        assert_eq!(
            svc.stats()
                .scan_telemetry_failures
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
        mem.set_failing_writes(false);
        let v = svc
            .scans()
            .scan(&codes[0], ip("10.0.0.1"), OffsetDateTime::now_utc());
        assert!(v.scan_id.is_some());
    }

    #[test]
    fn daily_counts_follow_each_counted_scan_by_day_verdict_and_enterprise() {
        let (svc, mem) = test_service();
        let e = seed(&svc).enterprise_id;
        let codes = issue(&svc, 3);
        let t = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let today = 1_800_000_000 / 86_400;
        let counts = |e: Option<u64>, day: i64| {
            let d = svc.telemetry().daily_scans(e, day, 1).unwrap();
            assert_eq!(d[0].day, day);
            d[0].counts
        };
        // Two codes, the first scanned 5 times from one network: 2 genuine scans counted.
        for _ in 0..5 {
            svc.scans().scan(&codes[0], ip("10.0.0.1"), t);
        }
        svc.scans().scan(&codes[1], ip("10.0.0.1"), t);
        assert_eq!(counts(None, today), [2, 0, 0, 0]);
        assert_eq!(counts(Some(e), today), [2, 0, 0, 0]);
        // The third network of code 0: the warning rule fires, counted as the verdict shown.
        svc.scans().scan(&codes[0], ip("10.0.1.1"), t);
        let v = svc.scans().scan(&codes[0], ip("10.0.2.1"), t);
        assert_eq!(v.verdict, VerdictKind::GenuineWithWarning);
        assert_eq!(counts(Some(e), today), [3, 1, 0, 0]);
        // A forged code naming our product counts for its enterprise; one of an unknown
        // product for all products only.
        let mut item = codes[0].item().clone();
        item.serial = crate::gs1::Serial::random();
        let issuer = svc.issuance().issuer();
        let forged = Code::sign(svc.host(), &item, issuer.kid, &issuer.key);
        svc.scans().scan(&forged, ip("10.0.0.1"), t);
        item.gtin = crate::gs1::Gtin::parse("09312345000128").unwrap();
        let unknown = Code::sign(svc.host(), &item, issuer.kid, &issuer.key);
        svc.scans().scan(&unknown, ip("10.0.0.1"), t);
        assert_eq!(counts(None, today), [3, 1, 2, 0]);
        assert_eq!(counts(Some(e), today), [3, 1, 1, 0]);
        // The next day is another day; the range reads both, oldest first.
        let next = OffsetDateTime::from_unix_timestamp(1_800_000_000 + 86_400).unwrap();
        svc.scans().scan(&codes[2], ip("10.0.0.1"), next);
        let two = svc.telemetry().daily_scans(Some(e), today + 1, 2).unwrap();
        let two: Vec<[u64; 4]> = two.iter().map(|d| d.counts).collect();
        assert_eq!(two, [[3, 1, 1, 0], [1, 0, 0, 0]]);
        // cannot_verify_now: counted when the store takes the write, a failure otherwise.
        svc.telemetry().record_unverifiable(1_800_000_000);
        assert_eq!(counts(None, today), [3, 1, 2, 1]);
        mem.set_failing(true);
        let v = svc.scans().scan(&codes[1], ip("10.0.9.1"), t);
        assert_eq!(v.verdict, VerdictKind::CannotVerifyNow);
        mem.set_failing(false);
        assert_eq!(
            counts(None, today),
            [3, 1, 2, 1],
            "the store refused: not counted"
        );
        assert_eq!(
            svc.stats()
                .scan_telemetry_failures
                .load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }

    #[test]
    fn custody_warnings_and_the_lot_view_cache_follow_changes() {
        use crate::custody::record::{Hold, HoldType};
        use crate::custody::{Event, Role};
        use crate::service::custody::tests::{cast, route};
        use crate::service::custody::RevokeInput;
        let (svc, _) = test_service();
        seed(&svc);
        let codes = issue(&svc, 4);
        let lot = "09506000134352.L1";
        let c = cast(&svc);
        // Up to storing: genuine, chain of 8 with proofs.
        for (role, e) in route().into_iter().take(8) {
            c.submit(&svc, role, lot, e, vec![]).unwrap();
        }
        svc.log().checkpoint_now().unwrap();
        let t = OffsetDateTime::now_utc();
        let v = svc.scans().scan(&codes[0], ip("10.0.0.1"), t);
        assert_eq!(v.verdict, VerdictKind::Genuine, "{:?}", v.reasons);
        let cv = v.custody.unwrap();
        assert_eq!(cv.records.len(), 8);
        assert!(cv.records.iter().all(|r| r.inclusion_proof.is_some()));
        // A hold (new head) is seen at once, despite the cached view.
        let hold = Hold {
            hold_type: HoldType::Quality,
            reason: "carton damage".into(),
        };
        c.submit(
            &svc,
            Role::BondedWarehouse,
            lot,
            Event::Holding(hold.clone()),
            vec![],
        )
        .unwrap();
        let v = svc.scans().scan(&codes[1], ip("10.0.0.1"), t);
        assert_eq!(v.verdict, VerdictKind::GenuineWithWarning);
        assert_eq!(v.reasons[0].code, "on_hold");
        let cv = v.custody.unwrap();
        assert_eq!(cv.records.len(), 9);
        assert!(
            cv.records[8].inclusion_proof.is_none(),
            "not in a checkpoint yet"
        );
        // A new checkpoint refreshes the proofs.
        svc.log().checkpoint_now().unwrap();
        let v = svc.scans().scan(&codes[1], ip("10.0.0.1"), t);
        assert!(v.custody.unwrap().records[8].inclusion_proof.is_some());
        c.submit(
            &svc,
            Role::BondedWarehouse,
            lot,
            Event::HoldRelease(hold),
            vec![],
        )
        .unwrap();
        // A back-dated revocation (registry change, same head) flags the records signed since.
        let (id, sk) = &c.keys[&Role::Carrier];
        let kid = crate::code::KeyId::of(&sk.verifying_key()).to_string();
        svc.registry()
            .revoke_actor_key(
                id,
                &kid,
                &RevokeInput {
                    reason: "key leaked".into(),
                    revoked_from: Some(crate::service::now_unix() - 3600),
                },
            )
            .unwrap();
        let v = svc.scans().scan(&codes[2], ip("10.0.0.1"), t);
        assert_eq!(v.verdict, VerdictKind::GenuineWithWarning);
        assert!(
            v.reasons
                .iter()
                .any(|r| r.code == "revoked_key" && r.message.contains("shipping by carrier")),
            "{:?}",
            v.reasons
        );
        let flagged = v
            .custody
            .unwrap()
            .records
            .iter()
            .filter(|r| r.record.key_revoked)
            .count();
        assert_eq!(
            flagged, 3,
            "shipping, departing, arriving were signed by the carrier"
        );
    }
}
