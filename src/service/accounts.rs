//! Accounts: the principals that may use the authenticated routes, and their API tokens
//! (`docs/authorization.md`). A token is shown once, when it is made; we keep only the SHA-256
//! of its secret, its id (the public prefix that names it), its role, expiry, last use and
//! revocation. A revocation takes effect on the next request.
//!
//! Token format: `tst_` ‖ id (10 lowercase hex characters) ‖ `_` ‖ secret (32 random bytes,
//! base64url without padding). Tokens carry 256 bits of entropy, so one SHA-256 (not a slow
//! password hash) is the right way to store them.
//!
//! Users and their sessions are in [`users`] and [`sessions`].
//!
//! Schema: `api_tokens` (token id → [`TokenRecord`] JSON).

pub mod sessions;
pub mod users;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::info;
use utoipa::ToSchema;

use super::base::{check_text, lock, now_unix, rfc3339, Result};
use super::errors::{AccountError, InputError, MasterError, ServiceError};
use super::log::{LogBook, PendingLeaf};
use super::master::MasterData;
use crate::authz::{Principal, Role};
use crate::config::SessionRules;
use crate::custody::record::hex;
use crate::records::{AccountOp, AccountRecord};
use crate::store::schema::{decode_json, encode_json};
use crate::store::{Cf, Durability, Store, WriteBatch};

/// The prefix of every API token.
pub const TOKEN_PREFIX: &str = "tst_";
/// Default lifetime of a token, in days.
pub const DEFAULT_TOKEN_DAYS: u32 = 90;
/// Longest lifetime of a token, in days.
pub const MAX_TOKEN_DAYS: u32 = 3650;
/// Last use is written at most this often per token, in seconds.
const LAST_USE_EVERY: i64 = 60;
/// Most tokens listed at once.
pub const MAX_TOKENS_LISTED: usize = 1000;

/// Body of `POST /api/v1/tokens` and `traceseal token add`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenInput {
    /// What the token is for, e.g. "customs dashboard".
    pub name: String,
    /// `operator`, `regulator`, `enterprise_admin` or `label_printer`.
    pub role: String,
    /// The enterprise of an enterprise role (`enterprise_admin`, `label_printer`); absent
    /// for the platform's roles.
    #[serde(default)]
    pub enterprise_id: Option<u64>,
    /// Days until it expires (1 to 3650; default 90).
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

/// A token as stored. Never holds the secret, only its SHA-256.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// The token's id (its public prefix).
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Its role.
    pub role: String,
    /// The enterprise of an enterprise role.
    pub enterprise_id: Option<u64>,
    /// SHA-256 of the secret, hex.
    pub secret_sha256: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// Who made it (a principal id, or `cli`).
    pub created_by: String,
    /// When it stops working (Unix seconds).
    pub expires_at: i64,
    /// When it last authenticated a request (to the minute).
    pub last_used_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

/// A token as listed: everything but the secret's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    /// The token's id (its public prefix, `tst_<id>_…`).
    pub id: String,
    /// What it is for.
    pub name: String,
    /// Its role.
    pub role: String,
    /// The enterprise of an enterprise role.
    pub enterprise_id: Option<u64>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Who made it.
    pub created_by: String,
    /// When it stops working (RFC 3339).
    pub expires_at: String,
    /// When it last authenticated a request (RFC 3339, to the minute).
    pub last_used_at: Option<String>,
    /// When it was revoked (RFC 3339).
    pub revoked_at: Option<String>,
    /// Who revoked it.
    pub revoked_by: Option<String>,
}

impl From<&TokenRecord> for TokenView {
    fn from(r: &TokenRecord) -> Self {
        TokenView {
            id: r.id.clone(),
            name: r.name.clone(),
            role: r.role.clone(),
            enterprise_id: r.enterprise_id,
            created_at: rfc3339(r.created_at),
            created_by: r.created_by.clone(),
            expires_at: rfc3339(r.expires_at),
            last_used_at: r.last_used_at.map(rfc3339),
            revoked_at: r.revoked_at.map(rfc3339),
            revoked_by: r.revoked_by.clone(),
        }
    }
}

/// A new token: the only time its secret is shown.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct NewToken {
    /// The token, to send as `Authorization: Bearer <token>`. Shown once; we keep only its
    /// hash.
    pub token: String,
    /// The token's record.
    #[serde(flatten)]
    pub view: TokenView,
}

/// The accounts unit.
pub struct Accounts {
    store: Arc<dyn Store>,
    master: Arc<MasterData>,
    log: Arc<LogBook>,
    rules: SessionRules,
    /// Serializes read-modify-writes of token records (revocation, last use).
    writes: Mutex<()>,
}

