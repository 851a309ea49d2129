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
    /// A user with this name exists.
    #[error("user {username:?} exists already")]
    UserExists {
        /// The name.
        username: String,
    },
    /// No user has this name.
    #[error("no user {username:?}")]
    UserNotFound {
        /// The name asked for.
        username: String,
    },
    /// The user is disabled already.
    #[error("user {username:?} was disabled already")]
    UserDisabledAlready {
        /// The name.
        username: String,
    },
    /// Sign-in refused: the one answer for a wrong password, an unknown or disabled user and a
    /// paused account, so it never tells whether an account exists.
    #[error(
        "wrong user name or password, or this account cannot sign in now (after repeated wrong passwords, sign-in pauses for a while)"
    )]
    SignInFailed,
    /// A password change gave a wrong current password.
    #[error("the current password is wrong")]
    WrongPassword,
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
            AccountError::RoleAboveGrantor { .. } | AccountError::WrongPassword => {
                ErrorKind::Forbidden
            }
            AccountError::UserExists { .. } | AccountError::UserDisabledAlready { .. } => {
                ErrorKind::Conflict
            }
            AccountError::UserNotFound { .. } => ErrorKind::NotFound,
            AccountError::SignInFailed => ErrorKind::Unauthenticated,
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
            AccountError::UserExists { .. } => "user_exists",
            AccountError::UserNotFound { .. } => "user_not_found",
            AccountError::UserDisabledAlready { .. } => "user_disabled_already",
            AccountError::SignInFailed => "sign_in_failed",
            AccountError::WrongPassword => "wrong_password",
        }
    }
}
