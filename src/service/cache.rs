//! A small versioned cache of built views (public lot pages, EPCIS pages), bounded by a cost
//! budget: anonymous GETs of the same page do not re-read and re-parse its leaves until the
//! lot changes.
//!
//! An entry is valid for one version of its source (e.g. the lot's record count, head and the
//! actor registry's generation); a lookup with another version misses. When the budget is
//! exceeded the whole cache is dropped (simple, and a cold cache only costs the rebuild).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Cached values by key, each with the version it was built for and its cost.
pub struct ViewCache<V> {
    budget: usize,
    inner: Mutex<Entries<V>>,
}

struct Entries<V> {
    used: usize,
    map: HashMap<Vec<u8>, (Vec<u8>, Arc<V>, usize)>,
}

impl<V> ViewCache<V> {
    /// An empty cache holding at most `budget` cost units (e.g. bytes of leaves parsed).
    pub fn new(budget: usize) -> Self {
        ViewCache {
            budget,
            inner: Mutex::new(Entries {
                used: 0,
                map: HashMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries<V>> {
        // Entries are replaced whole; a panic elsewhere cannot leave one half-written.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The value built for `version` of `key`, if cached.
    pub fn get(&self, key: &[u8], version: &[u8]) -> Option<Arc<V>> {
        let g = self.lock();
        match g.map.get(key) {
            Some((v, value, _)) if v.as_slice() == version => Some(value.clone()),
            _ => None,
        }
    }

    /// Caches `value`, built for `version` of `key` at `cost`. A value costing more than the
    /// whole budget is not kept.
    pub fn put(&self, key: Vec<u8>, version: Vec<u8>, value: Arc<V>, cost: usize) {
        if cost > self.budget {
            return;
        }
        let mut g = self.lock();
        if let Some((_, _, old)) = g.map.remove(&key) {
            g.used -= old;
        }
        if g.used + cost > self.budget {
            g.map.clear();
            g.used = 0;
        }
        g.used += cost;
        g.map.insert(key, (version, value, cost));
    }

    /// Cost units held now.
    pub fn used(&self) -> usize {
        self.lock().used
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_miss_and_the_budget_holds() {
        let c = ViewCache::new(100);
        c.put(b"a".to_vec(), b"1".to_vec(), Arc::new(1), 40);
        assert_eq!(c.get(b"a", b"1").as_deref(), Some(&1));
        assert!(c.get(b"a", b"2").is_none(), "another version misses");
        c.put(b"a".to_vec(), b"2".to_vec(), Arc::new(2), 40);
        assert_eq!(c.used(), 40, "a replaced entry frees its cost");
        c.put(b"b".to_vec(), b"1".to_vec(), Arc::new(3), 50);
        assert_eq!(c.used(), 90);
        c.put(b"c".to_vec(), b"1".to_vec(), Arc::new(4), 20);
        assert!(c.used() <= 100, "over budget: dropped and refilled");
        assert_eq!(c.get(b"c", b"1").as_deref(), Some(&4));
        c.put(b"d".to_vec(), b"1".to_vec(), Arc::new(5), 101);
        assert!(
            c.get(b"d", b"1").is_none(),
            "larger than the budget: not kept"
        );
    }
}
