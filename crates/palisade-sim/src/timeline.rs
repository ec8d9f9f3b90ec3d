//! What a run looked like over time, in fixed-width intervals: per
//! interval, the requests each model answered, the calls the models refused
//! for quota, the deepest queue, and latency percentiles — the series the
//! HTML report plots. Intervals have one fixed width for the whole run, at
//! least 10 s and wide enough that at most [`MAX_INTERVALS`] cover it, so
//! memory does not grow with the run.

use std::time::Duration;

use serde::Serialize;

use crate::percentiles::{COARSE, LatencySummary, Percentiles};

/// Most intervals of a timeline.
pub const MAX_INTERVALS: u64 = 240;

/// One interval's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Interval {
    /// Start of the interval, in seconds since the start of the run.
    pub start_s: f64,
    /// Requests answered in the interval, per model (scenario order).
    pub served: Vec<u64>,
    /// Requests that ended in an error in the interval.
    pub failed: u64,
    /// Calls the models refused for quota in the interval.
    pub throttles: u64,
    /// The most requests waiting outside every model (in a limiter queue, a
    /// backoff or a breaker wait) at any moment of the interval.
    pub max_queue_depth: u64,
    /// Latency of the requests answered in the interval (ms).
    pub latency_ms: LatencySummary,
}

/// A run's figures over time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    /// Length of each interval, in seconds.
    pub interval_s: f64,
    /// The intervals, from the start of the run.
    pub intervals: Vec<Interval>,
}

/// Interval widths below a minute, in seconds: round figures, so a chart's
/// points fall on readable times. Below 10 s a model serving a few requests
/// a minute would plot as noise.
const SHORT_WIDTHS: [u64; 4] = [10, 15, 20, 30];

/// The narrowest round width (10, 15, 20 or 30 s, else whole minutes) at
/// which at most [`MAX_INTERVALS`] intervals cover `span`.
fn interval_width(span: Duration) -> Duration {
    let needed = span.as_secs().div_ceil(MAX_INTERVALS);
    let secs = SHORT_WIDTHS
        .into_iter()
        .find(|w| *w >= needed)
        .unwrap_or_else(|| needed.div_ceil(60) * 60);
    Duration::from_secs(secs)
}

/// The timeline being recorded.
#[derive(Debug)]
pub(crate) struct TimelineRecorder {
    width: Duration,
    served: Vec<Vec<u64>>,
    failed: Vec<u64>,
    throttles: Vec<u64>,
    depth: Vec<u64>,
    latency: Vec<Percentiles>,
    models: usize,
}

impl TimelineRecorder {
    /// A timeline of a run expected to last about `span`, for `models` models.
    pub(crate) fn new(span: Duration, models: usize) -> Self {
        Self {
            width: interval_width(span),
            served: Vec::new(),
            failed: Vec::new(),
            throttles: Vec::new(),
            depth: Vec::new(),
            latency: Vec::new(),
            models,
        }
    }

    /// The interval `at` falls in, growing the series up to it. Instants past
    /// the expected span land in the last interval, so memory stays bounded
    /// even if the run drains longer than planned.
    fn slot(&mut self, at: Duration) -> usize {
        let index = (at.as_nanos() / self.width.as_nanos().max(1)).min(u128::from(MAX_INTERVALS));
        let index = usize::try_from(index).unwrap_or(0);
        while self.failed.len() <= index {
            self.served.push(vec![0; self.models]);
            self.failed.push(0);
            self.throttles.push(0);
            self.depth.push(0);
            self.latency.push(Percentiles::new(COARSE));
        }
        index
    }

    pub(crate) fn served(&mut self, at: Duration, model: usize, latency: Duration) {
        let i = self.slot(at);
        if let Some(count) = self.served[i].get_mut(model) {
            *count += 1;
        }
        self.latency[i].record(latency);
    }

    pub(crate) fn failed(&mut self, at: Duration) {
        let i = self.slot(at);
        self.failed[i] += 1;
    }

    pub(crate) fn throttled(&mut self, at: Duration) {
        let i = self.slot(at);
        self.throttles[i] += 1;
    }

    pub(crate) fn queue_depth(&mut self, at: Duration, depth: u64) {
        let i = self.slot(at);
        self.depth[i] = self.depth[i].max(depth);
    }

    /// The finished timeline, at least `through` long.
    pub(crate) fn finish(mut self, through: Duration) -> Timeline {
        self.slot(through);
        let width = self.width.as_secs_f64();
        let intervals = (0..self.failed.len())
            .map(|i| Interval {
                start_s: i as f64 * width,
                served: std::mem::take(&mut self.served[i]),
                failed: self.failed[i],
                throttles: self.throttles[i],
                max_queue_depth: self.depth[i],
                latency_ms: self.latency[i].summary(),
            })
            .collect();
        Timeline {
            interval_s: width,
            intervals,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_have_a_round_width_and_are_bounded_in_number() {
        // 75 min over 240 intervals needs 18.75 s: the width is 20 s.
        let mut t = TimelineRecorder::new(Duration::from_secs(75 * 60), 2);
        t.served(Duration::from_secs(30), 1, Duration::from_secs(2));
        t.throttled(Duration::from_secs(10));
        t.queue_depth(Duration::from_secs(21), 7);
        t.queue_depth(Duration::from_secs(22), 3);
        // Far past the span: folded into the last interval, not grown to it.
        t.failed(Duration::from_secs(10_000_000));
        let timeline = t.finish(Duration::from_secs(75 * 60));
        assert_eq!(timeline.interval_s, 20.0);
        assert_eq!(timeline.intervals.len(), MAX_INTERVALS as usize + 1);
        assert_eq!(timeline.intervals[1].served, vec![0, 1]);
        assert_eq!(timeline.intervals[1].max_queue_depth, 7);
        assert_eq!(timeline.intervals[0].throttles, 1);

        assert_eq!(timeline.intervals[1].start_s, 20.0);

        let short = TimelineRecorder::new(Duration::from_secs(5 * 60), 1);
        assert_eq!(short.width, Duration::from_secs(10));
        let day = TimelineRecorder::new(Duration::from_secs(86_400 + 900), 1);
        assert_eq!(day.width, Duration::from_secs(7 * 60));
    }
}
