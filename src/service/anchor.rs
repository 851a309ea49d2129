//! The anchoring worker: puts signed checkpoints' roots on an EVM chain and tracks them to
//! finality.
//!
//! Lifecycle of a checkpoint (see `docs/anchoring.md`):
//!
//! ```text
//! logged ──▶ anchor_pending ──▶ anchored ──▶ confirmed ──▶ finalized
//!                 ▲                 │            │
//!                 └──── reorg / dropped / chain reset ┘
//! ```
//!
//! - *logged*: a signed checkpoint with no anchor record yet.
//! - *anchor_pending*: the record and its **signed** transaction are persisted (synced) before
//!   the transaction is sent, so a restart re-sends exactly the same bytes and a crash can never
//!   produce two anchors for one checkpoint (one nonce; the contract also rejects sizes that do
//!   not increase).
//! - *anchored*: a receipt with status 1 is in a canonical block.
//! - *confirmed*: the block has `confirmations` blocks on top of it (itself included).
//! - *finalized*: the chain's `finalized` tag has passed the block.
//!
//! Every tick re-checks open records against the canonical chain: a receipt that disappeared or
//! moved to another block sends the record back to *anchor_pending*; a transaction the node no
//! longer knows is re-sent; one stuck longer than `bump_after` is replaced with higher fees,
//! within the configured caps. Scans see *anchored* only after a live check that the block is
//! still canonical (coalesced across concurrent scans), so a reorg never shows a root that is
//! not on chain now.
//!
//! This module holds no EVM library: the chain is the [`ChainPort`] trait, implemented with
//! alloy in [`crate::chain`].

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{debug, error, info, warn};
use utoipa::ToSchema;

pub use crate::anchor::{
    checkpoint_hash, hex0x, log_id, parse_hex, parse_hex_vec, Address, AnchorCall, AnchorStatus,
    ChainError, ChainPort, Fees, Inclusion, OnChainAnchor, SendOutcome, SignedTx, Word,
};

use super::{Result, Service, ServiceError, SignedCheckpoint};
use crate::store::codec::{decode_json, encode_json};
use crate::store::{Cf, Durability, WriteBatch};

/// Meta key: the deployment (chain id and contract) the service anchors to.
pub const META_DEPLOYMENT: &[u8] = b"chain_deployment";

/// One signed transaction sent for a record (several after fee bumps or a chain reset).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxAttempt {
    /// `0x` hash.
    pub hash: String,
    /// `0x` EIP-2718 bytes, kept so a restart re-sends exactly what was signed.
    pub raw: String,
    /// Account nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Fees.
    pub fees: Fees,
    /// Unix ms when it was first sent (or persisted, if the send never happened).
    pub sent_at_ms: i64,
}

/// The persisted anchoring state of one checkpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRecord {
    /// Chain id.
    pub chain_id: u64,
    /// Contract address (`0x`, lowercase).
    pub contract: String,
    /// Log id (`0x`).
    pub log_id: String,
    /// Checkpoint tree size.
    pub tree_size: u64,
    /// Checkpoint root (`0x`).
    pub root: String,
    /// SHA-256 of the signed note (`0x`).
    pub checkpoint_hash: String,
    /// Current state.
    pub status: AnchorStatus,
    /// Every transaction signed for this record, oldest first.
    pub attempts: Vec<TxAttempt>,
    /// The mined transaction (`0x`), once anchored.
    pub tx_hash: Option<String>,
    /// Its block.
    pub block_number: Option<u64>,
    /// Its block hash (`0x`).
    pub block_hash: Option<String>,
    /// Its block timestamp (Unix seconds).
    pub block_timestamp: Option<u64>,
    /// Gas used.
    pub gas_used: Option<u64>,
    /// Wei per gas paid.
    pub effective_gas_price: Option<u128>,
    /// Unix ms: record created (intent persisted), first anchored, confirmed, finalized.
    pub created_at_ms: i64,
    /// See `created_at_ms`.
    pub anchored_at_ms: Option<i64>,
    /// See `created_at_ms`.
    pub confirmed_at_ms: Option<i64>,
    /// See `created_at_ms`.
    pub finalized_at_ms: Option<i64>,
    /// Times the record went back to pending after being anchored (reorg, chain reset).
    pub reorgs: u32,
}

/// Anchoring state of one item as scans and bundles show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AnchorView {
    /// State of the smallest anchor covering the item.
    pub status: AnchorStatus,
    /// Chain id.
    pub chain_id: u64,
    /// Registry contract (`0x`).
    pub contract: String,
    /// Anchor transaction (`0x`), when on chain.
    pub tx_hash: Option<String>,
    /// Its block, when on chain.
    pub block_number: Option<u64>,
    /// Anchored tree size (covers the item), when an anchor exists or is pending.
    pub tree_size: Option<u64>,
}

/// Tunables of the worker (from `[chain]` in the config).
#[derive(Clone, Debug)]
pub struct AnchorSettings {
    /// Blocks (the anchor's included) for *confirmed*.
    pub confirmations: u64,
    /// Minimum time between two anchors.
    pub interval: Duration,
    /// Minimum new leaves since the last anchor before anchoring again.
    pub min_new_leaves: u64,
    /// How often open records are re-checked.
    pub poll: Duration,
    /// A pending transaction older than this is fee-bumped.
    pub bump_after: Duration,
    /// Cap on `maxFeePerGas`, wei.
    pub max_fee_per_gas: u128,
    /// Cap on `maxPriorityFeePerGas`, wei.
    pub max_priority_fee_per_gas: u128,
    /// Timeout of one RPC call.
    pub rpc_timeout: Duration,
}

impl Default for AnchorSettings {
    fn default() -> Self {
        AnchorSettings {
            confirmations: 2,
            interval: Duration::from_secs(5),
            min_new_leaves: 1,
            poll: Duration::from_millis(500),
            bump_after: Duration::from_secs(30),
            max_fee_per_gas: 200_000_000_000,
            max_priority_fee_per_gas: 5_000_000_000,
            rpc_timeout: Duration::from_secs(5),
        }
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// Store key of a record: chain id ‖ contract ‖ tree size (all big-endian).
fn record_key(chain_id: u64, contract: &Address, tree_size: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(36);
    k.extend_from_slice(&chain_id.to_be_bytes());
    k.extend_from_slice(contract);
    k.extend_from_slice(&tree_size.to_be_bytes());
    k
}

/// Meta key of a deployment's low-water mark: `anchor_low_water` ‖ chain id ‖ contract.
fn low_water_key(chain_id: u64, contract: &Address) -> Vec<u8> {
    let mut k = b"anchor_low_water".to_vec();
    k.extend_from_slice(&chain_id.to_be_bytes());
    k.extend_from_slice(contract);
    k
}

/// Most open records the worker re-checks each tick (on a chain without a `finalized` tag,
/// older confirmed records are no longer re-checked).
const MAX_OPEN: usize = 64;

/// The deployment the service anchors to, as recorded in the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// Chain id.
    pub chain_id: u64,
    /// Contract address (`0x`).
    pub contract: String,
    /// Deployment transaction (`0x`), when we deployed it.
    pub deploy_tx: Option<String>,
    /// Block of the deployment, when we deployed it.
    pub block_number: Option<u64>,
}

impl Service {
    /// The recorded deployment, if any.
    pub fn deployment(&self) -> Result<Option<Deployment>> {
        match self.store.get(Cf::Meta, META_DEPLOYMENT)? {
            Some(v) => Ok(Some(decode_json("deployment", &v)?)),
            None => Ok(None),
        }
    }

