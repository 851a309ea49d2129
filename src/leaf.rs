//! Leaf data of the Merkle log: the canonical bytes of each logged record.
//!
//! Every leaf starts with a line naming its kind and version, so verifiers can tell records
//! apart and later record kinds (custody events, key registrations) extend the format without
//! ambiguity. An issued item's leaf commits to the item's code without revealing it
//! ([`Commitment`]: the log is public, the code is a secret until its label is seen):
//!
//! ```text
//! traceseal/item/v2
//! issued <unix seconds>
//! batch <batch id>
//! commitment <base64url SHA-256 of the domain line and the code URI>
//! ```
//!
//! with `\n` line endings, including after the last line. See `docs/log.md`. The first
//! version, `traceseal/item/v1`, carried the code itself; it is refused.

use crate::commitment::{Commitment, ItemRef};

/// First line of an issued item's leaf.
pub const ITEM_LEAF_V2: &str = "traceseal/item/v2";

/// First line of the withdrawn item leaf that carried the code in clear.
pub const ITEM_LEAF_V1_WITHDRAWN: &str = "traceseal/item/v1";

/// Largest leaf we write or parse: an item-scoped custody record naming
/// [`crate::custody::record::MAX_ITEMS`] item references (46 bytes each in JSON) is about 460 KB.
pub const MAX_LEAF_LEN: usize = 512 * 1024;

/// A decoded log leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeafRecord {
    /// An issued item.
    Item(ItemLeaf),
    /// A custody statement signed by an actor (`traceseal/custody/v2`).
    Custody(Box<crate::custody::SignedStatement>),
    /// An actor-registry change by the operator (`traceseal/actor/v1`).
    Actor(crate::custody::ActorOp),
    /// A lot recall by the operator (`traceseal/recall/v1`).
    Recall(crate::custody::Recall),
    /// Labels printed again, with the reason (`traceseal/reprint/v2`).
    Reprint(Reprint),
    /// A product's owning enterprise (`traceseal/product/v1`).
    Product(crate::custody::engagement::ProductRecord),
    /// An enterprise engaging an actor, or ending it (`traceseal/engagement/v1`).
    Engagement(crate::custody::engagement::EngagementOp),
    /// A version of an enterprise's credit profile (`traceseal/credit/v1`).
    Credit(crate::records::CreditRecord),
    /// A user or API token made, disabled or revoked (`traceseal/account/v1`).
    Account(crate::records::AccountRecord),
    /// An enterprise's credit-risk grade changed (`traceseal/grade/v1`).
    Grade(crate::records::GradeRecord),
    /// The rules holding an enterprise on the warning list changed (`traceseal/warning/v1`).
    Warning(crate::records::WarningRecord),
    /// An issuer key added, retired or revoked (`traceseal/issuer-key/v1`).
    IssuerKey(crate::issuer::IssuerKeyOp),
}

/// First line of a reprint leaf.
pub const REPRINT_V2: &str = "traceseal/reprint/v2";

/// Labels printed again: `traceseal/reprint/v2\n<canonical JSON>\n`. Every reprint is logged
/// (and so anchored), so a code printed twice always leaves a trace; the items are named by
/// their item references, so whoever holds a code can tell whether its label was printed
/// again, and nobody else learns which codes were.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reprint {
    /// The print job.
    pub job: u64,
    /// The batch.
    pub batch: u64,
    /// Why the labels were printed again.
    pub reason: String,
    /// Unix seconds.
    pub at: i64,
    /// The items printed again, by item reference (at most 10,000 per record; a larger
    /// reprint is several).
    pub items: Vec<ItemRef>,
}

