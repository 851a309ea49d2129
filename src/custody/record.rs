//! Custody statements: what an actor signs, and the log leaf that carries it.
//!
//! The signed message is
//!
//! ```text
//! traceseal/custody/v2\n
//! <canonical JSON of the statement (RFC 8785)>\n
//! ```
//!
//! and the log leaf is that message followed by `sig <base64url(signature), no padding>\n`.
//! The first line separates the domain from every other thing our keys sign (codes start with
//! `traceseal/code/v1`, checkpoints are C2SP notes). See `docs/custody.md`.

use std::fmt;

use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Date, OffsetDateTime};

use super::canon;
pub use super::event::{
    Attestation, Conformance, Customs, DocumentRef, Event, Hold, HoldType, Movement, Outbound,
    Packing, Place, Role, Sampling, Step, Warehousing,
};
use crate::code::KeyId;
use crate::commitment::ItemRef;
use crate::gs1::{CountryCode, Gtin, Lot};

/// First line of a custody leaf and of the signed message. (Version 1 named items by serial;
/// version 2 names them by [`ItemRef`], so the public log lists no serials.)
pub const CUSTODY_V2: &str = "traceseal/custody/v2";
/// Most items one statement may name (a larger set is a lot-wide event or several events).
pub const MAX_ITEMS: usize = 10_000;
/// Longest free-text field, in characters.
pub const MAX_TEXT: usize = 200;
/// Most supporting documents on one attestation.
pub const MAX_DOCUMENTS: usize = 32;
/// Latest Unix time a record may carry (9999-12-31T23:59:59Z).
pub const MAX_UNIX: i64 = 253_402_300_799;
/// How far before its signature an event may have happened.
pub const MAX_EVENT_AGE_SECS: i64 = 2 * 366 * 86_400;
/// How far after its signature an event may be dated (clock and time-zone slack).
pub const MAX_EVENT_LEAD_SECS: i64 = 86_400;
/// The `prev` of the first record of a lot: 32 zero bytes in hex.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const EVENT_TIME: &[FormatItem<'static>] = format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second][offset_hour sign:mandatory]:[offset_minute]"
);

/// Why a statement or a custody leaf was refused before any rule was applied.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordError {
    /// Not valid JSON of the statement shape.
    #[error("statement: {0}")]
    Json(String),
    /// Valid JSON but not in canonical form, so its signature could not be reproduced.
    #[error("statement is not in canonical JSON form (RFC 8785: sorted keys, no whitespace); sign the canonical bytes")]
    NotCanonical,
    /// A field is out of range or malformed.
    #[error("{0}")]
    Field(String),
    /// The leaf framing is wrong.
    #[error("malformed custody leaf: {0}")]
    Leaf(&'static str),
    /// The signature is not valid base64url of 64 bytes.
    #[error("signature must be base64url (no padding) of 64 bytes")]
    SignatureEncoding,
}

fn field_err(msg: impl Into<String>) -> RecordError {
    RecordError::Field(msg.into())
}

/// A lot: a GTIN and a lot number. Its text form (in URLs and statements) is
/// `{gtin14}.{lot}`, e.g. `09312345678907.L2026A` — unambiguous because a GTIN-14 is exactly
/// 14 digits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LotId {
    /// GTIN-14.
    pub gtin: Gtin,
    /// Lot number (GS1 AI 10).
    pub lot: Lot,
}

impl LotId {
    /// Parses `{gtin14}.{lot}`.
    pub fn parse(s: &str) -> Result<LotId, LotIdError> {
        let id = || s.to_string();
        let (g, l) = s.split_once('.').ok_or_else(|| LotIdError::Shape(id()))?;
        if g.len() != 14 {
            return Err(LotIdError::GtinLength(id()));
        }
        Ok(LotId {
            gtin: Gtin::parse(g).map_err(|source| LotIdError::Gtin { id: id(), source })?,
            lot: Lot::parse(l).map_err(|source| LotIdError::Lot { id: id(), source })?,
        })
    }
}

impl fmt::Display for LotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.gtin.as_str(), self.lot.as_str())
    }
}

