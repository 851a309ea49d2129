//! The custody chain's vocabulary: who signs (roles), what happens (the steps and their
//! events with their fields), and where (places, documents).

use std::fmt;

use serde::{Deserialize, Serialize};

/// The parties of the custody chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Overseas inspection body: origin attestation, sealing/packing after inspection.
    Inspector,
    /// Carrier or forwarder: packing, shipping, departure, arrival at port.
    Carrier,
    /// Customs broker: declaration, clearance, customs holds.
    CustomsBroker,
    /// Bonded warehouse: receiving, storing, quality holds, release.
    BondedWarehouse,
    /// Retailer or self-pickup centre: sale or hand-over to the consumer.
    Retailer,
}

impl Role {
    /// Every role, in documentation order.
    pub const ALL: [Role; 5] = [
        Role::Inspector,
        Role::Carrier,
        Role::CustomsBroker,
        Role::BondedWarehouse,
        Role::Retailer,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Inspector => "inspector",
            Role::Carrier => "carrier",
            Role::CustomsBroker => "customs_broker",
            Role::BondedWarehouse => "bonded_warehouse",
            Role::Retailer => "retailer",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An inspection result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Conformance {
    /// The lot conforms.
    Conformant,
    /// The lot does not conform: it may not be released.
    NonConformant,
}

/// Who may lift a hold: customs holds are the customs broker's, quality holds the warehouse's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HoldType {
    /// Held by customs (e.g. document check, sampling).
    Customs,
    /// Held for quality (e.g. damaged packaging, temperature excursion).
    Quality,
}

impl HoldType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldType::Customs => "customs",
            HoldType::Quality => "quality",
        }
    }
}

/// A supporting document, referenced by hash (the document itself stays with the inspector).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentRef {
    /// File name or title.
    pub name: String,
    /// SHA-256 of the document bytes, 64 lowercase hex characters.
    pub sha256: String,
}

/// Where an event happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Place {
    /// Human-readable name, e.g. "Port of Melbourne".
    pub name: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// UN/LOCODE without the space, e.g. `AUMEL`, optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlocode: Option<String>,
    /// GS1 Global Location Number (13 digits), optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gln: Option<String>,
}

/// Origin attestation by an inspector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    /// Inspection certificate number.
    pub certificate_no: String,
    /// ISO 3166-1 alpha-2 country of origin.
    pub origin_country: String,
    /// Producer (factory, winery, farm).
    pub producer: String,
    /// Inspection date `YYYY-MM-DD`.
    pub inspection_date: String,
    /// `conformant` or `non_conformant`.
    pub result: Conformance,
    /// Supporting documents, by hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentRef>,
}

/// Packing / aggregation into cases, pallets or a container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Packing {
    /// Number of packages (cases, pallets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packages: Option<u32>,
    /// The container or SSCC the goods were packed into.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
}

/// A movement: shipping, departing, arriving.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Movement {
    /// Vessel, voyage or flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<String>,
    /// Bill of lading or air waybill number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bill_of_lading: Option<String>,
}

/// Customs declaration or clearance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customs {
    /// Customs declaration number (报关单号).
    pub declaration_no: String,
}

/// Receiving or storing in the bonded warehouse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Warehousing {
    /// Storage location (zone, rack).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// A sampling inspection in the bonded warehouse (抽样检验), by an engaged inspector or the
/// warehouse's QA. Lots of high-risk importers or products need a conformant one before
/// release (`docs/credit-model.md`, Supervision); a non-conformant one keeps the lot in.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sampling {
    /// Inspection report number.
    pub report_no: String,
    /// Units sampled (1 or more).
    pub samples: u32,
    /// The result.
    pub result: Conformance,
    /// Supporting documents (the laboratory report), by hash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub documents: Vec<DocumentRef>,
}

/// A customs or quality hold, or its release.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hold {
    /// `customs` or `quality`.
    pub hold_type: HoldType,
    /// Why (placing a hold) or what resolved it (releasing one).
    pub reason: String,
}

/// Release from the bonded warehouse, a retail sale or a self-pickup.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outbound {
    /// Order number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_no: Option<String>,
    /// Per-order customs declaration (清单) number, for releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declaration_no: Option<String>,
}

