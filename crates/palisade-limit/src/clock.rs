//! Time as the limiter sees it: nanoseconds since the limiter was created,
//! read from tokio's clock.
//!
//! Reading tokio's clock (rather than `std::time::Instant`) is what lets
//! `tokio::time::pause()` and `advance()` drive a limiter in tests and in the
//! simulator. Plain `u64` nanoseconds keep the admission arithmetic to integer
//! adds and compares: a `u64` of nanoseconds lasts 584 years.

use std::time::Duration;

use tokio::time::Instant;

/// Nanoseconds since the limiter's epoch.
pub(crate) type Nanos = u64;

/// A limiter's view of tokio time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    epoch: Instant,
}

impl Clock {
    /// A clock whose zero is now.
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
        }
    }

    /// Now, in nanoseconds since the epoch.
    #[inline]
    pub(crate) fn now(&self) -> Nanos {
        self.since_epoch(Instant::now())
    }

    /// `at` in nanoseconds since the epoch (0 for instants before it).
    #[inline]
    pub(crate) fn since_epoch(&self, at: Instant) -> Nanos {
        duration_to_nanos(at.saturating_duration_since(self.epoch))
    }

    /// The tokio instant of `nanos`.
    pub(crate) fn instant(&self, nanos: Nanos) -> Instant {
        self.epoch + Duration::from_nanos(nanos)
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (584 years).
#[inline]
pub(crate) fn duration_to_nanos(d: Duration) -> Nanos {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}