    /// Records the deployment to anchor to.
    pub fn record_deployment(&self, d: &Deployment) -> Result<()> {
        let mut wb = WriteBatch::new();
        wb.put(Cf::Meta, META_DEPLOYMENT, encode_json(d));
        Ok(self.store.write(wb, Durability::Synced)?)
    }

    /// Anchor records of a deployment with `tree_size >= from`, ascending, at most `limit`.
    pub fn anchor_records(
        &self,
        chain_id: u64,
        contract: &Address,
        from: u64,
        limit: usize,
    ) -> Result<Vec<AnchorRecord>> {
        let start = record_key(chain_id, contract, from);
        let end = record_key(chain_id, contract, u64::MAX);
        let mut out = Vec::new();
        for (_, v) in self.store.range(Cf::Anchors, &start, Some(&end), limit)? {
            out.push(decode_json::<AnchorRecord>("anchor record", &v)?);
        }
        Ok(out)
    }

    fn put_anchor_record(
        &self,
        contract: &Address,
        r: &AnchorRecord,
        low_water: Option<u64>,
    ) -> Result<()> {
        let mut wb = WriteBatch::new();
        wb.put(
            Cf::Anchors,
            record_key(r.chain_id, contract, r.tree_size),
            encode_json(r),
        );
        if let Some(lw) = low_water {
            wb.put(
                Cf::Meta,
                low_water_key(r.chain_id, contract),
                lw.to_be_bytes().to_vec(),
            );
        }
        Ok(self.store.write(wb, Durability::Synced)?)
    }

    /// Smallest tree size whose record may still be open (records below it are finalized).
    fn anchor_low_water(&self, chain_id: u64, contract: &Address) -> Result<u64> {
        match self
            .store
            .get(Cf::Meta, &low_water_key(chain_id, contract))?
        {
            Some(v) => Ok(crate::store::codec::decode_u64(&v)?),
            None => Ok(0),
        }
    }

    fn delete_anchor_record(&self, contract: &Address, r: &AnchorRecord) -> Result<()> {
        let mut wb = WriteBatch::new();
        wb.delete(Cf::Anchors, record_key(r.chain_id, contract, r.tree_size));
        Ok(self.store.write(wb, Durability::Synced)?)
    }
}

/// What one tick did (for logs and tests).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// A new anchor transaction was signed and sent for this tree size.
    pub started: Option<u64>,
    /// Records whose status changed: (tree size, new status).
    pub changed: Vec<(u64, AnchorStatus)>,
}

/// Cached answers of the live canonical-block check scans make.
struct LiveCache {
    /// block number → (when the fetch started, canonical hash).
    blocks: HashMap<u64, (Instant, Option<Word>)>,
}

/// The anchoring worker for one deployment.
pub struct Anchorer<C: ChainPort> {
    svc: Arc<Service>,
    chain: Arc<C>,
    settings: AnchorSettings,
    log_id: Word,
    contract: Address,
    /// `contract` as `0x` hex (every scan's answer carries it).
    contract_hex: String,
    /// Open (not finalized) records, ascending by size, as last persisted.
    open: RwLock<Vec<AnchorRecord>>,
    /// The record of the largest tree size, as last persisted.
    last: RwLock<Option<AnchorRecord>>,
    live: tokio::sync::Mutex<LiveCache>,
    rpc_ok: AtomicBool,
    wake: tokio::sync::Notify,
}

impl<C: ChainPort> Anchorer<C> {
    /// A worker anchoring `svc`'s log through `chain`.
    pub fn new(svc: Arc<Service>, chain: Arc<C>, settings: AnchorSettings) -> Result<Arc<Self>> {
        let log_id = log_id(svc.origin());
        let contract = chain.contract();
        let a = Anchorer {
            svc,
            settings,
            log_id,
            contract,
            contract_hex: hex0x(&contract),
            open: RwLock::new(Vec::new()),
            last: RwLock::new(None),
            live: tokio::sync::Mutex::new(LiveCache {
                blocks: HashMap::new(),
            }),
            rpc_ok: AtomicBool::new(true),
            wake: tokio::sync::Notify::new(),
            chain,
        };
        a.reload_open()?;
        Ok(Arc::new(a))
    }

    /// The chain client.
    pub fn chain(&self) -> &Arc<C> {
        &self.chain
    }

    /// The log id anchored.
    pub fn log_id(&self) -> Word {
        self.log_id
    }

    /// The settings in force.
    pub fn settings(&self) -> &AnchorSettings {
        &self.settings
    }

    /// Loads the open records and the last one, scanning from the low-water mark (every
    /// record below it is finalized), so start-up cost does not grow with history.
    fn reload_open(&self) -> Result<()> {
        let chain_id = self.chain.chain_id();
        let mut open: Vec<AnchorRecord> = Vec::new();
        let mut last = None;
        let mut from = self.svc.anchor_low_water(chain_id, &self.contract)?;
        loop {
            let page = self
                .svc
                .anchor_records(chain_id, &self.contract, from, 1024)?;
            let n = page.len();
            for r in page {
                from = r.tree_size.saturating_add(1);
                if r.status != AnchorStatus::Finalized {
                    open.push(r.clone());
                }
                last = Some(r);
            }
            if n < 1024 {
                break;
            }
        }
        if open.len() > MAX_OPEN {
            open.drain(..open.len() - MAX_OPEN);
        }
        *self
            .open
            .write()
            .map_err(|_| ServiceError::Internal("anchor lock poisoned".into()))? = open;
        *self
            .last
            .write()
            .map_err(|_| ServiceError::Internal("anchor lock poisoned".into()))? = last;
        Ok(())
    }

    fn open_records(&self) -> Vec<AnchorRecord> {
        self.open.read().map(|g| g.clone()).unwrap_or_default()
    }

    fn save(&self, r: &AnchorRecord) -> Result<()> {
        let mut open = self
            .open
            .write()
            .map_err(|_| ServiceError::Internal("anchor lock poisoned".into()))?;
        let mut next = open.clone();
        match next.binary_search_by_key(&r.tree_size, |x| x.tree_size) {
            Ok(i) if r.status == AnchorStatus::Finalized => {
                next.remove(i);
            }
            Ok(i) => next[i] = r.clone(),
            Err(i) if r.status != AnchorStatus::Finalized => next.insert(i, r.clone()),
            Err(_) => {}
        }
        if next.len() > MAX_OPEN {
            next.drain(..next.len() - MAX_OPEN);
        }
        // A finalized record moves the low-water mark to the smallest still-open size.
        let low_water = (r.status == AnchorStatus::Finalized).then(|| {
            next.first()
                .map_or(r.tree_size, |o| o.tree_size.min(r.tree_size + 1))
        });
        self.svc.put_anchor_record(&self.contract, r, low_water)?;
        *open = next;
        if let Ok(mut last) = self.last.write() {
            if last.as_ref().is_none_or(|l| l.tree_size <= r.tree_size) {
                *last = Some(r.clone());
            }
        }
        Ok(())
    }

