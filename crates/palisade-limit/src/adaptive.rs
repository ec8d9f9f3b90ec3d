//! Adaptive rate: back off when the provider throttles, recover gradually.
//!
//! A limiter configured from published quotas still gets throttled when the
//! provider's real capacity is lower (shared accounts, regional load,
//! other clients). In adaptive mode a `Throttled` outcome multiplies the rate
//! by `decrease_factor` (0.7, the beta of the CUBIC variant AWS SDKs use in
//! their adaptive retry mode) down to `min_rate_fraction`, and the rate then
//! climbs back additively, `recovery_per_second` of the configured rate per
//! second without throttles: additive increase, multiplicative decrease.
//!
//! A throttle's `retry_after` pauses all admissions until it has passed
//! (capped by `max_cooldown`). Rate-limit response headers steer the buckets
//! in or out of adaptive mode (see `calibration.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::{Nanos, duration_to_nanos};
use crate::config_error::ConfigError;

/// Adaptive-rate settings. Off by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptiveConfig {
    /// Whether throttles lower the rate and `retry_after` pauses admissions.
    /// Default `false`.
    pub enabled: bool,
    /// Factor the rate is multiplied by on a throttle, in `(0, 1)`. Default 0.7.
    pub decrease_factor: f64,
    /// The rate never drops below this fraction of the configured rate, in
    /// `(0, 1]`. Default 0.1.
    pub min_rate_fraction: f64,
    /// Fraction of the configured rate regained per second without throttles.
    /// Default 0.02 (from 70 % back to 100 % in 15 s).
    pub recovery_per_second: f64,
    /// Throttles closer together than this count once: requests in flight
    /// when capacity ran out are all refused together, and that is one signal,
    /// not many. Default 1 s.
    #[serde(with = "palisade_core::duration")]
    pub decrease_interval: Duration,
    /// Longest pause a provider's `retry_after` can impose. Default 60 s.
    #[serde(with = "palisade_core::duration")]
    pub max_cooldown: Duration,
}

impl Default for AdaptiveConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            decrease_factor: 0.7,
            min_rate_fraction: 0.1,
            recovery_per_second: 0.02,
            decrease_interval: Duration::from_secs(1),
            max_cooldown: Duration::from_secs(60),
        }
    }
}

impl AdaptiveConfig {
    /// Adaptive mode on, other settings default.
    pub fn enabled() -> Self {
        Self {
            enabled: true,
            ..Self::default()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let in_unit = |x: f64| x > 0.0 && x <= 1.0;
        if !(self.decrease_factor > 0.0 && self.decrease_factor < 1.0) {
            return Err(ConfigError::invalid(
                "adaptive.decrease_factor",
                "must be between 0 and 1 (exclusive)",
            ));
        }
        if !in_unit(self.min_rate_fraction) {
            return Err(ConfigError::invalid(
                "adaptive.min_rate_fraction",
                "must be in (0, 1]",
            ));
        }
        if !(self.recovery_per_second.is_finite() && self.recovery_per_second > 0.0) {
            return Err(ConfigError::invalid(
                "adaptive.recovery_per_second",
                "must be a positive number",
            ));
        }
        Ok(())
    }
}

/// How often a recovering rate is recomputed: often enough to be smooth,
/// rare enough that admissions almost never pay for the float math.
const RECOVERY_STEP: Nanos = 100_000_000;

/// The adaptive state of one limiter.
#[derive(Debug, Clone)]
pub(crate) struct AdaptiveRate {
    decrease_factor: f64,
    min_fraction: f64,
    recovery_per_ns: f64,
    decrease_interval: Nanos,
    max_cooldown: Nanos,
    /// The fraction of the configured rate in force.
    fraction: f64,
    /// The fraction right after the last decrease, and when it happened.
    decreased_to: f64,
    decreased_at: Option<Nanos>,
    /// When the fraction is next recomputed (`u64::MAX`: not recovering).
    next_update: Nanos,
    throttles: u64,
}

impl AdaptiveRate {
    pub(crate) fn new(config: &AdaptiveConfig) -> Self {
        Self {
            decrease_factor: config.decrease_factor,
            min_fraction: config.min_rate_fraction,
            recovery_per_ns: config.recovery_per_second / 1e9,
            decrease_interval: duration_to_nanos(config.decrease_interval),
            max_cooldown: duration_to_nanos(config.max_cooldown),
            fraction: 1.0,
            decreased_to: 1.0,
            decreased_at: None,
            next_update: u64::MAX,
            throttles: 0,
        }
    }

    /// The fraction of the configured rate in force.
    pub(crate) fn fraction(&self) -> f64 {
        self.fraction
    }

    /// Throttles seen (counted once per `decrease_interval`).
    pub(crate) fn throttles(&self) -> u64 {
        self.throttles
    }

    /// The cooldown a provider's `retry_after` imposes, capped.
    pub(crate) fn cooldown(&self, retry_after: Duration) -> Nanos {
        duration_to_nanos(retry_after).min(self.max_cooldown)
    }

    /// A throttle at `now`: the new fraction if it changed.
    pub(crate) fn on_throttle(&mut self, now: Nanos) -> Option<f64> {
        if let Some(at) = self.decreased_at
            && now.saturating_sub(at) < self.decrease_interval
        {
            return None;
        }
        // Recovery since the last decrease counts before the new one.
        if self.next_update != u64::MAX {
            self.recover(now);
        }
        self.throttles += 1;
        let fraction = (self.fraction * self.decrease_factor).max(self.min_fraction);
        self.decreased_to = fraction;
        self.decreased_at = Some(now);
        self.next_update = now.saturating_add(RECOVERY_STEP);
        let changed = fraction != self.fraction;
        self.fraction = fraction;
        changed.then_some(fraction)
    }

    /// Recovery: the new fraction if it is due for an update and changed.
    #[inline]
    pub(crate) fn tick(&mut self, now: Nanos) -> Option<f64> {
        if now < self.next_update {
            return None;
        }
        self.recover(now)
    }

    #[cold]
    fn recover(&mut self, now: Nanos) -> Option<f64> {
        let since = now.saturating_sub(self.decreased_at.unwrap_or(now));
        let fraction = (self.decreased_to + self.recovery_per_ns * since as f64).min(1.0);
        self.next_update = if fraction >= 1.0 {
            u64::MAX
        } else {
            now.saturating_add(RECOVERY_STEP)
        };
        let changed = fraction != self.fraction;
        self.fraction = fraction;
        changed.then_some(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Nanos = 1_000_000_000;

    #[test]
    fn decreases_once_per_interval_and_recovers() {
        let mut a = AdaptiveRate::new(&AdaptiveConfig::enabled());
        assert_eq!(a.on_throttle(0), Some(0.7));
        assert_eq!(a.on_throttle(SEC / 2), None);
        // 0.7 recovered by 2 % for the second since, then decreased.
        let f = a.on_throttle(SEC).unwrap();
        assert!((f - 0.72 * 0.7).abs() < 1e-9, "{f}");
        assert_eq!(a.tick(SEC + 1), None);
        let f = a.tick(6 * SEC).unwrap();
        assert!((f - (0.504 + 0.1)).abs() < 1e-9, "{f}");
        assert_eq!(a.tick(100 * SEC), Some(1.0));
        assert_eq!(a.tick(200 * SEC), None);
    }

    #[test]
    fn never_below_the_floor() {
        let mut a = AdaptiveRate::new(&AdaptiveConfig::enabled());
        for i in 0..50 {
            a.on_throttle(i * 2 * SEC);
        }
        assert!((a.fraction() - 0.1).abs() < 1e-9);
    }
}
