//! Issuer keys: the key registry (column family `keys`, with the log key), which issuer key
//! signs new batches, which keys verify codes and which are revoked, and the operator's two
//! changes: a **rotation** (a new key signs new batches, the old one is retired; its codes
//! stay valid) and a **revocation** (codes of batches issued at or after a time are not
//! genuine). Each change is logged as `traceseal/issuer-key/v1` leaves ([`crate::issuer`]) in
//! the same synced write as the registry rows, so it is checkpointed and anchored.
//!
//! The private keys are files (`keys/issuer.pem` from `init`, `keys/issuer-<kid>.pem` from each
//! rotation; [`super::setup`] finds them). The keyring is given every key file's key at open:
//! those the registry knows can sign (the current one new batches, a retired one the rest of
//! an interrupted batch it started), the others are *pending*, left by a rotation that stopped
//! between writing the file and registering the key ([`Keyring::pending`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use base64::Engine;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use tracing::{info, instrument};
use utoipa::ToSchema;

use super::base::{check_text, check_unix, lock, now, rfc3339, Result, ServiceError, WriteLocks};
use super::errors::{InputError, KeyError};
use super::log::{LogBook, PendingLeaf};
use crate::code::KeyId;
use crate::issuer::{parse_when, IssuerKeyOp, Revocation};
use crate::leaf::LeafRecord;
use crate::merkle;
use crate::store::schema::{decode_json, encode_json};
use crate::store::{Cf, Store, WriteBatch};

/// `role` of an issuer key.
pub const ISSUER: &str = "issuer";
/// `role` of the log key.
pub const LOG: &str = "log";

/// A public key of the service, with its validity (as served by `GET /api/v1/keys`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeyInfo {
    /// Key id: 8 hex chars (issuer: SHA-256 of the public key; log: C2SP note key id).
    pub kid: String,
    /// `issuer` (signs codes) or `log` (signs checkpoints).
    pub role: String,
    /// Always `Ed25519`.
    pub algorithm: String,
    /// Base64 of the 32 raw public key bytes.
    pub public_key: String,
    /// RFC 3339 start of validity: an issuer key signs the batches created from then on.
    pub not_before: String,
    /// RFC 3339 end of validity: an issuer key retired by a rotation signs no batch created
    /// from then on (the codes it signed before stay valid).
    pub not_after: Option<String>,
    /// RFC 3339 time an issuer key is revoked from: codes of batches issued at or after it are
    /// not genuine (reason `issuer_key_revoked`); those issued before stay genuine.
    #[serde(default)]
    pub revoked_from: Option<String>,
    /// Why it was revoked.
    #[serde(default)]
    pub revoke_reason: Option<String>,
    /// True for the issuer key that signs new batches (exactly one).
    #[serde(default)]
    pub current: bool,
    /// Leaf index of the key's `add` record (`null` for the key `init` created: it is in the
    /// log from its first `retire` or `revoke` record on).
    #[serde(default)]
    pub leaf_index: Option<u64>,
    /// Leaf indexes of every `traceseal/issuer-key/v1` record about the key, in log order.
    #[serde(default)]
    pub records: Vec<u64>,
    /// For the log key: its C2SP verifier key string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vkey: Option<String>,
}

/// Response of `GET /api/v1/keys`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct KeySet {
    /// Every issuer and log key.
    pub keys: Vec<KeyInfo>,
}

impl KeyInfo {
    /// A new key record (no end, not revoked, no log record yet).
    pub fn new(kid: String, role: &str, key: &VerifyingKey, not_before: i64) -> KeyInfo {
        KeyInfo {
            kid,
            role: role.into(),
            algorithm: "Ed25519".into(),
            public_key: base64::engine::general_purpose::STANDARD.encode(key.as_bytes()),
            not_before: rfc3339(not_before),
            not_after: None,
            revoked_from: None,
            revoke_reason: None,
            current: role == ISSUER,
            leaf_index: None,
            records: Vec::new(),
            vkey: None,
        }
    }

