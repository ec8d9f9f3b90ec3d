//! What a fallback counts per candidate, lock-free, and the cooldown it keeps.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use palisade_core::{ErrorKind, ErrorOrigin, ProviderId, Usage};
use tokio::time::Instant;

use super::histogram::LatencyHistogram;
use super::{CandidateSnapshot, LatencySnapshot};

/// Weight of the newest sample in the latency EWMA.
const EWMA_ALPHA: f64 = 0.2;

/// Counters for one candidate. Shared between the fallback that records and
/// the routers and snapshots that read.
#[derive(Debug)]
pub(crate) struct CandidateStats {
    epoch: Instant,
    pub(crate) calls: AtomicU64,
    pub(crate) successes: AtomicU64,
    failures: [AtomicU64; ErrorKind::ALL.len()],
    refused_locally: [AtomicU64; ErrorKind::ALL.len()],
    pub(crate) fallbacks_in: AtomicU64,
    pub(crate) fallbacks_out: AtomicU64,
    pub(crate) skipped_unavailable: AtomicU64,
    pub(crate) skipped_cooldown: AtomicU64,
    pub(crate) skipped_context_window: AtomicU64,
    pub(crate) skipped_unsupported: AtomicU64,
    pub(crate) hedges: AtomicU64,
    pub(crate) hedges_lost: AtomicU64,
    pub(crate) in_flight: AtomicUsize,
    input_tokens: AtomicU64,
    output_tokens: AtomicU64,
    cost_nano_usd: AtomicU64,
    latency: LatencyHistogram,
    /// f64 bits of the EWMA in seconds; 0 before the first sample.
    ewma_bits: AtomicU64,
    /// Nanoseconds after `epoch` until which the candidate cools down; 0: none.
    cooldown_until: AtomicU64,
}

