//! One group of custody submissions, checked and written: each member is checked under the
//! custody lock against the state the members before it leave (an in-memory overlay of lot
//! states, item states and nonces), and every accepted member is written in **one** atomic
//! write, not yet synced (their leaves, node hashes, lot and item states, indexes and nonces).
//! A refused member writes nothing. The intake (`intake.rs`) makes the write durable before
//! any acceptance is given.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::heads::Held;
use super::*;
use crate::custody::event::{Conformance, Event};
use crate::custody::record::Statement;
use crate::merkle::Hash;
use std::sync::atomic::Ordering;

/// A submission that passed every check that needs no lock: shape, canonical form, signature,
/// key validity, freshness, role, registered product, leaf size.
pub(super) struct Prepared {
    pub signed: SignedStatement,
    pub actor: Arc<Actor>,
    pub leaf: Vec<u8>,
    pub hash: Hash,
    pub now: i64,
    /// The enterprise that owns the lot's GTIN, and the custody epoch when the checks began.
    pub owner: u64,
    pub epoch: u64,
}

/// Commits one group; a panic answers every member with an internal error instead of leaving
/// them waiting.
pub(super) fn run_group(custody: &Custody, group: Vec<(u64, Prepared)>) -> Written {
    let n = group.len();
    catch_unwind(AssertUnwindSafe(|| custody.commit_group(group))).unwrap_or_else(|_| {
        let e = ServiceError::Internal("custody group commit panicked".into());
        Written::refused(n, &e)
    })
}

/// A group checked and written, not yet synced: the answers (refusals final, acceptances
/// to be given only once the write is durable) and how many records the write holds.
pub(super) struct Written {
    pub answers: Vec<(u64, Result<Accepted>)>,
    pub records: u64,
}

/// What the members before one have changed, not yet written.
#[derive(Default)]
struct Overlay {
    lots: HashMap<Vec<u8>, LotState>,
    items: HashMap<Vec<u8>, ItemState>,
    nonces: HashMap<Vec<u8>, i64>,
}

/// An accepted member, waiting for the group's write.
struct Staged {
    id: u64,
    lk: Vec<u8>,
    lot_wide: bool,
    item_keys: Vec<Vec<u8>>,
    counts: Option<(CustodyKind, u64)>,
    /// An origin attestation's country, with the lot's owner.
    origin: Option<(String, u64)>,
    leaf: Vec<u8>,
    hash: Hash,
    head: String,
    lot: String,
    step: String,
}

/// The same failure, once per member of a group whose write failed.
fn for_member(e: &ServiceError) -> ServiceError {
    match e {
        ServiceError::Store(crate::store::StoreError::Unavailable(m)) => {
            crate::store::StoreError::Unavailable(m.clone()).into()
        }
        other => ServiceError::Internal(format!("custody group write failed: {other}")),
    }
}

impl Written {
    /// A group of `n` members none of which was written: each answered `e`.
    pub(super) fn refused(n: usize, e: &ServiceError) -> Written {
        Written {
            answers: (0..n as u64).map(|id| (id, Err(for_member(e)))).collect(),
            records: 0,
        }
    }

    /// The answers once the group's fsync ended with `synced`: as written, or, when the
    /// fsync failed, the failure (503) for every accepted member instead.
    pub(super) fn answers_after(self, synced: &Result<()>) -> Vec<(u64, Result<Accepted>)> {
        match synced {
            Ok(()) => self.answers,
            Err(e) => self
                .answers
                .into_iter()
                .map(|(id, a)| (id, a.and_then(|_| Err(for_member(e)))))
                .collect(),
        }
    }
}

