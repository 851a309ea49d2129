//! Engagements: which actors an enterprise engages for its products, and the logged product
//! ownership they are checked against (`docs/custody.md`, Engagements).
//!
//! A custody record is accepted only if its signer was engaged by the enterprise that owns the
//! lot's GTIN at the record's `signed_at`. Every engagement change and every change of a
//! product's enterprise is a log leaf ([`crate::custody::engagement`]), written in the same
//! synced batch as the state it changes, under the custody lock so a submission sees either
//! the state before or after it.
//!
//! Schema: `engagements` (enterprise id u64 BE ‖ actor id → [`EngagementState`] JSON) and
//! `product_log` (GTIN-14 ‖ leaf index u64 BE → enterprise id u64 BE).

use serde::{Deserialize, Serialize};
use tracing::{info, instrument};
use utoipa::ToSchema;

use super::base::WriteLocks;
use super::base::{now_unix, Result};
use super::errors::{EngagementError, InputError};
use super::log::LogBook;
use super::log::PendingLeaf;
use super::master::MasterData;
use super::registry::ActorRegistry;
use crate::custody::engagement::{self, EngagementOp, Period, MAX_ENGAGEMENT_GTINS};
use crate::custody::record::MAX_UNIX;
use crate::gs1::Gtin;
use crate::merkle;
use crate::store::schema::{
    actor_engagement_key, decode_json, decode_u64, encode_json, engagement_key, u64_key,
    META_ACTOR_ENGAGEMENTS_INDEXED,
};
use crate::store::Store;
use crate::store::{for_each_pair, prefix_end, Cf, Durability, WriteBatch};
use std::sync::Arc;

/// Body of `POST /api/v1/enterprises/{id}/engagements`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EngagementInput {
    /// The actor engaged.
    pub actor_id: String,
    /// GTINs the engagement covers (any GS1 length); absent or empty: every product of the
    /// enterprise, present and future.
    #[serde(default)]
    pub gtins: Vec<String>,
    /// Signatures count from (Unix seconds); default now.
    #[serde(default)]
    pub not_before: Option<i64>,
    /// Signatures count until (exclusive, Unix seconds); default open-ended.
    #[serde(default)]
    pub not_after: Option<i64>,
}

/// An engagement as stored: its periods and the leaves that logged them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngagementState {
    /// The periods, oldest first.
    pub periods: Vec<Period>,
    /// Leaf indexes of its `engagement` records, in log order.
    pub records: Vec<u64>,
}

/// `GET /api/v1/enterprises/{id}/engagements` rows.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct EngagementView {
    /// The enterprise.
    pub enterprise_id: u64,
    /// The actor.
    pub actor_id: String,
    /// Whether a period covers now (signatures made now count).
    pub active: bool,
    /// Whether a period is not ended or expired (in force now, or starting later): a new
    /// engagement of the actor must wait until it is ended.
    pub open: bool,
    /// The periods, oldest first.
    #[schema(value_type = Vec<Object>)]
    pub periods: Vec<Period>,
    /// Leaf indexes of the logged `engagement` records.
    pub records: Vec<u64>,
}

/// Most enterprises [`Engagements::engaging`] reads for one actor (one key range of the
/// `actor_engagements` index).
pub const MAX_ENGAGING_SCAN: usize = 20_000;

fn check_unix(field: &'static str, t: i64) -> Result<i64> {
    if (0..=MAX_UNIX).contains(&t) {
        Ok(t)
    } else {
        Err(InputError::field(
            field,
            format!("{field} must be Unix seconds between 1970 and 9999, got {t}"),
        )
        .into())
    }
}

/// Which actors each enterprise engages, for which products and when (every change a log leaf).
pub struct Engagements {
    store: Arc<dyn Store>,
    locks: Arc<WriteLocks>,
    log: Arc<LogBook>,
    master: Arc<MasterData>,
    registry: Arc<ActorRegistry>,
}

/// The GTIN-14s an engagement covers at `now` (empty: every product of the enterprise), or
/// `None` when no period of it is in force.
fn gtins_in_force(st: &EngagementState, now: i64) -> Option<Vec<String>> {
    let mut gtins: Option<Vec<String>> = None;
    for p in st
        .periods
        .iter()
        .filter(|p| p.open_at(now) && p.covers_time(now))
    {
        let g = gtins.get_or_insert_with(Vec::new);
        if p.gtins.is_empty() {
            g.clear();
            break;
        }
        g.extend(p.gtins.iter().cloned());
    }
    gtins.map(|mut g| {
        g.sort();
        g.dedup();
        g
    })
}

