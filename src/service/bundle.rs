//! Proof bundles of items (`GET /api/v1/bundle?code=…`), for whoever presents the code.
//!
//! The proofs are against the **anchored** checkpoint covering the item when there is one (so
//! its root is on chain as is), plus the latest checkpoint and a consistency proof up to it;
//! before the item is anchored they are against the latest checkpoint.

use base64::Engine;

use super::anchoring::{hex0x, log_id, AnchorRecord, AnchorStatus, BundleAnchoring};
use super::errors::LogError;
use super::items::IssuedItem;
use super::{Result, Service, ServiceError, SignedCheckpoint};
use crate::bundle::{Bundle, BundleAnchor, BundleIssuerKey, BundleKeys, BundleRecord, FORMAT};
use crate::code::Code;
use crate::merkle::Hash;

impl Service {
    /// The proof bundle of `item`, found from its presented `code` with
    /// [`Service::issued_item`]. `anchoring` is `None` when the service does not anchor.
    pub fn bundle(
        &self,
        code: &Code,
        item: &IssuedItem,
        anchoring: Option<BundleAnchoring>,
    ) -> Result<Bundle> {
        let leaf_index = item.record.leaf_index;
        let leaf_data = &item.leaf_data;
        let latest = self
            .log()
            .latest_checkpoint()?
            .filter(|c| c.size > leaf_index)
            .ok_or(LogError::NotCheckpointed { leaf_index })?;
        // The checkpoint the proofs are against.
        let anchored = match &anchoring {
            Some(BundleAnchoring {
                view,
                record: Some(r),
            }) if view.status.on_chain() && r.tree_size > leaf_index => Some(r.clone()),
            _ => None,
        };
        let cp: SignedCheckpoint = match &anchored {
            Some(r) => self.log().checkpoint_at(r.tree_size)?.ok_or_else(|| {
                ServiceError::Internal(format!("anchored checkpoint {} missing", r.tree_size))
            })?,
            None => latest.clone(),
        };
        let proof = self.log().inclusion_proof(leaf_index, cp.size)?;
        let (latest_checkpoint, consistency_proof) = if latest.size > cp.size {
            let c = self.log().consistency_proof_view(cp.size, latest.size)?;
            (Some(latest.note.clone()), c.proof)
        } else {
            (None, Vec::new())
        };
        let log_id = hex0x(&log_id(self.origin()));
        let anchor = anchoring.map(|a| bundle_anchor(a, anchored.as_ref(), log_id));
        let mut records = vec![BundleRecord {
            kind: "item".into(),
            leaf_index,
            leaf_data: base64::engine::general_purpose::STANDARD.encode(leaf_data),
            inclusion_proof: proof.iter().map(Hash::to_base64).collect(),
            tree_size: None,
        }];
        records.extend(self.custody_records(code, item, cp.size, latest.size)?);
        records.extend(self.issuer_key_records(code, cp.size, latest.size)?);
        let issuers = self.issuer_keys()?;
        Ok(Bundle {
            format: FORMAT.to_string(),
            code: code.as_str().to_string(),
            records,
            checkpoint: cp.note,
            latest_checkpoint,
            consistency_proof,
            anchor,
            keys: BundleKeys {
                issuers,
                log_vkey: self.log.signer().vkey(),
            },
        })
    }

    /// The item's custody records and the registry records of their signers (so the
    /// verifier learns each signer's key and role from the log itself). Records in the
    /// checkpoint of size `cp` are proven against it; newer ones (custody steps usually come
    /// long after issuance) against the latest checkpoint (`latest`), linked to it by the
    /// consistency proof; records in no checkpoint yet are left out.
    fn custody_records(
        &self,
        code: &Code,
        item: &IssuedItem,
        cp: u64,
        latest: u64,
    ) -> Result<Vec<BundleRecord>> {
        let chain = self
            .custody()
            .item_chain(&item.lot, code.item().serial.as_str())?;
        let actors = self.custody().actor_records_for(&chain)?;
        let engagements = self
            .custody()
            .engagement_records_for(code.item().gtin.as_str(), &chain)?;
        let mut records = Vec::new();
        for r in actors.iter().chain(engagements.iter()).chain(chain.iter()) {
            records.extend(self.proven_record(
                r.record.kind(),
                r.leaf_index,
                &r.data,
                cp,
                latest,
            )?);
        }
        Ok(records)
    }

