//! Proof bundles: one self-contained JSON document per item that proves its records without
//! trusting the service (format `traceseal-bundle/v1`, see `docs/bundle.md`), and the offline
//! verifier of it. Checking the anchor against the chain is the caller's job (the CLI does it
//! with [`crate::chain::Reader`]); [`verify`] returns exactly what must be compared.

mod custody;
mod format;
mod report;

pub use self::format::*;
pub use self::report::*;

use self::custody::verify_custody;
use base64::Engine;
use ed25519_dalek::VerifyingKey;

use crate::anchor::{checkpoint_hash, hex0x, log_id, parse_hex};
use crate::checkpoint::{open_checkpoint, Checkpoint, NoteVerifier};
use crate::code::{Code, KeyId};
use crate::commitment::Commitment;
use crate::issuer::{check_revocation, revocation_in, Revocation};
use crate::leaf::LeafRecord;
use crate::merkle::{self, Hash};

/// Parses a bundle from JSON text (strict: unknown fields are errors).
pub fn parse(text: &str) -> Result<Bundle, BundleError> {
    serde_json::from_str(text)
        .or_else(|e| fail(BundleError::Format, format!("not a proof bundle: {e}")))
}

/// Checks everything a bundle says that needs no chain access: the code's signature, each
/// record's leaf and inclusion proof, the checkpoint signatures, the consistency proof, that
/// the code's issuer key was not revoked from a time at or before the item's issuance (by the
/// bundle's `issuer_key` records; [`crate::issuer`]), and that the anchor claim matches the
/// checkpoint.
pub fn verify(b: &Bundle) -> Result<Verified, BundleError> {
    if b.format != FORMAT {
        return fail(
            BundleError::Format,
            format!("format is {:?}, expected {FORMAT:?}", b.format),
        );
    }
    let log = NoteVerifier::from_vkey(&b.keys.log_vkey)
        .or_else(|e| fail(BundleError::Keys, format!("log verifier key: {e}")))?;
    let code = verify_code(b)?;
    let cp = open_checkpoint(&b.checkpoint, &log)
        .or_else(|e| fail(BundleError::Checkpoint, format!("{e}")))?;
    let latest = verify_latest(b, &cp, &log)?;
    let checked = verify_records(b, &code, &cp, latest)?;
    let Some(issued_at) = checked.issued_at else {
        return fail(
            BundleError::Records,
            "the bundle has no issuance record of the item",
        );
    };
    let key_revocation = verify_issuer_key(b, &code, &checked.custody_leaves, issued_at)?;
    let (custody_records, custody_warnings) = verify_custody(&code, checked.custody_leaves)?;
    let anchor = match &b.anchor {
        Some(a) if a.status.on_chain() => Some(anchor_claim(a, &b.checkpoint, &cp)?),
        _ => None,
    };
    let item = code.item();
    Ok(Verified {
        gtin: item.gtin.as_str().to_string(),
        serial: item.serial.as_str().to_string(),
        kid: code.kid().to_string(),
        issued_at,
        key_revocation,
        origin: cp.origin,
        tree_size: cp.size,
        root: *cp.root.as_bytes(),
        latest_size: latest.map(|(size, _)| size),
        records: checked.records,
        anchor,
        anchor_status: b.anchor.as_ref().map(|a| a.status),
        custody_records,
        custody_warnings,
        newer_records: checked.newer_records,
    })
}

/// The bundle's code, its signature checked with the issuer key the bundle carries.
fn verify_code(b: &Bundle) -> Result<Code, BundleError> {
    let code = Code::parse(&b.code)
        .or_else(|e| fail(BundleError::Code, format!("unreadable code: {e}")))?;
    let vk = issuer_key(b, code.kid())?;
    code.verify(&vk)
        .or_else(|e| fail(BundleError::Code, format!("signature does not verify: {e}")))?;
    Ok(code)
}

/// The issuer key `kid` from the bundle's keys, checked to hash to its id.
fn issuer_key(b: &Bundle, kid: KeyId) -> Result<VerifyingKey, BundleError> {
    let key = b
        .keys
        .issuers
        .iter()
        .find(|k| KeyId::parse(&k.kid).ok() == Some(kid))
        .ok_or_else(|| BundleError::Code(format!("the bundle has no issuer key {kid}")))?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&key.public_key)
        .or_else(|e| fail(BundleError::Keys, format!("issuer key {}: {e}", key.kid)))?;
    let raw: [u8; 32] = raw.as_slice().try_into().or_else(|_| {
        fail(
            BundleError::Keys,
            format!("issuer key {} is not 32 bytes", key.kid),
        )
    })?;
    let vk = VerifyingKey::from_bytes(&raw)
        .or_else(|e| fail(BundleError::Keys, format!("issuer key {}: {e}", key.kid)))?;
    if KeyId::of(&vk) != kid {
        return fail(
            BundleError::Keys,
            format!("issuer key {} does not hash to its key id", key.kid),
        );
    }
    Ok(vk)
}