    /// The Ed25519 key.
    pub fn verifying_key(&self) -> Option<VerifyingKey> {
        base64::engine::general_purpose::STANDARD
            .decode(&self.public_key)
            .ok()
            .and_then(|b| <[u8; 32]>::try_from(b.as_slice()).ok())
            .and_then(|b| VerifyingKey::from_bytes(&b).ok())
    }

    /// Its revocation, if revoked (a `revoked_from` that does not parse counts from 0).
    pub fn revocation(&self) -> Option<Revocation> {
        self.revoked_from.as_ref().map(|f| Revocation {
            from: parse_when(f).unwrap_or(0),
            reason: self.revoke_reason.clone().unwrap_or_default(),
        })
    }

    /// `current` recomputed: the issuer key with no end and no revocation. (Records written
    /// before rotation existed have no `current` field.)
    fn normalise(mut self) -> KeyInfo {
        self.current =
            self.role == ISSUER && self.not_after.is_none() && self.revoked_from.is_none();
        self
    }
}

/// An issuer key able to sign codes.
pub struct Issuer {
    /// The private key (never logged: its `Debug` shows only the public half).
    pub key: SigningKey,
    /// Its key id.
    pub kid: KeyId,
}

/// Writes a key record into `wb` (`init`, and the keyring's own changes).
pub(crate) fn put_key(wb: &mut WriteBatch, info: &KeyInfo) {
    wb.put(Cf::Keys, info.kid.as_bytes(), encode_json(info));
}

/// What a rotation did.
#[derive(Clone, Debug)]
pub struct Rotation {
    /// The retired key (its record as now).
    pub retired: KeyInfo,
    /// The new current key.
    pub added: KeyInfo,
}

/// A revocation asked for.
#[derive(Clone, Debug)]
pub struct RevokeInput {
    /// Unix seconds: codes of batches issued at or after it are not genuine; not in the
    /// future.
    pub from: i64,
    /// Why (1–200 characters, no control characters).
    pub reason: String,
}

struct State {
    infos: BTreeMap<String, KeyInfo>,
    signers: HashMap<KeyId, Arc<Issuer>>,
    pending: Vec<SigningKey>,
}

/// The issuer keys and the log key's record.
pub struct Keyring {
    locks: Arc<WriteLocks>,
    log: Arc<LogBook>,
    state: RwLock<State>,
}

impl Keyring {
    /// The keyring over `store`, with the private keys of the key files: those registered as
    /// issuer keys can sign, the others are pending. Refuses a registry whose current issuer
    /// key has no key file.
    pub fn open(
        store: Arc<dyn Store>,
        locks: Arc<WriteLocks>,
        log: Arc<LogBook>,
        files: Vec<SigningKey>,
    ) -> Result<Keyring> {
        let mut infos = BTreeMap::new();
        for (_, v) in store.range(Cf::Keys, &[], None, usize::MAX)? {
            let info = decode_json::<KeyInfo>("key record", &v)?.normalise();
            if info.verifying_key().is_none() {
                return Err(ServiceError::internal(format!(
                    "key {} is corrupt",
                    info.kid
                )));
            }
            infos.insert(info.kid.clone(), info);
        }
        let mut state = State {
            infos,
            signers: HashMap::new(),
            pending: Vec::new(),
        };
        for key in files {
            let kid = KeyId::of(&key.verifying_key());
            match state.infos.get(&kid.to_string()) {
                Some(i) if i.role == ISSUER && i.verifying_key() == Some(key.verifying_key()) => {
                    state.signers.insert(kid, Arc::new(Issuer { key, kid }));
                }
                _ if state.pending.iter().any(|p| p == &key) => {}
                _ => state.pending.push(key),
            }
        }
        let current = current_kid(&state)?;
        if !state.signers.contains_key(&current) {
            return Err(KeyError::CurrentKeyFileMissing {
                kid: current.to_string(),
            }
            .into());
        }
        Ok(Keyring {
            locks,
            log,
            state: RwLock::new(state),
        })
    }

