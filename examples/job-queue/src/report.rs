//! The lines the processes exchange and the run's summary: a worker's
//! closing figures (one line on its standard output, read by the
//! submitter), and the summary the demo prints last as one JSON line, which
//! the end-to-end test reads.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A worker's figures, printed as its last line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WorkerStats {
    /// Calls its limiter admitted.
    pub(crate) admitted: u64,
    /// Seconds its jobs waited for the shared quota, in all.
    pub(crate) waited_secs: f64,
    /// Round trips its limit store made to Redis.
    pub(crate) redis_calls: u64,
}

const STATS_PREFIX: &str = "worker-stats ";

impl WorkerStats {
    pub(crate) fn to_line(&self) -> String {
        // Serialising plain numbers cannot fail.
        format!(
            "{STATS_PREFIX}{}",
            serde_json::to_string(self).unwrap_or_default()
        )
    }

    /// The figures, if `line` is a worker's stats line.
    pub(crate) fn from_line(line: &str) -> Option<Self> {
        serde_json::from_str(line.strip_prefix(STATS_PREFIX)?).ok()
    }
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Summary {
    pub(crate) submitted: u32,
    pub(crate) done: u32,
    /// The numbers of the documents apalis reports killed (cancelled).
    pub(crate) cancelled: Vec<u32>,
    /// Jobs in any other state at the end (failed, still pending...).
    pub(crate) other: u32,
    /// Jobs each worker finished.
    pub(crate) jobs_by_worker: BTreeMap<String, u32>,
    /// Calls each worker's limiter admitted.
    pub(crate) admitted_by_worker: BTreeMap<String, u64>,
    /// Seconds each worker's calls waited for the shared quota, in all.
    pub(crate) waited_secs_by_worker: BTreeMap<String, f64>,
    /// Calls the model received.
    pub(crate) model_calls: u64,
    /// Calls per window of the quota's period, from the first call.
    pub(crate) calls_per_window: Vec<u64>,
    /// The most calls in any window of one period.
    pub(crate) busiest_window: u64,
    /// What the quota allows in any window of one period.
    pub(crate) window_bound: u64,
    /// The quota's period, in seconds.
    pub(crate) period_secs: f64,
}

pub(crate) const SUMMARY_PREFIX: &str = "summary-json ";

impl Summary {
    /// Whether the shared quota held: no window above its bound.
    pub(crate) fn quota_held(&self) -> bool {
        self.busiest_window <= self.window_bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_stats_round_trip_through_their_line() {
        let stats = WorkerStats {
            admitted: 9,
            waited_secs: 1.5,
            redis_calls: 20,
        };
        assert_eq!(WorkerStats::from_line(&stats.to_line()), Some(stats));
        assert_eq!(WorkerStats::from_line("doc 01 done: ..."), None);
    }
}
