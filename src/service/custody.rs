//! Custody use cases: the actor registry, signed submissions, recalls, and the read side
//! (lot views, an item's chain) that scans, bundles and the EPCIS export use.
//!
//! Accepted records are written in groups (`intake.rs`): each group is one synced atomic write
//! of its records' log leaves, the node hashes, the lot states, the record indexes, the item
//! states they change and the nonces that guard against replay. A refused submission writes
//! nothing, and a caller is answered only once its record is durable.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tracing::{info, instrument, warn};
use utoipa::ToSchema;

use super::base::check_text;
use super::base::WriteLocks;
use super::cache::ViewCache;
use super::engagements::Engagements;
use super::errors::{CustodyError, InputError};
use super::issuance::Issuance;
use super::log::LogBook;
use super::log::PendingLeaf;
use super::master::MasterData;
use super::{lock, now_unix, Result, ServiceError};
use crate::commitment::ItemRef;
use crate::config::CustodyRules;
use crate::custody::record::{self, hex, parse_signature};
use crate::custody::rules::{self, ItemState, LotState};
use crate::custody::{LotId, Recall, RecallClass, SignedStatement, Step, GENESIS};
use crate::grading::{ProductCategory, SamplingDecision};
use crate::leaf::LeafRecord;
use crate::merkle;
use crate::store::schema::{
    self, decode_json, encode_json, item_key, item_record_key, lot_record_key, nonce_key,
    record_key_leaf, u64_key,
};
use crate::store::Store;
use crate::store::{prefix_end, Cf};

mod days;
mod desk;
mod group;
mod heads;
mod intake;
mod lots;
mod nonces;
mod signers;
mod submit;
mod views;

pub use self::days::{CustodyDayRow, CustodyDays, CustodyKind};
pub use self::desk::{DeskLot, DeskLots, DeskMe, MAX_DESK_LOTS};
pub use intake::{IntakeStats, MAX_GROUP_BYTES, MAX_GROUP_RECORDS};
pub use lots::LotSummary;

pub use super::registry::{
    decode_public_key, Actor, ActorInput, ActorKey, ActorRegistry, KeyInput, RevokeInput,
    MAX_ACTOR_KEYS,
};

/// Custody chains: signed submissions checked against the rules, lot states, recalls, and the
/// views and EPCIS exports of what was recorded.
pub struct Custody {
    store: Arc<dyn Store>,
    locks: Arc<WriteLocks>,
    log: Arc<LogBook>,
    master: Arc<MasterData>,
    registry: Arc<ActorRegistry>,
    engagements: Arc<Engagements>,
    issuance: Arc<Issuance>,
    custody_rules: CustodyRules,
    lot_pages: ViewCache<LotView>,
    epcis_pages: ViewCache<EpcisPage>,
    intake: intake::Intake,
    signers: signers::SignerCache,
    heads: heads::LotHeads,
    nonces: nonces::NonceFilter,
    /// Weak: the supervisor (grading) holds this unit, and a cycle of `Arc`s would keep
    /// the store open after the service is dropped.
    supervisor: std::sync::OnceLock<std::sync::Weak<dyn Supervisor>>,
    /// Moves with every origin attestation accepted (in this process).
    origins_written: std::sync::atomic::AtomicU64,
}

/// Who says whether a lot needs a sampling inspection before release: the credit grades
/// (`service::grading`), set once the units are composed (grading reads custody's counters,
/// so it cannot be one of custody's dependencies).
pub trait Supervisor: Send + Sync {
    /// The decision for a lot of enterprise `owner`'s product of `category`.
    fn sampling(&self, owner: u64, category: Option<ProductCategory>) -> Result<SamplingDecision>;
}

/// The units custody reads and writes through.
#[derive(Clone)]
pub struct CustodyDeps {
    /// The log records are appended to.
    pub log: Arc<LogBook>,
    /// Products and their owners.
    pub master: Arc<MasterData>,
    /// Who may sign.
    pub registry: Arc<ActorRegistry>,
    /// For which enterprise and product.
    pub engagements: Arc<Engagements>,
    /// The batches and items of a lot.
    pub issuance: Arc<Issuance>,
}