impl Reprint {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        let json = serde_json::to_value(self)
            .ok()
            .and_then(|v| crate::custody::canon::to_string(&v).ok())
            .unwrap_or_default();
        format!("{REPRINT_V2}\n{json}\n").into_bytes()
    }

    fn parse_leaf(text: &str) -> Result<Reprint, LeafError> {
        let json = text
            .strip_prefix(REPRINT_V2)
            .and_then(|r| r.strip_prefix('\n'))
            .and_then(|r| r.strip_suffix('\n'))
            .ok_or(LeafError::Malformed("reprint framing"))?;
        let r: Reprint =
            serde_json::from_str(json).map_err(|e| LeafError::Record(format!("reprint: {e}")))?;
        if r.leaf() != text.as_bytes() {
            return Err(LeafError::Malformed("not in canonical form"));
        }
        Ok(r)
    }
}

/// The record of one issued item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ItemLeaf {
    /// Seconds since the Unix epoch when its batch was created.
    pub issued_at: i64,
    /// The issuing batch.
    pub batch_id: u64,
    /// The commitment to the item's code.
    pub commitment: Commitment,
}

/// Why leaf bytes could not be decoded.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LeafError {
    /// More than [`MAX_LEAF_LEN`] bytes.
    #[error("leaf is {0} bytes, more than the {MAX_LEAF_LEN} allowed")]
    TooLong(usize),
    /// Not UTF-8 text.
    #[error("leaf is not UTF-8 text")]
    NotUtf8,
    /// The first line names no kind we know.
    #[error("unknown leaf kind {0:?}")]
    UnknownKind(String),
    /// A withdrawn leaf version (`traceseal/item/v1` carried codes in clear).
    #[error("leaf kind {0:?} is withdrawn: it published the item's code")]
    Withdrawn(&'static str),
    /// A line is missing or malformed.
    #[error("malformed leaf: {0}")]
    Malformed(&'static str),
    /// A custody or operator record inside the leaf is malformed.
    #[error("{0}")]
    Record(String),
}

impl ItemLeaf {
    /// The canonical leaf bytes.
    pub fn encode(&self) -> Vec<u8> {
        format!(
            "{ITEM_LEAF_V2}\nissued {}\nbatch {}\ncommitment {}\n",
            self.issued_at, self.batch_id, self.commitment
        )
        .into_bytes()
    }
}

impl LeafRecord {
    /// The canonical leaf bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            LeafRecord::Item(i) => i.encode(),
            LeafRecord::Custody(c) => c.leaf(),
            LeafRecord::Actor(a) => a.leaf(),
            LeafRecord::Recall(r) => r.leaf(),
            LeafRecord::Reprint(r) => r.leaf(),
            LeafRecord::Product(p) => p.leaf(),
            LeafRecord::Engagement(e) => e.leaf(),
            LeafRecord::Credit(c) => c.leaf(),
            LeafRecord::Account(a) => a.leaf(),
            LeafRecord::Grade(g) => g.leaf(),
            LeafRecord::Warning(w) => w.leaf(),
            LeafRecord::IssuerKey(k) => k.leaf(),
        }
    }

    /// The kind name used in bundles and views: `item`, `custody`, `actor`, `recall`,
    /// `reprint`, `product`, `engagement`, `credit`, `account`, `grade`, `warning` or
    /// `issuer_key`.
    pub fn kind(&self) -> &'static str {
        match self {
            LeafRecord::Item(_) => "item",
            LeafRecord::Custody(_) => "custody",
            LeafRecord::Actor(_) => "actor",
            LeafRecord::Recall(_) => "recall",
            LeafRecord::Reprint(_) => "reprint",
            LeafRecord::Product(_) => "product",
            LeafRecord::Engagement(_) => "engagement",
            LeafRecord::Credit(_) => "credit",
            LeafRecord::Account(_) => "account",
            LeafRecord::Grade(_) => "grade",
            LeafRecord::Warning(_) => "warning",
            LeafRecord::IssuerKey(_) => "issuer_key",
        }
    }

    /// Decodes leaf bytes that must be an issued item's leaf.
    pub fn parse_item(bytes: &[u8]) -> Result<ItemLeaf, LeafError> {
        match LeafRecord::parse(bytes)? {
            LeafRecord::Item(i) => Ok(i),
            other => Err(LeafError::UnknownKind(format!(
                "{} (expected an item leaf)",
                other.kind()
            ))),
        }
    }

    /// Decodes leaf bytes; the result re-encodes to exactly the same bytes.
    pub fn parse(bytes: &[u8]) -> Result<LeafRecord, LeafError> {
        if bytes.len() > MAX_LEAF_LEN {
            return Err(LeafError::TooLong(bytes.len()));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| LeafError::NotUtf8)?;
        let body = text
            .strip_suffix('\n')
            .ok_or(LeafError::Malformed("missing final newline"))?;
        let mut lines = body.split('\n');
        let kind = lines.next().unwrap_or_default();
        match kind {
            ITEM_LEAF_V2 => {}
            ITEM_LEAF_V1_WITHDRAWN => return Err(LeafError::Withdrawn(ITEM_LEAF_V1_WITHDRAWN)),
            _ => {
                return parse_record(kind, text).unwrap_or_else(|| {
                    Err(LeafError::UnknownKind(kind.chars().take(64).collect()))
                })
            }
        }
        let issued = field(lines.next(), "issued ")?
            .parse::<i64>()
            .map_err(|_| LeafError::Malformed("issued is not an integer"))?;
        let batch = field(lines.next(), "batch ")?
            .parse::<u64>()
            .map_err(|_| LeafError::Malformed("batch is not an integer"))?;
        let commitment = Commitment::parse(field(lines.next(), "commitment ")?)
            .map_err(|_| LeafError::Malformed("commitment is not 43 base64url characters"))?;
        if lines.next().is_some() {
            return Err(LeafError::Malformed("unexpected extra line"));
        }
        let leaf = ItemLeaf {
            issued_at: issued,
            batch_id: batch,
            commitment,
        };
        // Canonical form only: "+5" or "007" parse as integers but do not round-trip.
        if leaf.encode() != bytes {
            return Err(LeafError::Malformed("not in canonical form"));
        }
        Ok(LeafRecord::Item(leaf))
    }
}

