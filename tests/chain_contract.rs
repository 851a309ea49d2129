//! The anchor registry contract on a real anvil node: access control, two-step ownership,
//! strictly increasing tree sizes, events, reads, and on-chain RFC 9162 inclusion verification
//! agreeing with the Rust verifier on the RFC 6962 vectors and on generated trees.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use alloy::sol_types::SolCall;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::Deserialize;

use traceseal::anchor::{AnchorCall, ChainPort, Word};
use traceseal::chain::anvil::{find_binary, Anvil, AnvilOptions};
use traceseal::chain::{key, AnchorRegistry, ChainClient, Reader};
use traceseal::merkle::{
    inclusion_proof, leaf_hash, root, verify_inclusion, Frontier, Hash, NodeId,
};

const WAIT: Duration = Duration::from_secs(20);
const T: Duration = Duration::from_secs(5);

struct Chain {
    _anvil: Anvil,
    _dir: tempfile::TempDir,
    url: String,
    /// Deployer: owner and anchorer.
    a: ChainClient,
    /// Another funded account.
    b: ChainClient,
}

async fn client(url: &str, path: &Path, contract: [u8; 20]) -> ChainClient {
    let signer = key::load_or_generate(path, true).unwrap();
    let r = Reader::connect(url, [0; 20], T).await.unwrap();
    r.anvil_set_balance(signer.address().0 .0, 10u128.pow(21))
        .await
        .unwrap();
    ChainClient::connect(url, signer, contract, None, T)
        .await
        .unwrap()
}

async fn chain() -> Chain {
    let anvil = Anvil::start(AnvilOptions::new(find_binary().unwrap())).unwrap();
    let url = anvil.url();
    let dir = tempfile::tempdir().unwrap();
    let a = client(&url, &dir.path().join("a.pem"), [0; 20]).await;
    let (contract, _, _) = a.deploy(WAIT).await.unwrap();
    let a = a.with_contract(contract);
    let b = client(&url, &dir.path().join("b.pem"), contract).await;
    Chain {
        _anvil: anvil,
        _dir: dir,
        url,
        a,
        b,
    }
}

fn w(byte: u8) -> Word {
    [byte; 32]
}

fn anchor_call(log: Word, size: u64, root: Word) -> Vec<u8> {
    traceseal::chain::anchor_calldata(&AnchorCall {
        log_id: log,
        tree_size: size,
        root,
        checkpoint_hash: w(0xcc),
    })
}

async fn expect_revert(c: &ChainClient, data: Vec<u8>, name: &str) {
    match c.transact(data, WAIT).await {
        Err(e) => assert!(e.to_string().contains(name), "expected {name}, got {e}"),
        Ok(_) => panic!("expected a {name} revert, but the transaction went through"),
    }
}

#[tokio::test]
async fn access_control_ownership_sizes_events_and_reads() {
    let c = chain().await;
    let me = c.a.account();
    let (anchorer, owner) = c.a.reader().roles().await.unwrap();
    assert_eq!((anchorer, owner), (me, me), "the deployer owns and anchors");
    let log = w(0x11);

    // Only the anchorer writes.
    expect_revert(&c.b, anchor_call(log, 5, w(1)), "NotAnchorer").await;
    // A zero root and a zero first size are refused.
    expect_revert(&c.a, anchor_call(log, 5, [0; 32]), "ZeroRoot").await;
    expect_revert(&c.a, anchor_call(log, 0, w(1)), "TreeSizeNotIncreasing").await;

    // Strictly increasing sizes.
    let (tx5, inc5) = c.a.transact(anchor_call(log, 5, w(5)), WAIT).await.unwrap();
    assert!(inc5.success);
    expect_revert(&c.a, anchor_call(log, 5, w(6)), "TreeSizeNotIncreasing").await;
    expect_revert(&c.a, anchor_call(log, 3, w(3)), "TreeSizeNotIncreasing").await;
    let (_, inc9) = c.a.transact(anchor_call(log, 9, w(9)), WAIT).await.unwrap();
    // Another log is independent.
    c.a.transact(anchor_call(w(0x22), 2, w(2)), WAIT)
        .await
        .unwrap();

    // Reads.
    let r = c.a.reader();
    let at5 = r.anchor_at(&log, 5).await.unwrap().unwrap();
    assert_eq!(
        (at5.tree_size, at5.root, at5.checkpoint_hash),
        (5, w(5), w(0xcc))
    );
    assert_eq!(at5.block_number, inc5.block_number);
    assert!(r.anchor_at(&log, 6).await.unwrap().is_none());
    let latest = r.latest(&log).await.unwrap().unwrap();
    assert_eq!(
        (latest.tree_size, latest.block_number),
        (9, inc9.block_number)
    );
    assert!(r.latest(&w(0x33)).await.unwrap().is_none());

    // Events: one per anchor, with log id, size, root, checkpoint hash.
    let ev = r.anchored_events(&log).await.unwrap();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0], (5, w(5), w(0xcc), inc5.block_number, tx5));
    assert_eq!((ev[1].0, ev[1].1), (9, w(9)));

    // Owner-only administration, two-step ownership transfer.
    let b_addr = alloy::primitives::Address::from(c.b.account());
    let set_anchorer = |x: alloy::primitives::Address| {
        AnchorRegistry::setAnchorerCall { newAnchorer: x }.abi_encode()
    };
    expect_revert(&c.b, set_anchorer(b_addr), "NotOwner").await;
    expect_revert(
        &c.b,
        AnchorRegistry::transferOwnershipCall { newOwner: b_addr }.abi_encode(),
        "NotOwner",
    )
    .await;
    c.a.transact(
        AnchorRegistry::transferOwnershipCall { newOwner: b_addr }.abi_encode(),
        WAIT,
    )
    .await
    .unwrap();
    // Until accepted, A is still the owner and B cannot act as one.
    expect_revert(&c.b, set_anchorer(b_addr), "NotOwner").await;
    expect_revert(
        &c.a,
        AnchorRegistry::acceptOwnershipCall {}.abi_encode(),
        "NotPendingOwner",
    )
    .await;
    c.b.transact(AnchorRegistry::acceptOwnershipCall {}.abi_encode(), WAIT)
        .await
        .unwrap();
    assert_eq!(r.roles().await.unwrap(), (me, c.b.account()));
    expect_revert(&c.a, set_anchorer(b_addr), "NotOwner").await;
    expect_revert(
        &c.b,
        set_anchorer(alloy::primitives::Address::ZERO),
        "ZeroAddress",
    )
    .await;
    c.b.transact(set_anchorer(b_addr), WAIT).await.unwrap();
    // The anchorer moved: A can no longer anchor, B can.
    expect_revert(&c.a, anchor_call(log, 10, w(10)), "NotAnchorer").await;
    c.b.transact(anchor_call(log, 10, w(10)), WAIT)
        .await
        .unwrap();
    assert_eq!(r.latest(&log).await.unwrap().unwrap().tree_size, 10);
    let _ = &c.url;
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InclusionVector {
    leaf_idx: u64,
    tree_size: u64,
    root: String,
    leaf_hash: String,
    proof: Option<Vec<String>>,
}

