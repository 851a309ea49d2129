//! Errors of one operation family: complaints and credit profiles.

use super::ErrorKind;

/// Complaints and credit profiles: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum ComplaintError {}

impl ComplaintError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match *self {}
    }
}
