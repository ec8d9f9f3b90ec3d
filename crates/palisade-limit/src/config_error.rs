//! What is wrong with a limiter configuration.

/// A configuration value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A field of [`LimiterConfig`](crate::LimiterConfig) is out of range.
    #[error("invalid limiter config field `{field}`: {reason}")]
    Invalid {
        /// The field, dotted from the config root.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An environment variable could not be read as a limit.
    #[error("invalid environment variable {var}={value:?}: {reason}")]
    Env {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl ConfigError {
    pub(crate) fn invalid(field: &'static str, reason: &'static str) -> Self {
        ConfigError::Invalid { field, reason }
    }
}
