//! Master data: enterprises (importers, brand owners) and products.

use tracing::instrument;

use super::base::now_unix;
use super::base::WriteLocks;
use super::base::{now, rfc3339, Result};
use super::errors::{InputError, MasterError};
use super::log::{LogBook, PendingLeaf};
use crate::custody::engagement::ProductRecord;
use crate::gs1::{CountryCode, Gtin, Uscc};
use crate::merkle;
use crate::store::prefix_end;
use crate::store::schema::product_log_key;
use crate::store::schema::{
    decode_json, decode_u64, encode_json, key_after, u64_key, META_NEXT_ENTERPRISE,
};
use crate::store::Store;
use crate::store::{Cf, Durability, WriteBatch};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use utoipa::ToSchema;

pub use crate::grading::ProductCategory;

/// A registered enterprise (importer or brand owner).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Enterprise {
    /// Assigned id.
    pub id: u64,
    /// Legal name.
    pub name: String,
    /// 18-character unified social credit code (GB 32100-2015).
    pub uscc: String,
    /// ISO 3166-1 alpha-2 country of registration.
    pub country: String,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last update.
    pub updated_at: String,
}

/// Body of `POST /api/v1/enterprises` and `PUT /api/v1/enterprises/{id}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseInput {
    /// Legal name, 1–200 characters.
    pub name: String,
    /// Unified social credit code; its check character is validated.
    pub uscc: String,
    /// ISO 3166-1 alpha-2 country code, e.g. `CN`, `AU`.
    pub country: String,
}

/// A registered product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Product {
    /// GTIN-14.
    pub gtin: String,
    /// Chinese name.
    pub name_zh: String,
    /// English name.
    pub name_en: String,
    /// The owning enterprise.
    pub enterprise_id: u64,
    /// What it is (its inherent risk counts in the owner's credit grade); absent for
    /// products registered without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<ProductCategory>,
    /// RFC 3339 creation time.
    pub created_at: String,
    /// RFC 3339 time of the last update.
    pub updated_at: String,
}

/// Body of `POST /api/v1/products` and `PUT /api/v1/products/{gtin}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// GTIN-8/12/13/14 with a valid check digit (stored as GTIN-14).
    pub gtin: String,
    /// Chinese name, 1–200 characters.
    pub name_zh: String,
    /// English name, 1–200 characters.
    pub name_en: String,
    /// Id of a registered enterprise.
    pub enterprise_id: u64,
    /// What it is: `infant_formula`, `special_medical_food`, `health_food`, `dairy`,
    /// `alcohol`, `food`, `cosmetics` or `other` (optional; `docs/credit-model.md`).
    #[serde(default)]
    pub category: Option<ProductCategory>,
}

/// Longest accepted name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most records a list call returns.
pub const MAX_LIST: usize = 1000;

fn check_name(field: &str, value: &str) -> Result<String> {
    check_text(field, value, MAX_NAME_CHARS, false)
}

/// Checks a free-text field: trimmed non-empty, at most `max` characters, no control
/// characters other than newlines (when `multiline`).
pub(crate) fn check_text(field: &str, v: &str, max: usize, multiline: bool) -> Result<String> {
    let t = v.trim();
    if t.is_empty() {
        return Err(InputError::EmptyText {
            field: field.to_string(),
        }
        .into());
    }
    let n = t.chars().count();
    if n > max {
        return Err(InputError::TextTooLong {
            field: field.to_string(),
            chars: n,
            max,
        }
        .into());
    }
    if t.chars()
        .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\r' || c == '\t')))
    {
        return Err(InputError::ControlCharacters {
            field: field.to_string(),
        }
        .into());
    }
    Ok(t.to_string())
}

struct ValidEnterprise {
    name: String,
    uscc: Uscc,
    country: CountryCode,
}

fn validate_enterprise(input: &EnterpriseInput) -> Result<ValidEnterprise> {
    Ok(ValidEnterprise {
        name: check_name("name", &input.name)?,
        uscc: Uscc::parse(&input.uscc).map_err(|e| InputError::parse("uscc", e))?,
        country: CountryCode::parse(&input.country).map_err(|e| InputError::parse("country", e))?,
    })
}

/// Enterprises and products, and the logged ownership of each product.
pub struct MasterData {
    store: Arc<dyn Store>,
    locks: Arc<WriteLocks>,
    log: Arc<LogBook>,
    /// Bumped by every product write (the credit grades re-read products when it moves).
    products_written: AtomicU64,
}

impl MasterData {
    /// Master data over `store`, logging ownership records to `log`.
    pub fn new(store: Arc<dyn Store>, locks: Arc<WriteLocks>, log: Arc<LogBook>) -> MasterData {
        MasterData {
            store,
            locks,
            log,
            products_written: AtomicU64::new(0),
        }
    }