    fn read(&self) -> Result<std::sync::RwLockReadGuard<'_, State>> {
        self.state
            .read()
            .map_err(|_| ServiceError::internal("keyring lock poisoned"))
    }

    /// The key that signs new batches.
    pub fn current(&self) -> Result<Arc<Issuer>> {
        let st = self.read()?;
        let kid = current_kid(&st)?;
        st.signers.get(&kid).cloned().ok_or_else(|| {
            KeyError::CurrentKeyFileMissing {
                kid: kid.to_string(),
            }
            .into()
        })
    }

    /// The private key of issuer key `kid`, when its file was loaded.
    pub fn signer(&self, kid: KeyId) -> Result<Option<Arc<Issuer>>> {
        Ok(self.read()?.signers.get(&kid).cloned())
    }

    /// The registered issuer key `kid` and its revocation.
    pub fn issuer_key(&self, kid: KeyId) -> Result<Option<(VerifyingKey, Option<Revocation>)>> {
        let st = self.read()?;
        Ok(st
            .infos
            .get(&kid.to_string())
            .filter(|i| i.role == ISSUER)
            .and_then(|i| Some((i.verifying_key()?, i.revocation()))))
    }

    /// Whether `key` is the registered log key.
    pub fn is_log_key(&self, key: &VerifyingKey) -> Result<bool> {
        Ok(self
            .read()?
            .infos
            .values()
            .any(|i| i.role == LOG && i.verifying_key().as_ref() == Some(key)))
    }

    /// Every key, by key id (`GET /api/v1/keys`).
    pub fn key_set(&self) -> Result<KeySet> {
        Ok(KeySet {
            keys: self.read()?.infos.values().cloned().collect(),
        })
    }

    /// The leaf indexes of the log records about issuer key `kid`.
    pub fn records_of(&self, kid: KeyId) -> Result<Vec<u64>> {
        Ok(self
            .read()?
            .infos
            .get(&kid.to_string())
            .map(|i| i.records.clone())
            .unwrap_or_default())
    }

    /// Keys of key files the registry does not know: left by a rotation that wrote the new
    /// key's file and stopped before registering it.
    pub fn pending(&self) -> Result<Vec<SigningKey>> {
        Ok(self.read()?.pending.clone())
    }
}

/// The id of the current issuer key: exactly one issuer key has no end and no revocation.
fn current_kid(st: &State) -> Result<KeyId> {
    let mut current = st.infos.values().filter(|i| i.current);
    match (current.next(), current.next()) {
        (Some(i), None) => KeyId::parse(&i.kid)
            .map_err(|e| ServiceError::internal(format!("key id {:?}: {e}", i.kid))),
        (None, _) => Err(ServiceError::internal(
            "no current issuer key is registered",
        )),
        (Some(_), Some(_)) => Err(ServiceError::internal(
            "more than one current issuer key is registered",
        )),
    }
}