impl CandidateStats {
    pub(crate) fn new() -> Self {
        Self {
            epoch: Instant::now(),
            calls: AtomicU64::new(0),
            successes: AtomicU64::new(0),
            failures: std::array::from_fn(|_| AtomicU64::new(0)),
            refused_locally: std::array::from_fn(|_| AtomicU64::new(0)),
            fallbacks_in: AtomicU64::new(0),
            fallbacks_out: AtomicU64::new(0),
            skipped_unavailable: AtomicU64::new(0),
            skipped_cooldown: AtomicU64::new(0),
            skipped_context_window: AtomicU64::new(0),
            skipped_unsupported: AtomicU64::new(0),
            hedges: AtomicU64::new(0),
            hedges_lost: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            input_tokens: AtomicU64::new(0),
            output_tokens: AtomicU64::new(0),
            cost_nano_usd: AtomicU64::new(0),
            latency: LatencyHistogram::default(),
            ewma_bits: AtomicU64::new(0),
            cooldown_until: AtomicU64::new(0),
        }
    }

    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks a call in flight until the guard drops (completion or cancellation).
    pub(crate) fn start_call(&self) -> InFlightGuard<'_> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlightGuard(self)
    }

    pub(crate) fn record_latency(&self, latency: Duration) {
        self.latency.record(latency);
        let sample = latency.as_secs_f64();
        // Lost updates under contention only skip a sample; the average survives.
        let _ = self
            .ewma_bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let old = f64::from_bits(bits);
                let new = if bits == 0 {
                    sample
                } else {
                    old + EWMA_ALPHA * (sample - old)
                };
                Some(new.max(f64::MIN_POSITIVE).to_bits())
            });
    }

    pub(crate) fn record_success(&self, usage: Option<&Usage>, cost_usd: Option<f64>) {
        self.successes.fetch_add(1, Ordering::Relaxed);
        if let Some(u) = usage {
            self.record_usage(u, cost_usd);
        }
    }

    pub(crate) fn record_usage(&self, usage: &Usage, cost_usd: Option<f64>) {
        let input = u64::from(usage.input_tokens)
            + u64::from(usage.cache_read_tokens)
            + u64::from(usage.cache_write_tokens);
        self.input_tokens.fetch_add(input, Ordering::Relaxed);
        self.output_tokens
            .fetch_add(u64::from(usage.output_tokens), Ordering::Relaxed);
        if let Some(cost) = cost_usd {
            self.cost_nano_usd
                .fetch_add((cost.max(0.0) * 1e9).round() as u64, Ordering::Relaxed);
        }
    }

    /// Counts a failed call: against the provider, or as a local refusal
    /// when a layer raised the error.
    pub(crate) fn record_failure(&self, kind: ErrorKind, origin: ErrorOrigin) {
        let counters = match origin {
            ErrorOrigin::Provider => &self.failures,
            ErrorOrigin::Layer => &self.refused_locally,
        };
        if let Some(i) = ErrorKind::ALL.iter().position(|k| *k == kind) {
            counters[i].fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The latency EWMA, `None` before the first call.
    pub(crate) fn latency_ewma(&self) -> Option<Duration> {
        let bits = self.ewma_bits.load(Ordering::Relaxed);
        (bits != 0).then(|| Duration::from_secs_f64(f64::from_bits(bits)))
    }

    /// Starts (or extends) a cooldown of `duration` from now.
    pub(crate) fn cool_down(&self, duration: Duration) {
        let until = Instant::now().saturating_duration_since(self.epoch) + duration;
        let nanos = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.cooldown_until.fetch_max(nanos, Ordering::Relaxed);
    }

    /// Time left in the cooldown, `None` when not cooling down.
    pub(crate) fn cooldown_remaining(&self) -> Option<Duration> {
        let until = self.cooldown_until.load(Ordering::Relaxed);
        if until == 0 {
            return None;
        }
        let now = Instant::now().saturating_duration_since(self.epoch);
        let until = Duration::from_nanos(until);
        (until > now).then(|| until - now)
    }

    pub(crate) fn reset_cooldown(&self) {
        self.cooldown_until.store(0, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, id: &ProviderId, model: &str) -> CandidateSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let by_kind = |counters: &[AtomicU64]| {
            ErrorKind::ALL
                .iter()
                .zip(counters)
                .filter_map(|(kind, c)| {
                    let n = load(c);
                    (n > 0).then_some((*kind, n))
                })
                .collect()
        };
        let ms = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1000.0);
        CandidateSnapshot {
            id: id.clone(),
            model: model.to_owned(),
            calls: load(&self.calls),
            successes: load(&self.successes),
            failures: by_kind(&self.failures),
            // `ErrorKind::ALL` starts with `Throttled`.
            throttles: load(&self.failures[0]),
            refused_locally: by_kind(&self.refused_locally),
            retries: 0,
            fallbacks_in: load(&self.fallbacks_in),
            fallbacks_out: load(&self.fallbacks_out),
            skipped_unavailable: load(&self.skipped_unavailable),
            skipped_cooldown: load(&self.skipped_cooldown),
            skipped_context_window: load(&self.skipped_context_window),
            skipped_unsupported: load(&self.skipped_unsupported),
            hedges: load(&self.hedges),
            hedges_lost: load(&self.hedges_lost),
            in_flight: self.in_flight.load(Ordering::Relaxed) as u64,
            cooldown_remaining_ms: ms(self.cooldown_remaining()),
            breaker_state: None,
            limiter_queued: None,
            input_tokens: load(&self.input_tokens),
            output_tokens: load(&self.output_tokens),
            cost_usd: load(&self.cost_nano_usd) as f64 / 1e9,
            latency: LatencySnapshot {
                p50_ms: ms(self.latency.quantile(0.50)),
                p95_ms: ms(self.latency.quantile(0.95)),
                p99_ms: ms(self.latency.quantile(0.99)),
                ewma_ms: ms(self.latency_ewma()),
            },
        }
    }

    /// Zeroes the counters (not the in-flight gauge or the cooldown).
    pub(crate) fn reset_counters(&self) {
        for c in [
            &self.calls,
            &self.successes,
            &self.fallbacks_in,
            &self.fallbacks_out,
            &self.skipped_unavailable,
            &self.skipped_cooldown,
            &self.skipped_context_window,
            &self.skipped_unsupported,
            &self.hedges,
            &self.hedges_lost,
            &self.input_tokens,
            &self.output_tokens,
            &self.cost_nano_usd,
            &self.ewma_bits,
        ]
        .into_iter()
        .chain(&self.failures)
        .chain(&self.refused_locally)
        {
            c.store(0, Ordering::Relaxed);
        }
        self.latency.reset();
    }
}

/// Decrements the in-flight gauge when the call ends, however it ends.
#[derive(Debug)]
pub(crate) struct InFlightGuard<'a>(&'a CandidateStats);

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}