    /// Stores `p` with a product-ownership record of its enterprise in the log, in one synced
    /// write (a product's creation, or a change of its enterprise). The caller holds the
    /// custody lock, so no submission sees the product without its record.
    pub(crate) fn store_owned_product(&self, p: &crate::service::master::Product) -> Result<()> {
        let data = ProductRecord {
            gtin: p.gtin.clone(),
            enterprise: p.enterprise_id,
            at: now_unix(),
        }
        .leaf();
        let leaf = PendingLeaf {
            hash: merkle::leaf_hash(&data),
            data,
        };
        self.log.append_leaves(vec![leaf], |first, wb| {
            wb.put(Cf::Products, p.gtin.as_bytes(), encode_json(p));
            wb.put(
                Cf::ProductLog,
                product_log_key(&p.gtin, first),
                u64_key(p.enterprise_id).to_vec(),
            );
            Ok(())
        })?;
        Ok(())
    }

    /// Leaf indexes of the product records of `gtin` and their enterprises, in log order.
    pub fn product_records(&self, gtin: &str) -> Result<Vec<(u64, u64)>> {
        let prefix = gtin.as_bytes();
        let end = prefix_end(prefix);
        self.store
            .range(Cf::ProductLog, prefix, end.as_deref(), usize::MAX)?
            .into_iter()
            .map(|(k, v)| Ok((decode_u64(&k[prefix.len()..])?, decode_u64(&v)?)))
            .collect()
    }
}

impl MasterData {
    /// Registers an enterprise; its USCC must be unique.
    #[instrument(skip(self, input))]
    pub fn create_enterprise(&self, input: &EnterpriseInput) -> Result<Enterprise> {
        let v = validate_enterprise(input)?;
        let _guard = super::base::lock(&self.locks.batches)?;
        if let Some(id) = self
            .store
            .get(Cf::EnterpriseUscc, v.uscc.as_str().as_bytes())?
        {
            return Err(MasterError::UsccExists {
                uscc: v.uscc.as_str().to_string(),
                enterprise: decode_u64(&id)?,
            }
            .into());
        }
        let id = match self.store.get(Cf::Meta, META_NEXT_ENTERPRISE)? {
            Some(b) => decode_u64(&b)?,
            None => 1,
        };
        let t = rfc3339(now().unix_timestamp());
        let e = Enterprise {
            id,
            name: v.name,
            uscc: v.uscc.as_str().to_string(),
            country: v.country.as_str().to_string(),
            created_at: t.clone(),
            updated_at: t,
        };
        let mut wb = WriteBatch::new();
        wb.put(Cf::Enterprises, u64_key(id), encode_json(&e));
        wb.put(Cf::EnterpriseUscc, e.uscc.as_bytes(), u64_key(id));
        wb.put(Cf::Meta, META_NEXT_ENTERPRISE, u64_key(id + 1));
        self.store.write(wb, Durability::Synced)?;
        Ok(e)
    }

    /// One enterprise.
    pub fn enterprise(&self, id: u64) -> Result<Enterprise> {
        self.find_enterprise(id)?
            .ok_or_else(|| MasterError::EnterpriseNotFound { id }.into())
    }

    /// The enterprise with unified social credit code `uscc` (400 malformed, 404 none).
    pub fn enterprise_by_uscc(&self, uscc: &str) -> Result<Enterprise> {
        let u = Uscc::parse(uscc).map_err(|e| InputError::parse("uscc", e))?;
        let id = self
            .store
            .get(Cf::EnterpriseUscc, u.as_str().as_bytes())?
            .ok_or_else(|| MasterError::UsccNotFound {
                uscc: u.as_str().to_string(),
            })?;
        self.enterprise(decode_u64(&id)?)
    }

    pub(crate) fn find_enterprise(&self, id: u64) -> Result<Option<Enterprise>> {
        match self.store.get(Cf::Enterprises, &u64_key(id))? {
            Some(v) => Ok(Some(decode_json("enterprise", &v)?)),
            None => Ok(None),
        }
    }

    /// Enterprises with id ≥ `after` + 1, at most `limit` (≤ [`MAX_LIST`]).
    pub fn list_enterprises(&self, after: u64, limit: usize) -> Result<Vec<Enterprise>> {
        let start = after.saturating_add(1);
        self.store
            .range(Cf::Enterprises, &u64_key(start), None, limit.min(MAX_LIST))?
            .iter()
            .map(|(_, v)| Ok(decode_json("enterprise", v)?))
            .collect()
    }

