//! What the custody chain shows: a lot's and an item's records with their proofs, paged and
//! cached lot views, and the EPCIS 2.0 export.

use super::*;

impl Custody {
    /// Holds placed, non-conformant attestations and recalls of the `days` days (1 to 366)
    /// ending with `today` (days since the epoch), per day and by enterprise: one key range per
    /// kind (the risk dashboard; never the records).
    pub fn custody_days(&self, today: i64, days: u32) -> Result<CustodyDays> {
        days::read(&*self.store, today, days.clamp(1, 366))
    }

    /// Every custody counter of the `days` days (1 to 366) ending with `today`, by kind, day
    /// and enterprise (the credit model's dated events): one key range per kind; `true` if a
    /// kind held more than [`days::MAX_KEYS`] keys (its newest days are then left out).
    pub fn custody_day_rows(&self, today: i64, days: u32) -> Result<(Vec<CustodyDayRow>, bool)> {
        days::rows(&*self.store, today, days.clamp(1, 366))
    }

    /// What custody recorded of one item of `lot` (released or sold on its own).
    pub fn item_state(&self, lot: &LotId, serial: &str) -> Result<ItemState> {
        let key = item_key(lot.gtin.as_str(), serial);
        Ok(match self.store.get(Cf::ItemCustody, &key)? {
            Some(b) => decode_json("item custody", &b)?,
            None => ItemState::default(),
        })
    }

    pub(super) fn leaves(&self, indexes: &[u64]) -> Result<Vec<ChainRecord>> {
        let raw = self.log.leaves_data(indexes)?;
        indexes
            .iter()
            .zip(raw)
            .map(|(i, data)| {
                let record = LeafRecord::parse(&data)
                    .map_err(|e| ServiceError::Internal(format!("stored leaf {i}: {e}")))?;
                Ok(ChainRecord {
                    leaf_index: *i,
                    data,
                    record,
                })
            })
            .collect()
    }

    pub(super) fn index_range(&self, cf: Cf, prefix: &[u8], limit: usize) -> Result<Vec<u64>> {
        let end = prefix_end(prefix);
        self.store
            .range(cf, prefix, end.as_deref(), limit)?
            .iter()
            .map(|(k, _)| tail_u64(k))
            .collect()
    }

    /// Every record of a lot (lot-wide and item-scoped), in log order.
    pub fn lot_records(&self, lot: &LotId, limit: usize) -> Result<Vec<ChainRecord>> {
        let lk = lot_key(lot);
        let mut idx = Vec::new();
        for scope in [SCOPE_LOT, SCOPE_ITEMS] {
            let mut p = lk.clone();
            p.push(scope);
            idx.extend(self.index_range(Cf::LotRecords, &p, limit)?);
        }
        idx.sort_unstable();
        idx.truncate(limit);
        self.leaves(&idx)
    }

    /// An item's custody chain: the lot's lot-wide records and the item-scoped records that
    /// name it, in log order.
    pub fn item_chain(&self, lot: &LotId, serial: &str) -> Result<Vec<ChainRecord>> {
        let mut idx = self.lot_wide_index(lot)?;
        idx.extend(self.item_scoped_index(lot, serial)?);
        idx.sort_unstable();
        self.leaves(&idx)
    }

    /// The lot's lot-wide records (custody and recalls), in log order.
    pub fn lot_wide_chain(&self, lot: &LotId) -> Result<Vec<ChainRecord>> {
        self.leaves(&self.lot_wide_index(lot)?)
    }

    /// The item-scoped records naming `serial`, in log order.
    pub fn item_scoped_chain(&self, lot: &LotId, serial: &str) -> Result<Vec<ChainRecord>> {
        self.leaves(&self.item_scoped_index(lot, serial)?)
    }

    pub(super) fn lot_wide_index(&self, lot: &LotId) -> Result<Vec<u64>> {
        let mut p = lot_key(lot);
        p.push(SCOPE_LOT);
        self.index_range(Cf::LotRecords, &p, MAX_LOT_RECORDS)
    }

    pub(super) fn item_scoped_index(&self, lot: &LotId, serial: &str) -> Result<Vec<u64>> {
        let ik = item_key(lot.gtin.as_str(), serial);
        self.index_range(Cf::ItemRecords, &ik, MAX_LOT_RECORDS)
    }

    /// The registry records of the actors that signed `chain` (for bundles), in log order.
    pub fn actor_records_for(&self, chain: &[ChainRecord]) -> Result<Vec<ChainRecord>> {
        let mut idx = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for r in chain {
            if let LeafRecord::Custody(s) = &r.record {
                if seen.insert(s.checked.statement.actor.clone()) {
                    if let Some(a) = self.registry.find_actor(&s.checked.statement.actor)? {
                        idx.extend(a.records);
                    }
                }
            }
        }
        idx.sort_unstable();
        self.leaves(&idx)
    }

