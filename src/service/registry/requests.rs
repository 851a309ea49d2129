//! Registration requests: an actor who made a key on the actor page asks the operator to
//! register it, without an account. The request is signed with the key it names (proof that
//! the requester holds it), addressed to this log, fresh, and waits in a bounded list the
//! operator reads in the console; registering the key (or dismissing the request) removes it.
//!
//! What an anonymous client can do with it: file requests (the HTTP edge limits them per
//! client address), each replacing the one pending for the same key; at most
//! [`MAX_PENDING`] wait at once, then new keys are refused with 503 until the operator
//! clears some. Nothing here is readable without the operator's grant. See
//! `docs/custody.md` (Registration requests).

use std::sync::{Arc, Mutex};

use base64::Engine;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::info;
use utoipa::ToSchema;

use crate::code::KeyId;
use crate::custody::record::{check_actor_id, hex, parse_signature, Role};
use crate::gs1::CountryCode;
use crate::service::base::{check_text, lock, Result};
use crate::service::errors::{InputError, RegistryError};
use crate::store::schema::{decode_json, encode_json};
use crate::store::{Cf, Durability, Store, WriteBatch};

/// Most requests waiting at once.
pub const MAX_PENDING: usize = 200;
/// How far `signed_at` may be from the server's clock, seconds.
pub const MAX_SKEW: i64 = 600;
/// Longest `note`, in characters.
pub const MAX_NOTE: usize = 1000;
/// Largest request text, bytes.
pub const MAX_REQUEST_BYTES: usize = 4096;
/// Domain separation of the signed bytes: `PREFIX ‖ request text ‖ "\n"`.
pub const SIGNED_PREFIX: &str = "traceseal/registration-request/v1\n";

/// Body of `POST /api/v1/actor-requests`: the request's canonical JSON text and the
/// signature of `"traceseal/registration-request/v1\n" ‖ request ‖ "\n"` by the key it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationSubmission {
    /// Canonical JSON (RFC 8785) of a [`RegistrationFields`] object.
    pub request: String,
    /// Ed25519 signature, base64url without padding.
    pub signature: String,
}

/// What a requester says about itself, signed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationFields {
    /// The log (checkpoint origin) the request is for.
    pub log: String,
    /// The Ed25519 public key to register, base64 of its 32 bytes.
    pub public_key: String,
    /// The actor id asked for (a-z, 0-9, -; 2–64).
    pub actor: String,
    /// The organisation, 1–200 characters.
    pub organisation: String,
    /// ISO 3166 alpha-2 country.
    pub country: String,
    /// The role asked for.
    #[schema(value_type = String)]
    pub role: Role,
    /// How the operator reaches the requester to check the fingerprint, 1–200 characters.
    pub contact: String,
    /// Anything else, up to 1,000 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When it was signed, Unix seconds.
    pub signed_at: i64,
}

/// A request waiting for the operator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegistrationRequest {
    /// SHA-256 of the public key, 64 hex (its first 8 are the key id).
    pub fingerprint: String,
    /// The key id.
    pub kid: String,
    /// The public key, base64 of its 32 bytes.
    pub public_key: String,
    /// The actor id asked for.
    pub actor: String,
    /// The organisation.
    pub organisation: String,
    /// ISO 3166 alpha-2 country.
    pub country: String,
    /// The role asked for.
    #[schema(value_type = String)]
    pub role: Role,
    /// How to reach the requester.
    pub contact: String,
    /// The requester's note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// When it was received, Unix seconds.
    pub received_at: i64,
}

/// Answer of `POST /api/v1/actor-requests`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegistrationReceipt {
    /// SHA-256 of the public key, 64 hex: what the operator reads back to the requester.
    pub fingerprint: String,
    /// The key id.
    pub kid: String,
    /// Always `pending`.
    pub status: String,
    /// Whether it replaced a request pending for the same key.
    pub replaced: bool,
}

/// The pending registration requests of one log (owned by the actor registry, which removes
/// a request when it registers its key).
pub struct RegistrationDesk {
    store: Arc<dyn Store>,
    origin: String,
    /// Counting and writing are one step.
    lock: Mutex<()>,
}

/// The store key of a request: the SHA-256 of its public key.
fn request_key(vk: &VerifyingKey) -> [u8; 32] {
    Sha256::digest(vk.as_bytes()).into()
}

