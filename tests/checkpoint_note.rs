//! Signed checkpoints as C2SP signed notes: round trips, tampering, wrong keys, the Go
//! `golang.org/x/mod/sumdb/note` known answers, and "never panics" properties.

use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use traceseal::checkpoint::{
    note_key_id, open_checkpoint, Checkpoint, NoteError, NoteSigner, NoteVerifier, MAX_NOTE_LEN,
    MAX_SIGNATURES,
};
use traceseal::merkle::{leaf_hash, Hash};

// Known answers from golang.org/x/mod/sumdb/note/note_test.go.
const PETER_SEED: &str = "AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"; // base64(0x01 ‖ seed)
const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY: &str = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const PETER_SIG: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG: &str = "\u{2014} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

// Known answer from the C2SP signed-note specification (c2sp.org/signed-note, "Example").
const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
const SPEC_NOTE: &str = "This is an example message.\n\n\u{2014} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";

fn go_note() -> String {
    format!("{GO_TEXT}\n{PETER_SIG}")
}

fn peter_signer() -> NoteSigner {
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(PETER_SEED)
        .unwrap();
    assert_eq!(raw[0], 0x01);
    let seed: [u8; 32] = raw[1..].try_into().unwrap();
    NoteSigner::new("PeterNeumann", SigningKey::from_bytes(&seed)).unwrap()
}

fn log_signer(seed: u8) -> NoteSigner {
    NoteSigner::new("example.com/traceseal", SigningKey::from_bytes(&[seed; 32])).unwrap()
}

fn checkpoint() -> Checkpoint {
    Checkpoint {
        origin: "example.com/traceseal".into(),
        size: 1234,
        root: leaf_hash(b"root"),
    }
}

