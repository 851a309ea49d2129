//! GS1 EPCIS 2.0 JSON-LD export of custody records (pure core), with CBV 2.0 event hash IDs.
//!
//! Mapping (see `docs/epcis.md`): each custody record becomes one `ObjectEvent`; issuance
//! becomes a `commissioning` event. Lot-wide events name the lot as a class
//! (`quantityList[{epcClass: https://id.gs1.org/01/{gtin}/10/{lot}}]`). Item-scoped events
//! name their items by reference only (a code is a secret until its label is seen), so a lot
//! export shows them as the lot class with the number of items, and an item's own export
//! (asked for with its code) names that item (`epcList[https://id.gs1.org/01/{gtin}/21/{serial}]`).
//! Customs declaration
//! numbers travel as `bizTransaction`s; signer and record hash as `ts:` extensions
//! (namespace [`TS_NAMESPACE`]).
//!
//! `eventID` is the CBV 2.0 event hash: `ni:///sha-256;{hex}?ver=CBV2.0` over the canonical
//! pre-hash string (CBV 2.0 §8.9 as implemented by the GS1 reference implementation,
//! RalphTro/epcis-event-hash-generator; known-answer vectors from it are in the tests).

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use time::macros::format_description;
use time::{Duration, OffsetDateTime, UtcOffset};

use crate::custody::record::{Conformance, Event, HoldType, Place};
use crate::custody::{Recall, SignedStatement};

/// The EPCIS 2.0 JSON-LD context.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
/// Namespace IRI of traceseal's extension fields (prefix `ts`).
pub const TS_NAMESPACE: &str = "urn:traceseal:epcis:";
/// bizTransaction type of a customs declaration (not a CBV term, so a URI).
pub const BTT_CUSTOMS_DECLARATION: &str = "urn:traceseal:btt:customs_declaration";

/// A quantity element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quantity {
    /// Class URI (GS1 Digital Link of GTIN + lot).
    pub epc_class: String,
    /// Count, when known.
    pub quantity: Option<u64>,
}

/// An extension value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ext {
    /// A string.
    Str(String),
    /// An integer.
    Int(i64),
    /// A list of strings.
    List(Vec<String>),
}

/// The subset of an EPCIS event traceseal emits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EpcisEvent {
    /// `ObjectEvent` (or, in tests, another event type).
    pub event_type: &'static str,
    /// When it happened (any offset).
    pub event_time: OffsetDateTime,
    /// `eventTimeZoneOffset`, e.g. `+10:00`.
    pub tz_offset: String,
    /// Instance identifiers (canonical GS1 Digital Link URIs).
    pub epc_list: Vec<String>,
    /// Class quantities.
    pub quantity_list: Vec<Quantity>,
    /// `ADD`, `OBSERVE` or `DELETE`.
    pub action: &'static str,
    /// CBV bizStep word or URI.
    pub biz_step: Option<String>,
    /// CBV disposition word or URI.
    pub disposition: Option<String>,
    /// readPoint id.
    pub read_point: Option<String>,
    /// bizLocation id.
    pub biz_location: Option<String>,
    /// (type, id) business transactions.
    pub biz_transactions: Vec<(Option<String>, String)>,
    /// (type, id) sources.
    pub sources: Vec<(String, String)>,
    /// (type, id) destinations.
    pub destinations: Vec<(String, String)>,
    /// Event-level extensions (local names in [`TS_NAMESPACE`]).
    pub extensions: Vec<(String, Ext)>,
}

fn cbv(prefix: &str, v: &str) -> String {
    if v.contains(':') {
        v.to_string()
    } else {
        format!("https://ref.gs1.org/cbv/{prefix}-{v}")
    }
}

/// UTC with milliseconds, rounded half-up: `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn utc_ms(t: OffsetDateTime) -> String {
    // Statements are range-checked (year ≤ 9999 in UTC); out-of-range times print as they are.
    let Some(t) = t
        .checked_to_offset(UtcOffset::UTC)
        .and_then(|t| t.checked_add(Duration::microseconds(500)))
    else {
        return t.unix_timestamp().to_string();
    };
    let t = t
        .replace_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000)
        .unwrap_or(t);
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    ))
    .unwrap_or_default()
}

