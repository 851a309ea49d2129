//! The storage port the Merkle algorithms need: [`HashReader`].
//!
//! The algorithms only ever ask for hashes of perfect subtrees by [`NodeId`]; a store keeps the
//! hashes [`Frontier::append`](super::Frontier::append) emits and implements this trait. The
//! in-memory maps of `std` implement it too, for tests and small tools.

use std::collections::{BTreeMap, HashMap};

use super::hash::Hash;
use super::node::NodeId;

/// Gives the stored hash of a perfect subtree (level 0 = leaf hashes).
pub trait HashReader {
    /// Why a hash could not be read (storage failure, missing node, ...).
    type Error;

    /// The hash of the perfect subtree `id`.
    fn read_hash(&self, id: NodeId) -> Result<Hash, Self::Error>;
}

impl<T: HashReader + ?Sized> HashReader for &T {
    type Error = T::Error;

    fn read_hash(&self, id: NodeId) -> Result<Hash, Self::Error> {
        (**self).read_hash(id)
    }
}

/// An in-memory [`HashReader`] was asked for a node it does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no stored hash for {0}")]
pub struct MissingNode(pub NodeId);

impl<S: std::hash::BuildHasher> HashReader for HashMap<NodeId, Hash, S> {
    type Error = MissingNode;

    fn read_hash(&self, id: NodeId) -> Result<Hash, MissingNode> {
        self.get(&id).copied().ok_or(MissingNode(id))
    }
}

impl HashReader for BTreeMap<NodeId, Hash> {
    type Error = MissingNode;

    fn read_hash(&self, id: NodeId) -> Result<Hash, MissingNode> {
        self.get(&id).copied().ok_or(MissingNode(id))
    }
}
