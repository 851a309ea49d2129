//! The RocksDB backend. All tuning lives in [`RocksStore::options`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, Direction, IteratorMode, Options,
    ReadOptions, WriteOptions, DB,
};

use super::schema::{legacy_node_key, LEGACY_NODES, MIGRATED_SCHEMA_VERSION, SCHEMA_VERSION_KEY};
use super::{Cf, Durability, Op, Pair, Store, StoreError, WriteBatch, SCHEMA_VERSION};

/// Size of the block cache shared by all column families.
pub const BLOCK_CACHE_BYTES: usize = 256 << 20;

/// RocksDB with one column family per [`Cf`].
pub struct RocksStore {
    db: DB,
    path: PathBuf,
}

/// The merge operator of [`Op::Add`]: the existing value plus every operand.
fn add_u64(
    _key: &[u8],
    existing: Option<&[u8]>,
    operands: &rocksdb::MergeOperands,
) -> Option<Vec<u8>> {
    Some(super::add_counter(existing, operands.iter()).to_vec())
}

fn unavailable(e: rocksdb::Error) -> StoreError {
    StoreError::Unavailable(e.into_string())
}

/// WAL files kept for reuse once their memtables are flushed (one is about 20–25 MB under a
/// custody load, so about 200 MB of disk).
pub const RECYCLED_WAL_FILES: usize = 8;
/// Live WAL past which RocksDB flushes the column families that hold the oldest WAL file.
pub const MAX_TOTAL_WAL: u64 = 128 << 20;
/// Compression of each level's tables: none for level 0 (memtable flushes) and for the base
/// level (the one level 0 is compacted into), LZ4 below it. RocksDB sizes the levels
/// dynamically and maps this list from the base level on: entry 1 is the base level, entry 2
/// the one below, and so on. While a column family is smaller than the base level's target
/// (256 MB) the base level is the last one (level 6, "base level 6" in RocksDB's LOG), so its
/// data stays uncompressed; once it outgrows that, the base level moves up and what is
/// compacted down into the last level, the bulk of a large store, is compressed.
///
/// Level 0 and the base level must match: a level-0 file whose keys overlap nothing below
/// (the leaves: sequential keys) is then *moved* into the base level, not rewritten. With
/// LZ4 in entry 1 (session 14's last build) every leaf was read, compressed and rewritten
/// once more, about 0.7 µs of CPU a record under a custody load (`docs/performance.md`,
/// Custody intake).
const COMPRESSION_PER_LEVEL: [rocksdb::DBCompressionType; 7] = {
    use rocksdb::DBCompressionType::{Lz4, None};
    [None, None, Lz4, Lz4, Lz4, Lz4, Lz4]
};
/// Rows moved in one atomic write when a version-2 directory's Merkle nodes are migrated
/// (about 5 MB).
pub const MIGRATION_CHUNK: usize = 100_000;
/// Level-0 files (memtable flushes) that start a compaction into the level below (RocksDB's
/// default is 4). The custody column families' keys (nonces, lot records, lot states, nodes
/// of every level) fall all over their key space, so while a column family is smaller than
/// one level's target (256 MB) each such compaction rewrites all of it: under a custody load
/// one every 3 s, its CPU growing with the store. Every 8 flushes halves that; a point lookup
/// checks up to 8 level-0 files' bloom filters instead of 4 (`docs/performance.md`, Custody
/// intake).
pub const L0_COMPACTION_TRIGGER: i32 = 8;
/// A memtable's bloom filter, as a share of its size (8 MB: 160 KB of bits). Under a custody
/// load a nonce memtable holds about 23,000 keys when it is flushed (every column family is
/// flushed when the lot states' memtable fills), so about 56 bits a key.
const MEMTABLE_BLOOM_RATIO: f64 = 0.02;

