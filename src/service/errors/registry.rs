//! Errors of one operation family: the actor registry and actors' keys.

use super::{rfc3339, ErrorKind};

/// The actor registry and actors' keys: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// No actor has this id.
    #[error("no actor with id {id:?}")]
    ActorNotFound {
        /// The actor id asked for.
        id: String,
    },
    /// Registering an actor whose id is taken.
    #[error("an actor with id {id:?} exists already")]
    ActorExists {
        /// The actor id.
        id: String,
    },
    /// Adding a key the actor holds already.
    #[error("actor {actor} already has key {kid}")]
    DuplicateKey {
        /// The actor.
        actor: String,
        /// The key id.
        kid: String,
    },
    /// The actor holds as many keys as allowed (active or not).
    #[error("actor {actor} has {max} keys, the most allowed")]
    TooManyKeys {
        /// The actor.
        actor: String,
        /// The most keys an actor may hold.
        max: usize,
    },
    /// A rotation names a key the actor does not have.
    #[error("actor {actor} has no key {kid} to replace")]
    ReplacedKeyNotFound {
        /// The actor.
        actor: String,
        /// The key id named by `replaces`.
        kid: String,
    },
    /// A revocation names a key the actor does not have.
    #[error("actor {actor} has no key {kid}")]
    KeyNotFound {
        /// The actor.
        actor: String,
        /// The key id asked for.
        kid: String,
    },
    /// The key is already revoked from the same or an earlier time.
    #[error("key {kid} is already revoked from {}", rfc3339(*.from))]
    AlreadyRevoked {
        /// The key id.
        kid: String,
        /// The time it is revoked from, Unix seconds.
        from: i64,
    },
    /// A registration request's signature does not verify with the key it names.
    #[error("the request's signature does not verify with its public_key (sign the request text with the key it names)")]
    RequestSignature,
    /// A registration request for another log.
    #[error("the request is for log {log:?}; this is {expected:?}")]
    RequestWrongLog {
        /// The request's log.
        log: String,
        /// This service's log.
        expected: String,
    },
    /// A registration request signed too long ago, or in the future.
    #[error("the request was signed at {} but the server's time is {} (more than 10 minutes apart: check this device's clock)", rfc3339(*.signed_at), rfc3339(*.now))]
    RequestStale {
        /// `signed_at` of the request.
        signed_at: i64,
        /// The server's time.
        now: i64,
    },
    /// The pending list is full.
    #[error("{max} registration requests are waiting for the operator; try again later, or send the public key and fingerprint to the operator directly")]
    TooManyRequests {
        /// The most that may wait.
        max: usize,
    },
    /// No pending request for this fingerprint.
    #[error("no registration request is pending for fingerprint {fingerprint:?}")]
    RequestNotFound {
        /// The fingerprint asked for.
        fingerprint: String,
    },
}

impl RegistryError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use RegistryError as E;
        match self {
            E::ActorNotFound { .. }
            | E::ReplacedKeyNotFound { .. }
            | E::KeyNotFound { .. }
            | E::RequestNotFound { .. } => ErrorKind::NotFound,
            E::RequestSignature => ErrorKind::Invalid,
            E::RequestWrongLog { .. } | E::RequestStale { .. } => ErrorKind::Unprocessable,
            E::TooManyRequests { .. } => ErrorKind::Unavailable,
            E::ActorExists { .. }
            | E::DuplicateKey { .. }
            | E::TooManyKeys { .. }
            | E::AlreadyRevoked { .. } => ErrorKind::Conflict,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        use RegistryError as E;
        match self {
            E::ActorNotFound { .. } => "actor_not_found",
            E::ActorExists { .. } => "actor_exists",
            E::DuplicateKey { .. } => "duplicate_key",
            E::TooManyKeys { .. } => "too_many_keys",
            E::ReplacedKeyNotFound { .. } => "replaced_key_not_found",
            E::KeyNotFound { .. } => "key_not_found",
            E::AlreadyRevoked { .. } => "already_revoked",
            E::RequestSignature => "bad_request_signature",
            E::RequestWrongLog { .. } => "wrong_log",
            E::RequestStale { .. } => "stale_request",
            E::TooManyRequests { .. } => "too_many_requests",
            E::RequestNotFound { .. } => "request_not_found",
        }
    }
}
