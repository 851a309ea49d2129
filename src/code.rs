//! The signed item code printed on every label (normative; see `docs/code-format.md`).
//!
//! A code is a GS1 Digital Link URI on the service's own host, with the issuer's key id and an
//! Ed25519 signature as the last two query parameters:
//!
//! ```text
//! https://HOST/01/{gtin14}/10/{lot}/21/{serial}?17={yymmdd}&k={kid}&s={sig}
//! ```
//!
//! `17=` is present only when the item has an expiry date. `kid` is [`KeyId::of`] the issuer's
//! key as 8 lowercase hex characters; `sig` is the base64url (no padding, 86 characters)
//! Ed25519 signature over [`CODE_DOMAIN`] followed by the URI up to, not including, `&s=`.
//!
//! [`Code::parse`] is strict and canonical: each item has exactly one valid spelling, so a code
//! can be used as a database key as-is, and anything else is a precise [`CodeError`] (shown to
//! API clients as an HTTP 400). Parsing checks the syntax only; [`Code::verify`] checks the
//! signature against the issuer's public key.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey, SIGNATURE_LENGTH};
use sha2::{Digest as _, Sha256};

use crate::gs1::{string_newtype_impls, Expiry, Gs1Error, Gtin, Lot, Serial};

/// Domain separation prefix of the signed message (the code format's version tag).
pub const CODE_DOMAIN: &[u8] = CODE_DOMAIN_STR.as_bytes();

/// [`CODE_DOMAIN`] as a `&str`, for building the message inside a `String`.
const CODE_DOMAIN_STR: &str = "traceseal/code/v1\n";

/// Longest code [`Code::parse`] accepts, in bytes. The longest code [`Code::sign`] can produce
/// (a 253-character host with a port, 20-character lot and serial, an expiry) is 443 bytes.
pub const MAX_CODE_LEN: usize = 512;

/// Length of the base64url signature in a code: 64 bytes without padding.
pub const SIG_B64_LEN: usize = 86;

/// Longest host name (without port), as in DNS.
const MAX_HOST_NAME_LEN: usize = 253;

/// Longest DNS label.
const MAX_LABEL_LEN: usize = 63;

/// The scheme every code starts with.
const SCHEME: &str = "https://";

/// Why a host name was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The host is empty.
    #[error("host must not be empty")]
    Empty,
    /// The host name (without port) is longer than 253 characters.
    #[error("host name has {len} characters, at most 253 allowed")]
    TooLong {
        /// Length of the host name.
        len: usize,
    },
    /// The host contains an upper-case letter; codes use the lower-case spelling only.
    #[error("host character {ch:?} at position {position} must be lower case")]
    Uppercase {
        /// The offending character.
        ch: char,
        /// 1-based position in the host.
        position: usize,
    },
    /// The host contains a character outside `[a-z0-9.-]` (before the port).
    #[error("host character {ch:?} at position {position} is not allowed (only a-z 0-9 - .)")]
    Char {
        /// The offending character.
        ch: char,
        /// 1-based position in the host.
        position: usize,
    },
    /// A DNS label is empty, longer than 63 characters, or starts or ends with `-`.
    #[error("host label {label:?} is not a valid DNS label (1-63 of a-z 0-9 -, no leading or trailing -)")]
    Label {
        /// The offending label.
        label: String,
    },
    /// The host is a single label other than `localhost`.
    #[error("host {host:?} must be a dotted domain name or localhost")]
    SingleLabel {
        /// The host name.
        host: String,
    },
    /// The port is not a decimal number in 1–65535 without leading zeros.
    #[error("host port {port:?} must be a number from 1 to 65535 without leading zeros")]
    Port {
        /// The port as written.
        port: String,
    },
}

