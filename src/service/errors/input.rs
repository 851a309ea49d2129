//! Errors of request fields, shared by every family: a value that does not parse or is out
//! of range. Always HTTP 400.

use super::ErrorKind;

/// A field of the request is malformed.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// `field` is malformed; `message` says how (it names the field).
    #[error("{message}")]
    Field {
        /// The field, as the API names it (`gtin`, `quantity`, `Idempotency-Key`…).
        field: &'static str,
        /// What is wrong with it, for people.
        message: String,
    },
    /// A free-text field is empty (or only whitespace).
    #[error("{field} must not be empty")]
    EmptyText {
        /// The field, as the API names it (`name`, `description`, `disclosures[0].detail`…).
        field: String,
    },
    /// A free-text field is longer than allowed.
    #[error("{field} is {chars} characters, at most {max} allowed")]
    TextTooLong {
        /// The field, as the API names it.
        field: String,
        /// Its length, in characters (after trimming).
        chars: usize,
        /// The most characters allowed.
        max: usize,
    },
    /// A free-text field contains control characters (other than allowed line breaks).
    #[error("{field} must not contain control characters")]
    ControlCharacters {
        /// The field, as the API names it.
        field: String,
    },
}

impl InputError {
    /// `field` is malformed; `message` names it and says how.
    pub fn field(field: &'static str, message: impl Into<String>) -> Self {
        InputError::Field {
            field,
            message: message.into(),
        }
    }

    /// `field` does not parse: "field: cause".
    pub fn parse(field: &'static str, cause: impl std::fmt::Display) -> Self {
        Self::field(field, format!("{field}: {cause}"))
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }

    /// The variant's part of the stable code.
    pub fn code(&self) -> &'static str {
        match self {
            InputError::Field { .. } => "invalid_field",
            InputError::EmptyText { .. } => "empty_text",
            InputError::TextTooLong { .. } => "text_too_long",
            InputError::ControlCharacters { .. } => "control_characters",
        }
    }

    /// The field at fault.
    pub fn field_name(&self) -> &str {
        match self {
            InputError::Field { field, .. } => field,
            InputError::EmptyText { field }
            | InputError::TextTooLong { field, .. }
            | InputError::ControlCharacters { field } => field,
        }
    }
}