/// What an actor signs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Statement {
    /// The log this statement is for: the service's log origin (the first line of its
    /// checkpoints, e.g. `verify.example.com/log`), so a statement signed for one deployment
    /// (staging) cannot be replayed to another (production).
    pub log: String,
    /// The lot, `{gtin14}.{lot}`.
    pub lot: String,
    /// The items the event covers, by their item references (SHA-256 of a domain line and the
    /// code, `docs/code-format.md`): not computable from the issuance leaves, only from the
    /// code (or from an earlier record that named the item). Empty
    /// means the whole lot. Sorted, unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Hex SHA-256 leaf hash of the lot's latest lot-wide record ([`GENESIS`] for the first):
    /// the history the signer saw.
    pub prev: String,
    /// The actor id.
    pub actor: String,
    /// Key id (8 hex) of the signing key.
    pub kid: String,
    /// When the event happened: `YYYY-MM-DDTHH:MM:SS±HH:MM` (local time with its offset).
    pub time: String,
    /// When it was signed, Unix seconds (checked against the server's freshness window).
    pub signed_at: i64,
    /// 16 random bytes, 32 lowercase hex: with the actor, unique forever (replay guard).
    pub nonce: String,
    /// Where it happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
    /// The step and its data.
    pub event: Event,
}

/// A statement checked for shape, with its parsed parts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckedStatement {
    /// The statement as signed.
    pub statement: Statement,
    /// Parsed lot.
    pub lot: LotId,
    /// Parsed item references (empty: lot-wide).
    pub items: Vec<ItemRef>,
    /// Parsed `prev`.
    pub prev: [u8; 32],
    /// Parsed key id.
    pub kid: KeyId,
    /// Parsed event time.
    pub time: OffsetDateTime,
    /// The canonical JSON text.
    pub canonical: String,
}

