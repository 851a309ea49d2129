//! Who may record which step (the permission matrix) and in which order (the lot state
//! machine). Pure functions; `docs/custody.md` shows both as tables.

use serde::{Deserialize, Serialize};

use super::record::{Conformance, Event, HoldType, Role, Step};

/// Whether `role` may record `event`. Holds are split by type: customs holds belong to the
/// customs broker, quality holds to the bonded warehouse.
pub fn allowed(role: Role, event: &Event) -> bool {
    match event {
        Event::Holding(h) | Event::HoldRelease(h) => hold_owner(h.hold_type) == role,
        e => step_roles(e.step()).contains(&role),
    }
}

/// The role that places and lifts holds of `t`.
pub fn hold_owner(t: HoldType) -> Role {
    match t {
        HoldType::Customs => Role::CustomsBroker,
        HoldType::Quality => Role::BondedWarehouse,
    }
}

/// The roles that may record `step` (for holds: either owner, by hold type).
pub fn step_roles(step: Step) -> &'static [Role] {
    match step {
        Step::OriginAttestation => &[Role::Inspector],
        Step::Packing => &[Role::Inspector, Role::Carrier],
        Step::Shipping | Step::Departing | Step::Arriving => &[Role::Carrier],
        Step::CustomsDeclaration | Step::CustomsClearance => &[Role::CustomsBroker],
        Step::Receiving | Step::Storing | Step::Release => &[Role::BondedWarehouse],
        Step::Sampling => &[Role::Inspector, Role::BondedWarehouse],
        Step::Holding | Step::HoldRelease => &[Role::CustomsBroker, Role::BondedWarehouse],
        Step::RetailSale | Step::SelfPickup => &[Role::Retailer],
    }
}

/// A complete import, in order, each step with the role that records it: origin attestation
/// (conformant), shipping, departure, arrival, customs declaration and clearance (number
/// `declaration_no`), receiving and storing in the bonded warehouse, release, retail sale. All
/// lot-wide. For examples, load tests and benchmarks.
pub fn standard_route(declaration_no: &str) -> Vec<(Role, Event)> {
    use super::record::{Attestation, Customs, Movement, Outbound, Warehousing};
    let d = || Customs {
        declaration_no: declaration_no.to_string(),
    };
    vec![
        (
            Role::Inspector,
            Event::OriginAttestation(Attestation {
                certificate_no: "CERT-1".into(),
                origin_country: "AU".into(),
                producer: "Gippsland Dairy".into(),
                inspection_date: "2026-11-01".into(),
                result: Conformance::Conformant,
                documents: vec![],
            }),
        ),
        (Role::Carrier, Event::Shipping(Movement::default())),
        (Role::Carrier, Event::Departing(Movement::default())),
        (Role::Carrier, Event::Arriving(Movement::default())),
        (Role::CustomsBroker, Event::CustomsDeclaration(d())),
        (Role::CustomsBroker, Event::CustomsClearance(d())),
        (
            Role::BondedWarehouse,
            Event::Receiving(Warehousing::default()),
        ),
        (
            Role::BondedWarehouse,
            Event::Storing(Warehousing::default()),
        ),
        (Role::BondedWarehouse, Event::Release(Outbound::default())),
        (Role::Retailer, Event::RetailSale(Outbound::default())),
    ]
}

/// How far a lot has come along the import route.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Nothing recorded yet.
    #[default]
    New,
    /// Origin attested (packing may follow).
    Attested,
    /// Handed to the carrier.
    Shipped,
    /// Left the origin port.
    Departed,
    /// At the destination port.
    Arrived,
    /// Customs declaration filed.
    Declared,
    /// Cleared by customs.
    Cleared,
    /// In the bonded warehouse.
    Received,
}

/// Most packing records per lot (packing happens once per packing unit; a lot is packed in a
/// few steps at most).
pub const MAX_PACKING: u32 = 20;
/// Most storing records per lot (put-away and moves inside the bonded warehouse).
pub const MAX_STORING: u32 = 50;
/// Most holds placed on one lot (customs and quality together).
pub const MAX_HOLDS: u32 = 20;

