//! Signed log checkpoints: the C2SP `tlog-checkpoint` body in a C2SP `signed-note` (Ed25519).
//!
//! A checkpoint body is three lines, `"{origin}\n{size}\n{base64(root)}\n"`, optionally
//! followed by extension lines. A signed note is the body, a blank line, and one signature
//! line per signer: `"— {name} {base64(key_id ‖ signature)}\n"`, where the dash is U+2014, the
//! signature is Ed25519 over the body bytes (final newline included) and the key id is the
//! first 4 bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public_key)`. A verifier key is written
//! `"{name}+{hex(key_id)}+{base64(0x01 ‖ public_key)}"`.
//!
//! This is the format of `golang.org/x/mod/sumdb/note`, so Go note tools and transparency-log
//! witnesses read our checkpoints and we read theirs. Where that package is lenient we are
//! stricter, never looser: base64 must be canonical, Ed25519 signatures are checked with
//! `verify_strict`, and weak (small-order) public keys are refused.
//!
//! Pure code: no I/O, no clock, no randomness (Ed25519 signing is deterministic).

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::merkle::{Hash, HashDecodeError};

/// The largest note (body and signatures) accepted or produced, in bytes: 1 MiB.
pub const MAX_NOTE_LEN: usize = 1 << 20;

/// The most signature lines a note may carry (as in Go's `sumdb/note`).
pub const MAX_SIGNATURES: usize = 100;

/// The signed-note algorithm byte for Ed25519.
const ALG_ED25519: u8 = 0x01;

/// Every signature line starts with an em dash (U+2014) and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// Longest excerpt of bad input repeated in an error message.
const EXCERPT_LEN: usize = 40;

