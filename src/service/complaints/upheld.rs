//! Upheld complaints indexed by enterprise: one row per complaint while its status is
//! `resolved` (upheld), with its category and when it was upheld, kept in the same write as
//! the status change. The credit model reads them as dated events (`docs/credit-model.md`).

use super::{stage_upheld, Complaint, ComplaintStatus, ConsumerServices, Upheld};
use crate::service::base::Result;
use crate::store::schema::{decode_json, upheld_key_enterprise, META_UPHELD_INDEXED, UPHELD_RANGE};
use crate::store::{Cf, Durability, WriteBatch};

/// Most rows one read returns (the newest complaints' rows are left out beyond it).
pub const MAX_UPHELD: usize = 100_000;

impl ConsumerServices {
    /// Every upheld complaint by enterprise, as `(enterprise, row)` (at most [`MAX_UPHELD`]).
    pub fn upheld_complaints(&self) -> Result<Vec<(u64, Upheld)>> {
        let (start, end) = UPHELD_RANGE;
        self.store
            .range(Cf::Credit, start, Some(end), MAX_UPHELD)?
            .iter()
            .map(|(k, v)| {
                Ok((
                    upheld_key_enterprise(k)?,
                    decode_json("upheld complaint", v)?,
                ))
            })
            .collect()
    }

    /// One-time migration: index the complaints upheld before the index existed.
    pub(crate) fn index_upheld(&self) -> Result<()> {
        if self.store.get(Cf::Meta, META_UPHELD_INDEXED)?.is_some() {
            return Ok(());
        }
        let mut wb = WriteBatch::new();
        crate::store::for_each_pair(self.store.as_ref(), Cf::Complaints, 1024, |k, v| {
            let c: Complaint = decode_json("complaint", v)?;
            let n = crate::store::schema::decode_u64(k)?;
            if c.status == ComplaintStatus::Resolved {
                stage_upheld(&mut wb, n, &c);
            }
            Ok(())
        })?;
        wb.put(Cf::Meta, META_UPHELD_INDEXED, b"1".to_vec());
        self.store.write(wb, Durability::Synced)?;
        Ok(())
    }
}
