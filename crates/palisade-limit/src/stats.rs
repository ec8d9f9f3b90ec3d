//! Counters kept under the limiter's lock, and the serde snapshot of them.
//!
//! Plain integers rather than atomics: every update happens inside the one
//! critical section that admits or settles anyway, so counting is free.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Nanos;

/// Upper bounds of the wait-time histogram buckets; the last bucket is open.
pub const WAIT_BUCKETS: [Duration; 8] = [
    Duration::ZERO,
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(10),
    Duration::from_secs(60),
    Duration::MAX,
];

const WAIT_BOUNDS_NS: [Nanos; 7] = [
    0,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    60_000_000_000,
];

#[derive(Debug, Clone, Default)]
pub(crate) struct Counters {
    pub(crate) admitted: u64,
    pub(crate) rejected: u64,
    pub(crate) timed_out: u64,
    pub(crate) impossible: u64,
    pub(crate) cancelled_waits: u64,
    pub(crate) waits: [u64; 8],
    pub(crate) waited_total_ns: u64,
    pub(crate) tokens_reserved: u64,
    pub(crate) tokens_settled: u64,
    pub(crate) tokens_refunded: u64,
    pub(crate) tokens_debt: u64,
    pub(crate) settled: u64,
    pub(crate) dropped_unsettled: u64,
}

/// The counts of permits finished without the lock: a limiter whose permits
/// give nothing back (requests limit only) skips the lock when one is settled
/// or dropped, so those counts cannot live in [`Counters`]. Relaxed atomics:
/// each is a tally read only by snapshots.
#[derive(Debug, Default)]
pub(crate) struct LocklessCounters {
    settled: AtomicU64,
    dropped_unsettled: AtomicU64,
    tokens_settled: AtomicU64,
    tokens_refunded: AtomicU64,
}

impl LocklessCounters {
    /// Counts one finished permit: settled with `charged` tokens, or dropped;
    /// `refunded` tokens of its reservation unused.
    #[inline]
    pub(crate) fn record_finish(&self, settled_with_usage: bool, charged: u64, refunded: u64) {
        if settled_with_usage {
            self.settled.fetch_add(1, Ordering::Relaxed);
            if charged > 0 {
                self.tokens_settled.fetch_add(charged, Ordering::Relaxed);
            }
        } else {
            self.dropped_unsettled.fetch_add(1, Ordering::Relaxed);
        }
        if refunded > 0 {
            self.tokens_refunded.fetch_add(refunded, Ordering::Relaxed);
        }
    }

    /// Adds these counts to the locked ones (for a snapshot).
    pub(crate) fn add_to(&self, c: &mut Counters) {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        c.settled = c.settled.saturating_add(load(&self.settled));
        c.dropped_unsettled = c
            .dropped_unsettled
            .saturating_add(load(&self.dropped_unsettled));
        c.tokens_settled = c.tokens_settled.saturating_add(load(&self.tokens_settled));
        c.tokens_refunded = c
            .tokens_refunded
            .saturating_add(load(&self.tokens_refunded));
    }
}

impl Counters {
    #[inline]
    pub(crate) fn record_admit(&mut self, tokens: u64, waited: Nanos) {
        self.admitted += 1;
        self.tokens_reserved = self.tokens_reserved.saturating_add(tokens);
        if waited == 0 {
            self.waits[0] += 1;
        } else {
            self.record_wait(waited);
        }
    }

    #[cold]
    fn record_wait(&mut self, waited: Nanos) {
        let bucket = WAIT_BOUNDS_NS
            .iter()
            .position(|bound| waited <= *bound)
            .unwrap_or(WAIT_BOUNDS_NS.len());
        self.waits[bucket] += 1;
        self.waited_total_ns = self.waited_total_ns.saturating_add(waited);
    }
}

/// A point-in-time snapshot of a limiter, serializable for dashboards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct LimiterStats {
    /// The limiter's name.
    pub name: String,
    /// Requests admitted (at once or after waiting).
    pub admitted: u64,
    /// Requests refused: `try_acquire` refusals, waits that ran out, and
    /// impossible costs (the next three fields break it down in part).
    pub rejected: u64,
    /// Of `rejected`: waits that ran past `max_wait` or the deadline.
    pub timed_out: u64,
    /// Of `rejected`: costs larger than a limit's whole capacity.
    pub impossible: u64,
    /// Waits abandoned by the caller (the future was dropped).
    pub cancelled_waits: u64,
    /// Requests waiting for admission now.
    pub queued_now: u64,
    /// Requests admitted and not yet settled or dropped.
    pub in_flight: u64,
    /// Admissions by time waited: `wait_histogram[i]` counts waits of at most
    /// [`WAIT_BUCKETS`]`[i]` (and more than the bound before it).
    pub wait_histogram: [u64; 8],
    /// Total time admitted requests waited, in seconds.
    pub waited_total_secs: f64,
    /// Tokens reserved at admission, summed.
    pub tokens_reserved: u64,
    /// Actual token costs reported at settle, summed.
    pub tokens_settled: u64,
    /// Tokens given back (settled below the reservation, or dropped).
    pub tokens_refunded: u64,
    /// Tokens charged beyond reservations (overruns), summed.
    pub tokens_debt: u64,
    /// Permits settled.
    pub settled: u64,
    /// Permits dropped without settling.
    pub dropped_unsettled: u64,
    /// Tokens that fit now (negative while in debt); `None` without a token limit.
    pub tokens_available: Option<i64>,
    /// Input tokens that fit now (negative while in debt); `None` without an
    /// input-tokens limit.
    #[serde(default)]
    pub input_tokens_available: Option<i64>,
    /// Output tokens that fit now (negative while in debt); `None` without
    /// an output-tokens limit.
    #[serde(default)]
    pub output_tokens_available: Option<i64>,
    /// Tokens that fit today's quota now (negative while in debt); `None`
    /// without a tokens-per-day limit.
    #[serde(default)]
    pub tokens_per_day_available: Option<i64>,
    /// Requests that fit now; `None` without a requests limit.
    pub requests_available: Option<i64>,
    /// Fraction of the configured rate in force (1.0 unless adaptive mode
    /// lowered it).
    pub rate_fraction: f64,
    /// Throttles that lowered the rate (adaptive mode).
    pub throttles: u64,
    /// Time left of a provider-imposed pause, in seconds (0 if none).
    pub cooldown_secs: f64,
    /// Requests per configured period in force after calibration from the
    /// provider's rate-limit headers (the configured amount until a provider
    /// reports less); `None` without a requests limit.
    #[serde(default)]
    pub calibrated_requests: Option<u64>,
    /// Tokens per configured period in force after calibration; `None`
    /// without a token limit.
    #[serde(default)]
    pub calibrated_tokens: Option<u64>,
}