fn check_text(field: &str, v: &str) -> Result<(), RecordError> {
    if v.trim().is_empty() || v.trim() != v {
        return Err(field_err(format!(
            "{field} must not be empty or have leading/trailing spaces"
        )));
    }
    if v.chars().count() > MAX_TEXT {
        return Err(field_err(format!(
            "{field} is longer than {MAX_TEXT} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(field_err(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

fn check_opt(field: &str, v: &Option<String>) -> Result<(), RecordError> {
    v.as_deref().map_or(Ok(()), |s| check_text(field, s))
}

fn check_country(field: &str, v: &str) -> Result<(), RecordError> {
    CountryCode::parse(v)
        .map(|_| ())
        .map_err(|e| field_err(format!("{field}: {e}")))
}

/// Parses 64 lowercase hex characters.
pub fn parse_hash_hex(field: &str, s: &str) -> Result<[u8; 32], RecordError> {
    parse_hex::<32>(s)
        .ok_or_else(|| field_err(format!("{field} must be 64 lowercase hex characters")))
}

/// `N` bytes from exactly `2 N` lowercase hex characters (no allocation: every statement has
/// two of these).
fn parse_hex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let nib = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let s = s.as_bytes();
    if s.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, p) in out.iter_mut().zip(s.chunks_exact(2)) {
        *o = nib(p[0])? << 4 | nib(p[1])?;
    }
    Some(out)
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Parses an event time `YYYY-MM-DDTHH:MM:SS±HH:MM`.
pub fn parse_event_time(s: &str) -> Result<OffsetDateTime, RecordError> {
    OffsetDateTime::parse(s, EVENT_TIME).map_err(|_| {
        field_err(format!(
            "time {s:?} must be YYYY-MM-DDTHH:MM:SS±HH:MM (local time with its UTC offset)"
        ))
    })
}

/// Formats an event time as statements carry it.
pub fn format_event_time(t: OffsetDateTime) -> String {
    t.format(EVENT_TIME).unwrap_or_default()
}

/// A lot id that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LotIdError {
    /// No dot between GTIN and lot.
    #[error("lot id {0:?} must be GTIN-14, a dot, and the lot number, e.g. 09312345678907.L2026A")]
    Shape(String),
    /// The GTIN part is not 14 characters.
    #[error("lot id {0:?}: the GTIN part must be 14 digits")]
    GtinLength(String),
    /// The GTIN part is not a valid GTIN.
    #[error("lot id {id:?}: gtin: {source}")]
    Gtin {
        /// The lot id.
        id: String,
        /// Why.
        source: crate::gs1::Gs1Error,
    },
    /// The lot part is not a valid GS1 lot number.
    #[error("lot id {id:?}: lot: {source}")]
    Lot {
        /// The lot id.
        id: String,
        /// Why.
        source: crate::gs1::Gs1Error,
    },
}

/// An actor id outside the allowed shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("actor id {0:?} must be 2 to 64 characters of a-z, 0-9 and '-', not starting with '-'")]
pub struct ActorIdError(pub String);

/// A place: a name, an ISO country, and, when given, a UN/LOCODE and a GLN with its check
/// digit.
fn check_place(p: &Place) -> Result<(), RecordError> {
    check_text("place.name", &p.name)?;
    check_country("place.country", &p.country)?;
    if let Some(u) = &p.unlocode {
        let ok = u.len() == 5
            && u.bytes().take(2).all(|b| b.is_ascii_uppercase())
            && u.bytes()
                .skip(2)
                .all(|b| b.is_ascii_uppercase() || (b'2'..=b'9').contains(&b));
        if !ok {
            return Err(field_err(format!(
                "place.unlocode {u:?} must be a UN/LOCODE without the space, e.g. AUMEL"
            )));
        }
    }
    if let Some(g) = &p.gln {
        if g.len() != 13 || !g.bytes().all(|b| b.is_ascii_digit()) || !gs1_check_ok(g) {
            return Err(field_err(format!(
                "place.gln {g:?} must be a 13-digit GLN with a valid check digit"
            )));
        }
    }
    Ok(())
}

/// Checks an actor id: 2–64 characters of `[a-z0-9-]`, starting with a letter or digit.
pub fn check_actor_id(id: &str) -> Result<(), ActorIdError> {
    let ok = (2..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(ActorIdError(id.to_string()))
    }
}

/// 16 random bytes as 32 hex characters: a fresh statement nonce.
pub fn random_nonce() -> String {
    let mut b = [0u8; 16];
    // The OS generator does not fail on supported platforms; a zero nonce would only be
    // refused as a replay on second use, never accepted twice.
    let _ = getrandom::getrandom(&mut b);
    hex(&b)
}

impl Statement {
    /// The canonical JSON text (what is signed, after the domain line): RFC 8785, the keys
    /// in code-point order. Written field by field, since every submission is checked
    /// against it: only the place and the event go through a JSON value
    /// (`canonical_is_the_jcs_text_of_the_statement` compares it with [`canon::to_string`]
    /// of the whole statement, on random statements). Empty for a `signed_at` outside the
    /// JavaScript safe range (`check` refuses those).
    pub fn canonical(&self) -> String {
        self.write_canonical().unwrap_or_default()
    }

    fn write_canonical(&self) -> Option<String> {
        fn key(out: &mut String, k: &str) {
            out.push_str(",\"");
            out.push_str(k);
            out.push_str("\":");
        }
        fn value<T: Serialize>(v: &T, out: &mut String) -> Option<()> {
            canon::write(&serde_json::to_value(v).ok()?, out).ok()
        }
        let mut out = String::with_capacity(512);
        out.push_str("{\"actor\":");
        canon::string(&self.actor, &mut out);
        key(&mut out, "event");
        value(&self.event, &mut out)?;
        if !self.items.is_empty() {
            key(&mut out, "items");
            out.push('[');
            for (i, item) in self.items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canon::string(item, &mut out);
            }
            out.push(']');
        }
        for (k, v) in [("kid", &self.kid), ("log", &self.log), ("lot", &self.lot)] {
            key(&mut out, k);
            canon::string(v, &mut out);
        }
        key(&mut out, "nonce");
        canon::string(&self.nonce, &mut out);
        if let Some(p) = &self.place {
            key(&mut out, "place");
            value(p, &mut out)?;
        }
        key(&mut out, "prev");
        canon::string(&self.prev, &mut out);
        key(&mut out, "signed_at");
        canon::integer(self.signed_at, &mut out).ok()?;
        key(&mut out, "time");
        canon::string(&self.time, &mut out);
        out.push('}');
        Some(out)
    }

    /// The exact bytes an actor signs.
    pub fn signing_bytes(&self) -> Vec<u8> {
        message(&self.canonical())
    }

    /// Signs the statement.
    pub fn sign(&self, key: &SigningKey) -> String {
        let sig = key.sign(&self.signing_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.to_bytes())
    }

    /// Checks every field's shape (not the rules, the signature or freshness).
    pub fn check(self) -> Result<CheckedStatement, RecordError> {
        if self.log.is_empty()
            || self.log.len() > MAX_TEXT
            || !self.log.bytes().all(|b| b.is_ascii_graphic())
        {
            return Err(field_err(
                "log must be the service's log origin (GET /api/v1/lots/{id}/head answers it)",
            ));
        }
        let lot = LotId::parse(&self.lot).map_err(|e| RecordError::Field(e.to_string()))?;
        let items = self.check_items()?;
        let prev = parse_hash_hex("prev", &self.prev)?;
        check_actor_id(&self.actor).map_err(|e| RecordError::Field(e.to_string()))?;
        let kid = KeyId::parse(&self.kid)
            .map_err(|_| field_err("kid must be 8 lowercase hex characters"))?;
        let time = parse_event_time(&self.time)?;
        if !(0..=MAX_UNIX).contains(&self.signed_at) {
            return Err(field_err(
                "signed_at must be Unix seconds between 1970 and 9999",
            ));
        }
        let t = time.unix_timestamp();
        if t < self.signed_at - MAX_EVENT_AGE_SECS || t > self.signed_at + MAX_EVENT_LEAD_SECS {
            return Err(field_err(format!(
                "time {} must be at most two years before and one day after signed_at",
                self.time
            )));
        }
        if parse_hex::<16>(&self.nonce).is_none() {
            return Err(field_err(
                "nonce must be 32 lowercase hex characters (16 random bytes)",
            ));
        }
        if let Some(p) = &self.place {
            check_place(p)?;
        }
        self.check_event()?;
        let canonical = self.canonical();
        Ok(CheckedStatement {
            lot,
            items,
            prev,
            kid,
            time,
            canonical,
            statement: self,
        })
    }

    /// The named items: at most [`MAX_ITEMS`], each a valid reference, sorted and unique, and
    /// only for the steps that may name items.
    fn check_items(&self) -> Result<Vec<ItemRef>, RecordError> {
        if self.items.len() > MAX_ITEMS {
            return Err(field_err(format!(
                "at most {MAX_ITEMS} items per statement; use a lot-wide event or split it"
            )));
        }
        let mut items = Vec::with_capacity(self.items.len());
        for s in &self.items {
            items.push(ItemRef::parse(s).map_err(|e| field_err(format!("items: {e}")))?);
        }
        if self.items.windows(2).any(|w| w[0] >= w[1]) {
            return Err(field_err("items must be sorted and unique"));
        }
        if !self.items.is_empty() && !self.event.step().item_scoped_allowed() {
            return Err(field_err(format!(
                "{} is a lot-wide step: it cannot name items (only release, retail_sale and self_pickup can)",
                self.event.step()
            )));
        }
        Ok(items)
    }

    fn check_event(&self) -> Result<(), RecordError> {
        match &self.event {
            Event::OriginAttestation(a) => {
                check_text("certificate_no", &a.certificate_no)?;
                check_country("origin_country", &a.origin_country)?;
                check_text("producer", &a.producer)?;
                Date::parse(
                    &a.inspection_date,
                    format_description!("[year]-[month]-[day]"),
                )
                .map_err(|_| field_err("inspection_date must be YYYY-MM-DD"))?;
                check_documents(&a.documents)?;
            }
            Event::Sampling(s) => {
                check_text("report_no", &s.report_no)?;
                if s.samples == 0 {
                    return Err(field_err("samples must be at least 1"));
                }
                check_documents(&s.documents)?;
            }
            Event::Packing(p) => {
                check_opt("container", &p.container)?;
                if p.packages == Some(0) {
                    return Err(field_err("packages must be at least 1"));
                }
            }
            Event::Shipping(m) | Event::Departing(m) | Event::Arriving(m) => {
                check_opt("transport", &m.transport)?;
                check_opt("bill_of_lading", &m.bill_of_lading)?;
            }
            Event::CustomsDeclaration(c) | Event::CustomsClearance(c) => {
                check_text("declaration_no", &c.declaration_no)?;
                if !c
                    .declaration_no
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return Err(field_err("declaration_no must be letters, digits and '-'"));
                }
            }
            Event::Receiving(w) | Event::Storing(w) => check_opt("location", &w.location)?,
            Event::Holding(h) | Event::HoldRelease(h) => check_text("reason", &h.reason)?,
            Event::Release(o) | Event::RetailSale(o) | Event::SelfPickup(o) => {
                check_opt("order_no", &o.order_no)?;
                check_opt("declaration_no", &o.declaration_no)?;
            }
        }
        Ok(())
    }
}

fn check_documents(docs: &[DocumentRef]) -> Result<(), RecordError> {
    if docs.len() > MAX_DOCUMENTS {
        return Err(field_err(format!(
            "at most {MAX_DOCUMENTS} documents per record"
        )));
    }
    for d in docs {
        check_text("documents[].name", &d.name)?;
        parse_hash_hex("documents[].sha256", &d.sha256)?;
    }
    Ok(())
}

fn gs1_check_ok(digits: &str) -> bool {
    let d: Vec<u32> = digits.bytes().map(|b| (b - b'0') as u32).collect();
    let (body, check) = d.split_at(d.len() - 1);
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, x)| if i % 2 == 0 { x * 3 } else { *x })
        .sum();
    (10 - sum % 10) % 10 == check[0]
}

