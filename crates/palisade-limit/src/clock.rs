//! Time as the limiter sees it: nanoseconds since the limiter was created.
//!
//! By default the time is read from tokio's clock, which is what lets
//! `tokio::time::pause()` and `advance()` drive a limiter in tests and in the
//! simulator. Reading it costs what `std::time::Instant::now()` costs (a vDSO
//! call where the kernel offers one; about 70 ns on the development VM, where
//! it does not), which is most of an admission. [`ClockSource::Tsc`] reads
//! the CPU's time-stamp counter instead (through `quanta`, as governor does),
//! for processes that never pause tokio time.
//!
//! Plain `u64` nanoseconds keep the admission arithmetic to integer adds and
//! compares: a `u64` of nanoseconds lasts 584 years.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Nanoseconds since the limiter's epoch.
pub(crate) type Nanos = u64;

/// Where a limiter reads the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockSource {
    /// tokio's clock (default): follows `tokio::time::pause()` / `advance()`,
    /// so tests and simulations are deterministic.
    #[default]
    Tokio,
    /// The CPU's time-stamp counter (calibrated by `quanta`; it falls back to
    /// the OS clock where the counter is unreliable). Several times cheaper
    /// than the OS clock on machines without a vDSO clock, but it ignores
    /// tokio's paused time: never use it in tests or simulations.
    Tsc,
}

/// A limiter's view of time.
#[derive(Debug, Clone)]
pub(crate) struct Clock {
    epoch: Instant,
    tsc: Option<(quanta::Clock, u64)>,
}

impl Clock {
    /// A tokio clock whose zero is now.
    pub(crate) fn new() -> Self {
        Self::with_source(ClockSource::Tokio)
    }

    /// A clock of the given source whose zero is now.
    pub(crate) fn with_source(source: ClockSource) -> Self {
        let tsc = match source {
            ClockSource::Tokio => None,
            ClockSource::Tsc => {
                let clock = quanta::Clock::new();
                let start = clock.raw();
                Some((clock, start))
            }
        };
        Self {
            epoch: Instant::now(),
            tsc,
        }
    }

    /// Now, in nanoseconds since the epoch.
    #[inline]
    pub(crate) fn now(&self) -> Nanos {
        match &self.tsc {
            None => self.since_epoch(Instant::now()),
            Some((clock, start)) => clock.delta_as_nanos(*start, clock.raw()),
        }
    }

    /// `at` in nanoseconds since the epoch (0 for instants before it).
    #[inline]
    pub(crate) fn since_epoch(&self, at: Instant) -> Nanos {
        duration_to_nanos(at.saturating_duration_since(self.epoch))
    }

    /// The tokio instant of `nanos` (for timers).
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
