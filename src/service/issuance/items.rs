//! Finding an issued item from its presented code.
//!
//! Everything that proves an item (its proof bundle, its EPCIS history) is answered only to
//! whoever presents the item's code: the code is a secret until its label is seen, and these
//! answers would otherwise hand out codes, or tell which serials exist.

use crate::code::Code;
use crate::commitment::Commitment;
use crate::custody::LotId;
use crate::issuer::{check_revocation, RevokedCode};
use crate::leaf::LeafRecord;
use crate::service::base::{Result, ServiceError};
use crate::service::errors::IssuanceError;
use crate::service::issuance::Issuance;
use crate::store::schema::{item_key, ItemRecord};
use crate::store::Cf;

/// An item of ours, found from its presented code.
#[derive(Clone, Debug)]
pub struct IssuedItem {
    /// Its lot.
    pub lot: LotId,
    /// Its batch and leaf.
    pub record: ItemRecord,
    /// Its issuance leaf.
    pub leaf_data: Vec<u8>,
    /// When its batch was created (Unix seconds, from the leaf).
    pub issued_at: i64,
    /// Whether its batch completed (an interrupted batch's codes are not valid).
    pub complete: bool,
    /// Set when its issuer key is revoked from a time at or before `issued_at`: the code is
    /// not valid (`crate::issuer`, the revocation rule).
    pub key_revoked: Option<RevokedCode>,
}

/// Why a presented code is not one of our items. A scan tells the person holding the label
/// which; every other answer gives one 404 for all of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotIssued {
    /// The key id is not one of our issuer keys.
    UnknownKey,
    /// The signature does not verify (`verify_strict`).
    BadSignature,
    /// No item with this GTIN and serial was issued.
    UnknownSerial,
    /// An item with this serial was issued, with another code.
    CodeMismatch,
    /// The code verifies with one of our issuer keys, which is revoked, and no item was
    /// issued with it (a code forged with a leaked key): said instead of `UnknownSerial` or
    /// `CodeMismatch`, as every verifier without an issuance record says it.
    KeyRevoked(RevokedCode),
}

impl Issuance {
    /// The item of a presented code, or why it is none of ours: the key is ours, the signature
    /// verifies (`verify_strict`), the serial was issued and its leaf commits to this code. An
    /// item of a revoked key is found with [`IssuedItem::key_revoked`] set when it was issued
    /// at or after the revocation's start. Storage failures are the outer error.
    pub(crate) fn find_issued(
        &self,
        code: &Code,
    ) -> Result<Result<IssuedItem, NotIssued>, ServiceError> {
        let Some((key, revocation)) = self.keyring.issuer_key(code.kid())? else {
            return Ok(Err(NotIssued::UnknownKey));
        };
        if code.verify(&key).is_err() {
            return Ok(Err(NotIssued::BadSignature));
        }
        let kid = code.kid().to_string();
        // Without an issuance record, a revoked key's code is not genuine, whatever else.
        let not_issued = |other: NotIssued| match check_revocation(&kid, revocation.as_ref(), None)
        {
            Err(revoked) => NotIssued::KeyRevoked(revoked),
            Ok(()) => other,
        };
        let item = code.item();
        let Some(raw) = self.store.get(
            Cf::Items,
            &item_key(item.gtin.as_str(), item.serial.as_str()),
        )?
        else {
            return Ok(Err(not_issued(NotIssued::UnknownSerial)));
        };
        let record = ItemRecord::decode(&raw)?;
        let leaf_data = self.log.leaf_data(record.leaf_index)?;
        let leaf = LeafRecord::parse_item(&leaf_data)
            .map_err(|e| ServiceError::Internal(format!("stored leaf: {e}")))?;
        if leaf.commitment != Commitment::of(code) {
            return Ok(Err(not_issued(NotIssued::CodeMismatch)));
        }
        let complete = self.stored_batch(record.batch_id)?.batch.status
            == crate::service::issuance::BatchStatus::Complete;
        Ok(Ok(IssuedItem {
            lot: LotId {
                gtin: item.gtin.clone(),
                lot: item.lot.clone(),
            },
            record,
            leaf_data,
            issued_at: leaf.issued_at,
            complete,
            key_revoked: check_revocation(&kid, revocation.as_ref(), Some(leaf.issued_at)).err(),
        }))
    }

    /// The issued item of a presented code, from a completed batch. A code we did not issue is
    /// 404, whatever its fault; one of an interrupted batch is 409.
    pub fn issued_item(&self, code: &Code) -> Result<IssuedItem> {
        // One answer for every code that is not one we issued: it does not say whether the
        // key, the signature or the serial was wrong (a scan says that, to a person holding
        // the label).
        let item = self
            .find_issued(code)?
            .map_err(|_| IssuanceError::CodeNotIssued)?;
        if !item.complete {
            return Err(IssuanceError::BatchInterrupted {
                batch: item.record.batch_id,
            }
            .into());
        }
        Ok(item)
    }
}
