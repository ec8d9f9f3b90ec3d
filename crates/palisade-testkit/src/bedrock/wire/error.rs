//! A Bedrock request body the fake server cannot translate, naming the JSON
//! path of the offending field.

/// A request body the fake server cannot translate: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub(crate) struct WireRequestError {
    pub(super) field: String,
    pub(super) message: String,
}

impl WireRequestError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
