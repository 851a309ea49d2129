//! Accounts: the principals that may use the authenticated routes, and their API tokens
//! (`docs/authorization.md`). A token is shown once, when it is made; we keep only the SHA-256
//! of its secret, its id (the public prefix that names it), its role, expiry, last use and
//! revocation. A revocation takes effect on the next request.
//!
//! Token format: `tst_` ‖ id (10 lowercase hex characters) ‖ `_` ‖ secret (32 random bytes,
//! base64url without padding). Tokens carry 256 bits of entropy, so one SHA-256 (not a slow
//! password hash) is the right way to store them.
//!
//! Schema: `api_tokens` (token id → [`TokenRecord`] JSON).

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tracing::info;
use utoipa::ToSchema;

use super::base::{check_text, lock, now_unix, rfc3339, Result};
use super::errors::{AccountError, InputError, ServiceError};
use crate::authz::{Principal, Role};
use crate::custody::record::hex;
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
    /// `operator` or `regulator` (enterprise roles wait for enterprise scoping).
    pub role: String,
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
    /// Serializes read-modify-writes of token records (revocation, last use).
    writes: Mutex<()>,
}

impl Accounts {
    /// The unit over `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Accounts {
            store,
            writes: Mutex::new(()),
        }
    }

    /// Makes a token for `input`, made by `by`.
    pub fn create_token(&self, input: &TokenInput, by: &str) -> Result<NewToken> {
        let name = check_text("name", &input.name)?;
        let role = parse_role(&input.role)?;
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
            enterprise_id: None,
            secret_sha256: hex(&Sha256::digest(secret.as_bytes())),
            created_at: now,
            created_by: by.to_string(),
            expires_at: now + i64::from(days) * 86_400,
            last_used_at: None,
            revoked_at: None,
            revoked_by: None,
        };
        self.put(&rec, Durability::Synced)?;
        info!(token = %id, role = %rec.role, by, "API token made");
        Ok(NewToken {
            token: format!("{TOKEN_PREFIX}{id}_{secret}"),
            view: TokenView::from(&rec),
        })
    }

    /// Every token (at most [`MAX_TOKENS_LISTED`]), by id.
    pub fn tokens(&self) -> Result<Vec<TokenView>> {
        let rows = self
            .store
            .range(Cf::ApiTokens, b"", None, MAX_TOKENS_LISTED)?;
        rows.iter()
            .map(|(_, v)| {
                let r: TokenRecord = decode_json("token", v)?;
                Ok(TokenView::from(&r))
            })
            .collect()
    }

    /// Revokes token `id`: it authenticates nothing from the next request on.
    pub fn revoke_token(&self, id: &str, by: &str) -> Result<TokenView> {
        let _g = lock(&self.writes)?;
        let mut rec = self
            .record(id)?
            .ok_or_else(|| AccountError::TokenNotFound { id: id.to_string() })?;
        if rec.revoked_at.is_some() {
            return Err(AccountError::AlreadyRevoked { id: rec.id }.into());
        }
        rec.revoked_at = Some(now_unix());
        rec.revoked_by = Some(by.to_string());
        self.put(&rec, Durability::Synced)?;
        info!(token = %id, by, "API token revoked");
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
        Ok(Some(Principal {
            id: format!("token:{id}"),
            role,
            enterprise: rec.enterprise_id,
        }))
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
        b.put(Cf::ApiTokens, rec.id.as_bytes().to_vec(), encode_json(rec));
        Ok(self.store.write(b, durability)?)
    }
}

/// The roles a token may hold today.
fn parse_role(role: &str) -> Result<Role> {
    match role {
        "operator" => Ok(Role::Operator),
        "regulator" => Ok(Role::Regulator),
        "enterprise_admin" | "label_printer" => Err(AccountError::RoleNotAvailable {
            role: role.to_string(),
        }
        .into()),
        other => Err(InputError::field(
            "role",
            format!("role must be operator or regulator, got {other:?}"),
        )
        .into()),
    }
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
    use crate::store::mem::MemStore;

    fn unit() -> Accounts {
        Accounts::new(Arc::new(MemStore::default()))
    }

    fn input(role: &str) -> TokenInput {
        TokenInput {
            name: "customs dashboard".into(),
            role: role.into(),
            expires_in_days: None,
        }
    }

    #[test]
    fn a_token_authenticates_until_revoked_and_its_secret_is_not_kept() {
        let a = unit();
        let t = a.create_token(&input("regulator"), "cli").unwrap();
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
        assert!(a.tokens().unwrap()[0].last_used_at.is_some());
        // A wrong secret with the right id, a truncated token, another format: nothing.
        let mut wrong = t.token.clone();
        wrong.replace_range(
            wrong.len() - 1..,
            if wrong.ends_with('A') { "B" } else { "A" },
        );
        assert_eq!(a.authenticate(&wrong).unwrap(), None);
        assert_eq!(a.authenticate(&t.token[..t.token.len() - 1]).unwrap(), None);
        assert_eq!(a.authenticate("not a token").unwrap(), None);
        a.revoke_token(&t.view.id, "token:x").unwrap();
        assert_eq!(
            a.authenticate(&t.token).unwrap(),
            None,
            "revoked: refused at once"
        );
        assert!(matches!(
            a.revoke_token(&t.view.id, "cli"),
            Err(ServiceError::Account(AccountError::AlreadyRevoked { .. }))
        ));
        assert!(matches!(
            a.revoke_token("0000000000", "cli"),
            Err(ServiceError::Account(AccountError::TokenNotFound { .. }))
        ));
    }

    #[test]
    fn an_expired_token_is_refused() {
        let a = unit();
        let t = a.create_token(&input("operator"), "cli").unwrap();
        let mut rec = a.record(&t.view.id).unwrap().unwrap();
        rec.expires_at = now_unix();
        a.put(&rec, Durability::Synced).unwrap();
        assert_eq!(a.authenticate(&t.token).unwrap(), None);
    }

    #[test]
    fn bad_requests_are_refused_and_write_nothing() {
        let a = unit();
        for (role, days, code) in [
            ("root", None, "input.invalid_field"),
            ("label_printer", None, "account.role_not_available"),
            ("enterprise_admin", None, "account.role_not_available"),
            ("operator", Some(0), "input.invalid_field"),
            ("operator", Some(MAX_TOKEN_DAYS + 1), "input.invalid_field"),
        ] {
            let mut i = input(role);
            i.expires_in_days = days;
            let e = a.create_token(&i, "cli").unwrap_err();
            assert_eq!(e.code(), code, "{role} {days:?}: {e}");
        }
        let mut i = input("operator");
        i.name = " ".into();
        assert_eq!(
            a.create_token(&i, "cli").unwrap_err().code(),
            "input.invalid_field"
        );
        assert!(a.tokens().unwrap().is_empty());
    }
}