impl Accounts {
    /// The unit over `store`; enterprises of enterprise roles are checked in `master`;
    /// account changes are logged to `log`; sessions and sign-in follow `rules`.
    pub fn new(
        store: Arc<dyn Store>,
        master: Arc<MasterData>,
        log: Arc<LogBook>,
        rules: SessionRules,
    ) -> Self {
        Accounts {
            store,
            master,
            log,
            rules,
            writes: Mutex::new(()),
        }
    }

    /// Makes a token for `input`, made by `by`: an operator grants any role, an enterprise
    /// admin only its own enterprise's roles.
    pub fn create_token(&self, input: &TokenInput, by: &Principal) -> Result<NewToken> {
        let name = check_text("name", &input.name)?;
        let role = parse_role(&input.role)?;
        let enterprise = self.check_grant(role, input.enterprise_id, by)?;
        let days = input.expires_in_days.unwrap_or(DEFAULT_TOKEN_DAYS);
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(InputError::field(
                "expires_in_days",
                format!("expires_in_days must be 1 to {MAX_TOKEN_DAYS}, got {days}"),
            )
            .into());
        }
        let (id, secret) = fresh_token_parts()?;
        let now = now_unix();
        let rec = TokenRecord {
            id: id.clone(),
            name,
            role: role.as_str().to_string(),
            enterprise_id: enterprise,
            secret_sha256: hex(&Sha256::digest(secret.as_bytes())),
            created_at: now,
            created_by: by.id.clone(),
            expires_at: now + i64::from(days) * 86_400,
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
        };
        let change = AccountChange {
            op: AccountOp::TokenAdded,
            subject: format!("token:{id}"),
            role: &rec.role,
            enterprise: rec.enterprise_id,
            by,
        };
        self.logged(change, |b| put_token(b, &rec))?;
        info!(token = %id, role = %rec.role, by = %by.id, "API token made");
        Ok(NewToken {
            token: format!("{TOKEN_PREFIX}{id}_{secret}"),
            view: TokenView::from(&rec),
        })
    }

    /// The enterprise a new token of `role` belongs to, if `by` may grant it.
    fn check_grant(
        &self,
        role: Role,
        enterprise: Option<u64>,
        by: &Principal,
    ) -> Result<Option<u64>> {
        if by.role.is_enterprise_role()
            && (!role.is_enterprise_role() || enterprise != by.enterprise)
        {
            return Err(AccountError::RoleAboveGrantor {
                role: role.as_str().to_string(),
                by: by.role.as_str().to_string(),
            }
            .into());
        }
        let named = role.as_str().to_string();
        match (role.is_enterprise_role(), enterprise) {
            (true, None) => Err(AccountError::EnterpriseRequired { role: named }.into()),
            (false, Some(_)) => Err(AccountError::EnterpriseNotAllowed { role: named }.into()),
            (true, Some(e)) => match self.master.find_enterprise(e)? {
                Some(_) => Ok(Some(e)),
                None => Err(MasterError::UnknownEnterprise { id: e }.into()),
            },
            (false, None) => Ok(None),
        }
    }

    /// The tokens (at most [`MAX_TOKENS_LISTED`]), by id: all of them, or those of one
    /// enterprise.
    pub fn tokens(&self, enterprise: Option<u64>) -> Result<Vec<TokenView>> {
        let mut out = Vec::new();
        let mut start = Vec::new();
        loop {
            let rows = self.store.range(Cf::ApiTokens, &start, None, 500)?;
            for (_, v) in &rows {
                let r: TokenRecord = decode_json("token", v)?;
                if enterprise.is_none_or(|e| r.enterprise_id == Some(e)) {
                    out.push(TokenView::from(&r));
                }
                if out.len() == MAX_TOKENS_LISTED {
                    return Ok(out);
                }
            }
            match rows.last() {
                Some((k, _)) if rows.len() == 500 => start = crate::store::schema::key_after(k),
                _ => return Ok(out),
            }
        }
    }

    /// The enterprise token `id` belongs to (`None`: a platform token).
    pub fn token_enterprise(&self, id: &str) -> Result<Option<u64>> {
        let rec = self
            .record(id)?
            .ok_or_else(|| AccountError::TokenNotFound { id: id.to_string() })?;
        Ok(rec.enterprise_id)
    }

    /// Revokes token `id`: it authenticates nothing from the next request on.
    pub fn revoke_token(&self, id: &str, by: &Principal) -> Result<TokenView> {
        let _g = lock(&self.writes)?;
        let mut rec = self
            .record(id)?
            .ok_or_else(|| AccountError::TokenNotFound { id: id.to_string() })?;
        if rec.revoked_at.is_some() {
            return Err(AccountError::AlreadyRevoked { id: rec.id }.into());
        }
        rec.revoked_at = Some(now_unix());
        rec.revoked_by = Some(by.id.clone());
        let change = AccountChange {
            op: AccountOp::TokenRevoked,
            subject: format!("token:{id}"),
            role: &rec.role,
            enterprise: rec.enterprise_id,
            by,
        };
        self.logged(change, |b| put_token(b, &rec))?;
        info!(token = %id, by = %by.id, "API token revoked");
        Ok(TokenView::from(&rec))
    }

    /// The principal `token` names, if it is one of ours, unrevoked and unexpired. Records
    /// its use (at most once a minute).
    pub fn authenticate(&self, token: &str) -> Result<Option<Principal>> {
        let Some((id, secret)) = split_token(token) else {
            return Ok(None);
        };
        let Some(rec) = self.record(id)? else {
            return Ok(None);
        };
        let presented = hex(&Sha256::digest(secret.as_bytes()));
        let now = now_unix();
        let matches = bool::from(presented.as_bytes().ct_eq(rec.secret_sha256.as_bytes()));
        if !matches || rec.revoked_at.is_some() || now >= rec.expires_at {
            return Ok(None);
        }
        let role = parse_role(&rec.role)?;
        if rec.last_used_at.is_none_or(|t| now - t >= LAST_USE_EVERY) {
            self.record_use(id, now)?;
        }
        Ok(Some(Principal::new(
            format!("token:{id}"),
            role,
            rec.enterprise_id,
        )))
    }

    /// Sets a token's last use, unless it was revoked meanwhile (re-read under the lock, so
    /// a revocation is never overwritten).
    fn record_use(&self, id: &str, now: i64) -> Result<()> {
        let _g = lock(&self.writes)?;
        if let Some(mut rec) = self.record(id)? {
            if rec.revoked_at.is_none() {
                rec.last_used_at = Some(now - now % LAST_USE_EVERY);
                self.put(&rec, Durability::Buffered)?;
            }
        }
        Ok(())
    }

    fn record(&self, id: &str) -> Result<Option<TokenRecord>> {
        match self.store.get(Cf::ApiTokens, id.as_bytes())? {
            Some(v) => Ok(Some(decode_json("token", &v)?)),
            None => Ok(None),
        }
    }

    fn put(&self, rec: &TokenRecord, durability: Durability) -> Result<()> {
        let mut b = WriteBatch::default();
        put_token(&mut b, rec);
        Ok(self.store.write(b, durability)?)
    }

    /// Writes what `write` puts together with the account change's log leaf, in one synced
    /// batch.
    fn logged(&self, c: AccountChange<'_>, write: impl FnOnce(&mut WriteBatch)) -> Result<u64> {
        let data = AccountRecord {
            op: c.op,
            subject: c.subject,
            role: c.role.to_string(),
            enterprise: c.enterprise,
            at: now_unix(),
            by_role: c.by.role.as_str().to_string(),
            request: c.by.request.clone(),
        }
        .leaf();
        let leaf = PendingLeaf {
            hash: crate::merkle::leaf_hash(&data),
            data,
        };
        self.log.append_leaves(vec![leaf], |_, b| {
            write(b);
            Ok(())
        })
    }
}