fn message(canonical: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(CUSTODY_V2.len() + canonical.len() + 2);
    m.extend_from_slice(CUSTODY_V2.as_bytes());
    m.push(b'\n');
    m.extend_from_slice(canonical.as_bytes());
    m.push(b'\n');
    m
}

/// Parses statement JSON text and insists it is canonical.
pub fn parse_statement(text: &str) -> Result<CheckedStatement, RecordError> {
    let st: Statement = serde_json::from_str(text).map_err(|e| RecordError::Json(e.to_string()))?;
    let checked = st.check()?;
    if checked.canonical != text {
        return Err(RecordError::NotCanonical);
    }
    Ok(checked)
}

/// Decodes a base64url (no padding) Ed25519 signature.
pub fn parse_signature(s: &str) -> Result<Signature, RecordError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| RecordError::SignatureEncoding)?;
    let arr: [u8; 64] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| RecordError::SignatureEncoding)?;
    Ok(Signature::from_bytes(&arr))
}

/// A statement with its signature, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedStatement {
    /// The checked statement.
    pub checked: CheckedStatement,
    /// The signature.
    pub signature: Signature,
}

impl SignedStatement {
    /// Checks the signature with `verify_strict` (rejects small-order keys and
    /// non-canonical signatures).
    pub fn verify(&self, key: &VerifyingKey) -> bool {
        key.verify_strict(&message(&self.checked.canonical), &self.signature)
            .is_ok()
    }

