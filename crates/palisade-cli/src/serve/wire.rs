//! What both dialects' request bodies share: a content field that is a
//! string or an array of parts, and reading a part on its own so that a bad
//! one is named by its path (`messages[2].content[1].type: unknown variant
//! `file``) rather than as "matched no variant".

use serde::Deserialize;
use serde::de::{DeserializeOwned, Deserializer, Error as _};
use serde_json::Value;

use super::error::ApiError;

/// A `content` field: a string, or the parts of an array (each read by
/// [`part`], which names it on failure).
#[derive(Debug)]
pub(super) enum Content {
    /// `"content": "text"`.
    Text(String),
    /// `"content": [...]`.
    Parts(Vec<Value>),
}

impl<'de> Deserialize<'de> for Content {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) => Ok(Content::Text(s)),
            Value::Array(parts) => Ok(Content::Parts(parts)),
            other => Err(D::Error::custom(format!(
                "expected a string or an array of content parts, found {}",
                match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    _ => "an object",
                }
            ))),
        }
    }
}

/// Reads the part at `param` as `T`; a failure names the field inside it.
pub(super) fn part<T: DeserializeOwned>(value: Value, param: &str) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let inner = e.path().to_string();
        let path = match inner.as_str() {
            "." => param.to_owned(),
            i if i.starts_with('[') => format!("{param}{i}"),
            i => format!("{param}.{i}"),
        };
        ApiError::bad_request(Some(path.clone()), format!("{path}: {}", e.into_inner()))
    })
}
