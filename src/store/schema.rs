//! The one place that knows the bytes: every column family, every key layout and every value
//! codec of the store, and the schema's version (see `docs/schema.md`).
//!
//! Integer keys are big-endian so iteration order is numeric order. Hot records (items,
//! nodes, leaves) use fixed binary layouts; low-volume records use JSON through
//! [`encode_json`]/[`decode_json`]. Every decoder returns [`StoreError::Corrupt`] on bad bytes
//! and never panics. Units of the service build keys only with the functions here.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::StoreError;
use crate::merkle::NodeId;

/// Version of the on-disk schema; checked on open, a mismatch refuses to start.
///
/// Version 2: item leaves commit to codes instead of carrying them (`traceseal/item/v2`),
/// codes are kept in [`Cf::Codes`], custody and reprint records name items by reference.
///
/// Version 3: Merkle nodes keyed in the order they are made ([`node_key`]), in
/// [`Cf::Nodes`] (`tree_nodes`) instead of version 2's `nodes` ([`LEGACY_NODES`]). A
/// version-2 directory is migrated when it is opened (`RocksStore::open`).
pub const SCHEMA_VERSION: u32 = 3;

/// The schema version that [`SCHEMA_VERSION`] migrates from when a directory is opened.
pub const MIGRATED_SCHEMA_VERSION: u32 = 2;

/// Version 2's column family of Merkle nodes, keyed level ‖ index ([`legacy_node_key`]).
pub const LEGACY_NODES: &str = "nodes";

/// What to do with a data directory of an older schema version that cannot be migrated.
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
    /// Batch id ‖ print job id → nothing: a batch's print jobs, oldest first (print history).
    BatchPrintJobs,
    /// Kind ‖ dimension ‖ day ‖ subject → count: clone warnings and forged-code scans per day
    /// by enterprise, product and client network (the regulator's risk dashboard).
    ScanTallies,
    /// Kind ‖ day ‖ enterprise → count: holds placed, non-conformant attestations and recalls
    /// per day and enterprise (the regulator's risk dashboard).
    CustodyDays,
    /// Last leaf covered ‖ level → node hash of a perfect subtree ([`node_key`]).
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
    /// API token id → the token's record (role, name, SHA-256 of its secret, expiry, last use,
    /// revocation).
    ApiTokens,
    /// User name → the user's record (role, enterprise, argon2id password hash, failed
    /// sign-ins and lockout, disabling).
    Users,
    /// SHA-256 of a session id → the session (user, start, last activity, CSRF token).
    Sessions,
    /// Sequence number (u64 BE) → an audited write (who, what, when, request id, outcome).
    Audit,
    /// Scans counted per UTC day and verdict, of all products (`a` ‖ day ‖ verdict) and of
    /// each enterprise's (`e` ‖ enterprise id ‖ day ‖ verdict) → u64 BE ([`scan_day_key`]).
    ScanDays,
    /// SHA-256 of a published certificate (32 bytes) → the file's bytes (PDF, PNG or JPEG).
    Certificates,
    /// Actor id ‖ `0x00` ‖ enterprise id (u64 BE) → empty: the enterprises that ever engaged
    /// the actor ([`actor_engagement_key`]).
    ActorEngagements,
    /// SHA-256 (32 bytes) ‖ leaf index of the attestation naming it (u64 BE) → JSON
    /// publication (who, when, name, type, size).
    CertificateRecords,
    /// SHA-256 of an Ed25519 public key (32 bytes) → JSON registration request waiting for
    /// the operator (`service::registry::requests`; at most 200).
    ActorRequests,
    /// Credit-risk grades (`service::grading`): `g` ‖ enterprise id → JSON current grade
    /// (the model's assessment, any override); `h` ‖ enterprise id ‖ seq (u64 BE) → JSON
    /// change with its leaf index ([`grade_key`], [`grade_change_key`]); `w` ‖ enterprise
    /// id ‖ seq → JSON warning-list change with its leaf index ([`warning_change_key`]);
    /// `l` ‖ enterprise id → empty, while on the warning list ([`warned_key`]).
    Grades,
    /// Day (u32 BE) ‖ enterprise id (u64 BE) → u64 counter: labels of the enterprise's
    /// products printed again that day ([`print_day_key`]).
    PrintDays,
}

