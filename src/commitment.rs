//! How the log and every public answer name an item without revealing its code (normative;
//! see `docs/code-format.md`, "Commitments and item references").
//!
//! A code is a secret until its label is seen: whoever holds a valid code can print a perfect
//! clone of the label. So the log never carries a code, nor a serial. It carries two hashes of
//! the code URI, each with its own domain line:
//!
//! ```text
//! commitment = SHA-256("traceseal/commitment/v1\n" ‖ code URI)   in the item's issuance leaf
//! item ref   = SHA-256("traceseal/item-ref/v1\n"   ‖ code URI)   in custody and reprint records
//! ```
//!
//! both written as base64url without padding (43 characters). Whoever presents the code
//! recomputes both and finds the item's records; whoever sees only the log learns nothing about
//! any code, because a code holds 96 random serial bits and a 64-byte signature nobody can
//! guess. The two are different on purpose: commitments are public (every issuance leaf shows
//! one), so the first record that names an item by reference — normally its release from the
//! bonded warehouse — comes from someone who holds the code (the label, or the importer's code
//! list), not from someone who copied a value out of the issuance leaves; and the public cannot
//! link custody records to issuance records. Once a record names an item its reference is
//! public too, so later records (a sale after a release) only show that their signer, an actor
//! the importer engaged, claims the step — as every signed record does.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use crate::code::Code;

/// The domain line of a [`Commitment`].
pub const COMMITMENT_DOMAIN: &[u8] = b"traceseal/commitment/v1\n";

/// The domain line of an [`ItemRef`].
pub const ITEM_REF_DOMAIN: &[u8] = b"traceseal/item-ref/v1\n";

/// Length of the text form (base64url of 32 bytes, no padding).
pub const TEXT_LEN: usize = 43;

/// Why a commitment's or item reference's text form was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} must be 43 characters of base64url (a SHA-256 hash, no padding)")]
pub struct HashTextError(pub String);

fn hash(domain: &[u8], uri: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(domain);
    h.update(uri.as_bytes());
    h.finalize().into()
}

/// Parses the canonical text form: exactly 43 base64url characters whose decoding re-encodes
/// to the same text (base64 has spare bits in the last character).
fn parse_text(s: &str) -> Result<[u8; 32], HashTextError> {
    let err = || HashTextError(s.chars().take(64).collect());
    if s.len() != TEXT_LEN {
        return Err(err());
    }
    let bytes = URL_SAFE_NO_PAD.decode(s).map_err(|_| err())?;
    let raw: [u8; 32] = bytes.as_slice().try_into().map_err(|_| err())?;
    if URL_SAFE_NO_PAD.encode(raw) != s {
        return Err(err());
    }
    Ok(raw)
}

macro_rules! code_hash {
    ($(#[$doc:meta])* $name:ident, $domain:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl $name {
            /// The value for `code`.
            pub fn of(code: &Code) -> $name {
                $name::of_uri(code.as_str())
            }

            /// The value for a code URI given as text (the caller has parsed it).
            pub fn of_uri(uri: &str) -> $name {
                $name(hash($domain, uri))
            }

            /// Parses the canonical text form.
            pub fn parse(s: &str) -> Result<$name, HashTextError> {
                parse_text(s).map($name)
            }

            /// The raw bytes (store keys).
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = <String as serde::Deserialize>::deserialize(deserializer)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

code_hash!(
    /// The commitment to an item's code, carried by its issuance leaf.
    Commitment,
    COMMITMENT_DOMAIN
);

code_hash!(
    /// The reference to an item that custody and reprint records carry: computable only from
    /// the code, never from the log.
    ItemRef,
    ITEM_REF_DOMAIN
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_answers() {
        // Computed independently, e.g.
        // printf 'traceseal/commitment/v1\nhttps://h/x' | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '='
        let c = Commitment::of_uri("https://h/x");
        assert_eq!(c.to_string(), "2NLrL1TmW_3SaGmXTDqrrTQuMklPGXKqahK3peGJpBA");
        let r = ItemRef::of_uri("https://h/x");
        assert_eq!(r.to_string(), "tvBOxVyMQydnwu3uHHQjCCxlXZw-yzZYrD_u3pUC6eg");
        assert_eq!(Commitment::parse(&c.to_string()).unwrap(), c);
        assert_eq!(ItemRef::parse(&r.to_string()).unwrap(), r);
    }

    #[test]
    fn refuses_non_canonical_text() {
        let c = Commitment([0xff; 32]).to_string();
        assert_eq!(c, "__________________________________________8");
        // The last character carries 2 spare bits: '9' decodes to the same bytes.
        assert!(Commitment::parse("__________________________________________9").is_err());
        assert!(Commitment::parse(&c[..42]).is_err());
        assert!(Commitment::parse(&format!("{c}=")).is_err());
        assert!(Commitment::parse("+_________________________________________8").is_err());
    }

    proptest! {
        #[test]
        fn text_round_trips(bytes in any::<[u8; 32]>()) {
            let c = Commitment(bytes);
            prop_assert_eq!(Commitment::parse(&c.to_string()).unwrap(), c);
        }

        #[test]
        fn random_text_never_panics(s in "\\PC{0,60}") {
            let _ = Commitment::parse(&s);
            let _ = ItemRef::parse(&s);
        }
    }
}
