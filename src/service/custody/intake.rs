//! Group commit of custody submissions.
//!
//! A submission is parsed and its signature checked (`verify_strict`) on the caller's own
//! thread, in parallel with every other submission. What must be serial — the checks against
//! the lot's state, the replay guard, and the synced write — is done for a whole **group** of
//! waiting submissions at once: one of the waiting callers becomes the group's leader, takes
//! the custody lock, checks each member in arrival order against the state the members before
//! it leave (an in-memory overlay of lot states, item states and nonces), and writes every
//! accepted member in **one** synced atomic write (their leaves, node hashes, lot and item
//! states, indexes and nonces), then hands the lead to the oldest caller still waiting and
//! only then waits for the write's fsync, **outside** the custody lock: the next group is
//! checked and written while this one syncs (the write-ahead log keeps writes in order, so a
//! later group is never durable without an earlier one). Each caller is answered only after
//! the fsync that covers its record, so an acknowledged record is durable; a crash before it
//! leaves a group whole or absent, and a refused member writes nothing. One fsync is paid per
//! group instead of per record, and none of it inside the serial section.
//!
//! A leader leads one group (its own record is at the front of the queue when it is handed
//! the lead), so no caller serves others for longer than its own wait.

use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::sync::{Condvar, Mutex};

use super::*;
use crate::custody::record::Statement;
use crate::merkle::Hash;

/// Most records in one group.
pub const MAX_GROUP_RECORDS: usize = 256;
/// A group stops growing once its leaves reach this many bytes (one record may be larger).
pub const MAX_GROUP_BYTES: usize = 8 << 20;

/// A submission that passed every check that needs no lock: shape, canonical form, signature,
/// key validity, freshness, role, registered product, leaf size.
pub(super) struct Prepared {
    pub signed: SignedStatement,
    pub actor: Actor,
    pub leaf: Vec<u8>,
    pub hash: Hash,
    pub now: i64,
    /// The enterprise that owns the lot's GTIN, and the custody epoch when the checks began.
    pub owner: u64,
    pub epoch: u64,
}

/// The queue of prepared submissions, and the counters of what was written.
#[derive(Default)]
pub(super) struct Intake {
    queue: Mutex<Queue>,
    groups: AtomicU64,
    records: AtomicU64,
    /// Submissions being prepared now (at most four per core, see [`Intake::slot`]).
    preparing: Mutex<usize>,
    slot_free: Condvar,
    /// The fsyncs of written groups, shared (see [`Syncs`]).
    syncs: Syncs,
}

/// Shared fsyncs: a group written while another group's fsync is in flight waits for that
/// one to end, then one fsync covers every group written by then. Groups are numbered in the
/// order they were written (under the custody lock), and the write-ahead log keeps that
/// order, so an fsync that began after group `g` was written makes `g` and every group
/// before it durable.
#[derive(Default)]
struct Syncs {
    state: Mutex<SyncState>,
    done: Condvar,
}

#[derive(Default)]
struct SyncState {
    /// The last group written.
    written: u64,
    /// Every group up to this one is durable.
    synced: u64,
    /// Fsyncs made.
    fsyncs: u64,
    /// An fsync is in flight.
    syncing: bool,
}

impl Syncs {
    /// Numbers a group just written (call under the custody lock, after its write).
    fn wrote(&self) -> u64 {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.written += 1;
        s.written
    }

    /// Returns once group `g` is durable: by an fsync this call makes (`fsync`) for every
    /// group written by then, or by one another caller made after `g` was written.
    fn sync_through(&self, g: u64, fsync: impl Fn() -> Result<()>) -> Result<()> {
        let mut s = self.state.lock().map_err(|_| poisoned())?;
        loop {
            if s.synced >= g {
                return Ok(());
            }
            if !s.syncing {
                s.syncing = true;
                let target = s.written;
                drop(s);
                let r = fsync();
                let mut s2 = self.state.lock().unwrap_or_else(|p| p.into_inner());
                s2.syncing = false;
                s2.fsyncs += 1;
                if r.is_ok() {
                    s2.synced = s2.synced.max(target);
                }
                self.done.notify_all();
                return r;
            }
            s = self.done.wait(s).map_err(|_| poisoned())?;
        }
    }
}

