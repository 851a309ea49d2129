//! Sessions: a user signs in with a password and gets a session, named by a random id the
//! browser keeps in a cookie (`http::session`). We keep only the id's SHA-256, the user, the
//! start, the last activity and the session's CSRF token. A session ends on sign-out, when it
//! has been unused for `sessions.idle_minutes`, `sessions.absolute_hours` after sign-in, when
//! the user is disabled or changes its password, and when the user signs in again from the
//! same browser (the old id is dropped: a new id at every sign-in, so an id planted before
//! sign-in is worth nothing).
//!
//! Sign-in failures are counted per account: after `sessions.max_failures` wrong passwords in
//! a row, sign-in pauses for `sessions.lockout_minutes`. The answer to a wrong password, an
//! unknown user, a disabled user and a paused account is one and the same
//! ([`AccountError::SignInFailed`]), and takes as long (an unknown name is checked against a
//! decoy hash), so it never tells whether an account exists.
//!
//! Schema: `sessions` (SHA-256 of the session id → [`SessionRecord`] JSON).

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::info;
use utoipa::ToSchema;

use super::users::{check_password, decoy_hash, hash_password, verify_password, UserRecord};
use super::{parse_role, Accounts};
use crate::authz::Principal;
use crate::service::base::{lock, now_unix, rfc3339, Result};
use crate::service::errors::{AccountError, ServiceError};
use crate::store::schema::{decode_json, encode_json};
use crate::store::{Cf, Durability, WriteBatch};

/// Last activity is written at most this often per session, in seconds.
const ACTIVITY_EVERY: i64 = 60;
/// Expired sessions swept per sign-in, at most.
const SWEEP: usize = 1000;

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The user.
    pub username: String,
    /// Sign-in time (Unix seconds).
    pub created_at: i64,
    /// Last activity, to the minute (Unix seconds).
    pub last_seen: i64,
    /// The session's CSRF token (sent back in `X-CSRF-Token` on every write).
    pub csrf_token: String,
}

/// What a session is: answered at sign-in and by `GET /api/v1/session`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SessionView {
    /// The user.
    pub username: String,
    /// Its role.
    pub role: String,
    /// The enterprise of an enterprise role.
    pub enterprise_id: Option<u64>,
    /// Send this in the `X-CSRF-Token` header of every request that writes.
    pub csrf_token: String,
    /// Sign-in time (RFC 3339).
    pub signed_in_at: String,
    /// The session ends then at the latest (RFC 3339).
    pub expires_at: String,
    /// The session ends after this many minutes without a request.
    pub idle_minutes: u32,
}

/// A new session: its id (the cookie's value; shown only now) and what it is.
#[derive(Clone, Debug)]
pub struct NewSession {
    /// The session id.
    pub id: String,
    /// What it is.
    pub view: SessionView,
}

impl Accounts {
    /// Signs `username` in with `password`: a new session, or [`AccountError::SignInFailed`].
    /// `replaces` is the session id the browser held before, if any; it ends.
    pub fn sign_in(
        &self,
        username: &str,
        password: &str,
        replaces: Option<&str>,
    ) -> Result<NewSession> {
        let failed = || ServiceError::from(AccountError::SignInFailed);
        let found = self.user(username).ok().flatten();
        // The hash is checked in every case, so the answer takes as long either way.
        let phc = found.as_ref().map_or(decoy_hash(), |u| &u.password_hash);
        let matches = verify_password(password, phc);
        let _g = lock(&self.writes)?;
        let Some(mut user) = self.user(username)? else {
            return Err(failed());
        };
        let now = now_unix();
        if user.disabled_at.is_some() || user.locked_until.is_some_and(|t| now < t) {
            return Err(failed());
        }
        if !matches {
            self.count_failure(&mut user, now)?;
            return Err(failed());
        }
        user.failures = 0;
        user.locked_until = None;
        self.put_user(&user, Durability::Synced)?;
        let new = self.start_session(&user, now)?;
        if let Some(old) = replaces {
            self.delete_session(old)?;
        }
        self.sweep_sessions(now)?;
        info!(user = %user.username, "signed in");
        Ok(new)
    }

    fn count_failure(&self, user: &mut UserRecord, now: i64) -> Result<()> {
        user.failures += 1;
        if user.failures >= self.rules.max_failures {
            user.failures = 0;
            user.locked_until = Some(now + i64::from(self.rules.lockout_minutes) * 60);
            info!(user = %user.username, "sign-in paused after repeated wrong passwords");
        }
        self.put_user(user, Durability::Synced)
    }

