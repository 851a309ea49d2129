//! The actor registry: actors and their keys (added, rotated, revoked), each change a logged
//! operator record.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use base64::Engine;
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use tracing::{info, instrument};
use utoipa::ToSchema;

use super::base::{check_text, check_unix, now_unix, Result, ServiceError, WriteLocks};
use super::errors::{CustodyError, InputError, RegistryError};
use super::log::{LogBook, PendingLeaf};
use crate::code::KeyId;
use crate::custody::record::check_actor_id;
use crate::custody::ActorOp;
use crate::custody::Role;
use crate::gs1::CountryCode;
use crate::leaf::LeafRecord;
use crate::merkle;
use crate::store::schema::decode_json;
use crate::store::schema::encode_json;
use crate::store::schema::key_after;
use crate::store::Cf;
use crate::store::Store;

pub mod requests;

/// Most keys one actor may hold (active or not).
pub const MAX_ACTOR_KEYS: usize = 32;

/// A public key in a request that is not a usable Ed25519 key.
#[derive(Debug, thiserror::Error)]
pub enum KeyInputError {
    /// A private key was sent.
    #[error("public_key is a PRIVATE key: send only the public key (`traceseal actor-key` prints it); the private key never leaves the actor")]
    PrivateKey,
    /// Neither PEM nor base64.
    #[error("public_key must be base64 of 32 bytes or a PEM public key")]
    NotBase64,
    /// Base64 of the wrong length.
    #[error("public_key is {0} bytes, an Ed25519 key is 32")]
    Length(usize),
    /// 32 bytes that are not a curve point.
    #[error("public_key is not a valid Ed25519 point")]
    NotAPoint,
    /// A small-order point.
    #[error("public_key is a weak (small-order) Ed25519 key")]
    Weak,
    /// PEM that is not an Ed25519 key.
    #[error("public_key: {0}")]
    Pem(#[from] crate::keys::PemError),
}

/// An actor's key as stored and served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActorKey {
    /// Key id: first 4 bytes of SHA-256 of the public key, 8 hex.
    pub kid: String,
    /// Base64 of the 32-byte Ed25519 public key.
    pub public_key: String,
    /// Valid from, Unix seconds.
    pub not_before: i64,
    /// Valid until (exclusive), Unix seconds.
    pub not_after: Option<i64>,
    /// Revoked: signatures made at or after this time are invalid.
    pub revoked_from: Option<i64>,
    /// Why it was revoked.
    pub revoke_reason: Option<String>,
    /// The key this one rotated out.
    pub replaces: Option<String>,
    /// Leaf index of its registration record.
    pub leaf_index: u64,
}

impl ActorKey {
    /// Whether the key was valid at Unix time `t`; otherwise why not (not yet valid, expired
    /// or revoked: a refused signature, HTTP 401).
    pub fn valid_at(&self, t: i64) -> std::result::Result<(), CustodyError> {
        if t < self.not_before {
            return Err(CustodyError::KeyNotYetValid {
                kid: self.kid.clone(),
                from: self.not_before,
            });
        }
        if let Some(na) = self.not_after.filter(|na| t >= *na) {
            return Err(self.expired(na));
        }
        if let Some(r) = self.revoked_from.filter(|r| t >= *r) {
            return Err(self.revoked(r));
        }
        Ok(())
    }

    /// Whether new statements may still be accepted with the key at server time `now`: a
    /// revocation or an expiry in effect (or within the second) refuses it, whatever the
    /// statement's own `signed_at`.
    pub fn usable_now(&self, now: i64) -> std::result::Result<(), CustodyError> {
        if let Some(r) = self.revoked_from.filter(|r| *r <= now + 1) {
            return Err(self.revoked(r));
        }
        if let Some(na) = self.not_after.filter(|na| *na <= now + 1) {
            return Err(self.expired(na));
        }
        Ok(())
    }

    fn expired(&self, at: i64) -> CustodyError {
        CustodyError::KeyExpired {
            kid: self.kid.clone(),
            at,
        }
    }

    fn revoked(&self, from: i64) -> CustodyError {
        CustodyError::KeyRevoked {
            kid: self.kid.clone(),
            from,
            reason: self.revoke_reason.clone(),
        }
    }

    pub fn verifying_key(&self) -> Result<VerifyingKey> {
        decode_public_key(&self.public_key)
            .map_err(|e| ServiceError::Internal(format!("stored key {}: {e}", self.kid)))
    }
}

