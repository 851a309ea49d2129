//! Errors of one operation family: engagements of actors for enterprises' lots.

use super::rfc3339;
use super::ErrorKind;
use crate::custody::engagement::NotEngaged as NotEngagedError;

/// Engagements of actors for enterprises' lots: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum EngagementError {
    /// Engaging an actor that is not registered.
    #[error("no actor with id {actor:?}")]
    UnknownActor {
        /// The actor id named.
        actor: String,
    },
    /// An engagement names a GTIN that is not a registered product of the enterprise.
    #[error("GTIN {gtin} is not a product of enterprise {enterprise}")]
    NotAProductOfEnterprise {
        /// The GTIN-14.
        gtin: String,
        /// The engaging enterprise.
        enterprise: u64,
    },
    /// The actor already has an engagement by the enterprise in force (or starting later).
    #[error(
        "actor {actor} is already engaged by enterprise {enterprise} (from {}); end that engagement first",
        rfc3339(*.from)
    )]
    AlreadyEngaged {
        /// The actor.
        actor: String,
        /// The enterprise.
        enterprise: u64,
        /// The start of the open engagement, Unix seconds.
        from: i64,
    },
    /// Ending an engagement when none is open.
    #[error("actor {actor:?} has no open engagement with enterprise {enterprise}")]
    NoOpenEngagement {
        /// The actor.
        actor: String,
        /// The enterprise.
        enterprise: u64,
    },
    /// A record's signer was not engaged by the product's enterprise for its GTIN when it
    /// signed (the cause says how its engagements fall short).
    #[error(transparent)]
    NotEngaged(#[from] NotEngagedError),
    /// A record's signer was engaged when it signed, but the engagement ended or expired
    /// before the record arrived.
    #[error(
        "actor {actor} is not engaged by enterprise {enterprise} for GTIN {gtin} any more: its engagement ended or expired before this record arrived"
    )]
    NoLongerEngaged {
        /// The signing actor.
        actor: String,
        /// The enterprise that owns the GTIN.
        enterprise: u64,
        /// The lot's GTIN-14.
        gtin: String,
    },
}

impl EngagementError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use EngagementError as E;
        match self {
            E::UnknownActor { .. } | E::NotAProductOfEnterprise { .. } => ErrorKind::Unprocessable,
            E::AlreadyEngaged { .. } => ErrorKind::Conflict,
            E::NoOpenEngagement { .. } => ErrorKind::NotFound,
            E::NotEngaged(_) | E::NoLongerEngaged { .. } => ErrorKind::Forbidden,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        use EngagementError as E;
        match self {
            E::UnknownActor { .. } => "unknown_actor",
            E::NotAProductOfEnterprise { .. } => "not_a_product_of_enterprise",
            E::AlreadyEngaged { .. } => "already_engaged",
            E::NoOpenEngagement { .. } => "no_open_engagement",
            E::NotEngaged(_) => "not_engaged",
            E::NoLongerEngaged { .. } => "no_longer_engaged",
        }
    }
}
