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
}

impl RegistryError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use RegistryError as E;
        match self {
            E::ActorNotFound { .. } | E::ReplacedKeyNotFound { .. } | E::KeyNotFound { .. } => {
                ErrorKind::NotFound
            }
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
        }
    }
}
