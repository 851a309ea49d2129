//! Writes the signed item code test vectors: `fixtures/code-vectors.json` and the issuer key
//! `keys/test-vector-issuer.pem`.
//!
//! Ed25519 signatures are deterministic, so the output is the same on every run:
//!
//! ```text
//! cargo run --example gen_code_vectors            # (re)write the files
//! cargo run --example gen_code_vectors -- --check # fail if the committed files are stale
//! ```

use std::path::Path;
use std::process::ExitCode;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey as _, KeypairBytes};
use ed25519_dalek::{Signature, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use traceseal::code::{Code, Host, ItemId, KeyId};
use traceseal::gs1::{Expiry, Gtin, Lot, Serial};

/// The text whose SHA-256 is the vector issuer's Ed25519 seed.
const SEED_TEXT: &str = "traceseal code test vector key v1";

/// The text whose SHA-256 is the seed of a second key (the "other issuer" in the vectors).
const OTHER_SEED_TEXT: &str = "traceseal code test vector other key v1";

/// The fixture file's shape; `tests/code_vectors.rs` reads it back with these same types.
#[derive(Serialize, Deserialize)]
pub struct Vectors {
    pub description: String,
    pub domain: String,
    pub issuer_seed_text: String,
    pub issuer_seed_hex: String,
    pub issuer_public_key_hex: String,
    pub issuer_public_key_base64: String,
    pub kid: String,
    pub valid: Vec<Valid>,
    pub invalid: Vec<Invalid>,
}

/// A code that must parse and verify, with the item it encodes.
#[derive(Serialize, Deserialize)]
pub struct Valid {
    pub gtin: String,
    pub lot: String,
    pub serial: String,
    pub expiry: Option<Expiry>,
    pub host: String,
    pub uri: String,
}

/// A code that must be rejected, with the machine-readable reason.
#[derive(Serialize, Deserialize)]
pub struct Invalid {
    pub uri: String,
    pub error: String,
    pub note: String,
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn serial_bytes(n: u32) -> Serial {
    let digest = sha256(&format!("traceseal code test vector serial {n}"));
    let mut bytes = [0u8; 12];
    bytes.copy_from_slice(&digest[..12]);
    Serial::from_random_bytes(&bytes)
}

struct Spec {
    gtin: &'static str,
    lot: &'static str,
    serial: Serial,
    expiry: Option<&'static str>,
    host: &'static str,
}

fn sign(spec: &Spec, key: &SigningKey) -> Result<Code, Box<dyn std::error::Error>> {
    let item = ItemId {
        gtin: Gtin::parse(spec.gtin)?,
        lot: Lot::parse(spec.lot)?,
        serial: spec.serial.clone(),
        expiry: spec.expiry.map(Expiry::parse_yymmdd).transpose()?,
    };
    let kid = KeyId::of(&key.verifying_key());
    Ok(Code::sign(&Host::parse(spec.host)?, &item, kid, key))
}

/// `uri` with the first occurrence of `from` replaced by `to` (which must occur).
fn replace(uri: &str, from: &str, to: &str) -> String {
    assert!(uri.contains(from), "{from:?} not in {uri}");
    uri.replacen(from, to, 1)
}

/// The signature value of a code.
fn sig_of(uri: &str) -> &str {
    uri.rsplit_once("&s=").expect("code has &s=").1
}

/// The signature with `S` replaced by `S + L` (same signature mod L, non-canonical encoding).
fn add_group_order(sig_b64: &str) -> String {
    // L = 2^252 + 27742317777372353535851937790883648493, little-endian.
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut sig = [0u8; 64];
    URL_SAFE_NO_PAD
        .decode_slice(sig_b64, &mut sig)
        .expect("valid signature");
    let mut carry = 0u16;
    for (s, l) in sig[32..].iter_mut().zip(L) {
        let sum = u16::from(*s) + u16::from(l) + carry;
        *s = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    URL_SAFE_NO_PAD.encode(Signature::from_bytes(&sig).to_bytes())
}

/// The fixture JSON and the issuer key PEM, exactly as they should be on disk.
pub fn build() -> Result<(String, String), Box<dyn std::error::Error>> {
    let key = SigningKey::from_bytes(&sha256(SEED_TEXT));
    let other = SigningKey::from_bytes(&sha256(OTHER_SEED_TEXT));
    let public = key.verifying_key();
    let kid = KeyId::of(&public).to_string();
    let other_kid = KeyId::of(&other.verifying_key()).to_string();

    let specs = [
        Spec {
            gtin: "6901234567892",
            lot: "L2025-001",
            serial: serial_bytes(1),
            expiry: Some("261231"),
            host: "trace.example.cn",
        },
        Spec {
            gtin: "4006381333931",
            lot: "B.7",
            serial: serial_bytes(2),
            expiry: None,
            host: "codes.traceseal.example",
        },
        Spec {
            gtin: "10614141000415",
            lot: "NB-2025_03",
            serial: serial_bytes(3),
            expiry: Some("250228"),
            host: "localhost:8443",
        },
        Spec {
            gtin: "036000291452",
            lot: "LOT-20-CHARS.x_y-z00",
            serial: Serial::parse("A1b2C3d4E5.f6_G7-h8I")?,
            expiry: Some("300615"),
            host: "scan.example.com:9443",
        },
        Spec {
            gtin: "96385074",
            lot: "1",
            serial: Serial::parse("0")?,
            expiry: Some("270200"),
            host: "xn--fiqs8s.example",
        },
        Spec {
            gtin: "06920000000012",
            lot: "2025.10.08",
            serial: serial_bytes(6),
            expiry: Some("280229"),
            host: "t.example.cn",
        },
    ];
    let codes: Vec<Code> = specs
        .iter()
        .map(|s| sign(s, &key))
        .collect::<Result<_, _>>()?;
    let valid = codes
        .iter()
        .map(|c| Valid {
            gtin: c.item().gtin.to_string(),
            lot: c.item().lot.to_string(),
            serial: c.item().serial.to_string(),
            expiry: c.item().expiry,
            host: c.host().to_string(),
            uri: c.to_string(),
        })
        .collect();

    let v1 = codes[0].as_str();
    let v2 = codes[1].as_str();
    let sig1 = sig_of(v1);
    let serial1 = codes[0].item().serial.as_str();
    let mut tampered_serial = serial1.to_owned();
    let last = if serial1.ends_with('A') { "B" } else { "A" };
    tampered_serial.replace_range(serial1.len() - 1.., last);
    let flipped_sig = {
        let mut s = sig1.to_owned();
        let c = if &sig1[40..41] == "A" { "B" } else { "A" };
        s.replace_range(40..41, c);
        s
    };
    let noncanonical_tail = {
        // The last character carries 2 signature bits and 4 zero bits; set one of those.
        let mut bytes = sig1.as_bytes().to_vec();
        let last = bytes[85];
        let pos = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
            .iter()
            .position(|&c| c == last)
            .expect("base64url char");
        bytes[85] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[pos | 1];
        String::from_utf8(bytes)?
    };
    let forged_by_other = sign(&specs[0], &other)?;
    let other_with_issuer_kid = replace(forged_by_other.as_str(), &other_kid, &kid);
    let long_tail = format!("{}&utm_source={}", v1, "x".repeat(600 - v1.len()));

    let inv = |uri: String, error: &str, note: &str| Invalid {
        uri,
        error: error.to_string(),
        note: note.to_string(),
    };
    let invalid = vec![
        inv(
            replace(v1, sig1, &flipped_sig),
            "bad_signature",
            "one signature character changed",
        ),
        inv(
            replace(v1, sig1, &add_group_order(sig1)),
            "bad_signature",
            "signature with S + L (non-canonical scalar); strict verification rejects it",
        ),
        inv(
            replace(v1, "06901234567892", "06920000000012"),
            "bad_signature",
            "GTIN replaced by another valid GTIN",
        ),
        inv(
            replace(v1, "/10/L2025-001/", "/10/L2025-002/"),
            "bad_signature",
            "lot changed",
        ),
        inv(
            replace(v1, serial1, &tampered_serial),
            "bad_signature",
            "serial changed",
        ),
        inv(
            replace(v1, "17=261231", "17=271231"),
            "bad_signature",
            "expiry changed",
        ),
        inv(
            replace(v1, "17=261231&", ""),
            "bad_signature",
            "expiry removed",
        ),
        inv(
            replace(v2, "?k=", "?17=991231&k="),
            "bad_signature",
            "expiry added",
        ),
        inv(
            replace(v1, "trace.example.cn", "trace-example.cn"),
            "bad_signature",
            "host changed to a look-alike domain",
        ),
        inv(
            replace(v1, "trace.example.cn", "trace.example.cn:443"),
            "bad_signature",
            "port added to the host",
        ),
        inv(
            other_with_issuer_kid,
            "bad_signature",
            "signed by another key but claiming the issuer's key id",
        ),
        inv(
            forged_by_other.to_string(),
            "key_mismatch",
            "validly signed by another key (its own key id); verify with the issuer key",
        ),
        inv(
            replace(v1, &format!("k={kid}"), &format!("k={other_kid}")),
            "key_mismatch",
            "key id replaced by another key's id",
        ),
        inv(
            replace(v1, "06901234567892", "06901234567893"),
            "gtin_check_digit",
            "GTIN check digit wrong",
        ),
        inv(
            replace(v1, "/01/06901234567892/", "/01/6901234567892/"),
            "gtin_not_14",
            "GTIN-13 in the path instead of its 14-digit form",
        ),
        inv(
            replace(v1, "/01/06901234567892/", "/01/069012345678A2/"),
            "gtin_char",
            "letter in the GTIN",
        ),
        inv(
            replace(
                v1,
                &format!("k={kid}"),
                &format!("k={}", kid.to_uppercase()),
            ),
            "key_id_uppercase",
            "key id in upper-case hex",
        ),
        inv(
            replace(v1, &format!("k={kid}"), &format!("k={}g", &kid[..7])),
            "key_id_char",
            "key id with a non-hex character",
        ),
        inv(
            replace(v1, &format!("k={kid}"), &format!("k={}", &kid[..6])),
            "key_id_length",
            "key id of 6 characters",
        ),
        inv(
            format!("{v1}=="),
            "signature_padding",
            "signature with base64 padding",
        ),
        inv(
            replace(v1, sig1, &sig1[..85]),
            "signature_length",
            "signature truncated",
        ),
        inv(
            replace(v1, sig1, &noncanonical_tail),
            "signature_encoding",
            "signature's last character has non-zero unused bits",
        ),
        inv(
            replace(v1, sig1, &format!("+{}", &sig1[1..])),
            "signature_char",
            "standard base64 '+' instead of base64url",
        ),
        inv(
            replace(v1, "&s=", "&x=1&s="),
            "unknown_param",
            "extra query parameter",
        ),
        inv(
            format!("{v1}&utm_source=wechat"),
            "unknown_param",
            "parameter after the signature",
        ),
        inv(
            replace(v1, "17=261231&", "").replace(&format!("k={kid}&"), "")
                + &format!("&k={kid}&17=261231"),
            "param_order",
            "parameters in the order s, k, 17",
        ),
        inv(
            replace(
                v1,
                &format!("17=261231&k={kid}"),
                &format!("k={kid}&17=261231"),
            ),
            "param_order",
            "expiry after the key id",
        ),
        inv(
            replace(v1, &format!("k={kid}&"), &format!("k={kid}&k={kid}&")),
            "duplicate_param",
            "key id twice",
        ),
        inv(
            replace(v1, "https://", "http://"),
            "scheme",
            "http instead of https",
        ),
        inv(
            replace(v1, "https://", "HTTPS://"),
            "scheme",
            "upper-case scheme",
        ),
        inv(
            replace(v1, "trace.example.cn", "Trace.example.cn"),
            "host_uppercase",
            "upper-case host",
        ),
        inv(
            replace(v1, "trace.example.cn", "user@trace.example.cn"),
            "host_char",
            "userinfo",
        ),
        inv(
            replace(v1, "trace.example.cn", "trace.example.cn:0"),
            "host_port",
            "port 0",
        ),
        inv(
            replace(v1, "/10/L2025-001/", "/10/L2025%2D001/"),
            "percent_encoding",
            "percent-encoded hyphen in the lot",
        ),
        inv(format!("{v1}#top"), "fragment", "fragment after the code"),
        inv(
            replace(v1, serial1, &format!("{serial1}ABCDE")),
            "serial_too_long",
            "serial of 21 characters",
        ),
        inv(
            replace(v1, serial1, &format!("{}~", &serial1[1..])),
            "serial_char",
            "'~' in the serial",
        ),
        inv(
            replace(v1, "/10/L2025-001/", "/10/L2025+001/"),
            "lot_char",
            "'+' in the lot",
        ),
        inv(
            replace(v1, "/10/L2025-001/", "/10//"),
            "lot_empty",
            "empty lot",
        ),
        inv(
            replace(v1, "/21/", "/22/"),
            "path_ai",
            "AI 22 instead of 21",
        ),
        inv(
            replace(v1, "?17=", "/?17="),
            "path_segments",
            "trailing slash in the path",
        ),
        inv(
            replace(v1, "17=261231", "17=260231"),
            "expiry_day",
            "31 February",
        ),
        inv(
            replace(v1, "17=261231", "17=2612"),
            "expiry_format",
            "expiry of 4 digits",
        ),
        inv(
            v1.split_once('?')
                .map(|(p, _)| p.to_owned())
                .unwrap_or_default(),
            "missing_query",
            "no query",
        ),
        inv(
            replace(v1, &format!("&s={sig1}"), ""),
            "missing_param",
            "no signature",
        ),
        inv(long_tail, "too_long", "longer than 512 bytes"),
    ];

    let vectors = Vectors {
        description: "traceseal signed item code test vectors (docs/code-format.md). Generated by \
                      `cargo run --example gen_code_vectors`. The issuer key is a PUBLIC test key."
            .to_string(),
        domain: "traceseal/code/v1\n".to_string(),
        issuer_seed_text: SEED_TEXT.to_string(),
        issuer_seed_hex: hex(&key.to_bytes()),
        issuer_public_key_hex: hex(public.as_bytes()),
        issuer_public_key_base64: STANDARD.encode(public.as_bytes()),
        kid,
        valid,
        invalid,
    };
    let json = serde_json::to_string_pretty(&vectors)? + "\n";
    // PKCS#8 v1 (RFC 5208: no embedded public key), the form `openssl genpkey` writes; OpenSSL
    // 3.0 and Python's `cryptography` reject the v2 form that `SigningKey::to_pkcs8_pem` writes.
    let v1 = KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    };
    let pem = v1.to_pkcs8_pem(LineEnding::LF)?.as_str().to_owned();
    Ok((json, pem))
}

fn main() -> ExitCode {
    let check = std::env::args().any(|a| a == "--check");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (json, pem) = match build() {
        Ok(out) => out,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let files = [
        ("fixtures/code-vectors.json", json),
        ("keys/test-vector-issuer.pem", pem),
    ];
    let mut stale = false;
    for (rel, content) in files {
        let path = root.join(rel);
        if check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(content.as_str()) {
                eprintln!("{rel} is stale: run `cargo run --example gen_code_vectors`");
                stale = true;
            }
        } else if let Err(e) = std::fs::write(&path, content) {
            eprintln!("error: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        } else {
            println!("wrote {rel}");
        }
    }
    if stale {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
