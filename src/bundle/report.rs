//! Credit reports (`traceseal/credit-report/v1`): one self-contained JSON document an
//! enterprise hands to its bank or insurer, proving its credit-risk grade, score, factors and
//! history without trusting the service (`docs/credit-report.md`). It holds every grade and
//! warning-list leaf of the enterprise with its inclusion proof against one signed checkpoint
//! (the anchored one when there is one), the anchor claim, and a **statement** signed by the
//! log key binding the enterprise's name and USCC to its id, the leaves and the checkpoint.
//!
//! [`verify`] checks everything that needs no chain; the caller checks the anchor on chain.

use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{anchor_claim, fail, proof, AnchorClaim, BundleAnchor, BundleError, BundleRecord};
use crate::anchor::Word;
use crate::checkpoint::{open_checkpoint, NoteVerifier};
use crate::leaf::LeafRecord;
use crate::merkle;
use crate::records::{GradeRecord, WarningRecord};

/// The report's format, and the first line of its signed statement.
pub const REPORT_FORMAT: &str = "traceseal/credit-report/v1";
/// Most records a report may carry (grade and warning changes).
pub const MAX_REPORT_RECORDS: usize = 4_096;
/// Largest report accepted, in bytes.
pub const MAX_REPORT_BYTES: usize = 8 << 20;

/// The enterprise a report is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportEnterprise {
    /// Its id on the platform (what the leaves name).
    pub id: u64,
    /// Its legal name.
    pub name: String,
    /// Its unified social credit code.
    pub uscc: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// What the log key signs: the enterprise, when, the checkpoint and the leaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportStatement {
    /// The enterprise.
    pub enterprise: ReportEnterprise,
    /// When the report was made (Unix seconds).
    pub issued_at: i64,
    /// The checkpoint's tree size.
    pub tree_size: u64,
    /// The checkpoint's root (base64).
    pub root: String,
    /// The leaf index of every record, in the report's order.
    pub leaves: Vec<u64>,
}

impl ReportStatement {
    /// The note text the log key signs: the format line, then the canonical JSON.
    pub fn text(&self) -> String {
        let json = serde_json::to_value(self)
            .ok()
            .and_then(|v| crate::custody::canon::to_string(&v).ok())
            .unwrap_or_default();
        format!("{REPORT_FORMAT}\n{json}\n")
    }
}

/// A credit report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditReport {
    /// `traceseal/credit-report/v1`.
    pub format: String,
    /// The enterprise.
    pub enterprise: ReportEnterprise,
    /// When it was made (Unix seconds).
    pub issued_at: i64,
    /// The [`ReportStatement`] as a note signed by the log key (C2SP signed-note).
    pub statement: String,
    /// Every grade and warning-list leaf of the enterprise (the newest 1,000 of each), with
    /// its inclusion proof against `checkpoint`.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<BundleRecord>,
    /// The signed checkpoint the proofs are against (C2SP tlog-checkpoint).
    pub checkpoint: String,
    /// The checkpoint's anchor on chain, when the service anchors.
    #[schema(value_type = Option<Object>)]
    pub anchor: Option<BundleAnchor>,
    /// The log's note verifier key (pin it: `GET /api/v1/keys`).
    pub log_vkey: String,
}

/// What a verified report proves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedReport {
    /// The enterprise, as the log key signed it.
    pub enterprise: ReportEnterprise,
    /// When the report was made.
    pub issued_at: i64,
    /// The log's origin.
    pub origin: String,
    /// The checkpoint's size.
    pub tree_size: u64,
    /// The grade changes, by sequence (contiguous), each with its leaf index.
    pub grades: Vec<(u64, GradeRecord)>,
    /// The warning-list changes, by sequence (contiguous), each with its leaf index.
    pub warnings: Vec<(u64, WarningRecord)>,
    /// Each record's (leaf index, leaf hash, proof), for the chain's own checks.
    pub records: Vec<(u64, Word, Vec<Word>)>,
    /// The anchor claim, checked against the checkpoint.
    pub anchor: Option<AnchorClaim>,
}

