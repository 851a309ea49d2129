//! The Merkle log: appends (used by issuance), proofs, leaves and the checkpointer.
//!
//! Lifecycle of a leaf: *sequenced* (its chunk's synced write assigns the index and stores the
//! leaf, its hash and every node it completes) → *integrated* (same write: the log size moves)
//! → *checkpointed* (a signed checkpoint covers it). Node hashes are keyed by (level, index), so
//! an append writes at most 1 + log2(n) hashes and a proof reads O(log n) of them.

use std::sync::atomic::Ordering;

use base64::Engine;
use tracing::{error, info};

use super::base::Stats;
use super::base::{lock, now, Result, ServiceError};
use super::errors::LogError;
use crate::checkpoint::Checkpoint;
use crate::checkpoint::NoteSigner;
use crate::merkle::{self, Frontier, Hash, HashReader, NodeId, ProofError};
use crate::store::schema::{
    decode_json, decode_u64, encode_json, node_key, u64_key, META_LATEST_CHECKPOINT, META_LOG_SIZE,
};
use crate::store::{Cf, Durability, Store, StoreError, WriteBatch};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::RwLock;
use utoipa::ToSchema;

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

/// The in-memory right edge of the tree; changes only after a successful synced write.
pub struct LogState {
    pub(crate) frontier: Frontier,
}

impl LogState {
    /// Rebuilds the frontier from the stored log size and node hashes.
    pub fn load(store: &dyn Store) -> Result<LogState> {
        let size = match store.get(Cf::Meta, META_LOG_SIZE)? {
            Some(v) => decode_u64(&v)?,
            None => 0,
        };
        let frontier = Frontier::load(size, &StoreHashes(store))?;
        Ok(LogState { frontier })
    }
}

/// [`HashReader`] over the store's node column family.
pub struct StoreHashes<'a>(pub &'a dyn Store);

impl HashReader for StoreHashes<'_> {
    type Error = StoreError;
    fn read_hash(&self, id: NodeId) -> Result<Hash, StoreError> {
        let last = id
            .last_leaf()
            .ok_or_else(|| StoreError::Corrupt(format!("node {id:?} is past any leaf")))?;
        match self.0.get(Cf::Nodes, &node_key(last, id.level))? {
            Some(v) => {
                Hash::from_slice(&v).map_err(|e| StoreError::Corrupt(format!("node {id:?}: {e}")))
            }
            None => Err(StoreError::Corrupt(format!("node {id:?} missing"))),
        }
    }
}

impl From<ProofError<StoreError>> for ServiceError {
    fn from(e: ProofError<StoreError>) -> Self {
        match e {
            ProofError::Read(s) => s.into(),
            other => LogError::BadProofRequest { source: other }.into(),
        }
    }
}

/// A signed checkpoint as published.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SignedCheckpoint {
    /// Tree size.
    pub size: u64,
    /// Root hash (base64).
    pub root: String,
    /// The signed note text.
    pub note: String,
    /// Unix seconds when it was signed.
    pub created_at: i64,
}

impl SignedCheckpoint {
    /// The root as a hash.
    pub fn root_hash(&self) -> Result<Hash> {
        Hash::from_base64(&self.root)
            .map_err(|e| ServiceError::Internal(format!("stored checkpoint root: {e}")))
    }
}

/// A leaf ready to append: its data and its hash (computed by the caller, in parallel).
pub struct PendingLeaf {
    /// Leaf data.
    pub data: Vec<u8>,
    /// `merkle::leaf_hash(&data)`.
    pub hash: Hash,
}

impl PendingLeaf {
    /// A leaf of `data`, hashed.
    pub fn new(data: Vec<u8>) -> PendingLeaf {
        PendingLeaf {
            hash: crate::merkle::leaf_hash(&data),
            data,
        }
    }
}

/// The Merkle log and its checkpoints: appends leaves (with the caller's index writes in the
/// same atomic batch), serves leaves and proofs, signs checkpoints.
pub struct LogBook {
    store: Arc<dyn Store>,
    stats: Arc<Stats>,
    log_signer: NoteSigner,
    origin: String,
    log: Mutex<LogState>,
    latest: RwLock<Option<SignedCheckpoint>>,
}

impl LogBook {
    /// The log over `store`, its frontier rebuilt, its latest checkpoint loaded.
    pub fn open(
        store: Arc<dyn Store>,
        stats: Arc<Stats>,
        log_signer: NoteSigner,
    ) -> Result<LogBook> {
        let log = LogState::load(store.as_ref())?;
        let book = LogBook {
            store,
            stats,
            origin: log_signer.name().to_string(),
            log_signer,
            log: Mutex::new(log),
            latest: RwLock::new(None),
        };
        book.load_latest_checkpoint()?;
        Ok(book)
    }