impl Keyring {
    /// Rotates: `new` signs the batches created from now on, the current key is retired (its
    /// codes stay valid). Logs a `retire` and an `add` record with both registry rows in one
    /// synced write. `new` must already be durable in its key file (the caller writes it
    /// first, so a crash leaves a pending key file, never a registered key without its file).
    #[instrument(skip(self, new))]
    pub fn rotate(&self, new: SigningKey) -> Result<Rotation> {
        let _g = lock(&self.locks.batches)?;
        let mut st = self
            .state
            .write()
            .map_err(|_| ServiceError::internal("keyring lock poisoned"))?;
        let old_kid = current_kid(&st)?;
        let kid = KeyId::of(&new.verifying_key());
        if st.infos.contains_key(&kid.to_string()) {
            return Err(ServiceError::internal(format!(
                "the new key's id {kid} is registered already"
            )));
        }
        let at = now().unix_timestamp();
        let mut retired = st.infos[&old_kid.to_string()].clone();
        retired.not_after = Some(rfc3339(at));
        let mut retired = retired.normalise();
        let mut added = KeyInfo::new(kid.to_string(), ISSUER, &new.verifying_key(), at);
        let ops = vec![
            IssuerKeyOp::Retire {
                kid: retired.kid.clone(),
                public_key: retired.public_key.clone(),
                not_after: at,
                replaced_by: added.kid.clone(),
                at,
            },
            IssuerKeyOp::Add {
                kid: added.kid.clone(),
                public_key: added.public_key.clone(),
                not_before: at,
                replaces: Some(retired.kid.clone()),
                at,
            },
        ];
        self.append(ops, |first, wb| {
            retired.records.push(first);
            added.leaf_index = Some(first + 1);
            added.records.push(first + 1);
            put_key(wb, &retired);
            put_key(wb, &added);
        })?;
        info!(retired = %retired.kid, current = %added.kid, "issuer key rotated");
        st.pending.retain(|p| p != &new);
        st.signers.insert(kid, Arc::new(Issuer { key: new, kid }));
        st.infos.insert(retired.kid.clone(), retired.clone());
        st.infos.insert(added.kid.clone(), added.clone());
        Ok(Rotation { retired, added })
    }

    /// Revokes issuer key `kid`: codes of batches issued at or after `input.from` are not
    /// genuine from now on. Logs a `revoke` record with the registry row in one synced write.
    /// Refused for the current key (rotate first), for an unknown key, and for a key revoked
    /// from the same or an earlier time already (a later revocation may move it earlier).
    #[instrument(skip(self, input))]
    pub fn revoke(&self, kid: &str, input: &RevokeInput) -> Result<KeyInfo> {
        let id = KeyId::parse(kid).map_err(|e| InputError::parse("kid", e))?;
        let reason = check_text("reason", &input.reason)?;
        check_unix("from", input.from)?;
        let at = now().unix_timestamp();
        if input.from > at {
            return Err(InputError::field(
                "from",
                format!(
                    "from {} is in the future: a revocation starts now at the latest",
                    rfc3339(input.from)
                ),
            )
            .into());
        }
        let _g = lock(&self.locks.batches)?;
        let mut st = self
            .state
            .write()
            .map_err(|_| ServiceError::internal("keyring lock poisoned"))?;
        let mut info = match st.infos.get(&id.to_string()) {
            Some(i) if i.role == ISSUER => i.clone(),
            _ => {
                return Err(KeyError::KeyNotFound {
                    kid: id.to_string(),
                }
                .into())
            }
        };
        if info.current {
            return Err(KeyError::CurrentKey { kid: info.kid }.into());
        }
        if let Some(r) = info.revocation().filter(|r| r.from <= input.from) {
            return Err(KeyError::AlreadyRevoked {
                kid: info.kid,
                from: r.from,
            }
            .into());
        }
        let op = IssuerKeyOp::Revoke {
            kid: info.kid.clone(),
            public_key: info.public_key.clone(),
            revoked_from: input.from,
            reason: reason.clone(),
            at,
        };
        self.append(vec![op], |first, wb| {
            info.revoked_from = Some(rfc3339(input.from));
            info.revoke_reason = Some(reason.clone());
            info.records.push(first);
            put_key(wb, &info);
        })?;
        info!(kid = %info.kid, from = input.from, "issuer key revoked");
        st.infos.insert(info.kid.clone(), info.clone());
        Ok(info)
    }

