use std::time::Duration;

use palisade_core::{ErrorKind, ProviderError, ProviderId};

/// Why a [`Timeout`](super::Timeout) gave up. Carried as the source of a
/// [`ProviderError`] of kind [`ErrorKind::Timeout`]; find it with
/// [`TimeoutError::find`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeoutError {
    /// One attempt took longer than the per-attempt limit.
    #[error("attempt on `{provider}` timed out after {:.3}s", after.as_secs_f64())]
    AttemptTimedOut {
        /// The provider called.
        provider: ProviderId,
        /// The per-attempt limit.
        after: Duration,
    },
    /// The request's deadline passed (before or during the call).
    #[error("deadline of the request to `{provider}` elapsed")]
    DeadlineElapsed {
        /// The provider called (or about to be).
        provider: ProviderId,
    },
}

impl TimeoutError {
    /// The timeout error behind `error`, if a timeout layer produced it.
    pub fn find(error: &ProviderError) -> Option<&TimeoutError> {
        std::error::Error::source(error)?.downcast_ref()
    }

    pub(crate) fn into_provider_error(self) -> ProviderError {
        let provider = match &self {
            TimeoutError::AttemptTimedOut { provider, .. }
            | TimeoutError::DeadlineElapsed { provider } => provider.clone(),
        };
        ProviderError::new(ErrorKind::Timeout, self.to_string())
            .with_provider(provider)
            .with_source(self)
    }
}