/// The reference implementation's numeric normalisation of a value: decimal numbers lose
/// leading `+`, leading zeros and trailing fractional zeros (`007` → `7`, `1.50` → `1.5`).
/// Other text is unchanged.
pub fn canon_value(v: &str) -> String {
    let v = v.trim();
    let (sign, body) = match v.strip_prefix('-') {
        Some(b) => ("-", b),
        None => ("", v.strip_prefix('+').unwrap_or(v)),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let numeric = !(int.is_empty() && frac.is_empty())
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && !(body.contains('.') && int.is_empty() && frac.is_empty());
    if !numeric {
        return v.to_string();
    }
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

impl EpcisEvent {
    /// An `ObjectEvent` with no identifiers, place or transactions yet.
    pub fn object(
        event_time: OffsetDateTime,
        tz_offset: String,
        action: &'static str,
        biz_step: &str,
        disposition: &str,
        extensions: Vec<(String, Ext)>,
    ) -> EpcisEvent {
        EpcisEvent {
            event_type: "ObjectEvent",
            event_time,
            tz_offset,
            epc_list: Vec::new(),
            quantity_list: Vec::new(),
            action,
            biz_step: Some(biz_step.into()),
            disposition: Some(disposition.into()),
            read_point: None,
            biz_location: None,
            biz_transactions: Vec::new(),
            sources: Vec::new(),
            destinations: Vec::new(),
            extensions,
        }
    }

    /// The CBV 2.0 pre-hash string.
    pub fn prehash(&self) -> String {
        let mut s = String::with_capacity(512);
        s.push_str("eventType=");
        s.push_str(self.event_type);
        s.push_str("eventTime=");
        s.push_str(&utc_ms(self.event_time));
        s.push_str("eventTimeZoneOffset=");
        s.push_str(&self.tz_offset);
        self.push_what(&mut s);
        self.push_how(&mut s);
        self.push_transactions(&mut s);
        self.push_extensions(&mut s);
        s
    }

    /// The pre-hash's "what": the EPC list and the quantity list, each sorted.
    fn push_what(&self, s: &mut String) {
        if !self.epc_list.is_empty() {
            let mut l: Vec<String> = self.epc_list.iter().map(|e| format!("epc={e}")).collect();
            l.sort();
            s.push_str("epcList");
            s.push_str(&l.concat());
        }
        if !self.quantity_list.is_empty() {
            let mut l: Vec<String> = self
                .quantity_list
                .iter()
                .map(|q| {
                    let mut e = format!("quantityElementepcClass={}", q.epc_class);
                    if let Some(n) = q.quantity {
                        e.push_str(&format!("quantity={n}"));
                    }
                    e
                })
                .collect();
            l.sort();
            s.push_str("quantityList");
            s.push_str(&l.concat());
        }
    }

    /// The pre-hash's action, business step, disposition, read point and business location.
    fn push_how(&self, s: &mut String) {
        s.push_str("action=");
        s.push_str(self.action);
        if let Some(b) = &self.biz_step {
            s.push_str("bizStep=");
            s.push_str(&cbv("BizStep", b));
        }
        if let Some(d) = &self.disposition {
            s.push_str("disposition=");
            s.push_str(&cbv("Disp", d));
        }
        if let Some(r) = &self.read_point {
            s.push_str("readPointid=");
            s.push_str(r);
        }
        if let Some(b) = &self.biz_location {
            s.push_str("bizLocationid=");
            s.push_str(b);
        }
    }

    /// The pre-hash's typed lists: business transactions, sources, destinations.
    fn push_transactions(&self, s: &mut String) {
        s.push_str(&typed_list(
            "bizTransactionList",
            "bizTransaction",
            "BTT",
            self.biz_transactions
                .iter()
                .map(|(t, i)| (t.as_ref(), i))
                .collect(),
        ));
        s.push_str(&typed_list(
            "sourceList",
            "source",
            "SDT",
            self.sources.iter().map(|(t, i)| (Some(t), i)).collect(),
        ));
        s.push_str(&typed_list(
            "destinationList",
            "destination",
            "SDT",
            self.destinations
                .iter()
                .map(|(t, i)| (Some(t), i))
                .collect(),
        ));
    }

    /// The pre-hash's extension fields in our namespace, sorted.
    fn push_extensions(&self, s: &mut String) {
        let mut ext: Vec<String> = Vec::new();
        for (k, v) in &self.extensions {
            let key = format!("{{{TS_NAMESPACE}}}{k}");
            match v {
                Ext::Str(x) => ext.push(format!("{key}={}", canon_value(x))),
                Ext::Int(n) => ext.push(format!("{key}={n}")),
                Ext::List(xs) => ext.extend(xs.iter().map(|x| format!("{key}={}", canon_value(x)))),
            }
        }
        ext.sort();
        s.push_str(&ext.concat());
    }

    /// `ni:///sha-256;{hex}?ver=CBV2.0`.
    pub fn event_id(&self) -> String {
        let d = Sha256::digest(self.prehash().as_bytes());
        format!(
            "ni:///sha-256;{}?ver=CBV2.0",
            crate::custody::record::hex(&d)
        )
    }

    /// The JSON-LD event, `eventID` included.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("eventID".into(), json!(self.event_id()));
        m.insert("type".into(), json!(self.event_type));
        m.insert(
            "eventTime".into(),
            json!(self
                .event_time
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()),
        );
        m.insert("eventTimeZoneOffset".into(), json!(self.tz_offset));
        if !self.epc_list.is_empty() {
            m.insert("epcList".into(), json!(self.epc_list));
        }
        if !self.quantity_list.is_empty() {
            let q: Vec<Value> = self
                .quantity_list
                .iter()
                .map(|q| match q.quantity {
                    Some(n) => json!({"epcClass": q.epc_class, "quantity": n}),
                    None => json!({"epcClass": q.epc_class}),
                })
                .collect();
            m.insert("quantityList".into(), Value::Array(q));
        }
        m.insert("action".into(), json!(self.action));
        if let Some(b) = &self.biz_step {
            m.insert("bizStep".into(), json!(b));
        }
        if let Some(d) = &self.disposition {
            m.insert("disposition".into(), json!(d));
        }
        if let Some(r) = &self.read_point {
            m.insert("readPoint".into(), json!({ "id": r }));
        }
        if let Some(b) = &self.biz_location {
            m.insert("bizLocation".into(), json!({ "id": b }));
        }
        if !self.biz_transactions.is_empty() {
            let l: Vec<Value> = self
                .biz_transactions
                .iter()
                .map(|(t, id)| match t {
                    Some(t) => json!({"type": t, "bizTransaction": id}),
                    None => json!({ "bizTransaction": id }),
                })
                .collect();
            m.insert("bizTransactionList".into(), Value::Array(l));
        }
        for (name, list, field) in [
            ("sourceList", &self.sources, "source"),
            ("destinationList", &self.destinations, "destination"),
        ] {
            if !list.is_empty() {
                let l: Vec<Value> = list
                    .iter()
                    .map(|(t, id)| json!({"type": t, field: id}))
                    .collect();
                m.insert(name.into(), Value::Array(l));
            }
        }
        for (k, v) in &self.extensions {
            let v = match v {
                Ext::Str(s) => json!(s),
                Ext::Int(n) => json!(n),
                Ext::List(l) => json!(l),
            };
            m.insert(format!("ts:{k}"), v);
        }
        Value::Object(m)
    }
}

/// An EPCIS 2.0 document around `events`.
pub fn document(id: &str, created: OffsetDateTime, events: &[EpcisEvent]) -> Value {
    json!({
        "@context": [EPCIS_CONTEXT, { "ts": TS_NAMESPACE }],
        "id": id,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": utc_ms(created),
        "epcisBody": { "eventList": events.iter().map(EpcisEvent::to_json).collect::<Vec<_>>() },
    })
}

/// Canonical GS1 Digital Link of an item instance.
pub fn item_uri(gtin: &str, serial: &str) -> String {
    format!("https://id.gs1.org/01/{gtin}/21/{serial}")
}

/// Canonical GS1 Digital Link of a lot (class).
pub fn lot_uri(gtin: &str, lot: &str) -> String {
    format!("https://id.gs1.org/01/{gtin}/10/{lot}")
}

/// Percent-encodes everything outside RFC 3986 unreserved characters.
fn pct(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Who signed a record, as the export shows it.
#[derive(Clone, Debug, Default)]
pub struct Signer {
    /// Actor id (or `operator`).
    pub actor: String,
    /// Organisation.
    pub organisation: String,
    /// Role.
    pub role: String,
}

/// What the export needs of a record besides its leaf.
#[derive(Clone, Debug)]
pub struct RecordMeta {
    /// Leaf index.
    pub leaf_index: u64,
    /// Leaf hash, hex.
    pub record_hash: String,
    /// The signer.
    pub signer: Signer,
}

fn read_point(p: &Option<Place>) -> Option<String> {
    let p = p.as_ref()?;
    if let Some(g) = &p.gln {
        return Some(format!("https://id.gs1.org/414/{g}"));
    }
    p.unlocode
        .as_ref()
        .map(|u| format!("urn:traceseal:locode:{u}"))
}

fn common_ext(meta: &RecordMeta) -> Vec<(String, Ext)> {
    let mut e = vec![
        ("recordHash".to_string(), Ext::Str(meta.record_hash.clone())),
        ("leafIndex".to_string(), Ext::Int(meta.leaf_index as i64)),
        ("signer".to_string(), Ext::Str(meta.signer.actor.clone())),
        ("role".to_string(), Ext::Str(meta.signer.role.clone())),
    ];
    if !meta.signer.organisation.is_empty() {
        e.push((
            "organisation".to_string(),
            Ext::Str(meta.signer.organisation.clone()),
        ));
    }
    e
}

fn s(k: &str, v: &str) -> (String, Ext) {
    (k.to_string(), Ext::Str(v.to_string()))
}

/// The EPCIS event of a custody statement. `for_item` is the serial of the one item an item
/// export is for (the exporter holds its code); an item-scoped record then names that item,
/// and otherwise (a lot export) the lot class with the number of items it covers.
pub fn custody_event(
    st: &SignedStatement,
    meta: &RecordMeta,
    for_item: Option<&str>,
) -> EpcisEvent {
    let c = &st.checked;
    let statement = &c.statement;
    let gtin = c.lot.gtin.as_str();
    let class = |quantity| {
        vec![Quantity {
            epc_class: lot_uri(gtin, c.lot.lot.as_str()),
            quantity,
        }]
    };
    let (epc_list, quantity_list) = match (c.items.is_empty(), for_item) {
        (true, _) => (Vec::new(), class(None)),
        (false, Some(serial)) => (vec![item_uri(gtin, serial)], Vec::new()),
        (false, None) => (Vec::new(), class(Some(c.items.len() as u64))),
    };
    let mut ext = common_ext(meta);
    ext.push(s("kid", &statement.kid));
    if let Some(p) = &statement.place {
        ext.push(s("placeName", &p.name));
        ext.push(s("placeCountry", &p.country));
    }
    let mut btx: Vec<(Option<String>, String)> = Vec::new();
    let (step, disp) = step_fields(&statement.event, &mut ext, &mut btx);
    let mut e = EpcisEvent::object(
        c.time,
        offset_text(c.time.offset()),
        "OBSERVE",
        step,
        disp,
        ext,
    );
    e.epc_list = epc_list;
    e.quantity_list = quantity_list;
    e.read_point = read_point(&statement.place);
    e.biz_transactions = btx;
    e
}

/// One typed list of the pre-hash (`name` then its sorted `field=` elements, each with its
/// CBV-expanded `type=` when it has one); empty for an empty list.
fn typed_list(name: &str, field: &str, prefix: &str, l: Vec<(Option<&String>, &String)>) -> String {
    if l.is_empty() {
        return String::new();
    }
    let mut v: Vec<String> = l
        .into_iter()
        .map(|(t, id)| match t {
            Some(t) => format!("type={}{field}={}", cbv(prefix, t), canon_value(id)),
            None => format!("{field}={}", canon_value(id)),
        })
        .collect();
    v.sort();
    format!("{name}{}", v.concat())
}

/// A business transaction: its type and URI.
type BizTransaction = (Option<String>, String);

/// The business step and disposition of a custody event, adding its step's own fields to
/// the extensions and business transactions.
fn step_fields(
    event: &Event,
    ext: &mut Vec<(String, Ext)>,
    btx: &mut Vec<BizTransaction>,
) -> (&'static str, &'static str) {
    match event {
        Event::OriginAttestation(a) => attestation_fields(a, ext),
        Event::Packing(p) => {
            if let Some(n) = p.packages {
                ext.push(("packages".into(), Ext::Int(n as i64)));
            }
            if let Some(c) = &p.container {
                ext.push(s("container", c));
            }
            ("packing", "in_progress")
        }
        Event::Shipping(m) | Event::Departing(m) | Event::Arriving(m) => {
            if let Some(t) = &m.transport {
                ext.push(s("transport", t));
            }
            if let Some(b) = &m.bill_of_lading {
                btx.push((Some("bol".into()), format!("urn:traceseal:bol:{}", pct(b))));
            }
            let step = match event {
                Event::Shipping(_) => "shipping",
                Event::Departing(_) => "departing",
                _ => "arriving",
            };
            (step, "in_transit")
        }
        Event::CustomsDeclaration(c) => {
            btx.push(declaration(&c.declaration_no));
            ("inspecting", "in_progress")
        }
        Event::CustomsClearance(c) => {
            btx.push(declaration(&c.declaration_no));
            ("inspecting", "conformant")
        }
        Event::Receiving(w) | Event::Storing(w) => {
            if let Some(l) = &w.location {
                ext.push(s("location", l));
            }
            let step = if matches!(event, Event::Receiving(_)) {
                "receiving"
            } else {
                "storing"
            };
            (step, "sellable_not_accessible")
        }
        Event::Sampling(x) => sampling_fields(x, ext),
        Event::Holding(h) | Event::HoldRelease(h) => hold_fields(event, h, ext),
        Event::Release(o) | Event::RetailSale(o) | Event::SelfPickup(o) => {
            outbound_fields(event, o, ext, btx)
        }
    }
}

/// The business transaction of a customs declaration.
fn declaration(no: &str) -> BizTransaction {
    (
        Some(BTT_CUSTOMS_DECLARATION.to_string()),
        format!("urn:traceseal:customs-declaration:{}", pct(no)),
    )
}

fn attestation_fields(
    a: &crate::custody::event::Attestation,
    ext: &mut Vec<(String, Ext)>,
) -> (&'static str, &'static str) {
    ext.push(s("certificateNumber", &a.certificate_no));
    ext.push(s("originCountry", &a.origin_country));
    ext.push(s("producer", &a.producer));
    ext.push(s("inspectionDate", &a.inspection_date));
    if !a.documents.is_empty() {
        ext.push((
            "documentSha256".into(),
            Ext::List(a.documents.iter().map(|d| d.sha256.clone()).collect()),
        ));
    }
    let d = match a.result {
        Conformance::Conformant => "conformant",
        Conformance::NonConformant => "non_conformant",
    };
    ("inspecting", d)
}

fn sampling_fields(
    x: &crate::custody::event::Sampling,
    ext: &mut Vec<(String, Ext)>,
) -> (&'static str, &'static str) {
    ext.push(s("inspection", "sampling"));
    ext.push(s("reportNumber", &x.report_no));
    ext.push(("samples".into(), Ext::Int(i64::from(x.samples))));
    if !x.documents.is_empty() {
        ext.push((
            "documentSha256".into(),
            Ext::List(x.documents.iter().map(|d| d.sha256.clone()).collect()),
        ));
    }
    let d = match x.result {
        Conformance::Conformant => "conformant",
        Conformance::NonConformant => "non_conformant",
    };
    ("inspecting", d)
}

fn hold_fields(
    event: &Event,
    h: &crate::custody::event::Hold,
    ext: &mut Vec<(String, Ext)>,
) -> (&'static str, &'static str) {
    ext.push(s(
        "holdType",
        match h.hold_type {
            HoldType::Customs => "customs",
            HoldType::Quality => "quality",
        },
    ));
    ext.push(s("reason", &h.reason));
    if matches!(event, Event::Holding(_)) {
        ("holding", "non_sellable_other")
    } else {
        ("storing", "sellable_not_accessible")
    }
}

fn outbound_fields(
    event: &Event,
    o: &crate::custody::event::Outbound,
    ext: &mut Vec<(String, Ext)>,
    btx: &mut Vec<BizTransaction>,
) -> (&'static str, &'static str) {
    if let Some(n) = &o.order_no {
        btx.push((Some("po".into()), format!("urn:traceseal:order:{}", pct(n))));
    }
    if let Some(d) = &o.declaration_no {
        btx.push(declaration(d));
    }
    match event {
        Event::Release(_) => ("departing", "in_transit"),
        Event::SelfPickup(_) => {
            ext.push(s("handover", "self_pickup"));
            ("retail_selling", "retail_sold")
        }
        _ => ("retail_selling", "retail_sold"),
    }
}

/// `+HH:MM` of an offset.
pub fn offset_text(o: UtcOffset) -> String {
    let (h, m, _) = o.as_hms();
    let sign = if o.is_negative() { '-' } else { '+' };
    format!("{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
}

/// The EPCIS event of a recall.
pub fn recall_event(r: &Recall, gtin: &str, lot: &str, meta: &RecordMeta) -> EpcisEvent {
    let mut ext = common_ext(meta);
    ext.push(s("reason", &r.reason));
    let at = OffsetDateTime::from_unix_timestamp(r.at).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut e = EpcisEvent::object(at, "+00:00".into(), "OBSERVE", "holding", "recalled", ext);
    e.quantity_list = vec![Quantity {
        epc_class: lot_uri(gtin, lot),
        quantity: None,
    }];
    e
}

/// Issuance of a batch (or of one item of it) as a `commissioning` event.
pub struct Commissioning<'a> {
    /// GTIN-14.
    pub gtin: &'a str,
    /// Lot.
    pub lot: &'a str,
    /// Issue time.
    pub at: OffsetDateTime,
    /// Items issued (lot export) — or `None` with `serial` for an item export.
    pub quantity: Option<u64>,
    /// The item (item export).
    pub serial: Option<&'a str>,
    /// Batch id.
    pub batch_id: u64,
    /// Expiry `YYYY-MM-DD`.
    pub expiry: Option<&'a str>,
}

/// The EPCIS event of an issuance.
pub fn commissioning_event(c: &Commissioning<'_>) -> EpcisEvent {
    let (epc_list, quantity_list) = match c.serial {
        Some(s) => (vec![item_uri(c.gtin, s)], Vec::new()),
        None => (
            Vec::new(),
            vec![Quantity {
                epc_class: lot_uri(c.gtin, c.lot),
                quantity: c.quantity,
            }],
        ),
    };
    let mut ext = vec![("batch".to_string(), Ext::Int(c.batch_id as i64))];
    if let Some(e) = c.expiry {
        ext.push(s("expiry", e));
    }
    let mut e = EpcisEvent::object(c.at, "+00:00".into(), "ADD", "commissioning", "active", ext);
    e.epc_list = epc_list;
    e.quantity_list = quantity_list;
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn base(t: OffsetDateTime, off: &str) -> EpcisEvent {
        let mut e = EpcisEvent::object(t, off.into(), "OBSERVE", "", "", vec![]);
        (e.biz_step, e.disposition) = (None, None);
        e
    }

    // Vectors from RalphTro/epcis-event-hash-generator, tests/examples/expected/CBV2.0/
    // (inputs given here already in canonical identifier form; the pre-hash is what the
    // reference implementation produces from the original documents).

    #[test]
    fn reference_vector_shipping_and_transporting_event_1() {
        let mut e = base(datetime!(2022-02-16 12:50:00 +01:00), "+01:00");
        e.epc_list = vec!["https://id.gs1.org/00/140123451122233341".into()];
        e.biz_step = Some("departing".into());
        e.read_point = Some("https://id.gs1.org/414/4012345000221".into());
        e.biz_transactions = vec![(
            Some("desadv".into()),
            "urn:epcglobal:cbv:bt:4012345000009:ASN1099".into(),
        )];
        e.sources = vec![(
            "possessing_party".into(),
            "https://id.gs1.org/417/4012345000009".into(),
        )];
        e.destinations = vec![(
            "possessing_party".into(),
            "https://id.gs1.org/417/4023333000000".into(),
        )];
        assert_eq!(e.prehash(), "eventType=ObjectEventeventTime=2022-02-16T11:50:00.000ZeventTimeZoneOffset=+01:00epcListepc=https://id.gs1.org/00/140123451122233341action=OBSERVEbizStep=https://ref.gs1.org/cbv/BizStep-departingreadPointid=https://id.gs1.org/414/4012345000221bizTransactionListtype=https://ref.gs1.org/cbv/BTT-desadvbizTransaction=urn:epcglobal:cbv:bt:4012345000009:ASN1099sourceListtype=https://ref.gs1.org/cbv/SDT-possessing_partysource=https://id.gs1.org/417/4012345000009destinationListtype=https://ref.gs1.org/cbv/SDT-possessing_partydestination=https://id.gs1.org/417/4023333000000");
        assert_eq!(
            e.event_id(),
            "ni:///sha-256;2919bf0587534fef0e25eea97b5dda68f345e6bbf2c6b4cb27b2a52e0039272b?ver=CBV2.0"
        );
    }

    #[test]
    fn reference_vector_geo_read_point() {
        let mut e = base(datetime!(2022-02-16 16:50:00 +01:00), "+01:00");
        e.epc_list = vec!["https://id.gs1.org/00/140123451122233341".into()];
        e.biz_step = Some("transporting".into());
        e.read_point = Some("geo:47.506694,11.104301".into());
        assert_eq!(
            e.event_id(),
            "ni:///sha-256;1d2ec4174d8f0b5988a44795b31a636e8bc7f88ebc4bdc0d35c14f215a842e80?ver=CBV2.0"
        );
    }

    #[test]
    fn reference_vector_millisecond_rounding() {
        let mut e = base(datetime!(2023-02-02 11:04:03.1415 UTC), "+01:00");
        e.epc_list = vec!["https://id.gs1.org/00/040123451111111110".into()];
        e.biz_step = Some("shipping".into());
        e.disposition = Some("in_transit".into());
        e.read_point = Some("https://id.gs1.org/414/4012345000115".into());
        assert!(e.prehash().contains("eventTime=2023-02-02T11:04:03.142Z"));
        assert_eq!(
            e.event_id(),
            "ni:///sha-256;af7658e711574363633f20b3dadc7bc4c13c6f612cf96d95e03c421c0e58f3c6?ver=CBV2.0"
        );
    }

    #[test]
    fn reference_vector_transaction_event_with_quantity() {
        // The reference vector has uom KGM; the quantity text is the same without it, so the
        // uom is appended here by hand to the class-only element we emit.
        let mut e = base(datetime!(2019-10-21 14:58:56.591 +02:00), "+02:00");
        e.event_type = "TransactionEvent";
        e.action = "ADD";
        e.biz_step = Some("holding".into());
        e.read_point = Some("https://id.gs1.org/414/4012345000252".into());
        e.biz_location = Some("https://id.gs1.org/414/4012345000023".into());
        e.biz_transactions = vec![(
            Some("inv".into()),
            "urn:epcglobal:cbv:bt:4012345123456:RE1099".into(),
        )];
        e.quantity_list = vec![Quantity {
            epc_class: "https://id.gs1.org/01/04012345999884/10/2014-02-10".into(),
            quantity: Some(2030),
        }];
        let pre = e.prehash().replace("quantity=2030", "quantity=2030uom=KGM");
        assert_eq!(pre, "eventType=TransactionEventeventTime=2019-10-21T12:58:56.591ZeventTimeZoneOffset=+02:00quantityListquantityElementepcClass=https://id.gs1.org/01/04012345999884/10/2014-02-10quantity=2030uom=KGMaction=ADDbizStep=https://ref.gs1.org/cbv/BizStep-holdingreadPointid=https://id.gs1.org/414/4012345000252bizLocationid=https://id.gs1.org/414/4012345000023bizTransactionListtype=https://ref.gs1.org/cbv/BTT-invbizTransaction=urn:epcglobal:cbv:bt:4012345123456:RE1099");
        let d = Sha256::digest(pre.as_bytes());
        assert_eq!(
            crate::custody::record::hex(&d),
            "b741a543ea0b2a4c4bdb3441c7dc196b41710e5b2c9870b211fac8d6d4c93427"
        );
    }

    #[test]
    fn extensions_sort_after_standard_fields_with_full_namespace() {
        let mut e = base(datetime!(2026-11-02 09:30:00 +10:00), "+10:00");
        e.extensions = vec![
            ("signer".into(), Ext::Str("au-inspect".into())),
            ("leafIndex".into(), Ext::Int(7)),
            ("code".into(), Ext::Str("007".into())),
        ];
        assert!(e.prehash().ends_with(
            "action=OBSERVE{urn:traceseal:epcis:}code=7{urn:traceseal:epcis:}leafIndex=7{urn:traceseal:epcis:}signer=au-inspect"
        ), "{}", e.prehash());
    }

    #[test]
    fn numeric_canonicalisation() {
        for (i, o) in [
            ("007", "7"),
            ("1.50", "1.5"),
            ("+3", "3"),
            ("23.0", "23"),
            ("AB-12", "AB-12"),
            ("2026-11-01", "2026-11-01"),
            (".", "."),
            ("-0.10", "-0.1"),
        ] {
            assert_eq!(canon_value(i), o, "{i}");
        }
    }
}
