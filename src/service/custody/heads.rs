//! The lot states the group commit reads, kept in memory between groups.
//!
//! A record moves its lot's state (head, stage, counts), so every group commit read each
//! member's lot state from the store and decoded its JSON, under the custody lock: about
//! 3 µs of the 65 µs a record costs at 32 submitters (`docs/performance.md`, Custody intake).
//!
//! Every write of a lot state (`Cf::Lots`) is made by this unit under the custody lock: a
//! group commit, a recall, a declaration. A group commit puts here the states it wrote, once
//! its write succeeded; a recall or a declaration forgets its lot. Each method takes the
//! custody lock's guard, so the cache is only read or changed while the lock is held, and
//! there it never disagrees with the store: a failed write changes nothing in either, and
//! nothing else writes the column family while the service runs. Absent lots are not kept
//! (an undeclared lot is looked up again), and the cache is bounded: past [`MAX_LOTS`] the
//! older generation is dropped, so a lot written recently stays.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::custody::rules::LotState;

/// Lots kept in each of the two generations.
pub(super) const MAX_LOTS: usize = 4096;

/// The lot states of one custody unit, by lot key.
#[derive(Default)]
pub(super) struct LotHeads {
    inner: Mutex<Generations>,
}

/// The states put since the last turn (`current`) and before it (`previous`).
#[derive(Default)]
struct Generations {
    current: HashMap<Vec<u8>, LotState>,
    previous: HashMap<Vec<u8>, LotState>,
}

impl Generations {
    fn put(&mut self, lk: Vec<u8>, state: LotState) {
        if self.current.len() >= MAX_LOTS && !self.current.contains_key(&lk) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(lk, state);
    }
}

/// The custody lock's guard: proof that the caller holds it.
pub(super) type Held<'a> = MutexGuard<'a, ()>;

impl LotHeads {
    fn inner(&self) -> MutexGuard<'_, Generations> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The state last written for `lk`, when it is kept.
    pub(super) fn get(&self, _held: &Held<'_>, lk: &[u8]) -> Option<LotState> {
        let mut g = self.inner();
        if let Some(s) = g.current.get(lk) {
            return Some(s.clone());
        }
        let (k, s) = g.previous.remove_entry(lk)?;
        g.put(k, s.clone());
        Some(s)
    }

    /// Keeps the states a write just stored (taken, not copied).
    pub(super) fn put(
        &self,
        _held: &Held<'_>,
        written: impl IntoIterator<Item = (Vec<u8>, LotState)>,
    ) {
        let mut g = self.inner();
        for (lk, s) in written {
            g.put(lk, s);
        }
    }

    /// Forgets `lk` (its state was written elsewhere: the next read goes to the store).
    pub(super) fn forget(&self, _held: &Held<'_>, lk: &[u8]) {
        let mut g = self.inner();
        g.current.remove(lk);
        g.previous.remove(lk);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(records: u64) -> LotState {
        LotState {
            records,
            ..LotState::default()
        }
    }

    /// A state put is read back until it is forgotten; past the bound the older generation
    /// goes, and a lot read from it moves to the current one.
    #[test]
    fn states_are_kept_within_two_generations() {
        let lock = Mutex::new(());
        let held = lock.lock().unwrap();
        let heads = LotHeads::default();
        let key = |i: usize| format!("lot-{i}").into_bytes();
        heads.put(&held, [(key(0), state(7))]);
        assert_eq!(heads.get(&held, &key(0)).map(|s| s.records), Some(7));
        heads.forget(&held, &key(0));
        assert!(heads.get(&held, &key(0)).is_none());
        for i in 0..MAX_LOTS {
            heads.put(&held, [(key(i), state(i as u64))]);
        }
        // The bound is reached: the next new lot turns the generations over.
        heads.put(&held, [(key(MAX_LOTS), state(0))]);
        // Read from the previous generation, lot 1 moves to the current one.
        assert_eq!(heads.get(&held, &key(1)).map(|s| s.records), Some(1));
        // With lot 1 and the lot that turned them, the current generation is full again.
        for i in MAX_LOTS + 1..2 * MAX_LOTS - 1 {
            heads.put(&held, [(key(i), state(0))]);
        }
        // This turn drops the generation that held lot 2 but not lot 1.
        heads.put(&held, [(key(2 * MAX_LOTS), state(0))]);
        assert!(heads.get(&held, &key(2)).is_none());
        assert_eq!(heads.get(&held, &key(1)).map(|s| s.records), Some(1));
        assert_eq!(
            heads.get(&held, &key(2 * MAX_LOTS)).map(|s| s.records),
            Some(0)
        );
    }
}
