//! Proof bundles: one self-contained JSON document per item that proves its records without
//! trusting the service (format `traceseal-bundle/v1`, see `docs/bundle.md`), and the offline
//! verifier of it. Checking the anchor against the chain is the caller's job (the CLI does it
//! with [`crate::chain::Reader`]); [`verify`] returns exactly what must be compared.

use base64::Engine;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::anchor::{checkpoint_hash, hex0x, log_id, parse_hex, Address, AnchorStatus, Word};
use crate::checkpoint::{open_checkpoint, NoteVerifier};
use crate::code::{Code, KeyId};
use crate::commitment::{Commitment, ItemRef};
use crate::leaf::LeafRecord;
use crate::merkle::{self, Hash};

/// The `format` value of this version.
pub const FORMAT: &str = "traceseal-bundle/v2";
/// Most records a bundle may hold (decoder limit).
pub const MAX_RECORDS: usize = 10_000;
/// Most hashes in one proof (a tree of 2^64 leaves needs 64).
pub const MAX_PROOF_LEN: usize = 64;
/// Largest bundle file the CLI reads.
pub const MAX_BUNDLE_BYTES: u64 = 16 * 1024 * 1024;

/// A proof bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always [`FORMAT`].
    pub format: String,
    /// The item's signed code URI.
    pub code: String,
    /// Every log record about the item, each with its inclusion proof against `checkpoint`.
    pub records: Vec<BundleRecord>,
    /// The signed checkpoint note the proofs are against (the anchored one when there is one).
    pub checkpoint: String,
    /// A newer signed checkpoint, when the log has grown past `checkpoint`.
    pub latest_checkpoint: Option<String>,
    /// RFC 9162 consistency proof from `checkpoint` to `latest_checkpoint` (base64 hashes).
    pub consistency_proof: Vec<String>,
    /// Where `checkpoint` is anchored; `None` when the service does not anchor.
    pub anchor: Option<BundleAnchor>,
    /// The public keys needed to check everything.
    pub keys: BundleKeys,
}

/// One log record about the item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleRecord {
    /// Record kind (`item`: the issuance record).
    pub kind: String,
    /// Leaf index.
    pub leaf_index: u64,
    /// Base64 leaf bytes.
    pub leaf_data: String,
    /// RFC 9162 inclusion proof (base64 hashes) against `checkpoint`, or, when `tree_size`
    /// is set, against `latest_checkpoint` (a record newer than the anchored checkpoint).
    pub inclusion_proof: Vec<String>,
    /// Set (to the latest checkpoint's size) when the proof is against `latest_checkpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tree_size: Option<u64>,
}

/// The anchor of the bundle's checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleAnchor {
    /// Anchoring state when the bundle was made.
    pub status: AnchorStatus,
    /// EVM chain id.
    pub chain_id: u64,
    /// Registry contract (`0x`).
    pub contract: String,
    /// SHA-256 of the log origin (`0x`).
    pub log_id: String,
    /// Anchored tree size (equals the checkpoint's when on chain).
    pub tree_size: Option<u64>,
    /// Anchored root (`0x`).
    pub root: Option<String>,
    /// SHA-256 of the checkpoint note (`0x`).
    pub checkpoint_hash: Option<String>,
    /// Anchor transaction (`0x`).
    pub tx_hash: Option<String>,
    /// Its block.
    pub block_number: Option<u64>,
    /// Its block hash (`0x`).
    pub block_hash: Option<String>,
    /// Its block time (Unix seconds).
    pub block_timestamp: Option<u64>,
}

/// Public keys in a bundle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleKeys {
    /// Issuer keys (code signatures).
    pub issuers: Vec<BundleIssuerKey>,
    /// The log's C2SP note verifier key (checkpoint signatures).
    pub log_vkey: String,
}

/// One issuer key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BundleIssuerKey {
    /// Key id (8 hex).
    pub kid: String,
    /// Base64 raw Ed25519 public key.
    pub public_key: String,
}

/// A failed check: which one and exactly why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{check}: {detail}")]
pub struct BundleError {
    /// The check that failed (stable name, e.g. `inclusion`).
    pub check: &'static str,
    /// What was wrong.
    pub detail: String,
}

fn fail<T>(check: &'static str, detail: impl Into<String>) -> Result<T, BundleError> {
    Err(BundleError {
        check,
        detail: detail.into(),
    })
}

