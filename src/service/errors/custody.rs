//! Errors of one operation family: custody submissions, lots and their records.

use super::rfc3339;
use super::ErrorKind;
use crate::commitment::ItemRef;
use crate::custody::event::HoldType;
use crate::custody::record::RecordError;
use crate::custody::{LotId, OrderError, Role, Step};
use crate::grading::SamplingReason;

/// Custody submissions, lots and their records: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum CustodyError {
    /// The statement does not parse, is not canonical JSON, or a field of it is malformed.
    #[error(transparent)]
    MalformedStatement(RecordError),
    /// The signature is not base64url of 64 bytes.
    #[error(transparent)]
    MalformedSignature(RecordError),
    /// A signed actor request without a well-formed `Authorization: Traceseal-Actor …` header.
    #[error(transparent)]
    MalformedAuthorization(#[from] crate::custody::request::RequestError),
    /// The record's leaf would exceed the most a log leaf may hold.
    #[error(
        "the record is {len} bytes, more than the {max} a log leaf may hold; split the items over several events"
    )]
    RecordTooLarge {
        /// The leaf's size, bytes.
        len: usize,
        /// The most a log leaf may hold, bytes.
        max: usize,
    },
    /// The statement was signed for another deployment's log.
    #[error("the statement was signed for log {signed_for:?}, this service is log {this_log:?}")]
    WrongLog {
        /// The log origin the statement names.
        signed_for: String,
        /// This service's log origin.
        this_log: String,
    },
    /// The statement names an actor that is not registered.
    #[error("unknown actor {actor:?}")]
    UnknownActor {
        /// The actor id the statement names.
        actor: String,
    },
    /// The actor has no key with the statement's key id.
    #[error("actor {actor} has no key {kid}")]
    UnknownKey {
        /// The actor.
        actor: String,
        /// The key id the statement names.
        kid: String,
    },
    /// The signature does not verify (`verify_strict`) with the named key over the statement.
    #[error("the signature does not verify with key {kid} of actor {actor}")]
    BadSignature {
        /// The key id.
        kid: String,
        /// The actor.
        actor: String,
    },
    /// The key's validity had not begun at the time in question.
    #[error("key {kid} is not valid before {}", rfc3339(*.from))]
    KeyNotYetValid {
        /// The key id.
        kid: String,
        /// Its `not_before`, Unix seconds.
        from: i64,
    },
    /// The key had expired (or was rotated out) at the time in question.
    #[error("key {kid} expired at {}", rfc3339(*.at))]
    KeyExpired {
        /// The key id.
        kid: String,
        /// Its `not_after`, Unix seconds.
        at: i64,
    },
    /// The key was revoked from a time at or before the time in question.
    #[error(
        "key {kid} was revoked from {} ({})",
        rfc3339(*.from),
        .reason.as_deref().unwrap_or("no reason given")
    )]
    KeyRevoked {
        /// The key id.
        kid: String,
        /// The time it is revoked from, Unix seconds.
        from: i64,
        /// The revocation's reason, when one was given.
        reason: Option<String>,
    },
    /// `signed_at` is outside the freshness window around the server time (stale or future).
    #[error(
        "signed_at {} is more than {window} s from the server time {}: sign again now (check the signer's clock)",
        rfc3339(*.signed_at),
        rfc3339(*.now)
    )]
    SignedAtOutOfWindow {
        /// The statement's `signed_at`, Unix seconds.
        signed_at: i64,
        /// The server time, Unix seconds.
        now: i64,
        /// The freshness window, seconds.
        window: i64,
    },
    /// The actor's role may not record the step.
    #[error(
        "actor {actor} is a {role}; {step} may be recorded by: {}",
        join_roles(.allowed)
    )]
    RoleNotAllowed {
        /// The actor.
        actor: String,
        /// Its role.
        role: Role,
        /// The step it tried to record.
        step: Step,
        /// The roles that may record the step.
        allowed: &'static [Role],
    },
    /// The actor's role does not own holds of this type (placing or lifting one).
    #[error(
        "actor {actor} is a {role}; {} holds belong to the {owner}",
        .hold.as_str()
    )]
    HoldNotOwned {
        /// The actor.
        actor: String,
        /// Its role.
        role: Role,
        /// The hold type.
        hold: HoldType,
        /// The role that places and lifts holds of this type.
        owner: Role,
    },
    /// The lot's GTIN is not a registered product.
    #[error("GTIN {gtin} is not a registered product")]
    UnregisteredProduct {
        /// The GTIN-14.
        gtin: String,
    },
    /// A submission's lot was neither issued nor declared.
    #[error(
        "lot {lot} does not exist: issue a batch of it, or declare it first (POST /api/v1/lots)"
    )]
    UndeclaredLot {
        /// The lot.
        lot: LotId,
    },
    /// The lot was neither issued nor declared.
    #[error("lot {lot} does not exist: nothing of it was issued or declared")]
    LotNotFound {
        /// The lot.
        lot: LotId,
    },
    /// The statement's nonce was already used by the actor.
    #[error("replay: nonce {nonce} was already used by actor {actor}")]
    Replay {
        /// The nonce.
        nonce: String,
        /// The actor.
        actor: String,
    },
    /// The lot holds as many records as a lot may.
    #[error("lot {lot} has {max} records, the most a lot may have")]
    LotFull {
        /// The lot.
        lot: LotId,
        /// The most records a lot may have.
        max: usize,
    },
    /// The statement's `prev` is not the lot's head: another record was added since.
    #[error(
        "prev {prev} is not the head of lot {lot} ({head}): another record was added since; fetch GET /api/v1/lots/{lot} and sign again"
    )]
    StaleHead {
        /// The lot.
        lot: LotId,
        /// The `prev` the statement names.
        prev: String,
        /// The lot's head.
        head: String,
    },
    /// An item reference names no issued item of the lot from a completed batch.
    #[error(
        "item {item} names no issued item of lot {lot} (an item reference is computed from the code on the label: docs/code-format.md)"
    )]
    UnknownItem {
        /// The item reference.
        item: ItemRef,
        /// The lot.
        lot: LotId,
    },
    /// The step is out of order for the lot (or its items); the rules say why.
    #[error(transparent)]
    OutOfOrder(#[from] OrderError),
    /// The rules refuse the recall: the lot has already been recalled.
    #[error(transparent)]
    AlreadyRecalled(OrderError),
    /// Supervision: the lot needs a conformant sampling inspection before release.
    #[error(
        "lot {lot} needs a conformant sampling inspection (step sampling, by an engaged inspector or the bonded warehouse) before release: {}",
        reasons.iter().map(|r| r.to_string()).collect::<Vec<_>>().join("; ")
    )]
    SamplingRequired {
        /// The lot.
        lot: LotId,
        /// Why (docs/credit-model.md, Supervision).
        reasons: Vec<SamplingReason>,
    },
}