/// RocksDB's default environment with its background threads (memtable flushes and
/// compactions) at the lowest CPU priority (nice 19) and in the idle I/O class: requests come
/// first, and the background work takes the time they leave. A flush writes tens of MB at once;
/// at the same I/O priority the group commits' fsyncs queued behind it (p99 0.79 ms, up to
/// 5 ms), in the idle class they pass it (p99 0.35 ms; `docs/performance.md`, Custody intake).
/// The work is not skipped, only ordered: if requests kept the CPU or the disk busy for
/// longer than a memtable takes to fill, RocksDB would slow the writes until the flush
/// caught up (the usual write stall). The environment is process-wide (every store opened
/// here shares its thread pools), so every store gets the same. `None` only if RocksDB could
/// not create it (the store then keeps RocksDB's own default).
fn background_env() -> Option<rocksdb::Env> {
    static ENV: OnceLock<Option<rocksdb::Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = rocksdb::Env::new().ok()?;
        env.lower_thread_pool_cpu_priority();
        env.lower_high_priority_thread_pool_cpu_priority();
        env.lower_thread_pool_io_priority();
        env.lower_high_priority_thread_pool_io_priority();
        Some(env)
    })
    .clone()
}

impl RocksStore {
    /// Creates a new store at `path`; fails if one exists there already.
    pub fn create(path: &Path) -> Result<Self, StoreError> {
        if path.join("CURRENT").exists() {
            return Err(StoreError::Setup(format!(
                "a store already exists at {}",
                path.display()
            )));
        }
        let mut opts = Self::options();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let store = Self::open_with(path, &opts)?;
        let mut b = WriteBatch::new();
        b.put(Cf::Meta, SCHEMA_VERSION_KEY, SCHEMA_VERSION.to_be_bytes());
        store.write(b, Durability::Synced)?;
        Ok(store)
    }

