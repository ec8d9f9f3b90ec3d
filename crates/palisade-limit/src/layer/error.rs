//! How limiter refusals reach callers of a provider, and how a layer tells
//! them from a provider's own throttle.

use palisade_core::{ErrorKind, ProviderError, ProviderId};

use crate::error::LimitError;

/// The provider error for a refusal, naming the provider it was for.
///
/// `RateLimited` becomes `Throttled` with its `retry_after`, so retry and
/// fallback layers treat a local refusal like a provider's 429; an impossible
/// cost becomes `InvalidRequest` (no retry, no fallback to a same-sized limit).
pub(crate) fn to_provider_error(err: LimitError, provider: &ProviderId) -> ProviderError {
    ProviderError::from(err).with_provider(provider.clone())
}

/// Whether `err` is the provider's own throttle, not a limiter's refusal
/// passed up from an inner [`RateLimit`](crate::RateLimit) (which must not
/// slow an outer adaptive limiter down).
pub(crate) fn is_provider_throttle(err: &ProviderError) -> bool {
    err.kind() == ErrorKind::Throttled
        && std::error::Error::source(err)
            .and_then(|s| s.downcast_ref::<LimitError>())
            .is_none()
}
