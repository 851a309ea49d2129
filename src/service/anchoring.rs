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

use super::base::{Result, ServiceError};
use super::log::LogBook;
use super::SignedCheckpoint;
use crate::store::schema::{
    anchor_low_water_key, anchor_record_key, decode_json, encode_json, encode_low_water,
    META_ANCHOR_GAS, META_ANCHOR_GWEI, META_DEPLOYMENT,
};
use crate::store::Store;
use crate::store::{Cf, Durability, WriteBatch};

mod reconcile;
mod slot;
mod worker;

pub use self::slot::{AnchorSlot, AnchorSource};
pub use self::worker::Anchorer;

/// One signed transaction sent for a record (several after fee bumps or a chain reset).
/// The anchoring facts a bundle is built with (from the worker, live-checked).
pub struct BundleAnchoring {
    /// The item's anchoring state as a scan would show it now.
    pub view: AnchorView,
    /// The record of the anchor covering the item, when `view` says it is on chain.
    pub record: Option<AnchorRecord>,
}

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

impl TxAttempt {
    /// The attempt of a transaction signed now (nonce, gas limit and fees as signed).
    fn signed(tx: &SignedTx, nonce: u64, gas_limit: u64, fees: Fees) -> TxAttempt {
        TxAttempt {
            hash: hex0x(&tx.hash),
            raw: hex0x(&tx.raw),
            nonce,
            gas_limit,
            fees,
            sent_at_ms: now_ms(),
        }
    }
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

impl AnchorRecord {
    /// What its receipt (if any) used and paid: (gas, gwei), as the totals count them.
    fn spent(&self) -> (i64, i64) {
        let gas = self.gas_used.unwrap_or(0);
        let wei = u128::from(gas) * self.effective_gas_price.unwrap_or(0);
        let clamp = |v: u128| i64::try_from(v).unwrap_or(i64::MAX);
        (clamp(u128::from(gas)), clamp(wei / 1_000_000_000))
    }
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

impl From<&crate::config::ChainConfig> for AnchorSettings {
    fn from(c: &crate::config::ChainConfig) -> Self {
        const GWEI: u128 = 1_000_000_000;
        AnchorSettings {
            confirmations: c.confirmations,
            interval: Duration::from_millis(c.anchor_interval_ms),
            min_new_leaves: c.min_new_leaves,
            poll: Duration::from_millis(c.poll_ms),
            bump_after: Duration::from_millis(c.fee_bump_after_ms),
            max_fee_per_gas: c.max_fee_gwei as u128 * GWEI,
            max_priority_fee_per_gas: c.max_priority_fee_gwei as u128 * GWEI,
            rpc_timeout: Duration::from_secs(5),
        }
    }
}

fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
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

/// The anchoring records: the contract deployment and one record per anchored checkpoint.
pub struct AnchorBook {
    store: Arc<dyn Store>,
}

impl AnchorBook {
    /// Anchor records in `store`.
    pub fn new(store: Arc<dyn Store>) -> AnchorBook {
        AnchorBook { store }
    }
}

impl AnchorBook {
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
        let start = anchor_record_key(chain_id, contract, from);
        let end = anchor_record_key(chain_id, contract, u64::MAX);
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
        let key = anchor_record_key(r.chain_id, contract, r.tree_size);
        let before = match self.store.get(Cf::Anchors, &key)? {
            Some(v) => decode_json::<AnchorRecord>("anchor record", &v)?.spent(),
            None => (0, 0),
        };
        let now = r.spent();
        let mut wb = WriteBatch::new();
        wb.put(Cf::Anchors, key, encode_json(r));
        // The totals follow the record's receipt: added when it gets one, taken off when a
        // reorg drops it (the record is written again without it).
        if now != before {
            wb.add(Cf::Meta, META_ANCHOR_GAS, now.0 - before.0);
            wb.add(Cf::Meta, META_ANCHOR_GWEI, now.1 - before.1);
        }
        if let Some(lw) = low_water {
            wb.put(
                Cf::Meta,
                anchor_low_water_key(r.chain_id, contract),
                encode_low_water(lw),
            );
        }
        Ok(self.store.write(wb, Durability::Synced)?)
    }

    /// Smallest tree size whose record may still be open (records below it are finalized).
    fn anchor_low_water(&self, chain_id: u64, contract: &Address) -> Result<u64> {
        match self
            .store
            .get(Cf::Meta, &anchor_low_water_key(chain_id, contract))?
        {
            Some(v) => Ok(crate::store::schema::decode_u64(&v)?),
            None => Ok(0),
        }
    }