    async fn call<T>(
        &self,
        f: impl Future<Output = Result<T, ChainError>>,
    ) -> Result<T, ChainError> {
        let r = match tokio::time::timeout(self.settings.rpc_timeout, f).await {
            Ok(r) => r,
            Err(_) => Err(ChainError::Unavailable(format!(
                "no answer within {:?}",
                self.settings.rpc_timeout
            ))),
        };
        match &r {
            Err(ChainError::Unavailable(_)) => self.rpc_ok.store(false, Ordering::Relaxed),
            _ => self.rpc_ok.store(true, Ordering::Relaxed),
        }
        r
    }

    /// Runs until `stop` turns true: ticks every `poll`, backing off (up to 30 s) while the
    /// RPC is unreachable.
    pub async fn run(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut backoff = self.settings.poll;
        let mut down_logged = false;
        loop {
            let delay = match self.tick().await {
                Ok(rep) => {
                    if down_logged {
                        info!("chain RPC reachable again; anchoring resumed");
                        down_logged = false;
                    }
                    if !rep.changed.is_empty() || rep.started.is_some() {
                        debug!(?rep, "anchoring tick");
                    }
                    backoff = self.settings.poll;
                    self.settings.poll
                }
                Err(AnchorError::Chain(ChainError::Unavailable(e))) => {
                    if !down_logged {
                        warn!(error = %e, "chain RPC unreachable; anchoring paused, retrying with backoff");
                        down_logged = true;
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    backoff
                }
                Err(e) => {
                    error!(error = %e, "anchoring failed; will retry");
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    backoff
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.wake.notified() => {}
                _ = stop.changed() => break,
            }
            if *stop.borrow() {
                break;
            }
        }
    }

    /// One pass: reconcile every open record with the chain, then start a new anchor when no
    /// transaction is pending and a newer checkpoint qualifies.
    pub async fn tick(&self) -> Result<TickReport, AnchorError> {
        let mut rep = TickReport::default();
        let head = self.call(self.chain.head()).await?;
        let finalized = self.call(self.chain.finalized()).await?;
        for rec in self.open_records() {
            let (size, before) = (rec.tree_size, rec.status);
            match self.reconcile(rec, head, finalized).await {
                Ok(Some(r)) if r.status != before => rep.changed.push((r.tree_size, r.status)),
                Ok(_) => {}
                // One record the chain refuses must not hold up the others.
                Err(AnchorError::Chain(ChainError::Rejected(e))) => {
                    warn!(tree_size = size, error = %e, "the chain refused a request for this anchor; will retry");
                }
                Err(e) => return Err(e),
            }
        }
        let pending = self
            .open_records()
            .iter()
            .any(|r| r.status == AnchorStatus::AnchorPending);
        if !pending {
            rep.started = self.maybe_start().await?;
        }
        Ok(rep)
    }

    async fn reconcile(
        &self,
        mut rec: AnchorRecord,
        head: u64,
        finalized: Option<u64>,
    ) -> Result<Option<AnchorRecord>, AnchorError> {
        match rec.status {
            AnchorStatus::AnchorPending => self.reconcile_pending(rec, head, finalized).await,
            AnchorStatus::Anchored | AnchorStatus::Confirmed => {
                let receipt_block = match rec.tx_hash.as_deref() {
                    Some(t) => {
                        let tx = parse_hex::<32>(t).map_err(|e| {
                            AnchorError::Corrupt(format!("record {}: {e}", rec.tree_size))
                        })?;
                        self.call(self.chain.receipt(&tx))
                            .await?
                            .map(|inc| inc.block_number)
                    }
                    // Adopted anchor (no transaction of ours): the contract is the witness.
                    None => self
                        .call(self.chain.anchor_at(&self.log_id, rec.tree_size))
                        .await?
                        .filter(|on| hex0x(&on.root) == rec.root)
                        .map(|on| on.block_number),
                };
                let canonical = match (receipt_block, rec.block_number) {
                    (Some(b), Some(n)) if b == n => self
                        .call(self.chain.block(n))
                        .await?
                        .map(|(h, _)| hex0x(&h) == rec.block_hash.clone().unwrap_or_default())
                        .unwrap_or(false),
                    _ => false,
                };
                if !canonical {
                    warn!(
                        tree_size = rec.tree_size,
                        block = rec.block_number,
                        "anchor is no longer in the canonical chain (reorg or chain reset); back to pending"
                    );
                    rec.status = AnchorStatus::AnchorPending;
                    rec.tx_hash = None;
                    rec.block_number = None;
                    rec.block_hash = None;
                    rec.block_timestamp = None;
                    rec.reorgs += 1;
                    self.save(&rec)?;
                    // Re-send at once rather than on the next tick.
                    return self.reconcile_pending(rec, head, finalized).await;
                }
                self.advance(rec, head, finalized).map(Some)
            }
            AnchorStatus::Logged | AnchorStatus::Finalized => Ok(None),
        }
    }

    /// Moves an on-chain record to confirmed / finalized as the chain grows.
    fn advance(
        &self,
        mut rec: AnchorRecord,
        head: u64,
        finalized: Option<u64>,
    ) -> Result<AnchorRecord, AnchorError> {
        let n = rec.block_number.unwrap_or(u64::MAX);
        let before = rec.status;
        if head >= n
            && head - n + 1 >= self.settings.confirmations
            && rec.status < AnchorStatus::Confirmed
        {
            rec.status = AnchorStatus::Confirmed;
            rec.confirmed_at_ms = Some(now_ms());
        }
        if finalized.is_some_and(|f| f >= n) && rec.status == AnchorStatus::Confirmed {
            rec.status = AnchorStatus::Finalized;
            rec.finalized_at_ms = Some(now_ms());
        }
        if rec.status != before {
            info!(
                tree_size = rec.tree_size,
                block = n,
                status = rec.status.as_str(),
                "anchor advanced"
            );
            self.save(&rec)?;
        }
        Ok(rec)
    }

    async fn reconcile_pending(
        &self,
        mut rec: AnchorRecord,
        head: u64,
        finalized: Option<u64>,
    ) -> Result<Option<AnchorRecord>, AnchorError> {
        // Mined? Any attempt may be the one (fee bumps share a nonce).
        for a in rec.attempts.iter().rev() {
            let h = parse_hex::<32>(&a.hash).map_err(AnchorError::Corrupt)?;
            if let Some(inc) = self.call(self.chain.receipt(&h)).await? {
                if !inc.success {
                    error!(tree_size = rec.tree_size, tx = %a.hash, "anchor transaction reverted; dropping the record, the checkpoint will be retried");
                    self.svc.delete_anchor_record(&self.contract, &rec)?;
                    self.reload_open()?;
                    return Ok(None);
                }
                let ts = self.call(self.chain.block(inc.block_number)).await?;
                let Some((bh, ts)) = ts else {
                    // Receipt from a block past the head we saw: wait for the next tick.
                    return Ok(Some(rec));
                };
                if bh != inc.block_hash {
                    return Ok(Some(rec));
                }
                // The receipt alone is not proof: a call to an address without code succeeds
                // too. The contract must hold exactly our root at our size.
                let held = self
                    .call(self.chain.anchor_at(&self.log_id, rec.tree_size))
                    .await?;
                if held.map(|on| hex0x(&on.root)) != Some(rec.root.clone()) {
                    error!(tree_size = rec.tree_size, tx = %a.hash, contract = %rec.contract, "the anchor transaction succeeded but the contract does not hold the anchor (no contract code at the address?); not marking it anchored");
                    return Err(AnchorError::Conflict(format!(
                        "contract {} does not hold the anchor of tree size {} after transaction {}",
                        rec.contract, rec.tree_size, a.hash
                    )));
                }
                rec.status = AnchorStatus::Anchored;
                rec.tx_hash = Some(a.hash.clone());
                rec.block_number = Some(inc.block_number);
                rec.block_hash = Some(hex0x(&inc.block_hash));
                rec.block_timestamp = Some(ts);
                rec.gas_used = Some(inc.gas_used);
                rec.effective_gas_price = Some(inc.effective_gas_price);
                rec.anchored_at_ms.get_or_insert(now_ms());
                info!(tree_size = rec.tree_size, tx = %a.hash, block = inc.block_number, gas = inc.gas_used, "checkpoint anchored");
                self.save(&rec)?;
                return self.advance(rec, head, finalized).map(Some);
            }
        }
        let Some(last) = rec.attempts.last().cloned() else {
            // Intent without a transaction cannot be persisted by this code; treat as logged.
            self.svc.delete_anchor_record(&self.contract, &rec)?;
            self.reload_open()?;
            return Ok(None);
        };
        let mined_nonce = self.call(self.chain.nonce(false)).await?;
        if mined_nonce > last.nonce {
            // Our nonce was consumed without a receipt of ours (someone else used the key):
            // these signed bytes can never be mined. Sign again after everything pending.
            warn!(
                tree_size = rec.tree_size,
                had = last.nonce,
                mined = mined_nonce,
                "anchor nonce was used by another transaction; re-signing"
            );
            let next = self.call(self.chain.nonce(true)).await?;
            return self.resign_or_drop(rec, next, None).await;
        }
        if mined_nonce < last.nonce {
            // Lower nonces are not mined (a chain reset or a deep reorg dropped them). If an
            // older open record of ours holds one of them, it will be re-sent and ours follows;
            // otherwise the gap can never fill: sign again at the first free nonce.
            let filler = self.open_records().iter().any(|o| {
                o.tree_size < rec.tree_size
                    && o.status == AnchorStatus::AnchorPending
                    && o.attempts
                        .last()
                        .is_some_and(|a| a.nonce >= mined_nonce && a.nonce < last.nonce)
            });
            if !filler {
                warn!(tree_size = rec.tree_size, had = last.nonce, now = mined_nonce, "earlier transactions are gone from the chain; re-signing the anchor at the next free nonce");
                return self.resign_or_drop(rec, mined_nonce, None).await;
            }
        }
        let hash = parse_hex::<32>(&last.hash).map_err(AnchorError::Corrupt)?;
        if !self.call(self.chain.tx_known(&hash)).await? {
            info!(tree_size = rec.tree_size, tx = %last.hash, "anchor transaction not known to the node; re-sending the signed bytes");
            let raw = parse_hex_vec(&last.raw).map_err(AnchorError::Corrupt)?;
            match self.call(self.chain.send_raw(&raw)).await? {
                SendOutcome::Accepted => {}
                SendOutcome::NonceTooLow => {} // mined meanwhile; the next tick finds the receipt
                other => warn!(?other, "re-send refused"),
            }
            return Ok(Some(rec));
        }
        let age = now_ms() - last.sent_at_ms;
        if age >= self.settings.bump_after.as_millis() as i64 {
            return self.resign_or_drop(rec, last.nonce, Some(last.fees)).await;
        }
        Ok(Some(rec))
    }

    /// [`Self::resign`], except that a record the contract can no longer take (a larger tree
    /// size is anchored already) is dropped: the larger anchor covers its leaves.
    async fn resign_or_drop(
        &self,
        rec: AnchorRecord,
        nonce: u64,
        bump_from: Option<Fees>,
    ) -> Result<Option<AnchorRecord>, AnchorError> {
        let size = rec.tree_size;
        match self.resign(rec.clone(), nonce, bump_from).await {
            Err(AnchorError::Chain(ChainError::Rejected(m)))
                if m.contains("TreeSizeNotIncreasing") =>
            {
                warn!(tree_size = size, reason = %m, "a larger checkpoint is already anchored; dropping this anchor record (the larger anchor covers its leaves)");
                self.svc.delete_anchor_record(&self.contract, &rec)?;
                self.reload_open()?;
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// Caps fees to the configured limits.
    fn cap(&self, f: Fees) -> Fees {
        let max_fee = f.max_fee_per_gas.min(self.settings.max_fee_per_gas);
        Fees {
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: f
                .max_priority_fee_per_gas
                .min(self.settings.max_priority_fee_per_gas)
                .min(max_fee),
        }
    }

    /// Signs a new attempt for `rec` at `nonce` (a fee bump when `bump_from` is given),
    /// persists it, then sends it.
    async fn resign(
        &self,
        mut rec: AnchorRecord,
        nonce: u64,
        bump_from: Option<Fees>,
    ) -> Result<AnchorRecord, AnchorError> {
        let call = self.call_of(&rec)?;
        let suggested = self.call(self.chain.suggested_fees()).await?;
        let fees = match bump_from {
            Some(old) => {
                // Replacement needs >= 10 % more on both fields; use 12.5 %.
                let bump = |x: u128| x + x / 8 + 1;
                let f = self.cap(Fees {
                    max_fee_per_gas: bump(old.max_fee_per_gas).max(suggested.max_fee_per_gas),
                    max_priority_fee_per_gas: bump(old.max_priority_fee_per_gas)
                        .max(suggested.max_priority_fee_per_gas),
                });
                if f.max_fee_per_gas < bump(old.max_fee_per_gas)
                    || f.max_priority_fee_per_gas < bump(old.max_priority_fee_per_gas)
                {
                    warn!(tree_size = rec.tree_size, max_fee = old.max_fee_per_gas, "anchor transaction is stuck at the fee cap; raise chain.max_fee_gwei (or chain.max_priority_fee_gwei) to bump it");
                    // Restart the clock so the warning is not repeated every tick.
                    if let Some(a) = rec.attempts.last_mut() {
                        a.sent_at_ms = now_ms();
                    }
                    self.save(&rec)?;
                    return Ok(rec);
                }
                info!(
                    tree_size = rec.tree_size,
                    from = old.max_fee_per_gas,
                    to = f.max_fee_per_gas,
                    "fee-bumping a stuck anchor transaction"
                );
                f
            }
            None => self.cap(suggested),
        };
        let gas = match rec.attempts.last() {
            Some(a) if bump_from.is_some() => a.gas_limit,
            _ => self.gas_for(&call).await?,
        };
        let tx = self.chain.sign_anchor(&call, nonce, gas, fees)?;
        rec.attempts.push(TxAttempt {
            hash: hex0x(&tx.hash),
            raw: hex0x(&tx.raw),
            nonce,
            gas_limit: gas,
            fees,
            sent_at_ms: now_ms(),
        });
        rec.status = AnchorStatus::AnchorPending;
        self.save(&rec)?;
        self.send(&rec, &tx).await?;
        Ok(rec)
    }

    async fn gas_for(&self, call: &AnchorCall) -> Result<u64, AnchorError> {
        let est = self.call(self.chain.estimate_anchor(call)).await?;
        Ok(est + est / 4 + 10_000)
    }

    async fn send(&self, rec: &AnchorRecord, tx: &SignedTx) -> Result<(), AnchorError> {
        match self.call(self.chain.send_raw(&tx.raw)).await? {
            SendOutcome::Accepted => {
                info!(tree_size = rec.tree_size, tx = %hex0x(&tx.hash), "anchor transaction sent");
            }
            other => {
                warn!(
                    tree_size = rec.tree_size,
                    ?other,
                    "anchor transaction refused; will reconcile on the next tick"
                );
            }
        }
        Ok(())
    }

    fn call_of(&self, rec: &AnchorRecord) -> Result<AnchorCall, AnchorError> {
        Ok(AnchorCall {
            log_id: self.log_id,
            tree_size: rec.tree_size,
            root: parse_hex::<32>(&rec.root).map_err(AnchorError::Corrupt)?,
            checkpoint_hash: parse_hex::<32>(&rec.checkpoint_hash).map_err(AnchorError::Corrupt)?,
        })
    }

    /// Starts anchoring the newest checkpoint when it qualifies.
    async fn maybe_start(&self) -> Result<Option<u64>, AnchorError> {
        let Some(cp) = self.svc.latest_checkpoint()? else {
            return Ok(None);
        };
        if cp.size == 0 {
            return Ok(None);
        }
        let last = self.latest_record()?;
        if let Some(l) = &last {
            if cp.size <= l.tree_size || cp.size - l.tree_size < self.settings.min_new_leaves {
                return Ok(None);
            }
            let since = now_ms() - l.created_at_ms;
            if since < self.settings.interval.as_millis() as i64 {
                return Ok(None);
            }
        }
        self.start(&cp).await.map(Some)
    }

    async fn start(&self, cp: &SignedCheckpoint) -> Result<u64, AnchorError> {
        let root = cp.root_hash()?;
        let call = AnchorCall {
            log_id: self.log_id,
            tree_size: cp.size,
            root: *root.as_bytes(),
            checkpoint_hash: checkpoint_hash(&cp.note),
        };
        // Already on chain (e.g. anchored before our record was lost to a restore)? Adopt it.
        let adopted = match self
            .call(self.chain.anchor_at(&call.log_id, cp.size))
            .await?
        {
            Some(on) if on.root != call.root => {
                return Err(AnchorError::Conflict(format!(
                    "the contract holds a different root for tree size {}: {} (ours {})",
                    cp.size,
                    hex0x(&on.root),
                    hex0x(&call.root)
                )));
            }
            Some(on) => self
                .call(self.chain.block(on.block_number))
                .await?
                .map(|(h, _)| (on, h)),
            None => None,
        };
        if let Some((on, block_hash)) = adopted {
            warn!(
                tree_size = cp.size,
                block = on.block_number,
                "checkpoint is already anchored on chain without a record here; adopting it"
            );
            let rec = AnchorRecord {
                status: AnchorStatus::Anchored,
                block_number: Some(on.block_number),
                block_hash: Some(hex0x(&block_hash)),
                block_timestamp: Some(on.timestamp),
                anchored_at_ms: Some(now_ms()),
                ..self.new_record(&call, Vec::new())
            };
            self.save(&rec)?;
            return Ok(cp.size);
        }
        let nonce = self.call(self.chain.nonce(true)).await?;
        let gas = self.gas_for(&call).await?;
        let fees = self.cap(self.call(self.chain.suggested_fees()).await?);
        let tx = self.chain.sign_anchor(&call, nonce, gas, fees)?;
        let rec = self.new_record(
            &call,
            vec![TxAttempt {
                hash: hex0x(&tx.hash),
                raw: hex0x(&tx.raw),
                nonce,
                gas_limit: gas,
                fees,
                sent_at_ms: now_ms(),
            }],
        );
        // Intent and signed bytes are durable before anything leaves the process.
        self.save(&rec)?;
        self.send(&rec, &tx).await?;
        Ok(cp.size)
    }

    fn new_record(&self, call: &AnchorCall, attempts: Vec<TxAttempt>) -> AnchorRecord {
        AnchorRecord {
            chain_id: self.chain.chain_id(),
            contract: hex0x(&self.contract),
            log_id: hex0x(&self.log_id),
            tree_size: call.tree_size,
            root: hex0x(&call.root),
            checkpoint_hash: hex0x(&call.checkpoint_hash),
            status: AnchorStatus::AnchorPending,
            attempts,
            tx_hash: None,
            block_number: None,
            block_hash: None,
            block_timestamp: None,
            gas_used: None,
            effective_gas_price: None,
            created_at_ms: now_ms(),
            anchored_at_ms: None,
            confirmed_at_ms: None,
            finalized_at_ms: None,
            reorgs: 0,
        }
    }

    /// The newest record (any state), if any.
    pub fn latest_record(&self) -> Result<Option<AnchorRecord>> {
        self.last
            .read()
            .map(|g| g.clone())
            .map_err(|_| ServiceError::Internal("anchor lock poisoned".into()))
    }

    /// The smallest record covering leaf `index` that is on chain as far as the worker knows,
    /// or else the first pending one covering it.
    pub fn covering_record(&self, index: u64) -> Result<Option<AnchorRecord>> {
        let recs = self
            .svc
            .anchor_records(self.chain.chain_id(), &self.contract, index + 1, 4)?;
        let first_pending = recs.first().cloned();
        Ok(recs
            .into_iter()
            .find(|r| r.status.on_chain())
            .or(first_pending))
    }

    /// The anchoring state of leaf `index` for a scan: *anchored* / *confirmed* only after a
    /// live check that the block is canonical now; an unreachable RPC reads as pending.
    pub async fn anchor_view(&self, index: u64) -> AnchorView {
        self.view_and_record(index).await.0
    }

    /// [`Self::anchor_view`] and, when it says the anchor is on chain, the record behind it
    /// (one store read for both).
    async fn view_and_record(&self, index: u64) -> (AnchorView, Option<AnchorRecord>) {
        let mut view = AnchorView {
            status: AnchorStatus::Logged,
            chain_id: self.chain.chain_id(),
            contract: self.contract_hex.clone(),
            tx_hash: None,
            block_number: None,
            tree_size: None,
        };
        let rec = match self.covering_record(index) {
            Ok(Some(r)) => r,
            Ok(None) => return (view, None),
            Err(e) => {
                warn!(error = %e, "anchor state unreadable; reporting pending");
                view.status = AnchorStatus::AnchorPending;
                return (view, None);
            }
        };
        view.tree_size = Some(rec.tree_size);
        view.status = AnchorStatus::AnchorPending;
        if !rec.status.on_chain() {
            return (view, None);
        }
        let (Some(n), Some(bh)) = (rec.block_number, rec.block_hash.as_deref()) else {
            return (view, None);
        };
        if rec.status != AnchorStatus::Finalized {
            match self.canonical_hash(n).await {
                Some(Some(h)) if hex0x(&h) == bh => {}
                Some(_) => {
                    // Not canonical any more: let the worker re-anchor now.
                    self.wake.notify_one();
                    return (view, None);
                }
                None => return (view, None),
            }
        }
        view.status = rec.status;
        view.tx_hash = rec.tx_hash.clone();
        view.block_number = rec.block_number;
        (view, Some(rec))
    }

    /// The canonical hash of block `n` from a fetch that started after this call did (so a
    /// reorg before the scan is always seen); concurrent scans share one fetch. `None` when the
    /// RPC is unreachable.
    async fn canonical_hash(&self, n: u64) -> Option<Option<Word>> {
        if !self.rpc_ok.load(Ordering::Relaxed) {
            return None;
        }
        let t0 = Instant::now();
        let mut g = self.live.lock().await;
        if let Some((started, h)) = g.blocks.get(&n) {
            if *started >= t0 {
                return Some(*h);
            }
        }
        let started = Instant::now();
        let timeout = self.settings.rpc_timeout.min(Duration::from_secs(1));
        match tokio::time::timeout(timeout, self.chain.block(n)).await {
            Ok(Ok(b)) => {
                let h = b.map(|(h, _)| h);
                if g.blocks.len() > 256 {
                    g.blocks.clear();
                }
                g.blocks.insert(n, (started, h));
                Some(h)
            }
            _ => {
                self.rpc_ok.store(false, Ordering::Relaxed);
                self.wake.notify_one();
                None
            }
        }
    }
}

/// Why a tick failed.
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    /// The chain call failed.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// The store failed.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A stored record is unreadable.
    #[error("corrupt anchor record: {0}")]
    Corrupt(String),
    /// The chain disagrees with our log.
    #[error("{0}")]
    Conflict(String),
}

/// Where the HTTP edge finds the anchoring worker: off (the service does not anchor), waiting
/// (configured, the chain not reached yet: scans say pending), or ready.
pub struct AnchorSlot {
    src: std::sync::OnceLock<Arc<dyn AnchorSource>>,
    waiting: Option<AnchorView>,
}

impl AnchorSlot {
    /// The service does not anchor: verdicts and bundles carry no anchor.
    pub fn off() -> AnchorSlot {
        AnchorSlot {
            src: std::sync::OnceLock::new(),
            waiting: None,
        }
    }

    /// A running worker.
    pub fn ready(src: Arc<dyn AnchorSource>) -> AnchorSlot {
        let s = Self::off();
        let _ = s.src.set(src);
        s
    }

    /// Anchoring is configured but the chain is not reached yet; until [`Self::set`], every
    /// item reads as `anchor_pending` on `chain_id` / `contract` (as configured; may be empty).
    pub fn waiting(chain_id: u64, contract: String) -> AnchorSlot {
        AnchorSlot {
            src: std::sync::OnceLock::new(),
            waiting: Some(AnchorView {
                status: AnchorStatus::AnchorPending,
                chain_id,
                contract,
                tx_hash: None,
                block_number: None,
                tree_size: None,
            }),
        }
    }

    /// Installs the worker once the chain is reached.
    pub fn set(&self, src: Arc<dyn AnchorSource>) {
        let _ = self.src.set(src);
    }

    /// Whether the service anchors (ready or waiting).
    pub fn enabled(&self) -> bool {
        self.src.get().is_some() || self.waiting.is_some()
    }

    /// The anchoring state of leaf `index`; `None` when the service does not anchor.
    pub async fn view(&self, index: u64) -> Option<AnchorView> {
        match self.src.get() {
            Some(s) => Some(s.view(index).await),
            None => self.waiting.clone(),
        }
    }

    /// The anchoring facts for a bundle; `None` when the service does not anchor.
    pub async fn bundle_anchoring(&self, index: u64) -> Option<super::bundle::BundleAnchoring> {
        match self.src.get() {
            Some(s) => Some(s.bundle_anchoring(index).await),
            None => self
                .waiting
                .clone()
                .map(|view| super::bundle::BundleAnchoring { view, record: None }),
        }
    }
}

/// The anchoring worker as the HTTP edge sees it (object-safe, chain-agnostic).
pub trait AnchorSource: Send + Sync {
    /// The live anchoring state of leaf `index` (see [`Anchorer::anchor_view`]).
    fn view(&self, index: u64) -> std::pin::Pin<Box<dyn Future<Output = AnchorView> + Send + '_>>;
    /// The anchoring facts for a proof bundle of leaf `index`.
    fn bundle_anchoring(
        &self,
        index: u64,
    ) -> std::pin::Pin<Box<dyn Future<Output = super::bundle::BundleAnchoring> + Send + '_>>;
}

impl<C: ChainPort> AnchorSource for Anchorer<C> {
    fn view(&self, index: u64) -> std::pin::Pin<Box<dyn Future<Output = AnchorView> + Send + '_>> {
        Box::pin(self.anchor_view(index))
    }

    fn bundle_anchoring(
        &self,
        index: u64,
    ) -> std::pin::Pin<Box<dyn Future<Output = super::bundle::BundleAnchoring> + Send + '_>> {
        Box::pin(async move {
            let (view, record) = self.view_and_record(index).await;
            super::bundle::BundleAnchoring { view, record }
        })
    }
}

#[cfg(test)]
mod tests {
    //! The state machine against an in-memory chain with a pool, blocks, reorgs and outages.
    //! The same paths run against a real anvil in `tests/anchoring.rs`.

    use std::collections::{BTreeMap, HashMap};
    use std::sync::Mutex;

    use sha2::{Digest, Sha256};

    use super::*;
    use crate::merkle;
    use crate::service::log::PendingLeaf;
    use crate::service::setup::test_service;

    #[derive(Default)]
    struct State {
        /// Canonical blocks: (hash, transactions).
        blocks: Vec<(Word, Vec<Word>)>,
        pool: Vec<Word>,
        txs: HashMap<Word, (u64, AnchorCall, Fees)>,
        nonce: u64,
        anchors: BTreeMap<u64, Word>,
        down: bool,
        automine: bool,
        salt: u64,
        sent: usize,
    }

    struct FakeChain(Mutex<State>);

    impl FakeChain {
        fn new(automine: bool) -> FakeChain {
            let mut s = State {
                automine,
                ..State::default()
            };
            s.blocks.push(([0xb0; 32], Vec::new()));
            FakeChain(Mutex::new(s))
        }
        fn st(&self) -> std::sync::MutexGuard<'_, State> {
            self.0.lock().unwrap()
        }
        fn up(&self) -> Result<std::sync::MutexGuard<'_, State>, ChainError> {
            let s = self.st();
            if s.down {
                return Err(ChainError::Unavailable("connection refused".into()));
            }
            Ok(s)
        }
        /// Mines one block with the pool's transactions that are next in nonce order.
        fn mine(&self) {
            let mut s = self.st();
            Self::mine_locked(&mut s);
        }
        fn mine_locked(s: &mut State) {
            let mut included = Vec::new();
            loop {
                let next = s.pool.iter().position(|h| s.txs[h].0 == s.nonce);
                let Some(i) = next else { break };
                let h = s.pool.remove(i);
                let (_, call, _) = s.txs[&h];
                s.nonce += 1;
                let latest = s.anchors.keys().next_back().copied().unwrap_or(0);
                if call.tree_size > latest {
                    s.anchors.insert(call.tree_size, call.root);
                }
                included.push(h);
            }
            s.salt += 1;
            let hash: Word = Sha256::digest(format!("block {} {}", s.blocks.len(), s.salt)).into();
            s.blocks.push((hash, included));
        }
        /// Replaces the last `depth` blocks with empty ones; their transactions are dropped.
        fn reorg(&self, depth: usize) {
            let mut s = self.st();
            for _ in 0..depth {
                let (_, txs) = s.blocks.pop().unwrap();
                for h in txs {
                    s.nonce -= 1;
                    let size = s.txs[&h].1.tree_size;
                    s.anchors.remove(&size);
                }
            }
            for _ in 0..depth {
                Self::mine_locked(&mut s);
            }
        }
        fn find(s: &State, h: &Word) -> Option<u64> {
            s.blocks
                .iter()
                .position(|(_, txs)| txs.contains(h))
                .map(|n| n as u64)
        }
    }

