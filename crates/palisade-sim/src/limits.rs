//! The ranges the simulation engine can represent, and the checks that hold
//! every number of a scenario to them.
//!
//! A scenario is hostile input: a file a user typed or a tool generated. The
//! engine turns its numbers into tokio instants, `Duration`s, token counts
//! and a stream of requests; each limit below keeps one of those
//! conversions exact and the run's size within what one process can do
//! quickly. Values past a limit are refused by [`Scenario::validate`]
//! (naming the key), and the engine additionally clamps every drawn value,
//! so no draw can reach a conversion that panics.
//!
//! [`Scenario::validate`]: crate::Scenario::validate

use std::time::Duration;

const DAY: Duration = Duration::from_secs(86_400);

/// Longest `duration` of a run: 31 days of simulated time.
pub const MAX_DURATION: Duration = Duration::from_secs(31 * 86_400);
/// Latest instant (after the start) a window (`outages`, `slow`) may name:
/// the longest run plus the longest deadline.
pub const MAX_HORIZON: Duration = Duration::from_secs(32 * 86_400);
/// Longest caller deadline, queue wait, breaker open time: one day.
pub const MAX_WAIT: Duration = DAY;
/// Longest retry backoff: one hour.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3_600);
/// Most clients: each holds its own random stream (a few hundred bytes).
pub const MAX_CLIENTS: u32 = 100_000;
/// Highest arrival rate of one client, per minute.
pub const MAX_RATE_PER_CLIENT_PER_MIN: f64 = 10_000.0;
/// Most requests a run may be expected to offer
/// (`clients × per_client_per_minute × duration`): about five times the
/// 24-hour, 5,000-client run measured in docs/simulation.md.
pub const MAX_EXPECTED_REQUESTS: f64 = 10_000_000.0;
/// Most requests a run may expect to hold in flight at once
/// (`clients × per_client_per_minute × min(duration, requests.deadline)`):
/// each one in flight is a task with its system's futures (about 10 KB on
/// the palisade side, measured in docs/simulation.md), so this bounds a
/// run's memory to about a gigabyte whatever its duration. About five times
/// what the 24-hour, 5,000-client run holds.
pub const MAX_EXPECTED_IN_FLIGHT: f64 = 100_000.0;
/// Largest token count a parameter may name (input and output sizes,
/// `max_tokens`, context windows).
pub const MAX_TOKENS: u32 = 2_000_000;
/// Largest latency parameter, in milliseconds: one hour.
pub const MAX_LATENCY_MS: f64 = 3_600_000.0;
/// Largest log-normal `sigma`.
pub const MAX_SIGMA: f64 = 10.0;
/// Largest `slow` window factor.
pub const MAX_SLOWDOWN: f64 = 1_000.0;
/// Longest single simulated call the engine represents; a longer draw is
/// cut to it (a caller's deadline ends it well before).
pub const MAX_CALL_TIME: Duration = Duration::from_secs(40 * 86_400);
/// Highest requests-per-window quota.
pub const MAX_RPM: u32 = 10_000_000;
/// Highest tokens-per-window quota.
pub const MAX_TPM: u64 = 10_000_000_000;
/// Highest output burndown.
pub const MAX_BURNDOWN: f64 = 100.0;
/// Shortest and longest quota window.
pub const QUOTA_WINDOW: (Duration, Duration) = (Duration::from_secs(1), DAY);
/// Highest price per million tokens, in US dollars.
pub const MAX_PRICE_USD: f64 = 1_000_000.0;
/// Most attempts per model (naive and palisade).
pub const MAX_ATTEMPTS: u32 = 100;
/// Highest priority weight.
pub const MAX_WEIGHT: f64 = 1_000_000.0;

/// A number within `[min, max]` (finite), or what is wrong with it.
pub(crate) fn number_within(value: f64, min: f64, max: f64) -> Result<(), String> {
    if !value.is_finite() {
        return Err(format!("must be a finite number, got {value}"));
    }
    if value < min || value > max {
        return Err(format!("must be within {min}..={max}, got {value}"));
    }
    Ok(())
}

/// A positive number at most `max` (finite).
pub(crate) fn positive_at_most(value: f64, max: f64) -> Result<(), String> {
    if !(value.is_finite() && value > 0.0) {
        return Err(format!("must be a finite number > 0, got {value}"));
    }
    if value > max {
        return Err(format!("must be at most {max}, got {value}"));
    }
    Ok(())
}

/// A count within `[min, max]`.
pub(crate) fn count_within<T>(value: T, min: T, max: T) -> Result<(), String>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    if value < min || value > max {
        return Err(format!("must be within {min}..={max}, got {value}"));
    }
    Ok(())
}

/// A duration within `(0, max]` (or `[0, max]` when `zero_ok`).
pub(crate) fn duration_within(value: Duration, max: Duration, zero_ok: bool) -> Result<(), String> {
    if value.is_zero() && !zero_ok {
        return Err("must be longer than zero".into());
    }
    if value > max {
        return Err(format!(
            "must be at most {}, got {}",
            palisade_core::duration::format(max),
            palisade_core::duration::format(value)
        ));
    }
    Ok(())
}

/// Milliseconds (any `f64`) as a `Duration`, clamped to
/// `[0, MAX_CALL_TIME]`: NaN and negatives are zero, infinities the maximum.
/// The one way the engine turns a drawn latency into time.
pub(crate) fn duration_from_ms(ms: f64) -> Duration {
    if ms.is_nan() || ms <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(ms / 1_000.0)
        .unwrap_or(MAX_CALL_TIME)
        .min(MAX_CALL_TIME)
}

/// Seconds (any `f64`) as a `Duration`, clamped like [`duration_from_ms`].
pub(crate) fn duration_from_secs(secs: f64) -> Duration {
    if secs.is_nan() || secs <= 0.0 {
        return Duration::ZERO;
    }
    Duration::try_from_secs_f64(secs)
        .unwrap_or(MAX_CALL_TIME)
        .min(MAX_CALL_TIME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_clamp_instead_of_panicking() {
        assert_eq!(duration_from_ms(f64::NAN), Duration::ZERO);
        assert_eq!(duration_from_ms(-5.0), Duration::ZERO);
        assert_eq!(duration_from_ms(2e22), MAX_CALL_TIME);
        assert_eq!(duration_from_ms(f64::INFINITY), MAX_CALL_TIME);
        assert_eq!(duration_from_ms(1_500.0), Duration::from_millis(1_500));
        assert_eq!(duration_from_secs(1e300), MAX_CALL_TIME);
    }

    #[test]
    fn checks_say_what_is_wrong() {
        assert!(number_within(f64::NAN, 0.0, 1.0).is_err());
        assert!(number_within(0.5, 0.0, 1.0).is_ok());
        assert!(positive_at_most(0.0, 1.0).is_err());
        assert!(count_within(0u32, 1, 5).unwrap_err().contains("1..=5"));
        assert!(duration_within(Duration::ZERO, DAY, false).is_err());
        assert!(duration_within(Duration::ZERO, DAY, true).is_ok());
        assert!(
            duration_within(DAY * 2, DAY, false)
                .unwrap_err()
                .contains("1d")
        );
    }
}
