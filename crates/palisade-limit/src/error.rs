//! What can go wrong when asking a limiter for a permit.

use std::time::Duration;

use palisade_core::{ErrorKind, ErrorOrigin, ProviderError};

use crate::kind::LimitKind;
use crate::store::StoreError;

/// Why a limiter did not hand out a permit.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LimitError {
    /// No capacity now, and none within the allowed wait (the limiter's
    /// `max_wait`, the request's deadline, or zero for `try_acquire`).
    ///
    /// Converts into a [`ProviderError`] of kind [`ErrorKind::Throttled`]
    /// carrying `retry_after`.
    #[error(
        "rate limited by the {limit} limit of limiter `{limiter}`{}",
        fmt_retry(*retry_after)
    )]
    RateLimited {
        /// The limiter that refused.
        limiter: String,
        /// The limit that was binding when it gave up.
        limit: LimitKind,
        /// When capacity is expected (a lower bound when others are queued);
        /// `None` when only a release can free it (the concurrency cap).
        retry_after: Option<Duration>,
    },
    /// The request can never be admitted: its cost is larger than the whole
    /// capacity of a limit (its burst), so waiting would never end.
    ///
    /// Converts into a [`ProviderError`] of kind [`ErrorKind::InvalidRequest`].
    #[error(
        "cost of {cost} exceeds the whole {limit} capacity of {capacity} of limiter `{limiter}`; \
         lower max_tokens or raise the limit"
    )]
    CostExceedsCapacity {
        /// The limiter that refused.
        limiter: String,
        /// The limit whose capacity is too small.
        limit: LimitKind,
        /// What the request asked for (tokens, or 1 request).
        cost: u64,
        /// The most that limit can ever admit at once.
        capacity: u64,
    },
    /// A shared store could not be reached or answered nonsense.
    #[error("limit store of limiter `{limiter}` failed: {source}")]
    Store {
        /// The limiter whose store failed.
        limiter: String,
        /// What the store said.
        #[source]
        source: StoreError,
    },
}

fn fmt_retry(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("; retry after {:.3}s", d.as_secs_f64()),
        None => String::new(),
    }
}

impl LimitError {
    /// How long to wait before trying again, when known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            LimitError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The [`ErrorKind`] this error maps to.
    pub fn kind(&self) -> ErrorKind {
        match self {
            LimitError::RateLimited { .. } => ErrorKind::Throttled,
            LimitError::CostExceedsCapacity { .. } => ErrorKind::InvalidRequest,
            LimitError::Store { .. } => ErrorKind::Unavailable,
        }
    }
}

impl From<LimitError> for ProviderError {
    fn from(err: LimitError) -> Self {
        // The limiter refused the call itself: callers back off as from a
        // provider's throttle, but breakers must not count it against the
        // provider's health.
        ProviderError::new(err.kind(), err.to_string())
            .with_origin(ErrorOrigin::Layer)
            .with_retry_after(err.retry_after())
            .with_source(err)
    }
}