impl Custody {
    /// Custody over `store` under `rules`.
    pub fn new(
        store: Arc<dyn Store>,
        locks: Arc<WriteLocks>,
        deps: CustodyDeps,
        custody_rules: CustodyRules,
    ) -> Custody {
        Custody {
            store,
            locks,
            log: deps.log,
            master: deps.master,
            registry: deps.registry,
            engagements: deps.engagements,
            issuance: deps.issuance,
            custody_rules,
            lot_pages: ViewCache::new(PAGE_CACHE_BYTES),
            epcis_pages: ViewCache::new(PAGE_CACHE_BYTES),
            intake: intake::Intake::default(),
            signers: signers::SignerCache::default(),
            heads: heads::LotHeads::default(),
            nonces: nonces::NonceFilter::default(),
            supervisor: std::sync::OnceLock::new(),
            origins_written: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Moves whenever an origin attestation is accepted (in this process).
    pub fn origins_generation(&self) -> u64 {
        self.origins_written
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// The countries each enterprise's lots were attested from, and whether the read was cut.
    pub fn origins_by_enterprise(
        &self,
    ) -> Result<(HashMap<u64, std::collections::BTreeSet<String>>, bool)> {
        days::origins(self.store.as_ref())
    }

    /// Sets who decides on sampling inspections (once, when the units are composed); until
    /// then no lot needs one.
    pub fn set_supervisor(&self, s: std::sync::Weak<dyn Supervisor>) {
        // A second call changes nothing: composition sets it once.
        let _ = self.supervisor.set(s);
    }

    /// Whether a release of `lot` of enterprise `owner` is refused for want of a sampling
    /// inspection: the supervisor's decision for its product's category.
    pub(super) fn require_sampling(&self, lot: &LotId, owner: u64) -> Result<()> {
        let Some(weak) = self.supervisor.get() else {
            return Ok(());
        };
        // Gone only while the service shuts down: refuse rather than skip the rule.
        let s = weak
            .upgrade()
            .ok_or_else(|| ServiceError::internal("supervision is shutting down"))?;
        let category = self
            .master
            .find_product(&lot.gtin)?
            .and_then(|p| p.category);
        match s.sampling(owner, category)? {
            SamplingDecision::Required(reasons) => Err(CustodyError::SamplingRequired {
                lot: lot.clone(),
                reasons,
            }
            .into()),
            SamplingDecision::GreenChannel | SamplingDecision::NotRequired => Ok(()),
        }
    }

    /// Builds the nonce filter from the stored nonces (once, when the service opens): until
    /// then every nonce check reads the store. Logs how many it read and how long it took.
    pub(crate) fn load_nonces(&self) -> Result<usize> {
        let held = lock(&self.locks.custody)?;
        let started = std::time::Instant::now();
        let n = self
            .nonces
            .load(&held, self.store.as_ref(), nonces::MIN_CAPACITY)?;
        let ms = started.elapsed().as_millis() as u64;
        info!(nonces = n, ms, "custody nonce filter loaded");
        Ok(n)
    }
}

/// An item named by an item-scoped statement.
struct NamedItem {
    /// How answers name it: its item reference (never its serial).
    label: String,
    /// GTIN-14 ‖ serial.
    key: Vec<u8>,
    state: ItemState,
}

/// Most records a lot view lists.
pub const MAX_LOT_RECORDS: usize = 10_000;
const SCOPE_LOT: u8 = 0;
const SCOPE_ITEMS: u8 = 1;

/// Body of `POST /api/v1/lots`: a lot declared ahead of labelling.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LotInput {
    /// GTIN of a registered product (any GS1 length).
    pub gtin: String,
    /// Lot number (GS1 AI 10).
    pub lot: String,
}

/// Body of `POST /api/v1/lots/{id}/recall`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallInput {
    /// Why, shown to consumers, 1–200 characters.
    pub reason: String,
    /// The class of recall: a `safety` recall weighs more on the importer's credit grade and
    /// puts it on the warning list. None: unclassified.
    #[serde(default)]
    pub class: Option<RecallClass>,
}

/// Body of `POST /api/v1/custody/records`: a statement and the actor's signature over it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    /// The statement, exactly as signed: canonical JSON (RFC 8785).
    pub statement: String,
    /// Base64url (no padding) Ed25519 signature over `"traceseal/custody/v2\n" ‖ statement ‖ "\n"`.
    pub signature: String,
}

/// Answer to an accepted record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// Its leaf index in the log.
    pub leaf_index: u64,
    /// Its leaf hash (hex): the `prev` of the lot's next lot-wide record, if it is lot-wide.
    pub record_hash: String,
    /// The lot.
    pub lot: String,
    /// The step (`recall` for a recall).
    pub step: String,
    /// The lot's head after this record.
    pub head: String,
}

/// One record in a lot or item chain, as served.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RecordView {
    /// Leaf index.
    pub leaf_index: u64,
    /// Leaf hash, hex.
    pub record_hash: String,
    /// `custody` or `recall`.
    pub kind: String,
    /// The step, or `recall`.
    pub step: String,
    /// 0 for a lot-wide record, else how many items it names. The items are not listed: a
    /// record names them by item reference, which only a code's holder can compute.
    pub items: usize,
    /// Signing actor id (`operator` for recalls).
    pub signer: String,
    /// The signer's organisation.
    pub organisation: String,
    /// The signer's role (`operator` for recalls).
    pub role: String,
    /// The signer's country.
    pub country: String,
    /// The signing key id (absent for recalls).
    pub kid: Option<String>,
    /// Event time as signed (local time with offset), or the recall time.
    pub time: String,
    /// Where, if given.
    #[schema(value_type = Option<Object>)]
    pub place: Option<serde_json::Value>,
    /// The step's data, as signed.
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// The record's `prev`.
    pub prev: String,
    /// The signature was checked with `verify_strict` against the actor's registered key
    /// when the record was accepted; `false` only for unsigned operator records.
    pub signature_checked: bool,
    /// Set when the signing key has since been revoked (or rotated out) from a time at or
    /// before the signature: the record may not be genuine.
    pub key_revoked: bool,
}

/// `GET /api/v1/lots/{id}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LotView {
    /// `{gtin14}.{lot}`.
    pub lot: String,
    /// The lot state (stage, attestation, holds, recall, head).
    #[schema(value_type = Object)]
    pub state: LotState,
    /// The head to sign as `prev` ([`GENESIS`] for a new lot).
    pub head: String,
    /// One page of the lot's records, in log order (see [`LotPage`]).
    pub records: Vec<RecordView>,
    /// The `after` of the next page; absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_after: Option<u64>,
}

/// A page of a lot's records: those with leaf index greater than `after`, at most `limit`
/// records and about [`PAGE_LEAF_BYTES`] of leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, utoipa::IntoParams)]
pub struct LotPage {
    /// Only records after this leaf index (default: from the first).
    pub after: Option<u64>,
    /// Most records (default [`DEFAULT_PAGE_RECORDS`], at most [`MAX_PAGE_RECORDS`]).
    pub limit: Option<usize>,
}

