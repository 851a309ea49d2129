//! Building roots and proofs from stored node hashes (RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1).
//!
//! The functions walk the RFC 9162 recursion from the root down. Every sibling met on the way
//! is a perfect, aligned subtree read by [`NodeId`], except at most one: the first sibling to
//! the right of the path may be the incomplete right edge of the tree, and its hash is
//! recomputed from the perfect subtrees of its binary decomposition. A root or a proof
//! therefore reads at most about `2 * log2(size)` stored hashes.

use super::hash::{empty_root, node_hash, Hash};
use super::node::NodeId;
use super::reader::HashReader;

/// Why a root or a proof could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError<E> {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The tree size it was asked against.
        size: u64,
    },
    /// A consistency proof was asked from a larger tree to a smaller one.
    #[error("cannot prove consistency from tree size {size1} to the smaller size {size2}")]
    BadSizes {
        /// The older (first) tree size.
        size1: u64,
        /// The newer (second) tree size.
        size2: u64,
    },
    /// The [`HashReader`] failed to give a node hash.
    #[error("reading a stored node hash failed")]
    Read(#[source] E),
}

/// The root hash of the tree of the first `size` leaves; [`empty_root`] for size 0.
pub fn root<R: HashReader>(size: u64, r: &R) -> Result<Hash, ProofError<R::Error>> {
    if size == 0 {
        return Ok(empty_root());
    }
    subtree_hash(0, size, r).map_err(ProofError::Read)
}

