//! The edge's view of anchoring: off, waiting for the chain, or a running worker.

use super::*;

/// Where the HTTP edge finds the anchoring worker: off (the service does not anchor), waiting
/// (configured, the chain not reached yet: scans say pending), or ready.
pub struct AnchorSlot {
    src: std::sync::OnceLock<Arc<dyn AnchorSource>>,
    waiting: Option<AnchorView>,
}

impl AnchorSlot {
    /// The service does not anchor: verdicts and bundles carry no anchor.
    pub fn off() -> AnchorSlot {
        AnchorSlot {
            src: std::sync::OnceLock::new(),
            waiting: None,
        }
    }

    /// A running worker.
    pub fn ready(src: Arc<dyn AnchorSource>) -> AnchorSlot {
        let s = Self::off();
        let _ = s.src.set(src);
        s
    }

    /// Anchoring is configured but the chain is not reached yet; until [`Self::set`], every
    /// item reads as `anchor_pending` on `chain_id` / `contract` (as configured; may be empty).
    pub fn waiting(chain_id: u64, contract: String) -> AnchorSlot {
        AnchorSlot {
            src: std::sync::OnceLock::new(),
            waiting: Some(AnchorView {
                status: AnchorStatus::AnchorPending,
                chain_id,
                contract,
                tx_hash: None,
                block_number: None,
                tree_size: None,
            }),
        }
    }

    /// Installs the worker once the chain is reached.
    pub fn set(&self, src: Arc<dyn AnchorSource>) {
        let _ = self.src.set(src);
    }

    /// Whether the service anchors (ready or waiting).
    pub fn enabled(&self) -> bool {
        self.src.get().is_some() || self.waiting.is_some()
    }

    /// The anchoring state of leaf `index`; `None` when the service does not anchor.
    pub async fn view(&self, index: u64) -> Option<AnchorView> {
        match self.src.get() {
            Some(s) => Some(s.view(index).await),
            None => self.waiting.clone(),
        }
    }

    /// The anchoring facts for a bundle; `None` when the service does not anchor.
    pub async fn bundle_anchoring(&self, index: u64) -> Option<BundleAnchoring> {
        match self.src.get() {
            Some(s) => Some(s.bundle_anchoring(index).await),
            None => self
                .waiting
                .clone()
                .map(|view| BundleAnchoring { view, record: None }),
        }
    }
}

/// The anchoring worker as the HTTP edge sees it (object-safe, chain-agnostic).
pub trait AnchorSource: Send + Sync {
    /// The live anchoring state of leaf `index` (see [`Anchorer::anchor_view`]).
    fn view(&self, index: u64) -> std::pin::Pin<Box<dyn Future<Output = AnchorView> + Send + '_>>;
    /// The anchoring facts for a proof bundle of leaf `index`.
    fn bundle_anchoring(
        &self,
        index: u64,
    ) -> std::pin::Pin<Box<dyn Future<Output = BundleAnchoring> + Send + '_>>;
}

impl<C: ChainPort> AnchorSource for Anchorer<C> {
    fn view(&self, index: u64) -> std::pin::Pin<Box<dyn Future<Output = AnchorView> + Send + '_>> {
        Box::pin(self.anchor_view(index))
    }

    fn bundle_anchoring(
        &self,
        index: u64,
    ) -> std::pin::Pin<Box<dyn Future<Output = BundleAnchoring> + Send + '_>> {
        Box::pin(async move {
            let (view, record) = self.view_and_record(index).await;
            BundleAnchoring { view, record }
        })
    }
}