impl Cf {
    /// Every column family, in a fixed order.
    pub const ALL: [Cf; 44] = [
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
        Cf::ApiTokens,
        Cf::Users,
        Cf::Sessions,
        Cf::Audit,
        Cf::ScanDays,
        Cf::BatchPrintJobs,
        Cf::ScanTallies,
        Cf::CustodyDays,
        Cf::Certificates,
        Cf::CertificateRecords,
        Cf::ActorEngagements,
        Cf::ActorRequests,
        Cf::Grades,
        Cf::PrintDays,
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
            Cf::Nodes => "tree_nodes",
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
            Cf::ApiTokens => "api_tokens",
            Cf::Users => "users",
            Cf::Sessions => "sessions",
            Cf::Audit => "audit",
            Cf::ScanDays => "scan_days",
            Cf::BatchPrintJobs => "batch_print_jobs",
            Cf::ScanTallies => "scan_tallies",
            Cf::CustodyDays => "custody_days",
            Cf::Certificates => "certificates",
            Cf::CertificateRecords => "certificate_records",
            Cf::ActorEngagements => "actor_engagements",
            Cf::ActorRequests => "actor_requests",
            Cf::Grades => "grades",
            Cf::PrintDays => "print_days",
        }
    }
}

/// Keys of the singletons in [`Cf::Meta`].
/// Meta key set once the demo data is loaded (so it is never loaded twice).
pub const META_DEMO_LOADED: &[u8] = b"demo_loaded";
/// Meta key: next batch id (u64 BE).
pub const META_NEXT_BATCH: &[u8] = b"next_batch_id";
/// Meta key: next print job id (u64 BE).
pub const META_NEXT_PRINT_JOB: &[u8] = b"next_print_job_id";
/// Meta key: number of leaves in the log (u64 BE), written in the same batch as the leaves.
pub const META_LOG_SIZE: &[u8] = b"log_size";
/// Meta key: the log origin (checkpoint first line and note key name).
pub const META_LOG_ORIGIN: &[u8] = b"log_origin";
/// Meta key: tree size of the latest signed checkpoint (u64 BE).
pub const META_LATEST_CHECKPOINT: &[u8] = b"latest_checkpoint";
/// Meta key of the secret that scan ids are derived with.
pub const META_SCAN_ID_KEY: &[u8] = b"scan_id_key";
/// Meta key: next enterprise id (u64 BE).
pub const META_NEXT_ENTERPRISE: &[u8] = b"next_enterprise_id";
/// Meta key: next complaint number (u64 BE).
pub const META_NEXT_COMPLAINT: &[u8] = b"next_complaint";
/// Meta key: the deployment (chain id and contract) the service anchors to.
pub const META_DEPLOYMENT: &[u8] = b"chain_deployment";
/// Meta key: gas used by every anchor transaction with a receipt in a canonical block (a
/// counter, `WriteBatch::add`; a receipt lost to a reorg is taken off again).
pub const META_ANCHOR_GAS: &[u8] = b"anchor_gas_used";
/// Meta key: what those transactions paid, in gwei (gas used × effective gas price ÷ 10⁹; a
/// counter like [`META_ANCHOR_GAS`]).
pub const META_ANCHOR_GWEI: &[u8] = b"anchor_gwei_paid";
/// Meta key: set once every batch has its `lot_batches` row (data directories created before
/// that index existed get it on first open).
pub const META_LOT_BATCHES_INDEXED: &[u8] = b"lot_batches_indexed";
/// Meta key set once every engagement is in the `actor_engagements` index (data directories
/// from before the index get their rows on the first open).
pub const META_ACTOR_ENGAGEMENTS_INDEXED: &[u8] = b"actor_engagements_indexed";
/// Set once the upheld complaints are indexed by enterprise ([`upheld_key`]).
pub const META_UPHELD_INDEXED: &[u8] = b"upheld_complaints_indexed";
/// The schema version (u32 big-endian), written at `init`, checked at open.
pub const SCHEMA_VERSION_KEY: &[u8] = b"schema_version";

