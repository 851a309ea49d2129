//! Errors of one operation family: engagements of actors for enterprises' lots.

use super::ErrorKind;

/// Engagements of actors for enterprises' lots: what went wrong, with the data that explains it.
#[derive(Debug, thiserror::Error)]
pub enum EngagementError {}

impl EngagementError {
    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match *self {}
    }

    /// The variant's part of the stable code (`snake_case`).
    pub fn code(&self) -> &'static str {
        match *self {}
    }
}
