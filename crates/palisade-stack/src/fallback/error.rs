use std::time::Duration;

use palisade_core::{Attempt, ErrorKind, ProviderError, ProviderId};

/// Why a [`Fallback`](super::Fallback) returned no answer, with the trail of
/// attempts. Carried as the source of the [`ProviderError`] the fallback
/// returns; find it with [`FallbackError::find`].
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum FallbackError {
    /// Every candidate was unavailable (breaker open, cooling down, throttled
    /// with a Retry-After) and none recovered before the deadline or the wait
    /// limit. The error's kind is `Unavailable`.
    #[error(
        "all candidates of `{fallback}` are unavailable; the earliest recovers in {:.3}s",
        retry_after.as_secs_f64()
    )]
    AllCandidatesUnavailable {
        /// The fallback.
        fallback: ProviderId,
        /// Time until the earliest candidate is expected back.
        retry_after: Duration,
        /// Every candidate tried or skipped, in order.
        attempts: Vec<Attempt>,
    },
    /// The request fits no candidate's context window. Kind `ContextWindowExceeded`.
    #[error(
        "the request needs about {needed} tokens, more than any candidate of `{fallback}` holds"
    )]
    NoCandidateFits {
        /// The fallback.
        fallback: ProviderId,
        /// Estimated input tokens plus `max_tokens`.
        needed: u32,
        /// The skips, one per candidate.
        attempts: Vec<Attempt>,
    },
    /// A candidate failed with an error that ends the request (not eligible
    /// for fallback), or every candidate failed. The error's kind, provider
    /// and Retry-After are those of `error`.
    #[error("{error}")]
    Failed {
        /// The last candidate's error.
        #[source]
        error: ProviderError,
        /// Every candidate tried or skipped, in order.
        attempts: Vec<Attempt>,
    },
}

impl FallbackError {
    /// The fallback error behind `error`, if a fallback produced it.
    pub fn find(error: &ProviderError) -> Option<&FallbackError> {
        std::error::Error::source(error)?.downcast_ref()
    }

    /// The attempts trail.
    pub fn attempts(&self) -> &[Attempt] {
        match self {
            FallbackError::AllCandidatesUnavailable { attempts, .. }
            | FallbackError::NoCandidateFits { attempts, .. }
            | FallbackError::Failed { attempts, .. } => attempts,
        }
    }

    /// The attempts trail of a fallback's error (empty for other errors).
    pub fn attempts_of(error: &ProviderError) -> &[Attempt] {
        Self::find(error).map_or(&[], FallbackError::attempts)
    }

    /// `retry_after` of [`FallbackError::AllCandidatesUnavailable`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FallbackError::AllCandidatesUnavailable { retry_after, .. } => Some(*retry_after),
            FallbackError::Failed { error, .. } => error.retry_after(),
            FallbackError::NoCandidateFits { .. } => None,
        }
    }

    pub(crate) fn into_provider_error(self) -> ProviderError {
        let message = self.to_string();
        let error = match &self {
            FallbackError::AllCandidatesUnavailable {
                fallback,
                retry_after,
                ..
            } => ProviderError::new(ErrorKind::Unavailable, message)
                .with_origin(palisade_core::ErrorOrigin::Layer)
                .with_retry_after(Some(*retry_after))
                .with_provider(fallback.clone()),
            FallbackError::NoCandidateFits { fallback, .. } => {
                ProviderError::new(ErrorKind::ContextWindowExceeded, message)
                    .with_provider(fallback.clone())
            }
            FallbackError::Failed { error, .. } => {
                let mut outer = ProviderError::new(error.kind(), error.message())
                    .with_origin(error.origin())
                    .with_retry_after(error.retry_after());
                if let Some(p) = error.provider() {
                    outer = outer.with_provider(p.clone());
                }
                if let Some(r) = error.request_id() {
                    outer = outer.with_request_id(r);
                }
                if let Some(s) = error.status() {
                    outer = outer.with_status(s);
                }
                outer
            }
        };
        error.with_source(self)
    }
}
