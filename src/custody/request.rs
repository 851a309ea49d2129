//! Signed actor requests: how an actor's own key (held by its browser, or by any client)
//! authenticates a request that is not itself a signed record — reading the lots it is engaged
//! for, publishing a certificate. The request carries
//!
//! ```text
//! Authorization: Traceseal-Actor actor=<id>,kid=<8 hex>,at=<unix seconds>,sig=<base64url>
//! ```
//!
//! and the signature is Ed25519 (`verify_strict`) over
//! `traceseal/actor-request/v1\n<log origin>\n<METHOD>\n<path and query>\n<at>\n`, so it is
//! bound to one deployment, one method and one URL, and is fresh only within the custody
//! freshness window. The domain line keeps these signatures apart from custody statements
//! (`traceseal/custody/v2`), which the same key signs. See `docs/actor-page.md`.

use base64::Engine;
use ed25519_dalek::Signature;

/// The first line of the signed bytes.
pub const ACTOR_REQUEST_V1: &str = "traceseal/actor-request/v1";
/// The authorization scheme.
pub const SCHEME: &str = "Traceseal-Actor";
/// Longest `Authorization` value parsed.
pub const MAX_HEADER: usize = 512;

/// A parsed `Authorization: Traceseal-Actor …` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorAuth {
    /// The actor id.
    pub actor: String,
    /// The key id (8 lowercase hex).
    pub kid: String,
    /// When the request was signed, Unix seconds.
    pub at: i64,
    /// The signature.
    pub signature: Signature,
}

/// Why an `Authorization` value is not a signed actor request.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not the `Traceseal-Actor` scheme, too long, or not `name=value` pairs.
    #[error("the Authorization header is not `Traceseal-Actor actor=…,kid=…,at=…,sig=…`")]
    Shape,
    /// A parameter is missing, repeated or unknown.
    #[error(
        "the Authorization header needs each of actor, kid, at and sig exactly once (got {0:?})"
    )]
    Params(String),
    /// A parameter's value is malformed.
    #[error("the Authorization parameter {0} is malformed")]
    Value(&'static str),
}

/// Parses a `Traceseal-Actor` authorization value; strict: the four parameters exactly once
/// each, no spaces inside, nothing else.
pub fn parse_authorization(h: &str) -> Result<ActorAuth, RequestError> {
    if h.len() > MAX_HEADER {
        return Err(RequestError::Shape);
    }
    let rest = h
        .strip_prefix(SCHEME)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or(RequestError::Shape)?;
    let (mut actor, mut kid, mut at, mut sig) = (None, None, None, None);
    for pair in rest.split(',') {
        let (k, v) = pair.split_once('=').ok_or(RequestError::Shape)?;
        let slot = match k {
            "actor" => &mut actor,
            "kid" => &mut kid,
            "at" => &mut at,
            "sig" => &mut sig,
            other => return Err(RequestError::Params(other.chars().take(16).collect())),
        };
        if slot.replace(v).is_some() {
            return Err(RequestError::Params(k.to_string()));
        }
    }
    let actor = need(actor, "actor")?;
    let kid = need(kid, "kid")?;
    let at = need(at, "at")?;
    let sig = need(sig, "sig")?;
    if actor.is_empty()
        || actor.len() > 64
        || !actor
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(RequestError::Value("actor"));
    }
    if kid.len() != 8
        || !kid
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(RequestError::Value("kid"));
    }
    if at.is_empty() || at.len() > 12 || !at.bytes().all(|b| b.is_ascii_digit()) {
        return Err(RequestError::Value("at"));
    }
    let at: i64 = at.parse().map_err(|_| RequestError::Value("at"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|_| RequestError::Value("sig"))?;
    let arr: [u8; 64] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| RequestError::Value("sig"))?;
    Ok(ActorAuth {
        actor: actor.to_string(),
        kid: kid.to_string(),
        at,
        signature: Signature::from_bytes(&arr),
    })
}

fn need<'a>(v: Option<&'a str>, name: &str) -> Result<&'a str, RequestError> {
    v.ok_or_else(|| RequestError::Params(name.into()))
}

/// The bytes a signed actor request signs.
pub fn request_bytes(log: &str, method: &str, path_and_query: &str, at: i64) -> Vec<u8> {
    format!("{ACTOR_REQUEST_V1}\n{log}\n{method}\n{path_and_query}\n{at}\n").into_bytes()
}

/// The `Authorization` value for a request signed with `key` (for clients and tests).
pub fn authorization(
    key: &ed25519_dalek::SigningKey,
    actor: &str,
    log: &str,
    method: &str,
    path_and_query: &str,
    at: i64,
) -> String {
    use ed25519_dalek::Signer;
    let sig = key.sign(&request_bytes(log, method, path_and_query, at));
    let kid = crate::code::KeyId::of(&key.verifying_key());
    format!(
        "{SCHEME} actor={actor},kid={kid},at={at},sig={}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.to_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use proptest::prelude::*;

    #[test]
    fn round_trip_and_known_bytes() {
        let sk = SigningKey::from_bytes(&[7; 32]);
        let h = authorization(
            &sk,
            "au-inspect",
            "verify.example.com/log",
            "GET",
            "/api/v1/actor/lots",
            1_793_577_600,
        );
        let a = parse_authorization(&h).unwrap();
        assert_eq!(a.actor, "au-inspect");
        assert_eq!(a.kid, "fe812c12");
        assert_eq!(a.at, 1_793_577_600);
        let bytes = request_bytes("verify.example.com/log", "GET", "/api/v1/actor/lots", a.at);
        assert_eq!(
            bytes,
            b"traceseal/actor-request/v1\nverify.example.com/log\nGET\n/api/v1/actor/lots\n1793577600\n"
        );
        assert!(sk
            .verifying_key()
            .verify_strict(&bytes, &a.signature)
            .is_ok());
    }

    #[test]
    fn malformed_values_are_refused_precisely() {
        let sig = "A".repeat(86);
        let ok = format!("Traceseal-Actor actor=a-1,kid=0a1b2c3d,at=5,sig={sig}");
        assert!(parse_authorization(&ok).is_ok());
        let cases = [
            ("Bearer x", RequestError::Shape),
            ("Traceseal-Actor", RequestError::Shape),
            ("Traceseal-Actor actor", RequestError::Shape),
            (
                "Traceseal-Actor actor=a,kid=0a1b2c3d,at=5",
                RequestError::Params("sig".into()),
            ),
            (&*format!("{ok},at=6"), RequestError::Params("at".into())),
            (&*format!("{ok},x=1"), RequestError::Params("x".into())),
            (&*ok.replace("a-1", "A"), RequestError::Value("actor")),
            (
                &*ok.replace("0a1b2c3d", "0A1B2C3D"),
                RequestError::Value("kid"),
            ),
            (&*ok.replace("at=5", "at=-5"), RequestError::Value("at")),
            (
                &*ok.replace("at=5", "at=9999999999999"),
                RequestError::Value("at"),
            ),
            (&*ok.replace(&sig, "AAAA"), RequestError::Value("sig")),
        ];
        for (h, want) in cases {
            assert_eq!(parse_authorization(h).unwrap_err(), want, "{h}");
        }
        assert_eq!(
            parse_authorization(&"x".repeat(600)).unwrap_err(),
            RequestError::Shape
        );
    }

    proptest! {
        /// Any text: an answer, never a panic.
        #[test]
        fn any_header_parses_or_is_refused(s in ".{0,300}") {
            let _ = parse_authorization(&format!("Traceseal-Actor {s}"));
            let _ = parse_authorization(&s);
        }
    }
}
