//! Issuer keys over time: the log records of their rotations and revocations, and the rule
//! every verifier applies to a code signed by a revoked key.
//!
//! Each change to the set of issuer keys is a log leaf, so it is checkpointed and anchored like
//! every other record (`docs/operations.md`, Issuer keys):
//!
//! ```text
//! traceseal/issuer-key/v1\n<canonical JSON of an IssuerKeyOp>\n
//! ```
//!
//! **The revocation rule.** A code carries no time; what dates it is its **issuance record**,
//! the item leaf the service logged when it issued the code (`issued` = its batch's creation
//! time). An issuer key revoked from `T` leaves genuine exactly the codes whose issuance record
//! shows `issued < T`. A code signed by a revoked key with no issuance record (a code forged
//! with the leaked key, or one whose record the verifier was not shown) is not genuine, and
//! neither is one issued at or after `T`: reason [`REVOKED_REASON`] everywhere (the server's
//! verdict, `traceseal verify`, `verify-bundle` and the scan page).

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::code::KeyId;
use crate::custody::registry::{decode, encode, OpError};

/// First line of an issuer-key leaf.
pub const ISSUER_KEY_V1: &str = "traceseal/issuer-key/v1";

/// The reason code of a code signed by a revoked issuer key, in every verifier.
pub const REVOKED_REASON: &str = "issuer_key_revoked";

/// One change to the issuer keys, by the operator (`traceseal keys rotate|revoke`). Every op
/// names the key by its id **and** its public key: a key id is only 32 bits, so a verifier
/// applies a record to the key whose public key it names, never to another key of the same id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum IssuerKeyOp {
    /// A new issuer key: it signs the batches created from `not_before` on.
    Add {
        /// Key id, 8 hex.
        kid: String,
        /// Base64 of the 32-byte Ed25519 public key.
        public_key: String,
        /// Signs new batches from (Unix seconds).
        not_before: i64,
        /// The key it takes over from (a rotation).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replaces: Option<String>,
        /// Unix seconds.
        at: i64,
    },
    /// A key retired by a rotation: it signs no batch created from `not_after` on; the codes
    /// it signed stay valid.
    Retire {
        /// Key id, 8 hex.
        kid: String,
        /// Base64 of the 32-byte Ed25519 public key.
        public_key: String,
        /// Signs no new batch from (Unix seconds).
        not_after: i64,
        /// The key that signs new batches instead.
        replaced_by: String,
        /// Unix seconds.
        at: i64,
    },
    /// A key revoked: codes of batches issued at or after `revoked_from` are not genuine.
    Revoke {
        /// Key id, 8 hex.
        kid: String,
        /// Base64 of the 32-byte Ed25519 public key.
        public_key: String,
        /// Unix seconds (may be in the past: the time of the leak).
        revoked_from: i64,
        /// Why, shown to whoever scans a code it invalidates.
        reason: String,
        /// Unix seconds.
        at: i64,
    },
}

impl IssuerKeyOp {
    /// The key id the op is about.
    pub fn kid(&self) -> &str {
        match self {
            IssuerKeyOp::Add { kid, .. }
            | IssuerKeyOp::Retire { kid, .. }
            | IssuerKeyOp::Revoke { kid, .. } => kid,
        }
    }

    /// The public key (base64) the op is about.
    pub fn public_key(&self) -> &str {
        match self {
            IssuerKeyOp::Add { public_key, .. }
            | IssuerKeyOp::Retire { public_key, .. }
            | IssuerKeyOp::Revoke { public_key, .. } => public_key,
        }
    }

    /// Leaf bytes.
    pub fn leaf(&self) -> Vec<u8> {
        encode(ISSUER_KEY_V1, self)
    }

    /// Parses leaf text starting with [`ISSUER_KEY_V1`]: canonical form only, and the public
    /// key must be a 32-byte Ed25519 key whose id is `kid`.
    pub fn parse_leaf(text: &str) -> Result<IssuerKeyOp, OpError> {
        let op: IssuerKeyOp = decode(ISSUER_KEY_V1, text)?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(op.public_key())
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .and_then(|b| ed25519_dalek::VerifyingKey::from_bytes(&b).ok())
            .ok_or_else(|| OpError("public_key is not a base64 Ed25519 key".into()))?;
        if KeyId::of(&raw).to_string() != op.kid() {
            return Err(OpError(format!(
                "kid {:?} is not the id of its public key",
                op.kid()
            )));
        }
        Ok(op)
    }
}