/// Big-endian encoding of a u64 key.
pub fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Decodes an 8-byte big-endian u64.
pub fn decode_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

/// Key of a Merkle node: the last leaf it covers (u64 BE) ‖ its level (1 byte).
///
/// The nodes an append completes all end at the appended leaf and are made from the lowest
/// level up, so the keys of each append sort after every key before them: the column
/// family is written in key order, like the leaves. A memtable insert then goes at the end
/// of the skip list, and a flushed table overlaps no older one, so RocksDB moves it down
/// instead of rewriting the level below (keyed level ‖ index, as in version 2, every
/// flushed table spanned every level's range, and each compaction rewrote all the nodes).
pub fn node_key(last_leaf: u64, level: u8) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[..8].copy_from_slice(&last_leaf.to_be_bytes());
    k[8] = level;
    k
}

/// Version 2's key of a Merkle node, level (1 byte) ‖ index (u64 BE), as this version's
/// [`node_key`]; `Corrupt` for bytes that are not a node key.
pub fn legacy_node_key(old: &[u8]) -> Result<[u8; 9], StoreError> {
    let bad = || StoreError::Corrupt(format!("not a version-2 node key: {old:02x?}"));
    let (&level, index) = old.split_first().ok_or_else(bad)?;
    let index = u64::from_be_bytes(index.try_into().map_err(|_| bad())?);
    let last = NodeId::new(level, index).last_leaf().ok_or_else(bad)?;
    Ok(node_key(last, level))
}

/// Key of an item: GTIN-14 (14 ASCII digits) ‖ serial length (1 byte) ‖ serial.
///
/// The length byte keeps keys prefix-free, so scan-event keys can extend item keys.
pub fn item_key(gtin14: &str, serial: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(15 + serial.len());
    k.extend_from_slice(gtin14.as_bytes());
    // Serials are at most 20 bytes (enforced by the Serial type), so this never truncates.
    k.push(serial.len() as u8);
    k.extend_from_slice(serial.as_bytes());
    k
}

/// Where an issued item sits: its batch and its leaf in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemRecord {
    /// The batch that issued the item.
    pub batch_id: u64,
    /// Index of the item's leaf in the Merkle log.
    pub leaf_index: u64,
}

impl ItemRecord {
    /// 16 bytes: batch id ‖ leaf index, both big-endian.
    pub fn encode(&self) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&self.batch_id.to_be_bytes());
        v[8..].copy_from_slice(&self.leaf_index.to_be_bytes());
        v
    }

    /// Inverse of [`ItemRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() != 16 {
            return Err(StoreError::Corrupt(format!(
                "item record is {} bytes, expected 16",
                bytes.len()
            )));
        }
        Ok(ItemRecord {
            batch_id: decode_u64(&bytes[..8])?,
            leaf_index: decode_u64(&bytes[8..])?,
        })
    }
}

/// Encodes a low-volume record as JSON.
pub fn encode_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs (no maps with non-string keys) cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Decodes a JSON record; a failure means the store is corrupt.
pub fn decode_json<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

/// Lot key: GTIN-14 ‖ lot length ‖ lot (the item-key layout, so it is prefix-free).
pub fn lot_key(gtin14: &str, lot: &str) -> Vec<u8> {
    item_key(gtin14, lot)
}

/// Key of a lot's issuance batch ([`Cf::LotBatches`]): lot key ‖ batch id.
pub fn lot_batch_key(gtin14: &str, lot: &str, batch: u64) -> Vec<u8> {
    let mut k = lot_key(gtin14, lot);
    k.extend_from_slice(&u64_key(batch));
    k
}

/// Key of an item-scoped record naming an item ([`Cf::ItemRecords`]): item key ‖ leaf index.
pub fn item_record_key(item_key: &[u8], leaf: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(item_key.len() + 8);
    k.extend_from_slice(item_key);
    k.extend_from_slice(&u64_key(leaf));
    k
}