impl CustodyError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use CustodyError as E;
        match self {
            E::MalformedStatement(_) | E::MalformedSignature(_) | E::RecordTooLarge { .. } => {
                ErrorKind::Invalid
            }
            E::WrongLog { .. }
            | E::MalformedAuthorization(_)
            | E::UnknownActor { .. }
            | E::UnknownKey { .. }
            | E::BadSignature { .. }
            | E::KeyNotYetValid { .. }
            | E::KeyExpired { .. }
            | E::KeyRevoked { .. }
            | E::SignedAtOutOfWindow { .. } => ErrorKind::Unauthenticated,
            E::RoleNotAllowed { .. } | E::HoldNotOwned { .. } => ErrorKind::Forbidden,
            E::UnregisteredProduct { .. } | E::UnknownItem { .. } => ErrorKind::Unprocessable,
            E::UndeclaredLot { .. } | E::LotNotFound { .. } => ErrorKind::NotFound,
            E::Replay { .. }
            | E::LotFull { .. }
            | E::StaleHead { .. }
            | E::OutOfOrder(_)
            | E::SamplingRequired { .. }
            | E::AlreadyRecalled(_) => ErrorKind::Conflict,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        use CustodyError as E;
        match self {
            E::MalformedStatement(_) => "malformed_statement",
            E::MalformedSignature(_) => "malformed_signature",
            E::MalformedAuthorization(_) => "malformed_authorization",
            E::RecordTooLarge { .. } => "record_too_large",
            E::WrongLog { .. } => "wrong_log",
            E::UnknownActor { .. } => "unknown_actor",
            E::UnknownKey { .. } => "unknown_key",
            E::BadSignature { .. } => "bad_signature",
            E::KeyNotYetValid { .. } => "key_not_yet_valid",
            E::KeyExpired { .. } => "key_expired",
            E::KeyRevoked { .. } => "key_revoked",
            E::SignedAtOutOfWindow { .. } => "signed_at_out_of_window",
            E::RoleNotAllowed { .. } => "role_not_allowed",
            E::HoldNotOwned { .. } => "hold_not_owned",
            E::UnregisteredProduct { .. } => "unregistered_product",
            E::UndeclaredLot { .. } => "undeclared_lot",
            E::LotNotFound { .. } => "lot_not_found",
            E::Replay { .. } => "replay",
            E::LotFull { .. } => "lot_full",
            E::StaleHead { .. } => "stale_head",
            E::UnknownItem { .. } => "unknown_item",
            E::OutOfOrder(_) => "out_of_order",
            E::AlreadyRecalled(_) => "already_recalled",
            E::SamplingRequired { .. } => "sampling_required",
        }
    }
}