/// The step a statement records, with its data. Wire form: `{"step": "...", "data": {...}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "step",
    content = "data",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Event {
    /// Origin and inspection result of the lot.
    OriginAttestation(Attestation),
    /// Packing or aggregation.
    Packing(Packing),
    /// Handed to the carrier, shipping.
    Shipping(Movement),
    /// Departed the origin port.
    Departing(Movement),
    /// Arrived at the destination port.
    Arriving(Movement),
    /// Customs declaration filed.
    CustomsDeclaration(Customs),
    /// Customs clearance granted.
    CustomsClearance(Customs),
    /// Received into the bonded warehouse.
    Receiving(Warehousing),
    /// Stored (put away or moved) in the bonded warehouse.
    Storing(Warehousing),
    /// Sampled and inspected in the bonded warehouse.
    Sampling(Sampling),
    /// A customs or quality hold placed.
    Holding(Hold),
    /// A hold lifted.
    HoldRelease(Hold),
    /// Released from the bonded warehouse.
    Release(Outbound),
    /// Sold at retail.
    RetailSale(Outbound),
    /// Collected by the consumer at a self-pickup centre.
    SelfPickup(Outbound),
}

/// The kinds of [`Event`], without data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// See [`Event::OriginAttestation`].
    OriginAttestation,
    /// See [`Event::Packing`].
    Packing,
    /// See [`Event::Shipping`].
    Shipping,
    /// See [`Event::Departing`].
    Departing,
    /// See [`Event::Arriving`].
    Arriving,
    /// See [`Event::CustomsDeclaration`].
    CustomsDeclaration,
    /// See [`Event::CustomsClearance`].
    CustomsClearance,
    /// See [`Event::Receiving`].
    Receiving,
    /// See [`Event::Storing`].
    Storing,
    /// See [`Event::Sampling`].
    Sampling,
    /// See [`Event::Holding`].
    Holding,
    /// See [`Event::HoldRelease`].
    HoldRelease,
    /// See [`Event::Release`].
    Release,
    /// See [`Event::RetailSale`].
    RetailSale,
    /// See [`Event::SelfPickup`].
    SelfPickup,
}

impl Step {
    /// Every step, in chain order.
    pub const ALL: [Step; 15] = [
        Step::OriginAttestation,
        Step::Packing,
        Step::Shipping,
        Step::Departing,
        Step::Arriving,
        Step::CustomsDeclaration,
        Step::CustomsClearance,
        Step::Receiving,
        Step::Storing,
        Step::Sampling,
        Step::Holding,
        Step::HoldRelease,
        Step::Release,
        Step::RetailSale,
        Step::SelfPickup,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::OriginAttestation => "origin_attestation",
            Step::Packing => "packing",
            Step::Shipping => "shipping",
            Step::Departing => "departing",
            Step::Arriving => "arriving",
            Step::CustomsDeclaration => "customs_declaration",
            Step::CustomsClearance => "customs_clearance",
            Step::Receiving => "receiving",
            Step::Storing => "storing",
            Step::Sampling => "sampling",
            Step::Holding => "holding",
            Step::HoldRelease => "hold_release",
            Step::Release => "release",
            Step::RetailSale => "retail_sale",
            Step::SelfPickup => "self_pickup",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Step> {
        Step::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether the step may name a set of items instead of the whole lot.
    pub fn item_scoped_allowed(self) -> bool {
        matches!(self, Step::Release | Step::RetailSale | Step::SelfPickup)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// The step.
    pub fn step(&self) -> Step {
        match self {
            Event::OriginAttestation(_) => Step::OriginAttestation,
            Event::Packing(_) => Step::Packing,
            Event::Shipping(_) => Step::Shipping,
            Event::Departing(_) => Step::Departing,
            Event::Arriving(_) => Step::Arriving,
            Event::CustomsDeclaration(_) => Step::CustomsDeclaration,
            Event::CustomsClearance(_) => Step::CustomsClearance,
            Event::Receiving(_) => Step::Receiving,
            Event::Storing(_) => Step::Storing,
            Event::Sampling(_) => Step::Sampling,
            Event::Holding(_) => Step::Holding,
            Event::HoldRelease(_) => Step::HoldRelease,
            Event::Release(_) => Step::Release,
            Event::RetailSale(_) => Step::RetailSale,
            Event::SelfPickup(_) => Step::SelfPickup,
        }
    }
}