    /// The records a verifier needs to check that `chain`'s signers were engaged by the
    /// owner of `gtin` (for bundles): the product's ownership records and the engagement
    /// records of every signer by every enterprise that owned it, in log order.
    pub fn engagement_records_for(
        &self,
        gtin: &str,
        chain: &[ChainRecord],
    ) -> Result<Vec<ChainRecord>> {
        let products = self.master.product_records(gtin)?;
        let mut owners: Vec<u64> = products.iter().map(|(_, e)| *e).collect();
        owners.sort_unstable();
        owners.dedup();
        let mut idx: Vec<u64> = products.iter().map(|(i, _)| *i).collect();
        let mut seen = std::collections::BTreeSet::new();
        for r in chain {
            if let LeafRecord::Custody(s) = &r.record {
                let actor = &s.checked.statement.actor;
                if seen.insert(actor.clone()) {
                    idx.extend(self.engagements.engagement_records(&owners, actor)?);
                }
            }
        }
        idx.sort_unstable();
        idx.dedup();
        self.leaves(&idx)
    }

    /// Views of chain records, resolving signers (unknown actors show as such).
    pub fn record_views(&self, chain: &[ChainRecord]) -> Result<Vec<RecordView>> {
        let mut actors: HashMap<String, Option<Actor>> = HashMap::new();
        let mut out = Vec::with_capacity(chain.len());
        for r in chain {
            let hash = leaf_hex(&r.data);
            match &r.record {
                LeafRecord::Custody(s) => {
                    let st = &s.checked.statement;
                    if !actors.contains_key(&st.actor) {
                        actors.insert(st.actor.clone(), self.registry.find_actor(&st.actor)?);
                    }
                    let actor = actors.get(&st.actor).and_then(|a| a.as_ref());
                    // Accepted records were valid when accepted; a key revoked (or rotated
                    // out) later from a time at or before the signature makes it suspect.
                    let key_revoked = actor
                        .and_then(|a| a.keys.iter().find(|k| k.kid == st.kid))
                        .is_some_and(|k| k.valid_at(st.signed_at).is_err());
                    let ev = serde_json::to_value(&st.event).unwrap_or_default();
                    out.push(RecordView {
                        leaf_index: r.leaf_index,
                        record_hash: hash,
                        kind: "custody".into(),
                        step: st.event.step().to_string(),
                        items: st.items.len(),
                        signer: st.actor.clone(),
                        organisation: actor.map(|a| a.organisation.clone()).unwrap_or_default(),
                        role: actor.map(|a| a.role.to_string()).unwrap_or_default(),
                        country: actor.map(|a| a.country.clone()).unwrap_or_default(),
                        kid: Some(st.kid.clone()),
                        time: st.time.clone(),
                        place: st.place.as_ref().and_then(|p| serde_json::to_value(p).ok()),
                        data: ev.get("data").cloned().unwrap_or_default(),
                        prev: st.prev.clone(),
                        signature_checked: true,
                        key_revoked,
                    });
                }
                LeafRecord::Recall(rc) => out.push(RecordView {
                    leaf_index: r.leaf_index,
                    record_hash: hash,
                    kind: "recall".into(),
                    step: "recall".into(),
                    items: 0,
                    signer: "operator".into(),
                    organisation: String::new(),
                    role: "operator".into(),
                    country: String::new(),
                    kid: None,
                    time: crate::service::rfc3339(rc.at),
                    place: None,
                    data: serde_json::json!({ "reason": rc.reason }),
                    prev: rc.prev.clone(),
                    signature_checked: false,
                    key_revoked: false,
                }),
                other => {
                    return Err(ServiceError::Internal(format!(
                        "leaf {} of kind {} indexed as a custody record",
                        r.leaf_index,
                        other.kind()
                    )))
                }
            }
        }
        Ok(out)
    }

    /// `GET /api/v1/lots/{id}`: the lot's state and one page of its records, from the page
    /// cache while the lot and the actor registry are unchanged.
    pub fn lot_view(&self, lot_id: &str, page: LotPage) -> Result<Arc<LotView>> {
        let lot = parse_lot_id(lot_id)?;
        let (from, limit) = page.bounds()?;
        let state = self.existing_lot_state(&lot)?;
        let (key, version) = self.page_cache_key(&lot, &state, from, limit, &[]);
        if let Some(v) = self.lot_pages.get(&key, &version) {
            return Ok(v);
        }
        let (chain, next_after, cost) = self.lot_page(&lot, from, limit)?;
        let view = Arc::new(LotView {
            lot: lot.to_string(),
            head: state.head.clone().unwrap_or_else(|| GENESIS.to_string()),
            state,
            records: self.record_views(&chain)?,
            next_after,
        });
        self.cache_page(
            &self.lot_pages,
            &lot,
            &view.state,
            (key, version),
            view.clone(),
            cost,
        )?;
        Ok(view)
    }