/// "a, b": the roles' wire names.
fn join_roles(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::super::{EngagementError, RegistryError};
    use super::*;

    /// The texts built from data (times, role lists) read as the messages did before they
    /// were typed.
    #[test]
    fn texts_built_from_data() {
        let cases: Vec<(String, &str)> = vec![
            (
                CustodyError::RoleNotAllowed {
                    actor: "acme".into(),
                    role: Role::Retailer,
                    step: Step::Packing,
                    allowed: crate::custody::rules::step_roles(Step::Packing),
                }
                .to_string(),
                "actor acme is a retailer; packing may be recorded by: inspector, carrier",
            ),
            (
                CustodyError::HoldNotOwned {
                    actor: "acme".into(),
                    role: Role::Carrier,
                    hold: HoldType::Customs,
                    owner: Role::CustomsBroker,
                }
                .to_string(),
                "actor acme is a carrier; customs holds belong to the customs_broker",
            ),
            (
                CustodyError::KeyRevoked {
                    kid: "k1".into(),
                    from: 0,
                    reason: None,
                }
                .to_string(),
                "key k1 was revoked from 1970-01-01T00:00:00Z (no reason given)",
            ),
            (
                CustodyError::KeyRevoked {
                    kid: "k1".into(),
                    from: 60,
                    reason: Some("stolen".into()),
                }
                .to_string(),
                "key k1 was revoked from 1970-01-01T00:01:00Z (stolen)",
            ),
            (
                CustodyError::KeyExpired {
                    kid: "k1".into(),
                    at: i64::MAX,
                }
                .to_string(),
                "key k1 expired at 9223372036854775807",
            ),
            (
                CustodyError::SignedAtOutOfWindow {
                    signed_at: 0,
                    now: 301,
                    window: 300,
                }
                .to_string(),
                "signed_at 1970-01-01T00:00:00Z is more than 300 s from the server time 1970-01-01T00:05:01Z: sign again now (check the signer's clock)",
            ),
            (
                RegistryError::AlreadyRevoked {
                    kid: "k1".into(),
                    from: 0,
                }
                .to_string(),
                "key k1 is already revoked from 1970-01-01T00:00:00Z",
            ),
            (
                EngagementError::AlreadyEngaged {
                    actor: "acme".into(),
                    enterprise: 7,
                    from: 0,
                }
                .to_string(),
                "actor acme is already engaged by enterprise 7 (from 1970-01-01T00:00:00Z); end that engagement first",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }
}
