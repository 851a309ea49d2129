//! The errors of the use cases: one enum per operation family, each variant carrying the data
//! that explains it, all gathered in [`ServiceError`].
//!
//! Every variant says two things besides its text: its [`ErrorKind`] (which the HTTP edge
//! maps to a status code, in `http/error.rs` and nowhere else) and a stable machine-readable
//! code, `family.variant` (e.g. `custody.stale_head`), which problem+json answers carry so
//! that clients can act on — or translate — a refusal without parsing its English text.
//! This module imports no unit of the service, so every unit may import it.

mod account;
mod certificate;
mod complaint;
mod custody;
mod engagement;
mod grade;
mod input;
mod issuance;
mod keys;
mod log;
mod master;
mod printing;
mod registry;
mod setup;

pub use self::account::AccountError;
pub use self::certificate::CertificateError;
pub use self::complaint::ComplaintError;
pub use self::custody::CustodyError;
pub use self::engagement::EngagementError;
pub use self::grade::GradeError;
pub use self::input::InputError;
pub use self::issuance::IssuanceError;
pub use self::keys::KeyError;
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
    /// The body is larger than the operation takes (HTTP 413).
    TooLarge,
    /// The body is of a type the operation does not take (HTTP 415).
    UnsupportedType,
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
    /// Credit-risk grades.
    #[error(transparent)]
    Grade(#[from] GradeError),
    /// Issuer keys: rotation, revocation, the key files.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The log, its checkpoints and proofs, bundles.
    #[error(transparent)]
    Log(#[from] LogError),
    /// Setting up and opening a data directory, loading demo data.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// Principals and their API tokens.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// Published certificates.
    #[error(transparent)]
    Certificate(#[from] CertificateError),
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
            E::Grade(e) => (e.kind(), "grade", e.code()),
            E::Keys(e) => (e.kind(), "keys", e.code()),
            E::Log(e) => (e.kind(), "log", e.code()),
            E::Setup(e) => (e.kind(), "setup", e.code()),
            E::Account(e) => (e.kind(), "account", e.code()),
            E::Certificate(e) => (e.kind(), "certificate", e.code()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes a family's `code()` returns, read from its source file.
    fn codes_in(source: &str) -> Vec<String> {
        let start = source.find("pub fn code(&self)").expect("a code() method");
        let body = &source[start..];
        let end = body.find("\n    }\n").expect("end of code()");
        body[..end]
            .split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn every_code_is_documented_in_the_api_docs() {
        let root = env!("CARGO_MANIFEST_DIR");
        let docs = std::fs::read_to_string(format!("{root}/docs/api.md")).unwrap();
        let families = [
            ("input", "input"),
            ("master", "master"),
            ("registry", "registry"),
            ("engagement", "engagement"),
            ("issuance", "issuance"),
            ("keys", "keys"),
            ("custody", "custody"),
            ("printing", "printing"),
            ("complaint", "complaint"),
            ("grade", "grade"),
            ("log", "log"),
            ("setup", "setup"),
            ("account", "account"),
            ("certificate", "certificate"),
        ];
        let mut ours = std::collections::BTreeSet::new();
        for (file, family) in families {
            let src =
                std::fs::read_to_string(format!("{root}/src/service/errors/{file}.rs")).unwrap();
            let codes = codes_in(&src);
            assert!(!codes.is_empty(), "{file}.rs: no codes found");
            ours.extend(codes.into_iter().map(|c| format!("{family}.{c}")));
        }
        // Both ways: every code is documented, and the table names no code we do not have.
        let table = docs
            .split("## Error codes")
            .nth(1)
            .expect("an Error codes section");
        let documented: std::collections::BTreeSet<String> = table
            .lines()
            .filter_map(|l| l.strip_prefix("| `")?.split_once("` |").map(|(c, _)| c))
            .filter(|c| c.contains('.') && !c.starts_with("store."))
            .map(str::to_string)
            .collect();
        assert_eq!(
            ours.difference(&documented).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "codes missing from docs/api.md"
        );
        assert_eq!(
            documented.difference(&ours).collect::<Vec<_>>(),
            Vec::<&String>::new(),
            "docs/api.md names codes that do not exist"
        );
        assert!(ours.len() > 70, "only {} codes found", ours.len());
    }

    #[test]
    fn kinds_and_codes_of_the_shared_variants() {
        let e = ServiceError::from(InputError::parse("gtin", "bad check digit"));
        assert_eq!(
            (e.kind(), e.code()),
            (ErrorKind::Invalid, "input.invalid_field".into())
        );
        assert_eq!(e.to_string(), "gtin: bad check digit");
        let e = ServiceError::from(StoreError::Unavailable("disk".into()));
        assert_eq!(
            (e.kind(), e.code()),
            (ErrorKind::Unavailable, "store.unavailable".into())
        );
        let e = ServiceError::internal("checkpoint 3 missing");
        assert_eq!(e.kind(), ErrorKind::Internal);
    }
}