/// A place among the submissions being prepared; freed on drop.
pub(super) struct Slot<'a>(&'a Intake);

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut n = self.0.preparing.lock().unwrap_or_else(|p| p.into_inner());
        *n -= 1;
        self.0.slot_free.notify_one();
    }
}

/// Submissions prepared at once: four per core. With the fsync out of the serial section,
/// fewer leave the cores idle while groups sync, and more only queue for the same cores
/// (measured at 32 submitters on 2 cores: 2 at once 10,458 records/s, 4 at once 13,446/s,
/// 64 at once 13,612/s; `docs/performance.md`, Custody intake).
fn max_preparing() -> usize {
    static N: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *N.get_or_init(|| 4 * std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// How many groups were written, with how many records in all and how many fsyncs made them
/// durable, since the start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IntakeStats {
    /// Group writes made durable.
    pub groups: u64,
    /// Records they wrote.
    pub records: u64,
    /// Fsyncs that made them durable (one may cover several groups).
    pub fsyncs: u64,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<(Arc<Ticket>, Prepared)>,
    leading: bool,
}

/// One waiting caller: woken once, either with its answer or to lead the next group.
#[derive(Default)]
struct Ticket {
    state: Mutex<TicketState>,
    woken: Condvar,
}

#[derive(Default)]
enum TicketState {
    #[default]
    Waiting,
    Lead,
    Done(Result<Accepted>),
}

impl Ticket {
    fn set(&self, s: TicketState) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = s;
        self.woken.notify_one();
    }

    /// Waits to be woken; returns the answer, or `None` when this caller is to lead.
    fn wait(&self) -> Result<Option<Result<Accepted>>> {
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        loop {
            match std::mem::take(&mut *st) {
                TicketState::Waiting => st = self.woken.wait(st).map_err(|_| poisoned())?,
                TicketState::Lead => return Ok(None),
                TicketState::Done(a) => return Ok(Some(a)),
            }
        }
    }

    fn take_done(&self) -> Option<Result<Accepted>> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match std::mem::take(&mut *st) {
            TicketState::Done(a) => Some(a),
            other => {
                *st = other;
                None
            }
        }
    }
}

impl Queue {
    /// The next group: the oldest waiting submissions, within the record and byte caps.
    fn take_group(&mut self) -> Vec<(Arc<Ticket>, Prepared)> {
        let mut bytes = 0;
        let mut group = Vec::new();
        while let Some((_, p)) = self.waiting.front() {
            if !group.is_empty()
                && (group.len() >= MAX_GROUP_RECORDS || bytes + p.leaf.len() > MAX_GROUP_BYTES)
            {
                break;
            }
            bytes += p.leaf.len();
            group.extend(self.waiting.pop_front());
        }
        group
    }
}

fn poisoned() -> ServiceError {
    ServiceError::Internal("custody intake lock poisoned".into())
}

impl Intake {
    /// Waits for a core to prepare a submission on (parse, `verify_strict`, the lock-free
    /// checks).
    pub(super) fn slot(&self) -> Result<Slot<'_>> {
        let mut n = self.preparing.lock().map_err(|_| poisoned())?;
        while *n >= max_preparing() {
            n = self.slot_free.wait(n).map_err(|_| poisoned())?;
        }
        *n += 1;
        Ok(Slot(self))
    }

    /// Queues `p` and returns its answer once its group was written (or it was refused).
    pub(super) fn commit(&self, custody: &Custody, p: Prepared) -> Result<Accepted> {
        let me = Arc::new(Ticket::default());
        let lead = {
            let mut q = self.queue.lock().map_err(|_| poisoned())?;
            q.waiting.push_back((me.clone(), p));
            !std::mem::replace(&mut q.leading, true)
        };
        if !lead {
            if let Some(a) = me.wait()? {
                return a;
            }
        }
        self.lead(custody, &me)
    }

    /// Leads one group: the oldest waiting submissions, `me`'s first (a caller leads only
    /// when its record is at the front). Checks and writes them under the custody lock,
    /// hands the lead to the oldest caller still waiting (or ends it), and only then waits
    /// for the group's fsync: the next group is checked and written while this one syncs.
    fn lead(&self, custody: &Custody, me: &Ticket) -> Result<Accepted> {
        let group = self.queue.lock().map_err(|_| poisoned())?.take_group();
        let tickets: Vec<Arc<Ticket>> = group.iter().map(|(t, _)| t.clone()).collect();
        let members = (0..).zip(group.into_iter().map(|(_, p)| p)).collect();
        let written = run_group(custody, members);
        let generation = (written.records > 0).then(|| self.syncs.wrote());
        {
            let mut q = self.queue.lock().map_err(|_| poisoned())?;
            match q.waiting.front() {
                Some((next, _)) => next.set(TicketState::Lead),
                None => q.leading = false,
            }
        }
        let sync = || match generation {
            Some(g) => self.syncs.sync_through(g, || custody.log.sync()),
            None => Ok(()),
        };
        for (i, answer) in custody.sync_group(written, sync) {
            tickets[i as usize].set(TicketState::Done(answer));
        }
        me.take_done().unwrap_or_else(|| {
            Err(ServiceError::Internal(
                "custody intake: the leader's record was not in its group".into(),
            ))
        })
    }
}

