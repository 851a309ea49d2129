//! The append-only Merkle log: RFC 6962 / RFC 9162 hashing, proofs and their verification.
//!
//! Pure code, no I/O. One concept per file:
//!
//! - `hash`: the [`Hash`] newtype, [`leaf_hash`], [`node_hash`], [`empty_root`];
//! - `node`: [`NodeId`], the address of a perfect subtree;
//! - `reader`: [`HashReader`], the storage port the algorithms read node hashes through;
//! - `frontier`: [`Frontier`], the compact range an appender keeps, which emits the node
//!   hashes to store;
//! - `proof`: [`root`], [`inclusion_proof`], [`consistency_proof`] from stored hashes, reading
//!   O(log n) of them;
//! - `verify`: [`verify_inclusion`], [`verify_consistency`], which never panic on bad input.
//!
//! ```
//! use std::collections::HashMap;
//! use traceseal::merkle::{inclusion_proof, leaf_hash, verify_inclusion, Frontier};
//!
//! let mut store = HashMap::new();
//! let mut frontier = Frontier::new();
//! for entry in [&b"a"[..], b"b", b"c"] {
//!     frontier.append(leaf_hash(entry), |id, hash| {
//!         store.insert(id, hash);
//!     });
//! }
//! let proof = inclusion_proof(1, 3, &store).unwrap();
//! assert!(verify_inclusion(&leaf_hash(b"b"), 1, 3, &proof, &frontier.root()).is_ok());
//! ```

mod frontier;
mod hash;
mod node;
mod proof;
mod reader;
mod verify;

pub use frontier::Frontier;
pub use hash::{
    empty_root, leaf_hash, node_hash, Hash, HashDecodeError, HASH_LEN, LEAF_PREFIX, NODE_PREFIX,
};
pub use node::NodeId;
pub use proof::{consistency_proof, inclusion_proof, root, ProofError};
pub use reader::{HashReader, MissingNode};
pub use verify::{root_from_inclusion_proof, verify_consistency, verify_inclusion, VerifyError};

#[cfg(test)]
mod tests {
    //! Properties against the RFC 9162 definitions written out naively over all leaves.

    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    /// MTH(D[n]) of RFC 9162 §2.1.1, recursively over every leaf.
    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = largest_power_below(n);
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    /// PATH(m, D[n]) of RFC 9162 §2.1.3.1.
    fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        let n = leaves.len();
        if n <= 1 {
            return Vec::new();
        }
        let k = largest_power_below(n);
        if m < k {
            let mut p = naive_path(m, &leaves[..k]);
            p.push(naive_root(&leaves[k..]));
            p
        } else {
            let mut p = naive_path(m - k, &leaves[k..]);
            p.push(naive_root(&leaves[..k]));
            p
        }
    }

    /// SUBPROOF(m, D[n], b) of RFC 9162 §2.1.4.1.
    fn naive_subproof(m: usize, leaves: &[Hash], whole: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if whole {
                Vec::new()
            } else {
                vec![naive_root(leaves)]
            };
        }
        let k = largest_power_below(n);
        if m <= k {
            let mut p = naive_subproof(m, &leaves[..k], whole);
            p.push(naive_root(&leaves[k..]));
            p
        } else {
            let mut p = naive_subproof(m - k, &leaves[k..], false);
            p.push(naive_root(&leaves[..k]));
            p
        }
    }

    fn largest_power_below(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    /// A tree of `size` leaves stored in a map filled by `Frontier::append`.
    fn build(size: u64) -> (Vec<Hash>, HashMap<NodeId, Hash>, Frontier) {
        let mut nodes = HashMap::new();
        let mut frontier = Frontier::new();
        let leaves: Vec<Hash> = (0..size)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect();
        for leaf in &leaves {
            frontier.append(*leaf, |id, h| {
                nodes.insert(id, h);
            });
        }
        (leaves, nodes, frontier)
    }

    fn flip(proof: &[Hash], which: usize, bit: usize) -> Vec<Hash> {
        let mut bad = proof.to_vec();
        let i = which % bad.len();
        bad[i].0[(bit / 8) % 32] ^= 1 << (bit % 8);
        bad
    }

    #[test]
    fn small_trees_match_rfc_definitions_exhaustively() {
        let (leaves, nodes, _) = build(40);
        for size in 0..=40usize {
            let tree = &leaves[..size];
            let root_hash = root(size as u64, &nodes).unwrap();
            assert_eq!(root_hash, naive_root(tree));
            for m in 0..size {
                let proof = inclusion_proof(m as u64, size as u64, &nodes).unwrap();
                assert_eq!(proof, naive_path(m, tree), "PATH({m}, D[{size}])");
            }
            for m in 1..=size {
                let proof = consistency_proof(m as u64, size as u64, &nodes).unwrap();
                assert_eq!(
                    proof,
                    naive_subproof(m, tree, true),
                    "PROOF({m}, D[{size}])"
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn generated_proofs_verify_and_match_rfc(
            size in 1u64..=2000,
            a in any::<u64>(),
            b in any::<u64>(),
            which in any::<usize>(),
            bit in 0usize..256,
        ) {
            let (leaves, nodes, frontier) = build(size);
            let root_hash = root(size, &nodes).unwrap();
            prop_assert_eq!(root_hash, naive_root(&leaves));
            prop_assert_eq!(root_hash, frontier.root());

            let index = a % size;
            let proof = inclusion_proof(index, size, &nodes).unwrap();
            prop_assert_eq!(&proof, &naive_path(index as usize, &leaves));
            let leaf = leaves[index as usize];
            prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &root_hash), Ok(()));
            prop_assert_eq!(root_from_inclusion_proof(&leaf, index, size, &proof), Ok(root_hash));
            if !proof.is_empty() {
                let bad = flip(&proof, which, bit);
                prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root_hash).is_err());
            }
            prop_assert!(verify_inclusion(&leaf, index, size, &proof, &leaves[0]).is_err()
                || size == 1);

            let size1 = b % size + 1;
            let root1 = root(size1, &nodes).unwrap();
            let proof = consistency_proof(size1, size, &nodes).unwrap();
            prop_assert_eq!(
                &proof,
                &naive_subproof(size1 as usize, &leaves, true)
            );
            prop_assert_eq!(verify_consistency(size1, size, &proof, &root1, &root_hash), Ok(()));
            if !proof.is_empty() {
                let bad = flip(&proof, which, bit);
                prop_assert!(verify_consistency(size1, size, &bad, &root1, &root_hash).is_err());
            }
        }

        #[test]
        fn arbitrary_proofs_never_panic_and_fail(
            index in prop_oneof![0u64..20, any::<u64>()],
            size in prop_oneof![0u64..20, any::<u64>()],
            leaf in any::<[u8; 32]>(),
            root_a in any::<[u8; 32]>(),
            root_b in any::<[u8; 32]>(),
            proof in proptest::collection::vec(any::<[u8; 32]>(), 0..80),
        ) {
            let proof: Vec<Hash> = proof.into_iter().map(Hash).collect();
            let (leaf, root_a, root_b) = (Hash(leaf), Hash(root_a), Hash(root_b));
            let inclusion = verify_inclusion(&leaf, index, size, &proof, &root_a);
            prop_assert!(inclusion.is_err() || leaf == root_a);
            let consistency = verify_consistency(index, size, &proof, &root_a, &root_b);
            prop_assert!(consistency.is_err() || root_a == root_b);
        }
    }
}
