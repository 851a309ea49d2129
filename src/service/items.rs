//! Finding an issued item from its presented code.
//!
//! Everything that proves an item (its proof bundle, its EPCIS history) is answered only to
//! whoever presents the item's code: the code is a secret until its label is seen, and these
//! answers would otherwise hand out codes, or tell which serials exist.

use super::{Result, Service, ServiceError};
use crate::code::Code;
use crate::commitment::Commitment;
use crate::custody::LotId;
use crate::leaf::LeafRecord;
use crate::store::codec::{item_key, u64_key, ItemRecord};
use crate::store::Cf;

/// An issued item, found from its code.
#[derive(Clone, Debug)]
pub struct IssuedItem {
    /// Its lot.
    pub lot: LotId,
    /// Its batch and leaf.
    pub record: ItemRecord,
    /// Its issuance leaf.
    pub leaf_data: Vec<u8>,
}

/// The one answer for every code that is not one we issued: it does not say whether the key,
/// the signature or the serial was wrong (a scan says that, to a person holding the label).
fn not_issued() -> ServiceError {
    ServiceError::NotFound(
        "no item was issued with this code (scan it for the reason: GET /api/v1/verify?code=…)"
            .into(),
    )
}

impl Service {
    /// The issued item of a presented code: signed with one of our issuer keys
    /// (`verify_strict`), issued, committed to by its leaf, from a completed batch. A code we
    /// did not issue is 404; one of an interrupted batch is 409.
    pub fn issued_item(&self, code: &Code) -> Result<IssuedItem> {
        let key = self.issuer_keys.get(&code.kid()).ok_or_else(not_issued)?;
        code.verify(key).map_err(|_| not_issued())?;
        let item = code.item();
        let raw = self
            .store
            .get(
                Cf::Items,
                &item_key(item.gtin.as_str(), item.serial.as_str()),
            )?
            .ok_or_else(not_issued)?;
        let record = ItemRecord::decode(&raw)?;
        let leaf_data = self
            .store
            .get(Cf::Leaves, &u64_key(record.leaf_index))?
            .ok_or_else(|| ServiceError::Internal(format!("leaf {} missing", record.leaf_index)))?;
        let leaf = LeafRecord::parse_item(&leaf_data)
            .map_err(|e| ServiceError::Internal(format!("stored leaf: {e}")))?;
        if leaf.commitment != Commitment::of(code) {
            return Err(not_issued());
        }
        let sb = self.stored_batch(record.batch_id)?;
        if sb.batch.status != super::types::BatchStatus::Complete {
            return Err(ServiceError::Conflict(format!(
                "issuance of batch {} was interrupted before it completed; its codes are not valid",
                record.batch_id
            )));
        }
        Ok(IssuedItem {
            lot: LotId {
                gtin: item.gtin.clone(),
                lot: item.lot.clone(),
            },
            record,
            leaf_data,
        })
    }
}