/// What a verified bundle proves, and what remains to compare against the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// GTIN-14 of the item.
    pub gtin: String,
    /// Serial.
    pub serial: String,
    /// Issuer key id.
    pub kid: String,
    /// Log origin.
    pub origin: String,
    /// Size of the checkpoint the proofs are against.
    pub tree_size: u64,
    /// Its root.
    pub root: Word,
    /// Size of the latest checkpoint, if the bundle has one.
    pub latest_size: Option<u64>,
    /// (leaf index, leaf hash, proof) of each record proven against the checkpoint (the
    /// anchored one when the bundle has an anchor).
    pub records: Vec<(u64, Word, Vec<Word>)>,
    /// Records proven only against the latest checkpoint (newer than the anchored one).
    pub newer_records: usize,
    /// The anchor claim when the bundle says the checkpoint is on chain.
    pub anchor: Option<AnchorClaim>,
    /// The bundle's anchoring state (`None`: the service does not anchor).
    pub anchor_status: Option<AnchorStatus>,
    /// Custody records checked (signature, signer's logged key and role, lot, hash links).
    pub custody_records: usize,
    /// Custody records whose signing key was revoked or rotated out at or before the time
    /// of the signature (a later revocation, e.g. back-dated to a key compromise): their
    /// integrity holds, but they may not be genuine.
    pub custody_warnings: Vec<String>,
}

/// What must hold on chain for the bundle's anchor claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorClaim {
    /// Chain id.
    pub chain_id: u64,
    /// Contract.
    pub contract: Address,
    /// Log id.
    pub log_id: Word,
    /// Tree size.
    pub tree_size: u64,
    /// Root.
    pub root: Word,
    /// Checkpoint hash.
    pub checkpoint_hash: Word,
    /// Transaction, if known.
    pub tx_hash: Option<Word>,
    /// Block, if known.
    pub block_number: Option<u64>,
}

fn b64_hash(check: &'static str, s: &str) -> Result<Hash, BundleError> {
    Hash::from_base64(s).or_else(|e| fail(check, format!("bad hash {s:?}: {e}")))
}

fn proof(check: &'static str, p: &[String]) -> Result<Vec<Hash>, BundleError> {
    if p.len() > MAX_PROOF_LEN {
        return fail(
            check,
            format!(
                "proof has {} hashes, at most {MAX_PROOF_LEN} allowed",
                p.len()
            ),
        );
    }
    p.iter().map(|h| b64_hash(check, h)).collect()
}

/// Parses a bundle from JSON text (strict: unknown fields are errors).
pub fn parse(text: &str) -> Result<Bundle, BundleError> {
    serde_json::from_str(text).or_else(|e| fail("format", format!("not a proof bundle: {e}")))
}

