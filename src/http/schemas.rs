//! OpenAPI schemas of the pure core's wire types (`anchor::AnchorStatus`, the proof bundle),
//! kept here so the pure core does not depend on utoipa. Each is a documentation twin: a
//! private type with the same serde shape that derives `ToSchema` under the real type's name,
//! and the real type's `ToSchema` delegates to it. The fields' types are the real ones, so
//! nested schemas resolve to the real types too. The tests below fail when a twin and its
//! real type drift apart (different property names, or different enum values).

use std::borrow::Cow;

use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::anchor::AnchorStatus;
use crate::bundle::{Bundle, BundleAnchor, BundleIssuerKey, BundleKeys, BundleRecord};

/// The real type `$real` is documented by its twin `$twin`.
macro_rules! documented_by {
    ($real:ty, $twin:ty) => {
        impl PartialSchema for $real {
            fn schema() -> RefOr<Schema> {
                <$twin as PartialSchema>::schema()
            }
        }

        impl ToSchema for $real {
            fn name() -> Cow<'static, str> {
                <$twin as ToSchema>::name()
            }

            fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
                <$twin as ToSchema>::schemas(schemas)
            }
        }
    };
}

documented_by!(AnchorStatus, AnchorStatusDoc);
documented_by!(Bundle, BundleDoc);
documented_by!(BundleRecord, BundleRecordDoc);
documented_by!(BundleAnchor, BundleAnchorDoc);
documented_by!(BundleKeys, BundleKeysDoc);
documented_by!(BundleIssuerKey, BundleIssuerKeyDoc);

/// Public anchoring state of a checkpoint (and of the items it covers).
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(as = AnchorStatus, rename_all = "snake_case")]
enum AnchorStatusDoc {
    /// In a signed checkpoint; no anchor transaction yet.
    Logged,
    /// An anchor transaction is signed and sent (or being re-sent) but not in a canonical block.
    AnchorPending,
    /// Mined in a canonical block.
    Anchored,
    /// The block has at least the configured number of confirmations.
    Confirmed,
    /// The chain's `finalized` tag has passed the block.
    Finalized,
}

/// A proof bundle.
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(as = Bundle)]
struct BundleDoc {
    /// Always `traceseal-bundle/v2`.
    format: String,
    /// The item's signed code URI.
    code: String,
    /// Every log record about the item, each with its inclusion proof against `checkpoint`.
    records: Vec<BundleRecord>,
    /// The signed checkpoint note the proofs are against (the anchored one when there is one).
    checkpoint: String,
    /// A newer signed checkpoint, when the log has grown past `checkpoint`.
    latest_checkpoint: Option<String>,
    /// RFC 9162 consistency proof from `checkpoint` to `latest_checkpoint` (base64 hashes).
    consistency_proof: Vec<String>,
    /// Where `checkpoint` is anchored; absent when the service does not anchor.
    anchor: Option<BundleAnchor>,
    /// The public keys needed to check everything.
    keys: BundleKeys,
}

/// One log record about the item.
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(as = BundleRecord)]
struct BundleRecordDoc {
    /// Record kind (`item`: the issuance record).
    kind: String,
    /// Leaf index.
    leaf_index: u64,
    /// Base64 leaf bytes.
    leaf_data: String,
    /// RFC 9162 inclusion proof (base64 hashes) against `checkpoint`, or, when `tree_size`
    /// is set, against `latest_checkpoint` (a record newer than the anchored checkpoint).
    inclusion_proof: Vec<String>,
    /// Set (to the latest checkpoint's size) when the proof is against `latest_checkpoint`.
    tree_size: Option<u64>,
}

/// The anchor of the bundle's checkpoint.
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(as = BundleAnchor)]
struct BundleAnchorDoc {
    /// Anchoring state when the bundle was made.
    status: AnchorStatus,
    /// EVM chain id.
    chain_id: u64,
    /// Registry contract (`0x`).
    contract: String,
    /// SHA-256 of the log origin (`0x`).
    log_id: String,
    /// Anchored tree size (equals the checkpoint's when on chain).
    tree_size: Option<u64>,
    /// Anchored root (`0x`).
    root: Option<String>,
    /// SHA-256 of the checkpoint note (`0x`).
    checkpoint_hash: Option<String>,
    /// Anchor transaction (`0x`).
    tx_hash: Option<String>,
    /// Its block.
    block_number: Option<u64>,
    /// Its block hash (`0x`).
    block_hash: Option<String>,
    /// Its block time (Unix seconds).
    block_timestamp: Option<u64>,
}

