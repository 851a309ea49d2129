//! The lots of a set of products, for the console's list of an enterprise's lots: indexed
//! reads only (`lots`, and issuance's `lot_batches` through issuance, by GTIN prefix), never a
//! scan of either family.

use super::*;

/// A lot and its custody state, as listed.
#[derive(Clone, Debug, PartialEq)]
pub struct LotSummary {
    /// The lot.
    pub lot: LotId,
    /// Its custody state (the default for a lot with a batch and no record yet).
    pub state: LotState,
}

impl Custody {
    /// The lots of `gtins` (GTIN-14s), in key order, at most `limit`: the lots declared or
    /// with custody records, and those with a batch issued. Reads at most `limit` + 1 rows of
    /// `lots` and `limit` × 4 of `lot_batches` per GTIN.
    pub fn lots_of(&self, gtins: &[String], limit: usize) -> Result<Vec<LotSummary>> {
        let mut out: Vec<LotSummary> = Vec::new();
        for g in gtins {
            if out.len() >= limit {
                break;
            }
            let mut keys: Vec<Vec<u8>> = Vec::new();
            let end = prefix_end(g.as_bytes());
            for (k, _) in self
                .store
                .range(Cf::Lots, g.as_bytes(), end.as_deref(), limit + 1)?
            {
                keys.push(lot_key_of(&k)?.to_vec());
            }
            let rows = limit.saturating_mul(4) + 1;
            keys.extend(self.issuance.lots_with_batches(g, rows)?);
            keys.sort();
            keys.dedup();
            for k in keys.into_iter().take(limit - out.len()) {
                out.push(self.summary(&k)?);
            }
        }
        Ok(out)
    }

    fn summary(&self, lk: &[u8]) -> Result<LotSummary> {
        let corrupt = || ServiceError::Internal("a lot key that is not GTIN-14 ‖ lot".into());
        let gtin = std::str::from_utf8(&lk[..14]).map_err(|_| corrupt())?;
        let lot = std::str::from_utf8(&lk[15..]).map_err(|_| corrupt())?;
        let id = parse_lot_id(&format!("{gtin}.{lot}"))?;
        Ok(LotSummary {
            state: self.lot_state(lk)?,
            lot: id,
        })
    }
}

/// The lot key at the start of a `lots` or `lot_batches` key (GTIN-14 ‖ length ‖ lot ‖ …).
fn lot_key_of(k: &[u8]) -> Result<&[u8]> {
    let len = *k
        .get(14)
        .ok_or_else(|| ServiceError::Internal("a lot key shorter than a GTIN-14".into()))?;
    k.get(..15 + len as usize)
        .ok_or_else(|| ServiceError::Internal("a lot key shorter than its lot".into()))
}

#[cfg(test)]
mod tests {
    use crate::service::custody::LotInput;
    use crate::service::issuance::BatchRequest;
    use crate::service::setup::test_service;

    #[test]
    fn lots_of_a_product_are_the_declared_and_the_issued_ones() {
        let (svc, _) = test_service();
        let p = crate::service::master::tests::seed(&svc);
        for lot in ["L2", "L1"] {
            let input = LotInput {
                gtin: p.gtin.clone(),
                lot: lot.into(),
            };
            svc.custody().declare_lot(&input).unwrap();
        }
        for (key, lot) in [("k1", "L3"), ("k2", "L3"), ("k3", "L1")] {
            let req = BatchRequest {
                gtin: p.gtin.clone(),
                lot: lot.into(),
                expiry: None,
                quantity: 1,
            };
            svc.issuance().issue_batch(&req, key, &|_| {}).unwrap();
        }
        let gtins = [p.gtin.clone()];
        let lots = svc.custody().lots_of(&gtins, 10).unwrap();
        let names: Vec<String> = lots.iter().map(|l| l.lot.lot.as_str().into()).collect();
        assert_eq!(names, ["L1", "L2", "L3"]);
        assert!(lots[0].state.declared_at.is_some());
        assert!(
            lots[2].state.declared_at.is_none(),
            "issued, never declared"
        );
        assert_eq!(svc.custody().lots_of(&gtins, 2).unwrap().len(), 2);
        let other = ["09506000134369".to_string()];
        assert!(svc.custody().lots_of(&other, 10).unwrap().is_empty());
    }
}