impl HostError {
    /// A short, stable, machine-readable name for the kind of error, e.g. `host_uppercase`.
    pub fn kind(&self) -> &'static str {
        match self {
            HostError::Empty => "host_empty",
            HostError::TooLong { .. } => "host_too_long",
            HostError::Uppercase { .. } => "host_uppercase",
            HostError::Char { .. } => "host_char",
            HostError::Label { .. } => "host_label",
            HostError::SingleLabel { .. } => "host_single_label",
            HostError::Port { .. } => "host_port",
        }
    }
}

/// Why a code was rejected by [`Code::parse`] or [`Code::verify`].
///
/// Messages say what is wrong; API clients see them as-is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// The code is longer than [`MAX_CODE_LEN`] bytes.
    #[error("code is {len} bytes long, at most 512 allowed")]
    TooLong {
        /// Length of the input in bytes.
        len: usize,
    },
    /// The code does not start with exactly `https://`.
    #[error("code must start with \"https://\" (lower case)")]
    Scheme,
    /// The code contains `#`.
    #[error("code must not contain a fragment ('#')")]
    Fragment,
    /// The code contains `%`.
    #[error("code must not contain percent-encoding ('%'); lot and serial never need it")]
    PercentEncoding,
    /// The host is invalid.
    #[error("invalid host: {0}")]
    Host(#[from] HostError),
    /// Nothing follows the host.
    #[error("code has no path; expected /01/{{gtin}}/10/{{lot}}/21/{{serial}}")]
    MissingPath,
    /// The path does not have exactly six segments.
    #[error("code path must have exactly 6 segments /01/{{gtin}}/10/{{lot}}/21/{{serial}}, found {found}")]
    PathSegments {
        /// Number of segments found.
        found: usize,
    },
    /// A GS1 application identifier in the path is not the expected one.
    #[error("code path segment {position} must be \"{expected}\", found {found:?}")]
    PathAi {
        /// 1-based segment number (1, 3 or 5).
        position: usize,
        /// The application identifier expected there.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// The GTIN in the path is not written with 14 digits.
    #[error("GTIN in a code must be written with 14 digits, found {len} characters")]
    GtinNot14 {
        /// Number of characters found.
        len: usize,
    },
    /// A GS1 field (GTIN, lot, serial, expiry) is invalid.
    #[error(transparent)]
    Gs1(#[from] Gs1Error),
    /// There is no `?` query.
    #[error("code has no query; expected ?[17={{yymmdd}}&]k={{kid}}&s={{sig}}")]
    MissingQuery,
    /// A query parameter has no `=`.
    #[error("query parameter {param:?} has no '='")]
    MalformedParam {
        /// The parameter as written.
        param: String,
    },
    /// A query parameter other than `17`, `k`, `s`.
    #[error("query parameter {name:?} is not allowed; only 17, k and s")]
    UnknownParam {
        /// The parameter name.
        name: String,
    },
    /// A query parameter appears twice.
    #[error("query parameter {name:?} appears more than once")]
    DuplicateParam {
        /// The parameter name.
        name: &'static str,
    },
    /// The query parameters are not in the order `17`, `k`, `s`.
    #[error("query parameters must be in the order 17, k, s")]
    ParamOrder,
    /// A required query parameter is missing.
    #[error("query parameter {name:?} is missing")]
    MissingParam {
        /// The parameter name.
        name: &'static str,
    },
    /// The key id is not 8 characters long.
    #[error("key id must have 8 lowercase hex characters, found {len}")]
    KeyIdLength {
        /// Number of characters found.
        len: usize,
    },
    /// The key id contains upper-case hex.
    #[error("key id character {ch:?} at position {position} must be lower case")]
    KeyIdUppercase {
        /// The offending character.
        ch: char,
        /// 1-based position in the key id.
        position: usize,
    },
    /// The key id contains a non-hex character.
    #[error("key id character {ch:?} at position {position} is not a hex digit")]
    KeyIdChar {
        /// The offending character.
        ch: char,
        /// 1-based position in the key id.
        position: usize,
    },
    /// The signature has base64 padding.
    #[error("signature must be base64url without '=' padding")]
    SignaturePadding,
    /// The signature is not 86 characters long.
    #[error("signature must have 86 base64url characters, found {len}")]
    SignatureLength {
        /// Number of characters found.
        len: usize,
    },
    /// The signature contains a character outside the base64url alphabet.
    #[error(
        "signature character {ch:?} at position {position} is not base64url (A-Z a-z 0-9 - _)"
    )]
    SignatureChar {
        /// The offending character.
        ch: char,
        /// 1-based position in the signature.
        position: usize,
    },
    /// The signature's last character has non-zero unused bits (not the canonical encoding).
    #[error("signature is not canonical base64url (its last character has non-zero unused bits)")]
    SignatureEncoding,
    /// The code names a different key than the one it is verified with.
    #[error("code was signed with key {code}, not with key {key}")]
    KeyMismatch {
        /// Key id in the code.
        code: KeyId,
        /// Key id of the key it was checked against.
        key: KeyId,
    },
    /// The signature does not verify: the code was altered or not issued with this key.
    #[error("code signature is not valid for this key; the code was altered or forged")]
    BadSignature,
}