/// The first key after `key` in byte order (to continue a range scan past it).
pub fn key_after(key: &[u8]) -> Vec<u8> {
    let mut k = key.to_vec();
    k.push(0);
    k
}

pub fn lot_record_key(lk: &[u8], scope: u8, leaf: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(lk.len() + 9);
    k.extend_from_slice(lk);
    k.push(scope);
    k.extend_from_slice(&u64_key(leaf));
    k
}

pub fn nonce_key(actor: &str, nonce: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(actor.len() + 1 + nonce.len());
    k.extend_from_slice(actor.as_bytes());
    k.push(0);
    k.extend_from_slice(nonce.as_bytes());
    k
}

pub fn print_key(batch: u64, ordinal: u64) -> Vec<u8> {
    let mut k = u64_key(batch).to_vec();
    k.extend_from_slice(&u64_key(ordinal));
    k
}

pub fn engagement_key(enterprise: u64, actor: &str) -> Vec<u8> {
    let mut k = u64_key(enterprise).to_vec();
    k.extend_from_slice(actor.as_bytes());
    k
}

/// The key of a certificate's publication under a record ([`Cf::CertificateRecords`]): the
/// file's SHA-256 ‖ the record's leaf index (u64 BE), so one file's records are one range.
pub fn certificate_record_key(sha256: &[u8; 32], leaf: u64) -> Vec<u8> {
    let mut k = sha256.to_vec();
    k.extend_from_slice(&u64_key(leaf));
    k
}

/// The key of an actor's engagement by an enterprise in [`Cf::ActorEngagements`]: actor id ‖
/// `0x00` ‖ enterprise id (u64 BE), so one actor's enterprises are one key range (an actor id
/// has no `0x00`).
pub fn actor_engagement_key(actor: &str, enterprise: u64) -> Vec<u8> {
    let mut k = actor.as_bytes().to_vec();
    k.push(0);
    k.extend_from_slice(&u64_key(enterprise));
    k
}

pub fn product_log_key(gtin: &str, leaf: u64) -> Vec<u8> {
    let mut k = gtin.as_bytes().to_vec();
    k.extend_from_slice(&u64_key(leaf));
    k
}

/// The key of a daily forged-scan aggregate: day (u32 BE) ‖ GTIN-14 ‖ reason.
pub fn forged_key(day: i64, gtin: &str, reason: &str) -> Vec<u8> {
    let mut k = forged_day_prefix(day).to_vec();
    k.extend_from_slice(gtin.as_bytes());
    k.extend_from_slice(reason.as_bytes());
    k
}

/// The first 4 bytes of the forged-scan keys of `day` (days since the epoch; u32 BE): range
/// bounds by day.
pub fn forged_day_prefix(day: i64) -> [u8; 4] {
    (day.clamp(0, i64::from(u32::MAX)) as u32).to_be_bytes()
}

/// (day, GTIN-14, reason) of a [`forged_key`]; `None` for a key not of that layout.
pub fn parse_forged_key(k: &[u8]) -> Option<(i64, String, String)> {
    let day = u32::from_be_bytes(k.get(..4)?.try_into().ok()?) as i64;
    let gtin = std::str::from_utf8(k.get(4..18)?).ok()?.to_string();
    let reason = std::str::from_utf8(k.get(18..)?).ok()?.to_string();
    Some((day, gtin, reason))
}

/// The first bytes of the [`scan_day_key`]s of one scope: `a` (every scan) or `e` ‖ enterprise
/// id (u64 BE) (scans of that enterprise's products).
pub fn scan_day_prefix(enterprise: Option<u64>) -> Vec<u8> {
    match enterprise {
        None => b"a".to_vec(),
        Some(e) => {
            let mut k = b"e".to_vec();
            k.extend_from_slice(&u64_key(e));
            k
        }
    }
}

