//! Errors of one operation family: complaints and credit profiles.

use super::ErrorKind;

/// Complaints and credit profiles: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum ComplaintError {
    /// The scan a complaint names is not kept (never made, or purged).
    #[error("no scan {scan_id}; report the problem from the page you scanned")]
    ScanNotFound {
        /// The scan id as given.
        scan_id: String,
    },
    /// The scan is too old to complain about.
    #[error("scan {scan_id} is more than {max_days} days old; scan the label again")]
    ScanTooOld {
        /// The scan id as given.
        scan_id: String,
        /// How many days a scan can be complained about.
        max_days: i64,
    },
    /// The scan already carries as many complaints as one scan may.
    #[error(
        "{complaints} problems were reported from this scan already (scans of one code from \
         one network within {repeat_secs} s share one scan)"
    )]
    ScanLimitReached {
        /// Complaints the scan carries.
        complaints: u32,
        /// The window within which scans of one code from one network are one scan.
        repeat_secs: u64,
    },
    /// No complaint has this reference.
    #[error("no complaint with reference {reference:?}")]
    ComplaintNotFound {
        /// The reference as given.
        reference: String,
    },
    /// The enterprise exists but the operator has not written its credit profile.
    #[error("enterprise {enterprise_id} has no credit profile yet")]
    NoCreditProfile {
        /// The enterprise.
        enterprise_id: u64,
    },
    /// No complaint has this reference with this secret (one answer for both, so that a
    /// reference alone tells nothing).
    #[error(
        "no complaint with reference {reference:?} and this secret; check both on your receipt"
    )]
    NotFollowable {
        /// The reference as given.
        reference: String,
    },
    /// The complaint was referred to a partner body already.
    #[error("complaint {reference} was referred to {partner} already")]
    AlreadyReferred {
        /// The complaint.
        reference: String,
        /// The partner it was referred to.
        partner: String,
    },
    /// An outcome for a complaint that was not referred, or whose outcome is recorded.
    #[error("complaint {reference}: {why}")]
    ReferralClosed {
        /// The complaint.
        reference: String,
        /// Why.
        why: &'static str,
    },
}

impl ComplaintError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ComplaintError::ScanNotFound { .. }
            | ComplaintError::ComplaintNotFound { .. }
            | ComplaintError::NotFollowable { .. }
            | ComplaintError::NoCreditProfile { .. } => ErrorKind::NotFound,
            ComplaintError::ScanTooOld { .. }
            | ComplaintError::ScanLimitReached { .. }
            | ComplaintError::AlreadyReferred { .. }
            | ComplaintError::ReferralClosed { .. } => ErrorKind::Conflict,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match self {
            ComplaintError::ScanNotFound { .. } => "scan_not_found",
            ComplaintError::ScanTooOld { .. } => "scan_too_old",
            ComplaintError::ScanLimitReached { .. } => "scan_limit_reached",
            ComplaintError::ComplaintNotFound { .. } => "complaint_not_found",
            ComplaintError::NoCreditProfile { .. } => "no_credit_profile",
            ComplaintError::NotFollowable { .. } => "not_followable",
            ComplaintError::AlreadyReferred { .. } => "already_referred",
            ComplaintError::ReferralClosed { .. } => "referral_closed",
        }
    }
}
