//! Credit-risk grades.

use super::ErrorKind;

/// Grades and their overrides.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GradeError {
    /// The enterprise exists but has not been graded yet (grades are computed within one
    /// checkpoint interval of its registration).
    #[error("enterprise {enterprise_id} has no grade yet; it is graded within one checkpoint interval of its registration")]
    NotGradedYet {
        /// The enterprise.
        enterprise_id: u64,
    },
    /// An override was to be lifted, but the grade is the model's.
    #[error("enterprise {enterprise_id}'s grade is not overridden")]
    NoOverride {
        /// The enterprise.
        enterprise_id: u64,
    },
}

impl GradeError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match self {
            GradeError::NotGradedYet { .. } => ErrorKind::NotFound,
            GradeError::NoOverride { .. } => ErrorKind::Conflict,
        }
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match self {
            GradeError::NotGradedYet { .. } => "not_graded_yet",
            GradeError::NoOverride { .. } => "no_override",
        }
    }
}