    impl ChainPort for FakeChain {
        fn chain_id(&self) -> u64 {
            31337
        }
        fn contract(&self) -> Address {
            [0xc0; 20]
        }
        fn account(&self) -> Address {
            [0xa0; 20]
        }
        async fn head(&self) -> Result<u64, ChainError> {
            Ok(self.up()?.blocks.len() as u64 - 1)
        }
        async fn finalized(&self) -> Result<Option<u64>, ChainError> {
            Ok((self.up()?.blocks.len() as u64).checked_sub(3))
        }
        async fn block(&self, n: u64) -> Result<Option<(Word, u64)>, ChainError> {
            Ok(self
                .up()?
                .blocks
                .get(n as usize)
                .map(|b| (b.0, 1_700_000_000 + n)))
        }
        async fn nonce(&self, pending: bool) -> Result<u64, ChainError> {
            let s = self.up()?;
            let mut n = s.nonce;
            if pending {
                while s.pool.iter().any(|h| s.txs[h].0 == n) {
                    n += 1;
                }
            }
            Ok(n)
        }
        async fn suggested_fees(&self) -> Result<Fees, ChainError> {
            drop(self.up()?);
            Ok(Fees {
                max_fee_per_gas: 2_000_000_000,
                max_priority_fee_per_gas: 1_000_000_000,
            })
        }
        async fn estimate_anchor(&self, call: &AnchorCall) -> Result<u64, ChainError> {
            let s = self.up()?;
            let latest = s.anchors.keys().next_back().copied().unwrap_or(0);
            if call.tree_size <= latest {
                return Err(ChainError::Rejected("TreeSizeNotIncreasing".into()));
            }
            Ok(100_000)
        }
        fn sign_anchor(
            &self,
            call: &AnchorCall,
            nonce: u64,
            _gas: u64,
            fees: Fees,
        ) -> Result<SignedTx, ChainError> {
            let hash: Word = Sha256::digest(format!(
                "{nonce} {} {} {}",
                call.tree_size, fees.max_fee_per_gas, fees.max_priority_fee_per_gas
            ))
            .into();
            self.st().txs.insert(hash, (nonce, *call, fees));
            Ok(SignedTx {
                hash,
                raw: hash.to_vec(),
            })
        }
        async fn send_raw(&self, raw: &[u8]) -> Result<SendOutcome, ChainError> {
            let mut s = self.up()?;
            s.sent += 1;
            let h: Word = raw.try_into().unwrap();
            let (nonce, _, fees) = s.txs[&h];
            if nonce < s.nonce {
                return Ok(SendOutcome::NonceTooLow);
            }
            if s.pool.contains(&h) {
                return Ok(SendOutcome::Accepted);
            }
            if let Some(i) = s.pool.iter().position(|p| s.txs[p].0 == nonce) {
                let old = s.txs[&s.pool[i]].2;
                if fees.max_fee_per_gas * 10 < old.max_fee_per_gas * 11 {
                    return Ok(SendOutcome::Underpriced);
                }
                s.pool.remove(i);
            }
            s.pool.push(h);
            if s.automine {
                Self::mine_locked(&mut s);
            }
            Ok(SendOutcome::Accepted)
        }
        async fn receipt(&self, h: &Word) -> Result<Option<Inclusion>, ChainError> {
            let s = self.up()?;
            Ok(Self::find(&s, h).map(|n| Inclusion {
                block_number: n,
                block_hash: s.blocks[n as usize].0,
                success: true,
                gas_used: 90_000,
                effective_gas_price: 1_500_000_000,
            }))
        }
        async fn tx_known(&self, h: &Word) -> Result<bool, ChainError> {
            let s = self.up()?;
            Ok(s.pool.contains(h) || Self::find(&s, h).is_some())
        }
        async fn anchor_at(
            &self,
            _log: &Word,
            size: u64,
        ) -> Result<Option<OnChainAnchor>, ChainError> {
            let s = self.up()?;
            Ok(s.anchors.get(&size).map(|r| OnChainAnchor {
                tree_size: size,
                root: *r,
                checkpoint_hash: [0; 32],
                block_number: 0,
                timestamp: 0,
            }))
        }
    }

