//! Checking inclusion and consistency proofs (RFC 9162 §2.1.3.2, §2.1.4.2).
//!
//! The verifiers take everything from the caller and trust none of it: any proof length, any
//! sizes and any hashes give `Ok` or a precise [`VerifyError`], never a panic. They follow
//! transparency-dev/merkle `proof/verify.go`, so they accept and reject exactly what it does
//! on its test vectors; a consistency proof from the empty tree is rejected as meaningless, as
//! it is there.

use super::hash::{empty_root, node_hash, Hash};

/// Why a proof did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The leaf index is not inside the tree (this includes every index for size 0).
    #[error("leaf index {index} is out of range for tree size {size}")]
    IndexOutOfRange {
        /// The claimed leaf index.
        index: u64,
        /// The claimed tree size.
        size: u64,
    },
    /// The proof does not have the number of hashes the sizes call for.
    #[error("proof has {got} hashes, want {want} for these tree sizes")]
    WrongProofSize {
        /// Hashes in the proof.
        got: usize,
        /// Hashes the sizes call for.
        want: usize,
    },
    /// The first tree size of a consistency proof is larger than the second.
    #[error("first tree size {size1} is larger than second tree size {size2}")]
    SizesOutOfOrder {
        /// The claimed older tree size.
        size1: u64,
        /// The claimed newer tree size.
        size2: u64,
    },
    /// A consistency proof between equal tree sizes must be empty.
    #[error("tree sizes are equal, so the consistency proof must be empty")]
    NonEmptyProof,
    /// Every tree is consistent with the empty tree; such a proof proves nothing.
    #[error("a consistency proof from the empty tree (to size {size2}) is meaningless")]
    FromEmptyTree {
        /// The claimed newer tree size.
        size2: u64,
    },
    /// The root computed from the proof is not the expected one.
    #[error("calculated root {calculated} does not match expected root {expected}")]
    RootMismatch {
        /// The root the proof leads to.
        calculated: Hash,
        /// The root the caller expected.
        expected: Hash,
    },
}

/// Checks that `proof` proves leaf hash `leaf` is entry `index` of the tree of `size` leaves
/// whose root is `root`.
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    let calculated = root_from_inclusion_proof(leaf, index, size, proof)?;
    check_match(&calculated, root)
}

/// The root that `proof` leads to for leaf hash `leaf` at `index` in a tree of `size` leaves.
pub fn root_from_inclusion_proof(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
) -> Result<Hash, VerifyError> {
    if index >= size {
        return Err(VerifyError::IndexOutOfRange { index, size });
    }
    let (inner, border) = decompose_inclusion(index, size);
    check_len(proof, inner + border)?;
    let (inner_proof, border_proof) = proof.split_at(inner);
    let h = chain_inner(*leaf, inner_proof, index);
    Ok(chain_border_right(h, border_proof))
}

