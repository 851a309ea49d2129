//! RFC 6962 / RFC 9162 hashing: the [`Hash`] newtype and the leaf and node hash functions.
//!
//! A leaf hash is `SHA-256(0x00 ‖ data)`, an interior node hash is
//! `SHA-256(0x01 ‖ left ‖ right)`, and the root of the empty tree is `SHA-256("")`. The
//! distinct prefixes make a leaf hash and a node hash of the same bytes differ, which is what
//! stops second-preimage attacks that pass an interior node off as a leaf.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Domain-separation prefix hashed before a leaf's data (RFC 6962 §2.1).
pub const LEAF_PREFIX: u8 = 0x00;

/// Domain-separation prefix hashed before two child hashes (RFC 6962 §2.1).
pub const NODE_PREFIX: u8 = 0x01;

/// Length of a [`Hash`] in bytes.
pub const HASH_LEN: usize = 32;

/// A SHA-256 digest: a leaf hash, a node hash or a tree root.
///
/// `Debug` and `Display` print lowercase hex; the wire form used by checkpoints and proof
/// bundles is standard base64 with padding ([`Hash::to_base64`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hash(pub [u8; HASH_LEN]);

/// Why bytes or text could not be read as a [`Hash`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashDecodeError {
    /// The text is not canonical standard base64 (with padding).
    #[error("hash is not valid standard base64: {0}")]
    Base64(#[from] base64::DecodeError),
    /// The bytes are not exactly 32 long.
    #[error("hash is {got} bytes long, want 32")]
    WrongLength {
        /// The number of bytes found.
        got: usize,
    },
}

impl Hash {
    /// Standard base64 with padding (44 characters), as used in C2SP checkpoints.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses standard, canonically padded base64 of exactly 32 bytes.
    pub fn from_base64(s: &str) -> Result<Hash, HashDecodeError> {
        // 32 bytes encode to 44 characters; refuse long input before decoding it.
        if s.len() > 44 {
            return Err(HashDecodeError::WrongLength {
                got: s.len() / 4 * 3,
            });
        }
        let bytes = STANDARD.decode(s)?;
        Hash::from_slice(&bytes)
    }

    /// Copies a 32-byte slice.
    pub fn from_slice(b: &[u8]) -> Result<Hash, HashDecodeError> {
        <[u8; HASH_LEN]>::try_from(b)
            .map(Hash)
            .map_err(|_| HashDecodeError::WrongLength { got: b.len() })
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; HASH_LEN] {
        &self.0
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(2 * HASH_LEN);
        for b in self.0 {
            s.push(char::from(DIGITS[usize::from(b >> 4)]));
            s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
        }
        s
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.to_hex())
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The hash of a log entry: `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(data);
    Hash(h.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Hash(h.finalize().into())
}

/// The root of the empty tree: `SHA-256("")` (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Hash(Sha256::digest([]).into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(
            empty_root().to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn leaf_and_node_hashes_match_rfc6962_reference() {
        // transparency-dev/merkle rfc6962 hasher tests.
        assert_eq!(
            leaf_hash(b"").to_hex(),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        );
        assert_eq!(
            leaf_hash(b"L123456").to_hex(),
            "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"
        );
        let l = Hash(*b"N123\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        let r = Hash(*b"N456\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_ne!(node_hash(&l, &r), node_hash(&r, &l));
    }

    #[test]
    fn base64_round_trip_and_strictness() {
        let h = leaf_hash(b"x");
        let s = h.to_base64();
        assert_eq!(s.len(), 44);
        assert_eq!(Hash::from_base64(&s), Ok(h));
        // Missing padding, wrong length, junk, overlong input.
        assert!(Hash::from_base64(s.trim_end_matches('=')).is_err());
        assert!(matches!(
            Hash::from_base64("ZG9uJ3QgY2FyZSAx"),
            Err(HashDecodeError::WrongLength { got: 12 })
        ));
        assert!(Hash::from_base64("!!!!").is_err());
        assert!(Hash::from_base64(&"A".repeat(1000)).is_err());
        assert!(Hash::from_base64("").is_err());
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(Hash::from_slice(&[0; 31]).is_err());
        assert!(Hash::from_slice(&[0; 33]).is_err());
        assert_eq!(Hash::from_slice(&[7; 32]), Ok(Hash([7; 32])));
    }

    #[test]
    fn debug_and_display_are_hex() {
        let h = Hash([0xab; 32]);
        assert_eq!(format!("{h}"), "ab".repeat(32));
        assert_eq!(format!("{h:?}"), format!("Hash({})", "ab".repeat(32)));
    }
}