/// An account change to log.
struct AccountChange<'a> {
    op: AccountOp,
    subject: String,
    role: &'a str,
    enterprise: Option<u64>,
    by: &'a Principal,
}

fn put_token(b: &mut WriteBatch, rec: &TokenRecord) {
    b.put(Cf::ApiTokens, rec.id.as_bytes().to_vec(), encode_json(rec));
}

/// A role by name.
fn parse_role(role: &str) -> Result<Role> {
    Role::ALL
        .into_iter()
        .find(|r| r.as_str() == role)
        .ok_or_else(|| {
            InputError::field(
                "role",
                format!(
                    "role must be operator, regulator, enterprise_admin or label_printer, got {role:?}"
                ),
            )
            .into()
        })
}

/// A new token's id (10 hex characters) and secret (32 bytes, base64url).
fn fresh_token_parts() -> Result<(String, String)> {
    let mut b = [0u8; 37];
    getrandom::getrandom(&mut b)
        .map_err(|e| ServiceError::internal(format!("OS random generator failed: {e}")))?;
    let id = hex(&b[..5]);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&b[5..]);
    Ok((id, secret))
}

/// The id and secret of a token in our format.
fn split_token(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.strip_prefix(TOKEN_PREFIX)?.split_once('_')?;
    let id_ok = id.len() == 10 && id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'));
    (id_ok && secret.len() == 43).then_some((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::setup::test_service;
    use crate::service::Service;

    fn service() -> Service {
        test_service().0
    }

    fn cli() -> Principal {
        Principal::cli()
    }

    fn input(role: &str) -> TokenInput {
        TokenInput {
            name: "customs dashboard".into(),
            role: role.into(),
            enterprise_id: None,
            expires_in_days: None,
        }
    }

    #[test]
    fn a_token_authenticates_until_revoked_and_its_secret_is_not_kept() {
        let svc = service();
        let a = svc.accounts();
        let t = a.create_token(&input("regulator"), &cli()).unwrap();
        assert!(
            t.token.starts_with(&format!("tst_{}_", t.view.id)),
            "{}",
            t.token
        );
        let p = a.authenticate(&t.token).unwrap().unwrap();
        assert_eq!(
            (p.role, p.id.as_str()),
            (Role::Regulator, &*format!("token:{}", t.view.id))
        );
        let stored = a
            .store
            .get(Cf::ApiTokens, t.view.id.as_bytes())
            .unwrap()
            .unwrap();
        let secret = &t.token[15..];
        assert!(!String::from_utf8_lossy(&stored).contains(secret));
        assert!(a.tokens(None).unwrap()[0].last_used_at.is_some());
        // A wrong secret with the right id, a truncated token, another format: nothing.
        let mut wrong = t.token.clone();
        wrong.replace_range(
            wrong.len() - 1..,
            if wrong.ends_with('A') { "B" } else { "A" },
        );
        assert_eq!(a.authenticate(&wrong).unwrap(), None);
        assert_eq!(a.authenticate(&t.token[..t.token.len() - 1]).unwrap(), None);
        assert_eq!(a.authenticate("not a token").unwrap(), None);
        a.revoke_token(&t.view.id, &cli()).unwrap();
        assert_eq!(
            a.authenticate(&t.token).unwrap(),
            None,
            "revoked: refused at once"
        );
        assert!(matches!(
            a.revoke_token(&t.view.id, &cli()),
            Err(ServiceError::Account(AccountError::AlreadyRevoked { .. }))
        ));
        assert!(matches!(
            a.revoke_token("0000000000", &cli()),
            Err(ServiceError::Account(AccountError::TokenNotFound { .. }))
        ));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let svc = service();
        let a = svc.accounts();
        let t = a.create_token(&input("operator"), &cli()).unwrap();
        let mut rec = a.record(&t.view.id).unwrap().unwrap();
        rec.expires_at = now_unix();
        a.put(&rec, Durability::Synced).unwrap();
        assert_eq!(a.authenticate(&t.token).unwrap(), None);
    }

    #[test]
    fn enterprise_tokens_name_a_registered_enterprise_and_list_by_it() {
        let svc = service();
        let e = crate::service::master::tests::seed(&svc).enterprise_id;
        let a = svc.accounts();
        let mut i = input("label_printer");
        i.enterprise_id = Some(e);
        let t = a.create_token(&i, &cli()).unwrap();
        let p = a.authenticate(&t.token).unwrap().unwrap();
        assert_eq!((p.role, p.enterprise), (Role::LabelPrinter, Some(e)));
        a.create_token(&input("regulator"), &cli()).unwrap();
        let listed = a.tokens(Some(e)).unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].id, t.view.id);
        assert_eq!(a.tokens(None).unwrap().len(), 2);
        assert_eq!(a.token_enterprise(&t.view.id).unwrap(), Some(e));
        // The enterprise admin grants its own enterprise's roles only.
        let admin = Principal::new("token:a", Role::EnterpriseAdmin, Some(e));
        assert!(a.create_token(&i, &admin).is_ok());
        for (role, ent) in [
            ("operator", None),
            ("regulator", None),
            ("label_printer", Some(e + 1)),
        ] {
            let mut j = input(role);
            j.enterprise_id = ent;
            let err = a.create_token(&j, &admin).unwrap_err();
            assert_eq!(err.code(), "account.role_above_grantor", "{role}: {err}");
        }
    }

    #[test]
    fn bad_requests_are_refused_and_write_nothing() {
        let svc = service();
        let a = svc.accounts();
        for (role, ent, days, code) in [
            ("root", None, None, "input.invalid_field"),
            ("label_printer", None, None, "account.enterprise_required"),
            (
                "enterprise_admin",
                Some(99),
                None,
                "master.unknown_enterprise",
            ),
            ("regulator", Some(1), None, "account.enterprise_not_allowed"),
            ("operator", None, Some(0), "input.invalid_field"),
            (
                "operator",
                None,
                Some(MAX_TOKEN_DAYS + 1),
                "input.invalid_field",
            ),
        ] {
            let mut i = input(role);
            i.enterprise_id = ent;
            i.expires_in_days = days;
            let e = a.create_token(&i, &cli()).unwrap_err();
            assert_eq!(e.code(), code, "{role} {days:?}: {e}");
        }
        let mut i = input("operator");
        i.name = " ".into();
        assert_eq!(
            a.create_token(&i, &cli()).unwrap_err().code(),
            "input.invalid_field"
        );
        assert!(a.tokens(None).unwrap().is_empty());
    }
}
