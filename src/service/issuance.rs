//! Batch issuance: unguessable serials, parallel Ed25519 signing, synced atomic chunks.
//!
//! A batch is written in chunks of [`CHUNK`] items. Each chunk is one synced atomic write
//! holding its items, their log leaves and node hashes, the new log size and the batch record
//! with its progress; the last chunk also flips the batch to `complete`. Signing of the next
//! chunk (rayon, all cores) overlaps the write of the current one.
//!
//! Crash safety: a batch whose process died mid-way stays `issuing`. Its items are in the
//! store and in the log (the log is append-only and its checkpoints may already cover them),
//! but a scan of any of them answers `not_genuine` ("issuance interrupted") until the client
//! retries with the same `Idempotency-Key`, which resumes the batch where it stopped and
//! completes it. Only then do the batch's codes scan genuine.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::{info, instrument};

use super::base::Stats;
use super::base::WriteLocks;
use super::base::{now, rfc3339, Result, ServiceError};
use super::errors::{InputError, IssuanceError};
use super::keyring::{Issuer, Keyring};
use super::log::LogBook;
use super::log::PendingLeaf;
use super::master::MasterData;
use crate::code::Host;
use crate::code::KeyId;
use crate::code::{Code, ItemId};
use crate::commitment::{Commitment, ItemRef};
use crate::custody::LotId;
use crate::gs1::{Expiry, Gtin, Lot, Serial};
use crate::leaf::ItemLeaf;
use crate::merkle;
use crate::store::prefix_end;
use crate::store::schema::key_after;
use crate::store::schema::{
    decode_json, decode_u64, encode_json, item_key, lot_batch_key, u64_key, ItemRecord,
    META_NEXT_BATCH,
};
use crate::store::schema::{lot_key, record_key_leaf, META_LOT_BATCHES_INDEXED};
use crate::store::Store;
use crate::store::{Cf, Durability, WriteBatch};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use utoipa::ToSchema;

pub mod items;

/// Body of `POST /api/v1/batches`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// GTIN of a registered product.
    pub gtin: String,
    /// Lot (GS1 AI 10): 1–20 characters of `[A-Za-z0-9._-]`.
    pub lot: String,
    /// Expiry date `YYYY-MM-DD` (GS1 AI 17), optional.
    #[serde(default)]
    pub expiry: Option<String>,
    /// Number of codes, 1..=1,000,000.
    pub quantity: u64,
}

/// State of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    /// Codes are being written; none of them scans genuine yet.
    Issuing,
    /// Every code is durable and in the log; the batch scans genuine.
    Complete,
}

/// A batch of issued codes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Batch {
    /// Assigned id.
    pub id: u64,
    /// GTIN-14.
    pub gtin: String,
    /// Lot.
    pub lot: String,
    /// Expiry `YYYY-MM-DD`, if any.
    pub expiry: Option<String>,
    /// Codes requested.
    pub quantity: u64,
    /// Codes durably issued so far.
    pub issued: u64,
    /// `issuing` or `complete`.
    pub status: BatchStatus,
    /// Key id of the issuer key that signs the batch.
    pub kid: String,
    /// RFC 3339 creation time (the items' issue time).
    pub created_at: String,
    /// RFC 3339 completion time.
    pub completed_at: Option<String>,
    /// The batch's leaves in the log as `[first_index, count]` runs, in issue order.
    pub segments: Vec<[u64; 2]>,
}

/// Response of `POST /api/v1/batches`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BatchCreated {
    /// The batch id.
    pub batch_id: u64,
    /// Codes issued.
    pub count: u64,
}

/// One line of `GET /api/v1/batches/{id}/codes`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CodeLine {
    /// The item serial (GS1 AI 21).
    pub serial: String,
    /// The signed code URI to print.
    pub code: String,
}

/// Most codes one batch may hold.
pub const MAX_QUANTITY: u64 = 1_000_000;
/// Items per synced write.
pub const CHUNK: usize = 8_192;
/// Longest accepted `Idempotency-Key`.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;

/// The batch record as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoredBatch {
    /// The public view.
    pub batch: Batch,
    /// Creation time, Unix seconds (the `issued` time in every leaf).
    pub created_unix: i64,
    /// SHA-256 (hex) of the canonical request, to detect key reuse with another request.
    pub fingerprint: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct IdempotencyRecord {
    batch_id: u64,
    fingerprint: String,
}

