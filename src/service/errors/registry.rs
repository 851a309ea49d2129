//! Errors of one operation family: the actor registry and actors' keys.

use super::ErrorKind;

/// The actor registry and actors' keys: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {}

impl RegistryError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match *self {}
    }
}