/// The key of a daily scan count ([`Cf::ScanDays`]): [`scan_day_prefix`] ‖ day (u32 BE, days
/// since the epoch) ‖ verdict (1 byte: 0 genuine, 1 genuine with a warning, 2 not genuine, 3
/// cannot verify now). Fixed size per scope (6 or 14 bytes), so one scope's days are one range.
pub fn scan_day_key(enterprise: Option<u64>, day: i64, verdict: u8) -> Vec<u8> {
    let mut k = scan_day_prefix(enterprise);
    k.extend_from_slice(&forged_day_prefix(day));
    k.push(verdict);
    k
}

/// (enterprise, day, verdict) of a [`scan_day_key`]; `None` for a key not of that layout.
pub fn parse_scan_day_key(k: &[u8]) -> Option<(Option<u64>, i64, u8)> {
    let (enterprise, rest) = match (k.first()?, k.len()) {
        (b'a', 6) => (None, &k[1..]),
        (b'e', 14) => (Some(decode_u64(&k[1..9]).ok()?), &k[9..]),
        _ => return None,
    };
    let day = u32::from_be_bytes(rest[..4].try_into().ok()?) as i64;
    Some((enterprise, day, rest[4]))
}

/// The first bytes of the [`scan_tally_key`]s of one kind and dimension on `day`.
pub fn scan_tally_prefix(kind: u8, dim: u8, day: i64) -> Vec<u8> {
    let mut k = vec![kind, dim];
    k.extend_from_slice(&forged_day_prefix(day));
    k
}

/// The key of a scan tally ([`Cf::ScanTallies`]): kind (1 byte: `w` clone warning, `f` scan of
/// a code we did not issue) ‖ dimension (`e` enterprise, `p` product, `n` client network) ‖ day
/// (u32 BE, days since the epoch) ‖ subject (enterprise id u64 BE, GTIN-14, or the network as
/// text). One kind × dimension × range of days is one key range.
pub fn scan_tally_key(kind: u8, dim: u8, day: i64, subject: &[u8]) -> Vec<u8> {
    let mut k = scan_tally_prefix(kind, dim, day);
    k.extend_from_slice(subject);
    k
}

/// (day, subject) of a [`scan_tally_key`]; `None` for a key not of that layout.
pub fn parse_scan_tally_key(k: &[u8]) -> Option<(i64, &[u8])> {
    let day = u32::from_be_bytes(k.get(2..6)?.try_into().ok()?) as i64;
    Some((day, &k[6..]))
}

/// The key of a custody count ([`Cf::CustodyDays`]): kind (1 byte: `h` hold placed, `n`
/// non-conformant origin attestation, `r` recall) ‖ day (u32 BE) ‖ enterprise id (u64 BE).
pub fn custody_day_key(kind: u8, day: i64, enterprise: u64) -> Vec<u8> {
    let mut k = vec![kind];
    k.extend_from_slice(&forged_day_prefix(day));
    k.extend_from_slice(&u64_key(enterprise));
    k
}

/// Origin attestations of an enterprise's lots from one country ([`Cf::CustodyDays`]): `o` ‖
/// enterprise id (u64 BE) ‖ ISO 3166-1 alpha-2 (2 bytes) → u64 counter.
pub fn origin_key(enterprise: u64, country: &str) -> Vec<u8> {
    let mut k = vec![b'o'];
    k.extend_from_slice(&u64_key(enterprise));
    k.extend_from_slice(country.as_bytes());
    k
}

/// (enterprise, country) of an [`origin_key`]; `None` for a key not of that layout.
pub fn parse_origin_key(k: &[u8]) -> Option<(u64, String)> {
    if k.len() != 11 || k[0] != b'o' {
        return None;
    }
    let c = std::str::from_utf8(&k[9..]).ok()?;
    Some((decode_u64(&k[1..9]).ok()?, c.to_string()))
}

/// (day, enterprise) of a [`custody_day_key`]; `None` for a key not of that layout.
pub fn parse_custody_day_key(k: &[u8]) -> Option<(i64, u64)> {
    if k.len() != 13 {
        return None;
    }
    let day = u32::from_be_bytes(k[1..5].try_into().ok()?) as i64;
    Some((day, decode_u64(&k[5..]).ok()?))
}