impl Engagements {
    /// Engagements over `store`.
    pub fn new(
        store: Arc<dyn Store>,
        locks: Arc<WriteLocks>,
        log: Arc<LogBook>,
        master: Arc<MasterData>,
        registry: Arc<ActorRegistry>,
    ) -> Engagements {
        Engagements {
            store,
            locks,
            log,
            master,
            registry,
        }
    }
}

impl Engagements {
    pub(crate) fn engagement_state(&self, enterprise: u64, actor: &str) -> Result<EngagementState> {
        Ok(
            match self
                .store
                .get(Cf::Engagements, &engagement_key(enterprise, actor))?
            {
                Some(v) => decode_json("engagement", &v)?,
                None => EngagementState::default(),
            },
        )
    }

    fn view(enterprise: u64, actor: &str, st: EngagementState) -> EngagementView {
        let now = now_unix();
        EngagementView {
            enterprise_id: enterprise,
            actor_id: actor.to_string(),
            active: st
                .periods
                .iter()
                .any(|p| p.open_at(now) && p.covers_time(now)),
            open: st.periods.iter().any(|p| p.open_at(now)),
            periods: st.periods,
            records: st.records,
        }
    }

    /// The GTINs of an engagement request: each a registered product of `enterprise`.
    fn engagement_gtins(&self, enterprise: u64, gtins: &[String]) -> Result<Vec<String>> {
        if gtins.len() > MAX_ENGAGEMENT_GTINS {
            return Err(InputError::field(
                "gtins",
                format!(
                    "at most {MAX_ENGAGEMENT_GTINS} GTINs per engagement; leave gtins out to cover every product"
                ),
            )
            .into());
        }
        let mut out = Vec::with_capacity(gtins.len());
        for g in gtins {
            let gtin =
                Gtin::parse(g).map_err(|e| InputError::field("gtins", format!("gtin {g}: {e}")))?;
            match self.master.find_product(&gtin)? {
                Some(p) if p.enterprise_id == enterprise => out.push(p.gtin),
                _ => {
                    return Err(EngagementError::NotAProductOfEnterprise {
                        gtin: gtin.as_str().to_string(),
                        enterprise,
                    }
                    .into())
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// Engages an actor for an enterprise's products (logged as an `engagement` leaf).
    #[instrument(skip(self, input))]
    pub fn engage(&self, enterprise: u64, input: &EngagementInput) -> Result<EngagementView> {
        self.master.enterprise(enterprise)?;
        let actor = self.registry.find_actor(&input.actor_id)?.ok_or_else(|| {
            EngagementError::UnknownActor {
                actor: input.actor_id.clone(),
            }
        })?;
        let gtins = self.engagement_gtins(enterprise, &input.gtins)?;
        let now = now_unix();
        let not_before = check_unix("not_before", input.not_before.unwrap_or(now))?;
        let not_after = match input.not_after {
            Some(t) if check_unix("not_after", t)? <= not_before => {
                return Err(InputError::field(
                    "not_after",
                    "not_after must be later than not_before",
                )
                .into())
            }
            t => t,
        };
        let op = EngagementOp::Engage {
            enterprise,
            actor: actor.id.clone(),
            gtins,
            not_before,
            not_after,
            at: now,
        };
        let _g = self.locks.custody_change()?;
        let mut st = self.engagement_state(enterprise, &actor.id)?;
        if let Some(p) = st.periods.iter().find(|p| p.open_at(now)) {
            return Err(EngagementError::AlreadyEngaged {
                actor: actor.id.clone(),
                enterprise,
                from: p.not_before,
            }
            .into());
        }
        self.append_engagement(enterprise, &actor.id, &mut st, op)?;
        info!(enterprise, actor = %actor.id, "engaged actor");
        Ok(Self::view(enterprise, &actor.id, st))
    }

    /// Ends every open engagement of the actor by the enterprise, from now on (logged).
    #[instrument(skip(self))]
    pub fn end_engagement(&self, enterprise: u64, actor: &str) -> Result<EngagementView> {
        self.master.enterprise(enterprise)?;
        let now = now_unix();
        let _g = self.locks.custody_change()?;
        let mut st = self.engagement_state(enterprise, actor)?;
        if !st.periods.iter().any(|p| p.open_at(now)) {
            return Err(EngagementError::NoOpenEngagement {
                actor: actor.to_string(),
                enterprise,
            }
            .into());
        }
        let op = EngagementOp::End {
            enterprise,
            actor: actor.to_string(),
            at: now,
        };
        self.append_engagement(enterprise, actor, &mut st, op)?;
        info!(enterprise, actor, "ended engagement");
        Ok(Self::view(enterprise, actor, st))
    }

    fn append_engagement(
        &self,
        enterprise: u64,
        actor: &str,
        st: &mut EngagementState,
        op: EngagementOp,
    ) -> Result<()> {
        let data = op.leaf();
        let hash = merkle::leaf_hash(&data);
        let mut next = st.clone();
        engagement::apply(&mut next.periods, &op);
        let key = engagement_key(enterprise, actor);
        self.log
            .append_leaves(vec![PendingLeaf { data, hash }], |first, wb| {
                next.records.push(first);
                wb.put(Cf::Engagements, key, encode_json(&next));
                wb.put(
                    Cf::ActorEngagements,
                    actor_engagement_key(actor, enterprise),
                    Vec::new(),
                );
                Ok(())
            })?;
        *st = next;
        Ok(())
    }

    /// The enterprise's engagements, by actor id.
    pub fn list_engagements(&self, enterprise: u64) -> Result<Vec<EngagementView>> {
        self.master.enterprise(enterprise)?;
        let prefix = u64_key(enterprise);
        let end = prefix_end(&prefix);
        self.store
            .range(Cf::Engagements, &prefix, end.as_deref(), usize::MAX)?
            .into_iter()
            .map(|(k, v)| {
                let actor = String::from_utf8_lossy(&k[8..]).into_owned();
                Ok(Self::view(
                    enterprise,
                    &actor,
                    decode_json("engagement", &v)?,
                ))
            })
            .collect()
    }

    /// Refuses (403) unless `actor` was engaged by `enterprise` for `gtin` at `signed_at`, by
    /// an engagement still in force `now`: a record signed just before an engagement ended
    /// (within the freshness window) is not accepted after the end. `st` is `enterprise`'s
    /// engagement of `actor` ([`Engagements::engagement_state`], read under the custody lock
    /// or as of a custody epoch).
    pub(crate) fn check_engaged(
        st: &EngagementState,
        enterprise: u64,
        actor: &str,
        gtin: &str,
        signed_at: i64,
        now: i64,
    ) -> Result<()> {
        engagement::check(&st.periods, enterprise, actor, gtin, signed_at)
            .map_err(EngagementError::from)?;
        if st
            .periods
            .iter()
            .any(|p| p.covers(gtin, signed_at) && p.open_at(now))
        {
            return Ok(());
        }
        Err(EngagementError::NoLongerEngaged {
            actor: actor.to_string(),
            enterprise,
            gtin: gtin.to_string(),
        }
        .into())
    }
    /// The enterprises whose engagement of `actor` is in force at `now`, each with the GTIN-14s
    /// it covers (empty: every product of the enterprise). One key range of the
    /// `actor_engagements` index (every enterprise that ever engaged the actor), then their
    /// engagement rows, [`MAX_ENGAGING_SCAN`] at most.
    pub fn engaging(&self, actor: &str, now: i64) -> Result<Vec<(u64, Vec<String>)>> {
        let prefix = actor_engagement_key(actor, 0);
        let prefix = &prefix[..prefix.len() - 8];
        let end = prefix_end(prefix);
        let enterprises: Vec<u64> = self
            .store
            .range(
                Cf::ActorEngagements,
                prefix,
                end.as_deref(),
                MAX_ENGAGING_SCAN,
            )?
            .iter()
            .map(|(k, _)| decode_u64(&k[prefix.len()..]))
            .collect::<std::result::Result<_, _>>()?;
        let keys: Vec<Vec<u8>> = enterprises
            .iter()
            .map(|e| engagement_key(*e, actor))
            .collect();
        let mut out = Vec::new();
        for (e, v) in enterprises
            .iter()
            .zip(self.store.multi_get(Cf::Engagements, &keys)?)
        {
            let Some(v) = v else { continue };
            let st: EngagementState = decode_json("engagement", &v)?;
            if let Some(g) = gtins_in_force(&st, now) {
                out.push((*e, g));
            }
        }
        Ok(out)
    }

    /// Indexes every engagement by actor once, for data directories from before the
    /// `actor_engagements` index (`meta/actor_engagements_indexed` marks it done).
    pub(crate) fn index_by_actor(&self) -> Result<()> {
        if self
            .store
            .get(Cf::Meta, META_ACTOR_ENGAGEMENTS_INDEXED)?
            .is_some()
        {
            return Ok(());
        }
        let mut wb = WriteBatch::new();
        for_each_pair(self.store.as_ref(), Cf::Engagements, 1024, |k, _| {
            let enterprise = decode_u64(&k[..8])?;
            let actor = String::from_utf8_lossy(&k[8..]);
            let key = actor_engagement_key(&actor, enterprise);
            wb.put(Cf::ActorEngagements, key, Vec::new());
            Ok(())
        })?;
        wb.put(Cf::Meta, META_ACTOR_ENGAGEMENTS_INDEXED, b"1".to_vec());
        self.store.write(wb, Durability::Synced)?;
        Ok(())
    }

    /// Leaf indexes of the engagement records of `actor` by any of `enterprises`.
    pub fn engagement_records(&self, enterprises: &[u64], actor: &str) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        for e in enterprises {
            out.extend(self.engagement_state(*e, actor)?.records);
        }
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::service::errors::CustodyError;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::{ErrorKind, ServiceError};

    pub(crate) fn input(actor: &str) -> EngagementInput {
        EngagementInput {
            actor_id: actor.into(),
            gtins: vec![],
            not_before: None,
            not_after: None,
        }
    }

    /// `engaging` reads the actor's own index range: the enterprises engaging it now (an ended
    /// engagement and another actor's do not count), and the index is rebuilt for a data
    /// directory from before it.
    #[test]
    fn engaging_reads_the_actors_index_and_old_directories_are_indexed_once() {
        use crate::service::custody::tests::cast_unengaged;
        let (svc, mem) = test_service();
        let p = seed(&svc);
        let enterprise = |name: &str, uscc: &str| {
            svc.master()
                .create_enterprise(&crate::service::master::EnterpriseInput {
                    name: name.into(),
                    uscc: uscc.into(),
                    country: "FR".into(),
                })
                .unwrap()
                .id
        };
        let b = enterprise("Other Imports Ltd", "91330206MA2AF1C3XT");
        let c = enterprise("Third Imports Ltd", "91110000MA0123456P");
        let cast = cast_unengaged(&svc);
        let ids = cast.ids();
        let (me, other) = (&ids[0], &ids[1]);
        let e = svc.engagements();
        e.engage(p.enterprise_id, &input(me)).unwrap();
        e.engage(b, &input(me)).unwrap();
        e.end_engagement(b, me).unwrap();
        e.engage(c, &input(other)).unwrap();
        let now = now_unix();
        let want = vec![(p.enterprise_id, vec![])];
        assert_eq!(e.engaging(me, now).unwrap(), want);
        assert_eq!(e.engaging(other, now).unwrap(), vec![(c, vec![])]);
        assert_eq!(e.engaging("nobody", now).unwrap(), vec![]);
        // A directory from before the index: no index rows, no meta flag.
        let mut wb = WriteBatch::new();
        for (k, _) in svc
            .store()
            .range(Cf::ActorEngagements, &[], None, usize::MAX)
            .unwrap()
        {
            wb.delete(Cf::ActorEngagements, k);
        }
        wb.delete(Cf::Meta, META_ACTOR_ENGAGEMENTS_INDEXED.to_vec());
        mem.write(wb, Durability::Synced).unwrap();
        assert_eq!(e.engaging(me, now).unwrap(), vec![]);
        e.index_by_actor().unwrap();
        assert_eq!(e.engaging(me, now).unwrap(), want);
        assert_eq!(e.engaging(other, now).unwrap(), vec![(c, vec![])]);
        assert!(svc
            .store()
            .get(Cf::Meta, META_ACTOR_ENGAGEMENTS_INDEXED)
            .unwrap()
            .is_some());
    }

    /// Every role × engaged by the product's enterprise / not engaged / engaged by another
    /// enterprise / engagement ended: only the first is accepted; the others are 403 with the
    /// reason and log nothing. (Prerequisites are recorded by a second, engaged cast.)
    #[test]
    fn engagement_matrix_every_role_and_case() {
        use crate::custody::{Event, Role, Step};
        use crate::service::custody::tests::{cast, cast_named, declare, prefix_until, signed};
        let step_of = |r: Role| match r {
            Role::Inspector => Step::OriginAttestation,
            Role::Carrier => Step::Shipping,
            Role::CustomsBroker => Step::CustomsDeclaration,
            Role::BondedWarehouse => Step::Receiving,
            Role::Retailer => Step::RetailSale,
        };
        let mut accepted = 0;
        for role in Role::ALL {
            for case in ["engaged", "not engaged", "other enterprise", "ended"] {
                let (svc, _) = test_service();
                let p = seed(&svc);
                let other = svc
                    .master()
                    .create_enterprise(&crate::service::master::EnterpriseInput {
                        name: "Other Imports Ltd".into(),
                        uscc: "91330206MA2AF1C3XT".into(),
                        country: "FR".into(),
                    })
                    .unwrap();
                let helpers = cast(&svc); // engaged by both enterprises
                let tested = cast_named(&svc, "t-", 40);
                let (id, sk) = &tested.keys[&role];
                match case {
                    "engaged" => {
                        svc.engagements()
                            .engage(p.enterprise_id, &input(id))
                            .unwrap();
                    }
                    "other enterprise" => {
                        svc.engagements().engage(other.id, &input(id)).unwrap();
                    }
                    "ended" => {
                        svc.engagements()
                            .engage(p.enterprise_id, &input(id))
                            .unwrap();
                        svc.engagements()
                            .end_engagement(p.enterprise_id, id)
                            .unwrap();
                    }
                    _ => {}
                }
                let lot = format!("{}.M1", p.gtin);
                declare(&svc, &lot);
                let step = step_of(role);
                for (r, e) in prefix_until(step) {
                    helpers.submit(&svc, r, &lot, e, vec![]).unwrap();
                }
                let event: Event = crate::custody::rules::standard_route("531620261000123")
                    .into_iter()
                    .find(|(_, e)| e.step() == step)
                    .unwrap()
                    .1;
                let size = svc.log().log_size().unwrap();
                let got = svc.custody().submit(&signed(
                    id,
                    sk,
                    &lot,
                    &svc.custody().lot_head(&lot).unwrap(),
                    event,
                    vec![],
                ));
                if case == "engaged" {
                    got.unwrap_or_else(|e| panic!("{role} engaged: {e}"));
                    accepted += 1;
                } else {
                    match got {
                        Err(
                            e @ ServiceError::Engagement(
                                EngagementError::NotEngaged(_)
                                | EngagementError::NoLongerEngaged { .. },
                            ),
                        ) => assert!(
                            e.to_string().contains(&format!(
                                "actor {id} is not engaged by enterprise {} for GTIN {}",
                                p.enterprise_id, p.gtin
                            )),
                            "{role} {case}: {e}"
                        ),
                        other => panic!("{role} {case}: must be 403, got {other:?}"),
                    }
                    assert_eq!(
                        svc.log().log_size().unwrap(),
                        size,
                        "a refusal logs nothing"
                    );
                }
            }
        }
        assert_eq!(accepted, 5);
    }

    #[test]
    fn a_lot_must_exist_and_repeatable_steps_are_bounded() {
        use crate::custody::record::{Event, Warehousing};
        use crate::custody::{rules, Role, Step};
        use crate::service::custody::tests::{cast, declare, prefix_until, signed};
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let (id, sk) = &c.keys[&Role::Inspector];
        let lot = "09506000134352.NEVER";
        let att = crate::service::custody::tests::attest(
            crate::custody::record::Conformance::NonConformant,
        );
        match svc.custody().submit(&signed(
            id,
            sk,
            lot,
            crate::custody::GENESIS,
            att.clone(),
            vec![],
        )) {
            Err(e @ ServiceError::Custody(CustodyError::UndeclaredLot { .. })) => {
                assert!(e.to_string().contains("does not exist"), "{e}")
            }
            other => panic!("{other:?}"),
        }
        // Declared ahead of labelling, the inspector can attest it.
        declare(&svc, lot);
        svc.custody()
            .submit(&signed(id, sk, lot, crate::custody::GENESIS, att, vec![]))
            .unwrap();
        // Storing is bounded per lot.
        let lot2 = "09506000134352.S1";
        for (r, e) in prefix_until(Step::Storing) {
            c.submit(&svc, r, lot2, e, vec![]).unwrap();
        }
        for _ in 0..rules::MAX_STORING {
            c.submit(
                &svc,
                Role::BondedWarehouse,
                lot2,
                Event::Storing(Warehousing::default()),
                vec![],
            )
            .unwrap();
        }
        match c.submit(
            &svc,
            Role::BondedWarehouse,
            lot2,
            Event::Storing(Warehousing::default()),
            vec![],
        ) {
            Err(e @ ServiceError::Custody(CustodyError::OutOfOrder(_))) => {
                assert!(e.to_string().contains("the most a lot may have"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// A record signed while its signer was engaged, but arriving after the engagement ended
    /// (within the freshness window), is refused: the end takes effect at once.
    #[test]
    fn a_record_signed_before_the_end_is_refused_after_it() {
        use crate::custody::Role;
        use crate::service::custody::tests::{attest, cast_unengaged, declare, signed_when};
        let (svc, _) = test_service();
        let p = seed(&svc);
        let c = cast_unengaged(&svc);
        let (id, sk) = &c.keys[&Role::Inspector];
        let mut i = input(id);
        i.not_before = Some(0);
        svc.engagements().engage(p.enterprise_id, &i).unwrap();
        let lot = format!("{}.E1", p.gtin);
        declare(&svc, &lot);
        let sub = signed_when(
            id,
            sk,
            &lot,
            crate::custody::GENESIS,
            attest(crate::custody::record::Conformance::Conformant),
            vec![],
            now_unix() - 30,
        );
        svc.engagements()
            .end_engagement(p.enterprise_id, id)
            .unwrap();
        match svc.custody().submit(&sub) {
            Err(e @ ServiceError::Engagement(EngagementError::NoLongerEngaged { .. })) => {
                assert!(e.to_string().contains("any more"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn engage_list_end_and_refusals() {
        let (svc, _) = test_service();
        let p = seed(&svc);
        let cast = crate::service::custody::tests::cast_unengaged(&svc);
        let actor = cast.ids()[0].clone();
        let e = p.enterprise_id;
        let v = svc.engagements().engage(e, &input(&actor)).unwrap();
        assert!(v.active && v.records.len() == 1);
        let err = svc.engagements().engage(e, &input(&actor)).unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::Engagement(EngagementError::AlreadyEngaged { .. })
            ),
            "{err}"
        );
        assert!(matches!(
            svc.engagements().engage(e, &input("nobody")).unwrap_err(),
            ServiceError::Engagement(EngagementError::UnknownActor { .. })
        ));
        assert_eq!(
            svc.engagements()
                .engage(e + 100, &input(&actor))
                .unwrap_err()
                .kind(),
            ErrorKind::NotFound
        );
        let mut bad = input(&actor);
        bad.gtins = vec!["09312345000128".into()];
        let err = svc.engagements().engage(e, &bad).unwrap_err();
        assert!(
            matches!(
                err,
                ServiceError::Engagement(EngagementError::NotAProductOfEnterprise { .. })
            ),
            "{err}"
        );
        assert!(err.to_string().contains("not a product of enterprise"));
        let mut bad = input(&actor);
        bad.not_before = Some(100);
        bad.not_after = Some(50);
        assert!(matches!(
            svc.engagements().engage(e, &bad).unwrap_err(),
            ServiceError::Input(InputError::Field {
                field: "not_after",
                ..
            })
        ));
        assert_eq!(svc.engagements().list_engagements(e).unwrap().len(), 1);
        let v = svc.engagements().end_engagement(e, &actor).unwrap();
        assert!(!v.active && v.records.len() == 2);
        assert!(matches!(
            svc.engagements().end_engagement(e, &actor).unwrap_err(),
            ServiceError::Engagement(EngagementError::NoOpenEngagement { .. })
        ));
        // Both changes are log leaves.
        for i in &v.records {
            let data = svc.log().leaf_data(*i).unwrap();
            assert!(data.starts_with(b"traceseal/engagement/v1\n"));
        }
        // And the product's ownership is logged too.
        let recs = svc.master().product_records(&p.gtin).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].1, e);
        assert!(svc
            .log()
            .leaf_data(recs[0].0)
            .unwrap()
            .starts_with(b"traceseal/product/v1\n"));
    }
}