/// How often a repeatable lot-wide step may be recorded for one lot; `None` for steps the
/// state machine allows once (or, for hold releases, once per hold). Item-scoped records are
/// bounded by the items: each is released once and sold once.
pub fn max_repeats(step: Step) -> Option<u32> {
    match step {
        Step::Packing => Some(MAX_PACKING),
        Step::Storing => Some(MAX_STORING),
        Step::Holding => Some(MAX_HOLDS),
        _ => None,
    }
}

/// The custody state of a lot (stored; updated by [`apply`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LotState {
    /// When the importer declared the lot ahead of labelling (Unix seconds); a lot also
    /// exists once a batch of it was issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_at: Option<i64>,
    /// Records of each repeatable step so far (see [`max_repeats`]).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub repeats: std::collections::BTreeMap<Step, u32>,
    /// Leaf hash (hex) of the latest lot-wide record; `None` before the first.
    pub head: Option<String>,
    /// Records so far (lot-wide and item-scoped).
    pub records: u64,
    /// Progress along the route.
    pub stage: Stage,
    /// The inspection result, once attested.
    pub attestation: Option<Conformance>,
    /// The sampling inspection's result, once sampled in the bonded warehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling: Option<Conformance>,
    /// The customs declaration number, once declared.
    pub declaration_no: Option<String>,
    /// When the customs declaration was accepted (Unix seconds; for on-time custody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_step_at: Option<i64>,
    /// When the customs clearance was accepted (Unix seconds; for on-time custody).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared_at: Option<i64>,
    /// Active holds.
    pub holds: Vec<HoldType>,
    /// The recall reason, once recalled.
    pub recalled: Option<String>,
    /// Released from the bonded warehouse as a whole.
    pub released: bool,
    /// Sold or picked up as a whole.
    pub sold: bool,
    /// Items released one by one (item-scoped releases).
    #[serde(default)]
    pub items_released: u64,
    /// Items sold or picked up one by one.
    #[serde(default)]
    pub items_sold: u64,
}

/// Custody state of one item, for item-scoped releases and sales.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemState {
    /// Released from the bonded warehouse.
    pub released: bool,
    /// Sold or picked up.
    pub sold: bool,
}

/// How late a step of the import route came, by the on-time limits (seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnTime {
    /// Clearance after declaration.
    pub clearance_secs: i64,
    /// Receiving after clearance.
    pub receiving_secs: i64,
}

/// Notes the time `now` of a declaration or clearance in `lot` (just applied), and whether a
/// clearance or a receiving came later than `limits` after the step before it.
pub fn timed(lot: &mut LotState, step: Step, now: i64, limits: OnTime) -> bool {
    match step {
        Step::CustomsDeclaration => {
            lot.declared_step_at = Some(now);
            false
        }
        Step::CustomsClearance => {
            lot.cleared_at = Some(now);
            lot.declared_step_at
                .is_some_and(|t| now - t >= limits.clearance_secs)
        }
        Step::Receiving => lot
            .cleared_at
            .is_some_and(|t| now - t >= limits.receiving_secs),
        _ => false,
    }
}

/// An event that is out of order for the lot's state (HTTP 409), with the reason.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct OrderError(pub String);

fn need(ok: bool, msg: impl FnOnce() -> String) -> Result<(), OrderError> {
    if ok {
        Ok(())
    } else {
        Err(OrderError(msg()))
    }
}

fn at_stage(lot: &LotState, want: Stage, step: Step) -> Result<(), OrderError> {
    need(lot.stage == want, || {
        format!(
            "{step} needs the lot at stage {want:?}, but it is at {:?}",
            lot.stage
        )
        .to_lowercase()
    })
}

/// Applies `event` to the lot (and, for an item-scoped event, to `items`: the states of the
/// named serials, in order), or says why it is out of order. On error nothing is changed.
pub fn apply(
    lot: &mut LotState,
    event: &Event,
    items: &mut [(String, ItemState)],
) -> Result<(), OrderError> {
    let step = event.step();
    let mut next = lot.clone();
    count_step(lot, step, &mut next)?;
    match event {
        Event::Holding(h) => place_hold(lot, h.hold_type, &mut next)?,
        Event::HoldRelease(h) => lift_hold(lot, h.hold_type, &mut next)?,
        Event::Sampling(s) => sample(lot, s.result, &mut next)?,
        Event::Release(_) => release(lot, items, &mut next)?,
        Event::RetailSale(_) | Event::SelfPickup(_) => sell(lot, items, &mut next)?,
        route => route_step(lot, route, &mut next)?,
    }
    // Item changes only once every check passed.
    for (_, st) in items.iter_mut() {
        match step {
            Step::Release => st.released = true,
            Step::RetailSale | Step::SelfPickup => st.sold = true,
            _ => {}
        }
    }
    next.records += 1;
    *lot = next;
    Ok(())
}

