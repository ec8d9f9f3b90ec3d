//! Typed errors: what went wrong, with which Redis, during which operation.

use std::time::Duration;

use palisade_core::{ErrorKind, ProviderError};

/// A configuration value a store cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Redis configuration: `{field}` {problem}")]
pub struct ConfigError {
    /// The field, as written in the configuration file.
    pub field: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

/// A store operation that could not be completed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum RedisStoreError {
    /// Redis could not be reached (or did not answer within
    /// `command_timeout`) and the failure policy is `fail_closed`; or it is
    /// `fail_open` but no local fallback store was given.
    #[error(
        "Redis at {server} is unavailable for {operation}: {reason} (retried at most every {retry_interval:?})"
    )]
    Unavailable {
        /// The server, without credentials.
        server: String,
        /// What the store was doing, e.g. `limit admission`.
        operation: &'static str,
        /// The last error seen.
        reason: String,
        /// How long until the store tries Redis again.
        retry_interval: Duration,
    },
    /// Redis answered, but not with what the script returns: a different
    /// script under the same SHA, a proxy in the way, or a key of the wrong
    /// type (another program writing under the same prefix).
    #[error("Redis at {server} answered {operation} unexpectedly: {detail}")]
    UnexpectedReply {
        /// The server, without credentials.
        server: String,
        /// What the store was doing.
        operation: &'static str,
        /// What came back, or the server's error text.
        detail: String,
    },
    /// The configuration was rejected before connecting.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl RedisStoreError {
    /// Whether the error is Redis being unreachable (as opposed to a reply
    /// this crate does not understand or bad configuration).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, RedisStoreError::Unavailable { .. })
    }

    /// How long a caller should wait before asking again, when that is known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            RedisStoreError::Unavailable { retry_interval, .. } => Some(*retry_interval),
            _ => None,
        }
    }
}

/// For layers that surface a store failure as a call failure: an unreachable
/// Redis is `Unavailable` with the retry interval as Retry-After; anything
/// else is `Internal`. (Neither says anything about the model's health, which
/// is why the breaker store never records these as model failures.)
impl From<RedisStoreError> for ProviderError {
    fn from(err: RedisStoreError) -> Self {
        let kind = if err.is_unavailable() {
            ErrorKind::Unavailable
        } else {
            ErrorKind::Internal
        };
        let retry_after = err.retry_after();
        ProviderError::new(kind, err.to_string())
            .with_retry_after(retry_after)
            .with_source(err)
    }
}