/// A registered actor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Actor {
    /// Actor id (`[a-z0-9-]`, chosen by the operator).
    pub id: String,
    /// Organisation name.
    pub organisation: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// `inspector`, `carrier`, `customs_broker`, `bonded_warehouse` or `retailer`.
    #[schema(value_type = String)]
    pub role: Role,
    /// Registration time, Unix seconds.
    pub created_at: i64,
    /// Every key ever registered, with validity and revocation.
    pub keys: Vec<ActorKey>,
    /// Leaf indexes of the actor's registry records, in order.
    pub records: Vec<u64>,
}

/// A public key in a request: base64 of the 32 raw bytes, or an SPKI PEM.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KeyInput {
    /// Base64 of the 32-byte Ed25519 public key, or `-----BEGIN PUBLIC KEY-----` PEM.
    pub public_key: String,
    /// Valid from, Unix seconds (default: now).
    #[serde(default)]
    pub not_before: Option<i64>,
    /// Valid until (exclusive), Unix seconds.
    #[serde(default)]
    pub not_after: Option<i64>,
    /// Rotation: the kid of the actor's key this one replaces; that key's validity ends at
    /// this key's `not_before`.
    #[serde(default)]
    pub replaces: Option<String>,
}

/// Body of `POST /api/v1/actors`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActorInput {
    /// Actor id: 2–64 characters of `a-z`, `0-9`, `-`.
    pub id: String,
    /// Organisation name, 1–200 characters.
    pub organisation: String,
    /// ISO 3166-1 alpha-2 country.
    pub country: String,
    /// The actor's role.
    #[schema(value_type = String)]
    pub role: Role,
    /// Its public key(s), at least one.
    pub keys: Vec<KeyInput>,
}

/// Body of `POST /api/v1/actors/{id}/keys/{kid}/revoke`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeInput {
    /// Why, 1–200 characters.
    pub reason: String,
    /// Unix seconds from which signatures are invalid (default: the next second; may be in
    /// the past, e.g. the time of a key compromise). New submissions with the key are refused
    /// once the revocation is in effect.
    #[serde(default)]
    pub revoked_from: Option<i64>,
}

/// Decodes a public key given as base64 of 32 bytes or an SPKI PEM.
pub fn decode_public_key(s: &str) -> std::result::Result<VerifyingKey, KeyInputError> {
    let s = s.trim();
    let vk = if s.starts_with("-----BEGIN") {
        if s.contains("PRIVATE KEY") {
            return Err(KeyInputError::PrivateKey);
        }
        crate::keys::public_key_from_pem(s)?
    } else {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| KeyInputError::NotBase64)?;
        let arr: [u8; 32] = raw
            .as_slice()
            .try_into()
            .map_err(|_| KeyInputError::Length(raw.len()))?;
        VerifyingKey::from_bytes(&arr).map_err(|_| KeyInputError::NotAPoint)?
    };
    if vk.is_weak() {
        return Err(KeyInputError::Weak);
    }
    Ok(vk)
}

/// The registry of custody actors and their keys (every change a log leaf).
pub struct ActorRegistry {
    store: Arc<dyn Store>,
    locks: Arc<WriteLocks>,
    log: Arc<LogBook>,
    registry_generation: AtomicU64,
    /// Public keys already decoded (and checked): decoding one is a point decompression,
    /// a sixth of a signature check, paid once per key instead of once per submission.
    decoded: std::sync::Mutex<HashMap<String, VerifyingKey>>,
    /// Registration requests waiting for the operator.
    desk: requests::RegistrationDesk,
}

/// Most decoded keys kept; the cache starts over when full.
const DECODED_KEYS: usize = 4096;

impl ActorRegistry {
    /// The registry over `store`, logging to `log`.
    pub fn new(store: Arc<dyn Store>, locks: Arc<WriteLocks>, log: Arc<LogBook>) -> ActorRegistry {
        let desk = requests::RegistrationDesk::new(store.clone(), log.origin().to_string());
        ActorRegistry {
            store,
            locks,
            log,
            registry_generation: AtomicU64::new(0),
            decoded: Default::default(),
            desk,
        }
    }

    /// The registration requests waiting for the operator.
    pub fn requests(&self) -> &requests::RegistrationDesk {
        &self.desk
    }

    /// Changes on every registry write (views of records show the signers' registry state,
    /// e.g. a revocation, so cached views depend on it).
    pub fn generation(&self) -> u64 {
        self.registry_generation.load(Ordering::Acquire)
    }
}

impl ActorRegistry {
    // ----- actor registry -----

    /// One actor.
    pub fn actor(&self, id: &str) -> Result<Actor> {
        self.find_actor(id)?
            .ok_or_else(|| RegistryError::ActorNotFound { id: id.to_string() }.into())
    }