/// A key's revocation: from when, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// Unix seconds: codes issued at or after it are not genuine.
    pub from: i64,
    /// The operator's reason.
    pub reason: String,
}

impl Revocation {
    /// The earlier of two revocations (a second revocation may only move it back).
    pub fn earliest(a: Option<Revocation>, b: Option<Revocation>) -> Option<Revocation> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if b.from < a.from { b } else { a }),
            (a, b) => a.or(b),
        }
    }
}

/// A code of a revoked key that is not genuine: which key, its revocation, and the issuance
/// time the verifier had (`None`: no issuance record of the code).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct RevokedCode {
    /// The key id.
    pub kid: String,
    /// Its revocation.
    pub revocation: Revocation,
    /// When the item's batch was issued, from its issuance record.
    pub issued_at: Option<i64>,
}

impl std::fmt::Display for RevokedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the code is signed with issuer key {}, revoked from {} ({}); ",
            self.kid,
            when(self.revocation.from),
            self.revocation.reason
        )?;
        match self.issued_at {
            Some(t) => write!(
                f,
                "this item was issued at {}, not before that: the code is not valid",
                when(t)
            ),
            None => f.write_str(
                "no issuance record shows the code was issued before that: it is not valid",
            ),
        }
    }
}

/// The revocation rule: a code of key `kid` (with `revocation`, if any) is valid when the key
/// is not revoked, or when its issuance record (`issued_at`, Unix seconds) is before the
/// revocation's `from`.
pub fn check_revocation(
    kid: &str,
    revocation: Option<&Revocation>,
    issued_at: Option<i64>,
) -> Result<(), RevokedCode> {
    match (revocation, issued_at) {
        (None, _) => Ok(()),
        (Some(r), Some(t)) if t < r.from => Ok(()),
        (Some(r), _) => Err(RevokedCode {
            kid: kid.to_string(),
            revocation: r.clone(),
            issued_at,
        }),
    }
}

/// The earliest revocation the `ops` record for the key `kid` with `public_key` (records of
/// another key, even of the same id, do not count).
pub fn revocation_in<'a>(
    ops: impl IntoIterator<Item = &'a IssuerKeyOp>,
    kid: &str,
    public_key: &str,
) -> Option<Revocation> {
    ops.into_iter()
        .filter_map(|op| match op {
            IssuerKeyOp::Revoke {
                kid: k,
                public_key: p,
                revoked_from,
                reason,
                ..
            } if k == kid && p == public_key => Some(Revocation {
                from: *revoked_from,
                reason: reason.clone(),
            }),
            _ => None,
        })
        .fold(None, |acc, r| Revocation::earliest(acc, Some(r)))
}