    /// Opens an existing store, checking its schema version.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if !path.join("CURRENT").exists() {
            return Err(StoreError::Setup(format!(
                "no store at {} (run `traceseal init` first)",
                path.display()
            )));
        }
        // The version is read read-only first, so a directory of another version is refused
        // untouched (a read-write open would add this version's column families to it).
        let found = Self::schema_version(path)?;
        if found != SCHEMA_VERSION && found != MIGRATED_SCHEMA_VERSION {
            return Err(StoreError::SchemaVersion {
                found,
                expected: SCHEMA_VERSION,
            });
        }
        let mut store = Self::open_with(path, &Self::options())?;
        store.migrate(found)?;
        Ok(store)
    }

    /// Brings a directory of schema version 2 to this version: its Merkle nodes are moved to
    /// [`Cf::Nodes`] under their new keys ([`legacy_node_key`]), then the version is written
    /// and version 2's column family dropped. Each step survives a crash: the nodes move in
    /// atomic chunks (a node is in one column family or the other, never both or neither,
    /// and nothing reads them before the move ends), and a restart goes on from where it
    /// stopped. Nothing to do for a directory of this version (but a version-2 column family
    /// left by a crash just before its drop is dropped).
    fn migrate(&mut self, found: u32) -> Result<(), StoreError> {
        if self.db.cf_handle(LEGACY_NODES).is_some() {
            let moved = self.move_legacy_nodes()?;
            tracing::info!(moved, "Merkle nodes moved to the schema-3 layout");
        }
        if found != SCHEMA_VERSION {
            let mut b = WriteBatch::new();
            b.put(Cf::Meta, SCHEMA_VERSION_KEY, SCHEMA_VERSION.to_be_bytes());
            self.write(b, Durability::Synced)?;
            tracing::info!(from = found, to = SCHEMA_VERSION, "data directory migrated");
        }
        if self.db.cf_handle(LEGACY_NODES).is_some() {
            self.db.drop_cf(LEGACY_NODES).map_err(unavailable)?;
        }
        Ok(())
    }

    /// Moves every row of version 2's node column family into [`Cf::Nodes`], in synced
    /// chunks of [`MIGRATION_CHUNK`] rows; returns how many it moved.
    fn move_legacy_nodes(&self) -> Result<u64, StoreError> {
        let old = self
            .db
            .cf_handle(LEGACY_NODES)
            .ok_or_else(|| StoreError::Corrupt("version-2 nodes column family missing".into()))?;
        let new = self.cf(Cf::Nodes)?;
        let mut moved = 0u64;
        let mut from: Option<Box<[u8]>> = None;
        loop {
            let mode = match &from {
                Some(k) => IteratorMode::From(k, Direction::Forward),
                None => IteratorMode::Start,
            };
            let mut wb = rocksdb::WriteBatch::default();
            for item in self.db.iterator_cf(old, mode).take(MIGRATION_CHUNK) {
                let (k, v) = item.map_err(unavailable)?;
                wb.put_cf(new, legacy_node_key(&k)?, &v);
                wb.delete_cf(old, &k);
                from = Some(k);
            }
            let n = wb.len() as u64 / 2;
            if n == 0 {
                return Ok(moved);
            }
            let mut wo = WriteOptions::default();
            wo.set_sync(true);
            self.db.write_opt(wb, &wo).map_err(unavailable)?;
            moved += n;
            tracing::info!(moved, "moving Merkle nodes to the schema-3 layout");
        }
    }

    /// The schema version of the store at `path`, read without changing anything.
    fn schema_version(path: &Path) -> Result<u32, StoreError> {
        let opts = Options::default();
        let cfs = DB::list_cf(&opts, path).map_err(unavailable)?;
        let db = DB::open_cf_for_read_only(&opts, path, &cfs, false).map_err(unavailable)?;
        let meta = db
            .cf_handle(Cf::Meta.name())
            .ok_or_else(|| StoreError::Corrupt("no meta column family".into()))?;
        let v = db
            .get_cf(meta, SCHEMA_VERSION_KEY)
            .map_err(unavailable)?
            .ok_or_else(|| StoreError::Corrupt("schema version row missing".into()))?;
        let bytes: [u8; 4] = v
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::Corrupt("schema version is not 4 bytes".into()))?;
        Ok(u32::from_be_bytes(bytes))
    }

    fn open_with(path: &Path, opts: &Options) -> Result<Self, StoreError> {
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let mut cfs: Vec<ColumnFamilyDescriptor> = Cf::ALL
            .iter()
            .map(|cf| ColumnFamilyDescriptor::new(cf.name(), Self::cf_options(*cf, &cache)))
            .collect();
        // Column families of other schema versions are opened too (RocksDB refuses to open a
        // database without all of them), so the version check can say what to do.
        let existing = DB::list_cf(opts, path).unwrap_or_default();
        for name in existing {
            if name != "default" && !Cf::ALL.iter().any(|cf| cf.name() == name) {
                cfs.push(ColumnFamilyDescriptor::new(name, Options::default()));
            }
        }
        let db = DB::open_cf_descriptors(opts, path, cfs).map_err(unavailable)?;
        Ok(RocksStore {
            db,
            path: path.to_path_buf(),
        })
    }

    /// Database-wide options: the one place that holds the tuning.
    pub fn options() -> Options {
        let mut o = Options::default();
        // Column families added by later versions (additive schema changes) are created
        // when an older data directory is opened.
        o.create_missing_column_families(true);
        o.increase_parallelism(2);
        o.set_max_background_jobs(2);
        o.set_bytes_per_sync(1 << 20);
        // Large issuance batches: bigger memtables mean fewer flushes mid-batch.
        o.set_write_buffer_size(64 << 20);
        // WAL files whose memtables were flushed are kept and written over, not deleted: their
        // blocks are allocated and the file size stays, so a group commit's fdatasync writes
        // the data alone, without the inode (about 40 % less latency and CPU per fsync here;
        // `docs/performance.md`, Custody intake). Point-in-time recovery, the default, tells
        // the new records from the old ones by the log number in each record's header
        // (`tests/crash_wal_recycling.rs`). A WAL file is free only once every column family
        // with data in it has flushed; the rarely written ones would hold the oldest file for
        // good, so past `MAX_TOTAL_WAL` of live WAL RocksDB flushes the ones that hold it
        // (which also bounds the replay at restart).
        o.set_max_total_wal_size(MAX_TOTAL_WAL);
        o.set_recycle_log_file_num(RECYCLED_WAL_FILES);
        // Column families flush together. A WAL file ends at every memtable switch of any
        // column family; flushed one at a time, the small ones (8 MB) cut WAL files of every
        // size (2–23 MB measured), so a recycled file was often too short for the log written
        // into it and its fsyncs grew the file (writing the inode as well). Flushed together,
        // every WAL file covers one flush round, the files are the same size, each is free as
        // soon as the round is flushed, and a group commit's fdatasync nearly always writes
        // over a recycled file: 21,600 → 26,600 accepted records/s at 32 submitters, the cores
        // 82 → 91 % busy, 8 µs less CPU per record (`docs/performance.md`, Custody intake).
        // It also keeps the column families' flushed state consistent with each other.
        o.set_atomic_flush(true);
        if let Some(env) = background_env() {
            o.set_env(&env);
        }
        o
    }

    fn cf_options(cf: Cf, cache: &Cache) -> Options {
        let mut o = Options::default();
        let mut t = BlockBasedOptions::default();
        // Point lookups (items by GTIN‖serial, nodes by id) skip most files thanks to blooms.
        // Index and filter blocks stay pinned in the table readers (not in the block cache), so
        // a proof's O(log n) lookups never re-read them from disk.
        t.set_bloom_filter(10.0, false);
        t.set_block_cache(cache);
        o.set_block_based_table_factory(&t);
        o.set_write_buffer_size(match cf {
            Cf::Items | Cf::Codes | Cf::ItemRefs | Cf::Leaves | Cf::Nodes => 64 << 20,
            _ => 8 << 20,
        });
        // Flushes write uncompressed tables (under a custody load the memtable flushes' LZ4
        // took 1.3 % of the CPU; `docs/performance.md`, Custody intake), and so does the base
        // level, so that level-0 files can be moved into it (see `COMPRESSION_PER_LEVEL`).
        o.set_compression_per_level(&COMPRESSION_PER_LEVEL);
        o.set_level_zero_file_num_compaction_trigger(L0_COMPACTION_TRIGGER);
        if cf == Cf::Nonces {
            // Nearly every nonce looked up is new: a bloom filter over each memtable's keys
            // answers "absent" without searching its skip list (the tables have theirs).
            o.set_memtable_prefix_bloom_ratio(MEMTABLE_BLOOM_RATIO);
            o.set_memtable_whole_key_filtering(true);
        }
        // Counters (`Op::Add`) are merge operands, summed on read and in compactions.
        o.set_merge_operator_associative("traceseal_add_u64", add_u64);
        o
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn cf(&self, cf: Cf) -> Result<&rocksdb::ColumnFamily, StoreError> {
        self.db
            .cf_handle(cf.name())
            .ok_or_else(|| StoreError::Corrupt(format!("column family {} missing", cf.name())))
    }
}