    /// The log records about the code's issuer key (`issuer_key`: its retirement, its
    /// revocation), so a verifier learns from the log itself whether the key was revoked
    /// before the item was issued. Proven as custody records are.
    fn issuer_key_records(&self, code: &Code, cp: u64, latest: u64) -> Result<Vec<BundleRecord>> {
        let indexes = self.keyring().records_of(code.kid())?;
        let data = self.log().leaves_data(&indexes)?;
        let mut records = Vec::new();
        for (i, d) in indexes.into_iter().zip(data) {
            records.extend(self.proven_record("issuer_key", i, &d, cp, latest)?);
        }
        Ok(records)
    }

    /// Leaf `index` as a bundle record: proven against the checkpoint of size `cp` when it
    /// covers the leaf, else against the latest checkpoint (`latest`), else left out (`None`).
    fn proven_record(
        &self,
        kind: &str,
        index: u64,
        data: &[u8],
        cp: u64,
        latest: u64,
    ) -> Result<Option<BundleRecord>> {
        let against = if index < cp {
            None
        } else if index < latest {
            Some(latest)
        } else {
            return Ok(None);
        };
        Ok(Some(BundleRecord {
            kind: kind.into(),
            leaf_index: index,
            leaf_data: base64::engine::general_purpose::STANDARD.encode(data),
            inclusion_proof: self
                .log()
                .inclusion_proof(index, against.unwrap_or(cp))?
                .iter()
                .map(Hash::to_base64)
                .collect(),
            tree_size: against,
        }))
    }

    /// Every registered issuer key (codes signed by any of them verify).
    fn issuer_keys(&self) -> Result<Vec<BundleIssuerKey>> {
        Ok(self
            .keys()?
            .keys
            .iter()
            .filter(|k| k.role == "issuer")
            .map(|k| BundleIssuerKey {
                kid: k.kid.clone(),
                public_key: k.public_key.clone(),
            })
            .collect())
    }
}

/// The bundle's anchor: the record the proofs are against when it is on chain, or else the
/// worker's view, with the status at most *pending*.
pub(super) fn bundle_anchor(
    a: BundleAnchoring,
    anchored: Option<&AnchorRecord>,
    log_id: String,
) -> BundleAnchor {
    match anchored {
        Some(r) => BundleAnchor {
            status: a.view.status,
            chain_id: r.chain_id,
            contract: r.contract.clone(),
            log_id: r.log_id.clone(),
            tree_size: Some(r.tree_size),
            root: Some(r.root.clone()),
            checkpoint_hash: Some(r.checkpoint_hash.clone()),
            tx_hash: r.tx_hash.clone(),
            block_number: r.block_number,
            block_hash: r.block_hash.clone(),
            block_timestamp: r.block_timestamp,
        },
        None => BundleAnchor {
            status: if a.view.status.on_chain() {
                AnchorStatus::AnchorPending
            } else {
                a.view.status
            },
            chain_id: a.view.chain_id,
            contract: a.view.contract.clone(),
            log_id,
            tree_size: a.view.tree_size,
            root: None,
            checkpoint_hash: None,
            tx_hash: None,
            block_number: None,
            block_hash: None,
            block_timestamp: None,
        },
    }
}

#[cfg(test)]
mod tests {
    //! Bundles built by the service verify; the bundle decoder and verifier are fuzzed with
    //! mutated bundles: they never panic, and whatever still verifies says the same thing.

    use proptest::prelude::*;

    use crate::bundle::{parse, verify};
    use crate::service::issuance::tests::req;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;

    /// The presented code and its issued item.
    pub(crate) fn issued(
        svc: &crate::service::Service,
        code: &str,
    ) -> (crate::code::Code, crate::service::items::IssuedItem) {
        let c = crate::code::Code::parse(code).unwrap();
        let item = svc.issuance().issued_item(&c).unwrap();
        (c, item)
    }