impl VerifiedReport {
    /// The latest grade change: the grade in force as of the checkpoint.
    pub fn latest_grade(&self) -> Option<&GradeRecord> {
        self.grades.last().map(|(_, g)| g)
    }

    /// The latest warning-list change (its listings are the ones in force), if any.
    pub fn latest_warning(&self) -> Option<&WarningRecord> {
        self.warnings.last().map(|(_, w)| w)
    }
}

/// Parses a report from JSON text (strict: unknown fields are errors).
pub fn parse_report(text: &str) -> Result<CreditReport, BundleError> {
    if text.len() > MAX_REPORT_BYTES {
        return fail(
            BundleError::Format,
            format!("larger than {MAX_REPORT_BYTES} bytes"),
        );
    }
    serde_json::from_str(text)
        .or_else(|e| fail(BundleError::Format, format!("not a credit report: {e}")))
}

/// Checks a report without the chain: the checkpoint and the statement against the log key
/// (`pinned`, else the report's own `log_vkey`), that the statement names the report's
/// enterprise, time, checkpoint and leaves, each leaf's inclusion proof, that every leaf is a
/// grade or warning change of that enterprise, that their sequences run without a gap, and
/// that the anchor claim matches the checkpoint.
pub fn verify_report(
    r: &CreditReport,
    pinned: Option<&NoteVerifier>,
) -> Result<VerifiedReport, BundleError> {
    if r.format != REPORT_FORMAT {
        return fail(
            BundleError::Format,
            format!("format is {:?}, expected {REPORT_FORMAT:?}", r.format),
        );
    }
    let own = NoteVerifier::from_vkey(&r.log_vkey)
        .or_else(|e| fail(BundleError::Keys, format!("log verifier key: {e}")))?;
    let log = pinned.unwrap_or(&own);
    let cp = open_checkpoint(&r.checkpoint, log)
        .or_else(|e| fail(BundleError::Checkpoint, format!("{e}")))?;
    check_statement(r, log, &cp)?;
    let mut out = VerifiedReport {
        enterprise: r.enterprise.clone(),
        issued_at: r.issued_at,
        origin: cp.origin.clone(),
        tree_size: cp.size,
        grades: Vec::new(),
        warnings: Vec::new(),
        records: Vec::with_capacity(r.records.len()),
        anchor: None,
    };
    for rec in &r.records {
        check_record(rec, r.enterprise.id, &cp, &mut out)?;
    }
    check_sequences(&mut out)?;
    out.anchor = match &r.anchor {
        Some(a) if a.status.on_chain() => Some(anchor_claim(a, &r.checkpoint, &cp)?),
        _ => None,
    };
    Ok(out)
}

/// The signed statement names exactly this report's enterprise, time, checkpoint and leaves.
fn check_statement(
    r: &CreditReport,
    log: &NoteVerifier,
    cp: &crate::checkpoint::Checkpoint,
) -> Result<(), BundleError> {
    let text = log
        .verify(&r.statement)
        .or_else(|e| fail(BundleError::Keys, format!("statement: {e}")))?;
    let json = text
        .strip_prefix(REPORT_FORMAT)
        .and_then(|t| t.strip_prefix('\n'))
        .and_then(|t| t.strip_suffix('\n'))
        .ok_or_else(|| BundleError::Format("statement: not a credit-report statement".into()))?;
    let st: ReportStatement = serde_json::from_str(json)
        .or_else(|e| fail(BundleError::Format, format!("statement: {e}")))?;
    if st.text() != text {
        return fail(BundleError::Format, "statement: not in canonical form");
    }
    let leaves: Vec<u64> = r.records.iter().map(|x| x.leaf_index).collect();
    let same = st.enterprise == r.enterprise
        && st.issued_at == r.issued_at
        && st.tree_size == cp.size
        && st.root == cp.root.to_base64()
        && st.leaves == leaves;
    if !same {
        return fail(
            BundleError::Records,
            "the signed statement does not name this report's enterprise, time, checkpoint and leaves",
        );
    }
    Ok(())
}