impl Store for RocksStore {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let h = self.cf(cf)?;
        self.db.get_cf(h, key).map_err(unavailable)
    }

    fn multi_get(&self, cf: Cf, keys: &[Vec<u8>]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let h = self.cf(cf)?;
        self.db
            .multi_get_cf(keys.iter().map(|k| (h, k.as_slice())))
            .into_iter()
            .map(|r| r.map_err(unavailable))
            .collect()
    }

    fn write(&self, batch: WriteBatch, durability: Durability) -> Result<(), StoreError> {
        let mut wb = rocksdb::WriteBatch::default();
        for op in batch.ops() {
            match op {
                Op::Put(cf, k, v) => wb.put_cf(self.cf(*cf)?, k, v),
                Op::Delete(cf, k) => wb.delete_cf(self.cf(*cf)?, k),
                Op::Add(cf, k, n) => wb.merge_cf(self.cf(*cf)?, k, n.to_be_bytes()),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(durability == Durability::Synced);
        self.db.write_opt(wb, &wo).map_err(unavailable)
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.db.flush_wal(true).map_err(unavailable)
    }

    fn wait_for_background_work(&self, timeout: std::time::Duration) -> Result<(), StoreError> {
        let mut o = rocksdb::WaitForCompactOptions::default();
        o.set_timeout(u64::try_from(timeout.as_micros()).unwrap_or(u64::MAX));
        self.db.wait_for_compact(&o).map_err(unavailable)
    }

    fn range(
        &self,
        cf: Cf,
        start: &[u8],
        end: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<Pair>, StoreError> {
        let h = self.cf(cf)?;
        let mut ro = ReadOptions::default();
        if let Some(e) = end {
            ro.set_iterate_upper_bound(e.to_vec());
        }
        let it = self
            .db
            .iterator_cf_opt(h, ro, IteratorMode::From(start, Direction::Forward));
        let mut out = Vec::new();
        for item in it.take(limit) {
            let (k, v) = item.map_err(unavailable)?;
            out.push((k.into_vec(), v.into_vec()));
        }
        Ok(out)
    }

    fn last(&self, cf: Cf) -> Result<Option<Pair>, StoreError> {
        let h = self.cf(cf)?;
        match self.db.iterator_cf(h, IteratorMode::End).next() {
            Some(item) => {
                let (k, v) = item.map_err(unavailable)?;
                Ok(Some((k.into_vec(), v.into_vec())))
            }
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{Hash, NodeId};

    /// A memtable flush runs on RocksDB's flush thread, which has lowered its priority to
    /// nice 19 by then (`background_env`).
    #[test]
    fn flushes_run_at_the_lowest_cpu_priority() {
        let dir = tempfile::tempdir().unwrap();
        let s = RocksStore::create(&dir.path().join("db")).unwrap();
        let mut b = WriteBatch::new();
        b.put(Cf::Meta, b"k".to_vec(), b"v".to_vec());
        s.write(b, Durability::Buffered).unwrap();
        s.db.flush_cf(s.cf(Cf::Meta).unwrap()).unwrap();
        let nices = crate::test_support::nice_of_threads("rocksdb:high");
        assert!(!nices.is_empty(), "no flush thread found");
        assert!(nices.iter().all(|&n| n == 19), "{nices:?}");
    }

    /// The wait returns once a flush started without waiting has written its table.
    #[test]
    fn waiting_for_background_work_sees_a_scheduled_flush_done() {
        let dir = tempfile::tempdir().unwrap();
        let s = RocksStore::create(&dir.path().join("db")).unwrap();
        let mut b = WriteBatch::new();
        for i in 0u32..10_000 {
            b.put(Cf::Meta, i.to_be_bytes().to_vec(), vec![7; 100]);
        }
        s.write(b, Durability::Buffered).unwrap();
        let mut fo = rocksdb::FlushOptions::default();
        fo.set_wait(false);
        s.db.flush_cf_opt(s.cf(Cf::Meta).unwrap(), &fo).unwrap();
        s.wait_for_background_work(std::time::Duration::from_secs(60))
            .unwrap();
        let cf = s.cf(Cf::Meta).unwrap();
        let prop = |name: &str| s.db.property_int_value_cf(cf, name).unwrap();
        assert_eq!(prop("rocksdb.num-entries-active-mem-table"), Some(0));
        assert_eq!(prop("rocksdb.num-immutable-mem-table"), Some(0));
        assert!(
            prop("rocksdb.num-files-at-level0").unwrap()
                + prop("rocksdb.num-files-at-level6").unwrap()
                >= 1
        );
    }

    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let s = RocksStore::create(&dir.path().join("db")).unwrap();
        super::super::conformance::run(&s);
    }

    #[test]
    fn create_refuses_existing_and_open_refuses_missing() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        assert!(matches!(RocksStore::open(&p), Err(StoreError::Setup(_))));
        drop(RocksStore::create(&p).unwrap());
        assert!(matches!(RocksStore::create(&p), Err(StoreError::Setup(_))));
        let s = RocksStore::open(&p).unwrap();
        assert_eq!(s.path(), p.as_path());
    }

    #[test]
    fn data_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        {
            let s = RocksStore::create(&p).unwrap();
            let mut b = WriteBatch::new();
            b.put(Cf::Items, b"k".to_vec(), b"v".to_vec());
            s.write(b, Durability::Synced).unwrap();
        }
        let s = RocksStore::open(&p).unwrap();
        assert_eq!(s.get(Cf::Items, b"k").unwrap(), Some(b"v".to_vec()));
    }

    #[test]
    fn schema_version_mismatch_refuses_to_open() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        {
            let s = RocksStore::create(&p).unwrap();
            let mut b = WriteBatch::new();
            b.put(Cf::Meta, SCHEMA_VERSION_KEY, 99u32.to_be_bytes());
            s.write(b, Durability::Synced).unwrap();
        }
        match RocksStore::open(&p) {
            Err(StoreError::SchemaVersion {
                found: 99,
                expected,
            }) => {
                assert_eq!(expected, SCHEMA_VERSION)
            }
            other => panic!("expected a schema version error, got {:?}", other.err()),
        }
    }

    /// A directory of schema 2 as its version left it: the nodes of a tree of `n` leaves in
    /// `nodes` under version 2's keys (level ‖ index), the version row at 2. Returns the
    /// nodes by id.
    fn schema_2_directory(p: &Path, n: u32) -> std::collections::BTreeMap<NodeId, Hash> {
        let mut s = RocksStore::create(p).unwrap();
        s.db.create_cf(LEGACY_NODES, &Options::default()).unwrap();
        let old = s.db.cf_handle(LEGACY_NODES).unwrap();
        let mut nodes = std::collections::BTreeMap::new();
        let mut frontier = crate::merkle::Frontier::new();
        let mut wb = rocksdb::WriteBatch::default();
        for i in 0..n {
            frontier.append(crate::merkle::leaf_hash(&i.to_be_bytes()), |id, h| {
                let mut k = vec![id.level];
                k.extend_from_slice(&id.index.to_be_bytes());
                wb.put_cf(old, k, h.as_bytes());
                nodes.insert(id, h);
            });
        }
        s.db.write(wb).unwrap();
        let mut b = WriteBatch::new();
        b.put(Cf::Meta, SCHEMA_VERSION_KEY, 2u32.to_be_bytes());
        s.write(b, Durability::Synced).unwrap();
        nodes
    }

    /// Every proof the migrated store gives equals the one over the original nodes.
    fn assert_same_tree(s: &RocksStore, nodes: &std::collections::BTreeMap<NodeId, Hash>, n: u64) {
        use crate::merkle::{consistency_proof, inclusion_proof, root};
        let stored = crate::service::log::StoreHashes(s);
        let rows = s.range(Cf::Nodes, &[], None, usize::MAX).unwrap();
        assert_eq!(rows.len(), nodes.len());
        for size in [1, 2, 3, 1000, n - 1, n] {
            assert_eq!(root(size, &stored).unwrap(), root(size, nodes).unwrap());
            for index in [0, size / 2, size - 1] {
                assert_eq!(
                    inclusion_proof(index, size, &stored).unwrap(),
                    inclusion_proof(index, size, nodes).unwrap()
                );
            }
            assert_eq!(
                consistency_proof(size, n, &stored).unwrap(),
                consistency_proof(size, n, nodes).unwrap()
            );
        }
    }

    /// Opens the directory at `p` and checks it is migrated: the same tree, version 3, no
    /// `nodes` column family left.
    fn open_migrated(p: &Path, nodes: &std::collections::BTreeMap<NodeId, Hash>, n: u32) {
        let s = RocksStore::open(p).unwrap();
        assert_same_tree(&s, nodes, u64::from(n));
        drop(s);
        assert_eq!(RocksStore::schema_version(p).unwrap(), SCHEMA_VERSION);
        let cfs = DB::list_cf(&Options::default(), p).unwrap();
        assert!(!cfs.iter().any(|c| c == LEGACY_NODES), "{cfs:?}");
    }

    /// A schema-2 directory is migrated when it is opened: its nodes under the new keys in
    /// `tree_nodes`, the same tree (roots and proofs), version 3, and no `nodes` column
    /// family left; opened again, there is nothing left to do.
    #[test]
    fn a_schema_2_directory_is_migrated_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        let nodes = schema_2_directory(&p, 3_001);
        open_migrated(&p, &nodes, 3_001);
        open_migrated(&p, &nodes, 3_001);
    }

    /// A migration stopped by a crash, after some chunks were moved or after the version
    /// was written but before the old column family was dropped, is finished at the next
    /// open.
    #[test]
    fn an_interrupted_migration_is_finished_at_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        let n = 2_500;
        let nodes = schema_2_directory(&p, n);
        {
            // What a crash after the first chunk leaves: its rows moved, the rest not.
            let s = RocksStore::open_with(&p, &RocksStore::options()).unwrap();
            let old = s.db.cf_handle(LEGACY_NODES).unwrap();
            let new = s.cf(Cf::Nodes).unwrap();
            let mut wb = rocksdb::WriteBatch::default();
            for item in s.db.iterator_cf(old, IteratorMode::Start).take(1_000) {
                let (k, v) = item.unwrap();
                wb.put_cf(new, legacy_node_key(&k).unwrap(), &v);
                wb.delete_cf(old, &k);
            }
            s.db.write(wb).unwrap();
            s.db.flush_cf(old).unwrap();
        }
        open_migrated(&p, &nodes, n);
        {
            // What a crash between the version's write and the drop leaves.
            let mut s = RocksStore::open_with(&p, &RocksStore::options()).unwrap();
            s.db.create_cf(LEGACY_NODES, &Options::default()).unwrap();
        }
        open_migrated(&p, &nodes, n);
    }

    /// A version-2 node key that is not one (a corrupt row) stops the migration with
    /// `Corrupt`, the directory still at version 2 and its nodes where they were.
    #[test]
    fn a_corrupt_version_2_node_stops_the_migration() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        schema_2_directory(&p, 10);
        {
            let s = RocksStore::open_with(&p, &RocksStore::options()).unwrap();
            let old = s.db.cf_handle(LEGACY_NODES).unwrap();
            s.db.put_cf(old, [200u8; 9], [0u8; 32]).unwrap();
        }
        let err = RocksStore::open(&p).err().expect("refused");
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
        assert_eq!(RocksStore::schema_version(&p).unwrap(), 2);
    }

    /// A data directory of schema 1 (item leaves with the code in clear, and a column family
    /// this version no longer has) is refused at open, saying what to do.
    #[test]
    fn a_schema_1_directory_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("db");
        {
            let mut s = RocksStore::create(&p).unwrap();
            let mut opts = Options::default();
            opts.create_if_missing(false);
            s.db.create_cf("scan_events", &opts).unwrap();
            let mut b = WriteBatch::new();
            b.put(Cf::Meta, SCHEMA_VERSION_KEY, 1u32.to_be_bytes());
            s.write(b, Durability::Synced).unwrap();
        }
        let before = DB::list_cf(&Options::default(), &p).unwrap();
        let err = RocksStore::open(&p).err().expect("refused");
        let msg = err.to_string();
        assert!(
            matches!(err, StoreError::SchemaVersion { found: 1, .. }),
            "{msg}"
        );
        assert!(
            msg.contains("cannot be migrated") && msg.contains("traceseal init"),
            "{msg}"
        );
        assert_eq!(
            DB::list_cf(&Options::default(), &p).unwrap(),
            before,
            "refused untouched"
        );
    }
}