    fn settings() -> AnchorSettings {
        AnchorSettings {
            interval: Duration::ZERO,
            bump_after: Duration::from_secs(3600),
            rpc_timeout: Duration::from_secs(1),
            ..AnchorSettings::default()
        }
    }

    fn grow(svc: &Service, n: usize) {
        let leaves = (0..n)
            .map(|i| {
                let data = format!("leaf {} {i}", svc.log_size().unwrap()).into_bytes();
                PendingLeaf {
                    hash: merkle::leaf_hash(&data),
                    data,
                }
            })
            .collect();
        svc.append_leaves(leaves, |_, _| Ok(())).unwrap();
        svc.checkpoint_now().unwrap();
    }

    fn setup(automine: bool) -> (Arc<Service>, Arc<FakeChain>, Arc<Anchorer<FakeChain>>) {
        let (svc, _) = test_service();
        let svc = Arc::new(svc);
        let chain = Arc::new(FakeChain::new(automine));
        let a = Anchorer::new(svc.clone(), chain.clone(), settings()).unwrap();
        (svc, chain, a)
    }

    async fn status(a: &Anchorer<FakeChain>) -> AnchorStatus {
        a.latest_record()
            .unwrap()
            .map(|r| r.status)
            .unwrap_or(AnchorStatus::Logged)
    }

