//! The custody part of a bundle: signatures, signers' logged keys and roles, engagements by
//! the GTIN's owner, and the lot's hash chain, all from the bundle's own logged records.

use std::collections::{HashMap, HashSet};

use base64::Engine;
use ed25519_dalek::VerifyingKey;

use super::format::{fail, BundleError};
use crate::code::{Code, KeyId};
use crate::commitment::ItemRef;
use crate::custody::{engagement, rules, ActorOp, Role, SignedStatement, GENESIS};
use crate::leaf::LeafRecord;
use crate::merkle::Hash;

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
pub(super) fn verify_custody(
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
        .ok_or_else(|| {
            BundleError::Custody(format!("actor record {i}: key {kid} is not an Ed25519 key"))
        })?;
    if KeyId::of(&key).to_string() != kid {
        return fail(
            BundleError::Custody,
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
        let role = registry.roles.get(&st.actor).copied().ok_or_else(|| {
            BundleError::Custody(format!(
                "{who}: the bundle has no registration record of the signer"
            ))
        })?;
        let k = registry
            .keys
            .get(&(st.actor.clone(), st.kid.clone()))
            .ok_or_else(|| {
                BundleError::Custody(format!(
                    "{who}: the bundle has no logged key {} of the signer",
                    st.kid
                ))
            })?;
        if !s.verify(&k.key) {
            return fail(
                BundleError::Custody,
                format!("{who}: the signature does not verify"),
            );
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
                BundleError::Custody,
                format!("{who}: a {role} may not record this step"),
            );
        }
        let Some(e) = self.owner else {
            return fail(
                BundleError::Custody,
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
            .or_else(|ne| fail(BundleError::Custody, format!("{who}: {ne}")))
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
                BundleError::Custody,
                format!(
                    "record {i} is about lot {lot}, not the item's {}",
                    self.lot_id
                ),
            );
        }
        if items.is_empty() {
            if prev != self.head {
                return fail(
                    BundleError::Custody,
                    format!("record {i}: prev {prev} does not link to the previous lot-wide record {}: a record is missing or reordered", self.head),
                );
            }
            self.head = crate::custody::record::hex(lh.as_bytes());
            self.lot_wide.insert(self.head.clone());
            return Ok(());
        }
        if !items.contains(&self.item_ref) {
            return fail(
                BundleError::Custody,
                format!("record {i} does not name the item (its item reference)"),
            );
        }
        if !self.lot_wide.contains(prev) {
            return fail(
                BundleError::Custody,
                format!("record {i}: prev {prev} is not a lot-wide record of the bundle"),
            );
        }
        Ok(())
    }
}