impl CodeError {
    /// A short, stable, machine-readable name for the kind of error, e.g. `bad_signature` or
    /// `gtin_check_digit` (for wrapped [`Gs1Error`]s and [`HostError`]s, their own kind).
    ///
    /// Used by the test vectors and as the problem type suffix in HTTP error responses.
    pub fn kind(&self) -> &'static str {
        match self {
            CodeError::TooLong { .. } => "too_long",
            CodeError::Scheme => "scheme",
            CodeError::Fragment => "fragment",
            CodeError::PercentEncoding => "percent_encoding",
            CodeError::Host(e) => e.kind(),
            CodeError::MissingPath => "missing_path",
            CodeError::PathSegments { .. } => "path_segments",
            CodeError::PathAi { .. } => "path_ai",
            CodeError::GtinNot14 { .. } => "gtin_not_14",
            CodeError::Gs1(e) => e.kind(),
            CodeError::MissingQuery => "missing_query",
            CodeError::MalformedParam { .. } => "malformed_param",
            CodeError::UnknownParam { .. } => "unknown_param",
            CodeError::DuplicateParam { .. } => "duplicate_param",
            CodeError::ParamOrder => "param_order",
            CodeError::MissingParam { .. } => "missing_param",
            CodeError::KeyIdLength { .. } => "key_id_length",
            CodeError::KeyIdUppercase { .. } => "key_id_uppercase",
            CodeError::KeyIdChar { .. } => "key_id_char",
            CodeError::SignaturePadding => "signature_padding",
            CodeError::SignatureLength { .. } => "signature_length",
            CodeError::SignatureChar { .. } => "signature_char",
            CodeError::SignatureEncoding => "signature_encoding",
            CodeError::KeyMismatch { .. } => "key_mismatch",
            CodeError::BadSignature => "bad_signature",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Key id

/// The id of an issuer key: the first 4 bytes of SHA-256 of its 32-byte Ed25519 public key,
/// written as 8 lowercase hex characters.
///
/// It selects the key to verify a code with; it is not a security boundary (the signature is).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 4]);

impl KeyId {
    /// The key id of `key`.
    pub fn of(key: &VerifyingKey) -> KeyId {
        let digest = Sha256::digest(key.as_bytes());
        KeyId([digest[0], digest[1], digest[2], digest[3]])
    }

    /// Parses 8 lowercase hex characters.
    pub fn parse(hex8: &str) -> Result<KeyId, CodeError> {
        let mut nibbles = [0u8; 8];
        let mut len = 0;
        for (i, ch) in hex8.chars().enumerate() {
            let nibble = match ch {
                '0'..='9' | 'a'..='f' => ch.to_digit(16),
                'A'..='F' => {
                    return Err(CodeError::KeyIdUppercase {
                        ch,
                        position: i + 1,
                    })
                }
                _ => {
                    return Err(CodeError::KeyIdChar {
                        ch,
                        position: i + 1,
                    })
                }
            };
            if let (Some(slot), Some(n)) = (nibbles.get_mut(i), nibble) {
                // A hex digit is < 16, so it fits in a u8.
                *slot = n as u8;
            }
            len = i + 1;
        }
        if len != 8 {
            return Err(CodeError::KeyIdLength { len });
        }
        let mut id = [0u8; 4];
        for (byte, pair) in id.iter_mut().zip(nibbles.chunks_exact(2)) {
            *byte = (pair[0] << 4) | pair[1];
        }
        Ok(KeyId(id))
    }

    /// Appends the 8 lowercase hex characters to `out`.
    fn push_hex(&self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        for b in self.0 {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0f)]));
        }
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::with_capacity(8);
        self.push_hex(&mut s);
        f.write_str(&s)
    }
}