    fn sample() -> (String, crate::bundle::Verified) {
        let (svc, _) = test_service();
        seed(&svc);
        let (b, _) = svc.issuance().issue_batch(&req(11), "k", &|_| {}).unwrap();
        // Its lot's custody chain: 5 actors (2 log records each), 10 lot-wide records.
        let cast = crate::service::custody::tests::cast(&svc);
        let lot = format!("09506000134352.{}", b.lot);
        for (role, e) in crate::service::custody::tests::route() {
            cast.submit(&svc, role, &lot, e, vec![]).unwrap();
        }
        // Its issuer key rotated out, then revoked from a second after the batch: the bundle
        // carries both records, and the item (issued before) stays valid.
        let k1 = svc.issuance().issuer().kid.to_string();
        svc.keyring().rotate(crate::keys::generate()).unwrap();
        let created = svc.issuance().stored_batch(b.id).unwrap().created_unix;
        while crate::service::now_unix() <= created {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let input = crate::service::keyring::RevokeInput {
            from: created + 1,
            reason: "key leaked".into(),
        };
        svc.keyring().revoke(&k1, &input).unwrap();
        svc.log().checkpoint_now().unwrap();
        let code = svc.issuance().batch_codes(&b, 6, 1).unwrap().remove(0);
        let (c, item) = issued(&svc, &code.code);
        let index = item.record.leaf_index;
        let bundle = svc.bundle(&c, &item, None).unwrap();
        assert_eq!(bundle.code, code.code);
        let json = serde_json::to_string(&bundle).unwrap();
        let v = verify(&parse(&json).unwrap()).unwrap();
        // The log: the product record, 11 items, 5 actors (registration, key, engagement
        // each), 10 custody records, a rotation (2 records) and a revocation.
        assert_eq!((v.tree_size, v.records[0].0), (40, index));
        assert_eq!(v.custody_records, 10);
        assert_eq!(
            v.records.len(),
            1 + 10 + 1 + 5 + 10 + 2,
            "item, 10 actor records, the product record, 5 engagements, 10 custody, the key's retirement and revocation"
        );
        assert_eq!(v.key_revocation.as_ref().map(|r| r.from), Some(created + 1));
        assert!(v.anchor.is_none() && v.anchor_status.is_none());
        (json, v)
    }

    #[test]
    fn custody_records_newer_than_the_anchored_checkpoint_are_proven_against_the_latest() {
        use crate::service::anchoring::BundleAnchoring;
        use crate::service::anchoring::{AnchorRecord, AnchorStatus, AnchorView};
        let (svc, _) = test_service();
        seed(&svc);
        let (b, _) = svc.issuance().issue_batch(&req(11), "k", &|_| {}).unwrap();
        // The issuance is anchored at size 12 (the product record and 11 items); custody
        // comes later.
        let cp = svc.log().checkpoint_now().unwrap().unwrap();
        assert_eq!(cp.size, 12);
        let rec = AnchorRecord {
            chain_id: 31337,
            contract: "0x5fbdb2315678afecb367f032d93f642f64180aa3".into(),
            log_id: crate::anchor::hex0x(&crate::anchor::log_id(svc.origin())),
            tree_size: 12,
            root: crate::anchor::hex0x(cp.root_hash().unwrap().as_bytes()),
            checkpoint_hash: crate::anchor::hex0x(&crate::anchor::checkpoint_hash(&cp.note)),
            status: AnchorStatus::Confirmed,
            attempts: vec![],
            tx_hash: Some(format!("0x{}", "ab".repeat(32))),
            block_number: Some(7),
            block_hash: Some(format!("0x{}", "cd".repeat(32))),
            block_timestamp: Some(1_764_000_000),
            gas_used: Some(101_820),
            effective_gas_price: Some(1),
            created_at_ms: 0,
            anchored_at_ms: Some(1),
            confirmed_at_ms: Some(2),
            finalized_at_ms: None,
            reorgs: 0,
        };
        let cast = crate::service::custody::tests::cast(&svc);
        let lot = format!("09506000134352.{}", b.lot);
        for (role, e) in crate::service::custody::tests::route() {
            cast.submit(&svc, role, &lot, e, vec![]).unwrap();
        }
        svc.log().checkpoint_now().unwrap();
        let code = svc.issuance().batch_codes(&b, 2, 1).unwrap().remove(0);
        let (c, item) = issued(&svc, &code.code);
        let view = AnchorView {
            status: AnchorStatus::Confirmed,
            chain_id: 31337,
            contract: rec.contract.clone(),
            tx_hash: rec.tx_hash.clone(),
            block_number: Some(7),
            tree_size: Some(12),
        };
        let bundle = svc
            .bundle(
                &c,
                &item,
                Some(BundleAnchoring {
                    view,
                    record: Some(rec),
                }),
            )
            .unwrap();
        let v = verify(&parse(&serde_json::to_string(&bundle).unwrap()).unwrap()).unwrap();
        assert_eq!(
            v.tree_size, 12,
            "proofs of the anchored records are against the anchor"
        );
        assert_eq!(
            v.records.len(),
            2,
            "only the issuance and the product record are in the anchored checkpoint"
        );
        assert_eq!(
            v.newer_records, 25,
            "10 actor records, 5 engagements and 10 custody records"
        );
        assert_eq!(v.custody_records, 10);
        assert_eq!(v.latest_size, Some(37));
        assert!(v.anchor.is_some());
        // A newer record claiming another tree size is refused.
        let mut t = bundle.clone();
        let i = t
            .records
            .iter()
            .position(|r| r.tree_size.is_some())
            .unwrap();
        t.records[i].tree_size = Some(30);
        assert_eq!(verify(&t).unwrap_err().check(), "records");
    }

    #[test]
    fn custody_omissions_and_foreign_keys_are_caught() {
        let (json, _) = sample();
        let b = parse(&json).unwrap();
        // Dropping a lot-wide record breaks the hash chain (proofs of the rest still hold).
        let mut t = b.clone();
        let i = t.records.iter().position(|r| r.kind == "custody").unwrap();
        t.records.remove(i + 3);
        let e = verify(&t).unwrap_err();
        assert_eq!(e.check(), "custody", "{e}");
        assert!(e.detail().contains("does not link"), "{e}");
        // Dropping the signers' registry records leaves their keys unknown.
        let mut t = b.clone();
        t.records.retain(|r| r.kind != "actor");
        let e = verify(&t).unwrap_err();
        assert!(e.detail().contains("no registration record"), "{e}");
        // A custody record of another kind label.
        let mut t = b.clone();
        t.records[i].kind = "item".into();
        assert_eq!(verify(&t).unwrap_err().check(), "records");
        // Without the engagement records, no signer was engaged by the importer.
        let mut t = b.clone();
        t.records.retain(|r| r.kind != "engagement");
        let e = verify(&t).unwrap_err();
        assert_eq!(e.check(), "custody", "{e}");
        assert!(
            e.detail()
                .contains("is not engaged by enterprise 1 for GTIN 09506000134352"),
            "{e}"
        );
        // Without the product record, the GTIN has no owner to have engaged anyone.
        let mut t = b.clone();
        t.records.retain(|r| r.kind != "product");
        let e = verify(&t).unwrap_err();
        assert!(e.detail().contains("no product record of GTIN"), "{e}");
    }

    /// Engagements are read as the log stood at each record: a record accepted while its
    /// signer was engaged still verifies after the engagement ends, and the bundle carries
    /// the end record too.
    #[test]
    fn a_record_signed_while_engaged_verifies_after_the_engagement_ends() {
        let (svc, _) = test_service();
        let p = seed(&svc);
        let (b, _) = svc.issuance().issue_batch(&req(2), "k", &|_| {}).unwrap();
        let cast = crate::service::custody::tests::cast(&svc);
        let lot = format!("09506000134352.{}", b.lot);
        for (role, e) in crate::service::custody::tests::route().into_iter().take(3) {
            cast.submit(&svc, role, &lot, e, vec![]).unwrap();
        }
        let (carrier, _) = &cast.keys[&crate::custody::Role::Carrier];
        svc.engagements()
            .end_engagement(p.enterprise_id, carrier)
            .unwrap();
        svc.log().checkpoint_now().unwrap();
        let code = svc.issuance().batch_codes(&b, 0, 1).unwrap().remove(0);
        let (c, item) = issued(&svc, &code.code);
        let bundle = svc.bundle(&c, &item, None).unwrap();
        assert_eq!(
            bundle
                .records
                .iter()
                .filter(|r| r.kind == "engagement")
                .count(),
            3,
            "the signers' engagements (inspector, carrier) and the carrier's end"
        );
        let v = verify(&bundle).unwrap();
        assert_eq!(v.custody_records, 3);
    }

    #[test]
    fn issuer_key_records_are_checked_and_a_revocation_the_item_does_not_predate_fails() {
        let (json, _) = sample();
        let b = parse(&json).unwrap();
        let keyed =
            |b: &crate::bundle::Bundle| b.records.iter().filter(|r| r.kind == "issuer_key").count();
        assert_eq!(keyed(&b), 2);
        // Relabelled: refused.
        let mut t = b.clone();
        let i = t
            .records
            .iter()
            .position(|r| r.kind == "issuer_key")
            .unwrap();
        t.records[i].kind = "actor".into();
        assert_eq!(verify(&t).unwrap_err().check(), "records");
        // Left out, the revocation is unknown offline (pin the keys: verify-bundle --keys).
        let mut t = b.clone();
        t.records.retain(|r| r.kind != "issuer_key");
        assert_eq!(verify(&t).unwrap().key_revocation, None);
        // A revocation from before the item's issue: the code is not valid.
        let (svc, _) = test_service();
        seed(&svc);
        let k1 = svc.issuance().issuer().kid.to_string();
        let (batch, _) = svc.issuance().issue_batch(&req(1), "k", &|_| {}).unwrap();
        svc.keyring().rotate(crate::keys::generate()).unwrap();
        let input = crate::service::keyring::RevokeInput {
            from: svc.issuance().stored_batch(batch.id).unwrap().created_unix,
            reason: "key leaked".into(),
        };
        svc.keyring().revoke(&k1, &input).unwrap();
        svc.log().checkpoint_now().unwrap();
        let code = svc.issuance().batch_codes(&batch, 0, 1).unwrap().remove(0);
        let (c, item) = issued(&svc, &code.code);
        let e = verify(&svc.bundle(&c, &item, None).unwrap()).unwrap_err();
        assert_eq!(e.check(), "issuer_key_revoked");
        assert!(e.detail().contains("(key leaked)"), "{e}");
    }

    #[test]
    fn a_bundle_verifies_and_field_tampering_is_caught() {
        let (json, _) = sample();
        let b = parse(&json).unwrap();
        let mut t = b.clone();
        t.records[0].leaf_index += 1;
        assert_eq!(verify(&t).unwrap_err().check(), "inclusion");
        let mut t = b.clone();
        t.code = t.code.replace("/21/", "/21/X");
        assert!(verify(&t).is_err());
        let mut t = b.clone();
        t.checkpoint = t.checkpoint.replacen("\n40\n", "\n41\n", 1);
        assert_eq!(verify(&t).unwrap_err().check(), "checkpoint");
        let mut t = b.clone();
        t.keys.issuers.clear();
        assert_eq!(verify(&t).unwrap_err().check(), "code");
        let mut t = b.clone();
        t.records[0].inclusion_proof = vec![t.records[0].inclusion_proof[0].clone(); 65];
        assert!(verify(&t).unwrap_err().detail().contains("at most 64"));
        let mut t = b;
        t.format = "traceseal-bundle/v0".into();
        assert_eq!(verify(&t).unwrap_err().check(), "format");
        assert!(parse("{\"format\":1}").is_err());
        assert!(
            parse(&json.replacen('{', "{\"extra\":1,", 1)).is_err(),
            "unknown fields are refused"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn mutated_bundles_never_panic_and_never_verify_differently(
            pos in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let (json, want) = SAMPLE.with(|s| s.clone());
            let mut bytes = json.into_bytes();
            let i = pos.index(bytes.len());
            bytes[i] = byte;
            let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
            if let Ok(b) = parse(&text) {
                if let Ok(v) = verify(&b) {
                    prop_assert_eq!(v, want);
                }
            }
        }

        #[test]
        fn arbitrary_text_is_an_error_not_a_panic(s in ".{0,400}") {
            if let Ok(b) = parse(&s) {
                let _ = verify(&b);
            }
        }
    }

    thread_local! {
        static SAMPLE: (String, crate::bundle::Verified) = sample();
    }
}
