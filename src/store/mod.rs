//! The storage port: a plain ordered key-value interface with column families and atomic,
//! optionally synced write batches.
//!
//! The service layer speaks only to [`Store`]; [`rocks::RocksStore`] is the production
//! backend (RocksDB on disk) and [`mem::MemStore`] an in-memory one for unit tests, with fault
//! injection. Both run the same conformance suite (`conformance` tests below). The trait stays a
//! plain ordered key-value interface so a distributed engine on the same model (TiKV) can
//! replace RocksDB without touching the core. The schema (column families, key and value
//! encodings) is documented in `docs/schema.md`; every column family, key layout and value codec
//! lives in [`schema`], the one place that knows the bytes.

pub mod mem;
pub mod rocks;
pub mod schema;

pub use self::schema::{schema_hint, Cf, SCHEMA_VERSION};

/// One write operation inside a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Set `key` to `value`.
    Put(Cf, Vec<u8>, Vec<u8>),
    /// Remove `key`.
    Delete(Cf, Vec<u8>),
    /// Add a signed amount to the counter at `key` (an 8-byte big-endian `u64`, absent = 0),
    /// without reading it: concurrent adds never need a lock (RocksDB: a merge operand).
    Add(Cf, Vec<u8>, i64),
}

/// A set of writes applied atomically: all or none survive a crash.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    ops: Vec<Op>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch with room for `n` operations.
    pub fn with_capacity(n: usize) -> Self {
        WriteBatch {
            ops: Vec::with_capacity(n),
        }
    }

    /// Adds a put.
    pub fn put(&mut self, cf: Cf, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops.push(Op::Put(cf, key.into(), value.into()));
    }

    /// Adds a delete.
    pub fn delete(&mut self, cf: Cf, key: impl Into<Vec<u8>>) {
        self.ops.push(Op::Delete(cf, key.into()));
    }

    /// Adds `n` (negative: subtracts) to the counter at `key` (see [`Op::Add`]).
    pub fn add(&mut self, cf: Cf, key: impl Into<Vec<u8>>, n: i64) {
        self.ops.push(Op::Add(cf, key.into(), n));
    }

    /// The operations, in order.
    pub fn ops(&self) -> &[Op] {
        &self.ops
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// How durable a write must be before [`Store::write`] returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// The write-ahead log is fsynced: the write survives `kill -9` and power loss.
    Synced,
    /// Written to the write-ahead log without fsync: survives a process crash, may be lost on
    /// power loss. Used only for scan telemetry.
    Buffered,
}

/// Errors from a storage backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O error, closed, injected fault); the operation did not happen.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be decoded: the store is damaged or was written by other code.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The on-disk schema is of another version.
    #[error("the data directory holds schema version {found}, this build needs {expected}; refusing to start.{}", schema_hint(*found))]
    SchemaVersion {
        /// Version found on disk.
        found: u32,
        /// Version this build writes.
        expected: u32,
    },
    /// `open` found no store, or `create` found one already.
    #[error("{0}")]
    Setup(String),
}

/// A key-value pair returned by a range scan.
pub type Pair = (Vec<u8>, Vec<u8>);

/// The storage port. Implementations must make [`Store::write`] atomic and, with
/// [`Durability::Synced`], durable before returning.
pub trait Store: Send + Sync + 'static {
    /// Reads one key.
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Reads several keys of one column family; results in the order of `keys`.
    fn multi_get(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        keys.iter().map(|k| self.get(cf, k)).collect()
    }

    /// Applies a batch atomically.
    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError>;

    /// Makes every write that returned so far durable, as if each had been
    /// [`Durability::Synced`] (one fsync of the write-ahead log). Writes are logged in
    /// order, so a crash before the sync keeps a prefix of them, each whole or absent.
    fn sync(&self) -> Result<(), StoreError>;

    /// Up to `limit` pairs with `start <= key < end` (no upper bound when `end` is `None`),
    /// in ascending key order.
    fn range(
        &self,
        cf: Cf,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Pair>, StoreError>;

    /// The pair with the greatest key in the column family, if any.
    fn last(&self, cf: Cf) -> Result<Option<Pair>, StoreError>;

    /// Waits, at most `timeout`, until no flush or compaction is running or queued: benches
    /// measure their baseline on a quiet machine and charge a run's background work to that
    /// run. A store without background work returns at once.
    fn wait_for_background_work(&self, _timeout: std::time::Duration) -> Result<(), StoreError> {
        Ok(())
    }
}

/// A counter's value after adding `operands` (8-byte big-endian two's complement amounts) to
/// `existing` (an 8-byte big-endian `u64`); absent or malformed bytes count as 0; the sum
/// wraps (a counter taken below zero reads as a huge number: callers subtract only what they
/// added). What [`Op::Add`] stores.
pub fn add_counter<'a>(
    existing: Option<&[u8]>,
    operands: impl IntoIterator<Item = &'a [u8]>,
) -> [u8; 8] {
    let read = |b: &[u8]| <[u8; 8]>::try_from(b).map(u64::from_be_bytes).unwrap_or(0);
    let start = existing.map(read).unwrap_or(0);
    let sum = operands
        .into_iter()
        .fold(start, |acc, b| acc.wrapping_add(read(b)));
    sum.to_be_bytes()
}

/// Calls `f` on every pair of column family `cf`, in key order, reading `page` pairs at a
/// time (for one-off passes such as building an index on open).
pub fn for_each_pair(
    store: &dyn Store,
    cf: Cf,
    page: usize,
    mut f: impl FnMut(&[u8], &[u8]) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut start = Vec::new();
    loop {
        let pairs = store.range(cf, &start, None, page)?;
        let Some((last, _)) = pairs.last() else {
            return Ok(());
        };
        start = schema::key_after(last);
        for (k, v) in &pairs {
            f(k, v)?;
        }
    }
}