impl Custody {
    /// Checks each member against the state the members before it leave, then writes the
    /// accepted ones in one write, not yet synced (see [`Written::answers_after`]). Answers
    /// every refused member; the accepted ones' answers wait for the sync.
    pub(super) fn commit_group(&self, group: Vec<(u64, Prepared)>) -> Written {
        let mut answers = Vec::with_capacity(group.len());
        let held = match lock(&self.locks.custody) {
            Ok(g) => g,
            Err(e) => {
                let answers = group
                    .into_iter()
                    .map(|(id, _)| (id, Err(for_member(&e))))
                    .collect();
                return Written {
                    answers,
                    records: 0,
                };
            }
        };
        let mut ov = Overlay::default();
        let mut staged = Vec::with_capacity(group.len());
        for (id, p) in group {
            match self.check_member(&held, id, p, &mut ov) {
                Ok(s) => staged.push(s),
                Err(e) => answers.push((id, Err(e))),
            }
        }
        let mut records = 0;
        if staged.is_empty() {
            return Written { answers, records };
        }
        // Told before the write, so that no stored nonce is ever missing from the filter,
        // even if a failed write had stored them; a nonce it holds in vain costs a lookup.
        self.nonces
            .insert(&held, ov.nonces.keys().map(Vec::as_slice));
        match self.write_group(&mut staged, &ov) {
            Ok(first) => {
                // The overlay is not needed after the write: its states move to the cache.
                self.heads.put(&held, std::mem::take(&mut ov.lots));
                records = staged.len() as u64;
                answers.extend(staged.into_iter().enumerate().map(|(i, s)| {
                    let a = Accepted {
                        leaf_index: first + i as u64,
                        record_hash: hex(s.hash.as_bytes()),
                        lot: s.lot,
                        step: s.step,
                        head: s.head,
                    };
                    (s.id, Ok(a))
                }))
            }
            Err(e) => answers.extend(staged.iter().map(|s| (s.id, Err(for_member(&e))))),
        }
        Written { answers, records }
    }

    /// The checks that need the custody lock, in order: the key, owner and engagement again
    /// if any of them changed since [`Custody::prepare`], the lot exists, the nonce is unused, `prev` is the head, the named items, the step is in
    /// order. On success the overlay holds the member's effects.
    fn check_member(
        &self,
        held: &Held<'_>,
        id: u64,
        p: Prepared,
        ov: &mut Overlay,
    ) -> Result<Staged> {
        let st: &Statement = &p.signed.checked.statement;
        let lot = &p.signed.checked.lot;
        let mut owner = p.owner;
        if self.locks.custody_epoch() != p.epoch {
            // A key, engagement or owner changed since the submission was checked.
            self.recheck_key(&p.actor.id, st, p.now)?;
            owner = self.registered_owner(lot)?;
            Engagements::check_engaged(
                &self.engagements.engagement_state(owner, &p.actor.id)?,
                owner,
                &p.actor.id,
                lot.gtin.as_str(),
                st.signed_at,
                p.now,
            )?;
        }
        let lk = lot_key(lot);
        let mut state = match ov.lots.get(&lk) {
            Some(s) => s.clone(),
            None => match self.heads.get(held, &lk) {
                Some(s) => s,
                None => self.stored_lot_state(lot, &lk)?,
            },
        };
        let nk = nonce_key(&p.actor.id, &st.nonce);
        if ov.nonces.contains_key(&nk) || self.nonce_stored(held, &nk)? {
            return Err(CustodyError::Replay {
                nonce: st.nonce.clone(),
                actor: p.actor.id.clone(),
            }
            .into());
        }
        check_head(lot, &state, &st.prev)?;
        let mut named = self.item_states(lot, &p.signed.checked.items)?;
        for n in &mut named {
            if let Some(s) = ov.items.get(&n.key) {
                n.state = *s;
            }
        }
        let mut items: Vec<(String, ItemState)> =
            named.iter().map(|n| (n.label.clone(), n.state)).collect();
        rules::apply(&mut state, &st.event, &mut items).map_err(CustodyError::OutOfOrder)?;
        let late = rules::timed(&mut state, st.event.step(), p.now, self.on_time());
        if st.event.step() == Step::Release && state.sampling != Some(Conformance::Conformant) {
            self.require_sampling(lot, owner)?;
        }
        let lot_wide = named.is_empty();
        if lot_wide {
            state.head = Some(hex(p.hash.as_bytes()));
        }
        let head = state.head.clone().unwrap_or_else(|| GENESIS.to_string());
        for (n, (_, s)) in named.iter().zip(&items) {
            ov.items.insert(n.key.clone(), *s);
        }
        ov.nonces.insert(nk, st.signed_at);
        ov.lots.insert(lk.clone(), state);
        Ok(Staged {
            id,
            lk,
            lot_wide,
            item_keys: named.into_iter().map(|n| n.key).collect(),
            counts: CustodyKind::of(&st.event)
                .or(late.then_some(CustodyKind::Late))
                .map(|k| (k, owner)),
            origin: self.origin_of(&st.event, owner),
            head,
            lot: lot.to_string(),
            step: st.event.step().to_string(),
            hash: p.hash,
            leaf: p.leaf,
        })
    }

