//! Our C2SP signed notes, checkpoints and RFC 6962 proofs against Cloudflare's implementations
//! (`signed_note` and `tlog_tiles`, from cloudflare/azul): every note we sign verifies there,
//! every note they sign verifies here, both read the same checkpoint from the same body, and
//! proofs made by either side check on the other.

use std::collections::HashMap;

use ed25519_dalek::SigningKey;
use signed_note::{Note, Signer as _, StandardSigner, StandardVerifier, VerifierList};
use tlog_tiles::{HashReader, RecordProof, TreeProof};
use traceseal::checkpoint::{open_checkpoint, Checkpoint, NoteSigner, NoteVerifier};
use traceseal::merkle::{
    consistency_proof, inclusion_proof, leaf_hash, root, verify_consistency, verify_inclusion,
    Frontier, Hash, NodeId,
};

const ORIGIN: &str = "verify.example.com/traceseal/log";

/// A log of `n` leaves in our storage layout, and the same leaves in theirs.
struct Both {
    leaves: Vec<Hash>,
    nodes: HashMap<NodeId, Hash>,
    stored: Vec<tlog_tiles::Hash>,
}

impl Both {
    fn new(n: u64) -> Both {
        let (mut nodes, mut frontier, mut stored) = (HashMap::new(), Frontier::new(), Vec::new());
        let mut leaves = Vec::new();
        for i in 0..n {
            let data = format!("leaf {i}").into_bytes();
            let leaf = leaf_hash(&data);
            frontier.append(leaf, |id, h| {
                nodes.insert(id, h);
            });
            leaves.push(leaf);
            let reader = Stored(&stored);
            let more = tlog_tiles::stored_hashes(i, &data, &reader).unwrap();
            stored.extend(more);
        }
        Both {
            leaves,
            nodes,
            stored,
        }
    }

    fn root(&self, size: u64) -> Hash {
        root(size, &self.nodes).unwrap()
    }
}

struct Stored<'a>(&'a [tlog_tiles::Hash]);

impl HashReader for Stored<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<tlog_tiles::Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                self.0
                    .get(i as usize)
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

fn theirs(h: &Hash) -> tlog_tiles::Hash {
    tlog_tiles::Hash(*h.as_bytes())
}

fn ours(h: &tlog_tiles::Hash) -> Hash {
    Hash(h.0)
}

#[test]
fn notes_we_sign_verify_with_signed_note_and_read_with_tlog_tiles() {
    let both = Both::new(13);
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: 13,
        root: both.root(13),
    };
    let signer = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[7; 32])).unwrap();
    let note = signer.sign(&cp.body()).unwrap();

    let verifier = StandardVerifier::new(&signer.vkey()).unwrap();
    let parsed = Note::from_bytes(note.as_bytes()).unwrap();
    let (verified, unverified) = parsed
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!((verified.len(), unverified.len()), (1, 0));
    assert_eq!(verified[0].name(), ORIGIN);
    assert_eq!(verified[0].id().to_be_bytes(), signer.key_id());

    let read = tlog_tiles::Checkpoint::from_bytes(parsed.text()).unwrap();
    assert_eq!(
        (read.origin(), read.size(), read.hash()),
        (ORIGIN, 13, &theirs(&cp.root))
    );

    // A changed body no longer verifies there either.
    let forged = note.replacen("\n13\n", "\n14\n", 1);
    let verifier = StandardVerifier::new(&signer.vkey()).unwrap();
    assert!(Note::from_bytes(forged.as_bytes())
        .unwrap()
        .verify(&VerifierList::new(vec![Box::new(verifier)]))
        .is_err());
}

#[test]
fn notes_signed_with_signed_note_open_here() {
    let both = Both::new(9);
    let body = tlog_tiles::Checkpoint::new(ORIGIN, 9, theirs(&both.root(9)), "")
        .unwrap()
        .to_bytes();
    let (skey, vkey) = signed_note::generate_key(&mut rand::rngs::OsRng, ORIGIN);
    let signer = StandardSigner::new(&skey).unwrap();
    let mut note = Note::new(&body, &[]).unwrap();
    note.add_sigs(&[&signer]).unwrap();
    let text = String::from_utf8(note.to_bytes()).unwrap();

    let verifier = NoteVerifier::from_vkey(&vkey).unwrap();
    assert_eq!(verifier.key_id(), signer.key_id().to_be_bytes());
    let cp = open_checkpoint(&text, &verifier).unwrap();
    assert_eq!(
        cp,
        Checkpoint {
            origin: ORIGIN.into(),
            size: 9,
            root: both.root(9)
        }
    );
    // Someone else's key does not open it.
    let other = NoteSigner::new(ORIGIN, SigningKey::from_bytes(&[8; 32])).unwrap();
    assert!(open_checkpoint(&text, &other.verifier()).is_err());
}

#[test]
fn proofs_check_on_both_sides() {
    let both = Both::new(37);
    for size in 1..=37u64 {
        let root = both.root(size);
        let their_root = tlog_tiles::tree_hash(size, &Stored(&both.stored)).unwrap();
        assert_eq!(ours(&their_root), root, "root of {size}");
        for index in 0..size {
            let leaf = both.leaves[index as usize];
            let mine = inclusion_proof(index, size, &both.nodes).unwrap();
            let as_theirs: RecordProof = mine.iter().map(theirs).collect();
            tlog_tiles::check_record(&as_theirs, size, their_root, index, theirs(&leaf))
                .unwrap_or_else(|e| panic!("our inclusion proof {index}/{size}: {e:?}"));
            let their = tlog_tiles::prove_record(size, index, &Stored(&both.stored)).unwrap();
            let back: Vec<Hash> = their.iter().map(ours).collect();
            assert_eq!(verify_inclusion(&leaf, index, size, &back, &root), Ok(()));
        }
        for old in 1..=size {
            let mine = consistency_proof(old, size, &both.nodes).unwrap();
            let as_theirs: TreeProof = mine.iter().map(theirs).collect();
            tlog_tiles::check_tree(&as_theirs, size, their_root, old, theirs(&both.root(old)))
                .unwrap_or_else(|e| panic!("our consistency proof {old}->{size}: {e:?}"));
            let their = tlog_tiles::prove_tree(size, old, &Stored(&both.stored)).unwrap();
            let back: Vec<Hash> = their.iter().map(ours).collect();
            assert_eq!(
                verify_consistency(old, size, &back, &both.root(old), &root),
                Ok(())
            );
        }
    }
    // A wrong proof fails there too.
    let mut bad: RecordProof = inclusion_proof(3, 37, &both.nodes)
        .unwrap()
        .iter()
        .map(theirs)
        .collect();
    bad[0].0[0] ^= 1;
    let their_root = tlog_tiles::tree_hash(37, &Stored(&both.stored)).unwrap();
    assert!(tlog_tiles::check_record(&bad, 37, their_root, 3, theirs(&both.leaves[3])).is_err());
}
