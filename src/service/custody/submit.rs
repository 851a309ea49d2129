//! Signed submissions, step by step (authenticate, authorise the role, the registered owner,
//! the key rechecked, the engagement, the lot, the head, commit), recalls and declared lots.

use super::group::Prepared;
use super::*;

impl Custody {
    /// The checks that need no lock, by the caller: shape and canonical form (400),
    /// authentication (401), role (403), registered product (422), leaf size (400), engagement
    /// (403). The group commit checks the key, owner and engagement again only if one of them
    /// changed since (the custody epoch moved).
    pub(super) fn prepare(&self, sub: &Submission, now: i64) -> Result<Prepared> {
        let epoch = self.locks.custody_epoch();
        let checked =
            record::parse_statement(&sub.statement).map_err(CustodyError::MalformedStatement)?;
        let signature =
            parse_signature(&sub.signature).map_err(CustodyError::MalformedSignature)?;
        // Owned once (a statement may name 10,000 items); everything below borrows it.
        let signed = SignedStatement { checked, signature };
        let (actor, leaf) = self.authenticate(&signed, now, epoch)?;
        let st = &signed.checked.statement;
        authorize_role(&actor, &st.event)?;
        let lot = &signed.checked.lot;
        let owner = self.owner_at(lot, epoch)?;
        if leaf.len() > crate::leaf::MAX_LEAF_LEN {
            return Err(CustodyError::RecordTooLarge {
                len: leaf.len(),
                max: crate::leaf::MAX_LEAF_LEN,
            }
            .into());
        }
        Engagements::check_engaged(
            &*self.engagement_at(owner, &actor.id, epoch)?,
            owner,
            &actor.id,
            lot.gtin.as_str(),
            st.signed_at,
            now,
        )?;
        let hash = merkle::leaf_hash(&leaf);
        Ok(Prepared {
            signed,
            actor,
            leaf,
            hash,
            now,
            owner,
            epoch,
        })
    }

    /// The statement is for this log, by a registered actor, signed (`verify_strict`) with one
    /// of its keys valid at `signed_at` and usable now, within the freshness window. Returns
    /// the actor and the record's leaf bytes. The registry is read as of custody `epoch`
    /// (see `signers.rs`).
    pub(super) fn authenticate(
        &self,
        signed: &SignedStatement,
        now: i64,
        epoch: u64,
    ) -> Result<(Arc<Actor>, Vec<u8>)> {
        let st = &signed.checked.statement;
        if st.log != self.log.origin() {
            return Err(CustodyError::WrongLog {
                signed_for: st.log.clone(),
                this_log: self.log.origin().to_string(),
            }
            .into());
        }
        let actor = self
            .actor_at(&st.actor, epoch)?
            .ok_or_else(|| CustodyError::UnknownActor {
                actor: st.actor.clone(),
            })?;
        let key = actor.keys.iter().find(|k| k.kid == st.kid).ok_or_else(|| {
            CustodyError::UnknownKey {
                actor: actor.id.clone(),
                kid: st.kid.clone(),
            }
        })?;
        let leaf = signed
            .verified_leaf(&self.registry.verifying_key(key)?)
            .ok_or_else(|| CustodyError::BadSignature {
                kid: key.kid.clone(),
                actor: actor.id.clone(),
            })?;
        key.valid_at(st.signed_at)?;
        key.usable_now(now)?;
        let window = self.custody_rules.freshness_secs as i64;
        if (now - st.signed_at).abs() > window {
            return Err(CustodyError::SignedAtOutOfWindow {
                signed_at: st.signed_at,
                now,
                window,
            }
            .into());
        }
        Ok((actor, leaf))
    }

    /// The registry may have changed since [`Service::authenticate`] (a revocation or
    /// rotation commits under the custody lock): checks the key again, under the lock.
    pub(super) fn recheck_key(&self, actor: &str, st: &record::Statement, now: i64) -> Result<()> {
        let key = self
            .registry
            .find_actor(actor)?
            .and_then(|a| a.keys.into_iter().find(|k| k.kid == st.kid))
            .ok_or_else(|| CustodyError::UnknownKey {
                actor: actor.to_string(),
                kid: st.kid.clone(),
            })?;
        key.valid_at(st.signed_at)?;
        Ok(key.usable_now(now)?)
    }

    /// The enterprise that owns the lot's GTIN (422 for a GTIN that is no registered product).
    pub(super) fn registered_owner(&self, lot: &LotId) -> Result<u64> {
        self.master
            .find_product(&lot.gtin)?
            .map(|p| p.enterprise_id)
            .ok_or_else(|| {
                CustodyError::UnregisteredProduct {
                    gtin: lot.gtin.as_str().to_string(),
                }
                .into()
            })
    }