/// One page of a lot's EPCIS export.
#[derive(Clone, Debug)]
pub struct EpcisPage {
    /// The EPCIS 2.0 document.
    pub doc: serde_json::Value,
    /// The `after` of the next page; `None` on the last.
    pub next_after: Option<u64>,
}

/// Records per lot page by default.
pub const DEFAULT_PAGE_RECORDS: usize = 100;
/// Most records per lot page.
pub const MAX_PAGE_RECORDS: usize = 500;
/// A page stops once its leaves hold this many bytes (an item-scoped record naming 10,000
/// items is about 460 KB), so no page reads more than this plus one leaf.
pub const PAGE_LEAF_BYTES: usize = 4 << 20;
/// Budget of each public page cache (bytes of leaves parsed).
pub const PAGE_CACHE_BYTES: usize = 64 << 20;
/// The least a cached page counts against the budget (an empty page still takes memory).
pub const PAGE_COST_FLOOR: usize = 4 << 10;

impl LotPage {
    fn bounds(&self) -> Result<(u64, usize)> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE_RECORDS);
        if !(1..=MAX_PAGE_RECORDS).contains(&limit) {
            return Err(InputError::field(
                "limit",
                format!("limit must be between 1 and {MAX_PAGE_RECORDS}"),
            )
            .into());
        }
        Ok((self.after.map_or(0, |a| a.saturating_add(1)), limit))
    }
}

/// A record of an item's chain, with its decoded leaf.
#[derive(Clone, Debug)]
pub struct ChainRecord {
    /// Leaf index.
    pub leaf_index: u64,
    /// Leaf bytes.
    pub data: Vec<u8>,
    /// Decoded leaf.
    pub record: LeafRecord,
}

/// Lot key: GTIN-14 ‖ lot length ‖ lot (the item-key layout, so it is prefix-free).
pub fn lot_key(lot: &LotId) -> Vec<u8> {
    schema::lot_key(lot.gtin.as_str(), lot.lot.as_str())
}

fn tail_u64(k: &[u8]) -> Result<u64> {
    Ok(record_key_leaf(k)?)
}

fn leaf_hex(data: &[u8]) -> String {
    hex(merkle::leaf_hash(data).as_bytes())
}

/// Parses a lot id (`{gtin14}.{lot}`, e.g. from a path), 400 otherwise.
fn parse_lot_id(id: &str) -> Result<LotId> {
    LotId::parse(id).map_err(|e| InputError::field("lot", e.to_string()).into())
}

/// The actor's role may record the event (403 with who may, otherwise).
fn authorize_role(actor: &Actor, event: &crate::custody::Event) -> Result<()> {
    if rules::allowed(actor.role, event) {
        return Ok(());
    }
    let step = event.step();
    Err(match event {
        crate::custody::Event::Holding(h) | crate::custody::Event::HoldRelease(h) => {
            CustodyError::HoldNotOwned {
                actor: actor.id.clone(),
                role: actor.role,
                hold: h.hold_type,
                owner: rules::hold_owner(h.hold_type),
            }
        }
        _ => CustodyError::RoleNotAllowed {
            actor: actor.id.clone(),
            role: actor.role,
            step,
            allowed: rules::step_roles(step),
        },
    }
    .into())
}