/// RFC 3339 text of Unix seconds (the number itself if out of range).
pub fn when(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// Unix seconds of RFC 3339 text.
pub fn parse_when(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(seed: u8) -> (String, String) {
        let k = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]).verifying_key();
        (
            KeyId::of(&k).to_string(),
            base64::engine::general_purpose::STANDARD.encode(k.as_bytes()),
        )
    }

    fn revoke(seed: u8, from: i64) -> IssuerKeyOp {
        let (kid, public_key) = key(seed);
        IssuerKeyOp::Revoke {
            kid,
            public_key,
            revoked_from: from,
            reason: "key leaked".into(),
            at: from + 10,
        }
    }

    #[test]
    fn known_answer_and_round_trip() {
        let (kid, public_key) = key(1);
        let op = IssuerKeyOp::Add {
            kid: kid.clone(),
            public_key: public_key.clone(),
            not_before: 1_764_000_000,
            replaces: Some("0a1b2c3d".into()),
            at: 1_764_000_000,
        };
        let leaf = String::from_utf8(op.leaf()).unwrap();
        assert_eq!(
            leaf,
            format!(
                "traceseal/issuer-key/v1\n{{\"at\":1764000000,\"kid\":\"{kid}\",\"not_before\":1764000000,\"op\":\"add\",\"public_key\":\"{public_key}\",\"replaces\":\"0a1b2c3d\"}}\n"
            )
        );
        assert_eq!(IssuerKeyOp::parse_leaf(&leaf).unwrap(), op);
        for op in [
            IssuerKeyOp::Retire {
                kid: kid.clone(),
                public_key: public_key.clone(),
                not_after: 5,
                replaced_by: "0a1b2c3d".into(),
                at: 5,
            },
            revoke(1, 7),
        ] {
            let leaf = String::from_utf8(op.leaf()).unwrap();
            assert_eq!(IssuerKeyOp::parse_leaf(&leaf).unwrap(), op);
        }
    }

    #[test]
    fn refuses_non_canonical_and_a_kid_of_another_key() {
        let leaf = String::from_utf8(revoke(1, 7).leaf()).unwrap();
        let spaced = leaf.replace(",\"kid\"", ", \"kid\"");
        assert_ne!(spaced, leaf);
        assert!(IssuerKeyOp::parse_leaf(&spaced).is_err());
        assert!(IssuerKeyOp::parse_leaf(&leaf.replace("\"op\"", "\"x\":1,\"op\"")).is_err());
        let (other, _) = key(2);
        let (kid, _) = key(1);
        let e = IssuerKeyOp::parse_leaf(&leaf.replace(&kid, &other)).unwrap_err();
        assert!(e.0.contains("not the id of its public key"), "{e}");
        let e = IssuerKeyOp::parse_leaf(&leaf.replace("\"public_key\":\"", "\"public_key\":\"A"))
            .unwrap_err();
        assert!(e.0.contains("not a base64 Ed25519 key"), "{e}");
    }

    #[test]
    fn the_rule_before_at_and_after_from() {
        let r = Revocation {
            from: 1000,
            reason: "key leaked".into(),
        };
        assert_eq!(check_revocation("k", None, None), Ok(()), "not revoked");
        assert_eq!(check_revocation("k", Some(&r), Some(999)), Ok(()), "before");
        let at = check_revocation("k", Some(&r), Some(1000)).unwrap_err();
        assert_eq!(at.issued_at, Some(1000), "at `from` is revoked");
        assert!(at.to_string().contains("issued at 1970-01-01T00:16:40Z"));
        assert!(
            check_revocation("k", Some(&r), Some(1001)).is_err(),
            "after"
        );
        let forged = check_revocation("k", Some(&r), None).unwrap_err();
        assert!(
            forged.to_string().contains("no issuance record"),
            "{forged}"
        );
        assert!(forged.to_string().contains("(key leaked)"), "{forged}");
    }

    #[test]
    fn the_earliest_revocation_of_the_same_public_key_counts() {
        let ops = [revoke(1, 50), revoke(1, 30), revoke(1, 40), revoke(2, 10)];
        let (kid, pk) = key(1);
        assert_eq!(revocation_in(&ops, &kid, &pk).unwrap().from, 30);
        let (_, other_pk) = key(2);
        assert_eq!(
            revocation_in(&ops, &kid, &other_pk),
            None,
            "a record of another public key under the same id does not count"
        );
        assert_eq!(parse_when(&when(1_764_000_000)), Some(1_764_000_000));
    }

    proptest! {
        #[test]
        fn round_trips(from in 0i64..=253_402_300_799, at in 0i64..=253_402_300_799,
                       reason in "[a-z ]{1,40}", seed in any::<u8>()) {
            let (kid, public_key) = key(seed);
            let op = IssuerKeyOp::Revoke { kid, public_key, revoked_from: from, reason, at };
            let leaf = String::from_utf8(op.leaf()).unwrap();
            prop_assert_eq!(IssuerKeyOp::parse_leaf(&leaf).unwrap(), op);
        }

        #[test]
        fn mutated_leaves_never_panic_and_parse_only_canonically(
            pos in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = revoke(3, 1_764_000_000).leaf();
            let i = pos.index(bytes.len());
            bytes[i] = byte;
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Ok(op) = IssuerKeyOp::parse_leaf(text) {
                    prop_assert_eq!(op.leaf(), bytes);
                }
            }
        }
    }
}
