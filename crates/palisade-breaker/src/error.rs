//! The typed refusal of an open circuit, and its `ProviderError` form.

use std::time::Duration;

use palisade_core::{ErrorKind, ErrorOrigin, ProviderError, ProviderId};

use crate::state::BreakerState;

/// A call refused by an open (or half-open and busy, or isolated) circuit.
///
/// [`CircuitBreakerLayer`](crate::CircuitBreakerLayer) returns it as a
/// [`ProviderError`] of kind [`ErrorKind::Unavailable`] with the same
/// `retry_after` and provider id, and this error as its source, so retry and
/// fallback treat it like any unavailable provider while callers can still
/// downcast:
///
/// ```
/// # use std::error::Error;
/// # use palisade_breaker::BreakerOpen;
/// # fn check(err: &palisade_core::ProviderError) -> bool {
/// err.source().and_then(|s| s.downcast_ref::<BreakerOpen>()).is_some()
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "circuit breaker for `{provider}` is {state}: call refused, retry after {:.3}s",
    retry_after.as_secs_f64()
)]
pub struct BreakerOpen {
    /// The provider whose circuit refused.
    pub provider: ProviderId,
    /// `Open`, `HalfOpen` (every probe slot taken) or `Isolated`.
    pub state: BreakerState,
    /// Time until the circuit lets a probe through: the rest of the open
    /// duration, the half-open `busy_retry_after`, or
    /// [`ISOLATED_RETRY_AFTER`](crate::ISOLATED_RETRY_AFTER).
    pub retry_after: Duration,
}

impl BreakerOpen {
    /// The uniform error for retry and fallback layers (see the type docs).
    pub fn into_provider_error(self) -> ProviderError {
        ProviderError::new(ErrorKind::Unavailable, self.to_string())
            .with_origin(ErrorOrigin::Layer)
            .with_retry_after(Some(self.retry_after))
            .with_provider(self.provider.clone())
            .with_source(self)
    }

    /// The `BreakerOpen` behind a `ProviderError`, if the breaker refused it.
    pub fn from_provider_error(error: &ProviderError) -> Option<&BreakerOpen> {
        std::error::Error::source(error).and_then(|s| s.downcast_ref::<BreakerOpen>())
    }
}

impl From<BreakerOpen> for ProviderError {
    fn from(open: BreakerOpen) -> Self {
        open.into_provider_error()
    }
}