/// The end (exclusive) of the credit profiles' key range ([`profile_key`]s start with `p`).
pub const PROFILES_END: &[u8] = b"q";

/// The enterprise id of a [`profile_key`].
pub fn profile_key_id(k: &[u8]) -> Result<u64, StoreError> {
    decode_u64(k.get(1..).unwrap_or_default())
}

/// The leaf index that ends a record index key ([`lot_record_key`], [`item_record_key`]).
pub fn record_key_leaf(k: &[u8]) -> Result<u64, StoreError> {
    let tail = k
        .len()
        .checked_sub(8)
        .map(|s| &k[s..])
        .ok_or_else(|| StoreError::Corrupt("short record index key".into()))?;
    decode_u64(tail)
}

/// Value of an anchoring low-water mark ([`anchor_low_water_key`]): the tree size, u64 BE.
pub fn encode_low_water(tree_size: u64) -> Vec<u8> {
    u64_key(tree_size).to_vec()
}

pub fn profile_key(id: u64) -> Vec<u8> {
    let mut k = b"p".to_vec();
    k.extend_from_slice(&u64_key(id));
    k
}

/// Where an enterprise's complaint counts are kept (in the credit column family, next to its
/// profile, so the profile and its counts are read together).
pub fn counts_key(id: u64) -> Vec<u8> {
    let mut k = b"c".to_vec();
    k.extend_from_slice(&u64_key(id));
    k
}

/// An upheld complaint about an enterprise's items (in the credit column family): `u` ‖
/// enterprise id ‖ complaint number (both u64 BE); the value says its category and when it
/// was upheld. The credit model reads one range of these.
pub fn upheld_key(enterprise: u64, number: u64) -> Vec<u8> {
    let mut k = b"u".to_vec();
    k.extend_from_slice(&u64_key(enterprise));
    k.extend_from_slice(&u64_key(number));
    k
}

/// The key of a day's reprint count ([`Cf::PrintDays`]): day (u32 BE) ‖ enterprise id (u64 BE).
pub fn print_day_key(day: i64, enterprise: u64) -> Vec<u8> {
    let mut k = forged_day_prefix(day).to_vec();
    k.extend_from_slice(&u64_key(enterprise));
    k
}

/// The day and enterprise of a [`print_day_key`].
pub fn parse_print_day_key(k: &[u8]) -> Option<(i64, u64)> {
    let day = u32::from_be_bytes(k.get(..4)?.try_into().ok()?);
    let e = u64::from_be_bytes(k.get(4..12)?.try_into().ok()?);
    Some((i64::from(day), e))
}

/// An enterprise's current grade ([`Cf::Grades`]): `g` ‖ enterprise id (u64 BE).
pub fn grade_key(enterprise: u64) -> Vec<u8> {
    let mut k = b"g".to_vec();
    k.extend_from_slice(&u64_key(enterprise));
    k
}

/// Change `seq` of an enterprise's grade ([`Cf::Grades`]): `h` ‖ enterprise id ‖ seq (u64 BE).
pub fn grade_change_key(enterprise: u64, seq: u64) -> Vec<u8> {
    let mut k = b"h".to_vec();
    k.extend_from_slice(&u64_key(enterprise));
    k.extend_from_slice(&u64_key(seq));
    k
}

/// Change `seq` of an enterprise's warning listing ([`Cf::Grades`]): `w` ‖ enterprise id ‖
/// seq (u64 BE).
pub fn warning_change_key(enterprise: u64, seq: u64) -> Vec<u8> {
    let mut k = b"w".to_vec();
    k.extend_from_slice(&u64_key(enterprise));
    k.extend_from_slice(&u64_key(seq));
    k
}

/// An enterprise on the warning list now ([`Cf::Grades`]): `l` ‖ enterprise id (u64 BE),
/// empty value; the list is one range of these.
pub fn warned_key(enterprise: u64) -> Vec<u8> {
    let mut k = b"l".to_vec();
    k.extend_from_slice(&u64_key(enterprise));
    k
}