/// Checks everything a bundle says that needs no chain access: the code's signature, each
/// record's leaf and inclusion proof, the checkpoint signatures, the consistency proof, and
/// that the anchor claim matches the checkpoint.
pub fn verify(b: &Bundle) -> Result<Verified, BundleError> {
    if b.format != FORMAT {
        return fail(
            "format",
            format!("format is {:?}, expected {FORMAT:?}", b.format),
        );
    }
    // Keys.
    let log = NoteVerifier::from_vkey(&b.keys.log_vkey)
        .or_else(|e| fail("keys", format!("log verifier key: {e}")))?;
    // Code.
    let code = Code::parse(&b.code).or_else(|e| fail("code", format!("unreadable code: {e}")))?;
    let kid = code.kid();
    let key = b
        .keys
        .issuers
        .iter()
        .find(|k| KeyId::parse(&k.kid).ok() == Some(kid))
        .ok_or_else(|| BundleError {
            check: "code",
            detail: format!("the bundle has no issuer key {kid}"),
        })?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(&key.public_key)
        .or_else(|e| fail("keys", format!("issuer key {}: {e}", key.kid)))?;
    let raw: [u8; 32] = raw
        .as_slice()
        .try_into()
        .or_else(|_| fail("keys", format!("issuer key {} is not 32 bytes", key.kid)))?;
    let vk = VerifyingKey::from_bytes(&raw)
        .or_else(|e| fail("keys", format!("issuer key {}: {e}", key.kid)))?;
    if KeyId::of(&vk) != kid {
        return fail(
            "keys",
            format!("issuer key {} does not hash to its key id", key.kid),
        );
    }
    code.verify(&vk)
        .or_else(|e| fail("code", format!("signature does not verify: {e}")))?;
    // Checkpoint.
    let cp =
        open_checkpoint(&b.checkpoint, &log).or_else(|e| fail("checkpoint", format!("{e}")))?;
    // Latest checkpoint and the consistency proof up to it.
    let mut latest_root = None;
    let latest_size = match &b.latest_checkpoint {
        None => {
            if !b.consistency_proof.is_empty() {
                return fail(
                    "consistency",
                    "a consistency proof without a latest checkpoint",
                );
            }
            None
        }
        Some(note) => {
            let latest = open_checkpoint(note, &log)
                .or_else(|e| fail("latest_checkpoint", format!("{e}")))?;
            if latest.origin != cp.origin {
                return fail("latest_checkpoint", "origin differs from the checkpoint's");
            }
            let p = proof("consistency", &b.consistency_proof)?;
            if latest.size < cp.size {
                return fail("latest_checkpoint", "is older than the checkpoint");
            }
            if latest.size == cp.size {
                if latest.root != cp.root {
                    return fail("consistency", "two roots for one tree size");
                }
            } else {
                merkle::verify_consistency(cp.size, latest.size, &p, &cp.root, &latest.root)
                    .or_else(|e| {
                        fail(
                            "consistency",
                            format!("size {} does not extend size {}: {e}", latest.size, cp.size),
                        )
                    })?;
            }
            latest_root = Some(latest.root);
            Some(latest.size)
        }
    };
    // Records.
    if b.records.is_empty() {
        return fail("records", "the bundle has no record");
    }
    if b.records.len() > MAX_RECORDS {
        return fail("records", format!("more than {MAX_RECORDS} records"));
    }
    let mut records = Vec::with_capacity(b.records.len());
    let mut has_item = false;
    let mut custody_leaves: Vec<(u64, LeafRecord, Hash)> = Vec::new();
    let mut newer_records = 0;
    for r in &b.records {
        let data = base64::engine::general_purpose::STANDARD
            .decode(&r.leaf_data)
            .or_else(|e| fail("records", format!("leaf {}: bad base64: {e}", r.leaf_index)))?;
        let leaf = LeafRecord::parse(&data)
            .or_else(|e| fail("records", format!("leaf {}: {e}", r.leaf_index)))?;
        match (&leaf, r.kind.as_str()) {
            (LeafRecord::Item(i), "item") => {
                if i.commitment != Commitment::of(&code) {
                    return fail(
                        "records",
                        format!("leaf {} is the record of another code", r.leaf_index),
                    );
                }
                has_item = true;
            }
            (LeafRecord::Custody(_), "custody")
            | (LeafRecord::Actor(_), "actor")
            | (LeafRecord::Recall(_), "recall")
            | (LeafRecord::Product(_), "product")
            | (LeafRecord::Engagement(_), "engagement") => {}
            (_, k) => {
                return fail(
                    "records",
                    format!("leaf {} does not hold a record of kind {k:?}", r.leaf_index),
                )
            }
        }
        let p = proof("inclusion", &r.inclusion_proof)?;
        let lh = merkle::leaf_hash(&data);
        let (size, root) = match r.tree_size {
            None => (cp.size, cp.root),
            Some(n) => match (latest_size, latest_root) {
                (Some(ls), Some(lr)) if ls == n => {
                    if matches!(leaf, LeafRecord::Item(_)) {
                        return fail(
                            "records",
                            "the issuance record must be proven against the checkpoint",
                        );
                    }
                    newer_records += 1;
                    (ls, lr)
                }
                _ => {
                    return fail(
                        "records",
                        format!(
                            "leaf {} claims a proof against tree size {n}, which is not the latest checkpoint's",
                            r.leaf_index
                        ),
                    )
                }
            },
        };
        merkle::verify_inclusion(&lh, r.leaf_index, size, &p, &root).or_else(|e| {
            fail(
                "inclusion",
                format!(
                    "leaf {} is not in the checkpoint of size {size}: {e}",
                    r.leaf_index
                ),
            )
        })?;
        if r.tree_size.is_none() {
            records.push((
                r.leaf_index,
                *lh.as_bytes(),
                p.iter().map(|h| *h.as_bytes()).collect(),
            ));
        }
        if !matches!(leaf, LeafRecord::Item(_)) {
            custody_leaves.push((r.leaf_index, leaf, lh));
        }
    }
    let (custody_records, custody_warnings) = verify_custody(&code, custody_leaves)?;
    if !has_item {
        return fail("records", "the bundle has no issuance record of the item");
    }
    // Anchor claim.
    let mut claim = None;
    let mut anchor_status = None;
    if let Some(a) = &b.anchor {
        anchor_status = Some(a.status);
        if a.status.on_chain() {
            let contract = parse_hex::<20>(&a.contract)
                .or_else(|e| fail("anchor", format!("contract: {e}")))?;
            let lid =
                parse_hex::<32>(&a.log_id).or_else(|e| fail("anchor", format!("log_id: {e}")))?;
            if lid != log_id(&cp.origin) {
                return fail(
                    "anchor",
                    format!("log_id is not SHA-256 of the origin {:?}", cp.origin),
                );
            }
            if a.tree_size != Some(cp.size) {
                return fail(
                    "anchor",
                    format!(
                        "anchored tree size {:?} is not the checkpoint's {}",
                        a.tree_size, cp.size
                    ),
                );
            }
            let root = parse_hex::<32>(a.root.as_deref().unwrap_or(""))
                .or_else(|e| fail("anchor", format!("root: {e}")))?;
            if &root != cp.root.as_bytes() {
                return fail(
                    "anchor",
                    format!(
                        "anchored root {} is not the checkpoint's {}",
                        hex0x(&root),
                        cp.root.to_hex()
                    ),
                );
            }
            let ch = parse_hex::<32>(a.checkpoint_hash.as_deref().unwrap_or(""))
                .or_else(|e| fail("anchor", format!("checkpoint_hash: {e}")))?;
            if ch != checkpoint_hash(&b.checkpoint) {
                return fail(
                    "anchor",
                    "checkpoint_hash is not SHA-256 of the checkpoint note",
                );
            }
            let tx_hash = match a.tx_hash.as_deref() {
                Some(t) => {
                    Some(parse_hex::<32>(t).or_else(|e| fail("anchor", format!("tx_hash: {e}")))?)
                }
                None => None,
            };
            claim = Some(AnchorClaim {
                chain_id: a.chain_id,
                contract,
                log_id: lid,
                tree_size: cp.size,
                root,
                checkpoint_hash: ch,
                tx_hash,
                block_number: a.block_number,
            });
        }
    }
    let item = code.item();
    Ok(Verified {
        gtin: item.gtin.as_str().to_string(),
        serial: item.serial.as_str().to_string(),
        kid: kid.to_string(),
        origin: cp.origin,
        tree_size: cp.size,
        root: *cp.root.as_bytes(),
        latest_size,
        records,
        anchor: claim,
        anchor_status,
        custody_records,
        custody_warnings,
        newer_records,
    })
}

