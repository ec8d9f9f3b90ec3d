//! How long a call takes once its permits are granted: the service time a
//! router needs to decide whether a call can still finish before its
//! deadline. Measured here, inside the limiter's queue, because a latency
//! measured outside it (a fallback's) includes the wait for admission, which
//! the router accounts for separately.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Weight of the newest sample.
const ALPHA: f64 = 0.1;

/// Mean absolute deviations added to the mean in the reported latency: a
/// high estimate (about the 95th percentile of a log-normal latency with
/// the spread LLM calls show), because it decides whether a call may start.
const SPREAD: f64 = 2.0;

/// An exponentially weighted mean and mean absolute deviation of call
/// latencies, lock-free (a lost update under contention only skips a sample).
#[derive(Debug, Default)]
pub(crate) struct CallLatency {
    mean_bits: AtomicU64,
    spread_bits: AtomicU64,
}

impl CallLatency {
    pub(crate) fn record(&self, latency: Duration) {
        let sample = latency.as_secs_f64();
        let old = f64::from_bits(self.mean_bits.load(Ordering::Relaxed));
        let first = self.mean_bits.load(Ordering::Relaxed) == 0;
        let mean = if first {
            sample
        } else {
            old + ALPHA * (sample - old)
        };
        let deviation = (sample - old).abs();
        let spread = f64::from_bits(self.spread_bits.load(Ordering::Relaxed));
        let spread = if first {
            sample / 2.0
        } else {
            spread + ALPHA * (deviation - spread)
        };
        self.mean_bits
            .store(mean.max(f64::MIN_POSITIVE).to_bits(), Ordering::Relaxed);
        self.spread_bits.store(spread.to_bits(), Ordering::Relaxed);
    }

    /// The mean plus [`SPREAD`] deviations; `None` before the first sample.
    pub(crate) fn high(&self) -> Option<Duration> {
        let mean_bits = self.mean_bits.load(Ordering::Relaxed);
        if mean_bits == 0 {
            return None;
        }
        let mean = f64::from_bits(mean_bits);
        let spread = f64::from_bits(self.spread_bits.load(Ordering::Relaxed));
        Duration::try_from_secs_f64(mean + SPREAD * spread).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_latency_is_reported_with_a_margin_that_shrinks() {
        let l = CallLatency::default();
        assert_eq!(l.high(), None);
        l.record(Duration::from_secs(2));
        assert_eq!(l.high(), Some(Duration::from_secs(4)));
        for _ in 0..200 {
            l.record(Duration::from_secs(2));
        }
        let high = l.high().unwrap();
        assert!(
            high >= Duration::from_secs(2) && high < Duration::from_millis(2010),
            "{high:?}"
        );
    }

    #[test]
    fn spread_latency_reports_above_the_mean() {
        let l = CallLatency::default();
        for i in 0..400 {
            l.record(Duration::from_millis(if i % 2 == 0 { 1000 } else { 3000 }));
        }
        let high = l.high().unwrap();
        assert!(high > Duration::from_millis(3500), "{high:?}");
    }
}
