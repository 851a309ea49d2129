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
    /// An enterprise role names no enterprise.
    #[error("a {role} belongs to one enterprise: give enterprise_id")]
    EnterpriseRequired {
        /// The role asked for.
        role: String,
    },
    /// A platform role names an enterprise.
    #[error("a {role} belongs to the platform, not to an enterprise: leave out enterprise_id")]
    EnterpriseNotAllowed {
        /// The role asked for.
        role: String,
    },
    /// The grantor may not hand out this role: an enterprise admin grants only its own
    /// enterprise's roles.
    #[error("a {by} may not grant the {role} role")]
    RoleAboveGrantor {
        /// The role asked for.
        role: String,
        /// The grantor's role.
        by: String,
    },
}

impl AccountError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AccountError::TokenNotFound { .. } => ErrorKind::NotFound,
            AccountError::AlreadyRevoked { .. } => ErrorKind::Conflict,
            AccountError::EnterpriseRequired { .. } | AccountError::EnterpriseNotAllowed { .. } => {
                ErrorKind::Unprocessable
            }
            AccountError::RoleAboveGrantor { .. } => ErrorKind::Forbidden,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match self {
            AccountError::TokenNotFound { .. } => "token_not_found",
            AccountError::AlreadyRevoked { .. } => "already_revoked",
            AccountError::EnterpriseRequired { .. } => "enterprise_required",
            AccountError::EnterpriseNotAllowed { .. } => "enterprise_not_allowed",
            AccountError::RoleAboveGrantor { .. } => "role_above_grantor",
        }
    }
}
