//! Users: people who sign in with a password (`docs/authorization.md`, Users and sessions).
//! A user holds one role (an enterprise role names its enterprise), like a token. Passwords
//! are stored as argon2id PHC strings with the parameters below (OWASP's recommendation for
//! argon2id: 19 MiB of memory, 2 passes, 1 lane); nothing else of a password is kept.
//!
//! Schema: `users` (user name → [`UserRecord`] JSON).

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use serde::{Deserialize, Serialize};
use tracing::info;
use utoipa::ToSchema;

use super::{parse_role, AccountChange, Accounts};
use crate::authz::Principal;
use crate::records::{user_subject, AccountOp};
use crate::service::base::{lock, now_unix, rfc3339, Result};
use crate::service::errors::{AccountError, InputError, ServiceError};
use crate::store::schema::{decode_json, encode_json, key_after};
use crate::store::{Cf, Durability, WriteBatch};

/// argon2id memory, in KiB.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// argon2id passes.
pub const ARGON2_PASSES: u32 = 2;
/// argon2id lanes.
pub const ARGON2_LANES: u32 = 1;
/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest accepted password, in characters (hashing cost does not depend on it much, but
/// a bound keeps request handling bounded).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Most users listed at once.
pub const MAX_USERS_LISTED: usize = 1000;

/// Body of `POST /api/v1/users` and `traceseal user add`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    /// The sign-in name: 3–64 characters of `a-z 0-9 . _ @ -` (an e-mail address works).
    pub username: String,
    /// At least 12 characters, at most 256; not the user name.
    pub password: String,
    /// `operator`, `regulator`, `enterprise_admin` or `label_printer`.
    pub role: String,
    /// The enterprise of an enterprise role; absent for the platform's roles.
    #[serde(default)]
    pub enterprise_id: Option<u64>,
}

/// A user as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    /// The sign-in name.
    pub username: String,
    /// Its role.
    pub role: String,
    /// The enterprise of an enterprise role.
    pub enterprise_id: Option<u64>,
    /// argon2id PHC string of the password.
    pub password_hash: String,
    /// When it was made (Unix seconds).
    pub created_at: i64,
    /// Who made it.
    pub created_by: String,
    /// Wrong passwords in a row since the last sign-in or lockout.
    pub failures: u32,
    /// Sign-in pauses until then (Unix seconds).
    pub locked_until: Option<i64>,
    /// Sessions started before this time are void (a password change, a disabling).
    pub sessions_after: i64,
    /// When it was disabled.
    pub disabled_at: Option<i64>,
    /// Who disabled it.
    pub disabled_by: Option<String>,
}

/// A user as listed: never the password hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The sign-in name.
    pub username: String,
    /// Its role.
    pub role: String,
    /// The enterprise of an enterprise role.
    pub enterprise_id: Option<u64>,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// Who made it.
    pub created_by: String,
    /// When it was disabled (RFC 3339).
    pub disabled_at: Option<String>,
    /// Who disabled it.
    pub disabled_by: Option<String>,
}

impl From<&UserRecord> for UserView {
    fn from(r: &UserRecord) -> Self {
        UserView {
            username: r.username.clone(),
            role: r.role.clone(),
            enterprise_id: r.enterprise_id,
            created_at: rfc3339(r.created_at),
            created_by: r.created_by.clone(),
            disabled_at: r.disabled_at.map(rfc3339),
            disabled_by: r.disabled_by.clone(),
        }
    }
}

impl Accounts {
    /// Makes a user for `input`, made by `by` (an enterprise admin: its own enterprise's roles
    /// only).
    pub fn create_user(&self, input: &UserInput, by: &Principal) -> Result<UserView> {
        let username = check_username(&input.username)?;
        check_password(&username, &input.password)?;
        let role = parse_role(&input.role)?;
        let enterprise = self.check_grant(role, input.enterprise_id, by)?;
        let password_hash = hash_password(&input.password)?;
        let _g = lock(&self.writes)?;
        if self.user(&username)?.is_some() {
            return Err(AccountError::UserExists { username }.into());
        }
        let now = now_unix();
        let rec = UserRecord {
            username,
            role: role.as_str().to_string(),
            enterprise_id: enterprise,
            password_hash,
            created_at: now,
            created_by: by.id.clone(),
            failures: 0,
            locked_until: None,
            sessions_after: now,
            disabled_at: None,
            disabled_by: None,
        };
        let change = AccountChange {
            op: AccountOp::UserAdded,
            subject: user_subject(&rec.username),
            role: &rec.role,
            enterprise: rec.enterprise_id,
            by,
        };
        self.logged(change, |b| put_user(b, &rec))?;
        info!(user = %rec.username, role = %rec.role, by = %by.id, "user made");
        Ok(UserView::from(&rec))
    }

    /// The users (at most [`MAX_USERS_LISTED`]), by name: all, or those of one enterprise.
    pub fn users(&self, enterprise: Option<u64>) -> Result<Vec<UserView>> {
        let mut out = Vec::new();
        let mut start = Vec::new();
        loop {
            let rows = self.store.range(Cf::Users, &start, None, 500)?;
            for (_, v) in &rows {
                let r: UserRecord = decode_json("user", v)?;
                if enterprise.is_none_or(|e| r.enterprise_id == Some(e)) {
                    out.push(UserView::from(&r));
                }
                if out.len() == MAX_USERS_LISTED {
                    return Ok(out);
                }
            }
            match rows.last() {
                Some((k, _)) if rows.len() == 500 => start = key_after(k),
                _ => return Ok(out),
            }
        }
    }