/// Why a key, a note or a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key name is empty or contains whitespace, `+` or an ASCII control character.
    #[error("invalid key name {name:?}: must be non-empty, with no whitespace, '+' or control characters")]
    InvalidKeyName {
        /// The refused name (shortened if long).
        name: String,
    },
    /// A verifier key string is not `NAME+HEX8+BASE64`.
    #[error("malformed verifier key: {reason}")]
    MalformedVerifierKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key id written in a verifier key is not the one its name and key give.
    #[error("verifier key id {} does not match its name and key (computed {})", hex4(.stated), hex4(.computed))]
    KeyIdMismatch {
        /// The key id in the string.
        stated: [u8; 4],
        /// The key id computed from the name and the key.
        computed: [u8; 4],
    },
    /// The verifier key is for an algorithm other than Ed25519 (`0x01`).
    #[error("unsupported signature algorithm 0x{alg:02x}, only Ed25519 (0x01) is supported")]
    UnsupportedAlgorithm {
        /// The algorithm byte found.
        alg: u8,
    },
    /// The public key is not a usable Ed25519 key (not a curve point, or of small order).
    #[error("invalid Ed25519 public key")]
    InvalidPublicKey,
    /// The note (or the note that signing would produce) exceeds [`MAX_NOTE_LEN`].
    #[error("note is {len} bytes, more than the {max}-byte limit")]
    NoteTooLarge {
        /// Its length in bytes.
        len: usize,
        /// The limit, [`MAX_NOTE_LEN`].
        max: usize,
    },
    /// The text contains an ASCII control character other than newline.
    #[error("control character at byte {offset}; only newline is allowed")]
    ControlCharacter {
        /// Byte offset of the first one.
        offset: usize,
    },
    /// A body to sign or parse is empty or does not end in a newline.
    #[error("note body must end with a newline")]
    BodyNotNewlineTerminated,
    /// There is no blank line separating the body from the signatures.
    #[error("note has no blank line before its signatures")]
    MissingSignatureBlock,
    /// The signature block is empty or does not end in a newline.
    #[error("note signature block is empty or does not end with a newline")]
    UnterminatedSignatureBlock,
    /// A signature line is malformed.
    #[error("signature line {line} is malformed: {reason}")]
    MalformedSignatureLine {
        /// 1-based line number within the signature block.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The note has more than [`MAX_SIGNATURES`] signature lines.
    #[error("note has more than {max} signatures")]
    TooManySignatures {
        /// The limit, [`MAX_SIGNATURES`].
        max: usize,
    },
    /// No signature line is by the expected key.
    #[error("note has no signature by key {name}+{}", hex4(.key_id))]
    NoSignatureByKey {
        /// The expected key's name.
        name: String,
        /// The expected key's id.
        key_id: [u8; 4],
    },
    /// The signature by the expected key does not verify.
    #[error("signature by key {name}+{} does not verify", hex4(.key_id))]
    InvalidSignature {
        /// The key's name.
        name: String,
        /// The key's id.
        key_id: [u8; 4],
    },
    /// The checkpoint body has fewer than three lines.
    #[error("checkpoint body has {lines} line(s), want origin, tree size and root hash")]
    CheckpointTooShort {
        /// Lines found.
        lines: usize,
    },
    /// The checkpoint origin line is empty.
    #[error("checkpoint origin line is empty")]
    EmptyOrigin,
    /// The tree size line is not a canonical decimal `u64` (digits only, no leading zeros).
    #[error("checkpoint tree size {text:?} is not a canonical decimal number")]
    InvalidTreeSize {
        /// The line (shortened if long).
        text: String,
    },
    /// The root hash line is not the base64 of 32 bytes.
    #[error("checkpoint root hash is invalid")]
    InvalidRootHash(#[source] HashDecodeError),
    /// An extension line after the root hash is empty.
    #[error("checkpoint extension line {line} is empty")]
    EmptyExtensionLine {
        /// 1-based line number in the body.
        line: usize,
    },
}

/// A tree head: the log's origin, its size and its root hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, conventionally a schema-less URL (`example.com/log`); one line.
    pub origin: String,
    /// The number of leaves.
    pub size: u64,
    /// The RFC 9162 root hash of the first `size` leaves.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: `"{origin}\n{size}\n{base64(root)}\n"`.
    ///
    /// The origin is written as is; one that is empty or spans lines gives a body that
    /// [`Checkpoint::parse_body`] rejects or reads differently.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            self.root.to_base64()
        )
    }

    /// Parses a checkpoint body (three lines and a final newline); extension lines after the
    /// third are accepted and ignored, but must not be empty.
    pub fn parse_body(body: &str) -> Result<Checkpoint, NoteError> {
        check_len(body.len())?;
        check_control(body)?;
        let Some(text) = body.strip_suffix('\n') else {
            return Err(NoteError::BodyNotNewlineTerminated);
        };
        let lines: Vec<&str> = text.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(NoteError::CheckpointTooShort { lines: lines.len() });
        };
        if origin.is_empty() {
            return Err(NoteError::EmptyOrigin);
        }
        let size = parse_tree_size(size)?;
        let root = Hash::from_base64(root).map_err(NoteError::InvalidRootHash)?;
        if let Some(i) = extensions.iter().position(|l| l.is_empty()) {
            return Err(NoteError::EmptyExtensionLine { line: 4 + i });
        }
        Ok(Checkpoint {
            origin: (*origin).to_owned(),
            size,
            root,
        })
    }
}

/// The signed-note key id: the first 4 bytes of `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public_key)`.
pub fn note_key_id(name: &str, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ALG_ED25519]);
    h.update(public_key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Signs note bodies with an Ed25519 key under a key name.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    key: SigningKey,
    key_id: [u8; 4],
}

impl NoteSigner {
    /// A signer for `key` under the key `name` (non-empty, no whitespace, `+` or control
    /// characters).
    pub fn new(name: &str, key: SigningKey) -> Result<Self, NoteError> {
        check_name(name)?;
        let key_id = note_key_id(name, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_owned(),
            key,
            key_id,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id, see [`note_key_id`].
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The verifier key string `"{name}+{hex(key_id)}+{base64(0x01 ‖ public_key)}"`.
    pub fn vkey(&self) -> String {
        vkey_string(&self.name, self.key_id, &self.key.verifying_key())
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
            key_id: self.key_id,
        }
    }

    /// Signs `body` and returns the full signed note text: the body, a blank line and our
    /// signature line.
    ///
    /// The body must end with a newline and contain no control characters other than newline,
    /// and the note must fit in [`MAX_NOTE_LEN`].
    pub fn sign(&self, body: &str) -> Result<String, NoteError> {
        check_len(body.len())?;
        if !body.ends_with('\n') {
            return Err(NoteError::BodyNotNewlineTerminated);
        }
        check_control(body)?;
        let signature = self.key.sign(body.as_bytes());
        let mut blob = Vec::with_capacity(4 + Signature::BYTE_SIZE);
        blob.extend_from_slice(&self.key_id);
        blob.extend_from_slice(&signature.to_bytes());
        let note = format!(
            "{body}\n{SIG_PREFIX}{} {}\n",
            self.name,
            STANDARD.encode(blob)
        );
        check_len(note.len())?;
        Ok(note)
    }
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("key_id", &hex4(&self.key_id))
            .finish_non_exhaustive()
    }
}