fn to32(b64: &str) -> Option<Word> {
    STANDARD.decode(b64).ok()?.as_slice().try_into().ok()
}

/// Every inclusion vector the contract can be given (all values 32 bytes) gets the same answer
/// on chain as from the Rust verifier.
#[tokio::test]
async fn onchain_inclusion_agrees_with_rust_on_rfc6962_vectors() {
    let c = chain().await;
    let r = c.a.reader();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/rfc6962/inclusion");
    let (mut checked, mut valid, mut skipped) = (0, 0, 0);
    let mut stack = vec![dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let v: InclusionVector =
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            let proof: Option<Vec<Word>> = v
                .proof
                .clone()
                .unwrap_or_default()
                .iter()
                .map(|h| to32(h))
                .collect();
            let (Some(root_w), Some(leaf_w), Some(proof)) =
                (to32(&v.root), to32(&v.leaf_hash), proof)
            else {
                skipped += 1;
                continue;
            };
            let rust = verify_inclusion(
                &Hash(leaf_w),
                v.leaf_idx,
                v.tree_size,
                &proof.iter().map(|p| Hash(*p)).collect::<Vec<_>>(),
                &Hash(root_w),
            )
            .is_ok();
            let chain = r
                .verify_inclusion(&leaf_w, v.leaf_idx, v.tree_size, &proof, &root_w)
                .await
                .unwrap();
            assert_eq!(chain, rust, "{}", p.display());
            checked += 1;
            valid += usize::from(rust);
        }
    }
    assert!(checked >= 70, "only {checked} vectors checked");
    assert!(valid >= 6, "only {valid} valid vectors");
    eprintln!("{checked} vectors agree ({valid} valid), {skipped} not expressible as bytes32");
}

/// Proofs the Rust log generates verify on chain, for every index of every tree up to 40
/// leaves, and a tampered proof fails on both sides.
#[tokio::test]
async fn onchain_inclusion_accepts_generated_proofs() {
    let c = chain().await;
    let r = c.a.reader();
    let mut nodes: HashMap<NodeId, Hash> = HashMap::new();
    let mut f = Frontier::new();
    let leaves: Vec<Hash> = (0..40u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
    for l in &leaves {
        f.append(*l, |id, h| {
            nodes.insert(id, h);
        });
    }
    let mut n = 0;
    for size in [1u64, 2, 3, 5, 8, 13, 21, 32, 33, 40] {
        let rt = root(size, &nodes).unwrap();
        for i in 0..size {
            let p = inclusion_proof(i, size, &nodes).unwrap();
            let pw: Vec<Word> = p.iter().map(|h| h.0).collect();
            let leaf = leaves[i as usize].0;
            assert!(r
                .verify_inclusion(&leaf, i, size, &pw, &rt.0)
                .await
                .unwrap());
            if let Some(first) = pw.first() {
                let mut bad = pw.clone();
                bad[0] = [first[0] ^ 1; 32];
                assert!(!r
                    .verify_inclusion(&leaf, i, size, &bad, &rt.0)
                    .await
                    .unwrap());
            }
            assert!(!r
                .verify_inclusion(&leaf, size, size, &pw, &rt.0)
                .await
                .unwrap());
            n += 1;
        }
    }
    assert!(n > 150);
}
