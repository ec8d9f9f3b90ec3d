//! The breaker's states and their packing into one atomic word.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a circuit breaker stands.
///
/// ```text
///            trip condition met                  open duration elapsed
///  Closed ───────────────────────────► Open ───────────────────────────► HalfOpen
///    ▲                                   ▲                                 │  │
///    │          M probe successes        │      a probe fails              │  │
///    └───────────────────────────────────┼─────────────────────────────────┘  │
///                                        └────────────────────────────────────┘
///  isolate(): any state ──► Isolated          reset(): any state ──► Closed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    /// Calls flow; outcomes are counted against the trip conditions.
    Closed,
    /// Calls are refused until the open duration has elapsed.
    Open,
    /// A limited number of probe calls decide whether to close or reopen.
    HalfOpen,
    /// Forced open by hand ([`CircuitBreaker::isolate`](crate::CircuitBreaker::isolate));
    /// stays open until [`reset`](crate::CircuitBreaker::reset).
    Isolated,
}

impl BreakerState {
    /// A stable snake_case name, as in logs and serialized snapshots.
    pub const fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half_open",
            BreakerState::Isolated => "isolated",
        }
    }

    /// Whether calls are admitted without restriction.
    pub const fn is_closed(self) -> bool {
        matches!(self, BreakerState::Closed)
    }

    pub(crate) const fn to_bits(self) -> u64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
            BreakerState::Isolated => 3,
        }
    }

    pub(crate) const fn from_bits(bits: u64) -> Self {
        match bits & STATE_MASK {
            0 => BreakerState::Closed,
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            _ => BreakerState::Isolated,
        }
    }
}

impl fmt::Display for BreakerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const STATE_MASK: u64 = 0b11;
const GENERATION_SHIFT: u32 = 2;

/// The state and its generation in one word, so the closed fast path needs a
/// single atomic load to both admit a call and stamp it.
///
/// The generation grows on every transition. An outcome is only counted when
/// its call was admitted in the current generation: a straggler admitted
/// before a trip must not vote in the half-open state that follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StateWord(pub(crate) u64);

impl StateWord {
    pub(crate) const fn new(state: BreakerState, generation: u64) -> Self {
        Self((generation << GENERATION_SHIFT) | state.to_bits())
    }

    pub(crate) const fn state(self) -> BreakerState {
        BreakerState::from_bits(self.0)
    }

    pub(crate) const fn generation(self) -> u64 {
        self.0 >> GENERATION_SHIFT
    }

    /// The next generation in `state`.
    pub(crate) const fn next(self, state: BreakerState) -> Self {
        Self::new(state, self.generation().wrapping_add(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_word_round_trips() {
        for state in [
            BreakerState::Closed,
            BreakerState::Open,
            BreakerState::HalfOpen,
            BreakerState::Isolated,
        ] {
            let w = StateWord::new(state, 41);
            assert_eq!(w.state(), state);
            assert_eq!(w.generation(), 41);
            assert_eq!(w.next(BreakerState::Closed).generation(), 42);
        }
    }
}
