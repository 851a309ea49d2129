//! Errors of one operation family: issuer keys (rotation, revocation, the key files).

use std::path::PathBuf;

use super::{rfc3339, ErrorKind};

/// Issuer keys: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// No issuer key has this id.
    #[error(
        "no issuer key {kid} is registered (`traceseal keys list` or GET /api/v1/keys shows them)"
    )]
    KeyNotFound {
        /// The key id asked for.
        kid: String,
    },
    /// Revoking the key that signs new batches.
    #[error(
        "issuer key {kid} is the current key (it signs new batches): run `traceseal keys rotate` \
         first, then revoke it"
    )]
    CurrentKey {
        /// The key id.
        kid: String,
    },
    /// The key is already revoked from the same or an earlier time.
    #[error(
        "issuer key {kid} is already revoked from {}; a new revocation may only move it earlier",
        rfc3339(*.from)
    )]
    AlreadyRevoked {
        /// The key id.
        kid: String,
        /// The time it is revoked from, Unix seconds.
        from: i64,
    },
    /// Key files in `keys/` hold issuer keys the store does not register: a rotation wrote the
    /// new key's file and stopped before registering it.
    #[error(
        "{} {} an issuer key the store does not register: a `traceseal keys rotate` was \
         interrupted after writing the new key. Run `traceseal keys rotate` again (the service \
         stopped) to finish it with {}, or move {} out of keys/ to abandon it",
        files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>().join(", "),
        if files.len() == 1 { "holds" } else { "each hold" },
        if files.len() == 1 { "that key" } else { "one of them (move the others away)" },
        if files.len() == 1 { "the file" } else { "the files" }
    )]
    UnregisteredKeyFiles {
        /// The files.
        files: Vec<PathBuf>,
    },
    /// The current issuer key has no key file.
    #[error(
        "the current issuer key {kid} has no key file in keys/ (issuer.pem or issuer-{kid}.pem): \
         restore it from your backup"
    )]
    CurrentKeyFileMissing {
        /// The key id.
        kid: String,
    },
}

impl KeyError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use KeyError as E;
        match self {
            E::KeyNotFound { .. } | E::CurrentKeyFileMissing { .. } => ErrorKind::NotFound,
            E::CurrentKey { .. } | E::AlreadyRevoked { .. } | E::UnregisteredKeyFiles { .. } => {
                ErrorKind::Conflict
            }
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        use KeyError as E;
        match self {
            E::KeyNotFound { .. } => "key_not_found",
            E::CurrentKey { .. } => "current_key",
            E::AlreadyRevoked { .. } => "already_revoked",
            E::UnregisteredKeyFiles { .. } => "unregistered_key_files",
            E::CurrentKeyFileMissing { .. } => "current_key_file_missing",
        }
    }
}
