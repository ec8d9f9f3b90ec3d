//! The API key: kept out of `Debug`, `Display`, logs and errors.

use std::fmt;
use std::sync::Arc;

/// An API key. Its `Debug` prints `ApiKey("[redacted]")`; it has no
/// `Display` and no `Serialize`, so it cannot end up in a log line, an error
/// message or a config dump by accident. [`expose`](ApiKey::expose) is the
/// one way to read it, used only to write the auth header.
///
/// ```
/// use palisade_openai::ApiKey;
///
/// let key = ApiKey::new("sk-live-abc123");
/// assert_eq!(format!("{key:?}"), r#"ApiKey("[redacted]")"#);
/// assert_eq!(key.expose(), "sk-live-abc123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(Arc<str>);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl AsRef<str>) -> Self {
        Self(Arc::from(key.as_ref()))
    }

    /// The key itself, for the auth header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(\"[redacted]\")")
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        Self(Arc::from(key))
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        Self::new(key)
    }
}