/// Decodes a leaf of one of the JSON record kinds (`None`: not one of them).
fn parse_record(kind: &str, text: &str) -> Option<Result<LeafRecord, LeafError>> {
    use crate::custody::{engagement as eng, registry as reg};
    use crate::records as rec;
    Some(match kind {
        crate::custody::CUSTODY_V2 => {
            record(crate::custody::SignedStatement::parse_leaf(text), |s| {
                LeafRecord::Custody(Box::new(s))
            })
        }
        reg::ACTOR_V1 => record(crate::custody::ActorOp::parse_leaf(text), LeafRecord::Actor),
        reg::RECALL_V1 => record(crate::custody::Recall::parse_leaf(text), LeafRecord::Recall),
        REPRINT_V2 => Reprint::parse_leaf(text).map(LeafRecord::Reprint),
        eng::PRODUCT_V1 => record(eng::ProductRecord::parse_leaf(text), LeafRecord::Product),
        eng::ENGAGEMENT_V1 => record(eng::EngagementOp::parse_leaf(text), LeafRecord::Engagement),
        rec::CREDIT_V1 => record(rec::CreditRecord::parse_leaf(text), LeafRecord::Credit),
        rec::ACCOUNT_V1 => record(rec::AccountRecord::parse_leaf(text), LeafRecord::Account),
        rec::GRADE_V1 => record(rec::GradeRecord::parse_leaf(text), LeafRecord::Grade),
        rec::WARNING_V1 => record(rec::WarningRecord::parse_leaf(text), LeafRecord::Warning),
        crate::issuer::ISSUER_KEY_V1 => record(
            crate::issuer::IssuerKeyOp::parse_leaf(text),
            LeafRecord::IssuerKey,
        ),
        _ => return None,
    })
}

fn record<T, E: std::fmt::Display>(
    r: Result<T, E>,
    f: impl FnOnce(T) -> LeafRecord,
) -> Result<LeafRecord, LeafError> {
    r.map(f).map_err(|e| LeafError::Record(e.to_string()))
}