    /// The lot's state; a lot that exists without custody records has the default state.
    pub(super) fn existing_lot_state(&self, lot: &LotId) -> Result<LotState> {
        match self.find_lot_state(lot)? {
            Some(s) => Ok(s),
            None if self.lot_exists(&lot_key(lot))? => Ok(LotState::default()),
            None => Err(CustodyError::LotNotFound { lot: lot.clone() }.into()),
        }
    }

    /// Cache key and version of a page: the lot and page bounds; the lot's record count and
    /// head, the registry generation (views show signers' revocations) and `extra` (e.g. the
    /// batches of an EPCIS export).
    pub(super) fn page_cache_key(
        &self,
        lot: &LotId,
        state: &LotState,
        from: u64,
        limit: usize,
        extra: &[u64],
    ) -> (Vec<u8>, Vec<u8>) {
        let mut key = lot_key(lot);
        key.extend_from_slice(&u64_key(from));
        key.extend_from_slice(&u64_key(limit as u64));
        let mut version = u64_key(state.records).to_vec();
        version.extend_from_slice(state.head.as_deref().unwrap_or("").as_bytes());
        version.extend_from_slice(&u64_key(self.registry.generation()));
        for x in extra {
            version.extend_from_slice(&u64_key(*x));
        }
        (key, version)
    }

    /// Caches a built page unless the lot changed while it was built (its state is read again:
    /// a page must not pair a head with records of another moment). Every entry costs at least
    /// [`PAGE_COST_FLOOR`], so pages asked for with made-up bounds cannot pile up cheaply.
    pub(super) fn cache_page<V>(
        &self,
        cache: &crate::service::cache::ViewCache<V>,
        lot: &LotId,
        before: &LotState,
        (key, version): (Vec<u8>, Vec<u8>),
        value: Arc<V>,
        cost: usize,
    ) -> Result<()> {
        let now = self.find_lot_state(lot)?.unwrap_or_default();
        if now.records == before.records && now.head == before.head {
            cache.put(key, version, value, cost.max(PAGE_COST_FLOOR));
        }
        Ok(())
    }

    /// Records of the lot with leaf index ≥ `from`, at most `limit` and about
    /// [`PAGE_LEAF_BYTES`] of leaves; the next page's `after`, and the bytes read.
    pub(super) fn lot_page(
        &self,
        lot: &LotId,
        from: u64,
        limit: usize,
    ) -> Result<(Vec<ChainRecord>, Option<u64>, usize)> {
        let lk = lot_key(lot);
        let mut idx = Vec::new();
        for scope in [SCOPE_LOT, SCOPE_ITEMS] {
            let start = lot_record_key(&lk, scope, from);
            let mut p = lk.clone();
            p.push(scope);
            let end = prefix_end(&p);
            for (k, _) in self
                .store
                .range(Cf::LotRecords, &start, end.as_deref(), limit + 1)?
            {
                idx.push(tail_u64(&k)?);
            }
        }
        idx.sort_unstable();
        let more = idx.len() > limit;
        idx.truncate(limit);
        let mut out = Vec::with_capacity(idx.len());
        let mut bytes = 0;
        for chunk in idx.chunks(16) {
            for r in self.leaves(chunk)? {
                bytes += r.data.len();
                out.push(r);
                if bytes >= PAGE_LEAF_BYTES {
                    break;
                }
            }
            if bytes >= PAGE_LEAF_BYTES {
                break;
            }
        }
        let cut = out.len() < idx.len();
        let next = (more || cut)
            .then(|| out.last().map(|r| r.leaf_index))
            .flatten();
        Ok((out, next, bytes.max(1)))
    }

    /// The head a signer should use as `prev` for `lot_id` (zeros for a new lot).
    pub fn lot_head(&self, lot_id: &str) -> Result<String> {
        let lot = parse_lot_id(lot_id)?;
        Ok(self
            .find_lot_state(&lot)?
            .and_then(|s| s.head)
            .unwrap_or_else(|| GENESIS.to_string()))
    }