/// Checks that come before every step: the origin attestation first, and the bound on
/// repeatable steps (counted in `next`).
fn count_step(lot: &LotState, step: Step, next: &mut LotState) -> Result<(), OrderError> {
    if step != Step::OriginAttestation {
        need(lot.stage >= Stage::Attested, || {
            format!("{step} before the origin attestation: the inspector's attestation comes first")
        })?;
    }
    if let Some(max) = max_repeats(step) {
        let n = lot.repeats.get(&step).copied().unwrap_or(0);
        need(n < max, || {
            format!("the lot has {n} {step} records, the most a lot may have")
        })?;
        next.repeats.insert(step, n + 1);
    }
    Ok(())
}

/// The steps along the route, from attestation to storing in the bonded warehouse: each
/// needs the lot at the stage before it and moves it on.
fn route_step(lot: &LotState, event: &Event, next: &mut LotState) -> Result<(), OrderError> {
    let step = event.step();
    match event {
        Event::OriginAttestation(a) => {
            need(lot.stage == Stage::New, || {
                "the lot already has an origin attestation; a lot is attested once".into()
            })?;
            next.stage = Stage::Attested;
            next.attestation = Some(a.result);
        }
        Event::Packing(_) => at_stage(lot, Stage::Attested, step)
            .map_err(|_| OrderError("packing must happen before shipping".into()))?,
        Event::Shipping(_) => advance(lot, next, Stage::Attested, Stage::Shipped, step)?,
        Event::Departing(_) => advance(lot, next, Stage::Shipped, Stage::Departed, step)?,
        Event::Arriving(_) => advance(lot, next, Stage::Departed, Stage::Arrived, step)?,
        Event::CustomsDeclaration(c) => {
            advance(lot, next, Stage::Arrived, Stage::Declared, step)?;
            next.declaration_no = Some(c.declaration_no.clone());
        }
        Event::CustomsClearance(c) => clear(lot, &c.declaration_no, next)?,
        Event::Receiving(_) => {
            need(lot.stage >= Stage::Arrived, || {
                "receiving before arriving: the lot has not arrived at port".into()
            })?;
            advance(lot, next, Stage::Cleared, Stage::Received, step)?;
        }
        Event::Storing(_) => at_stage(lot, Stage::Received, step)?,
        Event::Holding(_)
        | Event::HoldRelease(_)
        | Event::Sampling(_)
        | Event::Release(_)
        | Event::RetailSale(_)
        | Event::SelfPickup(_) => {
            return Err(OrderError(format!("{step} is not a step along the route")))
        }
    }
    Ok(())
}

fn advance(
    lot: &LotState,
    next: &mut LotState,
    from: Stage,
    to: Stage,
    step: Step,
) -> Result<(), OrderError> {
    at_stage(lot, from, step)?;
    next.stage = to;
    Ok(())
}

/// Customs clearance: of the declaration the lot was declared under, with no customs hold.
fn clear(lot: &LotState, declaration_no: &str, next: &mut LotState) -> Result<(), OrderError> {
    at_stage(lot, Stage::Declared, Step::CustomsClearance)?;
    need(
        lot.declaration_no.as_deref() == Some(declaration_no),
        || {
            format!(
                "clearance names declaration {declaration_no}, but the lot was declared as {}",
                lot.declaration_no.as_deref().unwrap_or("-")
            )
        },
    )?;
    need(!lot.holds.contains(&HoldType::Customs), || {
        "the lot is under a customs hold; release the hold before clearance".into()
    })?;
    next.stage = Stage::Cleared;
    Ok(())
}

fn place_hold(lot: &LotState, t: HoldType, next: &mut LotState) -> Result<(), OrderError> {
    need(lot.stage >= Stage::Arrived, || {
        "a hold can be placed once the lot has arrived".into()
    })?;
    need(!lot.sold, || "the lot has been sold".into())?;
    need(!lot.holds.contains(&t), || {
        format!("the lot is already under a {} hold", t.as_str())
    })?;
    next.holds.push(t);
    next.holds.sort();
    Ok(())
}