/// Checks notes for a signature by one Ed25519 key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
    key_id: [u8; 4],
}

impl NoteVerifier {
    /// Parses a verifier key string `"{name}+{hex8 key id}+{base64(0x01 ‖ public_key)}"`, as
    /// printed by Go's `note.GenerateKey` and [`NoteSigner::vkey`].
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let (name, rest) = vkey
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey {
                reason: "missing '+' after the name",
            })?;
        let (hex, key64) = rest
            .split_once('+')
            .ok_or(NoteError::MalformedVerifierKey {
                reason: "missing '+' after the key id",
            })?;
        check_name(name)?;
        let stated = parse_hex4(hex).ok_or(NoteError::MalformedVerifierKey {
            reason: "key id is not 8 hex digits",
        })?;
        let key = STANDARD
            .decode(key64)
            .map_err(|_| NoteError::MalformedVerifierKey {
                reason: "key is not valid standard base64",
            })?;
        let Some((&alg, public)) = key.split_first() else {
            return Err(NoteError::MalformedVerifierKey {
                reason: "key is empty",
            });
        };
        let computed = raw_key_id(name, &key);
        if stated != computed {
            return Err(NoteError::KeyIdMismatch { stated, computed });
        }
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm { alg });
        }
        let public = <[u8; 32]>::try_from(public).map_err(|_| NoteError::MalformedVerifierKey {
            reason: "Ed25519 public key is not 32 bytes",
        })?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| NoteError::InvalidPublicKey)?;
        NoteVerifier::new(name, key)
    }

    /// A verifier for `key` under the key `name`.
    pub fn new(name: &str, key: VerifyingKey) -> Result<Self, NoteError> {
        check_name(name)?;
        if key.is_weak() {
            return Err(NoteError::InvalidPublicKey);
        }
        Ok(NoteVerifier {
            name: name.to_owned(),
            key_id: note_key_id(name, key.as_bytes()),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id, see [`note_key_id`].
    pub fn key_id(&self) -> [u8; 4] {
        self.key_id
    }

    /// The verifier key string `"{name}+{hex(key_id)}+{base64(0x01 ‖ public_key)}"`.
    pub fn vkey(&self) -> String {
        vkey_string(&self.name, self.key_id, &self.key)
    }

    /// Checks the note has a valid signature by this key (verify_strict); returns the body text.
    /// Other signatures are ignored; malformed notes are errors, never panics.
    ///
    /// As in Go's `sumdb/note`, every signature line must be well formed, and when our key
    /// signed more than once only its first signature counts.
    pub fn verify(&self, note: &str) -> Result<String, NoteError> {
        check_len(note.len())?;
        check_control(note)?;
        let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
        let (body, sigs) = (&note[..=split], &note[split + 2..]);
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(NoteError::UnterminatedSignatureBlock);
        };
        let mut ours = None;
        for (i, line) in sigs.split('\n').enumerate() {
            let number = i + 1;
            if number > MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    max: MAX_SIGNATURES,
                });
            }
            let (name, key_id, signature) = parse_signature_line(line, number)?;
            if ours.is_none() && name == self.name && key_id == self.key_id {
                ours = Some(signature);
            }
        }
        let (name, key_id) = (self.name.clone(), self.key_id);
        let signature = ours.ok_or_else(|| NoteError::NoSignatureByKey {
            name: name.clone(),
            key_id,
        })?;
        let signature =
            Signature::from_slice(&signature).map_err(|_| NoteError::InvalidSignature {
                name: name.clone(),
                key_id,
            })?;
        self.key
            .verify_strict(body.as_bytes(), &signature)
            .map_err(|_| NoteError::InvalidSignature { name, key_id })?;
        Ok(body.to_owned())
    }
}