#[test]
fn go_signed_note_verifies_with_our_verifier() {
    let v = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    assert_eq!(v.name(), "PeterNeumann");
    assert_eq!(v.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
    assert_eq!(v.vkey(), PETER_VKEY);
    assert_eq!(v.verify(&go_note()).as_deref(), Ok(GO_TEXT));
}

#[test]
fn we_sign_byte_identically_to_go() {
    let s = peter_signer();
    assert_eq!(s.key_id(), [0xc7, 0x4f, 0x20, 0xa3]);
    assert_eq!(s.vkey(), PETER_VKEY);
    assert_eq!(s.sign(GO_TEXT).unwrap(), go_note());
}

#[test]
fn c2sp_spec_example_verifies() {
    let v = NoteVerifier::from_vkey(SPEC_VKEY).unwrap();
    assert_eq!(
        v.verify(SPEC_NOTE).as_deref(),
        Ok("This is an example message.\n")
    );
    assert_eq!(v.vkey(), SPEC_VKEY);
}

#[test]
fn doubly_signed_go_note_verifies_with_each_key() {
    let note = format!("{GO_TEXT}\n{PETER_SIG}{ENOCH_SIG}");
    let peter = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    let enoch = NoteVerifier::from_vkey(ENOCH_VKEY).unwrap();
    assert_eq!(peter.verify(&note).as_deref(), Ok(GO_TEXT));
    assert_eq!(enoch.verify(&note).as_deref(), Ok(GO_TEXT));
    // Repeated signatures, as in Go's TestOpen: only the first by a key counts.
    let repeated = format!("{GO_TEXT}\n{PETER_SIG}{PETER_SIG}{ENOCH_SIG}{ENOCH_SIG}");
    assert_eq!(peter.verify(&repeated).as_deref(), Ok(GO_TEXT));
    // Only Enoch signed: Peter's verifier finds no signature.
    let only_enoch = format!("{GO_TEXT}\n{ENOCH_SIG}");
    assert!(matches!(
        peter.verify(&only_enoch),
        Err(NoteError::NoSignatureByKey { .. })
    ));
}

#[test]
fn go_invalid_and_malformed_notes_are_rejected() {
    let v = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    let corrupted = format!("{GO_TEXT}\n{}ABCD{}", &PETER_SIG[..60], &PETER_SIG[60..]);
    assert!(matches!(
        v.verify(&corrupted),
        Err(NoteError::InvalidSignature { .. })
    ));
    let bad_msgs = [
        GO_TEXT.to_owned(),
        format!("{GO_TEXT}\n"),
        format!("{GO_TEXT}\n{}", &PETER_SIG[..PETER_SIG.len() - 1]),
        format!("\u{1}{GO_TEXT}\n{PETER_SIG}"),
        format!("{GO_TEXT}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="),
        format!("{GO_TEXT}\n{PETER_SIG}Unexpected line.\n"),
    ];
    for msg in &bad_msgs {
        assert!(v.verify(msg).is_err(), "{msg:?}");
    }
    let too_many = format!("{GO_TEXT}\n{}", PETER_SIG.repeat(MAX_SIGNATURES + 1));
    assert_eq!(
        v.verify(&too_many),
        Err(NoteError::TooManySignatures {
            max: MAX_SIGNATURES
        })
    );
    let misnamed = go_note().replace("PeterNeumann", "CarmenSandiego");
    assert!(matches!(
        v.verify(&misnamed),
        Err(NoteError::NoSignatureByKey { .. })
    ));
}

#[test]
fn go_verifier_key_manglings_are_rejected() {
    assert!(NoteVerifier::from_vkey(PETER_VKEY).is_ok());
    let b = PETER_VKEY.as_bytes();
    for i in 0..=b.len() {
        for j in i + 1..=b.len() {
            if i != 0 || j != b.len() {
                let k = std::str::from_utf8(&b[i..j]).unwrap();
                assert!(NoteVerifier::from_vkey(k).is_err(), "{k:?}");
            }
        }
    }
    let mut m = b.to_vec();
    for i in 0..m.len() {
        m[i] += 1;
        let k = std::str::from_utf8(&m).unwrap();
        assert!(NoteVerifier::from_vkey(k).is_err(), "{k:?}");
        m[i] -= 1;
    }
    // Wrong key length and unknown algorithm, each with a key id adjusted to match.
    assert!(matches!(
        NoteVerifier::from_vkey(
            "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
        ),
        Err(NoteError::MalformedVerifierKey { .. })
    ));
    assert_eq!(
        NoteVerifier::from_vkey(
            "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        ),
        Err(NoteError::UnsupportedAlgorithm { alg: 0x65 })
    );
}

#[test]
fn key_id_and_vkey_format() {
    let s = log_signer(3);
    let pk = s.verifier();
    let id = note_key_id("example.com/traceseal", &pk_bytes(&s));
    assert_eq!(s.key_id(), id);
    assert_eq!(pk.key_id(), id);
    let vkey = s.vkey();
    let parts: Vec<&str> = vkey.splitn(3, '+').collect();
    assert_eq!(parts[0], "example.com/traceseal");
    assert_eq!(parts[1], format!("{:08x}", u32::from_be_bytes(id)));
    assert_eq!(parts[2].len(), 44);
    assert!(parts[2].starts_with('A')); // 0x01 algorithm byte
}

fn pk_bytes(s: &NoteSigner) -> [u8; 32] {
    use base64::Engine as _;
    let vkey = s.vkey();
    let b64 = vkey.rsplit('+').next().unwrap();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    raw[1..].try_into().unwrap()
}

#[test]
fn checkpoint_round_trip() {
    let s = log_signer(1);
    let note = s.sign(&checkpoint().body()).unwrap();
    let expected_body = format!(
        "example.com/traceseal\n1234\n{}\n",
        leaf_hash(b"root").to_base64()
    );
    assert!(note.starts_with(&format!("{expected_body}\n\u{2014} example.com/traceseal ")));
    assert!(note.ends_with('\n'));
    assert_eq!(open_checkpoint(&note, &s.verifier()), Ok(checkpoint()));
    let via_vkey = NoteVerifier::from_vkey(&s.vkey()).unwrap();
    assert_eq!(open_checkpoint(&note, &via_vkey), Ok(checkpoint()));
}

#[test]
fn tampered_checkpoints_are_rejected() {
    let s = log_signer(1);
    let v = s.verifier();
    let note = s.sign(&checkpoint().body()).unwrap();
    let root_b64 = checkpoint().root.to_base64();
    let other_root = Hash([9; 32]).to_base64();
    let tampered = [
        note.replace("1234", "1235"),
        note.replace("example.com/traceseal\n", "example.com/evil\n"),
        note.replace(&root_b64, &other_root),
        note.replacen('\n', "\nextension\n", 3),
    ];
    for t in &tampered {
        assert_ne!(t, &note);
        assert!(
            matches!(
                open_checkpoint(t, &v),
                Err(NoteError::InvalidSignature { .. })
            ),
            "{t:?}"
        );
    }
    // Every single-character change anywhere in the note is caught.
    for (i, c) in note.char_indices() {
        let r = if c == 'x' { 'y' } else { 'x' };
        let t = format!("{}{r}{}", &note[..i], &note[i + c.len_utf8()..]);
        assert!(open_checkpoint(&t, &v).is_err(), "byte {i}: {t:?}");
    }
    // A signature by another key under the same name is not ours.
    let forged = log_signer(2).sign(&checkpoint().body()).unwrap();
    assert!(matches!(
        open_checkpoint(&forged, &v),
        Err(NoteError::NoSignatureByKey { .. })
    ));
}

#[test]
fn wrong_key_is_rejected_even_with_our_key_id() {
    let s = log_signer(1);
    let v = s.verifier();
    let good = s.sign(&checkpoint().body()).unwrap();
    // Same name and key id, signature bytes from another key.
    let other = log_signer(2).sign(&checkpoint().body()).unwrap();
    let sig_of = |n: &str| n.rsplit(' ').next().unwrap().trim_end().to_owned();
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut blob = engine.decode(sig_of(&good)).unwrap();
    blob[4..].copy_from_slice(&engine.decode(sig_of(&other)).unwrap()[4..]);
    let spliced = good.replace(&sig_of(&good), &engine.encode(&blob));
    assert!(matches!(
        v.verify(&spliced),
        Err(NoteError::InvalidSignature { .. })
    ));
    // And a verifier for another key does not accept our note.
    assert!(log_signer(2).verifier().verify(&good).is_err());
}

#[test]
fn unknown_signatures_are_ignored_but_must_be_well_formed() {
    let s = log_signer(1);
    let note = s.sign(&checkpoint().body()).unwrap();
    let witness = NoteSigner::new("witness.example", SigningKey::from_bytes(&[5; 32])).unwrap();
    let cosigned = format!(
        "{note}{}",
        witness
            .sign(&checkpoint().body())
            .unwrap()
            .rsplit_once("\n\n")
            .unwrap()
            .1
    );
    assert_eq!(open_checkpoint(&cosigned, &s.verifier()), Ok(checkpoint()));
    assert_eq!(
        open_checkpoint(&cosigned, &witness.verifier()),
        Ok(checkpoint())
    );
    let junk = format!("{note}\u{2014} other.example !!!\n");
    assert!(matches!(
        open_checkpoint(&junk, &s.verifier()),
        Err(NoteError::MalformedSignatureLine { line: 2, .. })
    ));
}

#[test]
fn size_limits() {
    let v = log_signer(1).verifier();
    let huge = "a".repeat(MAX_NOTE_LEN + 1);
    assert_eq!(
        v.verify(&huge),
        Err(NoteError::NoteTooLarge {
            len: MAX_NOTE_LEN + 1,
            max: MAX_NOTE_LEN
        })
    );
    assert!(matches!(
        Checkpoint::parse_body(&huge),
        Err(NoteError::NoteTooLarge { .. })
    ));
}

#[test]
fn note_structure_errors_are_precise() {
    let v = log_signer(1).verifier();
    assert_eq!(v.verify("body\n"), Err(NoteError::MissingSignatureBlock));
    assert_eq!(
        v.verify("body\n\n"),
        Err(NoteError::UnterminatedSignatureBlock)
    );
    assert_eq!(
        v.verify("body\n\n\u{2014} a b"),
        Err(NoteError::UnterminatedSignatureBlock)
    );
    assert_eq!(
        v.verify("body\t\n\n"),
        Err(NoteError::ControlCharacter { offset: 4 })
    );
    assert!(matches!(
        v.verify("body\n\n- name AAAAAAAA\n"),
        Err(NoteError::MalformedSignatureLine { line: 1, .. })
    ));
    assert!(matches!(
        v.verify("body\n\n\u{2014} name AAAA\n"),
        Err(NoteError::MalformedSignatureLine { line: 1, .. })
    ));
}

#[test]
fn errors_have_useful_messages() {
    let v = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
    let err = v.verify(&format!("{GO_TEXT}\n{ENOCH_SIG}")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "note has no signature by key PeterNeumann+c74f20a3"
    );
    let err = NoteVerifier::from_vkey(
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "verifier key id c74f20a4 does not match its name and key (computed c74f20a3)"
    );
}

fn note_fragments() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\n".to_owned()),
        Just("\n\n".to_owned()),
        Just("\u{2014} ".to_owned()),
        Just(" ".to_owned()),
        Just("PeterNeumann".to_owned()),
        Just("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=".to_owned()),
        "[A-Za-z0-9+/=]{0,12}",
        "[0-9]{0,25}",
        any::<String>(),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in any::<String>(), f in note_fragments()) {
        let v = NoteVerifier::from_vkey(PETER_VKEY).unwrap();
        for text in [&s, &f] {
            let _ = v.verify(text);
            let _ = Checkpoint::parse_body(text);
            let _ = open_checkpoint(text, &v);
            let _ = NoteVerifier::from_vkey(text);
        }
        // Fragments that happen to be a valid note can only carry the Go text.
        if let Ok(body) = v.verify(&f) {
            prop_assert_eq!(body, GO_TEXT);
        }
    }

    #[test]
    fn round_trip_for_any_checkpoint(
        origin in "[!-~]{1,64}",
        size in any::<u64>(),
        root in any::<[u8; 32]>(),
        seed in any::<[u8; 32]>(),
    ) {
        let c = Checkpoint { origin, size, root: Hash(root) };
        prop_assert_eq!(Checkpoint::parse_body(&c.body()), Ok(c.clone()));
        let s = NoteSigner::new("log.example", SigningKey::from_bytes(&seed)).unwrap();
        let note = s.sign(&c.body()).unwrap();
        prop_assert_eq!(open_checkpoint(&note, &s.verifier()), Ok(c));
    }
}