    #[tokio::test]
    async fn walks_every_state_in_order() {
        let (svc, chain, a) = setup(false);
        assert_eq!(a.anchor_view(0).await.status, AnchorStatus::Logged);
        a.tick().await.unwrap();
        assert!(
            a.latest_record().unwrap().is_none(),
            "an empty log is not anchored"
        );
        grow(&svc, 3);
        let rep = a.tick().await.unwrap();
        assert_eq!(rep.started, Some(3));
        assert_eq!(status(&a).await, AnchorStatus::AnchorPending);
        assert_eq!(a.anchor_view(0).await.status, AnchorStatus::AnchorPending);
        chain.mine();
        a.tick().await.unwrap();
        assert_eq!(status(&a).await, AnchorStatus::Anchored);
        let v = a.anchor_view(2).await;
        assert_eq!((v.status, v.tree_size), (AnchorStatus::Anchored, Some(3)));
        assert!(v.tx_hash.is_some() && v.block_number == Some(1));
        assert_eq!(
            a.anchor_view(3).await.status,
            AnchorStatus::Logged,
            "leaf 3 is not covered"
        );
        chain.mine();
        a.tick().await.unwrap();
        assert_eq!(status(&a).await, AnchorStatus::Confirmed);
        chain.mine();
        chain.mine();
        a.tick().await.unwrap();
        assert_eq!(status(&a).await, AnchorStatus::Finalized);
        let r = a.latest_record().unwrap().unwrap();
        assert!(
            r.anchored_at_ms.is_some()
                && r.confirmed_at_ms.is_some()
                && r.finalized_at_ms.is_some()
        );
        // Nothing new: no new anchor. New leaves: the next one, with a larger size.
        assert_eq!(a.tick().await.unwrap().started, None);
        grow(&svc, 2);
        assert_eq!(a.tick().await.unwrap().started, Some(5));
    }

