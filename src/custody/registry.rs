//! Operator records: actor registration, key registration, rotation and revocation, and lot
//! recalls. They are log leaves like every custody record, so they are anchored too:
//!
//! ```text
//! traceseal/actor/v1\n<canonical JSON of an ActorOp>\n
//! traceseal/recall/v1\n<canonical JSON of a Recall>\n
//! ```
//!
//! They are authored by the platform operator (authenticated by the operator token), not
//! signed by an actor; their authenticity comes from the log's signed, anchored checkpoints.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::canon;
use super::record::Role;

/// First line of an actor-registry leaf.
pub const ACTOR_V1: &str = "traceseal/actor/v1";
/// First line of a recall leaf.
pub const RECALL_V1: &str = "traceseal/recall/v1";

/// One change to the actor registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum ActorOp {
    /// A new actor.
    Register {
        /// Actor id.
        actor: String,
        /// Organisation name.
        organisation: String,
        /// ISO 3166-1 alpha-2 country.
        country: String,
        /// Its role in the chain.
        role: Role,
        /// Unix seconds.
        at: i64,
    },
    /// A key registered for an actor (with `replaces`, a rotation: the old key's validity
    /// ends where the new one's starts).
    AddKey {
        /// Actor id.
        actor: String,
        /// Key id, 8 hex.
        kid: String,
        /// Base64 of the 32-byte Ed25519 public key.
        public_key: String,
        /// Valid from (Unix seconds).
        not_before: i64,
        /// Valid until (exclusive), if limited.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        not_after: Option<i64>,
        /// Key id of the key this one rotates out.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
        /// Unix seconds.
        at: i64,
    },
    /// A key revoked: signatures made at or after `revoked_from` are invalid.
    RevokeKey {
        /// Actor id.
        actor: String,
        /// Key id.
        kid: String,
        /// Unix seconds from which the key is invalid (may be in the past, e.g. the time of
        /// a compromise: records signed since then are flagged on scan).
        revoked_from: i64,
        /// Why.
        reason: String,
        /// Unix seconds.
        at: i64,
    },
}

impl ActorOp {
    /// The actor this op is about.
    pub fn actor(&self) -> &str {
        match self {
            ActorOp::Register { actor, .. }
            | ActorOp::AddKey { actor, .. }
            | ActorOp::RevokeKey { actor, .. } => actor,
        }
    }
}

/// Why a lot is recalled, in one word: a safety recall weighs on the importer's credit
/// grade more than others and puts it on the warning list (`docs/credit-model.md`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RecallClass {
    /// A risk to health or safety (contamination, a dangerous defect).
    Safety,
    /// A quality defect that is no safety risk.
    Quality,
    /// Wrong or missing labelling.
    Labelling,
    /// Anything else.
    Other,
}

impl RecallClass {
    /// The class named `s` (its snake_case name), if any.
    pub fn parse(s: &str) -> Option<RecallClass> {
        [
            RecallClass::Safety,
            RecallClass::Quality,
            RecallClass::Labelling,
            RecallClass::Other,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RecallClass::Safety => "safety",
            RecallClass::Quality => "quality",
            RecallClass::Labelling => "labelling",
            RecallClass::Other => "other",
        }
    }
}

/// A lot recall by the operator (or a regulator through the operator). Lot-wide: it joins
/// the lot's hash chain like a lot-wide custody record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recall {
    /// The lot, `{gtin14}.{lot}`.
    pub lot: String,
    /// Leaf hash (hex) of the lot's latest lot-wide record before the recall.
    pub prev: String,
    /// Why, shown to consumers.
    pub reason: String,
    /// The class of recall, when the operator named one (older leaves have none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<RecallClass>,
    /// Unix seconds.
    pub at: i64,
}

/// Why an operator leaf could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed operator record: {0}")]
pub struct OpError(pub String);

/// The leaf of an operator record: its kind line, then its canonical JSON (RFC 8785).
pub(crate) fn encode<T: Serialize>(kind: &str, v: &T) -> Vec<u8> {
    let json = serde_json::to_value(v)
        .ok()
        .and_then(|v| canon::to_string(&v).ok())
        .unwrap_or_default();
    format!("{kind}\n{json}\n").into_bytes()
}

/// Parses the leaf of an operator record; only the canonical form is accepted.
pub(crate) fn decode<T: Serialize + for<'de> Deserialize<'de>>(
    kind: &str,
    text: &str,
) -> Result<T, OpError> {
    let json = text
        .strip_prefix(kind)
        .and_then(|r| r.strip_prefix('\n'))
        .and_then(|r| r.strip_suffix('\n'))
        .ok_or_else(|| OpError("framing".into()))?;
    let v: T = serde_json::from_str(json).map_err(|e| OpError(e.to_string()))?;
    if encode(kind, &v) != text.as_bytes() {
        return Err(OpError("not in canonical form".into()));
    }
    Ok(v)
}

impl ActorOp {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        encode(ACTOR_V1, self)
    }

    /// Parses leaf text starting with [`ACTOR_V1`].
    pub fn parse_leaf(text: &str) -> Result<ActorOp, OpError> {
        decode(ACTOR_V1, text)
    }
}

impl Recall {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        encode(RECALL_V1, self)
    }

    /// Parses leaf text starting with [`RECALL_V1`].
    pub fn parse_leaf(text: &str) -> Result<Recall, OpError> {
        decode(RECALL_V1, text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_non_canonical() {
        let op = ActorOp::AddKey {
            actor: "au-inspect".into(),
            kid: "0a1b2c3d".into(),
            public_key: "AAAA".into(),
            not_before: 5,
            not_after: None,
            replaces: None,
            at: 6,
        };
        let leaf = String::from_utf8(op.leaf()).unwrap();
        assert_eq!(
            leaf,
            "traceseal/actor/v1\n{\"actor\":\"au-inspect\",\"at\":6,\"kid\":\"0a1b2c3d\",\"not_before\":5,\"op\":\"add_key\",\"public_key\":\"AAAA\"}\n"
        );
        assert_eq!(ActorOp::parse_leaf(&leaf).unwrap(), op);
        assert!(ActorOp::parse_leaf(&leaf.replace(",\"at\"", ", \"at\"")).is_err());
        let r = Recall {
            lot: "09506000134352.L1".into(),
            prev: "00".into(),
            reason: "melamine".into(),
            class: None,
            at: 1,
        };
        let leaf = String::from_utf8(r.leaf()).unwrap();
        assert_eq!(Recall::parse_leaf(&leaf).unwrap(), r);
        // A class is named only when there is one: older leaves read as they were written.
        assert!(!leaf.contains("class"));
        let safety = Recall {
            class: Some(RecallClass::Safety),
            ..r
        };
        let leaf = String::from_utf8(safety.leaf()).unwrap();
        assert!(leaf.contains("\"class\":\"safety\""));
        assert_eq!(Recall::parse_leaf(&leaf).unwrap(), safety);
    }
}