    /// Replaces an enterprise's name, USCC and country.
    #[instrument(skip(self, input))]
    pub fn update_enterprise(&self, id: u64, input: &EnterpriseInput) -> Result<Enterprise> {
        let v = validate_enterprise(input)?;
        let _guard = super::base::lock(&self.locks.batches)?;
        let mut e = self.enterprise(id)?;
        let mut wb = WriteBatch::new();
        if e.uscc != v.uscc.as_str() {
            if let Some(other) = self
                .store
                .get(Cf::EnterpriseUscc, v.uscc.as_str().as_bytes())?
            {
                return Err(MasterError::UsccInUse {
                    uscc: v.uscc.as_str().to_string(),
                    enterprise: decode_u64(&other)?,
                }
                .into());
            }
            wb.delete(Cf::EnterpriseUscc, e.uscc.as_bytes());
            wb.put(Cf::EnterpriseUscc, v.uscc.as_str().as_bytes(), u64_key(id));
        }
        e.name = v.name;
        e.uscc = v.uscc.as_str().to_string();
        e.country = v.country.as_str().to_string();
        e.updated_at = rfc3339(now().unix_timestamp());
        wb.put(Cf::Enterprises, u64_key(id), encode_json(&e));
        self.store.write(wb, Durability::Synced)?;
        Ok(e)
    }

    fn validate_product(&self, input: &ProductInput) -> Result<(Gtin, String, String)> {
        let gtin = Gtin::parse(&input.gtin).map_err(|e| InputError::parse("gtin", e))?;
        let zh = check_name("name_zh", &input.name_zh)?;
        let en = check_name("name_en", &input.name_en)?;
        if self.find_enterprise(input.enterprise_id)?.is_none() {
            return Err(MasterError::UnknownEnterprise {
                id: input.enterprise_id,
            }
            .into());
        }
        Ok((gtin, zh, en))
    }

    /// Registers a product; its GTIN must be new.
    #[instrument(skip(self, input))]
    pub fn create_product(&self, input: &ProductInput) -> Result<Product> {
        let (gtin, name_zh, name_en) = self.validate_product(input)?;
        let _guard = super::base::lock(&self.locks.batches)?;
        if self
            .store
            .get(Cf::Products, gtin.as_str().as_bytes())?
            .is_some()
        {
            return Err(MasterError::ProductExists {
                gtin: gtin.as_str().to_string(),
            }
            .into());
        }
        let t = rfc3339(now().unix_timestamp());
        let p = Product {
            gtin: gtin.as_str().to_string(),
            name_zh,
            name_en,
            enterprise_id: input.enterprise_id,
            category: input.category,
            created_at: t.clone(),
            updated_at: t,
        };
        // The ownership is logged: custody records are checked against it.
        let _c = self.locks.custody_change()?;
        self.store_owned_product(&p)?;
        self.products_written.fetch_add(1, Ordering::AcqRel);
        Ok(p)
    }

    /// Moves whenever a product is registered or changed (in this process).
    pub fn products_generation(&self) -> u64 {
        self.products_written.load(Ordering::Acquire)
    }