/// The revocation of the code's issuer key by the bundle's `issuer_key` records (those about
/// the bundle's key of that id; a record naming the id with another public key is refused),
/// and the revocation rule applied to the item's issuance time.
fn verify_issuer_key(
    b: &Bundle,
    code: &Code,
    leaves: &[(u64, LeafRecord, Hash)],
    issued_at: i64,
) -> Result<Option<Revocation>, BundleError> {
    let kid = code.kid().to_string();
    let public_key = b
        .keys
        .issuers
        .iter()
        .find(|k| k.kid == kid)
        .map(|k| k.public_key.as_str())
        .unwrap_or_default();
    let mut ops = Vec::new();
    for (i, leaf, _) in leaves {
        if let LeafRecord::IssuerKey(op) = leaf {
            if op.kid() == kid && op.public_key() != public_key {
                return fail(
                    BundleError::Records,
                    format!("issuer key record {i} names key {kid} with another public key"),
                );
            }
            ops.push(op);
        }
    }
    let revocation = revocation_in(ops, &kid, public_key);
    check_revocation(&kid, revocation.as_ref(), Some(issued_at))
        .or_else(|e| fail(BundleError::IssuerKeyRevoked, e.to_string()))?;
    Ok(revocation)
}

/// The latest checkpoint (size and root), when the bundle has one, checked to extend the
/// checkpoint with the consistency proof.
fn verify_latest(
    b: &Bundle,
    cp: &Checkpoint,
    log: &NoteVerifier,
) -> Result<Option<(u64, Hash)>, BundleError> {
    let Some(note) = &b.latest_checkpoint else {
        if !b.consistency_proof.is_empty() {
            return fail(
                BundleError::Consistency,
                "a consistency proof without a latest checkpoint",
            );
        }
        return Ok(None);
    };
    let latest = open_checkpoint(note, log)
        .or_else(|e| fail(BundleError::LatestCheckpoint, format!("{e}")))?;
    if latest.origin != cp.origin {
        return fail(
            BundleError::LatestCheckpoint,
            "origin differs from the checkpoint's",
        );
    }
    let p = proof(BundleError::Consistency, &b.consistency_proof)?;
    if latest.size < cp.size {
        return fail(
            BundleError::LatestCheckpoint,
            "is older than the checkpoint",
        );
    }
    if latest.size == cp.size {
        if latest.root != cp.root {
            return fail(BundleError::Consistency, "two roots for one tree size");
        }
    } else {
        merkle::verify_consistency(cp.size, latest.size, &p, &cp.root, &latest.root).or_else(
            |e| {
                fail(
                    BundleError::Consistency,
                    format!("size {} does not extend size {}: {e}", latest.size, cp.size),
                )
            },
        )?;
    }
    Ok(Some((latest.size, latest.root)))
}

/// What the records of a bundle showed.
struct CheckedRecords {
    /// (leaf index, leaf hash, inclusion proof) of the records proven against the checkpoint.
    records: Vec<(u64, [u8; 32], Vec<[u8; 32]>)>,
    /// The records other than the item's, for [`verify_custody`].
    custody_leaves: Vec<(u64, LeafRecord, Hash)>,
    /// Records proven against the latest checkpoint instead.
    newer_records: usize,
    /// The issue time in the item's issuance record, when it is among them.
    issued_at: Option<i64>,
}

/// Every record parsed, of the kind it claims, and included in the tree it names.
fn verify_records(
    b: &Bundle,
    code: &Code,
    cp: &Checkpoint,
    latest: Option<(u64, Hash)>,
) -> Result<CheckedRecords, BundleError> {
    if b.records.is_empty() {
        return fail(BundleError::Records, "the bundle has no record");
    }
    if b.records.len() > MAX_RECORDS {
        return fail(
            BundleError::Records,
            format!("more than {MAX_RECORDS} records"),
        );
    }
    let mut out = CheckedRecords {
        records: Vec::with_capacity(b.records.len()),
        custody_leaves: Vec::new(),
        newer_records: 0,
        issued_at: None,
    };
    for r in &b.records {
        let data = base64::engine::general_purpose::STANDARD
            .decode(&r.leaf_data)
            .or_else(|e| {
                fail(
                    BundleError::Records,
                    format!("leaf {}: bad base64: {e}", r.leaf_index),
                )
            })?;
        let leaf = LeafRecord::parse(&data)
            .or_else(|e| fail(BundleError::Records, format!("leaf {}: {e}", r.leaf_index)))?;
        if record_kind(r, &leaf, code)? {
            if let LeafRecord::Item(i) = &leaf {
                out.issued_at = Some(i.issued_at);
            }
        }
        let p = proof(BundleError::Inclusion, &r.inclusion_proof)?;
        let lh = merkle::leaf_hash(&data);
        let (size, root) = proof_target(r, &leaf, cp, latest)?;
        merkle::verify_inclusion(&lh, r.leaf_index, size, &p, &root).or_else(|e| {
            fail(
                BundleError::Inclusion,
                format!(
                    "leaf {} is not in the checkpoint of size {size}: {e}",
                    r.leaf_index
                ),
            )
        })?;
        if r.tree_size.is_none() {
            let proof = p.iter().map(|h| *h.as_bytes()).collect();
            out.records.push((r.leaf_index, *lh.as_bytes(), proof));
        } else {
            out.newer_records += 1;
        }
        if !matches!(leaf, LeafRecord::Item(_)) {
            out.custody_leaves.push((r.leaf_index, leaf, lh));
        }
    }
    Ok(out)
}

