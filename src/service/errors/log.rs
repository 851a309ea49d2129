//! Errors of one operation family: the log, its checkpoints and proofs, bundles.

use super::ErrorKind;
use crate::merkle::ProofError;
use crate::store::StoreError;

/// The log, its checkpoints and proofs, bundles: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// No leaf has this index yet.
    #[error("leaf {index} does not exist: the log has {size} leaves")]
    LeafNotFound {
        /// The leaf index asked for.
        index: u64,
        /// The log's size when it was asked.
        size: u64,
    },
    /// A tree size beyond the current log was asked for.
    #[error("tree size {size} exceeds the log size {have}")]
    SizeBeyondLog {
        /// The tree size asked for.
        size: u64,
        /// The log's size.
        have: u64,
    },
    /// An inclusion proof was asked for a leaf outside the tree.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexNotInTree {
        /// The leaf index asked for.
        index: u64,
        /// The tree size it was asked against.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("from ({from}) must not exceed to ({to})")]
    FromAfterTo {
        /// The older tree size asked for.
        from: u64,
        /// The newer tree size asked for.
        to: u64,
    },
    /// The proof's parameters were refused by the Merkle tree itself.
    #[error(transparent)]
    BadProofRequest {
        /// Why the tree refused them.
        source: ProofError<StoreError>,
    },
    /// The item's leaf is not covered by a signed checkpoint yet, so no bundle can prove it.
    #[error("the item is not in a signed checkpoint yet; retry in a few seconds")]
    NotCheckpointed {
        /// The item's leaf index.
        leaf_index: u64,
    },
    /// No checkpoint has been signed yet.
    #[error("no checkpoint signed yet")]
    NoCheckpoint,
}

impl LogError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LogError::LeafNotFound { .. } => ErrorKind::NotFound,
            LogError::SizeBeyondLog { .. }
            | LogError::IndexNotInTree { .. }
            | LogError::FromAfterTo { .. }
            | LogError::BadProofRequest { .. } => ErrorKind::Invalid,
            LogError::NotCheckpointed { .. } => ErrorKind::Conflict,
            LogError::NoCheckpoint => ErrorKind::Unavailable,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match self {
            LogError::LeafNotFound { .. } => "leaf_not_found",
            LogError::SizeBeyondLog { .. } => "size_beyond_log",
            LogError::IndexNotInTree { .. } => "index_not_in_tree",
            LogError::FromAfterTo { .. } => "from_after_to",
            LogError::BadProofRequest { .. } => "bad_proof_request",
            LogError::NotCheckpointed { .. } => "not_checkpointed",
            LogError::NoCheckpoint => "no_checkpoint",
        }
    }
}
