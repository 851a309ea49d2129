//! Errors of one operation family: published certificates (the files behind an origin
//! attestation's documents).

use super::ErrorKind;

/// Published certificates: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// The path's hash is not 64 lowercase hex characters.
    #[error("{given:?} is not a SHA-256 (64 lowercase hex characters)")]
    BadHash {
        /// What was given (cut to 80 characters).
        given: String,
    },
    /// No log leaf at the record index named.
    #[error("no record at leaf index {record}")]
    NoSuchRecord {
        /// The leaf index.
        record: u64,
    },
    /// The leaf named is not an origin attestation (only attestations carry documents).
    #[error(
        "leaf {record} is not an origin attestation: only attestations have documents to publish"
    )]
    NotAnAttestation {
        /// The leaf index.
        record: u64,
    },
    /// The record was signed by another actor.
    #[error("record {record} was signed by {signer}, not by you: only its signer may publish its documents")]
    NotYourRecord {
        /// The leaf index.
        record: u64,
        /// Who signed it.
        signer: String,
    },
    /// The hash is not among the record's documents.
    #[error("record {record} names no document with SHA-256 {sha256}")]
    NotInRecord {
        /// The leaf index.
        record: u64,
        /// The hash asked for.
        sha256: String,
    },
    /// The file is larger than the cap.
    #[error("the file is {size} bytes; at most {max} bytes may be published")]
    TooLarge {
        /// Its size (or its announced length).
        size: u64,
        /// The cap.
        max: u64,
    },
    /// The bytes hash to something else than the path says.
    #[error(
        "the file's SHA-256 is {actual}, not {named}: it is not the document the record names"
    )]
    HashMismatch {
        /// The hash in the path (and the record).
        named: String,
        /// The hash of the bytes sent.
        actual: String,
    },
    /// Not a PDF, PNG or JPEG file (by its first bytes).
    #[error("only PDF, PNG and JPEG files may be published; this file starts with {start}")]
    UnsupportedType {
        /// Its first bytes, hex.
        start: String,
    },
    /// No certificate is published under the hash.
    #[error("no certificate is published with SHA-256 {sha256}")]
    NotFound {
        /// The hash asked for.
        sha256: String,
    },
}

impl CertificateError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use CertificateError as E;
        match self {
            E::BadHash { .. } => ErrorKind::Invalid,
            E::NoSuchRecord { .. } | E::NotFound { .. } => ErrorKind::NotFound,
            E::NotAnAttestation { .. } | E::NotInRecord { .. } | E::HashMismatch { .. } => {
                ErrorKind::Unprocessable
            }
            E::NotYourRecord { .. } => ErrorKind::Forbidden,
            E::TooLarge { .. } => ErrorKind::TooLarge,
            E::UnsupportedType { .. } => ErrorKind::UnsupportedType,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        use CertificateError as E;
        match self {
            E::BadHash { .. } => "bad_hash",
            E::NoSuchRecord { .. } => "no_such_record",
            E::NotAnAttestation { .. } => "not_an_attestation",
            E::NotYourRecord { .. } => "not_your_record",
            E::NotInRecord { .. } => "not_in_record",
            E::TooLarge { .. } => "too_large",
            E::HashMismatch { .. } => "hash_mismatch",
            E::UnsupportedType { .. } => "unsupported_type",
            E::NotFound { .. } => "not_found",
        }
    }
}