/// One record: its inclusion in the checkpoint, and a grade or warning change of `id`.
fn check_record(
    rec: &BundleRecord,
    id: u64,
    cp: &crate::checkpoint::Checkpoint,
    out: &mut VerifiedReport,
) -> Result<(), BundleError> {
    let i = rec.leaf_index;
    if out.records.len() >= MAX_REPORT_RECORDS || rec.tree_size.is_some() {
        return fail(
            BundleError::Records,
            format!("leaf {i}: at most {MAX_REPORT_RECORDS} records, all against the checkpoint"),
        );
    }
    let data = base64::engine::general_purpose::STANDARD
        .decode(&rec.leaf_data)
        .or_else(|e| fail(BundleError::Records, format!("leaf {i}: bad base64: {e}")))?;
    let p = proof(BundleError::Inclusion, &rec.inclusion_proof)?;
    let lh = merkle::leaf_hash(&data);
    merkle::verify_inclusion(&lh, i, cp.size, &p, &cp.root).or_else(|e| {
        fail(
            BundleError::Inclusion,
            format!("leaf {i} is not in the checkpoint of size {}: {e}", cp.size),
        )
    })?;
    let about = match LeafRecord::parse(&data) {
        Ok(LeafRecord::Grade(g)) if g.enterprise == id && rec.kind == "grade" => {
            out.grades.push((i, g));
            true
        }
        Ok(LeafRecord::Warning(w)) if w.enterprise == id && rec.kind == "warning" => {
            out.warnings.push((i, w));
            true
        }
        _ => false,
    };
    if !about {
        return fail(
            BundleError::Records,
            format!("leaf {i} is not a {} change of enterprise {id}", rec.kind),
        );
    }
    out.records
        .push((i, *lh.as_bytes(), p.iter().map(|h| *h.as_bytes()).collect()));
    Ok(())
}

