//! Latency percentiles in constant memory: an HDR histogram of microseconds
//! (values within 0.1% — or 1% for the per-interval series — of the exact
//! order statistic), plus the exact count, mean and maximum. A run of any
//! length keeps the same few histograms, where a list of every latency would
//! grow with the number of requests.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::limits::MAX_CALL_TIME;

/// Latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// A distribution of durations being recorded.
#[derive(Debug, Clone)]
pub(crate) struct Percentiles {
    /// `None` only if the histogram could not be created (it always can with
    /// the constant bounds used here); recording is then counted, not kept.
    histogram: Option<Histogram<u32>>,
    count: u64,
    total_us: u128,
    max_us: u64,
}

/// Significant digits of the whole-run histograms (0.1%).
pub(crate) const PRECISE: u8 = 3;
/// Significant digits of the per-interval histograms (1%).
pub(crate) const COARSE: u8 = 2;

impl Percentiles {
    /// An empty distribution kept to `digits` significant digits.
    pub(crate) fn new(digits: u8) -> Self {
        // Longest representable duration: twice the longest call, in µs.
        let high = u64::try_from(MAX_CALL_TIME.as_micros() * 2).unwrap_or(u64::MAX);
        Self {
            histogram: Histogram::new_with_bounds(1, high, digits).ok(),
            count: 0,
            total_us: 0,
            max_us: 0,
        }
    }

    /// Records one duration.
    pub(crate) fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        if let Some(h) = &mut self.histogram {
            h.saturating_record(us.max(1));
        }
        self.count += 1;
        self.total_us += u128::from(us);
        self.max_us = self.max_us.max(us);
    }

    /// How many durations were recorded.
    #[cfg(test)]
    pub(crate) fn count(&self) -> u64 {
        self.count
    }

    /// The `q` quantile (0–1) in milliseconds; 0 when empty.
    pub(crate) fn quantile_ms(&self, q: f64) -> f64 {
        match &self.histogram {
            Some(h) if self.count > 0 => {
                // The histogram reports the top of the value's bucket; never
                // above the largest value actually seen.
                h.value_at_quantile(q).min(self.max_us) as f64 / 1e3
            }
            _ => 0.0,
        }
    }

    /// The usual summary, rounded to 0.1 ms.
    pub(crate) fn summary(&self) -> LatencySummary {
        if self.count == 0 {
            return LatencySummary::default();
        }
        let round = |ms: f64| (ms * 10.0).round() / 10.0;
        LatencySummary {
            p50: round(self.quantile_ms(0.50)),
            p95: round(self.quantile_ms(0.95)),
            p99: round(self.quantile_ms(0.99)),
            max: round(self.max_us as f64 / 1e3),
            mean: round(self.total_us as f64 / self.count as f64 / 1e3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_within_the_histogram_precision() {
        let mut p = Percentiles::new(PRECISE);
        for ms in 1..=1_000u64 {
            p.record(Duration::from_millis(ms));
        }
        let s = p.summary();
        assert!((s.p50 - 500.0).abs() <= 0.5, "{s:?}");
        assert!((s.p95 - 950.0).abs() <= 1.0, "{s:?}");
        assert!((s.p99 - 990.0).abs() <= 1.0, "{s:?}");
        assert_eq!(s.max, 1_000.0);
        assert_eq!(s.mean, 500.5);
        assert_eq!(p.count(), 1_000);
        assert_eq!(
            Percentiles::new(COARSE).summary(),
            LatencySummary::default()
        );
    }

    #[test]
    fn extreme_durations_are_recorded_without_panicking() {
        let mut p = Percentiles::new(COARSE);
        p.record(Duration::ZERO);
        p.record(Duration::MAX);
        assert_eq!(p.count(), 2);
        assert!(p.summary().max > 0.0);
    }
}