    #[tokio::test]
    async fn a_restart_resends_the_persisted_transaction_and_never_anchors_twice() {
        let (svc, chain, a) = setup(false);
        grow(&svc, 4);
        a.tick().await.unwrap();
        let first = a.latest_record().unwrap().unwrap();
        // The node loses the pool (e.g. it restarted) and our process restarts too.
        chain.st().pool.clear();
        drop(a);
        let a = Anchorer::new(svc.clone(), chain.clone(), settings()).unwrap();
        a.tick().await.unwrap();
        assert_eq!(
            chain.st().pool.len(),
            1,
            "the same signed bytes were re-sent"
        );
        assert_eq!(a.latest_record().unwrap().unwrap().attempts, first.attempts);
        chain.mine();
        a.tick().await.unwrap();
        a.tick().await.unwrap();
        assert_eq!(status(&a).await, AnchorStatus::Anchored);
        assert_eq!(chain.st().anchors.len(), 1);
    }

    #[tokio::test]
    async fn a_reorg_is_seen_by_scans_at_once_and_the_anchor_is_resent() {
        let (svc, chain, a) = setup(true);
        grow(&svc, 2);
        a.tick().await.unwrap();
        a.tick().await.unwrap();
        assert_eq!(a.anchor_view(0).await.status, AnchorStatus::Anchored);
        let before = a.latest_record().unwrap().unwrap();
        chain.reorg(1);
        // Before the worker runs, a scan already refuses to call it anchored.
        assert_eq!(a.anchor_view(0).await.status, AnchorStatus::AnchorPending);
        a.tick().await.unwrap();
        a.tick().await.unwrap();
        let after = a.latest_record().unwrap().unwrap();
        assert_eq!(after.status, AnchorStatus::Anchored);
        assert_eq!(after.reorgs, 1);
        assert_ne!(after.block_hash, before.block_hash);
        assert_eq!(a.anchor_view(1).await.status, AnchorStatus::Anchored);
        assert_eq!(chain.st().anchors.len(), 1);
    }