/// Commits one group; a panic answers every member with an internal error instead of leaving
/// them waiting.
fn run_group(custody: &Custody, group: Vec<(u64, Prepared)>) -> Written {
    let ids: Vec<u64> = group.iter().map(|(id, _)| *id).collect();
    match catch_unwind(AssertUnwindSafe(|| custody.commit_group(group))) {
        Ok(written) => written,
        Err(_) => Written {
            answers: ids
                .into_iter()
                .map(|id| {
                    let e = ServiceError::Internal("custody group commit panicked".into());
                    (id, Err(e))
                })
                .collect(),
            records: 0,
        },
    }
}

/// A group checked and written, not yet synced: the answers (refusals final, acceptances
/// to be given only once the write is durable) and how many records the write holds.
struct Written {
    answers: Vec<(u64, Result<Accepted>)>,
    records: u64,
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

impl Custody {
    /// Groups and records written by the intake since the start.
    pub fn intake_stats(&self) -> IntakeStats {
        IntakeStats {
            groups: self.intake.groups.load(Ordering::Relaxed),
            records: self.intake.records.load(Ordering::Relaxed),
            fsyncs: lock(&self.intake.syncs.state).map_or(0, |s| s.fsyncs),
        }
    }

    /// Makes a written group durable (`sync`: an fsync, perhaps shared with other groups),
    /// then gives its acceptances; when the fsync fails, every accepted member gets the
    /// failure (503) instead.
    fn sync_group(
        &self,
        w: Written,
        sync: impl FnOnce() -> Result<()>,
    ) -> Vec<(u64, Result<Accepted>)> {
        if w.records == 0 {
            return w.answers;
        }
        if let Err(e) = sync() {
            return w
                .answers
                .into_iter()
                .map(|(id, a)| (id, a.and_then(|_| Err(for_member(&e)))))
                .collect();
        }
        self.intake.groups.fetch_add(1, Ordering::Relaxed);
        self.intake.records.fetch_add(w.records, Ordering::Relaxed);
        for a in w.answers.iter().filter_map(|(_, a)| a.as_ref().ok()) {
            info!(lot = %a.lot, step = %a.step, leaf = a.leaf_index, "accepted custody record");
        }
        w.answers
    }

