//! One breaker's health as plain data: what [`CircuitBreaker::snapshot`]
//! returns and a health endpoint serializes.
//!
//! [`CircuitBreaker::snapshot`]: crate::CircuitBreaker::snapshot

use palisade_core::{ErrorKind, ProviderId};
use serde::{Deserialize, Serialize};

use crate::state::BreakerState;

/// One breaker's health, serializable for a health endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthSnapshot {
    /// The provider (in Palisade, usually one model).
    pub provider: ProviderId,
    /// The effective state.
    pub state: BreakerState,
    /// Calls in the sliding window.
    pub calls: u32,
    /// Counted failures in the window.
    pub failures: u32,
    /// Slow calls in the window (0 unless the slow-call condition is on).
    pub slow_calls: u32,
    /// `failures / calls` in percent; `None` for an empty window.
    pub failure_rate: Option<f64>,
    /// `slow_calls / calls` in percent; `None` for an empty window.
    pub slow_call_rate: Option<f64>,
    /// The current run of counted failures.
    pub consecutive_failures: u32,
    /// Openings since the circuit last closed.
    pub consecutive_opens: u32,
    /// Half-open probes in flight on this instance.
    pub probes_in_flight: u32,
    /// Milliseconds from the snapshot until the circuit lets a probe through
    /// (the open-until deadline); `None` unless open or isolated.
    pub retry_after_ms: Option<u64>,
    /// The kind of the last counted failure.
    pub last_error_kind: Option<ErrorKind>,
}