/// Verify note with verifier and parse the checkpoint body.
///
/// The caller still has to check that the origin is the log it expects.
pub fn open_checkpoint(note: &str, verifier: &NoteVerifier) -> Result<Checkpoint, NoteError> {
    let body = verifier.verify(note)?;
    Checkpoint::parse_body(&body)
}

/// Splits `"— NAME BASE64"` into the name, the key id and the signature bytes.
fn parse_signature_line(line: &str, number: usize) -> Result<(&str, [u8; 4], Vec<u8>), NoteError> {
    let malformed = |reason| NoteError::MalformedSignatureLine {
        line: number,
        reason,
    };
    let rest = line
        .strip_prefix(SIG_PREFIX)
        .ok_or_else(|| malformed("does not start with an em dash and a space"))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or_else(|| malformed("no space between key name and signature"))?;
    if !is_valid_name(name) {
        return Err(malformed("invalid key name"));
    }
    if b64.is_empty() {
        return Err(malformed("empty signature"));
    }
    let raw = STANDARD
        .decode(b64)
        .map_err(|_| malformed("signature is not valid standard base64"))?;
    match raw.as_slice() {
        [a, b, c, d, signature @ ..] if !signature.is_empty() => {
            Ok((name, [*a, *b, *c, *d], signature.to_vec()))
        }
        _ => Err(malformed("signature shorter than a key id and one byte")),
    }
}

/// The key id over the encoded key (algorithm byte included), as Go's `keyHash`.
fn raw_key_id(name: &str, key: &[u8]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update(key);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn vkey_string(name: &str, key_id: [u8; 4], key: &VerifyingKey) -> String {
    let mut encoded = Vec::with_capacity(33);
    encoded.push(ALG_ED25519);
    encoded.extend_from_slice(key.as_bytes());
    format!("{name}+{}+{}", hex4(&key_id), STANDARD.encode(encoded))
}

/// Signed-note key names: non-empty, no Unicode whitespace, no `+`; we also refuse ASCII
/// control characters, which no note may contain.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c < '\u{20}')
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(NoteError::InvalidKeyName {
            name: excerpt(name),
        })
    }
}

fn check_len(len: usize) -> Result<(), NoteError> {
    if len > MAX_NOTE_LEN {
        Err(NoteError::NoteTooLarge {
            len,
            max: MAX_NOTE_LEN,
        })
    } else {
        Ok(())
    }
}

/// Notes are UTF-8 (guaranteed by `&str`) with no ASCII control characters except newline.
fn check_control(text: &str) -> Result<(), NoteError> {
    match text.bytes().position(|b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(NoteError::ControlCharacter { offset }),
        None => Ok(()),
    }
}

/// A canonical decimal `u64`: ASCII digits only, no sign, no leading zeros (except `0`).
fn parse_tree_size(text: &str) -> Result<u64, NoteError> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical
        .then(|| text.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| NoteError::InvalidTreeSize {
            text: excerpt(text),
        })
}

fn parse_hex4(hex: &str) -> Option<[u8; 4]> {
    if hex.len() != 8 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok().map(u32::to_be_bytes)
}

fn hex4(id: &[u8; 4]) -> String {
    format!("{:08x}", u32::from_be_bytes(*id))
}