    fn delete_anchor_record(&self, contract: &Address, r: &AnchorRecord) -> Result<()> {
        let mut wb = WriteBatch::new();
        wb.delete(
            Cf::Anchors,
            anchor_record_key(r.chain_id, contract, r.tree_size),
        );
        Ok(self.store.write(wb, Durability::Synced)?)
    }
}

/// Anchoring as the operator's health page shows it: the newest record, and the records not
/// finalized yet (from the low-water mark up), read without scanning the finalized ones, and
/// the gas every anchor transaction used and paid (kept as counters).
#[derive(Clone, Debug, Default)]
pub struct AnchorSummary {
    /// The newest record (any state), if any.
    pub latest: Option<AnchorRecord>,
    /// Records that may still change, oldest first (at most the limit asked for).
    pub open: Vec<AnchorRecord>,
    /// Gas used by every anchor transaction with a receipt in a canonical block, since the
    /// start.
    pub gas_used: u64,
    /// What they paid, in gwei.
    pub gwei_paid: u64,
}

impl AnchorSummary {
    /// The largest tree size on chain (anchored or better) among the records read.
    pub fn anchored_size(&self) -> Option<u64> {
        self.open
            .iter()
            .chain(self.latest.iter())
            .filter(|r| r.status.on_chain())
            .map(|r| r.tree_size)
            .max()
    }

    /// Records whose transaction is sent but not in a canonical block yet.
    pub fn pending(&self) -> usize {
        self.open
            .iter()
            .filter(|r| r.status == AnchorStatus::AnchorPending)
            .count()
    }
}

impl AnchorBook {
    /// The newest anchor record and the open ones of its deployment (at most `limit`).
    pub fn summary(&self, limit: usize) -> Result<AnchorSummary> {
        let Some((_, v)) = self.store.last(Cf::Anchors)? else {
            return Ok(AnchorSummary::default());
        };
        let latest: AnchorRecord = decode_json("anchor record", &v)?;
        let contract: Address = parse_hex(&latest.contract)
            .map_err(|e| ServiceError::Internal(format!("anchor record contract: {e}")))?;
        let from = self.anchor_low_water(latest.chain_id, &contract)?;
        let open = self.anchor_records(latest.chain_id, &contract, from, limit)?;
        let total = |k: &[u8]| -> Result<u64> {
            Ok(match self.store.get(Cf::Meta, k)? {
                Some(v) => crate::store::schema::decode_u64(&v)?,
                None => 0,
            })
        };
        Ok(AnchorSummary {
            latest: Some(latest),
            open,
            gas_used: total(META_ANCHOR_GAS)?,
            gwei_paid: total(META_ANCHOR_GWEI)?,
        })
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
    use crate::service::Service;

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
                let data = format!("leaf {} {i}", svc.log().log_size().unwrap()).into_bytes();
                PendingLeaf {
                    hash: merkle::leaf_hash(&data),
                    data,
                }
            })
            .collect();
        svc.log().append_leaves(leaves, |_, _| Ok(())).unwrap();
        svc.log().checkpoint_now().unwrap();
    }

    /// A worker over `svc`'s log and anchor records, sending through `chain`.
    fn anchorer(
        svc: &Service,
        chain: &Arc<FakeChain>,
        s: AnchorSettings,
    ) -> Arc<Anchorer<FakeChain>> {
        Anchorer::new(svc.log().clone(), svc.anchors().clone(), chain.clone(), s).unwrap()
    }

    fn setup(automine: bool) -> (Arc<Service>, Arc<FakeChain>, Arc<Anchorer<FakeChain>>) {
        let (svc, _) = test_service();
        let svc = Arc::new(svc);
        let chain = Arc::new(FakeChain::new(automine));
        let a = anchorer(&svc, &chain, settings());
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
        let spent = || {
            let s = svc.anchors().summary(10).unwrap();
            (s.gas_used, s.gwei_paid)
        };
        assert_eq!(spent(), (0, 0), "nothing mined yet");
        chain.mine();
        a.tick().await.unwrap();
        assert_eq!(status(&a).await, AnchorStatus::Anchored);
        // The fake chain's receipt: 90,000 gas at 1.5 gwei.
        assert_eq!(spent(), (90_000, 135_000));
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
        assert_eq!(
            spent(),
            (90_000, 135_000),
            "later writes of the record add nothing"
        );
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
        let a = anchorer(&svc, &chain, settings());
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
        let s = svc.anchors().summary(10).unwrap();
        assert_eq!(
            s.gas_used, 90_000,
            "the receipt the reorg dropped was taken off, the new one counted once"
        );
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
        let a = anchorer(&svc, &chain, s);
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
        let recs = svc
            .anchors()
            .anchor_records(31337, &[0xc0; 20], 0, 10)
            .unwrap();
        assert!(recs.iter().all(|r| r.status.on_chain()), "{recs:?}");
        assert_eq!(
            chain.st().anchors.keys().copied().collect::<Vec<_>>(),
            vec![2, 3]
        );
    }
}
