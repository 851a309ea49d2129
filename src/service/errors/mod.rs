//! The errors of the use cases: one enum per operation family, each variant carrying the data
//! that explains it, all gathered in [`ServiceError`].
//!
//! Every variant says two things besides its text: its [`ErrorKind`] (which the HTTP edge
//! maps to a status code, in `http/error.rs` and nowhere else) and a stable machine-readable
//! code, `family.variant` (e.g. `custody.stale_head`), which problem+json answers carry so
//! that clients can act on — or translate — a refusal without parsing its English text.
//! This module imports no unit of the service, so every unit may import it.

mod complaint;
mod custody;
mod engagement;
mod input;
mod issuance;
mod log;
mod master;
mod printing;
mod registry;
mod setup;

pub use self::complaint::ComplaintError;
pub use self::custody::CustodyError;
pub use self::engagement::EngagementError;
pub use self::input::InputError;
pub use self::issuance::IssuanceError;
pub use self::log::LogError;
pub use self::master::MasterError;
pub use self::printing::PrintError;
pub use self::registry::RegistryError;
pub use self::setup::SetupError;

use crate::store::StoreError;

/// What kind of failure an error is; the HTTP edge maps each to one status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request is malformed (HTTP 400).
    Invalid,
    /// The named resource does not exist (HTTP 404).
    NotFound,
    /// The request conflicts with current state (HTTP 409).
    Conflict,
    /// Well-formed but refers to something unusable, e.g. an unknown GTIN (HTTP 422).
    Unprocessable,
    /// The signed request could not be authenticated (HTTP 401).
    Unauthenticated,
    /// Authenticated, but this actor may not do this (HTTP 403).
    Forbidden,
    /// A resource we depend on is unavailable; retry later (HTTP 503).
    Unavailable,
    /// Our own invariant broke (HTTP 500, details only in the server log).
    Internal,
}

/// Errors of the use cases.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// A field of the request is malformed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Enterprises and products.
    #[error(transparent)]
    Master(#[from] MasterError),
    /// The actor registry and actors' keys.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// Engagements of actors for enterprises' lots.
    #[error(transparent)]
    Engagement(#[from] EngagementError),
    /// Batches, codes and items.
    #[error(transparent)]
    Issuance(#[from] IssuanceError),
    /// Custody submissions, lots and their records.
    #[error(transparent)]
    Custody(#[from] CustodyError),
    /// Print jobs and labels.
    #[error(transparent)]
    Printing(#[from] PrintError),
    /// Complaints and credit profiles.
    #[error(transparent)]
    Complaint(#[from] ComplaintError),
    /// The log, its checkpoints and proofs, bundles.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Setting up and opening a data directory, loading demo data.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Our own invariant broke; the text says which (server log only).
    #[error("{0}")]
    Internal(String),
}

impl ServiceError {
    /// An invariant of ours broke: `what` says which, for the server log.
    pub fn internal(what: impl std::fmt::Display) -> Self {
        ServiceError::Internal(what.to_string())
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.describe().0
    }

    /// The stable code, `family.variant`.
    pub fn code(&self) -> String {
        let (_, family, variant) = self.describe();
        format!("{family}.{variant}")
    }

    fn describe(&self) -> (ErrorKind, &'static str, &'static str) {
        use ErrorKind as K;
        use ServiceError as E;
        match self {
            E::Input(e) => (e.kind(), "input", e.code()),
            E::Master(e) => (e.kind(), "master", e.code()),
            E::Registry(e) => (e.kind(), "registry", e.code()),
            E::Engagement(e) => (e.kind(), "engagement", e.code()),
            E::Issuance(e) => (e.kind(), "issuance", e.code()),
            E::Custody(e) => (e.kind(), "custody", e.code()),
            E::Printing(e) => (e.kind(), "printing", e.code()),
            E::Complaint(e) => (e.kind(), "complaint", e.code()),
            E::Log(e) => (e.kind(), "log", e.code()),
            E::Setup(e) => (e.kind(), "setup", e.code()),
            E::Store(StoreError::Unavailable(_)) => (K::Unavailable, "store", "unavailable"),
            E::Store(_) => (K::Internal, "store", "failed"),
            E::Internal(_) => (K::Internal, "internal", "invariant"),
        }
    }
}

/// RFC 3339 text of a Unix time in seconds (the number itself if out of range), as the
/// service writes times in its messages and records.
pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