/// Store key of a record: chain id ‖ contract ‖ tree size (all big-endian).
pub fn anchor_record_key(chain_id: u64, contract: &[u8; 20], tree_size: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(36);
    k.extend_from_slice(&chain_id.to_be_bytes());
    k.extend_from_slice(contract);
    k.extend_from_slice(&tree_size.to_be_bytes());
    k
}

/// Meta key of a deployment's low-water mark: `anchor_low_water` ‖ chain id ‖ contract.
pub fn anchor_low_water_key(chain_id: u64, contract: &[u8; 20]) -> Vec<u8> {
    let mut k = b"anchor_low_water".to_vec();
    k.extend_from_slice(&chain_id.to_be_bytes());
    k.extend_from_slice(contract);
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every node key an append writes sorts after every key written before it.
    #[test]
    fn node_keys_sort_in_the_order_nodes_are_made() {
        let mut frontier = crate::merkle::Frontier::new();
        let mut keys = Vec::new();
        for i in 0..5_000u32 {
            let leaf = crate::merkle::leaf_hash(&i.to_be_bytes());
            frontier.append(leaf, |id, _| {
                keys.push(node_key(id.last_leaf().unwrap(), id.level))
            });
        }
        assert_eq!(keys.len(), 2 * 5_000 - 5_000u32.count_ones() as usize);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn legacy_node_keys_convert_or_are_refused() {
        let old = |level: u8, index: u64| {
            let mut k = vec![level];
            k.extend_from_slice(&index.to_be_bytes());
            k
        };
        assert_eq!(legacy_node_key(&old(0, 7)).unwrap(), node_key(7, 0));
        assert_eq!(legacy_node_key(&old(3, 2)).unwrap(), node_key(23, 3));
        assert_eq!(
            legacy_node_key(&old(63, 1)).unwrap(),
            node_key(u64::MAX, 63)
        );
        for bad in [
            old(63, 2),
            old(64, 0),
            old(200, 0),
            vec![],
            vec![0; 8],
            vec![0; 10],
        ] {
            assert!(
                matches!(legacy_node_key(&bad), Err(StoreError::Corrupt(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn item_keys_are_prefix_free() {
        let a = item_key("09506000134352", "ab");
        let b = item_key("09506000134352", "abc");
        assert!(!b.starts_with(&a));
    }

    #[test]
    fn scan_day_keys_sort_by_scope_then_day_and_round_trip() {
        assert!(scan_day_key(None, 20_000, 3) < scan_day_key(None, 20_001, 0));
        assert!(scan_day_key(Some(7), 20_000, 3) < scan_day_key(Some(7), 20_001, 0));
        assert!(scan_day_key(Some(7), u32::MAX as i64, 3) < scan_day_key(Some(8), 0, 0));
        assert!(scan_day_key(Some(7), 5, 1).starts_with(&scan_day_prefix(Some(7))));
        for (e, d, v) in [
            (None, 20_000, 2),
            (Some(u64::MAX), 0, 0),
            (Some(1), 19_999, 3),
        ] {
            assert_eq!(parse_scan_day_key(&scan_day_key(e, d, v)), Some((e, d, v)));
        }
        assert_eq!(parse_scan_day_key(b"a12"), None);
        assert_eq!(parse_scan_day_key(b"x12345"), None);
    }

    proptest! {
        #[test]
        fn item_record_round_trips(batch in any::<u64>(), leaf in any::<u64>()) {
            let r = ItemRecord { batch_id: batch, leaf_index: leaf };
            prop_assert_eq!(ItemRecord::decode(&r.encode()).unwrap(), r);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = ItemRecord::decode(&bytes);
            let _ = decode_u64(&bytes);
            let _ = decode_json::<serde_json::Value>("x", &bytes);
        }

        #[test]
        fn u64_round_trips(n in any::<u64>()) {
            prop_assert_eq!(decode_u64(&u64_key(n)).unwrap(), n);
        }
    }
}