    /// Appends `ops` as leaves, with the registry rows `rows` writes, in one synced write.
    fn append(
        &self,
        ops: Vec<IssuerKeyOp>,
        rows: impl FnOnce(u64, &mut WriteBatch),
    ) -> Result<u64> {
        let leaves = ops
            .iter()
            .map(|op| {
                let data = op.leaf();
                // Never log a leaf that does not read back (the log is append-only).
                LeafRecord::parse(&data).map_err(|e| {
                    ServiceError::internal(format!("refusing to log an unreadable record: {e}"))
                })?;
                Ok(PendingLeaf {
                    hash: merkle::leaf_hash(&data),
                    data,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        self.log.append_leaves(leaves, |first, wb| {
            rows(first, wb);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    //! Rotation and revocation over the in-memory store: which key signs, what scans and
    //! bundles say before and after a revocation's `from`, refusals that write nothing, and a
    //! batch interrupted across a rotation.

    use super::*;
    use crate::code::Code;
    use crate::service::base::now_unix;
    use crate::service::issuance::tests::req;
    use crate::service::master::tests::seed;
    use crate::service::setup::test_service;
    use crate::service::telemetry::VerdictKind;
    use crate::service::{ErrorKind, Service};

    /// Issues `q` codes under `key` (an idempotency key); returns the batch and its codes.
    fn issue(svc: &Service, q: u64, key: &str) -> (crate::service::issuance::Batch, Vec<Code>) {
        let (b, _) = svc.issuance().issue_batch(&req(q), key, &|_| {}).unwrap();
        let codes = svc.issuance().batch_codes(&b, 0, 100).unwrap();
        let codes = codes
            .iter()
            .map(|c| Code::parse(&c.code).unwrap())
            .collect();
        (b, codes)
    }

    /// Waits for the wall clock's next second (batch times are whole seconds).
    fn next_second() -> i64 {
        let s = now_unix();
        while now_unix() == s {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        now_unix()
    }

    fn scan(svc: &Service, c: &Code) -> crate::service::verdict::Verdict {
        svc.scans().scan(c, None, time::OffsetDateTime::now_utc())
    }

    fn bundle(svc: &Service, c: &Code) -> crate::bundle::Bundle {
        svc.log().checkpoint_now().unwrap();
        let item = svc.issuance().issued_item(c).unwrap();
        svc.bundle(c, &item, None).unwrap()
    }

    fn refusal(e: ServiceError) -> (ErrorKind, String) {
        (e.kind(), e.code())
    }

    #[test]
    fn a_rotation_signs_new_batches_with_the_new_key_and_old_codes_stay_genuine() {
        let (svc, _) = test_service();
        seed(&svc);
        let k1 = svc.issuance().issuer().kid;
        let (a, old) = issue(&svc, 3, "a");
        assert_eq!(a.kid, k1.to_string());
        let size = svc.log().log_size().unwrap();
        let r = svc.keyring().rotate(crate::keys::generate()).unwrap();
        let k2 = svc.issuance().issuer().kid;
        assert_ne!(k1, k2);
        assert_eq!(
            (r.retired.kid.clone(), r.added.kid.clone()),
            (k1.to_string(), k2.to_string())
        );
        assert_eq!(
            svc.log().log_size().unwrap(),
            size + 2,
            "a retire and an add record"
        );
        let (b, new) = issue(&svc, 2, "b");
        assert_eq!(b.kid, k2.to_string());
        assert!(new.iter().all(|c| c.kid() == k2));
        for c in old.iter().chain(&new) {
            assert_eq!(scan(&svc, c).verdict, VerdictKind::Genuine);
        }
        // The registry as served: both keys, one current, with their log records.
        let keys = svc.keys().unwrap().keys;
        let info = |kid: KeyId| keys.iter().find(|k| k.kid == kid.to_string()).unwrap();
        let (i1, i2) = (info(k1), info(k2));
        assert!(!i1.current && i1.not_after.is_some() && i1.revoked_from.is_none());
        assert!(i2.current && i2.not_after.is_none());
        assert_eq!((i1.leaf_index, i1.records.clone()), (None, vec![size]));
        assert_eq!(
            (i2.leaf_index, i2.records.clone()),
            (Some(size + 1), vec![size + 1])
        );
        let leaf = LeafRecord::parse(&svc.log().leaf_data(size).unwrap()).unwrap();
        assert!(
            matches!(&leaf, LeafRecord::IssuerKey(IssuerKeyOp::Retire { replaced_by, .. }) if *replaced_by == k2.to_string())
        );
        // An old code's bundle carries its key's retirement and verifies.
        let b = bundle(&svc, &old[0]);
        assert!(b.records.iter().any(|r| r.kind == "issuer_key"));
        let v = crate::bundle::verify(&b).unwrap();
        assert_eq!((v.kid, v.key_revocation), (k1.to_string(), None));
    }

    #[test]
    fn a_revocation_invalidates_codes_issued_from_its_time_on_and_forged_ones() {
        let (svc, _) = test_service();
        seed(&svc);
        let k1 = svc.issuance().issuer();
        let (_, before) = issue(&svc, 2, "before");
        let t = next_second();
        let (late, after) = issue(&svc, 2, "after");
        assert!(
            svc.issuance()
                .batches_signed_by(&k1.kid.to_string())
                .unwrap()
                .len()
                == 2
        );
        let late_at = svc.issuance().stored_batch(late.id).unwrap().created_unix;
        assert!(late_at >= t);
        svc.keyring().rotate(crate::keys::generate()).unwrap();
        let k1s = k1.kid.to_string();
        svc.keyring()
            .revoke(
                &k1s,
                &RevokeInput {
                    from: late_at,
                    reason: "key leaked".into(),
                },
            )
            .unwrap();
        // Issued before `from`: genuine everywhere; from `from` on: not genuine, with the reason.
        svc.log().checkpoint_now().unwrap();
        assert_eq!(scan(&svc, &before[0]).verdict, VerdictKind::Genuine);
        let v = scan(&svc, &after[0]);
        assert_eq!(v.verdict, VerdictKind::NotGenuine);
        assert_eq!(v.reasons.len(), 1);
        assert_eq!(v.reasons[0].code, "issuer_key_revoked");
        assert!(
            v.reasons[0].message.contains("(key leaked)"),
            "{:?}",
            v.reasons
        );
        assert!(v.reasons[0].message.contains("this item was issued at"));
        assert!(
            v.log.is_some(),
            "its proof is shown, so the page can check the rule"
        );
        let ok = crate::bundle::verify(&bundle(&svc, &before[0])).unwrap();
        assert_eq!(ok.key_revocation.unwrap().from, late_at);
        let e = crate::bundle::verify(&bundle(&svc, &after[0])).unwrap_err();
        assert_eq!(e.check(), "issuer_key_revoked", "{e}");
        // Forged with the leaked key: a serial never issued, and an issued serial re-signed.
        let mut item = before[0].item().clone();
        item.serial = crate::gs1::Serial::random();
        let forged = Code::sign(svc.host(), &item, k1.kid, &k1.key);
        let mut other = after[1].item().clone();
        other.expiry = None;
        let resigned = Code::sign(svc.host(), &other, k1.kid, &k1.key);
        for c in [&forged, &resigned] {
            let v = scan(&svc, c);
            assert_eq!(v.verdict, VerdictKind::NotGenuine);
            assert_eq!(v.reasons[0].code, "issuer_key_revoked");
            assert!(
                v.reasons[0].message.contains("no issuance record"),
                "{:?}",
                v.reasons
            );
            assert!(
                svc.issuance().issued_item(c).is_err(),
                "no bundle of a forged code"
            );
        }
        // Moving the revocation back to before the first batch takes it too.
        svc.keyring()
            .revoke(
                &k1s,
                &RevokeInput {
                    from: t - 3600,
                    reason: "leaked earlier".into(),
                },
            )
            .unwrap();
        assert_eq!(scan(&svc, &before[0]).verdict, VerdictKind::NotGenuine);
        assert!(svc
            .keys()
            .unwrap()
            .keys
            .iter()
            .any(|k| k.revoke_reason.as_deref() == Some("leaked earlier")));
    }

    #[test]
    fn refused_revocations_write_nothing() {
        let (svc, _) = test_service();
        seed(&svc);
        let k1 = svc.issuance().issuer().kid.to_string();
        issue(&svc, 1, "a");
        let now = now_unix();
        let input = |from: i64, reason: &str| RevokeInput {
            from,
            reason: reason.into(),
        };
        let current = svc.keyring().revoke(&k1, &input(now, "x")).unwrap_err();
        assert_eq!(
            refusal(current),
            (ErrorKind::Conflict, "keys.current_key".into())
        );
        svc.keyring().rotate(crate::keys::generate()).unwrap();
        let size = svc.log().log_size().unwrap();
        let keys = svc.keys().unwrap();
        let cases = [
            ("0a1b2c3", input(now, "x"), "input.invalid_field"),
            ("0A1B2C3D", input(now, "x"), "input.invalid_field"),
            ("0a1b2c3d", input(now, "x"), "keys.key_not_found"),
            (k1.as_str(), input(now + 3600, "x"), "input.invalid_field"),
            (k1.as_str(), input(-1, "x"), "input.invalid_field"),
            (k1.as_str(), input(now, "  "), "input.invalid_field"),
            (k1.as_str(), input(now, "a\u{7}b"), "input.invalid_field"),
        ];
        for (kid, i, code) in cases {
            let e = svc.keyring().revoke(kid, &i).unwrap_err();
            assert_eq!(e.code(), code, "{kid} {i:?}: {e}");
        }
        svc.keyring()
            .revoke(&k1, &input(now - 10, "key leaked"))
            .unwrap();
        let size = size + 1;
        let again = svc
            .keyring()
            .revoke(&k1, &input(now - 10, "again"))
            .unwrap_err();
        assert_eq!(
            refusal(again),
            (ErrorKind::Conflict, "keys.already_revoked".into())
        );
        let later = svc
            .keyring()
            .revoke(&k1, &input(now - 5, "again"))
            .unwrap_err();
        assert_eq!(later.code(), "keys.already_revoked");
        assert_eq!(svc.log().log_size().unwrap(), size, "refusals log nothing");
        assert_eq!(svc.keys().unwrap().keys.len(), keys.keys.len());
    }

    #[test]
    fn an_interrupted_batch_keeps_its_key_across_a_rotation_but_not_a_revocation() {
        use crate::service::issuance::{BatchStatus, CHUNK};
        let (svc, mem) = test_service();
        seed(&svc);
        let k1 = svc.issuance().issuer().kid;
        let n = CHUNK as u64 + 5;
        let interrupt = |key: &str| {
            let fail = |b: &crate::service::issuance::Batch| {
                if b.issued >= CHUNK as u64 {
                    mem.set_failing(true);
                }
            };
            assert!(svc.issuance().issue_batch(&req(n), key, &fail).is_err());
            mem.set_failing(false);
        };
        interrupt("x");
        svc.keyring().rotate(crate::keys::generate()).unwrap();
        let (b, _) = svc.issuance().issue_batch(&req(n), "x", &|_| {}).unwrap();
        assert_eq!(
            (b.status, b.kid.clone()),
            (BatchStatus::Complete, k1.to_string())
        );
        let codes = svc.issuance().batch_codes(&b, 0, usize::MAX).unwrap();
        assert!(
            codes
                .iter()
                .all(|c| Code::parse(&c.code).unwrap().kid() == k1),
            "one key per batch"
        );
        let last = Code::parse(&codes[codes.len() - 1].code).unwrap();
        assert_eq!(scan(&svc, &last).verdict, VerdictKind::Genuine);
        // A batch of the second key, interrupted, its key rotated out and revoked.
        let k2 = svc.issuance().issuer().kid;
        interrupt("y");
        svc.keyring().rotate(crate::keys::generate()).unwrap();
        svc.keyring()
            .revoke(
                &k2.to_string(),
                &RevokeInput {
                    from: now_unix(),
                    reason: "key leaked".into(),
                },
            )
            .unwrap();
        let e = svc
            .issuance()
            .issue_batch(&req(n), "y", &|_| {})
            .unwrap_err();
        assert_eq!(
            refusal(e),
            (ErrorKind::Conflict, "issuance.issuer_key_revoked".into())
        );
    }
}