    /// The log leaf if the signature verifies with `key` (`verify_strict`): the signed
    /// message is built once and the leaf extends it.
    pub fn verified_leaf(&self, key: &VerifyingKey) -> Option<Vec<u8>> {
        let mut l = message(&self.checked.canonical);
        key.verify_strict(&l, &self.signature).ok()?;
        Self::append_sig(&mut l, &self.signature);
        Some(l)
    }

    fn append_sig(l: &mut Vec<u8>, sig: &Signature) {
        l.extend_from_slice(b"sig ");
        l.extend_from_slice(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(sig.to_bytes())
                .as_bytes(),
        );
        l.push(b'\n');
    }

    /// The log leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        let mut l = message(&self.checked.canonical);
        Self::append_sig(&mut l, &self.signature);
        l
    }

    /// Parses leaf bytes that start with the [`CUSTODY_V2`] line.
    pub fn parse_leaf(text: &str) -> Result<SignedStatement, RecordError> {
        let rest = text
            .strip_prefix(CUSTODY_V2)
            .and_then(|r| r.strip_prefix('\n'))
            .ok_or(RecordError::Leaf("first line"))?;
        let (json, rest) = rest
            .split_once('\n')
            .ok_or(RecordError::Leaf("statement line"))?;
        let sig = rest
            .strip_prefix("sig ")
            .and_then(|r| r.strip_suffix('\n'))
            .ok_or(RecordError::Leaf("sig line"))?;
        if sig.contains('\n') {
            return Err(RecordError::Leaf("unexpected extra line"));
        }
        let checked = parse_statement(json)?;
        let signature = parse_signature(sig)?;
        let s = SignedStatement { checked, signature };
        // Canonical leaf only (e.g. base64url with stray bits does not round-trip).
        if s.leaf() != text.as_bytes() {
            return Err(RecordError::Leaf("not in canonical form"));
        }
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// `parse_hex` reads back exactly what `hex` writes, and refuses any other length,
        /// uppercase and non-hex characters.
        #[test]
        fn hex_reads_back_and_refuses_the_rest(bytes in any::<[u8; 16]>(), at in 0usize..32) {
            let h = hex(&bytes);
            prop_assert_eq!(parse_hex::<16>(&h), Some(bytes));
            prop_assert_eq!(parse_hex::<16>(&h[1..]), None);
            prop_assert_eq!(parse_hex::<16>(&format!("{h}0")), None);
            prop_assert_eq!(parse_hex::<15>(&h), None);
            for bad in ['A', 'F', 'g', ' ', 'é'] {
                let mut t = h.clone().into_bytes();
                t[at] = b'0';
                let mut t = String::from_utf8(t).unwrap();
                t.replace_range(at..at + 1, &bad.to_string());
                prop_assert_eq!(parse_hex::<16>(&t), None, "{}", t);
            }
        }
    }

    pub(crate) fn sample() -> Statement {
        Statement {
            log: "verify.example.com/log".into(),
            lot: "09506000134352.L1".into(),
            items: vec![],
            prev: GENESIS.into(),
            actor: "au-inspect".into(),
            kid: "0a1b2c3d".into(),
            time: "2026-11-02T09:30:00+10:00".into(),
            signed_at: 1_793_577_600,
            nonce: "00112233445566778899aabbccddeeff".into(),
            place: Some(Place {
                name: "Melbourne".into(),
                country: "AU".into(),
                unlocode: Some("AUMEL".into()),
                gln: None,
            }),
            event: Event::OriginAttestation(Attestation {
                certificate_no: "AQIS-2026-0001".into(),
                origin_country: "AU".into(),
                producer: "Gippsland Dairy".into(),
                inspection_date: "2026-11-01".into(),
                result: Conformance::Conformant,
                documents: vec![],
            }),
        }
    }

    #[test]
    fn canonical_known_answer_and_sign_verify_round_trip() {
        let st = sample();
        assert_eq!(
            st.canonical(),
            r#"{"actor":"au-inspect","event":{"data":{"certificate_no":"AQIS-2026-0001","inspection_date":"2026-11-01","origin_country":"AU","producer":"Gippsland Dairy","result":"conformant"},"step":"origin_attestation"},"kid":"0a1b2c3d","log":"verify.example.com/log","lot":"09506000134352.L1","nonce":"00112233445566778899aabbccddeeff","place":{"country":"AU","name":"Melbourne","unlocode":"AUMEL"},"prev":"0000000000000000000000000000000000000000000000000000000000000000","signed_at":1793577600,"time":"2026-11-02T09:30:00+10:00"}"#
        );
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let sig = st.sign(&key);
        let checked = parse_statement(&st.canonical()).unwrap();
        let s = SignedStatement {
            checked,
            signature: parse_signature(&sig).unwrap(),
        };
        assert!(s.verify(&key.verifying_key()));
        let leaf = String::from_utf8(s.leaf()).unwrap();
        assert!(leaf.starts_with("traceseal/custody/v2\n{\"actor\""));
        assert_eq!(SignedStatement::parse_leaf(&leaf).unwrap(), s);
        // Another key, or a changed byte, fails.
        assert!(!s.verify(&SigningKey::from_bytes(&[8u8; 32]).verifying_key()));
        let tampered = leaf.replace("Gippsland", "Gippslanx");
        let t = SignedStatement::parse_leaf(&tampered).unwrap();
        assert!(!t.verify(&key.verifying_key()));
    }

    #[test]
    fn shape_errors_are_precise() {
        let mut st = sample();
        st.lot = "123.L1".into();
        assert!(st
            .clone()
            .check()
            .unwrap_err()
            .to_string()
            .contains("14 digits"));
        let mut st = sample();
        let (a, b) = (ItemRef([1; 32]).to_string(), ItemRef([2; 32]).to_string());
        st.items = vec![b, a.clone()];
        st.event = Event::Release(Outbound::default());
        assert!(st.check().unwrap_err().to_string().contains("sorted"));
        let mut st = sample();
        st.items = vec![a];
        assert!(st
            .check()
            .unwrap_err()
            .to_string()
            .contains("lot-wide step"));
        let mut st = sample();
        st.time = "2026-11-02T09:30:00Z".into();
        assert!(st.check().unwrap_err().to_string().contains("offset"));
        let mut st = sample();
        st.nonce = "00".into();
        assert!(st.check().unwrap_err().to_string().contains("nonce"));
        // Pretty-printed JSON is refused: it is not what was signed.
        let pretty = serde_json::to_string_pretty(&sample()).unwrap();
        assert_eq!(
            parse_statement(&pretty).unwrap_err(),
            RecordError::NotCanonical
        );
        assert!(matches!(
            parse_statement(r#"{"lot":1}"#),
            Err(RecordError::Json(_))
        ));
    }

    #[test]
    fn lot_ids() {
        let l = LotId::parse("09506000134352.L1.2-a").unwrap();
        assert_eq!(l.lot.as_str(), "L1.2-a");
        assert_eq!(l.to_string(), "09506000134352.L1.2-a");
        assert!(
            LotId::parse("09506000134353.L1").is_err(),
            "bad check digit"
        );
        assert!(LotId::parse("09506000134352").is_err());
    }

    /// Random text: any characters, quotes, backslashes and control characters included.
    fn text() -> impl Strategy<Value = String> {
        proptest::string::string_regex("(.|[\"\\\\\u{0}-\u{1f}\u{7f}\u{e000}\u{1F600}])*").unwrap()
    }

    fn place() -> impl Strategy<Value = Option<Place>> {
        proptest::option::of(
            (
                text(),
                text(),
                proptest::option::of(text()),
                proptest::option::of(text()),
            )
                .prop_map(|(name, country, unlocode, gln)| Place {
                    name,
                    country,
                    unlocode,
                    gln,
                }),
        )
    }

    fn event() -> impl Strategy<Value = Event> {
        let opt = || proptest::option::of(text());
        prop_oneof![
            opt().prop_map(|location| Event::Storing(Warehousing { location })),
            (opt(), opt()).prop_map(|(transport, bill_of_lading)| {
                Event::Shipping(Movement {
                    transport,
                    bill_of_lading,
                })
            }),
            (proptest::option::of(any::<u32>()), opt()).prop_map(|(packages, container)| {
                Event::Packing(Packing {
                    packages,
                    container,
                })
            }),
            Just(Event::Release(Outbound::default())),
            (text(), any::<u32>(), text(), text()).prop_map(
                |(report_no, samples, name, sha256)| {
                    Event::Sampling(Sampling {
                        report_no,
                        samples,
                        result: Conformance::NonConformant,
                        documents: vec![DocumentRef { name, sha256 }],
                    })
                }
            ),
            Just(sample().event),
        ]
    }

    prop_compose! {
        fn statement()(
            strings in proptest::collection::vec(text(), 8),
            items in proptest::collection::vec(text(), 0..4),
            signed_at in prop_oneof![any::<i64>(), -(1i64 << 53)..(1i64 << 53)],
            place in place(),
            event in event(),
        ) -> Statement {
            let s = |i: usize| strings[i].clone();
            Statement {
                log: s(0),
                lot: s(1),
                items,
                prev: s(2),
                actor: s(3),
                kid: s(4),
                time: s(5),
                signed_at,
                nonce: s(6),
                place,
                event,
            }
        }
    }

    proptest! {
        /// The field-by-field text equals the JCS text of the statement as a JSON value
        /// (empty where that has none: `signed_at` outside the safe range).
        #[test]
        fn canonical_is_the_jcs_text_of_the_statement(st in statement()) {
            let reference = serde_json::to_value(&st)
                .ok()
                .and_then(|v| canon::to_string(&v).ok())
                .unwrap_or_default();
            prop_assert_eq!(st.canonical(), reference);
        }

        #[test]
        fn custody_leaf_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(s) = std::str::from_utf8(&bytes) {
                let _ = SignedStatement::parse_leaf(s);
                let _ = parse_statement(s);
            }
        }

        #[test]
        fn mutated_leaves_never_panic(pos in 0usize..600, byte in any::<u8>()) {
            let key = SigningKey::from_bytes(&[7u8; 32]);
            let st = sample();
            let sig = st.sign(&key);
            let mut leaf = message(&st.canonical());
            leaf.extend_from_slice(format!("sig {sig}\n").as_bytes());
            let original = leaf.clone();
            let p = pos % leaf.len();
            leaf[p] = byte;
            if let Ok(s) = std::str::from_utf8(&leaf) {
                if let Ok(parsed) = SignedStatement::parse_leaf(s) {
                    // A change that still parses must break the signature, unless it changed
                    // nothing at all.
                    let verifies = parsed.verify(&key.verifying_key());
                    prop_assert!(!verifies || leaf == original, "mutated leaf still verifies");
                }
            }
        }
    }
}
