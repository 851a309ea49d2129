//! Errors of one operation family: enterprises and products.

use super::ErrorKind;

/// Enterprises and products: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {
    /// Registering an enterprise whose USCC another enterprise has.
    #[error("an enterprise with USCC {uscc} exists already (id {enterprise})")]
    UsccExists {
        /// The USCC.
        uscc: String,
        /// The enterprise that has it.
        enterprise: u64,
    },
    /// Changing an enterprise's USCC to one another enterprise has.
    #[error("USCC {uscc} belongs to enterprise {enterprise}")]
    UsccInUse {
        /// The USCC.
        uscc: String,
        /// The enterprise that has it.
        enterprise: u64,
    },
    /// No enterprise has this id.
    #[error("no enterprise with id {id}")]
    EnterpriseNotFound {
        /// The id asked for.
        id: u64,
    },
    /// No enterprise has this USCC.
    #[error("no enterprise with USCC {uscc}")]
    UsccNotFound {
        /// The USCC asked for.
        uscc: String,
    },
    /// A product names an enterprise that is not registered.
    #[error("enterprise_id {id} does not exist; register the enterprise first")]
    UnknownEnterprise {
        /// The enterprise id named.
        id: u64,
    },
    /// Registering a product whose GTIN is registered already.
    #[error("product {gtin} exists already; use PUT /api/v1/products/{gtin} to change it")]
    ProductExists {
        /// The GTIN-14.
        gtin: String,
    },
    /// No product has this GTIN.
    #[error("no product with GTIN {gtin}")]
    ProductNotFound {
        /// The GTIN-14 asked for.
        gtin: String,
    },
    /// An update's body names another GTIN than its path.
    #[error("the body's gtin {body} differs from the path's {path}; a GTIN cannot be changed")]
    GtinMismatch {
        /// The GTIN-14 in the body.
        body: String,
        /// The GTIN-14 in the path.
        path: String,
    },
}

impl MasterError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use MasterError as E;
        match self {
            E::GtinMismatch { .. } => ErrorKind::Invalid,
            E::UsccExists { .. } | E::UsccInUse { .. } | E::ProductExists { .. } => {
                ErrorKind::Conflict
            }
            E::EnterpriseNotFound { .. } | E::UsccNotFound { .. } | E::ProductNotFound { .. } => {
                ErrorKind::NotFound
            }
            E::UnknownEnterprise { .. } => ErrorKind::Unprocessable,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        use MasterError as E;
        match self {
            E::UsccExists { .. } => "uscc_exists",
            E::UsccInUse { .. } => "uscc_in_use",
            E::EnterpriseNotFound { .. } => "enterprise_not_found",
            E::UsccNotFound { .. } => "uscc_not_found",
            E::UnknownEnterprise { .. } => "unknown_enterprise",
            E::ProductExists { .. } => "product_exists",
            E::ProductNotFound { .. } => "product_not_found",
            E::GtinMismatch { .. } => "gtin_mismatch",
        }
    }
}
