//! Errors of one operation family: setting up and opening a data directory, loading demo data.

use super::ErrorKind;

/// Setting up and opening a data directory, loading demo data: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {}

impl SetupError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match *self {}
    }
}
