//! Errors of one operation family: principals and their API tokens.

use super::ErrorKind;

/// Principals and their API tokens: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// No token has this id.
    #[error("no API token with id {id:?}")]
    TokenNotFound {
        /// The id asked for.
        id: String,
    },
    /// The token is revoked already.
    #[error("API token {id} was revoked already")]
    AlreadyRevoked {
        /// The token's id.
        id: String,
    },
    /// Tokens of enterprise roles need the enterprise scoping of issue 14, which has not
    /// landed: until then only platform roles can hold a token.
    #[error(
        "role {role} is not available yet: tokens are for the operator and regulator roles until enterprise scoping lands"
    )]
    RoleNotAvailable {
        /// The role asked for.
        role: String,
    },
}

impl AccountError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AccountError::TokenNotFound { .. } => ErrorKind::NotFound,
            AccountError::AlreadyRevoked { .. } => ErrorKind::Conflict,
            AccountError::RoleNotAvailable { .. } => ErrorKind::Unprocessable,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::TokenNotFound { .. } => "token_not_found",
            AccountError::AlreadyRevoked { .. } => "already_revoked",
            AccountError::RoleNotAvailable { .. } => "role_not_available",
        }
    }
}
