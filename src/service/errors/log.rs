//! Errors of one operation family: the log, its checkpoints and proofs, bundles.

use super::ErrorKind;

/// The log, its checkpoints and proofs, bundles: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum LogError {}

impl LogError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match *self {}
    }
}