impl std::str::FromStr for KeyId {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        KeyId::parse(s)
    }
}

impl serde::Serialize for KeyId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for KeyId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(deserializer)?;
        KeyId::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Item id and host

/// What a code identifies: one item of one lot of one product.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ItemId {
    /// The product (AI 01).
    pub gtin: Gtin,
    /// The lot (AI 10).
    pub lot: Lot,
    /// The item's serial (AI 21).
    pub serial: Serial,
    /// The expiry date (AI 17), if the product has one.
    pub expiry: Option<Expiry>,
}

/// The host a code points at: a lower-case DNS name (or `localhost`), optionally with a port.
///
/// Labels are 1–63 characters of `[a-z0-9-]` not starting or ending with `-`; the name has at
/// most 253 characters and at least two labels unless it is `localhost`; the port, if any, is
/// 1–65535 without leading zeros. The host is part of the signed message, so a code copied to
/// a look-alike domain does not verify.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Host(String);

impl Host {
    /// Parses `name` or `name:port`.
    pub fn parse(s: &str) -> Result<Host, HostError> {
        if s.is_empty() {
            return Err(HostError::Empty);
        }
        let (name, port) = match s.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (s, None),
        };
        for (i, ch) in name.chars().enumerate() {
            if ch.is_ascii_uppercase() {
                return Err(HostError::Uppercase {
                    ch,
                    position: i + 1,
                });
            }
            if !(ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-' || ch == '.') {
                return Err(HostError::Char {
                    ch,
                    position: i + 1,
                });
            }
        }
        // Only ASCII from here on, so byte length = character count.
        if name.len() > MAX_HOST_NAME_LEN {
            return Err(HostError::TooLong { len: name.len() });
        }
        for label in name.split('.') {
            if label.is_empty()
                || label.len() > MAX_LABEL_LEN
                || label.starts_with('-')
                || label.ends_with('-')
            {
                return Err(HostError::Label {
                    label: label.to_owned(),
                });
            }
        }
        if !name.contains('.') && name != "localhost" {
            return Err(HostError::SingleLabel {
                host: name.to_owned(),
            });
        }
        if let Some(port) = port {
            let canonical = port.bytes().all(|b| b.is_ascii_digit())
                && !port.starts_with('0')
                && port.parse::<u16>().is_ok_and(|p| p >= 1);
            if !canonical {
                return Err(HostError::Port {
                    port: port.to_owned(),
                });
            }
        }
        Ok(Host(s.to_owned()))
    }

    /// The host as written in codes, e.g. `trace.example.cn` or `localhost:8443`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype_impls!(Host, HostError);

// ---------------------------------------------------------------------------------------------
// Code