/// Checks that `proof` proves the tree of `size2` leaves with root `root2` extends the tree of
/// `size1` leaves with root `root1`.
///
/// Equal sizes need an empty proof and equal roots (and the empty tree's root for size 0);
/// `size1 == 0 < size2` is rejected with [`VerifyError::FromEmptyTree`].
pub fn verify_consistency(
    size1: u64,
    size2: u64,
    proof: &[Hash],
    root1: &Hash,
    root2: &Hash,
) -> Result<(), VerifyError> {
    if size1 > size2 {
        return Err(VerifyError::SizesOutOfOrder { size1, size2 });
    }
    if size1 == size2 {
        if !proof.is_empty() {
            return Err(VerifyError::NonEmptyProof);
        }
        if size1 == 0 {
            check_match(&empty_root(), root1)?;
        }
        return check_match(root1, root2);
    }
    if size1 == 0 {
        return Err(VerifyError::FromEmptyTree { size2 });
    }

    // 0 < size1 < size2. The proof is the tail of the inclusion proof of leaf size1 - 1 in
    // tree size2, starting at level `shift`, the height of the largest perfect subtree that
    // ends at size1; that subtree's hash comes first, unless size1 is that whole subtree, in
    // which case it is root1 itself and is left out.
    let (inner, border) = decompose_inclusion(size1 - 1, size2);
    let shift = size1.trailing_zeros() as usize;
    // inner > shift because size1 < size2; saturate rather than trust that.
    let inner = inner.saturating_sub(shift);
    let seeded = size1 == 1u64 << shift;
    let start = usize::from(!seeded);
    check_len(proof, start + inner + border)?;
    let (seed, proof) = if seeded {
        (*root1, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (inner_proof, border_proof) = proof.split_at(inner);
    let mask = (size1 - 1) >> shift;

    let hash1 = chain_border_right(chain_inner_right(seed, inner_proof, mask), border_proof);
    check_match(&hash1, root1)?;
    let hash2 = chain_border_right(chain_inner(seed, inner_proof, mask), border_proof);
    check_match(&hash2, root2)
}

fn check_match(calculated: &Hash, expected: &Hash) -> Result<(), VerifyError> {
    if calculated == expected {
        Ok(())
    } else {
        Err(VerifyError::RootMismatch {
            calculated: *calculated,
            expected: *expected,
        })
    }
}

fn check_len(proof: &[Hash], want: usize) -> Result<(), VerifyError> {
    if proof.len() == want {
        Ok(())
    } else {
        Err(VerifyError::WrongProofSize {
            got: proof.len(),
            want,
        })
    }
}

/// Splits the inclusion proof of `index` in a tree of `size > index` leaves into the part
/// below the point where the paths to `index` and `size - 1` meet (`inner`) and the part
/// above it (`border`, one left sibling per set bit of the remaining index).
fn decompose_inclusion(index: u64, size: u64) -> (usize, usize) {
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    (inner as usize, border as usize)
}

/// Hashes `seed` up through `proof`, the sibling at step `i` being on the side given by bit
/// `i` of `index`.
fn chain_inner(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |h, (i, p)| {
        if (index >> i) & 1 == 0 {
            node_hash(&h, p)
        } else {
            node_hash(p, &h)
        }
    })
}

/// Like [`chain_inner`], but only takes the left siblings: the hash of the same subtree as it
/// was before anything right of the path was added.
fn chain_inner_right(seed: Hash, proof: &[Hash], index: u64) -> Hash {
    proof.iter().enumerate().fold(seed, |h, (i, p)| {
        if (index >> i) & 1 == 1 {
            node_hash(p, &h)
        } else {
            h
        }
    })
}

/// Hashes `seed` up the right border of the tree, every sibling being on its left.
fn chain_border_right(seed: Hash, proof: &[Hash]) -> Hash {
    proof.iter().fold(seed, |h, p| node_hash(p, &h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    #[test]
    fn decompose_matches_reference() {
        assert_eq!(decompose_inclusion(0, 1), (0, 0));
        assert_eq!(decompose_inclusion(0, 8), (3, 0));
        assert_eq!(decompose_inclusion(5, 8), (2, 1));
        assert_eq!(decompose_inclusion(2, 3), (0, 1));
        assert_eq!(decompose_inclusion(1, 5), (3, 0));
        assert_eq!(decompose_inclusion(4, 5), (0, 1));
        assert_eq!(decompose_inclusion(u64::MAX - 1, u64::MAX), (0, 63));
        assert_eq!(decompose_inclusion(0, u64::MAX), (64, 0));
    }

    #[test]
    fn single_leaf_tree() {
        let l = leaf_hash(b"a");
        assert_eq!(verify_inclusion(&l, 0, 1, &[], &l), Ok(()));
        assert_eq!(
            verify_inclusion(&l, 0, 1, &[l], &l),
            Err(VerifyError::WrongProofSize { got: 1, want: 0 })
        );
        assert_eq!(
            verify_inclusion(&l, 0, 0, &[], &l),
            Err(VerifyError::IndexOutOfRange { index: 0, size: 0 })
        );
    }

    #[test]
    fn root_mismatch_carries_both_roots() {
        let l = leaf_hash(b"a");
        let other = leaf_hash(b"b");
        assert_eq!(
            verify_inclusion(&l, 0, 1, &[], &other),
            Err(VerifyError::RootMismatch {
                calculated: l,
                expected: other
            })
        );
    }

    #[test]
    fn consistency_edge_cases() {
        let a = leaf_hash(b"a");
        let e = empty_root();
        assert_eq!(verify_consistency(0, 0, &[], &e, &e), Ok(()));
        assert!(matches!(
            verify_consistency(0, 0, &[], &a, &a),
            Err(VerifyError::RootMismatch { .. })
        ));
        assert_eq!(verify_consistency(1, 1, &[], &a, &a), Ok(()));
        assert_eq!(
            verify_consistency(1, 1, &[a], &a, &a),
            Err(VerifyError::NonEmptyProof)
        );
        assert_eq!(
            verify_consistency(0, 1, &[], &e, &a),
            Err(VerifyError::FromEmptyTree { size2: 1 })
        );
        assert_eq!(
            verify_consistency(2, 1, &[], &a, &a),
            Err(VerifyError::SizesOutOfOrder { size1: 2, size2: 1 })
        );
        assert_eq!(
            verify_consistency(1, 2, &[], &a, &a),
            Err(VerifyError::WrongProofSize { got: 0, want: 1 })
        );
    }

    #[test]
    fn extreme_sizes_do_not_panic() {
        let a = leaf_hash(b"a");
        let proof = vec![a; 70];
        for (s1, s2) in [
            (1, u64::MAX),
            (u64::MAX - 1, u64::MAX),
            (1 << 63, u64::MAX),
            (u64::MAX, u64::MAX),
        ] {
            for n in [0, 1, 63, 64, 65, 70] {
                let _ = verify_consistency(s1, s2, &proof[..n], &a, &a);
            }
        }
        for (i, s) in [(0, u64::MAX), (u64::MAX - 1, u64::MAX), (1 << 63, u64::MAX)] {
            for n in [0, 1, 63, 64, 65, 70] {
                let _ = verify_inclusion(&a, i, s, &proof[..n], &a);
            }
        }
    }
}
