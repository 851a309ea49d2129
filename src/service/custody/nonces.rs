//! Which nonces may have been used: an in-memory Bloom filter over every stored nonce key.
//!
//! Every submission's nonce is checked unused under the custody lock. Nearly every nonce is
//! new, and proving a key absent from RocksDB costs a memtable probe and a filter probe in
//! every level-0 table and every level: about 3.6 µs a record, in the serial part of the
//! intake (`docs/performance.md`, Custody intake). This filter answers "never used" from
//! memory; only a key it may hold (every replay, and about one new nonce in a hundred) is
//! looked up in the store, so the answer is the store's, exactly as before.
//!
//! The filter is built once from the `nonces` column family when the service opens
//! ([`NonceFilter::load`]), and every nonce a group commit writes is added just before the
//! write, under the custody lock, which is the only place nonces are written (a write that
//! fails leaves keys in the filter that the store lacks: each costs a lookup, nothing else).
//! Until it is loaded it holds nothing and answers "may be used" for every key: the store
//! decides.
//!
//! Memory: about 1.2 bytes a stored nonce (10 bits). The filter is sized for twice the nonces
//! stored at start-up (at least [`MIN_CAPACITY`]); when that fills, a filter twice as large is
//! added, so the false-positive rate stays near [`FALSE_POSITIVE_RATE`] per filter however
//! long the service runs. The hash is SipHash-1-3 with keys drawn at random per process, so a
//! client cannot choose nonces that collide.

use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

use fastbloom::{BloomFilter, DefaultHasher};

use super::heads::Held;
use crate::store::{for_each_pair, Cf, Store, StoreError};

/// Nonces the first filter holds, at least.
pub(super) const MIN_CAPACITY: usize = 1 << 20;
/// False-positive rate of each filter when full.
pub(super) const FALSE_POSITIVE_RATE: f64 = 0.01;
/// Keys read from the store at a time while loading.
const LOAD_PAGE: usize = 4096;

/// The nonce filter of one custody unit.
#[derive(Default)]
pub(super) struct NonceFilter {
    inner: Mutex<Option<Filters>>,
}

/// Filters of growing size, sharing one hasher: a key was added to one of them.
struct Filters {
    hasher: DefaultHasher,
    filters: Vec<BloomFilter>,
    /// Keys in the last filter, and how many it is sized for.
    last_len: usize,
    last_capacity: usize,
}

impl Filters {
    fn with_capacity(hasher: DefaultHasher, capacity: usize) -> Filters {
        let first = sized(&hasher, capacity);
        Filters {
            hasher,
            filters: vec![first],
            last_len: 0,
            last_capacity: capacity,
        }
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn insert_hash(&mut self, hash: u64) {
        if self.last_len >= self.last_capacity {
            self.last_capacity *= 2;
            self.filters.push(sized(&self.hasher, self.last_capacity));
            self.last_len = 0;
        }
        if let Some(f) = self.filters.last_mut() {
            f.insert_hash(hash);
            self.last_len += 1;
        }
    }

    fn may_contain(&self, key: &[u8]) -> bool {
        let h = self.hash(key);
        self.filters.iter().any(|f| f.contains_hash(h))
    }
}

fn sized(hasher: &DefaultHasher, capacity: usize) -> BloomFilter {
    BloomFilter::with_false_pos(FALSE_POSITIVE_RATE)
        .hasher(hasher.clone())
        .expected_items(capacity)
}

impl NonceFilter {
    fn inner(&self) -> MutexGuard<'_, Option<Filters>> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Builds the filter from every key of the `nonces` column family, sized for twice as
    /// many (at least `min_capacity`). Returns how many keys it read. While reading it holds
    /// 8 bytes a key (their hashes), not the keys.
    pub(super) fn load(
        &self,
        _held: &Held<'_>,
        store: &dyn Store,
        min_capacity: usize,
    ) -> Result<usize, StoreError> {
        let hasher = DefaultHasher::default();
        let mut hashes: Vec<u64> = Vec::new();
        for_each_pair(store, Cf::Nonces, LOAD_PAGE, |k, _| {
            hashes.push(hasher.hash_one(k));
            Ok(())
        })?;
        let capacity = min_capacity.max(hashes.len().saturating_mul(2));
        let mut filters = Filters::with_capacity(hasher, capacity);
        for h in &hashes {
            filters.insert_hash(*h);
        }
        *self.inner() = Some(filters);
        Ok(hashes.len())
    }

    /// False only when `key` was never stored (no false negatives); true for every key
    /// until the filter is loaded.
    pub(super) fn may_contain(&self, _held: &Held<'_>, key: &[u8]) -> bool {
        self.inner().as_ref().is_none_or(|f| f.may_contain(key))
    }

    /// Adds the keys a write is about to store (nothing before the filter is loaded: the
    /// load reads them from the store).
    pub(super) fn insert<'k>(&self, _held: &Held<'_>, keys: impl IntoIterator<Item = &'k [u8]>) {
        if let Some(f) = self.inner().as_mut() {
            for k in keys {
                let h = f.hash(k);
                f.insert_hash(h);
            }
        }
    }

    /// How many filters there are (0 before the load).
    #[cfg(test)]
    fn filters(&self) -> usize {
        self.inner().as_ref().map_or(0, |f| f.filters.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::mem::MemStore;
    use crate::store::{Durability, WriteBatch};

    fn key(i: u64) -> Vec<u8> {
        crate::store::schema::nonce_key("au-inspect", &format!("{i:032x}"))
    }

    /// Every stored key and every added one is "may be used", across filters added as the
    /// first fills; most keys never stored are "never used"; before the load every key is
    /// "may be used".
    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let store = MemStore::default();
        let mut wb = WriteBatch::new();
        for i in 0..1000 {
            wb.put(Cf::Nonces, key(i), 7u64.to_be_bytes().to_vec());
        }
        store.write(wb, Durability::Synced).unwrap();
        let lock = Mutex::new(());
        let held = lock.lock().unwrap();
        let f = NonceFilter::default();
        assert!(f.may_contain(&held, &key(5_000)));
        f.insert(&held, [key(1).as_slice()]);
        assert_eq!(f.filters(), 0);
        assert_eq!(f.load(&held, &store, 16).unwrap(), 1000);
        assert_eq!(f.filters(), 1);
        let added: Vec<Vec<u8>> = (1000..9000).map(key).collect();
        f.insert(&held, added.iter().map(Vec::as_slice));
        // 2000 + 4000 + 8000 slots: three filters.
        assert_eq!(f.filters(), 3);
        assert!((0..9000).all(|i| f.may_contain(&held, &key(i))));
        let false_pos = (10_000..20_000)
            .filter(|i| f.may_contain(&held, &key(*i)))
            .count();
        assert!(false_pos < 400, "{false_pos} false positives in 10,000");
    }
}