fn field<'a>(line: Option<&'a str>, prefix: &'static str) -> Result<&'a str, LeafError> {
    line.and_then(|l| l.strip_prefix(prefix))
        .ok_or(LeafError::Malformed(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answer() {
        let commitment = Commitment::of_uri("https://h/x");
        let leaf = ItemLeaf {
            issued_at: 1_764_000_000,
            batch_id: 7,
            commitment,
        };
        assert_eq!(
            String::from_utf8(leaf.encode()).unwrap(),
            "traceseal/item/v2\nissued 1764000000\nbatch 7\ncommitment 2NLrL1TmW_3SaGmXTDqrrTQuMklPGXKqahK3peGJpBA\n"
        );
        assert_eq!(
            LeafRecord::parse(&leaf.encode()).unwrap(),
            LeafRecord::Item(leaf)
        );
    }

    #[test]
    fn operator_records_are_leaf_kinds() {
        let a = crate::records::AccountRecord {
            op: crate::records::AccountOp::TokenRevoked,
            subject: "token:0123456789".into(),
            role: "regulator".into(),
            enterprise: None,
            at: 1,
            by_role: "operator".into(),
            request: "r".into(),
        };
        let parsed = LeafRecord::parse(&a.leaf()).unwrap();
        assert_eq!((parsed.kind(), parsed.encode()), ("account", a.leaf()));
        let mut bad = a.leaf();
        bad.insert(bad.len() - 2, b' ');
        assert!(matches!(LeafRecord::parse(&bad), Err(LeafError::Record(_))));
    }

    #[test]
    fn rejects_non_canonical_and_withdrawn() {
        let c = Commitment::of_uri("x");
        let bad = format!("traceseal/item/v2\nissued +5\nbatch 1\ncommitment {c}\n");
        assert!(LeafRecord::parse(bad.as_bytes()).is_err());
        let no_nl = format!("traceseal/item/v2\nissued 5\nbatch 1\ncommitment {c}");
        assert!(LeafRecord::parse(no_nl.as_bytes()).is_err());
        assert!(matches!(
            LeafRecord::parse(b"other/v9\n"),
            Err(LeafError::UnknownKind(_))
        ));
        // The first item leaf carried the code itself: refused, and said so.
        assert_eq!(
            LeafRecord::parse(b"traceseal/item/v1\nissued 5\nbatch 1\ncode https://h/x\n"),
            Err(LeafError::Withdrawn("traceseal/item/v1"))
        );
    }

    #[test]
    fn an_issuer_key_leaf_round_trips_through_the_leaf_parser() {
        use base64::Engine;
        let k = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key();
        let op = crate::issuer::IssuerKeyOp::Retire {
            kid: crate::code::KeyId::of(&k).to_string(),
            public_key: base64::engine::general_purpose::STANDARD.encode(k.as_bytes()),
            not_after: 1_764_000_000,
            replaced_by: "0a1b2c3d".into(),
            at: 1_764_000_000,
        };
        let rec = LeafRecord::IssuerKey(op.clone());
        assert_eq!(rec.kind(), "issuer_key");
        assert_eq!(rec.encode(), op.leaf());
        assert_eq!(LeafRecord::parse(&rec.encode()).unwrap(), rec);
        assert!(matches!(
            LeafRecord::parse(b"traceseal/issuer-key/v1\n{}\n"),
            Err(LeafError::Record(_))
        ));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = LeafRecord::parse(&bytes);
        }

        #[test]
        fn round_trips(issued in any::<i64>(), batch in any::<u64>(), c in any::<[u8; 32]>()) {
            let leaf = LeafRecord::Item(ItemLeaf { issued_at: issued, batch_id: batch, commitment: Commitment(c) });
            prop_assert_eq!(LeafRecord::parse(&leaf.encode()).unwrap(), leaf);
        }
    }
}
