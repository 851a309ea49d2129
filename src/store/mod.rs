//! The storage port: a plain ordered key-value interface with column families and atomic,
//! optionally synced write batches.
//!
//! The service layer speaks only to [`Store`]; [`rocks::RocksStore`] is the production
//! backend (RocksDB on disk) and [`mem::MemStore`] an in-memory one for unit tests, with fault
//! injection. Both run the same conformance suite (`conformance` tests below). The trait stays a
//! plain ordered key-value interface so a distributed engine on the same model (TiKV) can
//! replace RocksDB without touching the core. The schema (column families, key and value
//! encodings) is documented in `docs/schema.md`; typed codecs live in [`codec`].

pub mod codec;
pub mod mem;
pub mod rocks;

/// Version of the on-disk schema; checked on open, a mismatch refuses to start.
///
/// Version 2: item leaves commit to codes instead of carrying them (`traceseal/item/v2`),
/// codes are kept in [`Cf::Codes`], custody and reprint records name items by reference.
pub const SCHEMA_VERSION: u32 = 2;

/// What to do with a data directory of an older schema version (there is no migration).
pub fn schema_hint(found: u32) -> &'static str {
    match found {
        1 => {
            " Schema 1 wrote every signed code into the public log (anyone could print clones of \
              every label); it cannot be migrated. Move the directory aside (keep it offline: it \
              holds valid codes) and run `traceseal init` to start a new log (docs/operations.md)."
        }
        _ => "",
    }
}

/// Column families, one per record kind. See `docs/schema.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cf {
    /// Singletons: schema version, counters, log size, log origin.
    Meta,
    /// Enterprise id → enterprise record.
    Enterprises,
    /// USCC → enterprise id (uniqueness index).
    EnterpriseUscc,
    /// GTIN-14 → product record.
    Products,
    /// Batch id → batch record.
    Batches,
    /// Idempotency key → batch id and request fingerprint.
    Idempotency,
    /// GTIN-14 ‖ serial → item record (batch id, leaf index).
    Items,
    /// Leaf index of an item leaf → the signed code URI (secret: operator endpoints only).
    Codes,
    /// Item reference (32 bytes) → GTIN-14 ‖ serial: resolves the items custody and reprint
    /// records name.
    ItemRefs,
    /// Leaf index → leaf data.
    Leaves,
    /// (level, index) → node hash of a perfect subtree.
    Nodes,
    /// Tree size → signed checkpoint note.
    Checkpoints,
    /// Key id → public key record.
    Keys,
    /// GTIN-14 ‖ serial → scan aggregate.
    ScanStats,
    /// Chain id ‖ contract ‖ tree size → anchoring record of that checkpoint.
    Anchors,
    /// Actor id → actor record (organisation, role, keys with validity and revocation).
    Actors,
    /// Lot key (GTIN-14 ‖ lot length ‖ lot) → custody state of the lot.
    Lots,
    /// Lot key ‖ scope (0 lot-wide, 1 item-scoped) ‖ leaf index → empty: the lot's records.
    LotRecords,
    /// Item key ‖ leaf index → empty: item-scoped records naming the item.
    ItemRecords,
    /// Item key → custody state of the item (released, sold).
    ItemCustody,
    /// Actor id ‖ 0x00 ‖ nonce (32 lowercase hex characters) → signed_at (u64 BE): the replay
    /// guard.
    Nonces,
    /// Lot key ‖ batch id → empty: the issuance batches of a lot.
    LotBatches,
    /// Print job id → print job record.
    PrintJobs,
    /// Batch id ‖ ordinal in the batch → how often that label was printed, and by which job
    /// first.
    Prints,
    /// Scan id (16 random bytes) → what was scanned, when, from where, and the verdict.
    Scans,
    /// Complaint number (u64 BE) → complaint with its history.
    Complaints,
    /// `p` ‖ enterprise id → credit profile; `c` ‖ enterprise id → complaint counts.
    Credit,
    /// Enterprise id ‖ actor id → the engagement's periods and record leaves.
    Engagements,
    /// GTIN-14 ‖ leaf index → enterprise id: the product's logged ownership records.
    ProductLog,
    /// Day (u32 BE, days since the epoch) ‖ GTIN-14 ‖ reason → forged-code scans counted.
    ForgedScans,
}

impl Cf {
    /// Every column family, in a fixed order.
    pub const ALL: [Cf; 30] = [
        Cf::Meta,
        Cf::Enterprises,
        Cf::EnterpriseUscc,
        Cf::Products,
        Cf::Batches,
        Cf::Idempotency,
        Cf::Items,
        Cf::Codes,
        Cf::ItemRefs,
        Cf::Leaves,
        Cf::Nodes,
        Cf::Checkpoints,
        Cf::Keys,
        Cf::ScanStats,
        Cf::Anchors,
        Cf::Actors,
        Cf::Lots,
        Cf::LotRecords,
        Cf::ItemRecords,
        Cf::ItemCustody,
        Cf::Nonces,
        Cf::LotBatches,
        Cf::PrintJobs,
        Cf::Prints,
        Cf::Scans,
        Cf::Complaints,
        Cf::Credit,
        Cf::Engagements,
        Cf::ProductLog,
        Cf::ForgedScans,
    ];

    /// The column family's on-disk name.
    pub fn name(self) -> &'static str {
        match self {
            Cf::Meta => "meta",
            Cf::Enterprises => "enterprises",
            Cf::EnterpriseUscc => "enterprise_uscc",
            Cf::Products => "products",
            Cf::Batches => "batches",
            Cf::Idempotency => "idempotency",
            Cf::Items => "items",
            Cf::Codes => "codes",
            Cf::ItemRefs => "item_refs",
            Cf::Leaves => "leaves",
            Cf::Nodes => "nodes",
            Cf::Checkpoints => "checkpoints",
            Cf::Keys => "keys",
            Cf::ScanStats => "scan_stats",
            Cf::Anchors => "anchors",
            Cf::Actors => "actors",
            Cf::Lots => "lots",
            Cf::LotRecords => "lot_records",
            Cf::ItemRecords => "item_records",
            Cf::ItemCustody => "item_custody",
            Cf::Nonces => "nonces",
            Cf::LotBatches => "lot_batches",
            Cf::PrintJobs => "print_jobs",
            Cf::Prints => "prints",
            Cf::Scans => "scans",
            Cf::Complaints => "complaints",
            Cf::Credit => "credit",
            Cf::Engagements => "engagements",
            Cf::ProductLog => "product_log",
            Cf::ForgedScans => "forged_scans",
        }
    }
}

/// One write operation inside a [`WriteBatch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// Set `key` to `value`.
    Put(Cf, Vec<u8>, Vec<u8>),
    /// Remove `key`.
    Delete(Cf, Vec<u8>),
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