    /// The categories of each enterprise's products (those registered with one): every
    /// product read, in pages.
    pub fn categories_by_enterprise(&self) -> Result<HashMap<u64, BTreeSet<ProductCategory>>> {
        let mut out: HashMap<u64, BTreeSet<ProductCategory>> = HashMap::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list_products(None, after.as_deref(), MAX_LIST)?;
            for p in &page {
                out.entry(p.enterprise_id).or_default().extend(p.category);
            }
            match page.last() {
                Some(p) if page.len() == MAX_LIST => after = Some(p.gtin.clone()),
                _ => return Ok(out),
            }
        }
    }

    /// One product by GTIN (any accepted GTIN length).
    pub fn product(&self, gtin: &str) -> Result<Product> {
        let g = Gtin::parse(gtin).map_err(|e| InputError::parse("gtin", e))?;
        self.find_product(&g)?.ok_or_else(|| {
            MasterError::ProductNotFound {
                gtin: g.as_str().to_string(),
            }
            .into()
        })
    }

    pub(crate) fn find_product(&self, gtin: &Gtin) -> Result<Option<Product>> {
        match self.store.get(Cf::Products, gtin.as_str().as_bytes())? {
            Some(v) => Ok(Some(decode_json("product", &v)?)),
            None => Ok(None),
        }
    }

    /// Products with GTIN greater than `after`, at most `limit` (≤ [`MAX_LIST`]): all of
    /// them, or those of one enterprise.
    pub fn list_products(
        &self,
        enterprise: Option<u64>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Product>> {
        let limit = limit.min(MAX_LIST);
        let mut start = match after {
            Some(a) => key_after(a.as_bytes()),
            None => Vec::new(),
        };
        let mut out = Vec::new();
        // Walk up in pages; the enterprise filter is applied as we go.
        while out.len() < limit {
            let page = self.store.range(Cf::Products, &start, None, MAX_LIST)?;
            for (_, v) in &page {
                let p: Product = decode_json("product", v)?;
                if enterprise.is_none_or(|e| e == p.enterprise_id) && out.len() < limit {
                    out.push(p);
                }
            }
            match page.last() {
                Some((k, _)) if page.len() == MAX_LIST => start = key_after(k),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Replaces a product's names and enterprise; the GTIN in the body must match the path.
    #[instrument(skip(self, input))]
    pub fn update_product(&self, gtin: &str, input: &ProductInput) -> Result<Product> {
        let (g, name_zh, name_en) = self.validate_product(input)?;
        let path = Gtin::parse(gtin).map_err(|e| InputError::parse("gtin", e))?;
        if path != g {
            return Err(MasterError::GtinMismatch {
                body: g.as_str().to_string(),
                path: path.as_str().to_string(),
            }
            .into());
        }
        let _guard = super::base::lock(&self.locks.batches)?;
        let _c = self.locks.custody_change()?;
        let mut p = self.product(gtin)?;
        let moved = p.enterprise_id != input.enterprise_id;
        p.name_zh = name_zh;
        p.name_en = name_en;
        p.enterprise_id = input.enterprise_id;
        p.category = input.category;
        p.updated_at = rfc3339(now().unix_timestamp());
        if moved {
            // A change of owner is logged: from here on, the new owner's engagements count.
            self.store_owned_product(&p)?;
        } else {
            let mut wb = WriteBatch::new();
            wb.put(Cf::Products, p.gtin.as_bytes(), encode_json(&p));
            self.store.write(wb, Durability::Synced)?;
        }
        self.products_written.fetch_add(1, Ordering::AcqRel);
        Ok(p)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::service::base::ServiceError;
    use crate::service::setup::test_service;
    use crate::service::Service;

    /// A USCC with a valid check character (computed in the gs1 tests).
    pub(crate) const USCC: &str = "91350100M000100Y43";

    pub(crate) fn seed(svc: &Service) -> Product {
        let e = svc
            .master()
            .create_enterprise(&EnterpriseInput {
                name: "Acme Import Co.".into(),
                uscc: USCC.into(),
                country: "CN".into(),
            })
            .unwrap();
        svc.master()
            .create_product(&ProductInput {
                gtin: "09506000134352".into(),
                name_zh: "婴儿配方奶粉".into(),
                name_en: "Infant formula".into(),
                enterprise_id: e.id,
                category: None,
            })
            .unwrap()
    }

    #[test]
    fn enterprise_and_product_lifecycle() {
        let (svc, _) = test_service();
        let p = seed(&svc);
        assert_eq!(p.gtin, "09506000134352");
        assert_eq!(svc.master().list_enterprises(0, 10).unwrap().len(), 1);
        assert_eq!(svc.master().list_products(None, None, 10).unwrap().len(), 1);
        assert_eq!(
            svc.master()
                .list_products(Some(99), None, 10)
                .unwrap()
                .len(),
            0
        );
        // GTIN-13 lookups normalise to GTIN-14.
        assert_eq!(svc.master().product("9506000134352").unwrap(), p);
        let dup = svc.master().create_enterprise(&EnterpriseInput {
            name: "Other".into(),
            uscc: USCC.into(),
            country: "CN".into(),
        });
        assert!(matches!(
            dup,
            Err(ServiceError::Master(MasterError::UsccExists {
                enterprise: 1,
                ..
            }))
        ));
        let upd = svc
            .master()
            .update_product(
                "09506000134352",
                &ProductInput {
                    gtin: "09506000134352".into(),
                    name_zh: "奶粉".into(),
                    name_en: "Formula".into(),
                    enterprise_id: 1,
                    category: None,
                },
            )
            .unwrap();
        assert_eq!(upd.name_en, "Formula");
    }

    #[test]
    fn invalid_master_data_is_rejected_precisely() {
        let (svc, _) = test_service();
        let bad_uscc = svc.master().create_enterprise(&EnterpriseInput {
            name: "X".into(),
            uscc: "91350100M000100Y44".into(),
            country: "CN".into(),
        });
        match bad_uscc {
            Err(e @ ServiceError::Input(InputError::Field { field: "uscc", .. })) => {
                assert!(e.to_string().starts_with("uscc:"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        let no_ent = svc.master().create_product(&ProductInput {
            gtin: "09506000134352".into(),
            name_zh: "x".into(),
            name_en: "x".into(),
            enterprise_id: 9,
            category: None,
        });
        assert!(matches!(
            no_ent,
            Err(ServiceError::Master(MasterError::UnknownEnterprise {
                id: 9
            }))
        ));
        let bad_gtin = svc.master().create_product(&ProductInput {
            gtin: "09506000134353".into(),
            name_zh: "x".into(),
            name_en: "x".into(),
            enterprise_id: 1,
            category: None,
        });
        assert!(matches!(
            bad_gtin,
            Err(ServiceError::Input(InputError::Field { field: "gtin", .. }))
        ));
    }
}
