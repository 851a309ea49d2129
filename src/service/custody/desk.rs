//! The actor's desk (what the `/actor/` page reads): signed actor requests authenticated with
//! the actor's registered key, and the lots an actor is engaged for, each with the steps its
//! role may record next — from [`rules::next_steps`], the same rules a submission meets.

use super::*;
use crate::custody::request::{parse_authorization, request_bytes};
use crate::custody::Role;
use crate::service::master::Product;

/// Most lots the desk lists.
pub const MAX_DESK_LOTS: usize = 200;

/// A lot as the desk shows it.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DeskLot {
    /// `{gtin14}.{lot}`.
    pub lot: String,
    /// The product's names.
    pub product_zh: String,
    /// English name.
    pub product_en: String,
    /// The importer (the product's enterprise).
    pub enterprise: String,
    /// The lot's custody state.
    #[schema(value_type = Object)]
    pub state: LotState,
    /// The head to sign as `prev`.
    pub head: String,
    /// The steps the actor's role may record now.
    pub next_steps: Vec<String>,
    /// Whether the importer engages the actor for this lot's product now (single-lot answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub engaged: Option<bool>,
}

/// `GET /api/v1/actor/lots`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DeskLots {
    /// The lots of the products the actor is engaged for, by enterprise and GTIN.
    pub lots: Vec<DeskLot>,
    /// More lots exist than [`MAX_DESK_LOTS`].
    pub truncated: bool,
}

/// `GET /api/v1/actor/me`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct DeskMe {
    /// The actor, as registered.
    pub actor: Actor,
    /// The log origin to sign statements for.
    pub log: String,
    /// The server's clock, Unix seconds (for the page's clock skew).
    pub now: i64,
}

impl Custody {
    /// The actor whose key signed this request (see `crate::custody::request`), or 401.
    pub fn authenticate_request(
        &self,
        authorization: Option<&str>,
        method: &str,
        path_and_query: &str,
        now: i64,
    ) -> Result<Actor> {
        let auth = parse_authorization(authorization.unwrap_or(""))
            .map_err(CustodyError::MalformedAuthorization)?;
        let actor =
            self.registry
                .find_actor(&auth.actor)?
                .ok_or_else(|| CustodyError::UnknownActor {
                    actor: auth.actor.clone(),
                })?;
        let key = actor
            .keys
            .iter()
            .find(|k| k.kid == auth.kid)
            .ok_or_else(|| CustodyError::UnknownKey {
                actor: actor.id.clone(),
                kid: auth.kid.clone(),
            })?;
        let bytes = request_bytes(self.log.origin(), method, path_and_query, auth.at);
        self.registry
            .verifying_key(key)?
            .verify_strict(&bytes, &auth.signature)
            .map_err(|_| CustodyError::BadSignature {
                kid: key.kid.clone(),
                actor: actor.id.clone(),
            })?;
        key.valid_at(auth.at)?;
        key.usable_now(now)?;
        let window = self.custody_rules.freshness_secs as i64;
        if (now - auth.at).abs() > window {
            return Err(CustodyError::SignedAtOutOfWindow {
                signed_at: auth.at,
                now,
                window,
            }
            .into());
        }
        Ok(actor)
    }

    /// Who the actor is, for the page.
    pub fn desk_me(&self, actor: Actor, now: i64) -> DeskMe {
        DeskMe {
            actor,
            log: self.log.origin().to_string(),
            now,
        }
    }

    /// The lots of the products whose importers engage `actor` now, at most
    /// [`MAX_DESK_LOTS`].
    pub fn desk_lots(&self, actor: &Actor, now: i64) -> Result<DeskLots> {
        let mut lots = Vec::new();
        let mut truncated = false;
        for (enterprise, gtins) in self.engagements.engaging(&actor.id, now)? {
            let name = self.master.enterprise(enterprise)?.name;
            for p in self.engaged_products(enterprise, &gtins)? {
                let room = MAX_DESK_LOTS - lots.len();
                let found = self.lots_of(std::slice::from_ref(&p.gtin), room + 1)?;
                truncated |= found.len() > room;
                for s in found.into_iter().take(room) {
                    lots.push(desk_lot(actor.role, &p, &name, s.lot.to_string(), s.state));
                }
                if lots.len() >= MAX_DESK_LOTS {
                    return Ok(DeskLots { lots, truncated });
                }
            }
        }
        Ok(DeskLots { lots, truncated })
    }

    /// One lot for the desk, with whether `actor` is engaged for it now (404 for no such lot).
    pub fn desk_lot(&self, actor: &Actor, lot_id: &str, now: i64) -> Result<DeskLot> {
        let lot = parse_lot_id(lot_id)?;
        let product = self.master.find_product(&lot.gtin)?.ok_or_else(|| {
            CustodyError::UnregisteredProduct {
                gtin: lot.gtin.as_str().to_string(),
            }
        })?;
        let lk = lot_key(&lot);
        if !self.lot_exists(&lk)? {
            return Err(CustodyError::LotNotFound { lot }.into());
        }
        let name = self.master.enterprise(product.enterprise_id)?.name;
        let st = self
            .engagements
            .engagement_state(product.enterprise_id, &actor.id)?;
        let engaged = Engagements::check_engaged(
            &st,
            product.enterprise_id,
            &actor.id,
            lot.gtin.as_str(),
            now,
            now,
        )
        .is_ok();
        let mut d = desk_lot(
            actor.role,
            &product,
            &name,
            lot.to_string(),
            self.lot_state(&lk)?,
        );
        d.engaged = Some(engaged);
        Ok(d)
    }

    /// The products an engagement covers: the listed GTINs, or every product of the
    /// enterprise.
    fn engaged_products(&self, enterprise: u64, gtins: &[String]) -> Result<Vec<Product>> {
        if gtins.is_empty() {
            return self.master.list_products(
                Some(enterprise),
                None,
                crate::service::master::MAX_LIST,
            );
        }
        let mut out = Vec::new();
        for g in gtins {
            let gtin = crate::gs1::Gtin::parse(g)
                .map_err(|e| ServiceError::Internal(format!("engaged GTIN {g}: {e}")))?;
            out.extend(self.master.find_product(&gtin)?);
        }
        Ok(out)
    }
}

fn desk_lot(role: Role, p: &Product, enterprise: &str, lot: String, state: LotState) -> DeskLot {
    let next_steps = rules::next_steps(&state)
        .into_iter()
        .filter(|n| n.roles.contains(&role))
        .map(|n| n.step.to_string())
        .collect();
    DeskLot {
        lot,
        product_zh: p.name_zh.clone(),
        product_en: p.name_en.clone(),
        enterprise: enterprise.to_string(),
        head: state.head.clone().unwrap_or_else(|| GENESIS.to_string()),
        state,
        next_steps,
        engaged: None,
    }
}
