//! Reconciliation: what became of the transactions the worker sent (mined, confirmed,
//! final, reorged away, stuck, replaced), with fee bumps within the cap and re-signing.

use super::*;

impl<C: ChainPort> Anchorer<C> {
    pub(super) async fn reconcile(
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
    pub(super) fn advance(
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

    pub(super) async fn reconcile_pending(
        &self,
        rec: AnchorRecord,
        head: u64,
        finalized: Option<u64>,
    ) -> Result<Option<AnchorRecord>, AnchorError> {
        // Mined? Any attempt may be the one (fee bumps share a nonce).
        for a in rec.attempts.clone().iter().rev() {
            let h = parse_hex::<32>(&a.hash).map_err(|e| AnchorError::Corrupt(e.to_string()))?;
            if let Some(inc) = self.call(self.chain.receipt(&h)).await? {
                return self.mined(rec, a, inc, head, finalized).await;
            }
        }
        let Some(last) = rec.attempts.last().cloned() else {
            // Intent without a transaction cannot be persisted by this code; treat as logged.
            self.book.delete_anchor_record(&self.contract, &rec)?;
            self.reload_open()?;
            return Ok(None);
        };
        if let Some(nonce) = self.lost_nonce(&rec, &last).await? {
            return self.resign_or_drop(rec, nonce, None).await;
        }
        self.resend_or_bump(rec, last).await
    }

    /// Attempt `a` has receipt `inc`: a reverted transaction drops the record (the
    /// checkpoint will be retried); a mined one in a block we see, whose contract holds our
    /// root, marks the record anchored.
    async fn mined(
        &self,
        mut rec: AnchorRecord,
        a: &TxAttempt,
        inc: Inclusion,
        head: u64,
        finalized: Option<u64>,
    ) -> Result<Option<AnchorRecord>, AnchorError> {
        if !inc.success {
            error!(tree_size = rec.tree_size, tx = %a.hash, "anchor transaction reverted; dropping the record, the checkpoint will be retried");
            self.book.delete_anchor_record(&self.contract, &rec)?;
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
        self.advance(rec, head, finalized).map(Some)
    }

    /// Whether the record's nonce can no longer be mined, and if so the nonce to sign at
    /// again: ours was used by another transaction, or lower ones were dropped from the chain
    /// and no older record of ours will fill the gap.
    async fn lost_nonce(
        &self,
        rec: &AnchorRecord,
        last: &TxAttempt,
    ) -> Result<Option<u64>, AnchorError> {
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
            return Ok(Some(self.call(self.chain.nonce(true)).await?));
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
                return Ok(Some(mined_nonce));
            }
        }
        Ok(None)
    }

    /// A pending transaction that may still be mined: re-sent if the node forgot it,
    /// fee-bumped once it is older than the bump delay.
    async fn resend_or_bump(
        &self,
        rec: AnchorRecord,
        last: TxAttempt,
    ) -> Result<Option<AnchorRecord>, AnchorError> {
        let hash = parse_hex::<32>(&last.hash).map_err(|e| AnchorError::Corrupt(e.to_string()))?;
        if !self.call(self.chain.tx_known(&hash)).await? {
            info!(tree_size = rec.tree_size, tx = %last.hash, "anchor transaction not known to the node; re-sending the signed bytes");
            let raw = parse_hex_vec(&last.raw).map_err(|e| AnchorError::Corrupt(e.to_string()))?;
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
    pub(super) async fn resign_or_drop(
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
                self.book.delete_anchor_record(&self.contract, &rec)?;
                self.reload_open()?;
                Ok(None)
            }
            other => other.map(Some),
        }
    }

    /// Caps fees to the configured limits.
    pub(super) fn cap(&self, f: Fees) -> Fees {
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
    pub(super) async fn resign(
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
        rec.attempts.push(TxAttempt::signed(&tx, nonce, gas, fees));
        rec.status = AnchorStatus::AnchorPending;
        self.save(&rec)?;
        self.send(&rec, &tx).await?;
        Ok(rec)
    }

    pub(super) async fn gas_for(&self, call: &AnchorCall) -> Result<u64, AnchorError> {
        let est = self.call(self.chain.estimate_anchor(call)).await?;
        Ok(est + est / 4 + 10_000)
    }

    pub(super) async fn send(&self, rec: &AnchorRecord, tx: &SignedTx) -> Result<(), AnchorError> {
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

    pub(super) fn call_of(&self, rec: &AnchorRecord) -> Result<AnchorCall, AnchorError> {
        Ok(AnchorCall {
            log_id: self.log_id,
            tree_size: rec.tree_size,
            root: parse_hex::<32>(&rec.root).map_err(|e| AnchorError::Corrupt(e.to_string()))?,
            checkpoint_hash: parse_hex::<32>(&rec.checkpoint_hash)
                .map_err(|e| AnchorError::Corrupt(e.to_string()))?,
        })
    }
}
