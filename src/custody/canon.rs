//! Canonical JSON (RFC 8785, JCS) for the values custody statements use: objects with ASCII
//! keys sorted by code point, no insignificant whitespace, strings escaped as ECMAScript
//! `JSON.stringify` does, integers only (no floats).
//!
//! Statements are signed over this text, so a signer in any language can reproduce the bytes:
//! build the object, serialise with a JCS library (or sort keys and print compactly), sign.
//! The serialisation is `serde_jcs`'s; this module adds the integer-only rule.

use serde_json::Value;

/// Why a value has no canonical form here.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CanonError {
    /// A number that is not an integer in the JavaScript safe range.
    #[error("numbers must be integers between -(2^53-1) and 2^53-1")]
    Number,
}

const MAX_SAFE: i64 = (1 << 53) - 1;

/// The canonical text of `v`: RFC 8785 by `serde_jcs`, after checking that every number is
/// an integer in the JavaScript safe range (what a signer in any language reproduces exactly).
pub fn to_string(v: &Value) -> Result<String, CanonError> {
    check_numbers(v)?;
    // serde_jcs fails only on values serde_json cannot hold (non-finite floats, which
    // check_numbers has refused already).
    serde_jcs::to_string(v).map_err(|_| CanonError::Number)
}

fn check_numbers(v: &Value) -> Result<(), CanonError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .filter(|i| (-MAX_SAFE..=MAX_SAFE).contains(i))
            .map(|_| ())
            .ok_or(CanonError::Number),
        Value::Array(a) => a.iter().try_for_each(check_numbers),
        Value::Object(m) => m.values().try_for_each(check_numbers),
        Value::Null | Value::Bool(_) | Value::String(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn known_answers() {
        // RFC 8785 §3.2.2-style cases restricted to integers.
        let v = json!({"b": [1, -2, true, null], "a": "é\n\"\u{1}", "A": {}});
        assert_eq!(
            to_string(&v).unwrap(),
            r#"{"A":{},"a":"é\n\"\u0001","b":[1,-2,true,null]}"#
        );
        // Keys sort by UTF-16 code units: U+1F600 (surrogates D83D DE00) before U+E000, the
        // reverse of code point order; control characters use JSON.stringify's short escapes.
        let v = json!({"\u{1F600}": 1, "\u{E000}": 2, "t": "\u{8}\u{c}\t\u{1f}/"});
        assert_eq!(
            to_string(&v).unwrap(),
            "{\"t\":\"\\b\\f\\t\\u001f/\",\"\u{1F600}\":1,\"\u{E000}\":2}"
        );
        assert_eq!(to_string(&json!(1.5)), Err(CanonError::Number));
        assert_eq!(
            to_string(&json!({"a": [{"b": 0.5}]})),
            Err(CanonError::Number)
        );
        assert_eq!(to_string(&json!(1u64 << 60)), Err(CanonError::Number));
    }

    proptest! {
        #[test]
        fn output_parses_back_to_the_same_value(s in "\\PC{0,40}", k in "[a-z]{1,8}", n in -1000i64..1000) {
            let v = json!({k.clone(): s, "n": n, "z": [k]});
            let text = to_string(&v).unwrap();
            let back: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(&back, &v);
            prop_assert_eq!(to_string(&back).unwrap(), text);
        }
    }
}
