//! Proof bundles: one self-contained JSON document per item that proves its records without
//! trusting the service (format `traceseal-bundle/v1`, see `docs/bundle.md`), and the offline
//! verifier of it. Checking the anchor against the chain is the caller's job (the CLI does it
//! with [`crate::chain::Reader`]); [`verify`] returns exactly what must be compared.

use base64::Engine;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::anchor::{checkpoint_hash, hex0x, log_id, parse_hex, Address, AnchorStatus, Word};
use crate::checkpoint::{open_checkpoint, Checkpoint, NoteVerifier};
use crate::code::{Code, KeyId};
use crate::commitment::{Commitment, ItemRef};
use crate::custody::{engagement, rules, ActorOp, Role, SignedStatement, GENESIS};
use crate::leaf::LeafRecord;
use crate::merkle::{self, Hash};
use std::collections::{HashMap, HashSet};

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
    let log = NoteVerifier::from_vkey(&b.keys.log_vkey)
        .or_else(|e| fail("keys", format!("log verifier key: {e}")))?;
    let code = verify_code(b)?;
    let cp =
        open_checkpoint(&b.checkpoint, &log).or_else(|e| fail("checkpoint", format!("{e}")))?;
    let latest = verify_latest(b, &cp, &log)?;
    let checked = verify_records(b, &code, &cp, latest)?;
    let (custody_records, custody_warnings) = verify_custody(&code, checked.custody_leaves)?;
    if !checked.has_item {
        return fail("records", "the bundle has no issuance record of the item");
    }
    let anchor = match &b.anchor {
        Some(a) if a.status.on_chain() => Some(anchor_claim(a, &b.checkpoint, &cp)?),
        _ => None,
    };
    let item = code.item();
    Ok(Verified {
        gtin: item.gtin.as_str().to_string(),
        serial: item.serial.as_str().to_string(),
        kid: code.kid().to_string(),
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
    let code = Code::parse(&b.code).or_else(|e| fail("code", format!("unreadable code: {e}")))?;
    let vk = issuer_key(b, code.kid())?;
    code.verify(&vk)
        .or_else(|e| fail("code", format!("signature does not verify: {e}")))?;
    Ok(code)
}

/// The issuer key `kid` from the bundle's keys, checked to hash to its id.
fn issuer_key(b: &Bundle, kid: KeyId) -> Result<VerifyingKey, BundleError> {
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
    Ok(vk)
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
                "consistency",
                "a consistency proof without a latest checkpoint",
            );
        }
        return Ok(None);
    };
    let latest =
        open_checkpoint(note, log).or_else(|e| fail("latest_checkpoint", format!("{e}")))?;
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
        merkle::verify_consistency(cp.size, latest.size, &p, &cp.root, &latest.root).or_else(
            |e| {
                fail(
                    "consistency",
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
    /// The item's issuance record is among them.
    has_item: bool,
}

/// Every record parsed, of the kind it claims, and included in the tree it names.
fn verify_records(
    b: &Bundle,
    code: &Code,
    cp: &Checkpoint,
    latest: Option<(u64, Hash)>,
) -> Result<CheckedRecords, BundleError> {
    if b.records.is_empty() {
        return fail("records", "the bundle has no record");
    }
    if b.records.len() > MAX_RECORDS {
        return fail("records", format!("more than {MAX_RECORDS} records"));
    }
    let mut out = CheckedRecords {
        records: Vec::with_capacity(b.records.len()),
        custody_leaves: Vec::new(),
        newer_records: 0,
        has_item: false,
    };
    for r in &b.records {
        let data = base64::engine::general_purpose::STANDARD
            .decode(&r.leaf_data)
            .or_else(|e| fail("records", format!("leaf {}: bad base64: {e}", r.leaf_index)))?;
        let leaf = LeafRecord::parse(&data)
            .or_else(|e| fail("records", format!("leaf {}: {e}", r.leaf_index)))?;
        out.has_item |= record_kind(r, &leaf, code)?;
        let p = proof("inclusion", &r.inclusion_proof)?;
        let lh = merkle::leaf_hash(&data);
        let (size, root) = proof_target(r, &leaf, cp, latest)?;
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
                    "records",
                    format!("leaf {} is the record of another code", r.leaf_index),
                );
            }
            Ok(true)
        }
        (LeafRecord::Custody(_), "custody")
        | (LeafRecord::Actor(_), "actor")
        | (LeafRecord::Recall(_), "recall")
        | (LeafRecord::Product(_), "product")
        | (LeafRecord::Engagement(_), "engagement") => Ok(false),
        (_, k) => fail(
            "records",
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
                    "records",
                    "the issuance record must be proven against the checkpoint",
                );
            }
            Ok((size, root))
        }
        _ => fail(
            "records",
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
    let contract =
        parse_hex::<20>(&a.contract).or_else(|e| fail("anchor", format!("contract: {e}")))?;
    let lid = parse_hex::<32>(&a.log_id).or_else(|e| fail("anchor", format!("log_id: {e}")))?;
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
    if ch != checkpoint_hash(note) {
        return fail(
            "anchor",
            "checkpoint_hash is not SHA-256 of the checkpoint note",
        );
    }
    let tx_hash = match a.tx_hash.as_deref() {
        Some(t) => Some(parse_hex::<32>(t).or_else(|e| fail("anchor", format!("tx_hash: {e}")))?),
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
    leaves.sort_by_key(|(i, _, _)| *i);
    let mut registry = LoggedRegistry::default();
    for (i, leaf, _) in &leaves {
        if let LeafRecord::Actor(op) = leaf {
            registry.apply(*i, op)?;
        }
    }
    let mut walk = CustodyWalk::new(code);
    for (i, leaf, lh) in &leaves {
        walk.step(*i, leaf, lh, &registry)?;
    }
    Ok((walk.records, walk.warnings))
}

/// Actors' roles and keys as the bundle's logged registry records establish them.
#[derive(Default)]
struct LoggedRegistry {
    roles: HashMap<String, Role>,
    keys: HashMap<(String, String), LoggedKey>,
}

impl LoggedRegistry {
    /// Applies registry record `i`.
    fn apply(&mut self, i: u64, op: &ActorOp) -> Result<(), BundleError> {
        match op {
            ActorOp::Register { actor, role, .. } => {
                self.roles.insert(actor.clone(), *role);
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
                let key = logged_key(i, kid, public_key)?;
                if let Some(old) = replaces
                    .as_ref()
                    .and_then(|r| self.keys.get_mut(&(actor.clone(), r.clone())))
                {
                    old.not_after =
                        Some(old.not_after.map_or(*not_before, |na| na.min(*not_before)));
                }
                self.keys.insert(
                    (actor.clone(), kid.clone()),
                    LoggedKey {
                        key,
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
                if let Some(k) = self.keys.get_mut(&(actor.clone(), kid.clone())) {
                    k.revoked_from = Some(
                        k.revoked_from
                            .map_or(*revoked_from, |r| r.min(*revoked_from)),
                    );
                }
            }
        }
        Ok(())
    }
}

/// The Ed25519 key of an `add key` record, checked to hash to its key id.
fn logged_key(i: u64, kid: &str, public_key: &str) -> Result<VerifyingKey, BundleError> {
    let key = base64::engine::general_purpose::STANDARD
        .decode(public_key)
        .ok()
        .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok())
        .ok_or_else(|| BundleError {
            check: "custody",
            detail: format!("actor record {i}: key {kid} is not an Ed25519 key"),
        })?;
    if KeyId::of(&key).to_string() != kid {
        return fail(
            "custody",
            format!("actor record {i}: key {kid} does not hash to its key id"),
        );
    }
    Ok(key)
}

/// The item's custody records walked in log order: ownership and engagements as the log
/// stood at each record, the lot-wide hash chain, and the records that name the item.
struct CustodyWalk {
    gtin: String,
    lot_id: String,
    item_ref: ItemRef,
    head: String,
    lot_wide: HashSet<String>,
    owner: Option<u64>,
    engaged: HashMap<(u64, String), Vec<engagement::Period>>,
    records: usize,
    warnings: Vec<String>,
}

impl CustodyWalk {
    fn new(code: &Code) -> CustodyWalk {
        let item = code.item();
        CustodyWalk {
            gtin: item.gtin.as_str().to_string(),
            lot_id: format!("{}.{}", item.gtin.as_str(), item.lot.as_str()),
            item_ref: ItemRef::of(code),
            head: GENESIS.to_string(),
            lot_wide: HashSet::from([GENESIS.to_string()]),
            owner: None,
            engaged: HashMap::new(),
            records: 0,
            warnings: Vec::new(),
        }
    }

    /// Takes record `i` into account.
    fn step(
        &mut self,
        i: u64,
        leaf: &LeafRecord,
        lh: &Hash,
        registry: &LoggedRegistry,
    ) -> Result<(), BundleError> {
        let (lot, prev, items) = match leaf {
            LeafRecord::Product(p) => {
                if p.gtin == self.gtin {
                    self.owner = Some(p.enterprise);
                }
                return Ok(());
            }
            LeafRecord::Engagement(op) => {
                let (e, a) = op.parties();
                engagement::apply(self.engaged.entry((e, a.to_string())).or_default(), op);
                return Ok(());
            }
            LeafRecord::Custody(s) => {
                self.check_signed(i, s, registry)?;
                let st = &s.checked.statement;
                (&st.lot, &st.prev, s.checked.items.as_slice())
            }
            LeafRecord::Recall(r) => (&r.lot, &r.prev, &[][..]),
            _ => return Ok(()),
        };
        self.records += 1;
        self.link(i, lot, prev, items, lh)
    }

    /// A signed custody record: signature by a logged key of a registered signer (a key
    /// out of its validity is a warning), a step the signer's role may record, and the
    /// signer engaged by the product's owner at the time.
    fn check_signed(
        &mut self,
        i: u64,
        s: &SignedStatement,
        registry: &LoggedRegistry,
    ) -> Result<(), BundleError> {
        let st = &s.checked.statement;
        let who = format!("custody record {i} ({} by {})", st.event.step(), st.actor);
        let role = registry
            .roles
            .get(&st.actor)
            .copied()
            .ok_or_else(|| BundleError {
                check: "custody",
                detail: format!("{who}: the bundle has no registration record of the signer"),
            })?;
        let k = registry
            .keys
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
            self.warnings.push(format!(
                "{who}: key {} was not valid when it signed (rotated out since)",
                st.kid
            ));
        } else if k.revoked_from.is_some_and(|r| t >= r) {
            self.warnings.push(format!(
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
        let Some(e) = self.owner else {
            return fail(
                "custody",
                format!(
                    "{who}: the bundle has no product record of GTIN {} before it",
                    self.gtin
                ),
            );
        };
        let periods = self
            .engaged
            .get(&(e, st.actor.clone()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        engagement::check(periods, e, &st.actor, &self.gtin, st.signed_at)
            .or_else(|ne| fail("custody", format!("{who}: {ne}")))
    }

    /// Record `i` is about the item's lot, and links: a lot-wide record to the previous
    /// lot-wide one, an item-scoped record (naming the item) to some lot-wide record.
    fn link(
        &mut self,
        i: u64,
        lot: &str,
        prev: &str,
        items: &[ItemRef],
        lh: &Hash,
    ) -> Result<(), BundleError> {
        if lot != self.lot_id {
            return fail(
                "custody",
                format!(
                    "record {i} is about lot {lot}, not the item's {}",
                    self.lot_id
                ),
            );
        }
        if items.is_empty() {
            if prev != self.head {
                return fail(
                    "custody",
                    format!("record {i}: prev {prev} does not link to the previous lot-wide record {}: a record is missing or reordered", self.head),
                );
            }
            self.head = crate::custody::record::hex(lh.as_bytes());
            self.lot_wide.insert(self.head.clone());
            return Ok(());
        }
        if !items.contains(&self.item_ref) {
            return fail(
                "custody",
                format!("record {i} does not name the item (its item reference)"),
            );
        }
        if !self.lot_wide.contains(prev) {
            return fail(
                "custody",
                format!("record {i}: prev {prev} is not a lot-wide record of the bundle"),
            );
        }
        Ok(())
    }
}