/// A syntactically valid signed item code (see the module docs for the format).
///
/// Holding a `Code` means the URI is canonical; whether it is genuine is [`Code::verify`]'s
/// question.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    /// The full URI.
    uri: String,
    /// The item it names.
    item: ItemId,
    /// The host it points at.
    host: Host,
    /// The issuer key it names.
    kid: KeyId,
    /// The signature in `s=`.
    sig: Signature,
    /// Length of the signed prefix of `uri` (everything before `&s=`).
    signed_len: usize,
}

impl Code {
    /// Parses a code strictly; see the module docs for the grammar. Does not check the
    /// signature (that needs the issuer's key: [`Code::verify`]).
    pub fn parse(uri: &str) -> Result<Code, CodeError> {
        if uri.len() > MAX_CODE_LEN {
            return Err(CodeError::TooLong { len: uri.len() });
        }
        let rest = uri.strip_prefix(SCHEME).ok_or(CodeError::Scheme)?;
        if uri.contains('#') {
            return Err(CodeError::Fragment);
        }
        if uri.contains('%') {
            return Err(CodeError::PercentEncoding);
        }

        let slash = rest.find('/').ok_or(CodeError::MissingPath)?;
        let authority = &rest[..slash];
        // The host ends at the first '/'; a '?' before it would put the query in the host.
        let host = Host::parse(authority)?;
        let (path, query) = rest[slash..]
            .split_once('?')
            .ok_or(CodeError::MissingQuery)?;

        let item_path = &path[1..];
        let segments: Vec<&str> = item_path.split('/').collect();
        let [ai01, gtin, ai10, lot, ai21, serial] = segments[..] else {
            return Err(CodeError::PathSegments {
                found: segments.len(),
            });
        };
        for (position, expected, found) in [(1, "01", ai01), (3, "10", ai10), (5, "21", ai21)] {
            if found != expected {
                return Err(CodeError::PathAi {
                    position,
                    expected,
                    found: found.to_owned(),
                });
            }
        }
        if gtin.len() != 14 && gtin.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CodeError::GtinNot14 { len: gtin.len() });
        }
        // 14 characters (or non-digits, which `Gtin::parse` rejects): no padding happens, so the
        // parsed GTIN is spelled exactly as in the URI.
        let gtin = Gtin::parse(gtin)?;
        let lot = Lot::parse(lot)?;
        let serial = Serial::parse(serial)?;

        let query = parse_query(query)?;
        let expiry = query.expiry.map(Expiry::parse_yymmdd).transpose()?;
        let kid = KeyId::parse(query.kid)?;
        let sig = parse_signature(query.sig)?;
        // `s` is the last parameter and is preceded by "&s=".
        let signed_len = uri.len() - query.sig.len() - "&s=".len();

        Ok(Code {
            uri: uri.to_owned(),
            item: ItemId {
                gtin,
                lot,
                serial,
                expiry,
            },
            host,
            kid,
            sig,
            signed_len,
        })
    }

    /// Builds and signs the code for `item` on `host` with the issuer key `key`, whose id is
    /// `kid` (passed in so batch issuance computes it once).
    ///
    /// `kid` is written as given and not checked against `key`: a mismatched `kid` yields a code
    /// that fails [`Code::verify`] (tests use this to make forgeries).
    ///
    /// This is the hot path of batch issuance: the URI is built once in a single allocation
    /// that also holds the signed message.
    pub fn sign(host: &Host, item: &ItemId, kid: KeyId, key: &SigningKey) -> Code {
        let uri_len = SCHEME.len()
            + host.as_str().len()
            + "/01/".len()
            + 14
            + "/10/".len()
            + item.lot.as_str().len()
            + "/21/".len()
            + item.serial.as_str().len()
            + if item.expiry.is_some() {
                "?17=YYMMDD&k=".len()
            } else {
                "?k=".len()
            }
            + 8
            + "&s=".len()
            + SIG_B64_LEN;
        // One buffer: the domain prefix, then the URI; the prefix is cut off after signing.
        let mut buf = String::with_capacity(CODE_DOMAIN_STR.len() + uri_len);
        buf.push_str(CODE_DOMAIN_STR);
        buf.push_str(SCHEME);
        buf.push_str(host.as_str());
        buf.push_str("/01/");
        buf.push_str(item.gtin.as_str());
        buf.push_str("/10/");
        buf.push_str(item.lot.as_str());
        buf.push_str("/21/");
        buf.push_str(item.serial.as_str());
        match &item.expiry {
            Some(expiry) => {
                buf.push_str("?17=");
                expiry.push_yymmdd(&mut buf);
                buf.push_str("&k=");
            }
            None => buf.push_str("?k="),
        }
        kid.push_hex(&mut buf);
        let sig = key.sign(buf.as_bytes());
        let signed_len = buf.len() - CODE_DOMAIN_STR.len();
        buf.push_str("&s=");
        URL_SAFE_NO_PAD.encode_string(sig.to_bytes(), &mut buf);
        buf.replace_range(..CODE_DOMAIN_STR.len(), "");
        debug_assert_eq!(buf.len(), uri_len);
        Code {
            uri: buf,
            item: item.clone(),
            host: host.clone(),
            kid,
            sig,
            signed_len,
        }
    }

    /// The URI, exactly as printed on the label.
    pub fn as_str(&self) -> &str {
        &self.uri
    }

    /// The item the code names.
    pub fn item(&self) -> &ItemId {
        &self.item
    }

    /// The host the code points at.
    pub fn host(&self) -> &Host {
        &self.host
    }

    /// The id of the key the code claims to be signed with.
    pub fn kid(&self) -> KeyId {
        self.kid
    }

    /// The signature carried in `s=`.
    pub fn signature(&self) -> &Signature {
        &self.sig
    }

    /// The exact bytes that are signed: [`CODE_DOMAIN`] followed by the URI up to, not
    /// including, `&s=`.
    pub fn signed_message(&self) -> Vec<u8> {
        let mut msg = Vec::with_capacity(CODE_DOMAIN.len() + self.signed_len);
        msg.extend_from_slice(CODE_DOMAIN);
        msg.extend_from_slice(&self.uri.as_bytes()[..self.signed_len]);
        msg
    }

    /// Checks that the code was signed by `key`: its key id must be the code's `k` and the
    /// signature must pass Ed25519 strict verification (`verify_strict`: canonical `S`, no
    /// small-order points).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), CodeError> {
        let key_id = KeyId::of(key);
        if key_id != self.kid {
            return Err(CodeError::KeyMismatch {
                code: self.kid,
                key: key_id,
            });
        }
        key.verify_strict(&self.signed_message(), &self.sig)
            .map_err(|_| CodeError::BadSignature)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uri)
    }
}

