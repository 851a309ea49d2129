//! Errors of one operation family: custody submissions, lots and their records.

use super::ErrorKind;

/// Custody submissions, lots and their records: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum CustodyError {}

impl CustodyError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match *self {}
    }
}