/// A validated issuance request.
struct ValidRequest {
    gtin: Gtin,
    lot: Lot,
    expiry: Option<Expiry>,
    quantity: u64,
}

/// One signed item waiting to be written.
struct SignedItem {
    /// GTIN-14 ‖ serial.
    key: Vec<u8>,
    /// The code (kept in [`Cf::Codes`], never in the log).
    code: String,
    /// Its item reference, for custody and reprint records.
    item_ref: ItemRef,
    leaf: PendingLeaf,
}

fn validate(req: &BatchRequest) -> Result<ValidRequest> {
    let gtin = Gtin::parse(&req.gtin).map_err(|e| InputError::parse("gtin", e))?;
    let lot = Lot::parse(&req.lot).map_err(|e| InputError::parse("lot", e))?;
    let expiry = match &req.expiry {
        Some(e) => Some(Expiry::parse_iso(e).map_err(|e| InputError::parse("expiry", e))?),
        None => None,
    };
    if !(1..=MAX_QUANTITY).contains(&req.quantity) {
        return Err(InputError::field(
            "quantity",
            format!(
                "quantity must be between 1 and {MAX_QUANTITY}, got {}",
                req.quantity
            ),
        )
        .into());
    }
    Ok(ValidRequest {
        gtin,
        lot,
        expiry,
        quantity: req.quantity,
    })
}

/// Checks an `Idempotency-Key` header value: 1–255 visible ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_LEN {
        return Err(InputError::field(
            "Idempotency-Key",
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY_LEN} characters"),
        )
        .into());
    }
    if !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InputError::field(
            "Idempotency-Key",
            "Idempotency-Key must be visible ASCII without spaces",
        )
        .into());
    }
    Ok(())
}