    /// The on-time limits of the import route, in seconds.
    fn on_time(&self) -> rules::OnTime {
        rules::OnTime {
            clearance_secs: i64::from(self.custody_rules.on_time_clearance_hours) * 3_600,
            receiving_secs: i64::from(self.custody_rules.on_time_receiving_hours) * 3_600,
        }
    }

    /// An origin attestation's country with the lot's `owner` (counted for the credit
    /// grades' origin factor), noting that origins moved.
    fn origin_of(&self, event: &Event, owner: u64) -> Option<(String, u64)> {
        let Event::OriginAttestation(a) = event else {
            return None;
        };
        self.origins_written.fetch_add(1, Ordering::AcqRel);
        Some((a.origin_country.clone(), owner))
    }

    /// Whether the nonce key `nk` is stored: false at once when the nonce filter has never
    /// seen it, else the store's answer.
    fn nonce_stored(&self, held: &Held<'_>, nk: &[u8]) -> Result<bool> {
        if !self.nonces.may_contain(held, nk) {
            return Ok(false);
        }
        Ok(self.store.get(Cf::Nonces, nk)?.is_some())
    }

    /// The stored state of a lot that exists (one read: a lot with custody records has a
    /// state; one without is declared or issued), or 404 `custody.undeclared_lot`.
    fn stored_lot_state(&self, lot: &LotId, lk: &[u8]) -> Result<LotState> {
        match self.store.get(Cf::Lots, lk)? {
            Some(v) => Ok(decode_json("lot state", &v)?),
            None if self.issuance.lot_has_batches(lk)? => Ok(LotState::default()),
            None => Err(CustodyError::UndeclaredLot { lot: lot.clone() }.into()),
        }
    }