    fn start_session(&self, user: &UserRecord, now: i64) -> Result<NewSession> {
        let mut b = [0u8; 64];
        getrandom::getrandom(&mut b)
            .map_err(|e| ServiceError::internal(format!("OS random generator failed: {e}")))?;
        let b64 = |x: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(x);
        let (id, csrf_token) = (b64(&b[..32]), b64(&b[32..]));
        let rec = SessionRecord {
            username: user.username.clone(),
            created_at: now,
            last_seen: now,
            csrf_token,
        };
        self.put_session(&id, &rec, Durability::Synced)?;
        Ok(NewSession {
            view: self.view(user, &rec),
            id,
        })
    }

    fn view(&self, user: &UserRecord, s: &SessionRecord) -> SessionView {
        SessionView {
            username: user.username.clone(),
            role: user.role.clone(),
            enterprise_id: user.enterprise_id,
            csrf_token: s.csrf_token.clone(),
            signed_in_at: rfc3339(s.created_at),
            expires_at: rfc3339(s.created_at + self.absolute_secs()),
            idle_minutes: self.rules.idle_minutes,
        }
    }

    fn absolute_secs(&self) -> i64 {
        i64::from(self.rules.absolute_hours) * 3600
    }

    fn expired(&self, s: &SessionRecord, now: i64) -> bool {
        now >= s.created_at + self.absolute_secs()
            || now >= s.last_seen + i64::from(self.rules.idle_minutes) * 60
    }

    /// The principal and session of session id `id`, if it is live; records its activity (at
    /// most once a minute). The user's role is read now, so a change applies at once.
    pub fn session(&self, id: &str) -> Result<Option<(Principal, SessionView)>> {
        let Some(mut s) = self.session_record(id)? else {
            return Ok(None);
        };
        let now = now_unix();
        if self.expired(&s, now) {
            self.delete_session(id)?;
            return Ok(None);
        }
        let Some(user) = self.user(&s.username)? else {
            return Ok(None);
        };
        if user.disabled_at.is_some() || s.created_at < user.sessions_after {
            self.delete_session(id)?;
            return Ok(None);
        }
        if now - s.last_seen >= ACTIVITY_EVERY {
            s.last_seen = now - now % ACTIVITY_EVERY;
            self.put_session(id, &s, Durability::Buffered)?;
        }
        let principal = Principal::new(
            format!("user:{}", user.username),
            parse_role(&user.role)?,
            user.enterprise_id,
        );
        Ok(Some((principal, self.view(&user, &s))))
    }

    /// Ends session `id` (signing out). Ending an unknown or ended session does nothing.
    pub fn sign_out(&self, id: &str) -> Result<()> {
        self.delete_session(id)
    }

    /// Changes `username`'s password (the current one must match). Every session of the user
    /// ends; the caller signs in again.
    pub fn change_password(&self, username: &str, current: &str, new: &str) -> Result<()> {
        check_password(username, new)?;
        let user = self.existing_user(username)?;
        if !verify_password(current, &user.password_hash) {
            return Err(AccountError::WrongPassword.into());
        }
        let hash = hash_password(new)?;
        let _g = lock(&self.writes)?;
        let mut user = self.existing_user(username)?;
        user.password_hash = hash;
        user.sessions_after = now_unix() + 1;
        self.put_user(&user, Durability::Synced)?;
        info!(user = %username, "password changed");
        Ok(())
    }

    fn session_record(&self, id: &str) -> Result<Option<SessionRecord>> {
        if id.len() != 43 {
            return Ok(None);
        }
        match self.store.get(Cf::Sessions, &session_key(id))? {
            Some(v) => Ok(Some(decode_json("session", &v)?)),
            None => Ok(None),
        }
    }

    fn put_session(&self, id: &str, s: &SessionRecord, d: Durability) -> Result<()> {
        let mut b = WriteBatch::default();
        b.put(Cf::Sessions, session_key(id).to_vec(), encode_json(s));
        Ok(self.store.write(b, d)?)
    }

    fn delete_session(&self, id: &str) -> Result<()> {
        let mut b = WriteBatch::default();
        b.delete(Cf::Sessions, session_key(id).to_vec());
        Ok(self.store.write(b, Durability::Synced)?)
    }

    /// Deletes up to [`SWEEP`] expired sessions (run at each sign-in, so ended sessions do not
    /// pile up).
    fn sweep_sessions(&self, now: i64) -> Result<()> {
        let mut b = WriteBatch::default();
        for (k, v) in self.store.range(Cf::Sessions, b"", None, SWEEP)? {
            let s: SessionRecord = decode_json("session", &v)?;
            if self.expired(&s, now) {
                b.delete(Cf::Sessions, k);
            }
        }
        Ok(self.store.write(b, Durability::Buffered)?)
    }
}

fn session_key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}