    /// Checks each member against the state the members before it leave, then writes the
    /// accepted ones in one write, not yet synced (see [`Custody::sync_group`]). Answers
    /// every refused member; the accepted ones' answers wait for the sync.
    fn commit_group(&self, group: Vec<(u64, Prepared)>) -> Written {
        let mut answers = Vec::with_capacity(group.len());
        let _g = match lock(&self.locks.custody) {
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
            match self.check_member(id, p, &mut ov) {
                Ok(s) => staged.push(s),
                Err(e) => answers.push((id, Err(e))),
            }
        }
        let mut records = 0;
        if staged.is_empty() {
            return Written { answers, records };
        }
        match self.write_group(&mut staged, &ov) {
            Ok(first) => {
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
    fn check_member(&self, id: u64, p: Prepared, ov: &mut Overlay) -> Result<Staged> {
        let st: &Statement = &p.signed.checked.statement;
        let lot = &p.signed.checked.lot;
        let mut owner = p.owner;
        if self.locks.custody_epoch() != p.epoch {
            // A key, engagement or owner changed since the submission was checked.
            self.recheck_key(&p.actor.id, st, p.now)?;
            owner = self.registered_owner(lot)?;
            self.engagements.check_engaged(
                owner,
                &p.actor.id,
                lot.gtin.as_str(),
                st.signed_at,
                p.now,
            )?;
        }
        let lk = lot_key(lot);
        if !ov.lots.contains_key(&lk) && !self.lot_exists(&lk)? {
            return Err(CustodyError::UndeclaredLot { lot: lot.clone() }.into());
        }
        let nk = nonce_key(&p.actor.id, &st.nonce);
        if ov.nonces.contains_key(&nk) || self.store.get(Cf::Nonces, &nk)?.is_some() {
            return Err(CustodyError::Replay {
                nonce: st.nonce.clone(),
                actor: p.actor.id.clone(),
            }
            .into());
        }
        let mut state = match ov.lots.get(&lk) {
            Some(s) => s.clone(),
            None => self.lot_state(&lk)?,
        };
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
            counts: CustodyKind::of(&st.event).map(|k| (k, owner)),
            head,
            lot: lot.to_string(),
            step: st.event.step().to_string(),
            hash: p.hash,
            leaf: p.leaf,
        })
    }

    /// One write (synced later, by [`Custody::sync_group`]) of every staged member: leaves and node hashes (appended in order),
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
mod tests {
    use super::super::tests::{attest, cast, declare, signed, GTIN};
    use super::*;
    use crate::custody::record::{Conformance, Event, Movement, Packing, Role};
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::Service;

    fn prev_after(sub: &Submission) -> String {
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
        let mut answers = svc.custody().sync_group(written, || svc.log().sync());
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
        let answers = svc.custody().sync_group(written, || svc.log().sync());
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
        let answers = svc.custody().sync_group(written, || svc.log().sync());
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

    /// Each caller returns only after an fsync that began once its group was written, and
    /// callers waiting together share fsyncs.
    #[test]
    fn shared_fsyncs_cover_every_group_written_before_they_began() {
        let syncs = Syncs::default();
        let began = Mutex::new(Vec::new());
        let fsync = || {
            let written = syncs.state.lock().unwrap().written;
            began.lock().unwrap().push(written);
            std::thread::sleep(std::time::Duration::from_millis(2));
            Ok(())
        };
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    for _ in 0..10 {
                        let g = syncs.wrote();
                        syncs.sync_through(g, fsync).unwrap();
                        let covered = began.lock().unwrap().iter().any(|w| *w >= g);
                        assert!(covered, "group {g} answered before an fsync covered it");
                    }
                });
            }
        });
        let n = began.lock().unwrap().len();
        assert!(n < 160, "{n} fsyncs for 160 groups: none shared");
        assert_eq!(syncs.state.lock().unwrap().synced, 160);
    }

    /// Many threads, each walking its own lot: every record is accepted, in fewer groups than
    /// records, and each lot's chain is whole.
    #[test]
    fn concurrent_submitters_share_groups_and_every_chain_is_whole() {
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let route = crate::custody::rules::standard_route("531620261000123");
        let threads = 8;
        let lots: Vec<String> = (0..threads).map(|i| format!("{GTIN}.C{i}")).collect();
        for l in &lots {
            declare(&svc, l);
        }
        let before = svc.custody().intake_stats();
        std::thread::scope(|s| {
            for l in &lots {
                let (svc, c, route) = (&svc, &c, &route);
                s.spawn(move || {
                    for (role, e) in route.iter().take(9) {
                        let (id, sk) = &c.keys[role];
                        let prev = svc.custody().lot_head(l).unwrap();
                        let sub = signed(id, sk, l, &prev, e.clone(), vec![]);
                        svc.custody().submit(&sub).unwrap();
                    }
                });
            }
        });
        let after = svc.custody().intake_stats();
        assert_eq!(after.records - before.records, threads as u64 * 9);
        assert!(after.groups - before.groups <= after.records - before.records);
        assert!(after.fsyncs - before.fsyncs <= after.groups - before.groups);
        for l in &lots {
            let v = svc
                .custody()
                .lot_view(
                    l,
                    LotPage {
                        after: None,
                        limit: None,
                    },
                )
                .unwrap();
            assert_eq!(v.records.len(), 9);
            let mut prev = GENESIS.to_string();
            for r in &v.records {
                assert_eq!(r.prev, prev);
                prev = r.record_hash.clone();
            }
            assert_eq!(v.head, prev);
        }
    }
}