    /// The log's origin line (also the checkpoint key name).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The checkpoint signer (bundles sign nothing, but name its key).
    pub fn signer(&self) -> &NoteSigner {
        &self.log_signer
    }
}

impl LogBook {
    /// Appends `leaves` to the log in one synced atomic write together with `extra` (the
    /// records that reference them). `extra` is called with the index of the first leaf before
    /// the write is built. Returns the first index. The in-memory frontier moves only after
    /// the write succeeded.
    pub(crate) fn append_leaves(
        &self,
        leaves: Vec<PendingLeaf>,
        extra: impl FnOnce(u64, &mut WriteBatch) -> Result<()>,
    ) -> Result<u64> {
        self.append_leaves_with(leaves, Durability::Synced, extra)
    }

    /// [`LogBook::append_leaves`], written to the write-ahead log without waiting for the
    /// fsync: the caller must [`Store::sync`] before it tells anyone the leaves are stored.
    /// The leaves are visible (and the log size counts them) at once; a checkpoint's own
    /// synced write makes them durable before the checkpoint is published, so no signed
    /// checkpoint ever covers a leaf a power loss could take back.
    pub(crate) fn append_leaves_unsynced(
        &self,
        leaves: Vec<PendingLeaf>,
        extra: impl FnOnce(u64, &mut WriteBatch) -> Result<()>,
    ) -> Result<u64> {
        self.append_leaves_with(leaves, Durability::Buffered, extra)
    }

    /// Makes every write so far durable (one fsync of the write-ahead log).
    pub(crate) fn sync(&self) -> Result<()> {
        Ok(self.store.sync()?)
    }

    fn append_leaves_with(
        &self,
        leaves: Vec<PendingLeaf>,
        durability: Durability,
        extra: impl FnOnce(u64, &mut WriteBatch) -> Result<()>,
    ) -> Result<u64> {
        let mut log = lock(&self.log)?;
        let first = log.frontier.size();
        let mut frontier = log.frontier.clone();
        let mut wb = WriteBatch::with_capacity(leaves.len() * 4 + 4);
        for (i, leaf) in leaves.into_iter().enumerate() {
            let index = first + i as u64;
            wb.put(Cf::Leaves, u64_key(index), leaf.data);
            // Every node the append completes ends at this leaf (`node_key`).
            frontier.append(leaf.hash, |id, h| {
                debug_assert_eq!(id.last_leaf(), Some(index));
                wb.put(Cf::Nodes, node_key(index, id.level), h.as_bytes().to_vec())
            });
        }
        wb.put(Cf::Meta, META_LOG_SIZE, u64_key(frontier.size()));
        extra(first, &mut wb)?;
        self.store.write(wb, durability)?;
        log.frontier = frontier;
        Ok(first)
    }

    /// Number of leaves in the log.
    pub fn log_size(&self) -> Result<u64> {
        Ok(lock(&self.log)?.frontier.size())
    }

    /// The latest signed checkpoint.
    pub fn latest_checkpoint(&self) -> Result<Option<SignedCheckpoint>> {
        self.latest
            .read()
            .map(|g| g.clone())
            .map_err(|_| ServiceError::Internal("checkpoint lock poisoned".into()))
    }

    pub(crate) fn load_latest_checkpoint(&self) -> Result<()> {
        let cp = match self.store.get(Cf::Meta, META_LATEST_CHECKPOINT)? {
            Some(size) => {
                let size = decode_u64(&size)?;
                let v = self
                    .store
                    .get(Cf::Checkpoints, &u64_key(size))?
                    .ok_or_else(|| ServiceError::Internal(format!("checkpoint {size} missing")))?;
                Some(decode_json::<SignedCheckpoint>("checkpoint", &v)?)
            }
            None => None,
        };
        *self
            .latest
            .write()
            .map_err(|_| ServiceError::Internal("checkpoint lock poisoned".into()))? = cp;
        Ok(())
    }

