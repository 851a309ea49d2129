//! Errors of one operation family: batches, codes and items.

use super::ErrorKind;

/// Batches, codes and items: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum IssuanceError {}

impl IssuanceError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match *self {}
    }
}