    /// One write (synced later, by the intake's syncer) of every staged member: leaves and
    /// node hashes (appended in order),
    /// each member's record indexes and dashboard counts, and the overlay's final lot states,
    /// item states and nonces. Returns the first member's leaf index.
    fn write_group(&self, staged: &mut [Staged], ov: &Overlay) -> Result<u64> {
        let leaves = staged
            .iter_mut()
            .map(|s| PendingLeaf {
                data: std::mem::take(&mut s.leaf),
                hash: s.hash,
            })
            .collect();
        let day = now_unix().div_euclid(86_400);
        self.log.append_leaves_unsynced(leaves, |first, wb| {
            for (i, s) in staged.iter().enumerate() {
                let index = first + i as u64;
                let scope = if s.lot_wide { SCOPE_LOT } else { SCOPE_ITEMS };
                wb.put(
                    Cf::LotRecords,
                    lot_record_key(&s.lk, scope, index),
                    Vec::new(),
                );
                for k in &s.item_keys {
                    wb.put(Cf::ItemRecords, item_record_key(k, index), Vec::new());
                }
                if let Some((kind, owner)) = s.counts {
                    days::stage(wb, kind, day, owner);
                }
                if let Some((country, owner)) = &s.origin {
                    days::stage_origin(wb, *owner, country);
                }
            }
            for (lk, st) in &ov.lots {
                wb.put(Cf::Lots, lk.clone(), encode_json(st));
            }
            for (k, st) in &ov.items {
                wb.put(Cf::ItemCustody, k.clone(), encode_json(st));
            }
            for (nk, at) in &ov.nonces {
                wb.put(Cf::Nonces, nk.clone(), u64_key(*at as u64));
            }
            Ok(())
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::tests::{attest, cast, declare, signed, GTIN};
    use super::*;
    use crate::custody::record::{Conformance, Event, Movement, Packing, Role};
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::Service;
    use crate::store::{Durability, Store, WriteBatch};

    pub(in crate::service::custody) fn prev_after(sub: &Submission) -> String {
        let s = SignedStatement {
            checked: record::parse_statement(&sub.statement).unwrap(),
            signature: parse_signature(&sub.signature).unwrap(),
        };
        hex(merkle::leaf_hash(&s.leaf()).as_bytes())
    }

    fn prepared(svc: &Service, subs: &[&Submission]) -> Vec<(u64, Prepared)> {
        let now = now_unix();
        (0..)
            .zip(subs)
            .map(|(i, s)| (i, svc.custody().prepare(s, now).unwrap()))
            .collect()
    }

    fn code(r: &Result<Accepted>) -> String {
        match r {
            Ok(_) => "accepted".into(),
            Err(e) => e.code(),
        }
    }

    /// One group: each member is checked against what the members before it leave (the head
    /// they moved, the nonces they used); the refused ones write nothing and the accepted ones
    /// are written together, in arrival order.
    #[test]
    fn a_group_checks_each_member_against_the_ones_before_it() {
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let lot = format!("{GTIN}.G1");
        declare(&svc, &lot);
        let (insp, isk) = &c.keys[&Role::Inspector];
        let (carr, csk) = &c.keys[&Role::Carrier];
        let a = signed(
            insp,
            isk,
            &lot,
            GENESIS,
            attest(Conformance::Conformant),
            vec![],
        );
        let pack = || Event::Packing(Packing::default());
        let b = signed(carr, csk, &lot, &prev_after(&a), pack(), vec![]);
        let stale = signed(carr, csk, &lot, GENESIS, pack(), vec![]);
        let ship = Event::Shipping(Movement::default());
        let e = signed(carr, csk, &lot, &prev_after(&b), ship, vec![]);
        let size = svc.log().log_size().unwrap();
        let group = prepared(&svc, &[&a, &b, &stale, &b, &e]);
        let stale_nonce = record::parse_statement(&stale.statement)
            .unwrap()
            .statement
            .nonce;
        let written = svc.custody().commit_group(group);
        let mut answers = written.answers_after(&svc.log().sync());
        answers.sort_by_key(|(id, _)| *id);
        let codes: Vec<String> = answers.iter().map(|(_, r)| code(r)).collect();
        assert_eq!(
            codes,
            [
                "accepted",
                "accepted",
                "custody.stale_head",
                "custody.replay",
                "accepted"
            ]
        );
        let indexes: Vec<u64> = answers
            .iter()
            .filter_map(|(_, r)| r.as_ref().ok().map(|a| a.leaf_index))
            .collect();
        assert_eq!(indexes, [size, size + 1, size + 2]);
        assert_eq!(svc.log().log_size().unwrap(), size + 3);
        assert_eq!(svc.custody().lot_head(&lot).unwrap(), prev_after(&e));
        let view = svc
            .custody()
            .lot_view(
                &lot,
                LotPage {
                    after: None,
                    limit: None,
                },
            )
            .unwrap();
        assert_eq!(view.state.records, 3);
        let steps: Vec<&str> = view.records.iter().map(|r| r.step.as_str()).collect();
        assert_eq!(steps, ["origin_attestation", "packing", "shipping"]);
        let nk = nonce_key(carr, &stale_nonce);
        assert!(svc.store().get(Cf::Nonces, &nk).unwrap().is_none());
    }

    /// The nonce check reads the filter built when the service opened: a nonce stored before
    /// (here written behind the filter's back, then loaded as at start-up) is a replay, and a
    /// nonce the filter holds but the store does not (as after a failed write) is still
    /// accepted: the store decides.
    #[test]
    fn nonces_stored_before_the_load_are_replays_and_the_store_decides() {
        let (svc, mem) = test_service();
        let subs = three_attestations(&svc, "N");
        let nonce_of = |s: &Submission| {
            let st = record::parse_statement(&s.statement).unwrap().statement;
            nonce_key(&st.actor, &st.nonce)
        };
        let mut wb = WriteBatch::new();
        wb.put(Cf::Nonces, nonce_of(&subs[0]), 1u64.to_be_bytes().to_vec());
        mem.write(wb, Durability::Synced).unwrap();
        assert!(svc.custody().load_nonces().unwrap() >= 1);
        {
            let held = lock(&svc.custody().locks.custody).unwrap();
            let k = nonce_of(&subs[1]);
            svc.custody().nonces.insert(&held, [k.as_slice()]);
        }
        let group = prepared(&svc, &[&subs[0], &subs[1], &subs[2]]);
        let written = svc.custody().commit_group(group);
        let mut answers = written.answers_after(&svc.log().sync());
        answers.sort_by_key(|(id, _)| *id);
        let codes: Vec<String> = answers.iter().map(|(_, r)| code(r)).collect();
        assert_eq!(codes, ["custody.replay", "accepted", "accepted"]);
    }

    /// Three first records (origin attestations) of three fresh lots `{GTIN}.{prefix}0..2`,
    /// signed by an engaged inspector.
    fn three_attestations(svc: &Service, prefix: &str) -> Vec<Submission> {
        seed(svc);
        let c = cast(svc);
        let (insp, isk) = &c.keys[&Role::Inspector];
        (0..3)
            .map(|i| {
                let lot = format!("{GTIN}.{prefix}{i}");
                declare(svc, &lot);
                let a = attest(Conformance::Conformant);
                signed(insp, isk, &lot, GENESIS, a, vec![])
            })
            .collect()
    }

    /// A group whose write fails answers every accepted member with the failure (503) and
    /// leaves no trace; the same submissions are accepted once the disk is back.
    #[test]
    fn a_failed_group_write_answers_every_member_and_stores_nothing() {
        let (svc, mem) = test_service();
        let subs = three_attestations(&svc, "F");
        let size = svc.log().log_size().unwrap();
        mem.set_failing_writes(true);
        let written = svc
            .custody()
            .commit_group(prepared(&svc, &[&subs[0], &subs[1], &subs[2]]));
        let answers = written.answers_after(&svc.log().sync());
        mem.set_failing_writes(false);
        for (_, r) in &answers {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.kind(), crate::service::ErrorKind::Unavailable, "{e}");
        }
        assert_eq!(svc.log().log_size().unwrap(), size);
        assert_eq!(
            svc.custody().lot_head(&format!("{GTIN}.F0")).unwrap(),
            GENESIS
        );
        for s in &subs {
            svc.custody().submit(s).unwrap();
        }
        assert_eq!(svc.log().log_size().unwrap(), size + 3);
    }

    /// A group written whose fsync fails: no member is told it was accepted (each gets 503),
    /// and the group's records are whole (as a crash after the write would leave them).
    #[test]
    fn a_failed_sync_acknowledges_no_member() {
        let (svc, mem) = test_service();
        let subs = three_attestations(&svc, "S");
        let size = svc.log().log_size().unwrap();
        let written = svc
            .custody()
            .commit_group(prepared(&svc, &[&subs[0], &subs[1], &subs[2]]));
        mem.set_failing_syncs(true);
        let answers = written.answers_after(&svc.log().sync());
        mem.set_failing_syncs(false);
        assert_eq!(answers.len(), 3);
        for (_, r) in &answers {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.kind(), crate::service::ErrorKind::Unavailable, "{e}");
        }
        assert_eq!(svc.log().log_size().unwrap(), size + 3, "written whole");
        let before = svc.custody().intake_stats();
        assert_eq!(
            svc.custody().submit(&subs[0]).unwrap_err().code(),
            "custody.replay"
        );
        assert_eq!(
            svc.custody().intake_stats(),
            before,
            "nothing counted as written"
        );
    }
}
