use std::time::Duration;

use palisade_core::{ErrorKind, ErrorOrigin, ProviderError, ProviderId};

/// Why a [`Timeout`](super::Timeout) gave up. Carried as the source of a
/// [`ProviderError`] of kind [`ErrorKind::Timeout`]; find it with
/// [`TimeoutError::find`].
///
/// The error's origin ([`ErrorOrigin`]) is `Provider` for
/// [`AttemptTimedOut`](TimeoutError::AttemptTimedOut), so a circuit breaker
/// outside the timeout counts it, and `Layer` for
/// [`DeadlineElapsed`](TimeoutError::DeadlineElapsed), which it ignores.
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
        // A per-attempt timeout is the model's slowness, which a breaker
        // should count; a passed deadline is the caller's budget running out
        // (perhaps while queueing), which says nothing about the model.
        let origin = match &self {
            TimeoutError::AttemptTimedOut { .. } => ErrorOrigin::Provider,
            TimeoutError::DeadlineElapsed { .. } => ErrorOrigin::Layer,
        };
        ProviderError::new(ErrorKind::Timeout, self.to_string())
            .with_origin(origin)
            .with_provider(provider)
            .with_source(self)
    }
}
