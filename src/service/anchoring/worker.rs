//! The anchoring worker: sends each new checkpoint's root to the registry contract, follows
//! it to confirmed and final, and answers scans with the live state of an item's anchor.

use super::*;

/// Cached answers of the live canonical-block check scans make.
pub(super) struct LiveCache {
    /// block number → (when the fetch started, canonical hash).
    pub(super) blocks: HashMap<u64, (Instant, Option<Word>)>,
}

/// The anchoring worker for one deployment.
pub struct Anchorer<C: ChainPort> {
    pub(super) log: Arc<LogBook>,
    pub(super) book: Arc<AnchorBook>,
    pub(super) chain: Arc<C>,
    pub(super) settings: AnchorSettings,
    pub(super) log_id: Word,
    pub(super) contract: Address,
    /// `contract` as `0x` hex (every scan's answer carries it).
    pub(super) contract_hex: String,
    /// Open (not finalized) records, ascending by size, as last persisted.
    pub(super) open: RwLock<Vec<AnchorRecord>>,
    /// The record of the largest tree size, as last persisted.
    pub(super) last: RwLock<Option<AnchorRecord>>,
    pub(super) live: tokio::sync::Mutex<LiveCache>,
    pub(super) rpc_ok: AtomicBool,
    pub(super) wake: tokio::sync::Notify,
}

impl<C: ChainPort> Anchorer<C> {
    /// A worker anchoring `log` through `chain`, keeping its records in `book`.
    pub fn new(
        log: Arc<LogBook>,
        book: Arc<AnchorBook>,
        chain: Arc<C>,
        settings: AnchorSettings,
    ) -> Result<Arc<Self>> {
        let log_id = log_id(log.origin());
        let contract = chain.contract();
        let a = Anchorer {
            log,
            book,
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
    pub(super) fn reload_open(&self) -> Result<()> {
        let chain_id = self.chain.chain_id();
        let mut open: Vec<AnchorRecord> = Vec::new();
        let mut last = None;
        let mut from = self.book.anchor_low_water(chain_id, &self.contract)?;
        loop {
            let page = self
                .book
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

    pub(super) fn open_records(&self) -> Vec<AnchorRecord> {
        self.open.read().map(|g| g.clone()).unwrap_or_default()
    }

    pub(super) fn save(&self, r: &AnchorRecord) -> Result<()> {
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
        self.book.put_anchor_record(&self.contract, r, low_water)?;
        *open = next;
        if let Ok(mut last) = self.last.write() {
            if last.as_ref().is_none_or(|l| l.tree_size <= r.tree_size) {
                *last = Some(r.clone());
            }
        }
        Ok(())
    }

    pub(super) async fn call<T>(
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

    /// Starts anchoring the newest checkpoint when it qualifies.
    pub(super) async fn maybe_start(&self) -> Result<Option<u64>, AnchorError> {
        let Some(cp) = self.log.latest_checkpoint()? else {
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

    pub(super) async fn start(&self, cp: &SignedCheckpoint) -> Result<u64, AnchorError> {
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
        let rec = self.new_record(&call, vec![TxAttempt::signed(&tx, nonce, gas, fees)]);
        // Intent and signed bytes are durable before anything leaves the process.
        self.save(&rec)?;
        self.send(&rec, &tx).await?;
        Ok(cp.size)
    }

    pub(super) fn new_record(&self, call: &AnchorCall, attempts: Vec<TxAttempt>) -> AnchorRecord {
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
            .book
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
    pub(super) async fn view_and_record(&self, index: u64) -> (AnchorView, Option<AnchorRecord>) {
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
    pub(super) async fn canonical_hash(&self, n: u64) -> Option<Option<Word>> {
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
