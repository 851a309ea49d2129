//! Credit reports of enterprises (`GET /api/v1/enterprises/{id}/credit-report`): every
//! grade and warning-list change with its inclusion proof against the anchored checkpoint
//! covering the latest (else the latest checkpoint), and a statement signed by the log key
//! binding the enterprise's name and USCC to them. Checked by `traceseal verify-report`
//! (`crate::bundle::verify_report`). See `docs/credit-report.md`.

use base64::Engine;

use super::anchoring::{hex0x, log_id, BundleAnchoring};
use super::bundle::bundle_anchor;
use super::errors::LogError;
use super::{now_unix, Result, Service, ServiceError, SignedCheckpoint};
use crate::bundle::{BundleRecord, CreditReport, ReportEnterprise, ReportStatement, REPORT_FORMAT};
use crate::merkle::Hash;

impl Service {
    /// The leaves a credit report of enterprise `id` proves, oldest first, each with its kind
    /// (`grade`, `warning`); the last is the newest. 404 before it is graded.
    pub fn report_leaves(&self, id: u64) -> Result<Vec<(u64, &'static str)>> {
        let v = self.grading().grade(id)?;
        let mut out: Vec<(u64, &'static str)> = v
            .history
            .iter()
            .map(|c| (c.leaf_index, "grade"))
            .chain(v.warning_history.iter().map(|c| (c.leaf_index, "warning")))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    /// The credit report of enterprise `id` over `leaves` ([`Service::report_leaves`]), with
    /// the anchoring facts of the newest (`None` when the service does not anchor). 409 while
    /// the newest change is in no signed checkpoint yet.
    pub fn credit_report(
        &self,
        id: u64,
        leaves: &[(u64, &'static str)],
        anchoring: Option<BundleAnchoring>,
    ) -> Result<CreditReport> {
        let ent = self.master().enterprise(id)?;
        let newest = leaves
            .last()
            .map(|(i, _)| *i)
            .ok_or_else(|| ServiceError::internal("a graded enterprise without grade leaves"))?;
        let (cp, anchored) = self.report_checkpoint(newest, anchoring.as_ref())?;
        let indexes: Vec<u64> = leaves.iter().map(|(i, _)| *i).collect();
        let data = self.log().leaves_data(&indexes)?;
        let mut records = Vec::with_capacity(leaves.len());
        for ((i, kind), d) in leaves.iter().zip(data) {
            let proof = self.log().inclusion_proof(*i, cp.size)?;
            records.push(BundleRecord {
                kind: (*kind).into(),
                leaf_index: *i,
                leaf_data: base64::engine::general_purpose::STANDARD.encode(d),
                inclusion_proof: proof.iter().map(Hash::to_base64).collect(),
                tree_size: None,
            });
        }
        let enterprise = ReportEnterprise {
            id,
            name: ent.name,
            uscc: ent.uscc,
            country: ent.country,
        };
        let issued_at = now_unix();
        let statement = ReportStatement {
            enterprise: enterprise.clone(),
            issued_at,
            tree_size: cp.size,
            root: cp.root.clone(),
            leaves: indexes,
        };
        let statement = self
            .log()
            .signer()
            .sign(&statement.text())
            .map_err(|e| ServiceError::internal(format!("signing a credit report: {e}")))?;
        let lid = hex0x(&log_id(self.origin()));
        Ok(CreditReport {
            format: REPORT_FORMAT.to_string(),
            enterprise,
            issued_at,
            statement,
            records,
            checkpoint: cp.note,
            anchor: anchoring.map(|a| bundle_anchor(a, anchored.as_ref(), lid)),
            log_vkey: self.log().signer().vkey(),
        })
    }

    /// The checkpoint a report's proofs are against: the anchored one covering leaf `newest`
    /// when it is on chain, else the latest (which must cover it).
    fn report_checkpoint(
        &self,
        newest: u64,
        anchoring: Option<&BundleAnchoring>,
    ) -> Result<(SignedCheckpoint, Option<super::anchoring::AnchorRecord>)> {
        if let Some(BundleAnchoring {
            view,
            record: Some(r),
        }) = anchoring
        {
            if view.status.on_chain() && r.tree_size > newest {
                if let Some(cp) = self.log().checkpoint_at(r.tree_size)? {
                    return Ok((cp, Some(r.clone())));
                }
            }
        }
        let latest = self
            .log()
            .latest_checkpoint()?
            .filter(|c| c.size > newest)
            .ok_or(LogError::NotCheckpointed { leaf_index: newest })?;
        Ok((latest, None))
    }
}