/// Public keys in a bundle.
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(as = BundleKeys)]
struct BundleKeysDoc {
    /// Issuer keys (code signatures).
    issuers: Vec<BundleIssuerKey>,
    /// The log's C2SP note verifier key (checkpoint signatures).
    log_vkey: String,
}

/// One issuer key.
#[allow(dead_code)]
#[derive(ToSchema)]
#[schema(as = BundleIssuerKey)]
struct BundleIssuerKeyDoc {
    /// Key id (8 hex).
    kid: String,
    /// Base64 raw Ed25519 public key.
    public_key: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The property names of a twin's object schema.
    fn properties<T: PartialSchema>() -> BTreeSet<String> {
        let v = serde_json::to_value(T::schema()).unwrap();
        v["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("not an object schema: {v}"))
            .keys()
            .cloned()
            .collect()
    }

    /// The keys a real value serializes with (every optional field set).
    fn keys<T: serde::Serialize>(value: &T) -> BTreeSet<String> {
        serde_json::to_value(value)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect()
    }

    fn anchor() -> BundleAnchor {
        BundleAnchor {
            status: AnchorStatus::Confirmed,
            chain_id: 31337,
            contract: "0x00".into(),
            log_id: "0x01".into(),
            tree_size: Some(3),
            root: Some("0x02".into()),
            checkpoint_hash: Some("0x03".into()),
            tx_hash: Some("0x04".into()),
            block_number: Some(5),
            block_hash: Some("0x06".into()),
            block_timestamp: Some(7),
        }
    }

    fn bundle() -> Bundle {
        Bundle {
            format: crate::bundle::FORMAT.into(),
            code: "https://example.test/01/09506000134352/10/L1/21/S1".into(),
            records: vec![BundleRecord {
                kind: "item".into(),
                leaf_index: 0,
                leaf_data: "AA==".into(),
                inclusion_proof: vec![],
                tree_size: Some(2),
            }],
            checkpoint: "note".into(),
            latest_checkpoint: Some("note 2".into()),
            consistency_proof: vec![],
            anchor: Some(anchor()),
            keys: BundleKeys {
                issuers: vec![BundleIssuerKey {
                    kid: "00112233".into(),
                    public_key: "AA==".into(),
                }],
                log_vkey: "vkey".into(),
            },
        }
    }

    #[test]
    fn each_twin_has_exactly_the_real_types_properties() {
        let b = bundle();
        assert_eq!(properties::<Bundle>(), keys(&b));
        assert_eq!(properties::<BundleRecord>(), keys(&b.records[0]));
        assert_eq!(properties::<BundleAnchor>(), keys(&anchor()));
        assert_eq!(properties::<BundleKeys>(), keys(&b.keys));
        assert_eq!(properties::<BundleIssuerKey>(), keys(&b.keys.issuers[0]));
    }

    #[test]
    fn the_status_twin_lists_every_status_as_serialized() {
        use AnchorStatus::*;
        let all = [Logged, AnchorPending, Anchored, Confirmed, Finalized];
        // A new status fails to compile here until it is added to `all` (and to the twin).
        for s in all {
            match s {
                Logged | AnchorPending | Anchored | Confirmed | Finalized => {}
            }
        }
        let real: BTreeSet<String> = all
            .iter()
            .map(|s| {
                serde_json::to_value(s)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
        let v = serde_json::to_value(AnchorStatus::schema()).unwrap();
        let twin: BTreeSet<String> = v["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("not an enum schema: {v}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        assert_eq!(twin, real);
    }

    #[test]
    fn the_twins_carry_the_real_names() {
        assert_eq!(<Bundle as ToSchema>::name(), "Bundle");
        assert_eq!(<AnchorStatus as ToSchema>::name(), "AnchorStatus");
        assert_eq!(<BundleIssuerKey as ToSchema>::name(), "BundleIssuerKey");
    }
}
