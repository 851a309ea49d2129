//! Typed key and value codecs for every column family (see `docs/schema.md`).
//!
//! Integer keys are big-endian so iteration order is numeric order. Hot records (items,
//! nodes, leaves) use fixed binary layouts; low-volume records use JSON through
//! [`encode_json`]/[`decode_json`]. Every decoder returns [`StoreError::Corrupt`] on bad bytes
//! and never panics.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::StoreError;

/// Big-endian encoding of a u64 key.
pub fn u64_key(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

/// Decodes an 8-byte big-endian u64.
pub fn decode_u64(bytes: &[u8]) -> Result<u64, StoreError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("expected 8 bytes, found {}", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

/// Key of a Merkle node: level (1 byte) ‖ index (8 bytes, big-endian).
pub fn node_key(level: u8, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

/// Key of an item: GTIN-14 (14 ASCII digits) ‖ serial length (1 byte) ‖ serial.
///
/// The length byte keeps keys prefix-free, so scan-event keys can extend item keys.
pub fn item_key(gtin14: &str, serial: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(15 + serial.len());
    k.extend_from_slice(gtin14.as_bytes());
    // Serials are at most 20 bytes (enforced by the Serial type), so this never truncates.
    k.push(serial.len() as u8);
    k.extend_from_slice(serial.as_bytes());
    k
}

/// Where an issued item sits: its batch and its leaf in the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItemRecord {
    /// The batch that issued the item.
    pub batch_id: u64,
    /// Index of the item's leaf in the Merkle log.
    pub leaf_index: u64,
}

impl ItemRecord {
    /// 16 bytes: batch id ‖ leaf index, both big-endian.
    pub fn encode(&self) -> [u8; 16] {
        let mut v = [0u8; 16];
        v[..8].copy_from_slice(&self.batch_id.to_be_bytes());
        v[8..].copy_from_slice(&self.leaf_index.to_be_bytes());
        v
    }

    /// Inverse of [`ItemRecord::encode`].
    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        if bytes.len() != 16 {
            return Err(StoreError::Corrupt(format!(
                "item record is {} bytes, expected 16",
                bytes.len()
            )));
        }
        Ok(ItemRecord {
            batch_id: decode_u64(&bytes[..8])?,
            leaf_index: decode_u64(&bytes[8..])?,
        })
    }
}

/// Encodes a low-volume record as JSON.
pub fn encode_json<T: Serialize>(value: &T) -> Vec<u8> {
    // Serialising our own plain structs (no maps with non-string keys) cannot fail.
    serde_json::to_vec(value).unwrap_or_default()
}

/// Decodes a JSON record; a failure means the store is corrupt.
pub fn decode_json<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn node_keys_sort_by_level_then_index() {
        assert!(node_key(0, 5) < node_key(0, 256));
        assert!(node_key(0, u64::MAX) < node_key(1, 0));
    }

    #[test]
    fn item_keys_are_prefix_free() {
        let a = item_key("09506000134352", "ab");
        let b = item_key("09506000134352", "abc");
        assert!(!b.starts_with(&a));
    }

    proptest! {
        #[test]
        fn item_record_round_trips(batch in any::<u64>(), leaf in any::<u64>()) {
            let r = ItemRecord { batch_id: batch, leaf_index: leaf };
            prop_assert_eq!(ItemRecord::decode(&r.encode()).unwrap(), r);
        }

        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            let _ = ItemRecord::decode(&bytes);
            let _ = decode_u64(&bytes);
            let _ = decode_json::<serde_json::Value>("x", &bytes);
        }

        #[test]
        fn u64_round_trips(n in any::<u64>()) {
            prop_assert_eq!(decode_u64(&u64_key(n)).unwrap(), n);
        }
    }
}
