//! Leaf data of the Merkle log: the canonical bytes of each logged record.
//!
//! Every leaf starts with a line naming its kind and version, so verifiers can tell records
//! apart and later record kinds (custody events, key registrations) extend the format without
//! ambiguity. An issued item's leaf is:
//!
//! ```text
//! traceseal/item/v1
//! issued <unix seconds>
//! batch <batch id>
//! code <code URI>
//! ```
//!
//! with `\n` line endings, including after the last line. See `docs/log.md`.

/// First line of an issued item's leaf.
pub const ITEM_LEAF_V1: &str = "traceseal/item/v1";

/// Largest leaf we write or parse: an item-scoped custody record naming
/// [`crate::custody::record::MAX_SERIALS`] serials of 20 characters is about 240 KB.
pub const MAX_LEAF_LEN: usize = 512 * 1024;

/// A decoded log leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeafRecord {
    /// An issued item.
    Item(ItemLeaf),
    /// A custody statement signed by an actor (`traceseal/custody/v1`).
    Custody(Box<crate::custody::SignedStatement>),
    /// An actor-registry change by the operator (`traceseal/actor/v1`).
    Actor(crate::custody::ActorOp),
    /// A lot recall by the operator (`traceseal/recall/v1`).
    Recall(crate::custody::Recall),
    /// Labels printed again, with the reason (`traceseal/reprint/v1`).
    Reprint(Reprint),
}

/// First line of a reprint leaf.
pub const REPRINT_V1: &str = "traceseal/reprint/v1";

/// Labels printed again: `traceseal/reprint/v1\n<canonical JSON>\n`. Every reprint is logged
/// (and so anchored), so a code printed twice always leaves a trace.
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
    /// The serials printed again (at most 10,000 per record; a larger reprint is several).
    pub serials: Vec<String>,
}

impl Reprint {
    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        let json = serde_json::to_value(self)
            .ok()
            .and_then(|v| crate::custody::canon::to_string(&v).ok())
            .unwrap_or_default();
        format!("{REPRINT_V1}\n{json}\n").into_bytes()
    }

    fn parse_leaf(text: &str) -> Result<Reprint, LeafError> {
        let json = text
            .strip_prefix(REPRINT_V1)
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
    /// The signed code URI, exactly as printed on the label.
    pub code: String,
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
            "{ITEM_LEAF_V1}\nissued {}\nbatch {}\ncode {}\n",
            self.issued_at, self.batch_id, self.code
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
        }
    }

    /// The kind name used in bundles and views: `item`, `custody`, `actor`, `recall` or
    /// `reprint`.
    pub fn kind(&self) -> &'static str {
        match self {
            LeafRecord::Item(_) => "item",
            LeafRecord::Custody(_) => "custody",
            LeafRecord::Actor(_) => "actor",
            LeafRecord::Recall(_) => "recall",
            LeafRecord::Reprint(_) => "reprint",
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
        let other = |e: String| LeafError::Record(e);
        match kind {
            ITEM_LEAF_V1 => {}
            crate::custody::CUSTODY_V1 => {
                return crate::custody::SignedStatement::parse_leaf(text)
                    .map(|s| LeafRecord::Custody(Box::new(s)))
                    .map_err(|e| other(e.to_string()))
            }
            crate::custody::registry::ACTOR_V1 => {
                return crate::custody::ActorOp::parse_leaf(text)
                    .map(LeafRecord::Actor)
                    .map_err(|e| other(e.to_string()))
            }
            crate::custody::registry::RECALL_V1 => {
                return crate::custody::Recall::parse_leaf(text)
                    .map(LeafRecord::Recall)
                    .map_err(|e| other(e.to_string()))
            }
            REPRINT_V1 => return Reprint::parse_leaf(text).map(LeafRecord::Reprint),
            _ => return Err(LeafError::UnknownKind(kind.chars().take(64).collect())),
        }
        let issued = field(lines.next(), "issued ")?
            .parse::<i64>()
            .map_err(|_| LeafError::Malformed("issued is not an integer"))?;
        let batch = field(lines.next(), "batch ")?
            .parse::<u64>()
            .map_err(|_| LeafError::Malformed("batch is not an integer"))?;
        let code = field(lines.next(), "code ")?.to_string();
        if lines.next().is_some() {
            return Err(LeafError::Malformed("unexpected extra line"));
        }
        let leaf = ItemLeaf {
            issued_at: issued,
            batch_id: batch,
            code,
        };
        // Canonical form only: "+5" or "007" parse as integers but do not round-trip.
        if leaf.encode() != bytes {
            return Err(LeafError::Malformed("not in canonical form"));
        }
        Ok(LeafRecord::Item(leaf))
    }
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
        let leaf = ItemLeaf {
            issued_at: 1_764_000_000,
            batch_id: 7,
            code: "https://h/01/09506000134352/10/L1/21/S?k=00000000&s=x".into(),
        };
        assert_eq!(
            String::from_utf8(leaf.encode()).unwrap(),
            "traceseal/item/v1\nissued 1764000000\nbatch 7\ncode https://h/01/09506000134352/10/L1/21/S?k=00000000&s=x\n"
        );
        assert_eq!(
            LeafRecord::parse(&leaf.encode()).unwrap(),
            LeafRecord::Item(leaf)
        );
    }

    #[test]
    fn rejects_non_canonical() {
        let bad = b"traceseal/item/v1\nissued +5\nbatch 1\ncode x\n";
        assert!(LeafRecord::parse(bad).is_err());
        assert!(LeafRecord::parse(b"traceseal/item/v1\nissued 5\nbatch 1\ncode x").is_err());
        assert!(matches!(
            LeafRecord::parse(b"other/v9\n"),
            Err(LeafError::UnknownKind(_))
        ));
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = LeafRecord::parse(&bytes);
        }

        #[test]
        fn round_trips(issued in any::<i64>(), batch in any::<u64>(), code in "[ -~]{0,100}") {
            let leaf = LeafRecord::Item(ItemLeaf { issued_at: issued, batch_id: batch, code });
            prop_assert_eq!(LeafRecord::parse(&leaf.encode()).unwrap(), leaf);
        }
    }
}