fn lift_hold(lot: &LotState, t: HoldType, next: &mut LotState) -> Result<(), OrderError> {
    need(lot.holds.contains(&t), || {
        format!(
            "the lot is not under a {} hold; there is nothing to release",
            t.as_str()
        )
    })?;
    next.holds.retain(|h| *h != t);
    Ok(())
}

/// A sampling inspection: once, in the bonded warehouse, before anything left it.
fn sample(lot: &LotState, result: Conformance, next: &mut LotState) -> Result<(), OrderError> {
    at_stage(lot, Stage::Received, Step::Sampling)?;
    if let Some(r) = &lot.recalled {
        return Err(OrderError(format!("the lot has been recalled ({r})")));
    }
    need(lot.sampling.is_none(), || {
        "the lot already has a sampling inspection; a lot is sampled once".into()
    })?;
    need(!lot.released && lot.items_released == 0, || {
        "items of the lot have left the bonded warehouse; sample before release".into()
    })?;
    next.sampling = Some(result);
    Ok(())
}

/// Release from the bonded warehouse: of the whole lot (no items) or of the named items.
fn release(
    lot: &LotState,
    items: &[(String, ItemState)],
    next: &mut LotState,
) -> Result<(), OrderError> {
    at_stage(lot, Stage::Received, Step::Release)?;
    blocked(lot)?;
    need(lot.attestation == Some(Conformance::Conformant), || {
        "the origin attestation found the lot non_conformant: it may not be released".into()
    })?;
    need(lot.sampling != Some(Conformance::NonConformant), || {
        "the sampling inspection found the lot non_conformant: it may not be released".into()
    })?;
    need(!lot.released, || "the lot has already been released".into())?;
    if items.is_empty() {
        need(lot.items_released == 0, || {
            format!(
                "{} items of the lot were released one by one; release the others by serial",
                lot.items_released
            )
        })?;
        next.released = true;
    }
    next.items_released += items.len() as u64;
    for (serial, st) in items {
        need(!st.released, || {
            format!("item {serial} has already been released")
        })?;
    }
    Ok(())
}

/// Retail sale or self pickup: of the whole released lot (no items) or of the named items.
fn sell(
    lot: &LotState,
    items: &[(String, ItemState)],
    next: &mut LotState,
) -> Result<(), OrderError> {
    blocked(lot)?;
    need(!lot.sold, || "the lot has already been sold".into())?;
    if items.is_empty() {
        need(lot.released, || {
            "the lot has not been released from the bonded warehouse".into()
        })?;
        need(lot.items_sold == 0, || {
            format!(
                "{} items of the lot were sold one by one; record the others by serial",
                lot.items_sold
            )
        })?;
        next.sold = true;
    }
    next.items_sold += items.len() as u64;
    for (serial, st) in items {
        need(lot.released || st.released, || {
            format!("item {serial} has not been released from the bonded warehouse")
        })?;
        need(!st.sold, || {
            format!("item {serial} has already been sold or picked up")
        })?;
    }
    Ok(())
}

fn blocked(lot: &LotState) -> Result<(), OrderError> {
    if let Some(r) = &lot.recalled {
        return Err(OrderError(format!("the lot has been recalled ({r})")));
    }
    need(lot.holds.is_empty(), || {
        format!(
            "the lot is under a {} hold",
            lot.holds
                .iter()
                .map(|h| h.as_str())
                .collect::<Vec<_>>()
                .join(" and ")
        )
    })
}

/// Applies a recall.
pub fn recall(lot: &mut LotState, reason: &str) -> Result<(), OrderError> {
    need(lot.recalled.is_none(), || {
        "the lot has already been recalled".into()
    })?;
    lot.recalled = Some(reason.to_string());
    lot.records += 1;
    Ok(())
}

/// A step the lot may record next, and the roles that may record it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextStep {
    /// The step.
    pub step: Step,
    /// Who may record it now (for holds: the owners of the hold types that may be placed or
    /// lifted now).
    pub roles: Vec<Role>,
}

