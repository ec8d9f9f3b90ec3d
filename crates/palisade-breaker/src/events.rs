//! State changes: a `tracing` event for each, and an optional callback.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use palisade_core::ProviderId;
use serde::Serialize;

use crate::state::BreakerState;

/// Why the breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransitionReason {
    /// `count` counted failures in a row reached the threshold.
    ConsecutiveFailures {
        /// The run of failures.
        count: u32,
    },
    /// The window's failure rate reached the threshold.
    FailureRate {
        /// The rate, in percent.
        rate: f64,
        /// Calls in the window.
        calls: u32,
    },
    /// The window's slow-call rate reached the threshold.
    SlowCallRate {
        /// The rate, in percent.
        rate: f64,
        /// Calls in the window.
        calls: u32,
    },
    /// The open duration elapsed; probes may go through.
    OpenElapsed,
    /// A half-open probe failed (or was slow).
    ProbeFailed,
    /// Enough half-open probes succeeded.
    ProbesSucceeded {
        /// The successful probes.
        successes: u32,
    },
    /// Forced open by hand.
    Isolated,
    /// Reset by hand.
    Reset,
    /// Another instance changed the shared state (seen through the store).
    Shared,
}

impl fmt::Display for TransitionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransitionReason::ConsecutiveFailures { count: 1 } => f.write_str("a failure"),
            TransitionReason::ConsecutiveFailures { count } => {
                write!(f, "{count} consecutive failures")
            }
            TransitionReason::FailureRate { rate, calls } => {
                write!(f, "failure rate {rate:.1}% over {calls} calls")
            }
            TransitionReason::SlowCallRate { rate, calls } => {
                write!(f, "slow-call rate {rate:.1}% over {calls} calls")
            }
            TransitionReason::OpenElapsed => f.write_str("open duration elapsed"),
            TransitionReason::ProbeFailed => f.write_str("a probe failed"),
            TransitionReason::ProbesSucceeded { successes: 1 } => f.write_str("a probe succeeded"),
            TransitionReason::ProbesSucceeded { successes } => {
                write!(f, "{successes} probes succeeded")
            }
            TransitionReason::Isolated => f.write_str("isolated by hand"),
            TransitionReason::Reset => f.write_str("reset by hand"),
            TransitionReason::Shared => f.write_str("changed by another instance"),
        }
    }
}

/// One state change of one breaker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateChange {
    /// The breaker's provider (in Palisade, usually one model).
    pub provider: ProviderId,
    /// The state it left.
    pub from: BreakerState,
    /// The state it entered.
    pub to: BreakerState,
    /// Why.
    pub reason: TransitionReason,
    /// For `to == Open`: how long it stays open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_for: Option<Duration>,
}

/// A callback told of every state change, after the change is made and
/// outside the breaker's lock (it may call back into the breaker). Keep it
/// short: it runs on the thread that caused the change.
pub type StateListener = Arc<dyn Fn(&StateChange) + Send + Sync>;

/// Emits the `tracing` event for a change: `warn` when the circuit opens or
/// is isolated, `info` otherwise, with the provider id as both `provider` and
/// the OpenTelemetry GenAI attribute `gen_ai.request.model`.
pub(crate) fn trace(change: &StateChange) {
    let open_ms = change.open_for.map(|d| d.as_millis() as u64);
    match change.to {
        BreakerState::Open => tracing::warn!(
            target: "palisade_breaker",
            provider = %change.provider,
            gen_ai.request.model = %change.provider,
            from = change.from.as_str(),
            to = change.to.as_str(),
            reason = %change.reason,
            open_ms,
            "circuit breaker opened"
        ),
        BreakerState::Isolated => tracing::warn!(
            target: "palisade_breaker",
            provider = %change.provider,
            gen_ai.request.model = %change.provider,
            from = change.from.as_str(),
            to = change.to.as_str(),
            reason = %change.reason,
            "circuit breaker isolated"
        ),
        BreakerState::HalfOpen => tracing::info!(
            target: "palisade_breaker",
            provider = %change.provider,
            gen_ai.request.model = %change.provider,
            from = change.from.as_str(),
            to = change.to.as_str(),
            reason = %change.reason,
            "circuit breaker half-open"
        ),
        BreakerState::Closed => tracing::info!(
            target: "palisade_breaker",
            provider = %change.provider,
            gen_ai.request.model = %change.provider,
            from = change.from.as_str(),
            to = change.to.as_str(),
            reason = %change.reason,
            "circuit breaker closed"
        ),
    }
}
