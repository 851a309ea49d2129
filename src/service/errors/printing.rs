//! Errors of one operation family: print jobs and labels.

use super::ErrorKind;
use crate::labels::font::FontError;
use crate::labels::LayoutError;

/// Print jobs and labels: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The labels of a batch still being issued were asked for.
    #[error("batch {batch} is still being issued; its labels can be printed once it is complete")]
    BatchIssuing {
        /// The batch.
        batch: u64,
    },
    /// A job's range is empty, too large, or reaches past the batch's codes.
    #[error("range [{start}, {count}] must name 1 to {max} labels within the batch's {issued}")]
    BadRange {
        /// First label asked for (ordinal in the batch).
        start: u64,
        /// Labels asked for.
        count: u64,
        /// Most labels in one job.
        max: u64,
        /// Codes the batch holds.
        issued: u64,
    },
    /// Labels of the range were printed before and no reprint reason was given.
    #[error(
        "{reprinted} of these {count} labels were printed before (first by job {first_job}); \
         printing them again needs a reprint_reason, which is logged"
    )]
    ReprintNeedsReason {
        /// Labels of the range printed before.
        reprinted: usize,
        /// Labels in the range.
        count: u64,
        /// The first job that printed one of them.
        first_job: u64,
    },
    /// A job's output was fetched before and no reprint reason was given for fetching it again.
    #[error(
        "the labels of print job {job} were fetched {fetches} time(s) before; fetching them \
         again prints all {labels} again: say why with ?reprint_reason=… (it is logged)"
    )]
    RefetchNeedsReason {
        /// The job.
        job: u64,
        /// How often its output was fetched.
        fetches: u64,
        /// Labels in the job.
        labels: u64,
    },
    /// No print job has this id.
    #[error("no print job {id}")]
    JobNotFound {
        /// The id asked for.
        id: u64,
    },
    /// The batch's GTIN is not (or no longer) a registered product, so labels lack its names.
    #[error("GTIN {gtin} is not a registered product; its labels need the product names")]
    UnregisteredProduct {
        /// The batch's GTIN-14.
        gtin: String,
    },
    /// The layout cannot hold the labels (e.g. QR modules below the minimum, label too small).
    #[error("layout: {0}")]
    UnfitLayout(#[source] LayoutError),
    /// The label font cannot be used (ours: install or configure it).
    #[error(transparent)]
    FontUnavailable(#[from] FontError),
}

impl PrintError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        use PrintError as E;
        match self {
            E::BatchIssuing { .. }
            | E::ReprintNeedsReason { .. }
            | E::RefetchNeedsReason { .. } => ErrorKind::Conflict,
            E::BadRange { .. } => ErrorKind::Invalid,
            E::JobNotFound { .. } => ErrorKind::NotFound,
            E::UnregisteredProduct { .. } | E::UnfitLayout(_) => ErrorKind::Unprocessable,
            E::FontUnavailable(_) => ErrorKind::Unavailable,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        use PrintError as E;
        match self {
            E::BatchIssuing { .. } => "batch_issuing",
            E::BadRange { .. } => "bad_range",
            E::ReprintNeedsReason { .. } => "reprint_needs_reason",
            E::RefetchNeedsReason { .. } => "refetch_needs_reason",
            E::JobNotFound { .. } => "job_not_found",
            E::UnregisteredProduct { .. } => "unregistered_product",
            E::UnfitLayout(_) => "unfit_layout",
            E::FontUnavailable(_) => "font_unavailable",
        }
    }
}