/// An actor's key as the bundle's logged registry records establish it.
struct LoggedKey {
    key: VerifyingKey,
    not_before: i64,
    not_after: Option<i64>,
    revoked_from: Option<i64>,
}

/// Checks the custody part of a bundle: every custody record is about the item's lot (and,
/// when item-scoped, names the item by its [`ItemRef`]), is signed with `verify_strict` by a
/// key that the bundle's own logged `actor` records register for the signer, by a role allowed
/// to record the step, and by an actor the GTIN's owner (its latest `product` record before
/// the custody record) had engaged for it at `signed_at` (its `engagement` records before the
/// custody record); lot-wide records form an unbroken hash chain from the genesis, and
/// item-scoped records point into it. A key revoked or rotated out at or before the signature's time (a
/// later, back-dated revocation) is a warning, not a failure: the record is intact but may
/// not be genuine. Returns the number checked and the warnings.
fn verify_custody(
    code: &Code,
    mut leaves: Vec<(u64, LeafRecord, Hash)>,
) -> Result<(usize, Vec<String>), BundleError> {
    use crate::custody::{engagement, rules, ActorOp, Role, GENESIS};
    use std::collections::{HashMap, HashSet};
    leaves.sort_by_key(|(i, _, _)| *i);
    let item = code.item();
    let item_ref = ItemRef::of(code);
    let lot_id = format!("{}.{}", item.gtin.as_str(), item.lot.as_str());
    let mut roles: HashMap<String, Role> = HashMap::new();
    let mut keys: HashMap<(String, String), LoggedKey> = HashMap::new();
    for (i, leaf, _) in &leaves {
        if let LeafRecord::Actor(op) = leaf {
            match op {
                ActorOp::Register { actor, role, .. } => {
                    roles.insert(actor.clone(), *role);
                }
                ActorOp::AddKey {
                    actor,
                    kid,
                    public_key,
                    not_before,
                    not_after,
                    replaces,
                    ..
                } => {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(public_key)
                        .ok()
                        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
                        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
                        .ok_or_else(|| BundleError {
                            check: "custody",
                            detail: format!("actor record {i}: key {kid} is not an Ed25519 key"),
                        })?;
                    if KeyId::of(&raw).to_string() != *kid {
                        return fail(
                            "custody",
                            format!("actor record {i}: key {kid} does not hash to its key id"),
                        );
                    }
                    if let Some(old) = replaces
                        .as_ref()
                        .and_then(|r| keys.get_mut(&(actor.clone(), r.clone())))
                    {
                        old.not_after =
                            Some(old.not_after.map_or(*not_before, |na| na.min(*not_before)));
                    }
                    keys.insert(
                        (actor.clone(), kid.clone()),
                        LoggedKey {
                            key: raw,
                            not_before: *not_before,
                            not_after: *not_after,
                            revoked_from: None,
                        },
                    );
                }
                ActorOp::RevokeKey {
                    actor,
                    kid,
                    revoked_from,
                    ..
                } => {
                    if let Some(k) = keys.get_mut(&(actor.clone(), kid.clone())) {
                        k.revoked_from = Some(
                            k.revoked_from
                                .map_or(*revoked_from, |r| r.min(*revoked_from)),
                        );
                    }
                }
            }
        }
    }
    let mut head = GENESIS.to_string();
    let mut lot_wide: HashSet<String> = HashSet::from([GENESIS.to_string()]);
    let mut n = 0;
    let mut warnings = Vec::new();
    // Ownership and engagements as the log stood when each record was accepted.
    let mut owner: Option<u64> = None;
    let mut engaged: HashMap<(u64, String), Vec<engagement::Period>> = HashMap::new();
    for (i, leaf, lh) in &leaves {
        let (lot, prev, items) = match leaf {
            LeafRecord::Product(p) => {
                if p.gtin == item.gtin.as_str() {
                    owner = Some(p.enterprise);
                }
                continue;
            }
            LeafRecord::Engagement(op) => {
                let (e, a) = op.parties();
                engagement::apply(engaged.entry((e, a.to_string())).or_default(), op);
                continue;
            }
            LeafRecord::Custody(s) => {
                let st = &s.checked.statement;
                let who = format!("custody record {i} ({} by {})", st.event.step(), st.actor);
                let role = roles.get(&st.actor).copied().ok_or_else(|| BundleError {
                    check: "custody",
                    detail: format!("{who}: the bundle has no registration record of the signer"),
                })?;
                let k = keys
                    .get(&(st.actor.clone(), st.kid.clone()))
                    .ok_or_else(|| BundleError {
                        check: "custody",
                        detail: format!(
                            "{who}: the bundle has no logged key {} of the signer",
                            st.kid
                        ),
                    })?;
                if !s.verify(&k.key) {
                    return fail("custody", format!("{who}: the signature does not verify"));
                }
                let t = st.signed_at;
                if t < k.not_before || k.not_after.is_some_and(|na| t >= na) {
                    warnings.push(format!(
                        "{who}: key {} was not valid when it signed (rotated out since)",
                        st.kid
                    ));
                } else if k.revoked_from.is_some_and(|r| t >= r) {
                    warnings.push(format!(
                        "{who}: key {} has since been revoked from a time before this signature",
                        st.kid
                    ));
                }
                if !rules::allowed(role, &st.event) {
                    return fail(
                        "custody",
                        format!("{who}: a {role} may not record this step"),
                    );
                }
                let Some(e) = owner else {
                    return fail(
                        "custody",
                        format!(
                            "{who}: the bundle has no product record of GTIN {} before it",
                            item.gtin.as_str()
                        ),
                    );
                };
                let periods = engaged
                    .get(&(e, st.actor.clone()))
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                if let Err(ne) =
                    engagement::check(periods, e, &st.actor, item.gtin.as_str(), st.signed_at)
                {
                    return fail("custody", format!("{who}: {ne}"));
                }
                n += 1;
                (&st.lot, &st.prev, s.checked.items.as_slice())
            }
            LeafRecord::Recall(r) => {
                n += 1;
                (&r.lot, &r.prev, &[][..])
            }
            _ => continue,
        };
        if *lot != lot_id {
            return fail(
                "custody",
                format!("record {i} is about lot {lot}, not the item's {lot_id}"),
            );
        }
        if items.is_empty() {
            if *prev != head {
                return fail(
                    "custody",
                    format!("record {i}: prev {prev} does not link to the previous lot-wide record {head}: a record is missing or reordered"),
                );
            }
            head = crate::custody::record::hex(lh.as_bytes());
            lot_wide.insert(head.clone());
        } else {
            if !items.contains(&item_ref) {
                return fail(
                    "custody",
                    format!("record {i} does not name the item (its item reference)"),
                );
            }
            if !lot_wide.contains(prev) {
                return fail(
                    "custody",
                    format!("record {i}: prev {prev} is not a lot-wide record of the bundle"),
                );
            }
        }
    }
    Ok((n, warnings))
}
