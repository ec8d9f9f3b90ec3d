//! Structured output: a JSON schema the reply must match, and the check that
//! it does.
//!
//! Providers with a native mode (OpenAI's `response_format`, Anthropic's
//! output format) send the schema as it is; the others emulate it with one
//! forced tool whose input schema is the schema (Bedrock Converse). Either
//! way the caller gets [`ChatResponse::structured`](crate::ChatResponse::structured),
//! the parsed value, checked against the schema with [`StructuredOutput::check`].

use serde::{Deserialize, Serialize};

/// A JSON schema the model's reply must match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StructuredOutput {
    /// A name for the schema (`^[a-zA-Z0-9_-]{1,64}$`; it names the emulating
    /// tool where the API has no native mode).
    pub name: String,
    /// What the value is, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The JSON schema (draft 2020-12 or earlier, as the `$schema` says).
    pub schema: serde_json::Value,
}

/// A reply that does not match its schema, or a schema that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema itself is not a valid JSON schema.
    #[error("structured_output.schema is not a valid JSON schema: {0}")]
    InvalidSchema(String),
    /// The reply is not JSON at all.
    #[error("the reply is not JSON: {0}")]
    NotJson(String),
    /// The reply is JSON but breaks the schema.
    #[error("the reply does not match the schema at `{instance_path}`: {message}")]
    Mismatch {
        /// JSON pointer to the offending part of the reply (`` for the root).
        instance_path: String,
        /// What rule it broke.
        message: String,
    },
}

impl StructuredOutput {
    /// A schema with a name.
    pub fn new(name: impl Into<String>, schema: serde_json::Value) -> Self {
        Self {
            name: name.into(),
            description: None,
            schema,
        }
    }

    /// Checks that the schema compiles.
    ///
    /// # Errors
    /// [`SchemaError::InvalidSchema`] with the compiler's message.
    pub fn check_schema(&self) -> Result<(), SchemaError> {
        jsonschema::validator_for(&self.schema)
            .map(|_| ())
            .map_err(|e| SchemaError::InvalidSchema(e.to_string()))
    }

    /// Checks a value against the schema.
    ///
    /// ```
    /// use palisade_core::StructuredOutput;
    /// use serde_json::json;
    ///
    /// let out = StructuredOutput::new("weather", json!({
    ///     "type": "object",
    ///     "properties": { "celsius": { "type": "number" } },
    ///     "required": ["celsius"]
    /// }));
    /// assert!(out.check(&json!({ "celsius": 21.5 })).is_ok());
    /// assert!(out.check(&json!({ "celsius": "warm" })).is_err());
    /// ```
    ///
    /// # Errors
    /// [`SchemaError::Mismatch`] naming where the value breaks the schema,
    /// or [`SchemaError::InvalidSchema`].
    pub fn check(&self, value: &serde_json::Value) -> Result<(), SchemaError> {
        let validator = jsonschema::validator_for(&self.schema)
            .map_err(|e| SchemaError::InvalidSchema(e.to_string()))?;
        match validator.iter_errors(value).next() {
            None => Ok(()),
            Some(err) => Err(SchemaError::Mismatch {
                instance_path: err.instance_path().to_string(),
                message: err.to_string(),
            }),
        }
    }

    /// Parses a reply's text as JSON and checks it.
    ///
    /// # Errors
    /// [`SchemaError::NotJson`] or [`SchemaError::Mismatch`].
    pub fn parse(&self, text: &str) -> Result<serde_json::Value, SchemaError> {
        let value: serde_json::Value =
            serde_json::from_str(text.trim()).map_err(|e| SchemaError::NotJson(e.to_string()))?;
        self.check(&value)?;
        Ok(value)
    }
}