/// Grade and warning changes each run by sequence without a gap or a repeat, up to the
/// latest: a report cannot leave a change out. There is at least one grade.
fn check_sequences(out: &mut VerifiedReport) -> Result<(), BundleError> {
    out.grades.sort_by_key(|(_, g)| g.seq);
    out.warnings.sort_by_key(|(_, w)| w.seq);
    let gs: Vec<u64> = out.grades.iter().map(|(_, g)| g.seq).collect();
    let ws: Vec<u64> = out.warnings.iter().map(|(_, w)| w.seq).collect();
    if gs.is_empty() {
        return fail(BundleError::Records, "the report has no grade");
    }
    for (what, seqs) in [("grade", gs), ("warning-list", ws)] {
        if seqs.windows(2).any(|w| w[1] != w[0] + 1) {
            return fail(
                BundleError::Records,
                format!("the {what} changes skip or repeat a sequence number: {seqs:?}"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::{Principal, Role};
    use crate::grading::Grade;
    use crate::service::custody::{LotInput, RecallInput};
    use crate::service::grading::OverrideInput;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::{now_unix, Service};

    /// A report of the seeded importer with three grade changes: B; C after a recall; B set
    /// by the operator.
    fn report(svc: &Service) -> CreditReport {
        let p = seed(svc);
        let g = svc.grading();
        g.refresh(now_unix()).unwrap();
        let input = LotInput {
            gtin: p.gtin.clone(),
            lot: "R1".into(),
        };
        svc.custody().declare_lot(&input).unwrap();
        let recall = RecallInput {
            reason: "mislabelled allergens".into(),
            class: None,
        };
        svc.custody()
            .recall(&format!("{}.R1", p.gtin), &recall)
            .unwrap();
        g.refresh(now_unix()).unwrap();
        let op = Principal {
            id: "op".into(),
            role: Role::Operator,
            enterprise: None,
            request: "req-1".into(),
        };
        let o = OverrideInput {
            grade: Grade::B,
            reason: "the recall was the supplier's labelling error".into(),
        };
        g.set_override(p.enterprise_id, &o, &op).unwrap();
        svc.log().checkpoint_now().unwrap();
        let leaves = svc.report_leaves(p.enterprise_id).unwrap();
        svc.credit_report(p.enterprise_id, &leaves, None).unwrap()
    }

    /// Signs a statement for `r` as it now stands, with the log key: what only a lying
    /// service could do.
    fn resign(svc: &Service, r: &mut CreditReport) {
        let cp = open_checkpoint(&r.checkpoint, &svc.log().signer().verifier()).unwrap();
        let st = ReportStatement {
            enterprise: r.enterprise.clone(),
            issued_at: r.issued_at,
            tree_size: cp.size,
            root: cp.root.to_base64(),
            leaves: r.records.iter().map(|x| x.leaf_index).collect(),
        };
        r.statement = svc.log().signer().sign(&st.text()).unwrap();
    }

    #[test]
    fn a_report_verifies_and_nothing_in_it_can_be_changed_or_left_out() {
        let (svc, _) = test_service();
        let r = report(&svc);
        let v = verify_report(&r, None).unwrap();
        let seqs: Vec<u64> = v.grades.iter().map(|(_, g)| g.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3]);
        let g = v.latest_grade().unwrap();
        assert_eq!(
            (g.grade, g.computed, g.score_tenths),
            (Grade::B, Grade::C, 580)
        );
        assert!(v.anchor.is_none());

        // The enterprise the statement binds cannot be renamed.
        let mut renamed = r.clone();
        renamed.enterprise.name = "Someone Else Ltd".into();
        let e = verify_report(&renamed, None).unwrap_err();
        assert!(e.to_string().contains("signed statement"), "{e}");
        // A change left out: the statement names it.
        let middle = v.grades[1].0;
        let mut cut = r.clone();
        cut.records.retain(|x| x.leaf_index != middle);
        assert!(verify_report(&cut, None).is_err());
        // Even with a statement signed for the cut history: the sequence has a gap.
        resign(&svc, &mut cut);
        let e = verify_report(&cut, None).unwrap_err();
        assert!(e.to_string().contains("skip or repeat"), "{e}");
        // A statement signed by another key; a pinned key that is not the log's.
        let other = crate::checkpoint::NoteSigner::new(
            "verify.example.com/log",
            ed25519_dalek::SigningKey::from_bytes(&[9; 32]),
        )
        .unwrap();
        let mut forged = r.clone();
        let body = svc.log().signer().verifier().verify(&r.statement).unwrap();
        forged.statement = other.sign(&body).unwrap();
        let e = verify_report(&forged, None).unwrap_err();
        assert!(e.to_string().starts_with("keys: statement"), "{e}");
        assert!(matches!(
            verify_report(&r, Some(&other.verifier())),
            Err(BundleError::Checkpoint(_))
        ));
        // A leaf's bytes changed.
        let mut flipped = r.clone();
        flipped.records[0].leaf_data =
            base64::engine::general_purpose::STANDARD.encode(b"traceseal/grade/v1\n{}\n");
        assert!(matches!(
            verify_report(&flipped, None),
            Err(BundleError::Inclusion(_))
        ));
        assert!(parse_report("{\"format\": 1}").is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Any byte of a report changed: the decoder never panics, and whatever still
        /// verifies proves the same enterprise and history.
        #[test]
        fn mutated_reports_never_panic_nor_prove_another_history(
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..4)
        ) {
            let (svc, _) = test_service();
            let r = report(&svc);
            let good = verify_report(&r, None).unwrap();
            let mut bytes = serde_json::to_vec(&r).unwrap();
            for (i, b) in edits {
                let at = i.index(bytes.len());
                bytes[at] = b;
            }
            let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
            if let Ok(v) = parse_report(&text).and_then(|m| verify_report(&m, None)) {
                proptest::prop_assert_eq!(v.enterprise, good.enterprise);
                proptest::prop_assert_eq!(v.grades, good.grades);
                proptest::prop_assert_eq!(v.warnings, good.warnings);
            }
        }
    }
}