    /// Recalls a lot (operator).
    #[instrument(skip(self, input))]
    pub fn recall(&self, lot_id: &str, input: &RecallInput) -> Result<Accepted> {
        let lot = parse_lot_id(lot_id)?;
        let reason = check_text("reason", &input.reason)?;
        let owner = self.registered_owner(&lot)?;
        let held = lock(&self.locks.custody)?;
        let lk = lot_key(&lot);
        if !self.lot_exists(&lk)? {
            return Err(CustodyError::LotNotFound { lot }.into());
        }
        // The state is written here, not by a group commit: its next read is the store's.
        self.heads.forget(&held, &lk);
        let mut state = self.lot_state(&lk)?;
        let prev = state.head.clone().unwrap_or_else(|| GENESIS.to_string());
        rules::recall(&mut state, &reason).map_err(CustodyError::AlreadyRecalled)?;
        let r = Recall {
            lot: lot.to_string(),
            prev,
            reason,
            class: input.class,
            at: now_unix(),
        };
        let data = r.leaf();
        let hash = merkle::leaf_hash(&data);
        let hash_hex = hex(hash.as_bytes());
        state.head = Some(hash_hex.clone());
        let first = self
            .log
            .append_leaves(vec![PendingLeaf { data, hash }], |first, wb| {
                wb.put(Cf::Lots, lk.clone(), encode_json(&state));
                wb.put(
                    Cf::LotRecords,
                    lot_record_key(&lk, SCOPE_LOT, first),
                    Vec::new(),
                );
                let day = r.at.div_euclid(86_400);
                days::stage(wb, CustodyKind::Recall, day, owner);
                if r.class == Some(RecallClass::Safety) {
                    days::stage(wb, CustodyKind::SafetyRecall, day, owner);
                }
                Ok(())
            })?;
        info!(lot = %lot, leaf = first, "recalled lot");
        Ok(Accepted {
            leaf_index: first,
            record_hash: hash_hex.clone(),
            lot: lot.to_string(),
            step: "recall".into(),
            head: hash_hex,
        })
    }

    /// The items an item-scoped statement names, resolved from their references: each must be
    /// an issued item of `lot` from a completed batch. Every unusable reference gets the same
    /// answer, naming only the reference: item references are public once a record names them,
    /// so an answer must not tell which serial, lot or batch one belongs to.
    pub(super) fn item_states(&self, lot: &LotId, refs: &[ItemRef]) -> Result<Vec<NamedItem>> {
        if refs.is_empty() {
            return Ok(Vec::new());
        }
        let unusable = |r: &ItemRef| CustodyError::UnknownItem {
            item: *r,
            lot: lot.clone(),
        };
        let mut keys = Vec::with_capacity(refs.len());
        for (r, k) in refs.iter().zip(self.issuance.item_keys_of(refs)?) {
            keys.push(k.ok_or_else(|| unusable(r))?);
        }
        let items = self.issuance.item_records(&keys)?;
        let states = self.store.multi_get(Cf::ItemCustody, &keys)?;
        let mut batch_ok: HashMap<u64, bool> = HashMap::new();
        let mut out = Vec::with_capacity(refs.len());
        for (((r, key), item), state) in refs.iter().zip(keys).zip(items).zip(states) {
            let rec = item.ok_or_else(|| {
                ServiceError::Internal(format!("item reference {r} without its item"))
            })?;
            let ok = match batch_ok.get(&rec.batch_id) {
                Some(b) => *b,
                None => {
                    let sb = self.issuance.stored_batch(rec.batch_id)?;
                    // An interrupted batch's codes are not valid.
                    let b = sb.batch.status == crate::service::issuance::BatchStatus::Complete
                        && key.starts_with(lot.gtin.as_str().as_bytes())
                        && sb.batch.lot == lot.lot.as_str();
                    batch_ok.insert(rec.batch_id, b);
                    b
                }
            };
            if !ok {
                return Err(unusable(r).into());
            }
            let st = match state {
                Some(v) => decode_json("item custody", &v)?,
                None => ItemState::default(),
            };
            out.push(NamedItem {
                label: r.to_string(),
                key,
                state: st,
            });
        }
        Ok(out)
    }

    /// Whether a lot exists: a batch of it was issued, or its importer declared it.
    pub(super) fn lot_exists(&self, lk: &[u8]) -> Result<bool> {
        if self.store.get(Cf::Lots, lk)?.is_some() {
            return Ok(true);
        }
        self.issuance.lot_has_batches(lk)
    }

    /// Declares a lot ahead of labelling, so an inspector can attest it before labels are
    /// printed. Returns the lot view and whether it was new (an existing lot is left as is).
    #[instrument(skip(self, input))]
    pub fn declare_lot(&self, input: &LotInput) -> Result<(Arc<LotView>, bool)> {
        let gtin =
            crate::gs1::Gtin::parse(&input.gtin).map_err(|e| InputError::parse("gtin", e))?;
        let lot_no = crate::gs1::Lot::parse(&input.lot).map_err(|e| InputError::parse("lot", e))?;
        if self.master.find_product(&gtin)?.is_none() {
            return Err(CustodyError::UnregisteredProduct {
                gtin: gtin.as_str().to_string(),
            }
            .into());
        }
        let lot = LotId { gtin, lot: lot_no };
        let lk = lot_key(&lot);
        let created = {
            let held = lock(&self.locks.custody)?;
            if self.lot_exists(&lk)? {
                false
            } else {
                self.heads.forget(&held, &lk);
                let state = LotState {
                    declared_at: Some(now_unix()),
                    ..LotState::default()
                };
                let mut wb = crate::store::WriteBatch::new();
                wb.put(Cf::Lots, lk, encode_json(&state));
                self.store.write(wb, crate::store::Durability::Synced)?;
                true
            }
        };
        if created {
            info!(lot = %lot, "declared lot");
        }
        Ok((
            self.lot_view(
                &lot.to_string(),
                LotPage {
                    after: None,
                    limit: None,
                },
            )?,
            created,
        ))
    }

    pub(super) fn lot_state(&self, lk: &[u8]) -> Result<LotState> {
        Ok(match self.store.get(Cf::Lots, lk)? {
            Some(v) => decode_json("lot state", &v)?,
            None => LotState::default(),
        })
    }

    // ----- read side -----

    /// The custody state of a lot, if anything was recorded.
    pub fn find_lot_state(&self, lot: &LotId) -> Result<Option<LotState>> {
        match self.store.get(Cf::Lots, &lot_key(lot))? {
            Some(v) => Ok(Some(decode_json("lot state", &v)?)),
            None => Ok(None),
        }
    }
}