    /// Disables user `username`: it cannot sign in, and its sessions end at once.
    pub fn disable_user(&self, username: &str, by: &Principal) -> Result<UserView> {
        let _g = lock(&self.writes)?;
        let mut rec = self.active_user(username)?;
        let now = now_unix();
        rec.disabled_at = Some(now);
        rec.disabled_by = Some(by.id.clone());
        rec.sessions_after = now + 1;
        self.write_logged(&rec, AccountOp::UserDisabled, by)?;
        info!(user = %rec.username, by = %by.id, "user disabled");
        Ok(UserView::from(&rec))
    }

    /// Resets user `username`'s password to `new` (an administrator's act: the user is told the
    /// new one out of band). Every session of the user ends at once; the reset is a log leaf.
    pub fn reset_password(&self, username: &str, new: &str, by: &Principal) -> Result<UserView> {
        check_password(username, new)?;
        let hash = hash_password(new)?;
        let _g = lock(&self.writes)?;
        let mut rec = self.active_user(username)?;
        rec.password_hash = hash;
        rec.sessions_after = now_unix() + 1;
        self.write_logged(&rec, AccountOp::PasswordReset, by)?;
        info!(user = %rec.username, by = %by.id, "password reset");
        Ok(UserView::from(&rec))
    }

    /// User `username`, refused when it is disabled already.
    fn active_user(&self, username: &str) -> Result<UserRecord> {
        let rec = self.existing_user(username)?;
        match rec.disabled_at {
            Some(_) => Err(AccountError::UserDisabledAlready {
                username: rec.username,
            }
            .into()),
            None => Ok(rec),
        }
    }

    /// Writes `rec` with its account leaf (`op`, by `by`), in one write.
    fn write_logged(&self, rec: &UserRecord, op: AccountOp, by: &Principal) -> Result<()> {
        let change = AccountChange {
            op,
            subject: user_subject(&rec.username),
            role: &rec.role,
            enterprise: rec.enterprise_id,
            by,
        };
        self.logged(change, |b| put_user(b, rec)).map(drop)
    }

    /// The enterprise user `username` belongs to (`None`: a platform user).
    pub fn user_enterprise(&self, username: &str) -> Result<Option<u64>> {
        Ok(self.existing_user(username)?.enterprise_id)
    }

    pub(super) fn existing_user(&self, username: &str) -> Result<UserRecord> {
        self.user(username)?.ok_or_else(|| {
            AccountError::UserNotFound {
                username: username.to_string(),
            }
            .into()
        })
    }

    pub(super) fn user(&self, username: &str) -> Result<Option<UserRecord>> {
        match self.store.get(Cf::Users, username.as_bytes())? {
            Some(v) => Ok(Some(decode_json("user", &v)?)),
            None => Ok(None),
        }
    }

    pub(super) fn put_user(&self, rec: &UserRecord, durability: Durability) -> Result<()> {
        let mut b = WriteBatch::default();
        put_user(&mut b, rec);
        Ok(self.store.write(b, durability)?)
    }
}

fn put_user(b: &mut WriteBatch, rec: &UserRecord) {
    b.put(
        Cf::Users,
        rec.username.as_bytes().to_vec(),
        encode_json(rec),
    );
}

/// A user name, checked: 3–64 characters of `a-z 0-9 . _ @ -`.
pub fn check_username(name: &str) -> Result<String> {
    let ok = (3..=64).contains(&name.len())
        && name
            .bytes()
            .all(|c| matches!(c, b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'@' | b'-'));
    if ok {
        Ok(name.to_string())
    } else {
        Err(InputError::field(
            "username",
            "username must be 3 to 64 characters of a-z, 0-9, '.', '_', '@' and '-'",
        )
        .into())
    }
}

/// A new password, checked: 12–256 characters, not the user name.
pub fn check_password(username: &str, password: &str) -> Result<()> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&n) {
        return Err(InputError::field(
            "password",
            format!(
                "password must be {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters, got {n}"
            ),
        )
        .into());
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(InputError::field("password", "password must not be the user name").into());
    }
    Ok(())
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, None)
        .expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The argon2id PHC string of `password`, with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt)
        .map_err(|e| ServiceError::internal(format!("OS random generator failed: {e}")))?;
    let salt = SaltString::encode_b64(&salt)
        .map_err(|e| ServiceError::internal(format!("argon2 salt: {e}")))?;
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ServiceError::internal(format!("argon2: {e}")))
}

/// Whether `password` matches the PHC string `phc` (false for a malformed string).
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| argon2().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash that no password matches in practice, verified against for unknown user names so a
/// sign-in takes as long whether or not the account exists.
pub(super) fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut pw = [0u8; 32];
        let _ = getrandom::getrandom(&mut pw);
        hash_password(&crate::custody::record::hex(&pw)).unwrap_or_default()
    })
}