    /// `key`'s verifying key, decoded once per process.
    pub(crate) fn verifying_key(&self, key: &ActorKey) -> Result<VerifyingKey> {
        let mut cache = self.decoded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = cache.get(&key.public_key) {
            return Ok(*k);
        }
        let k = key.verifying_key()?;
        if cache.len() >= DECODED_KEYS {
            cache.clear();
        }
        cache.insert(key.public_key.clone(), k);
        Ok(k)
    }

    pub(crate) fn find_actor(&self, id: &str) -> Result<Option<Actor>> {
        match self.store.get(Cf::Actors, id.as_bytes())? {
            Some(v) => Ok(Some(decode_json("actor", &v)?)),
            None => Ok(None),
        }
    }

    /// Actors with ids after `after`, at most `limit`.
    pub fn list_actors(&self, after: &str, limit: usize) -> Result<Vec<Actor>> {
        let start = if after.is_empty() {
            Vec::new()
        } else {
            key_after(after.as_bytes())
        };
        self.store
            .range(
                Cf::Actors,
                &start,
                None,
                limit.min(crate::service::master::MAX_LIST),
            )?
            .iter()
            .map(|(_, v)| Ok(decode_json("actor", v)?))
            .collect()
    }

    pub(super) fn key_op(
        &self,
        actor: &Actor,
        k: &KeyInput,
        at: i64,
    ) -> Result<(ActorOp, ActorKey)> {
        let vk = decode_public_key(&k.public_key).map_err(|e| InputError::parse("keys", e))?;
        let kid = KeyId::of(&vk).to_string();
        if actor.keys.iter().any(|x| x.kid == kid) {
            return Err(RegistryError::DuplicateKey {
                actor: actor.id.clone(),
                kid,
            }
            .into());
        }
        if actor.keys.len() >= MAX_ACTOR_KEYS {
            return Err(RegistryError::TooManyKeys {
                actor: actor.id.clone(),
                max: MAX_ACTOR_KEYS,
            }
            .into());
        }
        let not_before = k.not_before.unwrap_or(at);
        check_unix("not_before", not_before)?;
        if let Some(na) = k.not_after {
            check_unix("not_after", na)?;
            if na <= not_before {
                return Err(InputError::field(
                    "not_after",
                    "not_after must be later than not_before",
                )
                .into());
            }
        }
        if let Some(r) = &k.replaces {
            if !actor.keys.iter().any(|x| &x.kid == r) {
                return Err(RegistryError::ReplacedKeyNotFound {
                    actor: actor.id.clone(),
                    kid: r.clone(),
                }
                .into());
            }
        }
        let public_key = base64::engine::general_purpose::STANDARD.encode(vk.as_bytes());
        let op = ActorOp::AddKey {
            actor: actor.id.clone(),
            kid: kid.clone(),
            public_key: public_key.clone(),
            not_before,
            not_after: k.not_after,
            replaces: k.replaces.clone(),
            at,
        };
        let key = ActorKey {
            kid,
            public_key,
            not_before,
            not_after: k.not_after,
            revoked_from: None,
            revoke_reason: None,
            replaces: k.replaces.clone(),
            leaf_index: 0,
        };
        Ok((op, key))
    }

    pub(super) fn append_ops(
        &self,
        ops: Vec<ActorOp>,
        mut actor: Actor,
        apply: impl FnOnce(&mut Actor, u64),
    ) -> Result<Actor> {
        let leaves: Vec<PendingLeaf> = ops
            .iter()
            .map(|op| {
                let data = op.leaf();
                // Never log a leaf that does not read back (the log is append-only).
                LeafRecord::parse(&data).map_err(|e| {
                    ServiceError::Internal(format!("refusing to log an unreadable record: {e}"))
                })?;
                Ok(PendingLeaf {
                    hash: merkle::leaf_hash(&data),
                    data,
                })
            })
            .collect::<Result<_>>()?;
        let n = leaves.len() as u64;
        // The keys these records add: their registration requests, if any, end with them.
        let added: Vec<&str> = ops
            .iter()
            .filter_map(|op| match op {
                ActorOp::AddKey { public_key, .. } => Some(public_key.as_str()),
                _ => None,
            })
            .collect();
        let mut out = None;
        self.log.append_leaves(leaves, |first, wb| {
            apply(&mut actor, first);
            actor.records.extend(first..first + n);
            wb.put(Cf::Actors, actor.id.as_bytes(), encode_json(&actor));
            requests::stage_registered(wb, &added);
            out = Some(actor.clone());
            Ok(())
        })?;
        self.registry_generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        out.ok_or_else(|| ServiceError::Internal("actor write did not run".into()))
    }

