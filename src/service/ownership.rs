//! Whose is it: the enterprise that owns a target of the authorization table
//! (`crate::authz`, `docs/authorization.md`), for the `own` grants of enterprise roles.
//!
//! A product belongs to the enterprise it names now; its batches, print jobs and lots follow
//! it. A complaint belongs to the enterprise of the product scanned (none when the scan named
//! no product of ours); a token to the enterprise of its role (none for platform roles).

use super::base::Result;
use super::errors::InputError;
use super::Service;
use crate::authz::Target;
use crate::custody::record::LotId;

impl Service {
    /// The enterprise that owns `target` (`None`: no enterprise does). A target that does
    /// not exist is the not-found error its route would answer.
    pub fn owner_of(&self, target: &Target) -> Result<Option<u64>> {
        match target {
            Target::Enterprise(id) => Ok(Some(*id)),
            Target::Product(gtin) => Ok(Some(self.master().product(gtin)?.enterprise_id)),
            Target::Batch(id) => {
                let batch = self.issuance().batch(*id)?;
                self.owner_of(&Target::Product(batch.gtin))
            }
            Target::PrintJob(id) => {
                let job = self.printing().print_job(*id)?;
                self.owner_of(&Target::Batch(job.job.batch_id))
            }
            Target::Lot(id) => {
                let lot = LotId::parse(id).map_err(|e| InputError::parse("lot", e))?;
                self.owner_of(&Target::Product(lot.gtin.as_str().to_string()))
            }
            Target::Complaint(reference) => Ok(self.consumer().complaint(reference)?.enterprise_id),
            Target::Token(id) => self.accounts().token_enterprise(id),
            Target::User(name) => self.accounts().user_enterprise(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::issuance::BatchRequest;
    use crate::service::setup::test_service;

    #[test]
    fn batches_and_lots_belong_to_their_products_enterprise() {
        let (svc, _) = test_service();
        let p = crate::service::master::tests::seed(&svc);
        let e = Some(p.enterprise_id);
        let req = BatchRequest {
            gtin: p.gtin.clone(),
            lot: "L1".into(),
            expiry: None,
            quantity: 2,
        };
        let (b, _) = svc.issuance().issue_batch(&req, "k1", &|_| {}).unwrap();
        assert_eq!(svc.owner_of(&Target::Product(p.gtin.clone())).unwrap(), e);
        assert_eq!(svc.owner_of(&Target::Batch(b.id)).unwrap(), e);
        let lot = format!("{}.L1", p.gtin);
        assert_eq!(svc.owner_of(&Target::Lot(lot)).unwrap(), e);
        assert_eq!(svc.owner_of(&Target::Enterprise(7)).unwrap(), Some(7));
        let missing = svc.owner_of(&Target::Batch(b.id + 1)).unwrap_err();
        assert_eq!(missing.code(), "issuance.batch_not_found");
        let bad = svc.owner_of(&Target::Lot("nope".into())).unwrap_err();
        assert_eq!(bad.code(), "input.invalid_field");
    }
}