/// The store key of a request from its fingerprint (64 hex), or 404.
fn key_of_fingerprint(fp: &str) -> Result<[u8; 32]> {
    let not_found = || RegistryError::RequestNotFound {
        fingerprint: fp.chars().take(64).collect(),
    };
    let fp = fp.trim();
    if fp.len() != 64 || !fp.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(not_found().into());
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&fp[2 * i..2 * i + 2], 16).map_err(|_| not_found())?;
    }
    Ok(out)
}

/// Parses and checks a submission's text and signature (no state): canonical, signed by the
/// key it names, for `origin`, within [`MAX_SKEW`] of `now`, every field valid.
pub fn check_submission(
    sub: &RegistrationSubmission,
    origin: &str,
    now: i64,
) -> Result<(RegistrationFields, VerifyingKey)> {
    if sub.request.len() > MAX_REQUEST_BYTES {
        return Err(InputError::field(
            "request",
            format!("request must be at most {MAX_REQUEST_BYTES} bytes"),
        )
        .into());
    }
    let fields: RegistrationFields = serde_json::from_str(&sub.request).map_err(|e| {
        InputError::field(
            "request",
            format!("request is not a valid registration request: {e}"),
        )
    })?;
    let canonical = canonical_text(&fields)?;
    if canonical != sub.request {
        return Err(InputError::field(
            "request",
            "request must be canonical JSON (RFC 8785: sorted keys, no whitespace)",
        )
        .into());
    }
    let vk = decode_key(&fields.public_key)?;
    let sig = parse_signature(&sub.signature)
        .map_err(|e| InputError::field("signature", e.to_string()))?;
    let bytes = signed_bytes(&sub.request);
    vk.verify_strict(&bytes, &sig)
        .map_err(|_| RegistryError::RequestSignature)?;
    if fields.log != origin {
        return Err(RegistryError::RequestWrongLog {
            log: fields.log.chars().take(200).collect(),
            expected: origin.to_string(),
        }
        .into());
    }
    if (fields.signed_at - now).abs() > MAX_SKEW {
        return Err(RegistryError::RequestStale {
            signed_at: fields.signed_at,
            now,
        }
        .into());
    }
    check_fields(&fields)?;
    Ok((fields, vk))
}

/// The request's key: base64 of 32 bytes, a curve point, not of small order.
fn decode_key(b64: &str) -> Result<VerifyingKey> {
    let bad = |why: &str| InputError::field("public_key", format!("public_key {why}"));
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad("must be base64 of the 32-byte Ed25519 key"))?;
    let arr: [u8; 32] = raw
        .as_slice()
        .try_into()
        .map_err(|_| bad("must be 32 bytes"))?;
    let vk = VerifyingKey::from_bytes(&arr).map_err(|_| bad("is not a valid Ed25519 point"))?;
    if vk.is_weak() {
        return Err(bad("is a weak (small-order) Ed25519 key").into());
    }
    Ok(vk)
}

/// The canonical text of `fields` (what is signed).
pub fn canonical_text(fields: &RegistrationFields) -> Result<String> {
    let v =
        serde_json::to_value(fields).map_err(|e| InputError::field("request", e.to_string()))?;
    crate::custody::canon::to_string(&v)
        .map_err(|e| InputError::field("request", e.to_string()).into())
}

/// The bytes a registration request's signature covers.
pub fn signed_bytes(request: &str) -> Vec<u8> {
    format!("{SIGNED_PREFIX}{request}\n").into_bytes()
}

fn check_fields(f: &RegistrationFields) -> Result<()> {
    check_actor_id(&f.actor).map_err(|e| InputError::field("actor", e.to_string()))?;
    check_text("organisation", &f.organisation)?;
    check_text("contact", &f.contact)?;
    CountryCode::parse(&f.country).map_err(|e| InputError::parse("country", e))?;
    if let Some(n) = &f.note {
        if n.chars().count() > MAX_NOTE {
            return Err(InputError::field(
                "note",
                format!("note must be at most {MAX_NOTE} characters"),
            )
            .into());
        }
    }
    Ok(())
}

impl RegistrationDesk {
    /// The desk of the log named `origin`, over `store`.
    pub fn new(store: Arc<dyn Store>, origin: String) -> RegistrationDesk {
        RegistrationDesk {
            store,
            origin,
            lock: Mutex::new(()),
        }
    }