fn fingerprint(v: &ValidRequest) -> String {
    let canon = format!(
        "{}\n{}\n{}\n{}",
        v.gtin.as_str(),
        v.lot.as_str(),
        v.expiry.as_ref().map(|e| e.to_iso()).unwrap_or_default(),
        v.quantity
    );
    Sha256::digest(canon.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Batches of signed codes, and lookups of issued items.
pub struct Issuance {
    store: Arc<dyn Store>,
    stats: Arc<Stats>,
    locks: Arc<WriteLocks>,
    log: Arc<LogBook>,
    master: Arc<MasterData>,
    host: Host,
    keyring: Arc<Keyring>,
    batch_generation: AtomicU64,
}

/// What [`Issuance`] is built from.
pub struct IssuanceParts {
    /// The public host new codes are issued for.
    pub host: Host,
    /// The issuer keys: the current one signs new batches; an interrupted batch is resumed
    /// with the key it started with; codes of every registered key verify.
    pub keyring: Arc<Keyring>,
}

/// What signs one batch's items: the request, the batch, its issue time and its key.
#[derive(Clone, Copy)]
struct BatchSigner<'a> {
    v: &'a ValidRequest,
    batch_id: u64,
    issued_at: i64,
    issuer: &'a Issuer,
}

impl Issuance {
    /// Issuance over `store`, logging to `log`.
    pub fn new(
        store: Arc<dyn Store>,
        stats: Arc<Stats>,
        locks: Arc<WriteLocks>,
        log: Arc<LogBook>,
        master: Arc<MasterData>,
        parts: IssuanceParts,
    ) -> Issuance {
        Issuance {
            store,
            stats,
            locks,
            log,
            master,
            host: parts.host,
            keyring: parts.keyring,
            batch_generation: AtomicU64::new(0),
        }
    }

    /// The public host new codes are issued for.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The current signing key (tests forge and re-sign codes with it).
    #[cfg(test)]
    pub(crate) fn issuer(&self) -> Arc<Issuer> {
        self.keyring.current().unwrap()
    }

    /// The key that signs (the rest of) batch `sb`: the one it was started with (every code
    /// of a batch is signed by one key, also when a rotation came between its start and its
    /// resumption), unless that key is revoked or its file is gone.
    fn batch_signer(&self, sb: &StoredBatch) -> Result<Arc<Issuer>> {
        let id = sb.batch.id;
        let kid = KeyId::parse(&sb.batch.kid)
            .map_err(|e| ServiceError::internal(format!("batch {id}: key id: {e}")))?;
        let key = self.keyring.issuer_key(kid)?;
        if key.as_ref().is_some_and(|(_, r)| r.is_some()) {
            return Err(IssuanceError::IssuerKeyRevoked {
                batch: id,
                kid: kid.to_string(),
            }
            .into());
        }
        self.keyring.signer(kid)?.ok_or_else(|| {
            IssuanceError::SigningKeyUnavailable {
                batch: id,
                kid: kid.to_string(),
            }
            .into()
        })
    }
}

impl Issuance {
    /// Issues (or resumes, or replays) the batch for `idempotency_key`. Returns the batch and
    /// whether it was a replay of an already complete batch. `progress` is called after every
    /// durable chunk.
    #[instrument(skip(self, req, progress), fields(gtin = %req.gtin, lot = %req.lot, quantity = req.quantity))]
    pub fn issue_batch(
        &self,
        req: &BatchRequest,
        idempotency_key: &str,
        progress: &(dyn Fn(&Batch) + Sync),
    ) -> Result<(Batch, bool)> {
        check_idempotency_key(idempotency_key)?;
        let v = validate(req)?;
        if self.master.find_product(&v.gtin)?.is_none() {
            return Err(IssuanceError::UnknownGtin {
                gtin: v.gtin.as_str().to_string(),
            }
            .into());
        }
        let fp = fingerprint(&v);
        // One batch at a time: keeps each batch's leaves in long contiguous runs and makes
        // the idempotency check-then-create atomic.
        let _guard = super::base::lock(&self.locks.batches)?;
        let stored = match self
            .store
            .get(Cf::Idempotency, idempotency_key.as_bytes())?
        {
            Some(raw) => {
                let rec: IdempotencyRecord = decode_json("idempotency record", &raw)?;
                if rec.fingerprint != fp {
                    return Err(IssuanceError::IdempotencyKeyReused {
                        key: idempotency_key.to_string(),
                        batch: rec.batch_id,
                    }
                    .into());
                }
                let sb = self.stored_batch(rec.batch_id)?;
                if sb.batch.status == BatchStatus::Complete {
                    return Ok((sb.batch, true));
                }
                info!(
                    batch_id = sb.batch.id,
                    issued = sb.batch.issued,
                    "resuming interrupted batch"
                );
                sb
            }
            None => self.create_batch(&v, idempotency_key, fp)?,
        };
        let batch = self.run_batch(stored, &v, progress)?;
        Ok((batch, false))
    }

    fn create_batch(&self, v: &ValidRequest, key: &str, fp: String) -> Result<StoredBatch> {
        let id = match self.store.get(Cf::Meta, META_NEXT_BATCH)? {
            Some(b) => decode_u64(&b)?,
            None => 1,
        };
        let created = now().unix_timestamp();
        let sb = StoredBatch {
            batch: Batch {
                id,
                gtin: v.gtin.as_str().to_string(),
                lot: v.lot.as_str().to_string(),
                expiry: v.expiry.as_ref().map(|e| e.to_iso()),
                quantity: v.quantity,
                issued: 0,
                status: BatchStatus::Issuing,
                kid: self.keyring.current()?.kid.to_string(),
                created_at: rfc3339(created),
                completed_at: None,
                segments: Vec::new(),
            },
            created_unix: created,
            fingerprint: fp.clone(),
        };
        let mut wb = WriteBatch::new();
        wb.put(Cf::Batches, u64_key(id), encode_json(&sb));
        wb.put(
            Cf::Idempotency,
            key.as_bytes(),
            encode_json(&IdempotencyRecord {
                batch_id: id,
                fingerprint: fp,
            }),
        );
        wb.put(Cf::Meta, META_NEXT_BATCH, u64_key(id + 1));
        wb.put(
            Cf::LotBatches,
            lot_batch_key(v.gtin.as_str(), v.lot.as_str(), id),
            Vec::new(),
        );
        self.store.write(wb, Durability::Synced)?;
        Ok(sb)
    }

    /// Signs and writes the remaining items of `sb`, pipelining signing and writing.
    fn run_batch(
        &self,
        mut sb: StoredBatch,
        v: &ValidRequest,
        progress: &(dyn Fn(&Batch) + Sync),
    ) -> Result<Batch> {
        let remaining = sb.batch.quantity - sb.batch.issued;
        let mut sizes = Vec::new();
        let mut left = remaining;
        while left > 0 {
            let n = left.min(CHUNK as u64);
            sizes.push(n as usize);
            left -= n;
        }
        let issuer = self.batch_signer(&sb)?;
        let bs = BatchSigner {
            v,
            batch_id: sb.batch.id,
            issued_at: sb.created_unix,
            issuer: &issuer,
        };
        let (bs, batch_id) = (&bs, sb.batch.id);
        std::thread::scope(|s| {
            let (tx, rx) = mpsc::sync_channel::<Result<Vec<SignedItem>>>(1);
            s.spawn(move || {
                for n in sizes {
                    let chunk = self.sign_chunk(n, bs);
                    let failed = chunk.is_err();
                    if tx.send(chunk).is_err() || failed {
                        break;
                    }
                }
            });
            for chunk in rx.iter() {
                // Returning early drops `rx`, so the producer's next send fails and it stops.
                let chunk = self.ensure_unique(chunk?, bs)?;
                self.write_chunk(&mut sb, chunk)?;
                progress(&sb.batch);
                info!(
                    batch_id,
                    issued = sb.batch.issued,
                    quantity = sb.batch.quantity,
                    "batch progress"
                );
            }
            Ok::<(), ServiceError>(())
        })?;
        if sb.batch.status != BatchStatus::Complete {
            return Err(ServiceError::Internal(format!(
                "batch {} stopped at {} of {} codes",
                sb.batch.id, sb.batch.issued, sb.batch.quantity
            )));
        }
        Ok(sb.batch)
    }

    fn sign_one(&self, serial: Serial, bs: &BatchSigner<'_>) -> SignedItem {
        let BatchSigner {
            v,
            batch_id,
            issued_at,
            issuer,
        } = *bs;
        let item = ItemId {
            gtin: v.gtin.clone(),
            lot: v.lot.clone(),
            serial,
            expiry: v.expiry,
        };
        let code = Code::sign(&self.host, &item, issuer.kid, &issuer.key);
        let data = ItemLeaf {
            issued_at,
            batch_id,
            commitment: Commitment::of(&code),
        }
        .encode();
        SignedItem {
            key: item_key(v.gtin.as_str(), item.serial.as_str()),
            item_ref: ItemRef::of(&code),
            code: code.as_str().to_string(),
            leaf: PendingLeaf {
                hash: merkle::leaf_hash(&data),
                data,
            },
        }
    }

    fn sign_chunk(&self, n: usize, bs: &BatchSigner<'_>) -> Result<Vec<SignedItem>> {
        let mut rnd = vec![0u8; n * 12];
        getrandom::getrandom(&mut rnd)
            .map_err(|e| ServiceError::Internal(format!("OS random generator failed: {e}")))?;
        Ok(rnd
            .par_chunks_exact(12)
            .map(|r| {
                let mut b = [0u8; 12];
                b.copy_from_slice(r);
                self.sign_one(Serial::from_random_bytes(&b), bs)
            })
            .collect())
    }

    /// Replaces any item whose serial exists already (in the store or earlier in the chunk).
    /// With 96-bit serials this never happens in practice, but "never reused" is checked, not
    /// assumed.
    fn ensure_unique(
        &self,
        mut chunk: Vec<SignedItem>,
        bs: &BatchSigner<'_>,
    ) -> Result<Vec<SignedItem>> {
        loop {
            let keys: Vec<Vec<u8>> = chunk.iter().map(|i| i.key.clone()).collect();
            let found = self.store.multi_get(Cf::Items, &keys)?;
            let mut seen = HashSet::with_capacity(chunk.len());
            let mut dup = Vec::new();
            for (i, (k, f)) in keys.iter().zip(found).enumerate() {
                if f.is_some() || !seen.insert(k.as_slice()) {
                    dup.push(i);
                }
            }
            if dup.is_empty() {
                return Ok(chunk);
            }
            tracing::warn!(count = dup.len(), "serial collision; drawing new serials");
            for i in dup {
                let mut b = [0u8; 12];
                getrandom::getrandom(&mut b).map_err(|e| {
                    ServiceError::Internal(format!("OS random generator failed: {e}"))
                })?;
                chunk[i] = self.sign_one(Serial::from_random_bytes(&b), bs);
            }
        }
    }

    fn write_chunk(&self, sb: &mut StoredBatch, chunk: Vec<SignedItem>) -> Result<()> {
        let n = chunk.len() as u64;
        let mut items = Vec::with_capacity(chunk.len());
        let mut leaves = Vec::with_capacity(chunk.len());
        for it in chunk {
            leaves.push(it.leaf);
            items.push((it.key, it.code, it.item_ref));
        }
        let mut next = sb.clone();
        self.log.append_leaves(leaves, |first, wb| {
            for (i, (k, code, item_ref)) in items.into_iter().enumerate() {
                let leaf_index = first + i as u64;
                let rec = ItemRecord {
                    batch_id: next.batch.id,
                    leaf_index,
                };
                wb.put(Cf::ItemRefs, item_ref.as_bytes().to_vec(), k.clone());
                wb.put(Cf::Items, k, rec.encode().to_vec());
                wb.put(Cf::Codes, u64_key(leaf_index), code.into_bytes());
            }
            next.batch.issued += n;
            match next.batch.segments.last_mut() {
                Some(seg) if seg[0] + seg[1] == first => seg[1] += n,
                _ => next.batch.segments.push([first, n]),
            }
            if next.batch.issued == next.batch.quantity {
                next.batch.status = BatchStatus::Complete;
                next.batch.completed_at = Some(rfc3339(now().unix_timestamp()));
            }
            wb.put(Cf::Batches, u64_key(next.batch.id), encode_json(&next));
            Ok(())
        })?;
        if next.batch.status == BatchStatus::Complete {
            self.batch_generation.fetch_add(1, Ordering::Release);
        }
        *sb = next;
        self.stats.codes_issued.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Changes whenever a batch completes (cached lot exports depend on which are complete).
    pub(crate) fn batch_generation(&self) -> u64 {
        self.batch_generation.load(Ordering::Acquire)
    }

    /// One-time migration: index the batches of each lot (for the EPCIS export).
    pub(crate) fn index_lot_batches(&self) -> Result<()> {
        if self
            .store
            .get(Cf::Meta, META_LOT_BATCHES_INDEXED)?
            .is_some()
        {
            return Ok(());
        }
        let mut wb = WriteBatch::new();
        crate::store::for_each_pair(self.store.as_ref(), Cf::Batches, 1024, |_, v| {
            let sb: StoredBatch = decode_json("batch", v)?;
            let k = lot_batch_key(&sb.batch.gtin, &sb.batch.lot, sb.batch.id);
            wb.put(Cf::LotBatches, k, Vec::new());
            Ok(())
        })?;
        wb.put(Cf::Meta, META_LOT_BATCHES_INDEXED, b"1".to_vec());
        self.store.write(wb, Durability::Synced)?;
        Ok(())
    }

    /// The item keys of public item references (`None` for a reference no issued item has).
    pub fn item_keys_of(&self, refs: &[ItemRef]) -> Result<Vec<Option<Vec<u8>>>> {
        let keys: Vec<Vec<u8>> = refs.iter().map(|r| r.as_bytes().to_vec()).collect();
        Ok(self.store.multi_get(Cf::ItemRefs, &keys)?)
    }

    /// The issuance records of items by item key (`None` where there is none).
    pub fn item_records(&self, keys: &[Vec<u8>]) -> Result<Vec<Option<ItemRecord>>> {
        self.store
            .multi_get(Cf::Items, keys)?
            .into_iter()
            .map(|v| v.map(|raw| ItemRecord::decode(&raw)).transpose())
            .map(|r| r.map_err(ServiceError::from))
            .collect()
    }

    /// Whether any batch was started for the lot of lot key `lk`.
    pub fn lot_has_batches(&self, lk: &[u8]) -> Result<bool> {
        let end = prefix_end(lk);
        Ok(!self
            .store
            .range(Cf::LotBatches, lk, end.as_deref(), 1)?
            .is_empty())
    }

    /// The lot keys of the lots of product `gtin` (GTIN-14) with a batch started, in key
    /// order, from at most `rows` rows of the lot–batch index (one range read).
    pub fn lots_with_batches(&self, gtin: &str, rows: usize) -> Result<Vec<Vec<u8>>> {
        let end = prefix_end(gtin.as_bytes());
        let mut keys: Vec<Vec<u8>> = self
            .store
            .range(Cf::LotBatches, gtin.as_bytes(), end.as_deref(), rows)?
            .into_iter()
            .filter_map(|(k, _)| k.len().checked_sub(8).map(|n| k[..n].to_vec()))
            .collect();
        keys.dedup();
        Ok(keys)
    }

    /// The ids of the lot's batches, oldest first (at most `limit`).
    pub fn lot_batches(&self, lot: &LotId, limit: usize) -> Result<Vec<u64>> {
        let p = lot_key(lot.gtin.as_str(), lot.lot.as_str());
        let end = prefix_end(&p);
        self.store
            .range(Cf::LotBatches, &p, end.as_deref(), limit)?
            .iter()
            .map(|(k, _)| Ok(record_key_leaf(k)?))
            .collect()
    }

    pub(crate) fn stored_batch(&self, id: u64) -> Result<StoredBatch> {
        match self.store.get(Cf::Batches, &u64_key(id))? {
            Some(v) => Ok(decode_json("batch", &v)?),
            None => Err(IssuanceError::BatchNotFound { id }.into()),
        }
    }

    /// Every batch signed by issuer key `kid`, oldest first (what a revocation of the key
    /// invalidates is chosen from these by their `created_unix`).
    pub fn batches_signed_by(&self, kid: &str) -> Result<Vec<StoredBatch>> {
        let mut out = Vec::new();
        let mut start = Vec::new();
        loop {
            let page = self.store.range(Cf::Batches, &start, None, 1024)?;
            let Some((last, _)) = page.last() else { break };
            start = key_after(last);
            for (_, v) in &page {
                let sb: StoredBatch = decode_json("batch", v)?;
                if sb.batch.kid == kid {
                    out.push(sb);
                }
            }
        }
        Ok(out)
    }

    /// The newest batches (by id, newest first) whose GTIN is in `gtins` (all when `None`),
    /// at most `limit`; at most 10,000 batches are read.
    pub fn recent_batches(
        &self,
        gtins: Option<&HashSet<String>>,
        limit: usize,
    ) -> Result<Vec<Batch>> {
        let mut end = match self.store.get(Cf::Meta, META_NEXT_BATCH)? {
            Some(b) => decode_u64(&b)?,
            None => 1,
        };
        let floor = end.saturating_sub(10_000).max(1);
        let mut out = Vec::new();
        while out.len() < limit && end > floor {
            let start = end.saturating_sub(256).max(floor);
            let page = self
                .store
                .range(Cf::Batches, &u64_key(start), Some(&u64_key(end)), 256)?;
            for (_, v) in page.iter().rev() {
                let sb: StoredBatch = decode_json("batch", v)?;
                if gtins.is_none_or(|g| g.contains(&sb.batch.gtin)) && out.len() < limit {
                    out.push(sb.batch);
                }
            }
            end = start;
        }
        Ok(out)
    }

    /// A batch and its progress.
    pub fn batch(&self, id: u64) -> Result<Batch> {
        Ok(self.stored_batch(id)?.batch)
    }

    /// Up to `limit` codes of a complete batch, starting at ordinal `start` (0-based, in issue
    /// order). A batch still issuing has no codes to print yet (409).
    pub fn batch_codes(&self, batch: &Batch, start: u64, limit: usize) -> Result<Vec<CodeLine>> {
        if batch.status != BatchStatus::Complete {
            return Err(IssuanceError::BatchIssuing {
                id: batch.id,
                issued: batch.issued,
                quantity: batch.quantity,
            }
            .into());
        }
        let mut out = Vec::with_capacity(limit.min(CHUNK));
        let mut skip = start;
        for &[first, count] in &batch.segments {
            if out.len() >= limit {
                break;
            }
            if skip >= count {
                skip -= count;
                continue;
            }
            let from = first + skip;
            let end = first + count;
            skip = 0;
            let want = (limit - out.len()).min((end - from) as usize);
            for (_, data) in
                self.store
                    .range(Cf::Codes, &u64_key(from), Some(&u64_key(end)), want)?
            {
                let text = String::from_utf8(data)
                    .map_err(|_| ServiceError::Internal("stored code is not UTF-8".into()))?;
                let code = Code::parse(&text)
                    .map_err(|e| ServiceError::Internal(format!("stored code: {e}")))?;
                out.push(CodeLine {
                    serial: code.item().serial.as_str().to_string(),
                    code: text,
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::store::StoreError;

    /// A valid batch request for the seeded product.
    pub(crate) fn req(q: u64) -> BatchRequest {
        BatchRequest {
            gtin: "09506000134352".into(),
            lot: "LOT-2026.11".into(),
            expiry: Some("2028-02-29".into()),
            quantity: q,
        }
    }

    #[test]
    fn issues_streams_and_replays() {
        let (svc, _) = test_service();
        seed(&svc);
        let (b, replay) = svc.issuance().issue_batch(&req(40), "k1", &|_| {}).unwrap();
        assert!(!replay);
        assert_eq!((b.issued, b.status), (40, BatchStatus::Complete));
        let codes = svc.issuance().batch_codes(&b, 0, 1000).unwrap();
        assert_eq!(codes.len(), 40);
        let serials: HashSet<_> = codes.iter().map(|c| c.serial.clone()).collect();
        assert_eq!(serials.len(), 40, "serials are distinct");
        for c in &codes {
            let code = Code::parse(&c.code).unwrap();
            code.verify(&svc.issuance().issuer().key.verifying_key())
                .unwrap();
            assert_eq!(code.item().serial.as_str(), c.serial);
            assert!(
                c.serial.len() >= 16,
                "96 random bits need 16 base64url chars"
            );
        }
        // Paging.
        let page = svc.issuance().batch_codes(&b, 35, 10).unwrap();
        assert_eq!(page.len(), 5);
        assert_eq!(page[0], codes[35]);
        // Same key, same request: the same batch, no new codes.
        let (again, replay) = svc.issuance().issue_batch(&req(40), "k1", &|_| {}).unwrap();
        assert!(replay);
        assert_eq!(again, b);
        assert_eq!(
            svc.log().log_size().unwrap(),
            41,
            "the product record and 40 items"
        );
        // Same key, other request: conflict.
        assert!(matches!(
            svc.issuance().issue_batch(&req(41), "k1", &|_| {}),
            Err(ServiceError::Issuance(
                IssuanceError::IdempotencyKeyReused { batch: 1, .. }
            ))
        ));
    }

    #[test]
    fn rejects_bad_requests() {
        let (svc, _) = test_service();
        seed(&svc);
        let mut r = req(0);
        assert!(matches!(
            svc.issuance().issue_batch(&r, "k", &|_| {}),
            Err(ServiceError::Input(InputError::Field {
                field: "quantity",
                ..
            }))
        ));
        r.quantity = MAX_QUANTITY + 1;
        assert!(matches!(
            svc.issuance().issue_batch(&r, "k", &|_| {}),
            Err(ServiceError::Input(InputError::Field {
                field: "quantity",
                ..
            }))
        ));
        let mut r = req(1);
        r.gtin = "00000000000017".into();
        assert!(matches!(
            svc.issuance().issue_batch(&r, "k", &|_| {}),
            Err(ServiceError::Issuance(IssuanceError::UnknownGtin { .. }))
        ));
        let mut r = req(1);
        r.expiry = Some("2027-02-29".into());
        assert!(matches!(
            svc.issuance().issue_batch(&r, "k", &|_| {}),
            Err(ServiceError::Input(InputError::Field {
                field: "expiry",
                ..
            }))
        ));
        assert!(matches!(
            svc.issuance().issue_batch(&req(1), "has space", &|_| {}),
            Err(ServiceError::Input(InputError::Field {
                field: "Idempotency-Key",
                ..
            }))
        ));
    }

    #[test]
    fn storage_failure_mid_batch_leaves_it_issuing_and_a_retry_completes_it() {
        let (svc, mem) = test_service();
        seed(&svc);
        let n = CHUNK as u64 + 10;
        let fail_after_first = |b: &Batch| {
            if b.issued >= CHUNK as u64 {
                mem.set_failing(true);
            }
        };
        let err = svc
            .issuance()
            .issue_batch(&req(n), "crashy", &fail_after_first)
            .unwrap_err();
        assert!(
            matches!(err, ServiceError::Store(StoreError::Unavailable(_))),
            "{err:?}"
        );
        mem.set_failing(false);
        let b = svc.issuance().batch(1).unwrap();
        assert_eq!((b.issued, b.status), (CHUNK as u64, BatchStatus::Issuing));
        assert!(matches!(
            svc.issuance().batch_codes(&b, 0, 10),
            Err(ServiceError::Issuance(IssuanceError::BatchIssuing { .. }))
        ));
        let (done, replay) = svc
            .issuance()
            .issue_batch(&req(n), "crashy", &|_| {})
            .unwrap();
        assert!(!replay);
        assert_eq!((done.issued, done.status), (n, BatchStatus::Complete));
        assert_eq!(
            svc.issuance()
                .batch_codes(&done, 0, usize::MAX)
                .unwrap()
                .len() as u64,
            n
        );
    }
}
