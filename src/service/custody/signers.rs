//! What a submission's authorization reads (its actor with keys, the product's owner, the
//! owner's engagement of the actor), kept in memory for one custody epoch.
//!
//! Every change to any of them (a registration, key rotation or revocation, a product's
//! creation or change of owner, an engagement or its end) commits under the custody lock and
//! moves the custody epoch (`WriteLocks::custody_change`). An entry is read from the store
//! after the epoch was read and kept for that epoch only: a lookup in another epoch misses
//! and empties the cache. A change racing with a submission is caught where it always was:
//! the group commit sees the epoch moved since [`Custody::prepare`] began and checks the key,
//! owner and engagement again from the store, under the lock (`group.rs`). Absent entries are
//! not kept (an unknown actor is looked up again), so a flood of unknown names cannot grow
//! the cache, which is bounded anyway ([`MAX_ENTRIES`]).
//!
//! Not the project's `ViewCache` (`service/cache.rs`): that one versions each entry on its
//! own and keys by owned bytes, so every lookup would allocate a key and a version on the
//! submission path, and a submission that began before a change could put back what the
//! change replaced. Here one epoch covers every entry, and the entries only ever move
//! forward to a later epoch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::*;
use crate::service::engagements::EngagementState;

/// Entries of each kind kept at most; beyond that the kind is emptied (a cold lookup costs
/// one store read).
const MAX_ENTRIES: usize = 4096;

/// The cache of one custody unit.
#[derive(Default)]
pub(super) struct SignerCache {
    inner: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    epoch: u64,
    actors: HashMap<String, Arc<Actor>>,
    owners: HashMap<String, u64>,
    engagements: HashMap<(u64, String), Arc<EngagementState>>,
}

fn put<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, V>, k: K, v: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(k, v);
}

impl SignerCache {
    /// `f` of the entries when they are `epoch`'s; `None` otherwise (entries of an earlier
    /// epoch are dropped first, and a lookup of an earlier epoch than the entries' misses).
    fn lookup<T>(&self, epoch: u64, f: impl FnOnce(&Entries) -> Option<T>) -> Option<T> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.epoch < epoch {
            *g = Entries {
                epoch,
                ..Entries::default()
            };
        }
        (g.epoch == epoch).then(|| f(&g)).flatten()
    }

    /// Keeps `f`'s entry when the cache is still at `epoch` (a later epoch's cache is not
    /// given an earlier read).
    fn keep(&self, epoch: u64, f: impl FnOnce(&mut Entries)) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.epoch == epoch {
            f(&mut g);
        }
    }
}

impl Custody {
    /// The registered actor `id` as of `epoch` (read before calling).
    pub(super) fn actor_at(&self, id: &str, epoch: u64) -> Result<Option<Arc<Actor>>> {
        if let Some(a) = self.signers.lookup(epoch, |e| e.actors.get(id).cloned()) {
            return Ok(Some(a));
        }
        let Some(a) = self.registry.find_actor(id)? else {
            return Ok(None);
        };
        let a = Arc::new(a);
        self.signers
            .keep(epoch, |e| put(&mut e.actors, id.to_string(), a.clone()));
        Ok(Some(a))
    }

    /// The enterprise owning `lot`'s GTIN as of `epoch` (422 for an unregistered product).
    pub(super) fn owner_at(&self, lot: &LotId, epoch: u64) -> Result<u64> {
        let gtin = lot.gtin.as_str();
        if let Some(o) = self.signers.lookup(epoch, |e| e.owners.get(gtin).copied()) {
            return Ok(o);
        }
        let o = self.registered_owner(lot)?;
        self.signers
            .keep(epoch, |e| put(&mut e.owners, gtin.to_string(), o));
        Ok(o)
    }

    /// `enterprise`'s engagement of `actor` as of `epoch`.
    pub(super) fn engagement_at(
        &self,
        enterprise: u64,
        actor: &str,
        epoch: u64,
    ) -> Result<Arc<EngagementState>> {
        let key = (enterprise, actor.to_string());
        if let Some(s) = self
            .signers
            .lookup(epoch, |e| e.engagements.get(&key).cloned())
        {
            return Ok(s);
        }
        let s = Arc::new(self.engagements.engagement_state(enterprise, actor)?);
        self.signers
            .keep(epoch, |e| put(&mut e.engagements, key, s.clone()));
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{attest, cast, declare, signed, GTIN};
    use super::*;
    use crate::custody::record::{Conformance, Role};
    use crate::service::master::tests::seed;
    use crate::service::registry::RevokeInput;
    use crate::service::setup::test_service;

    /// A lookup of an earlier epoch than the cache's misses and leaves the cache as it is (a
    /// submission that began before a change cannot bring back what the change replaced); a
    /// later one empties it.
    #[test]
    fn entries_serve_their_epoch_only() {
        let a = SignerCache::default();
        assert_eq!(a.lookup(5, |e| e.owners.get("g").copied()), None);
        a.keep(5, |e| put(&mut e.owners, "g".into(), 7));
        assert_eq!(a.lookup(5, |e| e.owners.get("g").copied()), Some(7));
        a.keep(4, |e| put(&mut e.owners, "g".into(), 1));
        assert_eq!(a.lookup(4, |e| e.owners.get("g").copied()), None);
        assert_eq!(a.lookup(5, |e| e.owners.get("g").copied()), Some(7));
        assert_eq!(a.lookup(6, |e| e.owners.get("g").copied()), None);
        assert_eq!(a.lookup(5, |e| e.owners.get("g").copied()), None);
    }

    /// With the cache warm (an accepted record each), a revoked key and an ended engagement
    /// are refused at the next submission.
    #[test]
    fn revocations_and_ended_engagements_win_over_the_cache() {
        let (svc, _) = test_service();
        seed(&svc);
        let owner = svc.master().product(GTIN).unwrap().enterprise_id;
        let c = cast(&svc);
        let submit = |id: &str, sk: &ed25519_dalek::SigningKey, lot: &str| {
            declare(&svc, lot);
            let a = attest(Conformance::Conformant);
            svc.custody()
                .submit(&signed(id, sk, lot, GENESIS, a, vec![]))
        };
        let (id, sk) = &c.keys[&Role::Inspector];
        submit(id, sk, &format!("{GTIN}.K1")).unwrap();
        let kid = crate::code::KeyId::of(&sk.verifying_key()).to_string();
        let revoke = RevokeInput {
            reason: "key lost".into(),
            revoked_from: Some(now_unix() - 5),
        };
        svc.registry().revoke_actor_key(id, &kid, &revoke).unwrap();
        let e = submit(id, sk, &format!("{GTIN}.K2")).unwrap_err();
        assert_eq!(e.code(), "custody.key_revoked", "{e}");

        let other = super::super::tests::cast_named(&svc, "b-", 20);
        let (id, sk) = &other.keys[&Role::Inspector];
        let input = crate::service::engagements::tests::input(id);
        svc.engagements().engage(owner, &input).unwrap();
        submit(id, sk, &format!("{GTIN}.K3")).unwrap();
        svc.engagements().end_engagement(owner, id).unwrap();
        let e = submit(id, sk, &format!("{GTIN}.K4")).unwrap_err();
        assert!(e.code().starts_with("engagement."), "{e}");
    }
}
