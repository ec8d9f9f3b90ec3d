//! The numbers both sides agree on: the shared quota, the workers' size and
//! the fake model's latency. The submitter passes the run-specific names
//! (Redis URL, queue namespace, limiter key) to each worker on its command
//! line; these constants are compiled into both.

use std::time::Duration;

use palisade::limit::{LimiterConfig, Quota};

/// The model every worker calls (one quota, one limiter key).
pub(crate) const MODEL: &str = "gpt-4o-mini";

/// The API key the fake server expects and the workers send.
pub(crate) const API_KEY: &str = "sk-local-job-queue";

/// The shared quota: 4 requests per second between all workers, at most 2
/// at once after a quiet spell. In any 1 s window at most
/// `amount + burst` = 6 calls may start (palisade-limit's GCRA bound).
pub(crate) const QUOTA: Quota = Quota {
    amount: 4,
    period: Duration::from_secs(1),
    burst: Some(2),
};

/// Jobs each worker runs at once (apalis's concurrency layer).
pub(crate) const CONCURRENCY: usize = 4;

/// How long the fake model takes per call. Unthrottled, two workers of
/// [`CONCURRENCY`] would start `2 × 4 / 0.15 s` ≈ 53 calls per second.
pub(crate) const MODEL_LATENCY: Duration = Duration::from_millis(150);

/// The limiter every worker builds, identical on each (the limits travel
/// with each admission to Redis). A long `max_wait`: a job waits its turn
/// for the quota rather than failing.
pub(crate) fn limiter_config() -> LimiterConfig {
    LimiterConfig {
        requests: Some(QUOTA),
        max_wait: Duration::from_secs(120),
        ..LimiterConfig::named(MODEL)
    }
}

/// How long a concurrency lease lives in Redis without renewal.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(30);

/// The most calls the quota allows to start in any window of one period.
pub(crate) fn window_bound() -> u64 {
    QUOTA.amount + QUOTA.burst.unwrap_or(QUOTA.amount)
}