/// The exclusive upper bound of all keys starting with `prefix` (None if there is none).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod conformance {
    //! The conformance suite every backend runs.
    use super::*;

    /// Runs every conformance check against a fresh, empty store.
    pub fn run(store: &dyn Store) {
        get_missing(store);
        put_get_delete(store);
        batch_is_atomic_across_cfs(store);
        range_order_and_bounds(store);
        last_key(store);
        multi_get_order(store);
        counters_add_without_reading(store);
    }

    fn counters_add_without_reading(s: &dyn Store) {
        let key = b"counter".to_vec();
        let mut b = WriteBatch::new();
        b.add(Cf::ScanDays, key.clone(), 2);
        b.add(Cf::ScanDays, key.clone(), 3);
        s.write(b, Durability::Buffered).unwrap();
        assert_eq!(
            s.get(Cf::ScanDays, &key).unwrap(),
            Some(5u64.to_be_bytes().to_vec())
        );
        // Adds from many threads at once all land (no lock, no read in the writer).
        std::thread::scope(|t| {
            for _ in 0..4 {
                t.spawn(|| {
                    for _ in 0..250 {
                        let mut b = WriteBatch::new();
                        b.add(Cf::ScanDays, key.clone(), 1);
                        s.write(b, Durability::Buffered).unwrap();
                    }
                });
            }
        });
        let got = s.range(Cf::ScanDays, b"counter", None, 1).unwrap();
        assert_eq!(got, vec![(key.clone(), 1005u64.to_be_bytes().to_vec())]);
        // A put resets it; a negative amount subtracts.
        let mut b = WriteBatch::new();
        b.put(Cf::ScanDays, key.clone(), 10u64.to_be_bytes().to_vec());
        b.add(Cf::ScanDays, key.clone(), -3);
        s.write(b, Durability::Buffered).unwrap();
        assert_eq!(
            s.get(Cf::ScanDays, &key).unwrap(),
            Some(7u64.to_be_bytes().to_vec())
        );
    }

    fn get_missing(s: &dyn Store) {
        assert_eq!(s.get(Cf::Items, b"nope").unwrap(), None);
    }

    fn put_get_delete(s: &dyn Store) {
        let mut b = WriteBatch::new();
        b.put(Cf::Products, b"k1".to_vec(), b"v1".to_vec());
        s.write(b, Durability::Synced).unwrap();
        assert_eq!(s.get(Cf::Products, b"k1").unwrap(), Some(b"v1".to_vec()));
        // Column families are separate key spaces.
        assert_eq!(s.get(Cf::Batches, b"k1").unwrap(), None);
        let mut b = WriteBatch::new();
        b.delete(Cf::Products, b"k1".to_vec());
        s.write(b, Durability::Buffered).unwrap();
        assert_eq!(s.get(Cf::Products, b"k1").unwrap(), None);
    }

    fn batch_is_atomic_across_cfs(s: &dyn Store) {
        let mut b = WriteBatch::new();
        b.put(Cf::Leaves, 7u64.to_be_bytes().to_vec(), b"leaf".to_vec());
        b.put(Cf::Nodes, b"n".to_vec(), b"hash".to_vec());
        b.put(Cf::Leaves, 7u64.to_be_bytes().to_vec(), b"leaf2".to_vec());
        s.write(b, Durability::Synced).unwrap();
        // Later ops in a batch win.
        assert_eq!(
            s.get(Cf::Leaves, &7u64.to_be_bytes()).unwrap(),
            Some(b"leaf2".to_vec())
        );
        assert_eq!(s.get(Cf::Nodes, b"n").unwrap(), Some(b"hash".to_vec()));
    }

    fn range_order_and_bounds(s: &dyn Store) {
        let mut b = WriteBatch::new();
        for i in [5u64, 1, 300, 2, 256] {
            b.put(
                Cf::Checkpoints,
                i.to_be_bytes().to_vec(),
                i.to_string().into_bytes(),
            );
        }
        s.write(b, Durability::Synced).unwrap();
        let all = s.range(Cf::Checkpoints, &[], None, 100).unwrap();
        let keys: Vec<u64> = all
            .iter()
            .map(|(k, _)| u64::from_be_bytes(k.as_slice().try_into().unwrap()))
            .collect();
        assert_eq!(
            keys,
            vec![1, 2, 5, 256, 300],
            "big-endian keys iterate in order"
        );
        let some = s
            .range(
                Cf::Checkpoints,
                &2u64.to_be_bytes(),
                Some(&256u64.to_be_bytes()),
                100,
            )
            .unwrap();
        assert_eq!(some.len(), 2);
        let limited = s.range(Cf::Checkpoints, &[], None, 3).unwrap();
        assert_eq!(limited.len(), 3);
        assert_eq!(limited[2].1, b"5".to_vec());
    }

    fn last_key(s: &dyn Store) {
        assert_eq!(s.last(Cf::ForgedScans).unwrap(), None);
        let (k, v) = s.last(Cf::Checkpoints).unwrap().unwrap();
        assert_eq!(k, 300u64.to_be_bytes().to_vec());
        assert_eq!(v, b"300".to_vec());
    }

    fn multi_get_order(s: &dyn Store) {
        let keys = vec![
            300u64.to_be_bytes().to_vec(),
            b"missing".to_vec(),
            1u64.to_be_bytes().to_vec(),
        ];
        let got = s.multi_get(Cf::Checkpoints, &keys).unwrap();
        assert_eq!(got, vec![Some(b"300".to_vec()), None, Some(b"1".to_vec())]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_last_byte() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
    }

    #[test]
    fn cf_names_are_unique() {
        let mut names: Vec<_> = Cf::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Cf::ALL.len());
    }
}