/// The first [`EXCERPT_LEN`] characters of `s`, for error messages.
fn excerpt(s: &str) -> String {
    match s.char_indices().nth(EXCERPT_LEN) {
        Some((end, _)) => format!("{}…", &s[..end]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::leaf_hash;

    fn signer() -> NoteSigner {
        NoteSigner::new("example.com/log", SigningKey::from_bytes(&[7; 32])).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "example.com/log".into(),
            size: 42,
            root: leaf_hash(b"x"),
        }
    }

    #[test]
    fn body_format() {
        let c = checkpoint();
        assert_eq!(
            c.body(),
            format!("example.com/log\n42\n{}\n", c.root.to_base64())
        );
        assert_eq!(Checkpoint::parse_body(&c.body()), Ok(c));
    }

    #[test]
    fn parse_body_accepts_extension_lines() {
        let c = checkpoint();
        let body = format!("{}ext one\next two\n", c.body());
        assert_eq!(Checkpoint::parse_body(&body), Ok(c.clone()));
        let body = format!("{}ext\n\n", c.body());
        assert_eq!(
            Checkpoint::parse_body(&body),
            Err(NoteError::EmptyExtensionLine { line: 5 })
        );
    }

    #[test]
    fn parse_body_rejects_malformed_bodies() {
        let root = leaf_hash(b"x").to_base64();
        let bad = [
            (String::new(), NoteError::BodyNotNewlineTerminated),
            (format!("o\n1\n{root}"), NoteError::BodyNotNewlineTerminated),
            (
                "o\n1\n".to_owned(),
                NoteError::CheckpointTooShort { lines: 2 },
            ),
            (format!("\n1\n{root}\n"), NoteError::EmptyOrigin),
        ];
        for (body, want) in bad {
            assert_eq!(Checkpoint::parse_body(&body), Err(want), "{body:?}");
        }
        for size in [
            "",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "0x1",
            "18446744073709551616",
            "١",
        ] {
            let body = format!("o\n{size}\n{root}\n");
            assert!(
                matches!(
                    Checkpoint::parse_body(&body),
                    Err(NoteError::InvalidTreeSize { .. })
                ),
                "{size:?}"
            );
        }
        assert_eq!(
            Checkpoint::parse_body(&format!("o\n18446744073709551615\n{root}\n")).map(|c| c.size),
            Ok(u64::MAX)
        );
        assert!(matches!(
            Checkpoint::parse_body("o\n0\nAAAA\n"),
            Err(NoteError::InvalidRootHash(_))
        ));
        assert!(matches!(
            Checkpoint::parse_body(&format!("o\r\n1\n{root}\n")),
            Err(NoteError::ControlCharacter { offset: 1 })
        ));
    }

    #[test]
    fn names_are_checked() {
        for name in ["", "a b", "a+b", "a\tb", "a\u{a0}b", "a\u{1}b"] {
            assert!(
                matches!(
                    NoteSigner::new(name, SigningKey::from_bytes(&[1; 32])),
                    Err(NoteError::InvalidKeyName { .. })
                ),
                "{name:?}"
            );
        }
        assert!(NoteSigner::new("sum.golang.org", SigningKey::from_bytes(&[1; 32])).is_ok());
    }

    #[test]
    fn sign_and_verify_round_trip() {
        let s = signer();
        let v = s.verifier();
        assert_eq!(NoteVerifier::from_vkey(&s.vkey()), Ok(v.clone()));
        assert_eq!(v.vkey(), s.vkey());
        let note = s.sign(&checkpoint().body()).unwrap();
        assert!(note.starts_with(&format!(
            "{}\n\u{2014} example.com/log ",
            checkpoint().body()
        )));
        assert_eq!(open_checkpoint(&note, &v), Ok(checkpoint()));
    }

    #[test]
    fn sign_refuses_bad_bodies() {
        let s = signer();
        assert_eq!(
            s.sign("no newline"),
            Err(NoteError::BodyNotNewlineTerminated)
        );
        assert_eq!(s.sign(""), Err(NoteError::BodyNotNewlineTerminated));
        assert_eq!(
            s.sign("a\u{7}\n"),
            Err(NoteError::ControlCharacter { offset: 1 })
        );
        let big = "a".repeat(MAX_NOTE_LEN - 1) + "\n";
        assert!(matches!(s.sign(&big), Err(NoteError::NoteTooLarge { .. })));
    }

    #[test]
    fn signer_debug_redacts_key() {
        let text = format!("{:?}", signer());
        assert!(text.contains("example.com/log"));
        assert!(!text.contains("SigningKey"));
    }

    #[test]
    fn weak_keys_are_refused() {
        // The identity point (compressed y = 1) has small order.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let key = VerifyingKey::from_bytes(&identity).unwrap();
        assert_eq!(
            NoteVerifier::new("weak", key),
            Err(NoteError::InvalidPublicKey)
        );
    }

    #[test]
    fn excerpt_shortens() {
        assert_eq!(excerpt("abc"), "abc");
        assert_eq!(excerpt(&"é".repeat(50)).chars().count(), EXCERPT_LEN + 1);
    }
}
