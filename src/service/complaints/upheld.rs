//! Upheld complaints indexed by enterprise: one row per complaint while its status is
//! `resolved` (upheld), with its category and when it was upheld, kept in the same write as
//! the status change. The credit model reads them as dated events (`docs/credit-model.md`).

use super::{stage_upheld, Complaint, ComplaintStatus, ConsumerServices, Upheld};
use crate::service::base::Result;
use crate::store::schema::{decode_json, upheld_key, META_UPHELD_INDEXED};
use crate::store::{Cf, Durability, WriteBatch};

/// Most rows one enterprise's read returns (its newest complaints beyond are left out).
pub const MAX_UPHELD: usize = 10_000;

impl ConsumerServices {
    /// The upheld complaints about enterprise `id`, oldest complaint first, and whether there
    /// were more than [`MAX_UPHELD`] (one key range).
    pub fn upheld_of(&self, id: u64) -> Result<(Vec<Upheld>, bool)> {
        let rows = self.store.range(
            Cf::Credit,
            &upheld_key(id, 0),
            Some(&upheld_key(id + 1, 0)),
            MAX_UPHELD + 1,
        )?;
        let cut = rows.len() > MAX_UPHELD;
        let list = rows
            .iter()
            .take(MAX_UPHELD)
            .map(|(_, v)| Ok(decode_json("upheld complaint", v)?))
            .collect::<Result<Vec<Upheld>>>()?;
        Ok((list, cut))
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
