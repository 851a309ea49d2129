//! An in-memory [`Store`] for unit tests, with fault injection: [`MemStore::set_failing`]
//! makes every operation fail as an unavailable disk would, [`MemStore::set_failing_writes`]
//! only the writes, as a full disk would.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

use super::{Cf, Durability, Op, Pair, Store, StoreError, WriteBatch};

/// Keys are (column family, key) pairs so one ordered map holds every column family.
type Table = BTreeMap<(Cf, Vec<u8>), Vec<u8>>;

/// In-memory ordered store. Not durable; for tests only.
#[derive(Default)]
pub struct MemStore {
    data: RwLock<Table>,
    failing: AtomicBool,
    failing_writes: AtomicBool,
    failing_syncs: AtomicBool,
}

impl MemStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// When `failing` is true every operation returns [`StoreError::Unavailable`].
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// When `failing` is true every write returns [`StoreError::Unavailable`] and reads still
    /// work, as on a full disk.
    pub fn set_failing_writes(&self, failing: bool) {
        self.failing_writes.store(failing, Ordering::SeqCst);
    }

    /// When `failing` is true [`Store::sync`] returns [`StoreError::Unavailable`] (writes
    /// still succeed: an fsync that fails after the write).
    pub fn set_failing_syncs(&self, failing: bool) {
        self.failing_syncs.store(failing, Ordering::SeqCst);
    }

    fn check(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable("injected fault".into()))
        } else {
            Ok(())
        }
    }

    fn poisoned() -> StoreError {
        StoreError::Unavailable("memory store lock poisoned".into())
    }
}

impl Store for MemStore {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.check()?;
        let data = self.data.read().map_err(|_| Self::poisoned())?;
        Ok(data.get(&(cf, key.to_vec())).cloned())
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.check()?;
        if self.failing_writes.load(Ordering::SeqCst) || self.failing_syncs.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "injected sync fault (disk full)".into(),
            ));
        }
        Ok(())
    }

    fn write(&self, batch: WriteBatch, _durability: Durability) -> Result<(), StoreError> {
        self.check()?;
        if self.failing_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "injected write fault (disk full)".into(),
            ));
        }
        let mut data = self.data.write().map_err(|_| Self::poisoned())?;
        for op in batch.ops() {
            match op {
                Op::Put(cf, k, v) => {
                    data.insert((*cf, k.clone()), v.clone());
                }
                Op::Delete(cf, k) => {
                    data.remove(&(*cf, k.clone()));
                }
                Op::Add(cf, k, n) => {
                    let slot = data.entry((*cf, k.clone())).or_default();
                    *slot = super::add_counter(Some(slot), [n.to_be_bytes().as_slice()]).to_vec();
                }
            }
        }
        Ok(())
    }

    fn range(
        &self,
        cf: Cf,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Pair>, StoreError> {
        self.check()?;
        let data = self.data.read().map_err(|_| Self::poisoned())?;
        let lo = Bound::Included((cf, start.to_vec()));
        let out = data
            .range((lo, Bound::Unbounded))
            .take_while(|((c, k), _)| *c == cf && end.is_none_or(|e| k.as_slice() < e))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect();
        Ok(out)
    }

    fn last(&self, cf: Cf) -> Result<Option<Pair>, StoreError> {
        self.check()?;
        let data = self.data.read().map_err(|_| Self::poisoned())?;
        Ok(data
            .iter()
            .rev()
            .find(|((c, _), _)| *c == cf)
            .map(|((_, k), v)| (k.clone(), v.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conformance() {
        super::super::conformance::run(&MemStore::new());
    }

    #[test]
    fn injected_fault_fails_every_operation() {
        let s = MemStore::new();
        s.set_failing(true);
        assert!(matches!(
            s.get(Cf::Meta, b"x"),
            Err(StoreError::Unavailable(_))
        ));
        assert!(s.write(WriteBatch::new(), Durability::Synced).is_err());
        assert!(s.range(Cf::Meta, b"", None, 1).is_err());
        s.set_failing(false);
        assert!(s.get(Cf::Meta, b"x").is_ok());
    }
}