    #[tokio::test]
    async fn a_nonce_used_elsewhere_is_replaced_and_a_stuck_tx_is_bumped_within_the_cap() {
        let (svc, chain, a) = setup(false);
        grow(&svc, 2);
        a.tick().await.unwrap();
        // Someone else used our nonce.
        chain.st().pool.clear();
        chain.st().nonce += 1;
        a.tick().await.unwrap();
        let r = a.latest_record().unwrap().unwrap();
        assert_eq!(r.attempts.len(), 2);
        assert_eq!(r.attempts[1].nonce, 1);
        // Stuck: bumped by 12.5 % until the cap, then left alone.
        let mut s = settings();
        s.bump_after = Duration::ZERO;
        s.max_fee_per_gas = 2_400_000_000;
        let a = Anchorer::new(svc.clone(), chain.clone(), s).unwrap();
        a.tick().await.unwrap();
        let r = a.latest_record().unwrap().unwrap();
        assert_eq!(r.attempts.len(), 3);
        assert_eq!(r.attempts[2].fees.max_fee_per_gas, 2_250_000_001);
        a.tick().await.unwrap();
        a.tick().await.unwrap();
        let r = a.latest_record().unwrap().unwrap();
        assert_eq!(r.attempts.len(), 3, "no bump beyond the cap");
        chain.mine();
        a.tick().await.unwrap();
        let r = a.latest_record().unwrap().unwrap();
        assert_eq!(r.status, AnchorStatus::Anchored);
        assert_eq!(r.tx_hash.as_deref(), Some(r.attempts[2].hash.as_str()));
    }

    #[tokio::test]
    async fn an_unreachable_chain_reads_as_pending_and_recovers() {
        let (svc, chain, a) = setup(true);
        grow(&svc, 2);
        a.tick().await.unwrap();
        a.tick().await.unwrap();
        assert_eq!(a.anchor_view(0).await.status, AnchorStatus::Anchored);
        chain.st().down = true;
        assert!(matches!(
            a.tick().await,
            Err(AnchorError::Chain(ChainError::Unavailable(_)))
        ));
        assert_eq!(a.anchor_view(0).await.status, AnchorStatus::AnchorPending);
        grow(&svc, 1);
        chain.st().down = false;
        a.tick().await.unwrap();
        a.tick().await.unwrap();
        assert!(a.anchor_view(0).await.status.on_chain());
        assert!(a.anchor_view(2).await.status.on_chain());
        assert_eq!(
            chain.st().anchors.keys().copied().collect::<Vec<_>>(),
            vec![2, 3]
        );
    }

    #[tokio::test]
    async fn a_lost_chain_history_gets_the_anchor_resigned_at_the_free_nonce() {
        let (svc, chain, a) = setup(true);
        grow(&svc, 2);
        a.tick().await.unwrap();
        grow(&svc, 1);
        a.tick().await.unwrap();
        a.tick().await.unwrap();
        assert_eq!(chain.st().anchors.len(), 2);
        // The chain loses both blocks and the pool (a dev chain restored from an old state).
        {
            let mut s = chain.st();
            s.automine = false;
        }
        chain.reorg(2);
        chain.st().pool.clear();
        a.tick().await.unwrap();
        chain.mine();
        a.tick().await.unwrap();
        chain.mine();
        a.tick().await.unwrap();
        a.tick().await.unwrap();
        let recs = svc.anchor_records(31337, &[0xc0; 20], 0, 10).unwrap();
        assert!(recs.iter().all(|r| r.status.on_chain()), "{recs:?}");
        assert_eq!(
            chain.st().anchors.keys().copied().collect::<Vec<_>>(),
            vec![2, 3]
        );
    }
}
