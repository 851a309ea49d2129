//! Errors of one operation family: enterprises and products.

use super::ErrorKind;

/// Enterprises and products: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum MasterError {}

impl MasterError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match *self {}
    }
}
