//! Checks every vector in `fixtures/code-vectors.json` (see `docs/code-format.md`).

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::pkcs8::DecodePrivateKey as _;
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};

use traceseal::code::{Code, Host, ItemId, KeyId, CODE_DOMAIN};
use traceseal::gs1::{Gtin, Lot, Serial};

use generator::Vectors;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load() -> Vectors {
    let text = std::fs::read_to_string(root().join("fixtures/code-vectors.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn issuer(v: &Vectors) -> SigningKey {
    let seed: [u8; 32] = Sha256::digest(v.issuer_seed_text.as_bytes()).into();
    assert_eq!(hex(&seed), v.issuer_seed_hex);
    SigningKey::from_bytes(&seed)
}

#[test]
fn issuer_key_material_is_consistent() {
    let v = load();
    let key = issuer(&v);
    let public = key.verifying_key();
    assert_eq!(v.domain.as_bytes(), CODE_DOMAIN);
    assert_eq!(hex(public.as_bytes()), v.issuer_public_key_hex);
    assert_eq!(
        STANDARD.encode(public.as_bytes()),
        v.issuer_public_key_base64
    );
    let kid_bytes = Sha256::digest(public.as_bytes());
    assert_eq!(hex(&kid_bytes[..4]), v.kid);
    assert_eq!(KeyId::of(&public).to_string(), v.kid);
    assert_eq!(KeyId::parse(&v.kid).unwrap(), KeyId::of(&public));

    let pem = std::fs::read_to_string(root().join("keys/test-vector-issuer.pem")).unwrap();
    let from_pem = SigningKey::from_pkcs8_pem(&pem).unwrap();
    assert_eq!(from_pem.to_bytes(), key.to_bytes());
}

#[test]
fn valid_vectors_parse_verify_and_reproduce() {
    let v = load();
    let key = issuer(&v);
    let public: VerifyingKey = key.verifying_key();
    let kid = KeyId::parse(&v.kid).unwrap();
    assert!(v.valid.len() >= 5);
    for case in &v.valid {
        let code = Code::parse(&case.uri).unwrap_or_else(|e| panic!("{}: {e}", case.uri));
        code.verify(&public)
            .unwrap_or_else(|e| panic!("{}: {e}", case.uri));
        assert_eq!(code.as_str(), case.uri);
        assert_eq!(code.kid(), kid);
        assert_eq!(code.host().as_str(), case.host);

        let item = ItemId {
            gtin: Gtin::parse(&case.gtin).unwrap(),
            lot: Lot::parse(&case.lot).unwrap(),
            serial: Serial::parse(&case.serial).unwrap(),
            expiry: case.expiry,
        };
        assert_eq!(code.item(), &item, "{}", case.uri);
        let host = Host::parse(&case.host).unwrap();
        let signed = Code::sign(&host, &item, kid, &key);
        assert_eq!(
            signed.as_str(),
            case.uri,
            "Code::sign must reproduce the vector exactly"
        );
        assert_eq!(signed, code);

        let (prefix, _) = case.uri.rsplit_once("&s=").unwrap();
        let mut expected_msg = CODE_DOMAIN.to_vec();
        expected_msg.extend_from_slice(prefix.as_bytes());
        assert_eq!(code.signed_message(), expected_msg);
    }
    // The vectors cover: no expiry, a port, a 20-character serial, DD = 00, a GTIN-8/12/13/14.
    assert!(v.valid.iter().any(|c| c.expiry.is_none()));
    assert!(v.valid.iter().any(|c| c.host.contains(':')));
    assert!(v.valid.iter().any(|c| c.serial.len() == 20));
    assert!(v
        .valid
        .iter()
        .any(|c| c.expiry.is_some_and(|e| e.day() == 0)));
}

#[test]
fn invalid_vectors_fail_with_the_stated_kind() {
    let v = load();
    let public = issuer(&v).verifying_key();
    assert!(v.invalid.len() >= 15);
    for case in &v.invalid {
        let kind = match Code::parse(&case.uri) {
            Err(e) => {
                assert!(!e.to_string().is_empty());
                e.kind()
            }
            Ok(code) => code.verify(&public).expect_err(&case.note).kind(),
        };
        assert_eq!(kind, case.error, "{}: {}", case.note, case.uri);
    }
}

/// The generator, compiled into this test so the committed files can be compared with its
/// output; its fixture types are the ones this test reads the file with.
#[allow(dead_code)]
#[path = "../examples/gen_code_vectors.rs"]
mod generator;

#[test]
fn fixture_files_match_the_generator() {
    let (json, pem) = generator::build().unwrap();
    let on_disk = |rel: &str| std::fs::read_to_string(root().join(rel)).unwrap();
    assert!(
        on_disk("fixtures/code-vectors.json") == json,
        "fixtures/code-vectors.json is stale: run `cargo run --example gen_code_vectors`"
    );
    assert!(
        on_disk("keys/test-vector-issuer.pem") == pem,
        "keys/test-vector-issuer.pem is stale: run `cargo run --example gen_code_vectors`"
    );
}

#[test]
fn vectors_are_distinct() {
    let v = load();
    let mut uris: Vec<&str> = v.invalid.iter().map(|c| c.uri.as_str()).collect();
    uris.extend(v.valid.iter().map(|c| c.uri.as_str()));
    let n = uris.len();
    uris.sort_unstable();
    uris.dedup();
    assert_eq!(uris.len(), n, "duplicate vector");
}