    pub(super) fn epcis_events(
        &self,
        lot: &LotId,
        chain: &[ChainRecord],
        for_item: Option<&str>,
    ) -> Result<Vec<crate::epcis::EpcisEvent>> {
        let views = self.record_views(chain)?;
        let mut out = Vec::with_capacity(chain.len());
        for (r, v) in chain.iter().zip(views) {
            let meta = crate::epcis::RecordMeta {
                leaf_index: r.leaf_index,
                record_hash: v.record_hash,
                signer: crate::epcis::Signer {
                    actor: v.signer,
                    organisation: v.organisation,
                    role: v.role,
                },
            };
            match &r.record {
                LeafRecord::Custody(s) => out.push(crate::epcis::custody_event(s, &meta, for_item)),
                LeafRecord::Recall(rc) => out.push(crate::epcis::recall_event(
                    rc,
                    lot.gtin.as_str(),
                    lot.lot.as_str(),
                    &meta,
                )),
                _ => {}
            }
        }
        Ok(out)
    }

    pub(super) fn commissioning(
        &self,
        batch_id: u64,
        serial: Option<&str>,
    ) -> Result<crate::epcis::EpcisEvent> {
        let sb = self.issuance.stored_batch(batch_id)?;
        let at = time::OffsetDateTime::from_unix_timestamp(sb.created_unix)
            .map_err(|e| ServiceError::Internal(format!("batch time: {e}")))?;
        Ok(crate::epcis::commissioning_event(
            &crate::epcis::Commissioning {
                gtin: &sb.batch.gtin,
                lot: &sb.batch.lot,
                at,
                quantity: serial.is_none().then_some(sb.batch.issued),
                serial,
                batch_id,
                expiry: sb.batch.expiry.as_deref(),
            },
        ))
    }

    /// The lot's issuance and custody history as EPCIS 2.0 documents, a page at a time (the
    /// commissioning events of its batches on the first page), with the next page's `after`;
    /// from the page cache while the lot, its batches and the registry are unchanged.
    pub fn lot_epcis(&self, lot_id: &str, page: LotPage) -> Result<Arc<EpcisPage>> {
        let lot = parse_lot_id(lot_id)?;
        let (from, limit) = page.bounds()?;
        let state = self.existing_lot_state(&lot)?;
        let batches = self.issuance.lot_batches(&lot, MAX_LOT_RECORDS)?;
        // The batches' statuses are read only on a miss: the version has their number and the
        // service's count of completed batches instead.
        let extra = [batches.len() as u64, self.issuance.batch_generation()];
        let (key, version) = self.page_cache_key(&lot, &state, from, limit, &extra);
        if let Some(p) = self.epcis_pages.get(&key, &version) {
            return Ok(p);
        }
        let (chain, next, cost) = self.lot_page(&lot, from, limit)?;
        let mut events = Vec::with_capacity(batches.len() + chain.len());
        if from == 0 {
            for b in batches {
                // An interrupted batch's codes are not valid: it commissioned nothing.
                if self.issuance.stored_batch(b)?.batch.status
                    == crate::service::issuance::BatchStatus::Complete
                {
                    events.push(self.commissioning(b, None)?);
                }
            }
        }
        events.extend(self.epcis_events(&lot, &chain, None)?);
        let page = Arc::new(EpcisPage {
            doc: crate::epcis::document(
                &format!("urn:traceseal:epcis:lot:{lot}"),
                crate::service::now(),
                &events,
            ),
            next_after: next,
        });
        self.cache_page(
            &self.epcis_pages,
            &lot,
            &state,
            (key, version),
            page.clone(),
            cost,
        )?;
        Ok(page)
    }

    /// One item's issuance and custody history as an EPCIS 2.0 document, for whoever presents
    /// its code.
    pub fn item_epcis(&self, code: &crate::code::Code) -> Result<serde_json::Value> {
        let item = self.issuance.issued_item(code)?;
        let serial = code.item().serial.as_str();
        let mut events = vec![self.commissioning(item.record.batch_id, Some(serial))?];
        let chain = self.item_chain(&item.lot, serial)?;
        events.extend(self.epcis_events(&item.lot, &chain, Some(serial))?);
        Ok(crate::epcis::document(
            &format!(
                "urn:traceseal:epcis:item:{}.{serial}",
                item.lot.gtin.as_str()
            ),
            crate::service::now(),
            &events,
        ))
    }

    /// Whether `step`'s records exist for the lot (used by tests and the demo loader).
    pub fn lot_has_step(&self, lot: &LotId, step: Step) -> Result<bool> {
        Ok(self.lot_records(lot, MAX_LOT_RECORDS)?.iter().any(|r| {
            matches!(&r.record, LeafRecord::Custody(s) if s.checked.statement.event.step() == step)
        }))
    }
}