    /// Signs a checkpoint when the log has grown since the last one (or none exists yet),
    /// after checking the new tree is consistent with the previous checkpoint. Returns the new
    /// checkpoint, or `None` when there was nothing new.
    pub fn checkpoint_now(&self) -> Result<Option<SignedCheckpoint>> {
        let (size, root) = {
            let log = lock(&self.log)?;
            (log.frontier.size(), log.frontier.root())
        };
        let prev = self.latest_checkpoint()?;
        if let Some(p) = &prev {
            if p.size >= size {
                return Ok(None);
            }
        }
        // Every tree extends the empty tree (RFC 9162 defines no proof from size 0).
        if let Some(p) = prev.as_ref().filter(|p| p.size > 0) {
            let proof = merkle::consistency_proof(p.size, size, &StoreHashes(self.store.as_ref()))?;
            if let Err(e) = merkle::verify_consistency(p.size, size, &proof, &p.root_hash()?, &root)
            {
                error!(from = p.size, to = size, error = %e, "log is NOT consistent with the last checkpoint; refusing to sign");
                return Err(ServiceError::Internal(format!(
                    "log of size {size} is not consistent with checkpoint {}: {e}",
                    p.size
                )));
            }
        }
        let body = Checkpoint {
            origin: self.origin.clone(),
            size,
            root,
        }
        .body();
        let note = self
            .log_signer
            .sign(&body)
            .map_err(|e| ServiceError::Internal(format!("signing checkpoint: {e}")))?;
        let cp = SignedCheckpoint {
            size,
            root: root.to_base64(),
            note,
            created_at: now().unix_timestamp(),
        };
        let mut wb = WriteBatch::new();
        wb.put(Cf::Checkpoints, u64_key(size), encode_json(&cp));
        wb.put(Cf::Meta, META_LATEST_CHECKPOINT, u64_key(size));
        self.store.write(wb, Durability::Synced)?;
        *self
            .latest
            .write()
            .map_err(|_| ServiceError::Internal("checkpoint lock poisoned".into()))? =
            Some(cp.clone());
        self.stats
            .checkpoints_signed
            .fetch_add(1, Ordering::Relaxed);
        info!(size, root = %cp.root, "signed checkpoint");
        Ok(Some(cp))
    }

    /// A stored checkpoint of exactly `size`, if one was signed.
    pub fn checkpoint_at(&self, size: u64) -> Result<Option<SignedCheckpoint>> {
        match self.store.get(Cf::Checkpoints, &u64_key(size))? {
            Some(v) => Ok(Some(decode_json("checkpoint", &v)?)),
            None => Ok(None),
        }
    }

    /// Raw data of leaf `index`.
    pub fn leaf_data(&self, index: u64) -> Result<Vec<u8>> {
        let size = self.log_size()?;
        if index >= size {
            return Err(LogError::LeafNotFound { index, size }.into());
        }
        self.store
            .get(Cf::Leaves, &u64_key(index))?
            .ok_or_else(|| ServiceError::Internal(format!("leaf {index} missing")))
    }

    /// The data of stored leaves `indexes` (all below the log size), in order.
    pub fn leaves_data(&self, indexes: &[u64]) -> Result<Vec<Vec<u8>>> {
        let keys: Vec<Vec<u8>> = indexes.iter().map(|i| u64_key(*i).to_vec()).collect();
        indexes
            .iter()
            .zip(self.store.multi_get(Cf::Leaves, &keys)?)
            .map(|(i, d)| d.ok_or_else(|| ServiceError::Internal(format!("leaf {i} missing"))))
            .collect()
    }

    /// Leaf `index` as served.
    pub fn leaf(&self, index: u64) -> Result<LeafView> {
        let data = self.leaf_data(index)?;
        Ok(LeafView {
            index,
            data: base64::engine::general_purpose::STANDARD.encode(data),
        })
    }

    fn check_size(&self, size: u64) -> Result<()> {
        let have = self.log_size()?;
        if size > have {
            return Err(LogError::SizeBeyondLog { size, have }.into());
        }
        Ok(())
    }