    /// Registers an actor with its keys: one `register` and one `add_key` log record each.
    #[instrument(skip(self, input), fields(actor = %input.id))]
    pub fn register_actor(&self, input: &ActorInput) -> Result<Actor> {
        check_actor_id(&input.id).map_err(|e| InputError::field("id", e.to_string()))?;
        let organisation = check_text("organisation", &input.organisation)?;
        let country =
            CountryCode::parse(&input.country).map_err(|e| InputError::parse("country", e))?;
        if input.keys.is_empty() {
            return Err(InputError::field("keys", "an actor needs at least one public key").into());
        }
        if input.keys.iter().any(|k| k.replaces.is_some()) {
            return Err(InputError::field(
                "replaces",
                "replaces is for rotating a key of an existing actor",
            )
            .into());
        }
        let _g = self.locks.custody_change()?;
        if self.find_actor(&input.id)?.is_some() {
            return Err(RegistryError::ActorExists {
                id: input.id.clone(),
            }
            .into());
        }
        let at = now_unix();
        let mut actor = Actor {
            id: input.id.clone(),
            organisation: organisation.clone(),
            country: country.as_str().to_string(),
            role: input.role,
            created_at: at,
            keys: Vec::new(),
            records: Vec::new(),
        };
        let mut ops = vec![ActorOp::Register {
            actor: actor.id.clone(),
            organisation,
            country: actor.country.clone(),
            role: input.role,
            at,
        }];
        for k in &input.keys {
            let (op, key) = self.key_op(&actor, k, at)?;
            ops.push(op);
            actor.keys.push(key);
        }
        let a = self.append_ops(ops, actor, |a, first| {
            for (i, k) in a.keys.iter_mut().enumerate() {
                k.leaf_index = first + 1 + i as u64;
            }
        })?;
        info!(actor = %a.id, role = %a.role, keys = a.keys.len(), "registered actor");
        Ok(a)
    }

    /// Adds (or, with `replaces`, rotates in) a key.
    #[instrument(skip(self, input))]
    pub fn add_actor_key(&self, id: &str, input: &KeyInput) -> Result<Actor> {
        let _g = self.locks.custody_change()?;
        let mut actor = self.actor(id)?;
        let at = now_unix();
        let (op, key) = self.key_op(&actor, input, at)?;
        if let Some(r) = &input.replaces {
            for k in actor.keys.iter_mut().filter(|k| &k.kid == r) {
                k.not_after = Some(
                    k.not_after
                        .map_or(key.not_before, |na| na.min(key.not_before)),
                );
            }
        }
        actor.keys.push(key);
        let a = self.append_ops(vec![op], actor, |a, first| {
            if let Some(k) = a.keys.last_mut() {
                k.leaf_index = first;
            }
        })?;
        info!(actor = %a.id, "added actor key");
        Ok(a)
    }

    /// Revokes a key from `revoked_from` (default now).
    #[instrument(skip(self, input))]
    pub fn revoke_actor_key(&self, id: &str, kid: &str, input: &RevokeInput) -> Result<Actor> {
        let reason = check_text("reason", &input.reason)?;
        let _g = self.locks.custody_change()?;
        let mut actor = self.actor(id)?;
        let at = now_unix();
        // Default: from the next second, so records accepted before the revocation (possibly
        // signed in this very second) are not flagged; new submissions are refused at once
        // (see `submit_at`).
        let from = input.revoked_from.unwrap_or(at + 1);
        check_unix("revoked_from", from)?;
        let k = actor
            .keys
            .iter_mut()
            .find(|k| k.kid == kid)
            .ok_or_else(|| RegistryError::KeyNotFound {
                actor: id.to_string(),
                kid: kid.to_string(),
            })?;
        if let Some(prev) = k.revoked_from {
            if prev <= from {
                return Err(RegistryError::AlreadyRevoked {
                    kid: kid.to_string(),
                    from: prev,
                }
                .into());
            }
        }
        k.revoked_from = Some(from);
        k.revoke_reason = Some(reason.clone());
        let op = ActorOp::RevokeKey {
            actor: id.to_string(),
            kid: kid.to_string(),
            revoked_from: from,
            reason,
            at,
        };
        let a = self.append_ops(vec![op], actor, |_, _| {})?;
        info!(actor = %id, kid, "revoked actor key");
        Ok(a)
    }

    // ----- submissions -----
}
