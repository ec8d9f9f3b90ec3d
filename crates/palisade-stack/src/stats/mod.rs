//! Serde snapshots of what the stack has done: one [`StackStats`] for the
//! whole stack with a [`CandidateSnapshot`] per candidate.

pub(crate) mod candidate;
mod histogram;

use std::collections::BTreeMap;

use palisade_core::{ErrorKind, ProviderId};
use serde::{Deserialize, Serialize};

use crate::budget::BudgetSnapshot;

/// Latency percentiles of calls to one candidate (each call including its
/// retries), in milliseconds, within 12.5%.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySnapshot {
    /// Median.
    pub p50_ms: Option<f64>,
    /// 95th percentile.
    pub p95_ms: Option<f64>,
    /// 99th percentile.
    pub p99_ms: Option<f64>,
    /// Exponentially weighted moving average (what `lowest_latency` routes by).
    pub ewma_ms: Option<f64>,
}

/// What one candidate of a fallback has done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CandidateSnapshot {
    /// The candidate's id: a stack's config id, which also names its limiter
    /// and breaker and is the id in attempts trails and spans.
    pub id: ProviderId,
    /// The model id behind it, as its provider names it.
    pub model: String,
    /// Calls made to it (each including its retries).
    pub calls: u64,
    /// Calls that produced the answer.
    pub successes: u64,
    /// Calls that failed with an error the provider raised, by kind (kinds
    /// with no failures left out).
    pub failures: BTreeMap<ErrorKind, u64>,
    /// Calls the provider throttled (its 429s; also in `failures`). Local
    /// refusals are in `refused_locally`.
    pub throttles: u64,
    /// Calls that ended with an error a local layer raised without the
    /// provider answering ([`ErrorOrigin::Layer`](palisade_core::ErrorOrigin::Layer):
    /// its limiter's refusal, its open breaker, a passed deadline), by kind.
    pub refused_locally: BTreeMap<ErrorKind, u64>,
    /// Retries made inside its calls (filled when the stack built its retry layer).
    pub retries: u64,
    /// Requests it served after another candidate was tried or skipped.
    pub fallbacks_in: u64,
    /// Requests that moved on from it to another candidate.
    pub fallbacks_out: u64,
    /// Times it was passed over because its breaker or limiter said it was
    /// unavailable.
    pub skipped_unavailable: u64,
    /// Times it was passed over because the fallback was cooling it down
    /// (after a throttle).
    pub skipped_cooldown: u64,
    /// Times it was passed over because the request did not fit its context window.
    pub skipped_context_window: u64,
    /// Times it was passed over because it cannot serve something the
    /// request needs (tools, images, a tier, …: its
    /// [`capabilities`](palisade_core::Provider::capabilities)).
    pub skipped_unsupported: u64,
    /// Hedged calls sent to it.
    pub hedges: u64,
    /// Its calls cancelled because another candidate answered first.
    pub hedges_lost: u64,
    /// Calls in flight now.
    pub in_flight: u64,
    /// Time left in the fallback's cooldown of it, if cooling down.
    pub cooldown_remaining_ms: Option<f64>,
    /// Its circuit breaker's state (`closed`, `open`, `half_open`), when it has one.
    pub breaker_state: Option<String>,
    /// Requests waiting in its rate limiter's queue, when it has one.
    pub limiter_queued: Option<u64>,
    /// Input tokens of its answers (cache reads and writes included).
    pub input_tokens: u64,
    /// Output tokens of its answers.
    pub output_tokens: u64,
    /// Cost of its answers in USD, from the price table (0 without one).
    pub cost_usd: f64,
    /// Latency of its calls.
    pub latency: LatencySnapshot,
}

/// One snapshot of a whole stack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StackStats {
    /// Per candidate, in configuration order.
    pub candidates: Vec<CandidateSnapshot>,
    /// The budget layer's spending, when the stack has one.
    pub budget: Option<BudgetSnapshot>,
}

impl StackStats {
    /// The candidate `id`, if present.
    pub fn candidate(&self, id: &str) -> Option<&CandidateSnapshot> {
        self.candidates.iter().find(|c| c.id.as_str() == id)
    }
}