/// Whether the leaf holds a record of the kind the bundle says; true for the item's own
/// issuance record (an issuance record of another code is refused).
fn record_kind(r: &BundleRecord, leaf: &LeafRecord, code: &Code) -> Result<bool, BundleError> {
    match (leaf, r.kind.as_str()) {
        (LeafRecord::Item(i), "item") => {
            if i.commitment != Commitment::of(code) {
                return fail(
                    BundleError::Records,
                    format!("leaf {} is the record of another code", r.leaf_index),
                );
            }
            Ok(true)
        }
        (LeafRecord::Custody(_), "custody")
        | (LeafRecord::Actor(_), "actor")
        | (LeafRecord::Recall(_), "recall")
        | (LeafRecord::Product(_), "product")
        | (LeafRecord::Engagement(_), "engagement")
        | (LeafRecord::IssuerKey(_), "issuer_key") => Ok(false),
        (_, k) => fail(
            BundleError::Records,
            format!("leaf {} does not hold a record of kind {k:?}", r.leaf_index),
        ),
    }
}

/// The tree (size, root) a record's inclusion proof is against: the checkpoint, or the latest
/// checkpoint for records newer than it (never the item's issuance record).
fn proof_target(
    r: &BundleRecord,
    leaf: &LeafRecord,
    cp: &Checkpoint,
    latest: Option<(u64, Hash)>,
) -> Result<(u64, Hash), BundleError> {
    let Some(n) = r.tree_size else {
        return Ok((cp.size, cp.root));
    };
    match latest {
        Some((size, root)) if size == n => {
            if matches!(leaf, LeafRecord::Item(_)) {
                return fail(
                    BundleError::Records,
                    "the issuance record must be proven against the checkpoint",
                );
            }
            Ok((size, root))
        }
        _ => fail(
            BundleError::Records,
            format!(
                "leaf {} claims a proof against tree size {n}, which is not the latest checkpoint's",
                r.leaf_index
            ),
        ),
    }
}

/// The on-chain anchor the bundle claims for its checkpoint, checked against the checkpoint
/// (log id, tree size, root, note hash); whether the chain holds it is the caller's check.
fn anchor_claim(a: &BundleAnchor, note: &str, cp: &Checkpoint) -> Result<AnchorClaim, BundleError> {
    let contract = parse_hex::<20>(&a.contract)
        .or_else(|e| fail(BundleError::Anchor, format!("contract: {e}")))?;
    let lid = parse_hex::<32>(&a.log_id)
        .or_else(|e| fail(BundleError::Anchor, format!("log_id: {e}")))?;
    if lid != log_id(&cp.origin) {
        return fail(
            BundleError::Anchor,
            format!("log_id is not SHA-256 of the origin {:?}", cp.origin),
        );
    }
    if a.tree_size != Some(cp.size) {
        return fail(
            BundleError::Anchor,
            format!(
                "anchored tree size {:?} is not the checkpoint's {}",
                a.tree_size, cp.size
            ),
        );
    }
    let root = parse_hex::<32>(a.root.as_deref().unwrap_or(""))
        .or_else(|e| fail(BundleError::Anchor, format!("root: {e}")))?;
    if &root != cp.root.as_bytes() {
        return fail(
            BundleError::Anchor,
            format!(
                "anchored root {} is not the checkpoint's {}",
                hex0x(&root),
                cp.root.to_hex()
            ),
        );
    }
    let ch = parse_hex::<32>(a.checkpoint_hash.as_deref().unwrap_or(""))
        .or_else(|e| fail(BundleError::Anchor, format!("checkpoint_hash: {e}")))?;
    if ch != checkpoint_hash(note) {
        return fail(
            BundleError::Anchor,
            "checkpoint_hash is not SHA-256 of the checkpoint note",
        );
    }
    let tx_hash = match a.tx_hash.as_deref() {
        Some(t) => Some(
            parse_hex::<32>(t).or_else(|e| fail(BundleError::Anchor, format!("tx_hash: {e}")))?,
        ),
        None => None,
    };
    Ok(AnchorClaim {
        chain_id: a.chain_id,
        contract,
        log_id: lid,
        tree_size: cp.size,
        root,
        checkpoint_hash: ch,
        tx_hash,
        block_number: a.block_number,
    })
}