/// The RFC 9162 inclusion proof (audit path) of leaf `index` in the tree of `size` leaves,
/// ordered from the leaf's sibling up to the child of the root.
pub fn inclusion_proof<R: HashReader>(
    index: u64,
    size: u64,
    r: &R,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    // Walk down from the root over the subtree [lo, lo + n) that contains `index`,
    // collecting siblings top-down.
    let mut proof = Vec::with_capacity(64);
    let (mut lo, mut n) = (0u64, size);
    while n > 1 {
        let k = split_point(n);
        if index - lo < k {
            proof.push(subtree_hash(lo + k, n - k, r).map_err(ProofError::Read)?);
            n = k;
        } else {
            proof.push(subtree_hash(lo, k, r).map_err(ProofError::Read)?);
            lo += k;
            n -= k;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The RFC 9162 §2.1.4.1 consistency proof between the trees of `size1` and `size2` leaves.
///
/// The proof is empty when `size1 == 0` or `size1 == size2`.
pub fn consistency_proof<R: HashReader>(
    size1: u64,
    size2: u64,
    r: &R,
) -> Result<Vec<Hash>, ProofError<R::Error>> {
    if size1 > size2 {
        return Err(ProofError::BadSizes { size1, size2 });
    }
    if size1 == 0 || size1 == size2 {
        return Ok(Vec::new());
    }
    // SUBPROOF(m, D[lo, lo + n), whole) unrolled into a loop, collecting hashes top-down.
    let mut proof = Vec::with_capacity(64);
    let (mut m, mut lo, mut n, mut whole) = (size1, 0u64, size2, true);
    loop {
        if m == n {
            if !whole {
                proof.push(subtree_hash(lo, n, r).map_err(ProofError::Read)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(subtree_hash(lo + k, n - k, r).map_err(ProofError::Read)?);
            n = k;
        } else {
            proof.push(subtree_hash(lo, k, r).map_err(ProofError::Read)?);
            lo += k;
            n -= k;
            m -= k;
            whole = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// The largest power of two strictly smaller than `n` (`n >= 2`): RFC 9162's split point.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// The RFC 9162 hash of the `n >= 1` leaves `[lo, lo + n)`, where `lo` is a multiple of the
/// smallest power of two `>= n` (true of every subtree in the RFC 9162 recursion).
///
/// The range splits into perfect subtrees of decreasing size, one per set bit of `n`; they
/// are aligned by the precondition, so each is one stored node. The RFC 9162 hash folds them
/// from the right.
fn subtree_hash<R: HashReader>(lo: u64, n: u64, r: &R) -> Result<Hash, R::Error> {
    let mut parts = [Hash([0; 32]); 64];
    let mut count = 0;
    let mut start = lo;
    for level in (0..64u8).rev() {
        if (n >> level) & 1 == 1 {
            parts[count] = r.read_hash(NodeId::new(level, start >> level))?;
            count += 1;
            // Cannot overflow: start + 2^level <= lo + n, a leaf count.
            start += 1 << level;
        }
    }
    let mut parts = parts[..count].iter().rev();
    let Some(&last) = parts.next() else {
        return Ok(empty_root());
    };
    Ok(parts.fold(last, |acc, left| node_hash(left, &acc)))
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::collections::HashMap;

    use super::*;
    use crate::merkle::{leaf_hash, Frontier, MissingNode};

    /// An in-memory store that counts reads.
    struct Counting {
        nodes: HashMap<NodeId, Hash>,
        reads: Cell<usize>,
    }

    impl HashReader for Counting {
        type Error = MissingNode;
        fn read_hash(&self, id: NodeId) -> Result<Hash, MissingNode> {
            self.reads.set(self.reads.get() + 1);
            self.nodes.read_hash(id)
        }
    }

    fn tree(size: u64) -> Counting {
        let mut nodes = HashMap::new();
        let mut f = Frontier::new();
        for i in 0..size {
            f.append(leaf_hash(&i.to_be_bytes()), |id, h| {
                nodes.insert(id, h);
            });
        }
        Counting {
            nodes,
            reads: Cell::new(0),
        }
    }

    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn split_point_is_largest_power_below() {
        assert_eq!(split_point(2), 1);
        assert_eq!(split_point(3), 2);
        assert_eq!(split_point(4), 2);
        assert_eq!(split_point(5), 4);
        assert_eq!(split_point(u64::MAX), 1 << 63);
    }

    #[test]
    fn root_matches_naive_definition() {
        let t = tree(70);
        let leaves: Vec<Hash> = (0..70u64).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        for size in 0..=70 {
            assert_eq!(
                root(size, &t.nodes).unwrap(),
                naive_root(&leaves[..size as usize])
            );
        }
    }

    #[test]
    fn proofs_read_logarithmically_many_hashes() {
        let size = 1000;
        let t = tree(size);
        let bound = 2 * 10 + 2; // 2 * ceil(log2(1000)) + slack
        for index in [0, 1, 500, 511, 512, 767, 998, 999] {
            t.reads.set(0);
            inclusion_proof(index, size, &t).unwrap();
            assert!(
                t.reads.get() <= bound,
                "inclusion {index}: {}",
                t.reads.get()
            );
        }
        for size1 in [1, 2, 3, 500, 511, 512, 513, 999] {
            t.reads.set(0);
            consistency_proof(size1, size, &t).unwrap();
            assert!(
                t.reads.get() <= bound,
                "consistency {size1}: {}",
                t.reads.get()
            );
        }
        t.reads.set(0);
        root(size, &t).unwrap();
        assert_eq!(t.reads.get(), size.count_ones() as usize);
    }

    #[test]
    fn argument_errors() {
        let t = tree(4);
        assert_eq!(
            inclusion_proof(4, 4, &t.nodes),
            Err(ProofError::IndexOutOfRange { index: 4, size: 4 })
        );
        assert_eq!(
            inclusion_proof(0, 0, &t.nodes),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        assert_eq!(
            consistency_proof(3, 2, &t.nodes),
            Err(ProofError::BadSizes { size1: 3, size2: 2 })
        );
        assert_eq!(consistency_proof(0, 4, &t.nodes), Ok(vec![]));
        assert_eq!(consistency_proof(4, 4, &t.nodes), Ok(vec![]));
        assert_eq!(inclusion_proof(0, 1, &t.nodes), Ok(vec![]));
    }

    #[test]
    fn read_errors_propagate() {
        let t = tree(4);
        assert_eq!(
            root(5, &t.nodes),
            Err(ProofError::Read(MissingNode(NodeId::leaf(4))))
        );
        let err = inclusion_proof(0, 5, &t.nodes).unwrap_err();
        assert_eq!(err.to_string(), "reading a stored node hash failed");
        assert!(std::error::Error::source(&err).is_some());
    }
}
