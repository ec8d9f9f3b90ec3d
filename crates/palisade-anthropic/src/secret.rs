//! The API key, kept out of every `Debug`, `Display`, log line and error.

use std::fmt;

/// An Anthropic API key (`sk-ant-…`), or a bearer token for a gateway.
///
/// Its `Debug` and `Display` print `ApiKey(***)`; the only way to read it is
/// [`expose`](ApiKey::expose), which the provider calls once per request to
/// fill the (sensitive-marked) auth header.
///
/// ```
/// use palisade_anthropic::ApiKey;
///
/// let key = ApiKey::new("sk-ant-api03-secret");
/// assert_eq!(format!("{key:?}"), "ApiKey(***)");
/// assert!(!format!("{key}").contains("secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        Self(key.into())
    }

    /// Reads the key from an environment variable; `None` when it is unset
    /// or empty.
    pub fn from_env(variable: &str) -> Option<Self> {
        std::env::var(variable)
            .ok()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .map(Self)
    }

    /// The key itself. Only for building the auth header.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