/// The steps [`apply`] would accept next for the lot, lot-wide or for one item not yet
/// released or sold, each with who may record it. Decided by the same rules as a submission:
/// each step is tried, with sample data, on a copy of the state.
pub fn next_steps(lot: &LotState) -> Vec<NextStep> {
    Step::ALL
        .into_iter()
        .filter_map(|step| {
            let mut roles: Vec<Role> = probes(lot, step)
                .into_iter()
                .filter(|(event, items)| accepts(lot, event, items))
                .flat_map(|(event, _)| match &event {
                    Event::Holding(h) | Event::HoldRelease(h) => vec![hold_owner(h.hold_type)],
                    _ => step_roles(step).to_vec(),
                })
                .collect();
            roles.sort();
            roles.dedup();
            (!roles.is_empty()).then_some(NextStep { step, roles })
        })
        .collect()
}

fn accepts(lot: &LotState, event: &Event, items: &[(String, ItemState)]) -> bool {
    apply(&mut lot.clone(), event, &mut items.to_vec()).is_ok()
}

/// Sample records of `step` to try: lot-wide, and for the outbound steps also one fresh
/// item; holds of either type.
fn probes(lot: &LotState, step: Step) -> Vec<(Event, Vec<(String, ItemState)>)> {
    use super::record::{
        Attestation, Customs, Hold, Movement, Outbound, Packing, Sampling, Warehousing,
    };
    let customs = || Customs {
        declaration_no: lot.declaration_no.clone().unwrap_or_default(),
    };
    let holds = |f: fn(Hold) -> Event| {
        [HoldType::Customs, HoldType::Quality].map(|hold_type| {
            f(Hold {
                hold_type,
                reason: String::new(),
            })
        })
    };
    let events: Vec<Event> = match step {
        Step::OriginAttestation => vec![Event::OriginAttestation(Attestation {
            certificate_no: String::new(),
            origin_country: String::new(),
            producer: String::new(),
            inspection_date: String::new(),
            result: Conformance::Conformant,
            documents: vec![],
        })],
        Step::Packing => vec![Event::Packing(Packing::default())],
        Step::Shipping => vec![Event::Shipping(Movement::default())],
        Step::Departing => vec![Event::Departing(Movement::default())],
        Step::Arriving => vec![Event::Arriving(Movement::default())],
        Step::CustomsDeclaration => vec![Event::CustomsDeclaration(customs())],
        Step::CustomsClearance => vec![Event::CustomsClearance(customs())],
        Step::Receiving => vec![Event::Receiving(Warehousing::default())],
        Step::Storing => vec![Event::Storing(Warehousing::default())],
        Step::Sampling => vec![Event::Sampling(Sampling {
            report_no: String::new(),
            samples: 1,
            result: Conformance::Conformant,
            documents: vec![],
        })],
        Step::Holding => holds(Event::Holding).to_vec(),
        Step::HoldRelease => holds(Event::HoldRelease).to_vec(),
        Step::Release => vec![Event::Release(Outbound::default())],
        Step::RetailSale => vec![Event::RetailSale(Outbound::default())],
        Step::SelfPickup => vec![Event::SelfPickup(Outbound::default())],
    };
    let one = vec![("item".to_string(), ItemState::default())];
    events
        .into_iter()
        .flat_map(|e| {
            let mut v = vec![(e.clone(), Vec::new())];
            if step.item_scoped_allowed() {
                v.push((e, one.clone()));
            }
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::custody::record::*;

    fn attest(result: Conformance) -> Event {
        Event::OriginAttestation(Attestation {
            certificate_no: "C1".into(),
            origin_country: "AU".into(),
            producer: "P".into(),
            inspection_date: "2026-01-01".into(),
            result,
            documents: vec![],
        })
    }

    fn customs(no: &str, clear: bool) -> Event {
        let c = Customs {
            declaration_no: no.into(),
        };
        if clear {
            Event::CustomsClearance(c)
        } else {
            Event::CustomsDeclaration(c)
        }
    }

    fn route(result: Conformance) -> Vec<Event> {
        vec![
            attest(result),
            Event::Packing(Packing::default()),
            Event::Shipping(Movement::default()),
            Event::Departing(Movement::default()),
            Event::Arriving(Movement::default()),
            customs("D1", false),
            customs("D1", true),
            Event::Receiving(Warehousing::default()),
            Event::Storing(Warehousing::default()),
        ]
    }

    fn next(lot: &LotState) -> Vec<Step> {
        next_steps(lot).into_iter().map(|n| n.step).collect()
    }

    #[test]
    fn next_steps_follow_the_state_machine() {
        let mut lot = LotState::default();
        assert_eq!(next(&lot), vec![Step::OriginAttestation]);
        assert_eq!(next_steps(&lot)[0].roles, vec![Role::Inspector]);
        apply(&mut lot, &attest(Conformance::Conformant), &mut []).unwrap();
        assert_eq!(next(&lot), vec![Step::Packing, Step::Shipping]);
        for e in &route(Conformance::Conformant)[1..5] {
            apply(&mut lot, e, &mut []).unwrap();
        }
        // Arrived: declaration, or a hold of either type.
        assert_eq!(next(&lot), vec![Step::CustomsDeclaration, Step::Holding]);
        let hold = |t| Hold {
            hold_type: t,
            reason: "check".into(),
        };
        apply(&mut lot, &Event::Holding(hold(HoldType::Customs)), &mut []).unwrap();
        let n = next_steps(&lot);
        let held = n.iter().find(|s| s.step == Step::Holding).unwrap();
        assert_eq!(
            held.roles,
            vec![Role::BondedWarehouse],
            "only the other hold type"
        );
        let lift = n.iter().find(|s| s.step == Step::HoldRelease).unwrap();
        assert_eq!(lift.roles, vec![Role::CustomsBroker]);
        apply(
            &mut lot,
            &Event::HoldRelease(hold(HoldType::Customs)),
            &mut [],
        )
        .unwrap();
        for e in &route(Conformance::Conformant)[5..] {
            apply(&mut lot, e, &mut []).unwrap();
        }
        assert!(next(&lot).contains(&Step::Release));
        recall(&mut lot, "contaminated").unwrap();
        assert!(
            !next(&lot).contains(&Step::Release),
            "a recalled lot is not released"
        );
    }

    fn sampled(result: Conformance) -> Event {
        Event::Sampling(super::super::event::Sampling {
            report_no: "NBQA-1".into(),
            samples: 3,
            result,
            documents: vec![],
        })
    }

    /// A sampling inspection: in the bonded warehouse only, once, before anything left; a
    /// non-conformant one keeps the lot in, a conformant one lets it go.
    #[test]
    fn sampling_happens_once_in_the_warehouse_and_a_bad_sample_keeps_the_lot_in() {
        let mut lot = LotState::default();
        let route = route(Conformance::Conformant);
        for e in &route[..7] {
            apply(&mut lot, e, &mut []).unwrap();
        }
        let err = apply(&mut lot, &sampled(Conformance::Conformant), &mut []).unwrap_err();
        assert!(err.0.contains("needs the lot at stage received"), "{err}");
        for e in &route[7..] {
            apply(&mut lot, e, &mut []).unwrap();
        }
        assert!(next(&lot).contains(&Step::Sampling));
        let mut bad = lot.clone();
        apply(&mut bad, &sampled(Conformance::NonConformant), &mut []).unwrap();
        assert_eq!(bad.sampling, Some(Conformance::NonConformant));
        let before = bad.clone();
        let err = apply(&mut bad, &sampled(Conformance::Conformant), &mut []).unwrap_err();
        assert!(err.0.contains("sampled once"), "{err}");
        let err = apply(&mut bad, &Event::Release(Outbound::default()), &mut []).unwrap_err();
        assert!(
            err.0
                .contains("sampling inspection found the lot non_conformant"),
            "{err}"
        );
        assert_eq!(bad, before, "refused records change nothing");
        assert!(!next(&bad).contains(&Step::Release));
        apply(&mut lot, &sampled(Conformance::Conformant), &mut []).unwrap();
        apply(&mut lot, &Event::Release(Outbound::default()), &mut []).unwrap();
        let mut released = LotState {
            sampling: None,
            ..lot.clone()
        };
        let err = apply(&mut released, &sampled(Conformance::Conformant), &mut []).unwrap_err();
        assert!(err.0.contains("left the bonded warehouse"), "{err}");
    }

    /// On-time custody: the declaration's and the clearance's times are noted; a clearance
    /// or a receiving at or past its limit after the step before is late.
    #[test]
    fn clearance_and_receiving_are_timed_against_their_limits() {
        let limits = OnTime {
            clearance_secs: 72 * 3_600,
            receiving_secs: 48 * 3_600,
        };
        let mut lot = LotState::default();
        assert!(!timed(&mut lot, Step::CustomsDeclaration, 1_000, limits));
        assert_eq!(lot.declared_step_at, Some(1_000));
        let mut on_time = lot.clone();
        assert!(!timed(
            &mut on_time,
            Step::CustomsClearance,
            1_000 + 72 * 3_600 - 1,
            limits
        ));
        assert!(timed(
            &mut lot,
            Step::CustomsClearance,
            1_000 + 72 * 3_600,
            limits
        ));
        assert_eq!(lot.cleared_at, Some(1_000 + 72 * 3_600));
        let at = 1_000 + 72 * 3_600;
        assert!(!timed(
            &mut lot.clone(),
            Step::Receiving,
            at + 3_600,
            limits
        ));
        assert!(timed(&mut lot, Step::Receiving, at + 49 * 3_600, limits));
        // Other steps are not timed; a lot never declared is never late.
        assert!(!timed(
            &mut LotState::default(),
            Step::Receiving,
            i64::MAX,
            limits
        ));
        assert!(!timed(&mut lot, Step::Storing, i64::MAX, limits));
    }

    #[test]
    fn repeatable_steps_are_bounded_per_lot() {
        let mut lot = LotState::default();
        for e in route(Conformance::Conformant) {
            apply(&mut lot, &e, &mut []).unwrap();
        }
        // One storing record so far; up to MAX_STORING in all.
        for _ in 1..MAX_STORING {
            apply(&mut lot, &Event::Storing(Warehousing::default()), &mut []).unwrap();
        }
        let before = lot.clone();
        let err = apply(&mut lot, &Event::Storing(Warehousing::default()), &mut []).unwrap_err();
        assert!(err.0.contains("50 storing records, the most"), "{err}");
        assert_eq!(lot, before, "a refused record changes nothing");
        // Holds: placing and lifting repeatedly stops at MAX_HOLDS placements.
        let hold = Hold {
            hold_type: HoldType::Quality,
            reason: "r".into(),
        };
        for _ in 0..MAX_HOLDS {
            apply(&mut lot, &Event::Holding(hold.clone()), &mut []).unwrap();
            apply(&mut lot, &Event::HoldRelease(hold.clone()), &mut []).unwrap();
        }
        let err = apply(&mut lot, &Event::Holding(hold), &mut []).unwrap_err();
        assert!(err.0.contains("20 holding records"), "{err}");
        assert_eq!(max_repeats(Step::Packing), Some(MAX_PACKING));
        assert_eq!(max_repeats(Step::Release), None);
    }

    #[test]
    fn the_route_in_order_then_item_release_and_sale() {
        let mut lot = LotState::default();
        for e in route(Conformance::Conformant) {
            apply(&mut lot, &e, &mut []).unwrap();
        }
        assert_eq!(lot.stage, Stage::Received);
        let mut items = vec![("A".to_string(), ItemState::default())];
        let sale = Event::RetailSale(Outbound::default());
        let err = apply(&mut lot, &sale, &mut items).unwrap_err();
        assert!(err.0.contains("not been released"), "{err}");
        apply(&mut lot, &Event::Release(Outbound::default()), &mut items).unwrap();
        assert!(items[0].1.released && !lot.released);
        apply(&mut lot, &sale, &mut items).unwrap();
        assert!(items[0].1.sold);
        assert!(apply(&mut lot, &sale, &mut items)
            .unwrap_err()
            .0
            .contains("already been sold"));
    }

    #[test]
    fn items_released_or_sold_one_by_one_block_the_lot_wide_step() {
        let mut lot = LotState::default();
        for e in route(Conformance::Conformant) {
            apply(&mut lot, &e, &mut []).unwrap();
        }
        let mut a = vec![("A".to_string(), ItemState::default())];
        apply(&mut lot, &Event::Release(Outbound::default()), &mut a).unwrap();
        let e = apply(&mut lot, &Event::Release(Outbound::default()), &mut []).unwrap_err();
        assert!(e.0.contains("released one by one"), "{e}");
        let mut b = vec![("B".to_string(), ItemState::default())];
        apply(&mut lot, &Event::Release(Outbound::default()), &mut b).unwrap();
        apply(&mut lot, &Event::RetailSale(Outbound::default()), &mut a).unwrap();
        assert_eq!((lot.items_released, lot.items_sold), (2, 1));
        // A lot released as a whole, then one item sold, cannot be sold as a whole.
        let mut whole = LotState::default();
        for e in route(Conformance::Conformant) {
            apply(&mut whole, &e, &mut []).unwrap();
        }
        apply(&mut whole, &Event::Release(Outbound::default()), &mut []).unwrap();
        let mut c = vec![("C".to_string(), ItemState::default())];
        apply(&mut whole, &Event::SelfPickup(Outbound::default()), &mut c).unwrap();
        let e = apply(&mut whole, &Event::RetailSale(Outbound::default()), &mut []).unwrap_err();
        assert!(e.0.contains("sold one by one"), "{e}");
    }

    #[test]
    fn out_of_order_steps_are_refused_without_change() {
        let mut lot = LotState::default();
        let e = apply(&mut lot, &Event::Receiving(Warehousing::default()), &mut []).unwrap_err();
        assert!(e.0.contains("attestation comes first"), "{e}");
        assert_eq!(lot, LotState::default());
        apply(&mut lot, &attest(Conformance::Conformant), &mut []).unwrap();
        let e = apply(&mut lot, &Event::Receiving(Warehousing::default()), &mut []).unwrap_err();
        assert!(e.0.contains("receiving before arriving"), "{e}");
        let e = apply(&mut lot, &attest(Conformance::Conformant), &mut []).unwrap_err();
        assert!(e.0.contains("attested once"), "{e}");
    }

    #[test]
    fn non_conformant_hold_and_recall_block_release() {
        let mut bad = LotState::default();
        for e in route(Conformance::NonConformant) {
            apply(&mut bad, &e, &mut []).unwrap();
        }
        let rel = Event::Release(Outbound::default());
        assert!(apply(&mut bad, &rel, &mut [])
            .unwrap_err()
            .0
            .contains("non_conformant"));

        let mut lot = LotState::default();
        for e in route(Conformance::Conformant) {
            apply(&mut lot, &e, &mut []).unwrap();
        }
        let hold = Hold {
            hold_type: HoldType::Quality,
            reason: "dented cans".into(),
        };
        apply(&mut lot, &Event::Holding(hold.clone()), &mut []).unwrap();
        assert!(apply(&mut lot, &rel, &mut [])
            .unwrap_err()
            .0
            .contains("quality hold"));
        apply(&mut lot, &Event::HoldRelease(hold.clone()), &mut []).unwrap();
        assert!(apply(&mut lot, &Event::HoldRelease(hold), &mut [])
            .unwrap_err()
            .0
            .contains("nothing to release"));
        recall(&mut lot, "contamination").unwrap();
        assert!(apply(&mut lot, &rel, &mut [])
            .unwrap_err()
            .0
            .contains("recalled"));
        assert!(recall(&mut lot, "again").is_err());
    }

    #[test]
    fn clearance_must_name_the_declared_number_and_no_customs_hold() {
        let mut lot = LotState::default();
        for e in route(Conformance::Conformant).into_iter().take(6) {
            apply(&mut lot, &e, &mut []).unwrap();
        }
        assert!(apply(&mut lot, &customs("D2", true), &mut [])
            .unwrap_err()
            .0
            .contains("declared as D1"));
        let h = Hold {
            hold_type: HoldType::Customs,
            reason: "sampling".into(),
        };
        apply(&mut lot, &Event::Holding(h), &mut []).unwrap();
        assert!(apply(&mut lot, &customs("D1", true), &mut [])
            .unwrap_err()
            .0
            .contains("customs hold"));
    }

    #[test]
    fn the_matrix_gives_each_step_to_its_roles() {
        for step in Step::ALL {
            assert!(!step_roles(step).is_empty(), "{step} has an owner");
        }
        let q = Event::Holding(Hold {
            hold_type: HoldType::Quality,
            reason: "r".into(),
        });
        assert!(allowed(Role::BondedWarehouse, &q));
        assert!(!allowed(Role::CustomsBroker, &q));
        assert!(!allowed(Role::Carrier, &attest(Conformance::Conformant)));
    }
}