    /// Inclusion proof of leaf `index` in the tree of `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>> {
        self.check_size(size)?;
        if index >= size {
            return Err(LogError::IndexNotInTree { index, size }.into());
        }
        Ok(merkle::inclusion_proof(
            index,
            size,
            &StoreHashes(self.store.as_ref()),
        )?)
    }

    /// Inclusion proof as served.
    pub fn inclusion_proof_view(&self, index: u64, size: u64) -> Result<InclusionProofView> {
        Ok(InclusionProofView {
            index,
            size,
            proof: self
                .inclusion_proof(index, size)?
                .iter()
                .map(Hash::to_base64)
                .collect(),
        })
    }

    /// Consistency proof between tree sizes `from` and `to`.
    pub fn consistency_proof_view(&self, from: u64, to: u64) -> Result<ConsistencyProofView> {
        self.check_size(to)?;
        if from > to {
            return Err(LogError::FromAfterTo { from, to }.into());
        }
        let proof = merkle::consistency_proof(from, to, &StoreHashes(self.store.as_ref()))?;
        Ok(ConsistencyProofView {
            from,
            to,
            proof: proof.iter().map(Hash::to_base64).collect(),
        })
    }

    /// Root of the tree of `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        self.check_size(size)?;
        Ok(merkle::root(size, &StoreHashes(self.store.as_ref()))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::setup::test_service;

    fn leaves(n: usize, tag: &str) -> Vec<PendingLeaf> {
        (0..n)
            .map(|i| {
                let data = format!("{tag}-{i}").into_bytes();
                PendingLeaf {
                    hash: merkle::leaf_hash(&data),
                    data,
                }
            })
            .collect()
    }

    #[test]
    fn append_proofs_and_checkpoints() {
        let (svc, _) = test_service();
        // An empty log has a signed size-0 checkpoint from the start.
        let cp0 = svc.log().latest_checkpoint().unwrap().unwrap();
        assert_eq!(cp0.size, 0);
        assert_eq!(
            svc.log()
                .append_leaves(leaves(5, "a"), |_, _| Ok(()))
                .unwrap(),
            0
        );
        assert_eq!(
            svc.log()
                .append_leaves(leaves(8, "b"), |_, _| Ok(()))
                .unwrap(),
            5
        );
        let cp = svc.log().checkpoint_now().unwrap().unwrap();
        assert_eq!(cp.size, 13);
        assert!(
            svc.log().checkpoint_now().unwrap().is_none(),
            "nothing new to sign"
        );
        let root = cp.root_hash().unwrap();
        for i in 0..13 {
            let data = svc.log().leaf_data(i).unwrap();
            let proof = svc.log().inclusion_proof(i, 13).unwrap();
            merkle::verify_inclusion(&merkle::leaf_hash(&data), i, 13, &proof, &root).unwrap();
        }
        let c = svc.log().consistency_proof_view(5, 13).unwrap();
        let proof: Vec<Hash> = c
            .proof
            .iter()
            .map(|p| Hash::from_base64(p).unwrap())
            .collect();
        merkle::verify_consistency(5, 13, &proof, &svc.log().root_at(5).unwrap(), &root).unwrap();
        // The note verifies with the log key.
        let v = svc.log().log_signer.verifier();
        let parsed = crate::checkpoint::open_checkpoint(&cp.note, &v).unwrap();
        assert_eq!(parsed.size, 13);
        assert_eq!(parsed.root, root);
    }

    #[test]
    fn bad_proof_parameters_are_invalid_not_internal() {
        let (svc, _) = test_service();
        svc.log()
            .append_leaves(leaves(3, "a"), |_, _| Ok(()))
            .unwrap();
        assert!(matches!(
            svc.log().inclusion_proof(3, 3),
            Err(ServiceError::Log(LogError::IndexNotInTree {
                index: 3,
                size: 3
            }))
        ));
        assert!(matches!(
            svc.log().inclusion_proof(0, 4),
            Err(ServiceError::Log(LogError::SizeBeyondLog {
                size: 4,
                have: 3
            }))
        ));
        assert!(matches!(
            svc.log().consistency_proof_view(3, 2),
            Err(ServiceError::Log(LogError::FromAfterTo { from: 3, to: 2 }))
        ));
        assert!(matches!(
            svc.log().leaf_data(3),
            Err(ServiceError::Log(LogError::LeafNotFound {
                index: 3,
                size: 3
            }))
        ));
    }

    #[test]
    fn failed_write_leaves_the_frontier_unchanged() {
        let (svc, mem) = test_service();
        svc.log()
            .append_leaves(leaves(3, "a"), |_, _| Ok(()))
            .unwrap();
        mem.set_failing(true);
        assert!(matches!(
            svc.log().append_leaves(leaves(3, "b"), |_, _| Ok(())),
            Err(ServiceError::Store(StoreError::Unavailable(_)))
        ));
        mem.set_failing(false);
        assert_eq!(svc.log().log_size().unwrap(), 3);
        assert_eq!(
            svc.log()
                .append_leaves(leaves(1, "c"), |_, _| Ok(()))
                .unwrap(),
            3
        );
        assert!(svc.log().checkpoint_now().unwrap().is_some());
    }
}