/// The lot has room for a record and `prev` is its head (409 otherwise).
fn check_head(lot: &LotId, state: &LotState, prev: &str) -> Result<()> {
    if state.records >= MAX_LOT_RECORDS as u64 {
        return Err(CustodyError::LotFull {
            lot: lot.clone(),
            max: MAX_LOT_RECORDS,
        }
        .into());
    }
    let head = state.head.as_deref().unwrap_or(GENESIS);
    if prev != head {
        return Err(CustodyError::StaleHead {
            lot: lot.clone(),
            prev: prev.to_string(),
            head: head.to_string(),
        }
        .into());
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::code::KeyId;
    use crate::custody::record::*;
    use crate::service::errors::RegistryError;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::{ErrorKind, Service};
    use base64::Engine;
    use ed25519_dalek::SigningKey;

    pub(crate) const GTIN: &str = "09506000134352";

    /// One actor per role, with its signing key.
    pub(crate) struct Cast {
        pub keys: HashMap<Role, (String, SigningKey)>,
    }

    /// One actor per role, each engaged by every enterprise registered so far.
    pub(crate) fn cast(svc: &Service) -> Cast {
        let c = cast_unengaged(svc);
        for e in svc.master().list_enterprises(0, 1000).unwrap() {
            for id in c.ids() {
                svc.engagements()
                    .engage(e.id, &crate::service::engagements::tests::input(&id))
                    .unwrap();
            }
        }
        c
    }

    /// One actor per role, engaged by nobody.
    pub(crate) fn cast_unengaged(svc: &Service) -> Cast {
        cast_named(svc, "", 1)
    }

    /// One actor per role with ids `{prefix}{role}` and keys seeded from `seed`.
    pub(crate) fn cast_named(svc: &Service, prefix: &str, seed: u8) -> Cast {
        let mut keys = HashMap::new();
        for (i, role) in Role::ALL.into_iter().enumerate() {
            let sk = SigningKey::from_bytes(&[i as u8 + seed; 32]);
            let id = format!("{prefix}{}", role.as_str().replace('_', "-"));
            svc.registry()
                .register_actor(&ActorInput {
                    id: id.clone(),
                    organisation: format!("{role} Pty Ltd"),
                    country: "AU".into(),
                    role,
                    keys: vec![KeyInput {
                        public_key: base64::engine::general_purpose::STANDARD
                            .encode(sk.verifying_key().as_bytes()),
                        not_before: Some(0),
                        not_after: None,
                        replaces: None,
                    }],
                })
                .unwrap();
            keys.insert(role, (id, sk));
        }
        Cast { keys }
    }

    pub(crate) fn signed(
        actor: &str,
        key: &SigningKey,
        lot: &str,
        prev: &str,
        event: Event,
        items: Vec<String>,
    ) -> Submission {
        signed_when(actor, key, lot, prev, event, items, now_unix())
    }

    /// [`signed`], with the signature made at `signed_at`.
    pub(crate) fn signed_when(
        actor: &str,
        key: &SigningKey,
        lot: &str,
        prev: &str,
        event: Event,
        items: Vec<String>,
        signed_at: i64,
    ) -> Submission {
        let st = Statement {
            log: "verify.example.com/log".into(),
            lot: lot.into(),
            items,
            prev: prev.into(),
            actor: actor.into(),
            kid: KeyId::of(&key.verifying_key()).to_string(),
            time: "2026-11-02T09:30:00+10:00".into(),
            signed_at,
            nonce: random_nonce(),
            place: None,
            event,
        };
        Submission {
            statement: st.canonical(),
            signature: st.sign(key),
        }
    }

    impl Cast {
        /// The actor ids, in role order.
        pub(crate) fn ids(&self) -> Vec<String> {
            Role::ALL.iter().map(|r| self.keys[r].0.clone()).collect()
        }

        pub(crate) fn submit(
            &self,
            svc: &Service,
            role: Role,
            lot: &str,
            event: Event,
            items: Vec<String>,
        ) -> Result<Accepted> {
            let (id, sk) = &self.keys[&role];
            declare(svc, lot);
            let prev = svc.custody().lot_head(lot).unwrap();
            svc.custody()
                .submit(&signed(id, sk, lot, &prev, event, items))
        }
    }

    /// Holds placed, non-conformant attestations and recalls are counted for the risk
    /// dashboard in their own writes, per day and for the lot's enterprise; nothing else is.
    #[test]
    fn holds_non_conformant_attestations_and_recalls_are_counted_per_day_and_enterprise() {
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let held = format!("{GTIN}.H1");
        for (r, e) in prefix_until(Step::CustomsDeclaration) {
            c.submit(&svc, r, &held, e, vec![]).unwrap();
        }
        let customs = || Hold {
            hold_type: HoldType::Customs,
            reason: "sampling".into(),
        };
        c.submit(
            &svc,
            Role::CustomsBroker,
            &held,
            Event::Holding(customs()),
            vec![],
        )
        .unwrap();
        c.submit(
            &svc,
            Role::CustomsBroker,
            &held,
            Event::HoldRelease(customs()),
            vec![],
        )
        .unwrap();
        let bad = format!("{GTIN}.N1");
        c.submit(
            &svc,
            Role::Inspector,
            &bad,
            attest(Conformance::NonConformant),
            vec![],
        )
        .unwrap();
        let reason = RecallInput {
            reason: "contamination".into(),
            class: None,
        };
        svc.custody().recall(&bad, &reason).unwrap();
        let today = now_unix().div_euclid(86_400);
        let d = svc.custody().custody_days(today, 2).unwrap();
        assert_eq!(d.days, vec![(today - 1, [0; 3]), (today, [1, 1, 1])]);
        let owner = svc.master().product(GTIN).unwrap().enterprise_id;
        assert_eq!(d.enterprises, vec![(owner, [1, 1, 1])]);
    }

    /// Pages asked for with made-up bounds each cost the cache at least the floor, and the
    /// cache stays within its budget.
    #[test]
    fn made_up_pages_cannot_pile_up_in_the_cache() {
        let (svc, _) = test_service();
        seed(&svc);
        let lot = format!("{GTIN}.P1");
        declare(&svc, &lot);
        let before = svc.custody().lot_pages.used();
        for after in 0..200u64 {
            let page = svc
                .custody()
                .lot_view(
                    &lot,
                    LotPage {
                        after: Some(1_000_000 + after),
                        limit: Some(1 + (after as usize % 500)),
                    },
                )
                .unwrap();
            assert!(page.records.is_empty() && page.next_after.is_none());
        }
        assert_eq!(
            svc.custody().lot_pages.used() - before,
            200 * PAGE_COST_FLOOR
        );
        assert!(svc.custody().lot_pages.used() <= PAGE_CACHE_BYTES);
    }

    /// A release naming `item` is refused with the one answer every unusable reference gets.
    fn release_is_refused_as_unusable(c: &Cast, svc: &Service, lot: &str, item: String) {
        let got = c.submit(
            svc,
            Role::BondedWarehouse,
            lot,
            Event::Release(Outbound::default()),
            vec![item],
        );
        match got {
            Err(e @ ServiceError::Custody(CustodyError::UnknownItem { .. })) => {
                assert!(e.to_string().contains("names no issued item of lot"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }

    /// Declares `lot` (`{gtin14}.{lot}`) if it does not exist yet.
    pub(crate) fn declare(svc: &Service, lot: &str) {
        let l = LotId::parse(lot).unwrap();
        svc.custody()
            .declare_lot(&LotInput {
                gtin: l.gtin.as_str().into(),
                lot: l.lot.as_str().into(),
            })
            .unwrap();
    }

    pub(crate) fn attest(result: Conformance) -> Event {
        Event::OriginAttestation(Attestation {
            certificate_no: "AQIS-1".into(),
            origin_country: "AU".into(),
            producer: "Gippsland Dairy".into(),
            inspection_date: "2026-11-01".into(),
            result,
            documents: vec![],
        })
    }

    fn hold(t: HoldType) -> Hold {
        Hold {
            hold_type: t,
            reason: "sampling".into(),
        }
    }

    /// The route up to (not including) `upto`, each step by its owner.
    pub(crate) fn route() -> Vec<(Role, Event)> {
        crate::custody::rules::standard_route("531620261000123")
    }

    pub(crate) fn prefix_until(step: Step) -> Vec<(Role, Event)> {
        route()
            .into_iter()
            .take_while(|(_, e)| e.step() != step)
            .collect()
    }

    /// Each testable event with the prerequisites that put it in order.
    /// (case name, prerequisites by their owners, the event under test).
    type Case = (&'static str, Vec<(Role, Event)>, Event);

    fn cases() -> Vec<Case> {
        let pre = |s: Step| prefix_until(s);
        let arrived = pre(Step::CustomsDeclaration);
        let held = |t: HoldType| {
            let mut p = arrived.clone();
            let owner = if t == HoldType::Customs {
                Role::CustomsBroker
            } else {
                Role::BondedWarehouse
            };
            p.push((owner, Event::Holding(hold(t))));
            p
        };
        let mut out: Vec<Case> = Vec::new();
        for (_, e) in route() {
            let name = e.step().as_str();
            out.push((name, pre(e.step()), e));
        }
        out.push((
            "packing",
            pre(Step::Shipping),
            Event::Packing(Packing::default()),
        ));
        out.push((
            "self_pickup",
            pre(Step::RetailSale),
            Event::SelfPickup(Outbound::default()),
        ));
        out.push((
            "sampling",
            pre(Step::Release),
            Event::Sampling(crate::custody::event::Sampling {
                report_no: "NBQA-1".into(),
                samples: 2,
                result: Conformance::Conformant,
                documents: vec![],
            }),
        ));
        out.push((
            "holding/customs",
            arrived.clone(),
            Event::Holding(hold(HoldType::Customs)),
        ));
        out.push((
            "holding/quality",
            arrived.clone(),
            Event::Holding(hold(HoldType::Quality)),
        ));
        out.push((
            "hold_release/customs",
            held(HoldType::Customs),
            Event::HoldRelease(hold(HoldType::Customs)),
        ));
        out.push((
            "hold_release/quality",
            held(HoldType::Quality),
            Event::HoldRelease(hold(HoldType::Quality)),
        ));
        out
    }

    /// The documented matrix (docs/custody.md), written out independently of `rules`.
    fn expected(role: Role, case: &str) -> bool {
        use Role::*;
        let owners: &[Role] = match case {
            "origin_attestation" => &[Inspector],
            "packing" => &[Inspector, Carrier],
            "shipping" | "departing" | "arriving" => &[Carrier],
            "customs_declaration" | "customs_clearance" => &[CustomsBroker],
            "holding/customs" | "hold_release/customs" => &[CustomsBroker],
            "receiving" | "storing" | "release" => &[BondedWarehouse],
            "holding/quality" | "hold_release/quality" => &[BondedWarehouse],
            "retail_sale" | "self_pickup" => &[Retailer],
            "sampling" => &[Inspector, BondedWarehouse],
            other => panic!("no expectation for {other}"),
        };
        owners.contains(&role)
    }

    /// Late clearance and receiving are counted for the lot's owner in the record's write,
    /// and nothing else is (limits of zero here: every such step is late).
    #[test]
    fn late_clearance_and_receiving_are_counted_for_the_owner() {
        let rules = crate::config::CustodyRules {
            on_time_clearance_hours: 0,
            on_time_receiving_hours: 0,
            ..Default::default()
        };
        let (svc, _) = crate::service::setup::test_service_with(rules);
        seed(&svc);
        let c = cast(&svc);
        let lot = format!("{GTIN}.LATE1");
        for (r, e) in route()
            .into_iter()
            .take_while(|(_, e)| e.step() != Step::Storing)
        {
            c.submit(&svc, r, &lot, e, vec![]).unwrap();
        }
        let today = now_unix().div_euclid(86_400);
        let (rows, _) = svc.custody().custody_day_rows(today, 1).unwrap();
        let late: Vec<_> = rows
            .iter()
            .filter(|r| r.kind == CustodyKind::Late)
            .collect();
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].count, 2, "the clearance and the receiving");
        let owner = svc.master().product(GTIN).unwrap().enterprise_id;
        assert_eq!(late[0].enterprise, owner);
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        for (r, e) in route()
            .into_iter()
            .take_while(|(_, e)| e.step() != Step::Storing)
        {
            c.submit(&svc, r, &lot, e, vec![]).unwrap();
        }
        let (rows, _) = svc.custody().custody_day_rows(today, 1).unwrap();
        assert!(
            rows.iter().all(|r| r.kind != CustodyKind::Late),
            "on time by default"
        );
    }

    #[test]
    fn permission_matrix_every_role_times_every_step() {
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let mut n = 0;
        let mut allowed = 0;
        for (name, pre, event) in cases() {
            for role in Role::ALL {
                n += 1;
                let lot = format!("{GTIN}.M{n}");
                for (r, e) in pre.clone() {
                    c.submit(&svc, r, &lot, e, vec![])
                        .unwrap_or_else(|e| panic!("prerequisite of {name} failed: {e}"));
                }
                let size = svc.log().log_size().unwrap();
                let got = c.submit(&svc, role, &lot, event.clone(), vec![]);
                if expected(role, name) {
                    allowed += 1;
                    let a = got.unwrap_or_else(|e| panic!("{role} × {name} must be allowed: {e}"));
                    assert_eq!(a.leaf_index, size);
                } else {
                    match got {
                        Err(
                            e @ ServiceError::Custody(
                                CustodyError::RoleNotAllowed { .. }
                                | CustodyError::HoldNotOwned { .. },
                            ),
                        ) => {
                            assert!(e.to_string().contains(role.as_str()), "{e}");
                        }
                        other => panic!("{role} × {name} must be 403, got {other:?}"),
                    }
                    assert_eq!(
                        svc.log().log_size().unwrap(),
                        size,
                        "a refused record writes nothing"
                    );
                }
            }
        }
        assert_eq!(n, 17 * 5);
        assert_eq!(
            allowed, 19,
            "17 cases with one owner each, packing and sampling have two"
        );
    }

    #[test]
    fn replay_forgery_stale_wrong_order_and_unknown_actor_are_refused_and_store_nothing() {
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let lot = format!("{GTIN}.L1");
        declare(&svc, &lot);
        let (id, sk) = &c.keys[&Role::Inspector];
        let sub = signed(
            id,
            sk,
            &lot,
            GENESIS,
            attest(Conformance::Conformant),
            vec![],
        );
        svc.custody().submit(&sub).unwrap();
        let size = svc.log().log_size().unwrap();
        // Replay of the same bytes.
        match svc.custody().submit(&sub) {
            Err(e @ ServiceError::Custody(CustodyError::Replay { .. })) => {
                assert!(e.to_string().contains("replay"), "{e}")
            }
            other => panic!("replay: {other:?}"),
        }
        // Forged: signed by another key than the one named.
        let (_, other_key) = &c.keys[&Role::Carrier];
        let mut forged = signed(
            id,
            sk,
            &lot,
            &svc.custody().lot_head(&lot).unwrap(),
            Event::Packing(Packing::default()),
            vec![],
        );
        let st: Statement = serde_json::from_str(&forged.statement).unwrap();
        forged.signature = st.sign(other_key);
        assert!(
            matches!(svc.custody().submit(&forged), Err(e @ ServiceError::Custody(CustodyError::BadSignature { .. })) if e.to_string().contains("does not verify"))
        );
        // A valid signature over different bytes (tampered statement).
        let good = signed(
            id,
            sk,
            &lot,
            &svc.custody().lot_head(&lot).unwrap(),
            Event::Packing(Packing {
                packages: Some(3),
                container: None,
            }),
            vec![],
        );
        let tampered = Submission {
            statement: good.statement.replace("\"packages\":3", "\"packages\":4"),
            signature: good.signature.clone(),
        };
        assert!(matches!(
            svc.custody().submit(&tampered),
            Err(ServiceError::Custody(CustodyError::BadSignature { .. }))
        ));
        // Stale and future timestamps.
        let head = svc.custody().lot_head(&lot).unwrap();
        let mut st: Statement = serde_json::from_str(&good.statement).unwrap();
        st.signed_at -= 301;
        st.nonce = random_nonce();
        let stale = Submission {
            statement: st.canonical(),
            signature: st.sign(sk),
        };
        assert!(
            matches!(svc.custody().submit(&stale), Err(e @ ServiceError::Custody(CustodyError::SignedAtOutOfWindow { .. })) if e.to_string().contains("more than 300 s"))
        );
        st.signed_at += 700;
        let future = Submission {
            statement: st.canonical(),
            signature: st.sign(sk),
        };
        assert!(matches!(
            svc.custody().submit(&future),
            Err(ServiceError::Custody(
                CustodyError::SignedAtOutOfWindow { .. }
            ))
        ));
        // Wrong order: arriving before shipping.
        let (cid, ck) = &c.keys[&Role::Carrier];
        match svc.custody().submit(&signed(
            cid,
            ck,
            &lot,
            &head,
            Event::Arriving(Movement::default()),
            vec![],
        )) {
            Err(e @ ServiceError::Custody(CustodyError::OutOfOrder(_))) => assert!(
                e.to_string()
                    .contains("arriving needs the lot at stage departed"),
                "{e}"
            ),
            other => panic!("wrong order: {other:?}"),
        }
        // Stale prev.
        match svc.custody().submit(&signed(
            cid,
            ck,
            &lot,
            GENESIS,
            Event::Shipping(Movement::default()),
            vec![],
        )) {
            Err(e @ ServiceError::Custody(CustodyError::StaleHead { .. })) => {
                assert!(e.to_string().contains("is not the head"), "{e}")
            }
            other => panic!("stale prev: {other:?}"),
        }
        // Signed for another deployment's log (e.g. staging), replayed here.
        let mut other_log: Statement = serde_json::from_str(&good.statement).unwrap();
        other_log.log = "staging.example.com/log".into();
        let replayed = Submission {
            statement: other_log.canonical(),
            signature: other_log.sign(sk),
        };
        assert!(
            matches!(svc.custody().submit(&replayed), Err(e @ ServiceError::Custody(CustodyError::WrongLog { .. })) if e.to_string().contains("signed for log"))
        );
        // Unknown actor.
        let ghost = signed(
            "ghost",
            sk,
            &lot,
            &head,
            Event::Packing(Packing::default()),
            vec![],
        );
        assert!(
            matches!(svc.custody().submit(&ghost), Err(e @ ServiceError::Custody(CustodyError::UnknownActor { .. })) if e.to_string().contains("unknown actor"))
        );
        // Non-canonical statement text.
        let pretty = Submission {
            statement: serde_json::to_string_pretty(&st).unwrap(),
            signature: good.signature.clone(),
        };
        assert!(
            matches!(svc.custody().submit(&pretty), Err(e @ ServiceError::Custody(CustodyError::MalformedStatement(_))) if e.to_string().contains("canonical"))
        );
        assert_eq!(
            svc.log().log_size().unwrap(),
            size,
            "nothing refused was stored"
        );
        // The good packing statement is still acceptable.
        svc.custody().submit(&good).unwrap();
    }

    #[test]
    fn out_of_range_times_are_refused_and_log_nothing() {
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let (id, sk) = &c.keys[&Role::Inspector];
        let size = svc.log().log_size().unwrap();
        let key = |not_after| KeyInput {
            public_key: base64::engine::general_purpose::STANDARD.encode(
                SigningKey::from_bytes(&[9u8; 32])
                    .verifying_key()
                    .as_bytes(),
            ),
            not_before: None,
            not_after: Some(not_after),
            replaces: None,
        };
        // Beyond JavaScript's safe integers (what canonical JSON can carry), and beyond 9999.
        for t in [9_007_199_254_740_993, 253_402_300_800, -1] {
            match svc.registry().add_actor_key(id, &key(t)) {
                Err(e) if e.kind() == ErrorKind::Invalid => {
                    assert!(e.to_string().contains("not_after"), "{e}")
                }
                other => panic!("{t}: {other:?}"),
            }
        }
        let revoke = RevokeInput {
            reason: "r".into(),
            revoked_from: Some(i64::MAX),
        };
        let kid = KeyId::of(&sk.verifying_key()).to_string();
        assert!(matches!(
            svc.registry().revoke_actor_key(id, &kid, &revoke),
            Err(e) if e.kind() == ErrorKind::Invalid
        ));
        // An event dated far from its signature (year 9999, or three years back) is refused.
        let lot = format!("{GTIN}.T1");
        for time in ["9999-12-31T23:59:59-01:00", "2023-01-01T00:00:00+00:00"] {
            let st = Statement {
                log: svc.origin().to_string(),
                lot: lot.clone(),
                items: vec![],
                prev: GENESIS.into(),
                actor: id.clone(),
                kid: kid.clone(),
                time: time.into(),
                signed_at: now_unix(),
                nonce: random_nonce(),
                place: None,
                event: attest(Conformance::Conformant),
            };
            let sub = Submission {
                statement: st.canonical(),
                signature: st.sign(sk),
            };
            match svc.custody().submit(&sub) {
                Err(e @ ServiceError::Custody(CustodyError::MalformedStatement(_))) => {
                    assert!(e.to_string().contains("two years"), "{e}")
                }
                other => panic!("{time}: {other:?}"),
            }
        }
        assert_eq!(svc.log().log_size().unwrap(), size, "nothing was logged");
    }

    #[test]
    fn serials_of_an_interrupted_batch_get_no_custody_and_no_export() {
        let (svc, mem) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let (b, _) = svc
            .issuance()
            .issue_batch(&crate::service::issuance::tests::req(2), "k", &|_| {})
            .unwrap();
        let code = svc.issuance().batch_codes(&b, 0, 1).unwrap().remove(0).code;
        let item = crate::commitment::ItemRef::of_uri(&code).to_string();
        let lot = format!("{GTIN}.{}", b.lot);
        for (r, e) in prefix_until(Step::Release) {
            c.submit(&svc, r, &lot, e, vec![]).unwrap();
        }
        // What a crash mid-issuance leaves: the batch record still `issuing`.
        let mut sb = svc.issuance().stored_batch(b.id).unwrap();
        sb.batch.status = crate::service::issuance::BatchStatus::Issuing;
        let mut wb = crate::store::WriteBatch::new();
        wb.put(Cf::Batches, u64_key(b.id), encode_json(&sb));
        crate::store::Store::write(mem.as_ref(), wb, crate::store::Durability::Synced).unwrap();
        release_is_refused_as_unusable(&c, &svc, &lot, item);
        assert!(matches!(
            svc.custody()
                .item_epcis(&crate::code::Code::parse(&code).unwrap()),
            Err(e) if e.kind() == ErrorKind::Conflict
        ));
        let page = svc
            .custody()
            .lot_epcis(
                &lot,
                LotPage {
                    after: None,
                    limit: None,
                },
            )
            .unwrap();
        let events = page.doc["epcisBody"]["eventList"].as_array().unwrap();
        assert!(
            events.iter().all(|e| e["bizStep"] != "commissioning"),
            "no commissioning of an interrupted batch"
        );
    }

    #[test]
    fn revoked_and_rotated_keys() {
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let lot = format!("{GTIN}.L2");
        declare(&svc, &lot);
        let (id, sk) = &c.keys[&Role::Inspector];
        let kid = KeyId::of(&sk.verifying_key()).to_string();
        // Rotation: the new key replaces the old from now on.
        let new = SigningKey::from_bytes(&[42u8; 32]);
        let a = svc
            .registry()
            .add_actor_key(
                id,
                &KeyInput {
                    public_key: base64::engine::general_purpose::STANDARD
                        .encode(new.verifying_key().as_bytes()),
                    not_before: Some(now_unix() - 10),
                    not_after: None,
                    replaces: Some(kid.clone()),
                },
            )
            .unwrap();
        assert_eq!(a.keys.len(), 2);
        assert_eq!(a.records.len(), 3, "register, add_key, add_key (rotation)");
        match svc.custody().submit(&signed(
            id,
            sk,
            &lot,
            GENESIS,
            attest(Conformance::Conformant),
            vec![],
        )) {
            Err(e @ ServiceError::Custody(CustodyError::KeyExpired { .. })) => {
                assert!(e.to_string().contains("expired"), "{e}")
            }
            other => panic!("rotated-out key: {other:?}"),
        }
        svc.custody()
            .submit(&signed(
                id,
                &new,
                &lot,
                GENESIS,
                attest(Conformance::Conformant),
                vec![],
            ))
            .unwrap();
        // Revocation from a past time flags records signed since, and refuses new ones.
        let new_kid = KeyId::of(&new.verifying_key()).to_string();
        svc.registry()
            .revoke_actor_key(
                id,
                &new_kid,
                &RevokeInput {
                    reason: "laptop stolen".into(),
                    revoked_from: Some(now_unix() - 5),
                },
            )
            .unwrap();
        let l = LotId::parse(&lot).unwrap();
        let views = svc
            .custody()
            .record_views(&svc.custody().lot_records(&l, 100).unwrap())
            .unwrap();
        assert!(
            views[0].key_revoked,
            "the attestation was signed after the revocation time"
        );
        let (cid, ck) = &c.keys[&Role::Carrier];
        svc.custody()
            .submit(&signed(
                cid,
                ck,
                &lot,
                &svc.custody().lot_head(&lot).unwrap(),
                Event::Shipping(Movement::default()),
                vec![],
            ))
            .unwrap();
        match svc.custody().submit(&signed(
            id,
            &new,
            &lot,
            &svc.custody().lot_head(&lot).unwrap(),
            Event::Packing(Packing::default()),
            vec![],
        )) {
            Err(e @ ServiceError::Custody(CustodyError::KeyRevoked { .. })) => {
                assert!(e.to_string().contains("revoked"), "{e}")
            }
            other => panic!("revoked key: {other:?}"),
        }
        assert!(matches!(
            svc.registry().revoke_actor_key(
                id,
                &new_kid,
                &RevokeInput {
                    reason: "again".into(),
                    revoked_from: None
                }
            ),
            Err(ServiceError::Registry(RegistryError::AlreadyRevoked { .. }))
        ));
    }

    #[test]
    fn item_scoped_release_and_sale_and_lot_chain_links() {
        let (svc, _) = test_service();
        seed(&svc);
        let c = cast(&svc);
        let (b, _) = svc
            .issuance()
            .issue_batch(&crate::service::issuance::tests::req(3), "k", &|_| {})
            .unwrap();
        let codes = svc.issuance().batch_codes(&b, 0, 10).unwrap();
        let lot = format!("{GTIN}.{}", b.lot);
        for (r, e) in prefix_until(Step::Release) {
            c.submit(&svc, r, &lot, e, vec![]).unwrap();
        }
        // Items are named by item reference (computed from the code on the label).
        let refs: Vec<String> = codes
            .iter()
            .map(|c| crate::commitment::ItemRef::of_uri(&c.code).to_string())
            .collect();
        let serials: Vec<String> = codes.iter().map(|c| c.serial.clone()).collect();
        let head = svc.custody().lot_head(&lot).unwrap();
        let rel = c
            .submit(
                &svc,
                Role::BondedWarehouse,
                &lot,
                Event::Release(Outbound {
                    order_no: Some("O-1".into()),
                    declaration_no: None,
                }),
                vec![refs[0].clone()],
            )
            .unwrap();
        assert_eq!(
            rel.head, head,
            "item-scoped records do not move the lot head"
        );
        // Selling an item that was not released is out of order; the message names the item
        // by its reference, never by its serial (references are public once recorded).
        match c.submit(
            &svc,
            Role::Retailer,
            &lot,
            Event::RetailSale(Outbound::default()),
            vec![refs[1].clone()],
        ) {
            Err(e @ ServiceError::Custody(CustodyError::OutOfOrder(_))) => {
                let m = e.to_string();
                assert!(
                    m.contains("not been released")
                        && m.contains(&refs[1])
                        && !m.contains(&serials[1]),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        c.submit(
            &svc,
            Role::Retailer,
            &lot,
            Event::RetailSale(Outbound::default()),
            vec![refs[0].clone()],
        )
        .unwrap();
        // An item reference of no issued item — e.g. a commitment copied from the public log,
        // which is not an item reference — is refused.
        let commitment = crate::commitment::Commitment::of_uri(&codes[2].code).to_string();
        for bogus in [commitment, crate::commitment::ItemRef([7; 32]).to_string()] {
            release_is_refused_as_unusable(&c, &svc, &lot, bogus);
        }
        // The item's chain: 8 lot-wide records + its release and sale; others see only 8.
        let l = LotId::parse(&lot).unwrap();
        let chain = svc.custody().item_chain(&l, &serials[0]).unwrap();
        assert_eq!(chain.len(), 10);
        assert_eq!(svc.custody().item_chain(&l, &serials[1]).unwrap().len(), 8);
        // Lot-wide records form an unbroken hash chain from GENESIS.
        let views = svc.custody().record_views(&chain).unwrap();
        let mut prev = GENESIS.to_string();
        for v in views.iter().filter(|v| v.items == 0) {
            assert_eq!(v.prev, prev);
            prev = v.record_hash.clone();
        }
        assert_eq!(prev, svc.custody().lot_head(&lot).unwrap());
        // A recall joins the chain and blocks further releases.
        svc.custody()
            .recall(
                &lot,
                &RecallInput {
                    reason: "contamination".into(),
                    class: None,
                },
            )
            .unwrap();
        match c.submit(
            &svc,
            Role::BondedWarehouse,
            &lot,
            Event::Release(Outbound::default()),
            vec![refs[1].clone()],
        ) {
            Err(e @ ServiceError::Custody(CustodyError::OutOfOrder(_))) => {
                assert!(e.to_string().contains("recalled"), "{e}")
            }
            other => panic!("{other:?}"),
        }
    }
}