    /// Files a registration request (see the module docs): stored, or replacing the one
    /// pending for the same key.
    pub fn request_registration(
        &self,
        sub: &RegistrationSubmission,
        now: i64,
    ) -> Result<RegistrationReceipt> {
        let (f, vk) = check_submission(sub, &self.origin, now)?;
        let key = request_key(&vk);
        let fingerprint = hex(&key);
        let kid = KeyId::of(&vk).to_string();
        let req = RegistrationRequest {
            fingerprint: fingerprint.clone(),
            kid: kid.clone(),
            public_key: base64::engine::general_purpose::STANDARD.encode(vk.as_bytes()),
            actor: f.actor,
            organisation: f.organisation.trim().to_string(),
            country: f.country.trim().to_ascii_uppercase(),
            role: f.role,
            contact: f.contact.trim().to_string(),
            note: f
                .note
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty()),
            received_at: now,
        };
        let _g = lock(&self.lock)?;
        let replaced = self.store.get(Cf::ActorRequests, &key)?.is_some();
        if !replaced && self.pending_count()? >= MAX_PENDING {
            return Err(RegistryError::TooManyRequests { max: MAX_PENDING }.into());
        }
        let mut wb = WriteBatch::new();
        wb.put(Cf::ActorRequests, key.to_vec(), encode_json(&req));
        self.store.write(wb, Durability::Synced)?;
        info!(kid = %kid, actor = %req.actor, replaced, "registration request filed");
        Ok(RegistrationReceipt {
            fingerprint,
            kid,
            status: "pending".into(),
            replaced,
        })
    }

    fn pending_count(&self) -> Result<usize> {
        Ok(self
            .store
            .range(Cf::ActorRequests, &[], None, MAX_PENDING + 1)?
            .len())
    }

    /// The pending requests, newest first (at most [`MAX_PENDING`]).
    pub fn registration_requests(&self) -> Result<Vec<RegistrationRequest>> {
        let mut out: Vec<RegistrationRequest> = self
            .store
            .range(Cf::ActorRequests, &[], None, MAX_PENDING + 1)?
            .into_iter()
            .map(|(_, v)| decode_json("registration request", &v))
            .collect::<std::result::Result<_, _>>()?;
        out.sort_by(|a, b| {
            b.received_at
                .cmp(&a.received_at)
                .then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        Ok(out)
    }

    /// One pending request by its key's fingerprint, or 404.
    pub fn registration_request(&self, fingerprint: &str) -> Result<RegistrationRequest> {
        let key = key_of_fingerprint(fingerprint)?;
        match self.store.get(Cf::ActorRequests, &key)? {
            Some(v) => Ok(decode_json("registration request", &v)?),
            None => Err(RegistryError::RequestNotFound {
                fingerprint: fingerprint.trim().to_string(),
            }
            .into()),
        }
    }

    /// Dismisses a pending request (the requester may file again), or 404.
    pub fn dismiss_registration(&self, fingerprint: &str) -> Result<()> {
        let key = key_of_fingerprint(fingerprint)?;
        let _g = lock(&self.lock)?;
        if self.store.get(Cf::ActorRequests, &key)?.is_none() {
            return Err(RegistryError::RequestNotFound {
                fingerprint: fingerprint.trim().to_string(),
            }
            .into());
        }
        let mut wb = WriteBatch::new();
        wb.delete(Cf::ActorRequests, key.to_vec());
        self.store.write(wb, Durability::Synced)?;
        info!(fingerprint = %fingerprint.trim(), "registration request dismissed");
        Ok(())
    }
}

/// Stages the removal of the requests for `keys` (base64 public keys just registered).
pub fn stage_registered(wb: &mut WriteBatch, keys: &[&str]) {
    for k in keys {
        if let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(k) {
            wb.delete(Cf::ActorRequests, Sha256::digest(&raw).to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::registry::{ActorInput, KeyInput};
    use crate::service::setup::test_service;
    use crate::service::{now_unix, Service};
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

    fn fields(svc: &Service, sk: &SigningKey, org: &str) -> RegistrationFields {
        RegistrationFields {
            log: svc.origin().to_string(),
            public_key: base64::engine::general_purpose::STANDARD
                .encode(sk.verifying_key().as_bytes()),
            actor: "bordeaux-lab".into(),
            organisation: org.into(),
            country: "FR".into(),
            role: Role::Inspector,
            contact: "qa@example.fr".into(),
            note: None,
            signed_at: now_unix(),
        }
    }

    fn signed_by(sk: &SigningKey, f: &RegistrationFields) -> RegistrationSubmission {
        let request = canonical_text(f).unwrap();
        let sig = sk.sign(&signed_bytes(&request));
        RegistrationSubmission {
            request,
            signature: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.to_bytes()),
        }
    }

    fn key(i: u8) -> SigningKey {
        SigningKey::from_bytes(&[i; 32])
    }

    fn code(e: &crate::service::ServiceError) -> String {
        e.code()
    }

    /// A signed request waits in the list until its key is registered, which removes it in
    /// the registration's own write.
    #[test]
    fn a_request_waits_until_its_key_is_registered() {
        let (svc, _) = test_service();
        let sk = key(7);
        let f = fields(&svc, &sk, "Laboratoire <b>Bordeaux</b>");
        let r = svc
            .registry()
            .requests()
            .request_registration(&signed_by(&sk, &f), now_unix())
            .unwrap();
        assert!(!r.replaced);
        assert_eq!(
            r.fingerprint,
            hex(&Sha256::digest(sk.verifying_key().as_bytes()))
        );
        assert_eq!(r.kid, &r.fingerprint[..8]);
        let list = svc.registry().requests().registration_requests().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].organisation, "Laboratoire <b>Bordeaux</b>");
        assert_eq!(list[0].actor, "bordeaux-lab");
        assert_eq!(
            svc.registry()
                .requests()
                .registration_request(&r.fingerprint)
                .unwrap(),
            list[0]
        );
        svc.registry()
            .register_actor(&ActorInput {
                id: "bordeaux-lab".into(),
                organisation: "Laboratoire Bordeaux".into(),
                country: "FR".into(),
                role: Role::Inspector,
                keys: vec![KeyInput {
                    public_key: list[0].public_key.clone(),
                    not_before: None,
                    not_after: None,
                    replaces: None,
                }],
            })
            .unwrap();
        assert!(svc
            .registry()
            .requests()
            .registration_requests()
            .unwrap()
            .is_empty());
        // A key added to an existing actor ends its request too.
        let sk2 = key(12);
        let desk = svc.registry().requests();
        desk.request_registration(&signed_by(&sk2, &fields(&svc, &sk2, "Lab")), now_unix())
            .unwrap();
        let pk2 = base64::engine::general_purpose::STANDARD.encode(sk2.verifying_key().as_bytes());
        let key2 = KeyInput {
            public_key: pk2,
            not_before: None,
            not_after: None,
            replaces: None,
        };
        svc.registry().add_actor_key("bordeaux-lab", &key2).unwrap();
        assert!(desk.registration_requests().unwrap().is_empty());
        let e = svc
            .registry()
            .requests()
            .registration_request(&r.fingerprint)
            .unwrap_err();
        assert_eq!(code(&e), "registry.request_not_found");
    }

    /// Refused: not canonical, signed by another key, for another log, stale, bad fields.
    /// None of them stores anything.
    #[test]
    fn a_request_must_be_canonical_signed_by_its_key_fresh_and_for_this_log() {
        let (svc, _) = test_service();
        let sk = key(8);
        let good = fields(&svc, &sk, "Dairy QA");
        let now = now_unix();
        let reg = svc.registry().requests();
        let mut spaced = signed_by(&sk, &good);
        spaced.request = spaced.request.replacen(',', ", ", 1);
        let e = reg.request_registration(&spaced, now).unwrap_err();
        assert!(e.to_string().contains("canonical"), "{e}");
        let other = signed_by(&key(9), &good);
        let e = reg.request_registration(&other, now).unwrap_err();
        assert_eq!(code(&e), "registry.bad_request_signature");
        let mut tampered = signed_by(&sk, &good);
        tampered.request = tampered.request.replace("Dairy QA", "Dairy QB");
        let e = reg.request_registration(&tampered, now).unwrap_err();
        assert_eq!(code(&e), "registry.bad_request_signature");
        let wrong_log = RegistrationFields {
            log: "other.example/log".into(),
            ..good.clone()
        };
        let e = reg
            .request_registration(&signed_by(&sk, &wrong_log), now)
            .unwrap_err();
        assert_eq!(code(&e), "registry.wrong_log");
        let e = reg
            .request_registration(&signed_by(&sk, &good), now + MAX_SKEW + 1)
            .unwrap_err();
        assert_eq!(code(&e), "registry.stale_request");
        for (bad, field) in [
            (
                RegistrationFields {
                    actor: "-x".into(),
                    ..good.clone()
                },
                "actor",
            ),
            (
                RegistrationFields {
                    organisation: " ".into(),
                    ..good.clone()
                },
                "organisation",
            ),
            (
                RegistrationFields {
                    contact: "a\u{7}b".into(),
                    ..good.clone()
                },
                "contact",
            ),
            (
                RegistrationFields {
                    country: "F1".into(),
                    ..good.clone()
                },
                "country",
            ),
            (
                RegistrationFields {
                    note: Some("n".repeat(MAX_NOTE + 1)),
                    ..good.clone()
                },
                "note",
            ),
        ] {
            let e = reg
                .request_registration(&signed_by(&sk, &bad), now)
                .unwrap_err();
            assert!(e.to_string().contains(field), "{field}: {e}");
        }
        let mut bad_sig = signed_by(&sk, &good);
        bad_sig.signature = "AAAA".into();
        assert!(reg.request_registration(&bad_sig, now).is_err());
        assert!(reg.registration_requests().unwrap().is_empty());
    }

    /// A second request for the same key replaces the first; dismissing removes it; an
    /// unknown or malformed fingerprint is 404.
    #[test]
    fn a_request_for_the_same_key_replaces_the_pending_one_and_can_be_dismissed() {
        let (svc, _) = test_service();
        let sk = key(10);
        let reg = svc.registry().requests();
        let first = reg
            .request_registration(&signed_by(&sk, &fields(&svc, &sk, "First")), now_unix())
            .unwrap();
        let second = reg
            .request_registration(&signed_by(&sk, &fields(&svc, &sk, "Second")), now_unix())
            .unwrap();
        assert!(second.replaced);
        assert_eq!(first.fingerprint, second.fingerprint);
        let list = reg.registration_requests().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].organisation, "Second");
        for fp in ["", "zz", &"0".repeat(64), &"g".repeat(64)] {
            let e = reg.dismiss_registration(fp).unwrap_err();
            assert_eq!(code(&e), "registry.request_not_found", "{fp:?}");
        }
        reg.dismiss_registration(&second.fingerprint.to_uppercase())
            .unwrap();
        assert!(reg.registration_requests().unwrap().is_empty());
        let e = reg.dismiss_registration(&second.fingerprint).unwrap_err();
        assert_eq!(code(&e), "registry.request_not_found");
    }

    /// At most `MAX_PENDING` wait: a new key past that is refused with 503 (nothing stored),
    /// while a request pending already may still be replaced.
    #[test]
    fn the_pending_list_is_capped() {
        let (svc, _) = test_service();
        let reg = svc.registry().requests();
        for i in 0..MAX_PENDING {
            let sk = SigningKey::from_bytes(&Sha256::digest(i.to_be_bytes()).into());
            reg.request_registration(&signed_by(&sk, &fields(&svc, &sk, "Org")), now_unix())
                .unwrap();
        }
        let sk = key(11);
        let e = reg
            .request_registration(&signed_by(&sk, &fields(&svc, &sk, "Late")), now_unix())
            .unwrap_err();
        assert_eq!(code(&e), "registry.too_many_requests");
        assert_eq!(e.kind(), crate::service::ErrorKind::Unavailable);
        assert_eq!(reg.registration_requests().unwrap().len(), MAX_PENDING);
        let sk0 = SigningKey::from_bytes(&Sha256::digest(0usize.to_be_bytes()).into());
        let r = reg
            .request_registration(&signed_by(&sk0, &fields(&svc, &sk0, "Again")), now_unix())
            .unwrap();
        assert!(r.replaced);
    }

    proptest! {
        /// The decoder of untrusted requests never panics, and accepts nothing unsigned.
        #[test]
        fn any_request_text_is_refused_without_a_panic(request in ".{0,300}", signature in "[A-Za-z0-9_-]{0,100}") {
            let sub = RegistrationSubmission { request, signature };
            prop_assert!(check_submission(&sub, "log", 0).is_err());
        }

        /// Random fields that pass the checks are accepted once signed, and their text reads
        /// back to the same fields.
        #[test]
        fn signed_random_fields_read_back(org in "[^\\p{Cc}]{1,50}", contact in "[^\\p{Cc}]{1,50}", note in proptest::option::of("[^\\p{Cc}]{1,80}"), seed in any::<[u8; 32]>()) {
            prop_assume!(!org.trim().is_empty() && !contact.trim().is_empty());
            let sk = SigningKey::from_bytes(&seed);
            prop_assume!(!sk.verifying_key().is_weak());
            let f = RegistrationFields {
                log: "log".into(),
                public_key: base64::engine::general_purpose::STANDARD.encode(sk.verifying_key().as_bytes()),
                actor: "a-1".into(),
                organisation: org,
                country: "AU".into(),
                role: Role::Carrier,
                contact,
                note,
                signed_at: 1_800_000_000,
            };
            let (back, vk) = check_submission(&signed_by(&sk, &f), "log", 1_800_000_000).unwrap();
            prop_assert_eq!(back, f);
            prop_assert_eq!(vk, sk.verifying_key());
        }
    }
}
