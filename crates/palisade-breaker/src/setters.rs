//! Builder-style setters for the config types, so code reads like the TOML
//! it mirrors and never spells out `Some(…)`:
//!
//! ```
//! use std::time::Duration;
//! use palisade_breaker::{BreakerConfig, OpenDuration, SlidingWindow};
//!
//! let config = BreakerConfig::default()
//!     .consecutive_failures(3)
//!     .failure_rate_threshold(None) // off
//!     .slow_call_rate_threshold(80.0)
//!     .slow_call_duration(Duration::from_secs(20))
//!     .count_dropped_calls_after(Duration::from_secs(60))
//!     .window(SlidingWindow::Count { size: 50 })
//!     .open_duration(OpenDuration::default().base(Duration::from_secs(10)).jitter(0.0));
//! config.validate().unwrap();
//! assert_eq!(config.consecutive_failures, Some(3));
//! assert_eq!(config.failure_rate_threshold, None);
//! assert_eq!(config.open_duration.base, Duration::from_secs(10));
//! ```
//!
//! A setter of an optional condition takes the value (`5`) or `None` (off).
//! Setters do not validate; [`BreakerConfig::validate`] (which building a
//! breaker calls) does.

use std::time::Duration;

use crate::config::{BreakerConfig, Growth, HalfOpenConfig, OpenDuration, SlidingWindow};
use crate::policy::OutcomePolicy;

impl BreakerConfig {
    /// Sets [`consecutive_failures`](BreakerConfig#structfield.consecutive_failures)
    /// (`None`: off).
    #[must_use]
    pub fn consecutive_failures(mut self, failures: impl Into<Option<u32>>) -> Self {
        self.consecutive_failures = failures.into();
        self
    }

    /// Sets [`failure_rate_threshold`](BreakerConfig#structfield.failure_rate_threshold),
    /// a percentage (`None`: off).
    #[must_use]
    pub fn failure_rate_threshold(mut self, percent: impl Into<Option<f64>>) -> Self {
        self.failure_rate_threshold = percent.into();
        self
    }

    /// Sets [`slow_call_rate_threshold`](BreakerConfig#structfield.slow_call_rate_threshold),
    /// a percentage (`None`: off).
    #[must_use]
    pub fn slow_call_rate_threshold(mut self, percent: impl Into<Option<f64>>) -> Self {
        self.slow_call_rate_threshold = percent.into();
        self
    }

    /// Sets [`slow_call_duration`](BreakerConfig#structfield.slow_call_duration).
    #[must_use]
    pub fn slow_call_duration(mut self, duration: Duration) -> Self {
        self.slow_call_duration = duration;
        self
    }

    /// Sets [`count_dropped_calls_after`](BreakerConfig#structfield.count_dropped_calls_after)
    /// (`None`: every dropped call is ignored).
    #[must_use]
    pub fn count_dropped_calls_after(mut self, after: impl Into<Option<Duration>>) -> Self {
        self.count_dropped_calls_after = after.into();
        self
    }

    /// Sets the sliding [`window`](BreakerConfig#structfield.window).
    #[must_use]
    pub fn window(mut self, window: SlidingWindow) -> Self {
        self.window = window;
        self
    }

    /// Sets [`minimum_calls`](BreakerConfig#structfield.minimum_calls).
    #[must_use]
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.minimum_calls = calls;
        self
    }

    /// Sets [`open_duration`](BreakerConfig#structfield.open_duration).
    #[must_use]
    pub fn open_duration(mut self, open_duration: OpenDuration) -> Self {
        self.open_duration = open_duration;
        self
    }

    /// Sets [`half_open`](BreakerConfig#structfield.half_open).
    #[must_use]
    pub fn half_open(mut self, half_open: HalfOpenConfig) -> Self {
        self.half_open = half_open;
        self
    }

    /// Sets which error kinds count ([`policy`](BreakerConfig#structfield.policy)).
    #[must_use]
    pub fn policy(mut self, policy: OutcomePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets [`honor_retry_after`](BreakerConfig#structfield.honor_retry_after).
    #[must_use]
    pub fn honor_retry_after(mut self, honor: bool) -> Self {
        self.honor_retry_after = honor;
        self
    }
}

impl OpenDuration {
    /// Sets the first open duration ([`base`](OpenDuration#structfield.base)).
    #[must_use]
    pub fn base(mut self, base: Duration) -> Self {
        self.base = base;
        self
    }

    /// Sets how the duration [`grows`](OpenDuration#structfield.growth).
    #[must_use]
    pub fn growth(mut self, growth: Growth) -> Self {
        self.growth = growth;
        self
    }

    /// Sets the longest open duration ([`max`](OpenDuration#structfield.max);
    /// `None`: uncapped).
    #[must_use]
    pub fn max(mut self, max: impl Into<Option<Duration>>) -> Self {
        self.max = max.into();
        self
    }

    /// Sets the [`jitter`](OpenDuration#structfield.jitter) fraction (0 to 1).
    #[must_use]
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = jitter;
        self
    }
}

impl HalfOpenConfig {
    /// Sets [`max_probes`](HalfOpenConfig#structfield.max_probes).
    #[must_use]
    pub fn max_probes(mut self, probes: u32) -> Self {
        self.max_probes = probes;
        self
    }

    /// Sets [`successes_to_close`](HalfOpenConfig#structfield.successes_to_close).
    #[must_use]
    pub fn successes_to_close(mut self, successes: u32) -> Self {
        self.successes_to_close = successes;
        self
    }

    /// Sets [`busy_retry_after`](HalfOpenConfig#structfield.busy_retry_after).
    #[must_use]
    pub fn busy_retry_after(mut self, retry_after: Duration) -> Self {
        self.busy_retry_after = retry_after;
        self
    }

    /// Sets [`probe_lease`](HalfOpenConfig#structfield.probe_lease).
    #[must_use]
    pub fn probe_lease(mut self, lease: Duration) -> Self {
        self.probe_lease = lease;
        self
    }
}