impl std::str::FromStr for Code {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Code::parse(s)
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.uri)
    }
}

impl<'de> serde::Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(deserializer)?;
        Code::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The raw values of a code's query parameters.
struct Query<'a> {
    expiry: Option<&'a str>,
    kid: &'a str,
    sig: &'a str,
}

/// Splits `[17=..&]k=..&s=..` into its values, with precise errors for anything else.
fn parse_query(query: &str) -> Result<Query<'_>, CodeError> {
    // Names in the required order; a parameter's rank is its index here.
    const ORDER: [&str; 3] = ["17", "k", "s"];
    let mut values: [Option<&str>; 3] = [None; 3];
    let mut last_rank = None;
    for param in query.split('&') {
        let (name, value) = param
            .split_once('=')
            .ok_or_else(|| CodeError::MalformedParam {
                param: param.to_owned(),
            })?;
        let rank =
            ORDER
                .iter()
                .position(|&n| n == name)
                .ok_or_else(|| CodeError::UnknownParam {
                    name: name.to_owned(),
                })?;
        if values[rank].is_some() {
            return Err(CodeError::DuplicateParam { name: ORDER[rank] });
        }
        if last_rank.is_some_and(|last| rank < last) {
            return Err(CodeError::ParamOrder);
        }
        values[rank] = Some(value);
        last_rank = Some(rank);
    }
    let [expiry, kid, sig] = values;
    Ok(Query {
        expiry,
        kid: kid.ok_or(CodeError::MissingParam { name: "k" })?,
        sig: sig.ok_or(CodeError::MissingParam { name: "s" })?,
    })
}

