//! The compact range `[0, size)`: what an appender keeps in memory to extend the tree.

use super::hash::{empty_root, node_hash, Hash};
use super::node::NodeId;
use super::reader::HashReader;

/// Compact range `[0, size)`: the roots of the perfect subtrees of the binary decomposition of
/// `size`, left (largest) first.
///
/// It is enough to append leaves and to compute the root; the hashes an append completes are
/// handed to the caller, who stores them so that [`root`](super::root) and the proof
/// functions can read them back by [`NodeId`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Invariant: one hash per set bit of `size`, highest bit first, as [`Frontier::node_ids`].
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The hashes of the nodes [`Frontier::node_ids`] names for this size, in that order.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The RFC 9162 root hash of the tree; [`empty_root`] when it is empty.
    pub fn root(&self) -> Hash {
        let mut parts = self.hashes.iter().rev();
        match parts.next() {
            None => empty_root(),
            Some(&last) => parts.fold(last, |acc, left| node_hash(left, &acc)),
        }
    }

    /// Appends one leaf hash; calls `emit(NodeId, Hash)` for the leaf (level 0) and for every
    /// internal node this append completes (so a caller can store them: at most
    /// `1 + log2(n)` per append), lowest level first.
    ///
    /// # Panics
    ///
    /// If the tree already holds `u64::MAX` leaves.
    pub fn append(&mut self, leaf: Hash, mut emit: impl FnMut(NodeId, Hash)) {
        let index = self.size;
        let next = index
            .checked_add(1)
            .unwrap_or_else(|| panic!("Merkle tree is full ({index} leaves)"));
        emit(NodeId::leaf(index), leaf);
        // Each trailing 1 bit of the old size is a perfect subtree at the end of the frontier
        // that the new leaf completes into a subtree one level higher.
        let merges = index.trailing_ones() as usize;
        let keep = self.hashes.len() - merges; // the invariant makes len >= merges
        let mut h = leaf;
        let mut id = NodeId::leaf(index);
        for left in self.hashes.drain(keep..).rev() {
            h = node_hash(&left, &h);
            id = NodeId::new(id.level + 1, id.index >> 1);
            emit(id, h);
        }
        self.hashes.push(h);
        self.size = next;
    }

    /// The NodeIds whose hashes make up the frontier of a tree of `size`.
    pub fn node_ids(size: u64) -> Vec<NodeId> {
        let mut ids = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..64u8).rev() {
            if (size >> level) & 1 == 1 {
                ids.push(NodeId::new(level, start >> level));
                start += 1 << level; // start + 2^level <= size
            }
        }
        ids
    }

    /// Reads the frontier of a tree of `size` back from stored node hashes.
    pub fn load<R: HashReader>(size: u64, r: &R) -> Result<Frontier, R::Error> {
        let hashes = Frontier::node_ids(size)
            .into_iter()
            .map(|id| r.read_hash(id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Frontier { size, hashes })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::merkle::{leaf_hash, root};

    #[test]
    fn node_ids_decompose_size() {
        assert_eq!(Frontier::node_ids(0), vec![]);
        assert_eq!(Frontier::node_ids(1), vec![NodeId::new(0, 0)]);
        assert_eq!(
            Frontier::node_ids(13),
            vec![NodeId::new(3, 0), NodeId::new(2, 2), NodeId::new(0, 12)]
        );
        assert_eq!(Frontier::node_ids(u64::MAX).len(), 64);
    }

    #[test]
    fn append_emits_completed_nodes() {
        let mut f = Frontier::new();
        let mut seen = Vec::new();
        for i in 0..4u8 {
            f.append(leaf_hash(&[i]), |id, _| seen.push(id));
        }
        assert_eq!(
            seen,
            vec![
                NodeId::new(0, 0),
                NodeId::new(0, 1),
                NodeId::new(1, 0),
                NodeId::new(0, 2),
                NodeId::new(0, 3),
                NodeId::new(1, 1),
                NodeId::new(2, 0),
            ]
        );
        assert_eq!(f.size(), 4);
    }

    #[test]
    fn emitted_hashes_are_what_root_reads_and_load_restores() {
        let mut store = HashMap::new();
        let mut f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        for i in 0..300u32 {
            let mut emitted = 0;
            f.append(leaf_hash(&i.to_be_bytes()), |id, h| {
                emitted += 1;
                assert!(store.insert(id, h).is_none(), "{id} emitted twice");
            });
            let size = f.size();
            assert!(emitted <= 1 + (64 - size.leading_zeros()) as usize);
            assert_eq!(root(size, &store).unwrap(), f.root());
            let loaded = Frontier::load(size, &store).unwrap();
            assert_eq!(loaded, f);
        }
        assert!(Frontier::load(301, &store).is_err());
    }
}
