//! How limiter refusals reach callers of a provider: as [`ProviderError`]s.

use palisade_core::{ProviderError, ProviderId};

use crate::error::LimitError;

/// The provider error for a refusal, naming the provider it was for.
///
/// `RateLimited` becomes `Throttled` with its `retry_after`, so retry and
/// fallback layers treat a local refusal like a provider's 429; an impossible
/// cost becomes `InvalidRequest` (no retry, no fallback to a same-sized limit).
pub(crate) fn to_provider_error(err: LimitError, provider: &ProviderId) -> ProviderError {
    ProviderError::from(err).with_provider(provider.clone())
}