/// Decodes the 86-character canonical base64url signature.
fn parse_signature(s: &str) -> Result<Signature, CodeError> {
    if s.contains('=') {
        return Err(CodeError::SignaturePadding);
    }
    if let Some((i, ch)) = s
        .chars()
        .enumerate()
        .find(|&(_, c)| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(CodeError::SignatureChar {
            ch,
            position: i + 1,
        });
    }
    if s.len() != SIG_B64_LEN {
        return Err(CodeError::SignatureLength { len: s.len() });
    }
    let mut bytes = [0u8; SIGNATURE_LENGTH];
    // The engine rejects non-zero trailing bits, so each signature has one spelling.
    match URL_SAFE_NO_PAD.decode_slice(s, &mut bytes) {
        Ok(SIGNATURE_LENGTH) => Ok(Signature::from_bytes(&bytes)),
        _ => Err(CodeError::SignatureEncoding),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7u8; 32])
    }

    fn item(expiry: Option<&str>) -> ItemId {
        ItemId {
            gtin: Gtin::parse("4006381333931").unwrap(),
            lot: Lot::parse("L1").unwrap(),
            serial: Serial::parse("S1").unwrap(),
            expiry: expiry.map(|e| Expiry::parse_yymmdd(e).unwrap()),
        }
    }

    fn signed(host: &str, expiry: Option<&str>) -> Code {
        let key = key();
        let kid = KeyId::of(&key.verifying_key());
        Code::sign(&Host::parse(host).unwrap(), &item(expiry), kid, &key)
    }

    #[test]
    fn key_id_parse_and_display() {
        let kid = KeyId::parse("00ff7a10").unwrap();
        assert_eq!(kid, KeyId([0x00, 0xff, 0x7a, 0x10]));
        assert_eq!(kid.to_string(), "00ff7a10");
        assert_eq!(serde_json::to_string(&kid).unwrap(), "\"00ff7a10\"");
        assert_eq!(
            KeyId::parse("00FF7a10").unwrap_err().kind(),
            "key_id_uppercase"
        );
        assert_eq!(KeyId::parse("00gf7a10").unwrap_err().kind(), "key_id_char");
        assert_eq!(
            KeyId::parse("00ff7a1").unwrap_err(),
            CodeError::KeyIdLength { len: 7 }
        );
        assert_eq!(
            KeyId::parse("00ff7a100").unwrap_err(),
            CodeError::KeyIdLength { len: 9 }
        );
    }

    #[test]
    fn host_rules() {
        for ok in [
            "trace.example.cn",
            "localhost",
            "localhost:8443",
            "a.b:1",
            "x-1.y:65535",
        ] {
            assert_eq!(Host::parse(ok).unwrap().as_str(), ok);
        }
        let cases = [
            ("", "host_empty"),
            ("Trace.example.cn", "host_uppercase"),
            ("trace_x.example.cn", "host_char"),
            ("user@example.cn", "host_char"),
            ("[::1]:80", "host_char"),
            ("-a.example.cn", "host_label"),
            ("a-.example.cn", "host_label"),
            ("a..cn", "host_label"),
            ("example.cn.", "host_label"),
            ("intranet", "host_single_label"),
            ("example.cn:0", "host_port"),
            ("example.cn:65536", "host_port"),
            ("example.cn:080", "host_port"),
            ("example.cn:", "host_port"),
            ("example.cn:+80", "host_port"),
        ];
        for (host, kind) in cases {
            assert_eq!(Host::parse(host).unwrap_err().kind(), kind, "{host:?}");
        }
        let long_label = "a".repeat(64);
        assert_eq!(
            Host::parse(&format!("{long_label}.cn")).unwrap_err().kind(),
            "host_label"
        );
        let long = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
        ]
        .join(".");
        assert_eq!(
            Host::parse(&long).unwrap_err(),
            HostError::TooLong { len: 255 }
        );
    }

    #[test]
    fn sign_parse_verify_round_trip() {
        for expiry in [None, Some("261231"), Some("270200")] {
            let code = signed("trace.example.cn", expiry);
            let parsed = Code::parse(code.as_str()).unwrap();
            assert_eq!(parsed, code);
            parsed.verify(&key().verifying_key()).unwrap();
            assert!(code.signed_message().starts_with(CODE_DOMAIN));
            assert!(!code.signed_message().ends_with(b"&"));
        }
        let code = signed("localhost:8443", None);
        assert!(code
            .as_str()
            .starts_with("https://localhost:8443/01/04006381333931/10/L1/21/S1?k="));
    }

    #[test]
    fn longest_possible_code_fits() {
        let host = [
            &"a".repeat(63),
            &"b".repeat(63),
            &"c".repeat(63),
            &"d".repeat(61),
        ]
        .map(|s| s.as_str())
        .join(".");
        let host = Host::parse(&format!("{host}:65535")).unwrap();
        let item = ItemId {
            gtin: Gtin::parse("4006381333931").unwrap(),
            lot: Lot::parse(&"L".repeat(20)).unwrap(),
            serial: Serial::parse(&"S".repeat(20)).unwrap(),
            expiry: Some(Expiry::parse_yymmdd("991231").unwrap()),
        };
        let key = key();
        let code = Code::sign(&host, &item, KeyId::of(&key.verifying_key()), &key);
        assert_eq!(code.as_str().len(), 443);
        assert!(code.as_str().len() <= MAX_CODE_LEN);
        assert_eq!(Code::parse(code.as_str()).unwrap(), code);
    }

    #[test]
    fn verify_rejects_other_key() {
        let code = signed("trace.example.cn", None);
        let other = SigningKey::from_bytes(&[8u8; 32]).verifying_key();
        assert!(matches!(
            code.verify(&other),
            Err(CodeError::KeyMismatch { .. })
        ));
    }

    #[test]
    fn query_errors() {
        let code = signed("trace.example.cn", Some("261231"));
        let (head, query) = code.as_str().split_once('?').unwrap();
        let parts: Vec<&str> = query.split('&').collect();
        let [e, k, s] = parts[..] else { panic!() };
        let cases = [
            (head.to_owned(), "missing_query"),
            (format!("{head}?{k}&{e}&{s}"), "param_order"),
            (format!("{head}?{e}&{s}&{k}"), "param_order"),
            (format!("{head}?{e}&{k}&{k}&{s}"), "duplicate_param"),
            (format!("{head}?{e}&{k}&x=1&{s}"), "unknown_param"),
            (format!("{head}?{e}&{k}&{s}&"), "malformed_param"),
            (format!("{head}?{e}&{k}"), "missing_param"),
            (format!("{head}?{e}&{s}"), "missing_param"),
            (format!("{head}?"), "malformed_param"),
            (format!("{head}?17=&{k}&{s}"), "expiry_format"),
            (format!("{head}?{e}&{k}&{s}="), "signature_padding"),
            (
                format!("{head}?{e}&{k}&{}", &s[..s.len() - 1]),
                "signature_length",
            ),
            (
                format!("{head}?{e}&{k}&{}+", &s[..s.len() - 1]),
                "signature_char",
            ),
        ];
        for (uri, kind) in cases {
            assert_eq!(Code::parse(&uri).unwrap_err().kind(), kind, "{uri}");
        }
    }
}
