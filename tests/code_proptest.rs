//! Property tests for `Code`: parsing never panics, any one-byte change to a genuine code is
//! caught, and sign → parse → verify round-trips for arbitrary valid items.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use traceseal::code::{Code, Host, ItemId, KeyId};
use traceseal::gs1::{CountryCode, Expiry, Gtin, Lot, Serial, Uscc};

fn key() -> SigningKey {
    SigningKey::from_bytes(&[42u8; 32])
}

/// A GTIN-14 with its check digit computed independently of `Gtin::parse`.
fn gtin() -> impl Strategy<Value = Gtin> {
    prop::collection::vec(0u8..10, 13).prop_map(|body| {
        let sum: u32 = body
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &d)| u32::from(d) * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        let check = (10 - sum % 10) % 10;
        let s: String = body
            .iter()
            .map(|d| char::from(b'0' + d))
            .collect::<String>()
            + &check.to_string();
        Gtin::parse(&s).unwrap()
    })
}

fn expiry() -> impl Strategy<Value = Option<Expiry>> {
    prop::option::of(
        (0u8..100, 1u8..=12, 0u8..=31).prop_filter_map("no such day", |(y, m, d)| {
            Expiry::parse_yymmdd(&format!("{y:02}{m:02}{d:02}")).ok()
        }),
    )
}

fn item() -> impl Strategy<Value = ItemId> {
    (
        gtin(),
        "[A-Za-z0-9._-]{1,20}",
        "[A-Za-z0-9._-]{1,20}",
        expiry(),
    )
        .prop_map(|(gtin, lot, serial, expiry)| ItemId {
            gtin,
            lot: Lot::parse(&lot).unwrap(),
            serial: Serial::parse(&serial).unwrap(),
            expiry,
        })
}

fn host() -> impl Strategy<Value = Host> {
    let label = "[a-z0-9]([a-z0-9-]{0,12}[a-z0-9])?";
    let name = prop_oneof![
        prop::collection::vec(label, 2..5).prop_map(|labels| labels.join(".")),
        Just("localhost".to_owned()),
    ];
    (name, prop::option::of(1u16..=u16::MAX)).prop_map(|(name, port)| {
        let host = match port {
            Some(port) => format!("{name}:{port}"),
            None => name,
        };
        Host::parse(&host).unwrap()
    })
}

fn signed_code() -> impl Strategy<Value = Code> {
    (host(), item()).prop_map(|(host, item)| {
        let key = key();
        Code::sign(&host, &item, KeyId::of(&key.verifying_key()), &key)
    })
}

/// Parses and verifies; true only for a genuine code.
fn accepted(uri: &str) -> bool {
    Code::parse(uri).is_ok_and(|code| code.verify(&key().verifying_key()).is_ok())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_strings(s in any::<String>()) {
        let _ = Code::parse(&s);
        let _ = Gtin::parse(&s);
        let _ = Lot::parse(&s);
        let _ = Serial::parse(&s);
        let _ = Expiry::parse_iso(&s);
        let _ = Expiry::parse_yymmdd(&s);
        let _ = Uscc::parse(&s);
        let _ = CountryCode::parse(&s);
        let _ = Host::parse(&s);
        let _ = KeyId::parse(&s);
    }

    #[test]
    fn parse_never_panics_on_code_shaped_strings(
        s in "https://[a-z.:0-9A-Z@-]{0,12}(/[0-9A-Za-z._%-]{0,16}){0,8}(\\?([0-9a-z]{1,3}=[A-Za-z0-9_=-]{0,90}&?){0,5})?#?"
    ) {
        let _ = Code::parse(&s);
    }

    #[test]
    fn sign_parse_verify_round_trips(host in host(), item in item()) {
        let key = key();
        let code = Code::sign(&host, &item, KeyId::of(&key.verifying_key()), &key);
        prop_assert!(code.as_str().len() <= 512);
        let parsed = Code::parse(code.as_str()).unwrap();
        prop_assert_eq!(parsed.item(), &item);
        prop_assert_eq!(parsed.host(), &host);
        prop_assert_eq!(&parsed, &code);
        prop_assert!(parsed.verify(&key.verifying_key()).is_ok());
        prop_assert_eq!(code.as_str(), code.to_string());
    }

    #[test]
    fn any_single_byte_substitution_is_rejected(
        code in signed_code(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = code.as_str().as_bytes().to_vec();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        // A change that breaks UTF-8 cannot even be presented as a code.
        if let Ok(mutated) = String::from_utf8(bytes) {
            prop_assert!(!accepted(&mutated), "accepted {}", mutated);
        }
    }

    #[test]
    fn any_single_byte_insertion_or_deletion_is_rejected(
        code in signed_code(),
        pos in any::<prop::sample::Index>(),
        byte in 0x20u8..0x7f,
        insert in any::<bool>(),
    ) {
        let mut bytes = code.as_str().as_bytes().to_vec();
        if insert {
            bytes.insert(pos.index(bytes.len() + 1), byte);
        } else {
            bytes.remove(pos.index(bytes.len()));
        }
        let mutated = String::from_utf8(bytes).unwrap();
        prop_assert!(!accepted(&mutated), "accepted {}", mutated);
    }

    #[test]
    fn mutated_codes_never_panic(code in signed_code(), edits in prop::collection::vec((any::<prop::sample::Index>(), any::<char>()), 1..8)) {
        let mut chars: Vec<char> = code.as_str().chars().collect();
        for (pos, ch) in edits {
            let i = pos.index(chars.len());
            chars[i] = ch;
        }
        let mutated: String = chars.into_iter().collect();
        if let Ok(parsed) = Code::parse(&mutated) {
            let _ = parsed.verify(&key().verifying_key());
        }
    }
}
