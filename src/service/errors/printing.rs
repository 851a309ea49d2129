//! Errors of one operation family: print jobs and labels.

use super::ErrorKind;

/// Print jobs and labels: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {}

impl PrintError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match *self {}
    }
}
