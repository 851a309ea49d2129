//! The public verification use cases, each one async call for the edge: a scan (the blocking
//! verdict, then the live anchor view of its leaf) and a proof bundle (the item, the anchoring
//! facts of its leaf, the bundle). The HTTP edge and the CLI call these and nothing under them.

use std::net::IpAddr;
use std::sync::Arc;

use time::OffsetDateTime;

use super::anchoring::AnchorSlot;
use super::verdict::Verdict;
use super::{Result, Service, ServiceError};
use crate::bundle::Bundle;
use crate::code::Code;

/// Scans and bundles over the service and the anchoring worker.
pub struct Verifier {
    svc: Arc<Service>,
    anchor: Arc<AnchorSlot>,
}

impl Verifier {
    /// Verification over `svc`, with anchors from `anchor` (off, waiting or ready).
    pub fn new(svc: Arc<Service>, anchor: Arc<AnchorSlot>) -> Verifier {
        Verifier { svc, anchor }
    }

    /// The anchoring worker's slot (set once the chain is reached).
    pub fn anchor(&self) -> &AnchorSlot {
        &self.anchor
    }

    /// Verifies a code and records the scan; never fails (see [`Service::scan`]), and the
    /// anchor of the item's leaf is live-checked.
    pub async fn scan(&self, code: Code, client: Option<IpAddr>, at: OffsetDateTime) -> Verdict {
        let svc = self.svc.clone();
        let scanned =
            tokio::task::spawn_blocking(move || svc.scans().scan(&code, client, at)).await;
        let Ok(mut v) = scanned else {
            return Verdict::cannot_verify_now("the verification worker failed; please try again");
        };
        if let Some(log) = v.log.as_ref() {
            v.anchor = self.anchor.view(log.leaf_index).await;
        }
        v
    }

    /// The proof bundle of the item `code` names (404 for a code we did not issue, 409 before
    /// its leaf is in a signed checkpoint).
    pub async fn bundle(&self, code: Code) -> Result<Bundle> {
        let svc = self.svc.clone();
        let c = code.clone();
        let item = blocking(move || svc.issuance().issued_item(&c)).await?;
        let anchoring = self.anchor.bundle_anchoring(item.record.leaf_index).await;
        let svc = self.svc.clone();
        blocking(move || svc.bundle(&code, &item, anchoring)).await
    }
}

impl Verifier {
    /// The credit report of enterprise `id` (404 before it is graded, 409 while its newest
    /// change is in no signed checkpoint yet).
    pub async fn credit_report(&self, id: u64) -> Result<crate::bundle::CreditReport> {
        let svc = self.svc.clone();
        let leaves = blocking(move || svc.report_leaves(id)).await?;
        let newest = leaves.last().map_or(0, |(i, _)| *i);
        let anchoring = self.anchor.bundle_anchoring(newest).await;
        let svc = self.svc.clone();
        blocking(move || svc.credit_report(id, &leaves, anchoring)).await
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ServiceError::Internal(format!("worker task failed: {e}")))?
}
