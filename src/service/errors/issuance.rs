//! Errors of one operation family: batches, codes and items.

use super::ErrorKind;

/// Batches, codes and items: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {
    /// A batch names a GTIN that is not a registered product.
    #[error("unknown GTIN {gtin}: register the product with POST /api/v1/products first")]
    UnknownGtin {
        /// The GTIN-14.
        gtin: String,
    },
    /// An `Idempotency-Key` was used before for a different request.
    #[error(
        "Idempotency-Key {key:?} was already used for a different request (batch {batch}); \
         use a new key for a new batch"
    )]
    IdempotencyKeyReused {
        /// The key.
        key: String,
        /// The batch it was used for.
        batch: u64,
    },
    /// No batch has this id.
    #[error("no batch with id {id}")]
    BatchNotFound {
        /// The id asked for.
        id: u64,
    },
    /// The codes of a batch still being issued were asked for.
    #[error(
        "batch {id} is still being issued ({issued} of {quantity} codes); its codes can be \
         listed once it is complete"
    )]
    BatchIssuing {
        /// The batch.
        id: u64,
        /// Codes durably issued so far.
        issued: u64,
        /// Codes requested.
        quantity: u64,
    },
    /// A presented code is not one we issued (which check failed is deliberately not said).
    #[error(
        "no item was issued with this code (scan it for the reason: GET /api/v1/verify?code=…)"
    )]
    CodeNotIssued,
    /// A presented code belongs to a batch whose issuance was interrupted.
    #[error(
        "issuance of batch {batch} was interrupted before it completed; its codes are not valid"
    )]
    BatchInterrupted {
        /// The batch.
        batch: u64,
    },
    /// An interrupted batch cannot be resumed: the issuer key it was started with (every code
    /// of a batch is signed by one key) is revoked.
    #[error(
        "batch {batch} was started with issuer key {kid}, which is revoked: it cannot be resumed \
         and its codes are not valid; issue a new batch (with a new Idempotency-Key)"
    )]
    IssuerKeyRevoked {
        /// The batch.
        batch: u64,
        /// Its issuer key.
        kid: String,
    },
    /// An interrupted batch cannot be resumed: the key file of the issuer key it was started
    /// with is not in `keys/` (moved offline after a rotation?).
    #[error(
        "batch {batch} was started with issuer key {kid}, whose key file is not in keys/: put \
         keys/issuer-{kid}.pem (or the issuer.pem of that key) back and retry to resume it"
    )]
    SigningKeyUnavailable {
        /// The batch.
        batch: u64,
        /// Its issuer key.
        kid: String,
    },
}

impl IssuanceError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use IssuanceError as E;
        match self {
            E::UnknownGtin { .. } => ErrorKind::Unprocessable,
            E::IdempotencyKeyReused { .. }
            | E::BatchIssuing { .. }
            | E::BatchInterrupted { .. }
            | E::IssuerKeyRevoked { .. }
            | E::SigningKeyUnavailable { .. } => ErrorKind::Conflict,
            E::BatchNotFound { .. } | E::CodeNotIssued => ErrorKind::NotFound,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        use IssuanceError as E;
        match self {
            E::UnknownGtin { .. } => "unknown_gtin",
            E::IdempotencyKeyReused { .. } => "idempotency_key_reused",
            E::BatchNotFound { .. } => "batch_not_found",
            E::BatchIssuing { .. } => "batch_issuing",
            E::CodeNotIssued => "code_not_issued",
            E::BatchInterrupted { .. } => "batch_interrupted",
            E::IssuerKeyRevoked { .. } => "issuer_key_revoked",
            E::SigningKeyUnavailable { .. } => "signing_key_unavailable",
        }
    }
}
