//! The layers a candidate's snapshot can report, and that its `reset()`
//! reaches: attach them with [`Candidate::with_probe`](crate::Candidate::with_probe)
//! (the builder does for the layers it builds), so a hand-built stack
//! reports the same fields as a built one.

use palisade_breaker::CircuitBreaker;
use palisade_limit::{Limiter, LimiterSet};

use crate::fallback::CandidateProbe;
use crate::retry::RetryLayer;
use crate::stats::CandidateSnapshot;

/// Adds its retries to `retries`; `reset()` refills its retry budget.
impl CandidateProbe for RetryLayer {
    fn fill(&self, snapshot: &mut CandidateSnapshot) {
        snapshot.retries += self.stats().retries;
    }

    fn reset(&self) {
        self.budget().reset();
    }
}

/// Reports the breaker's state in `breaker_state`; `reset()` closes it.
impl CandidateProbe for CircuitBreaker {
    fn fill(&self, snapshot: &mut CandidateSnapshot) {
        snapshot.breaker_state = Some(self.state().as_str().to_owned());
    }

    fn reset(&self) {
        CircuitBreaker::reset(self);
    }
}

/// Adds the requests waiting in its queue to `limiter_queued`.
impl CandidateProbe for Limiter {
    fn fill(&self, snapshot: &mut CandidateSnapshot) {
        *snapshot.limiter_queued.get_or_insert(0) += self.stats().queued_now;
    }
}

/// Adds the requests waiting in its limiters' queues to `limiter_queued`.
impl CandidateProbe for LimiterSet {
    fn fill(&self, snapshot: &mut CandidateSnapshot) {
        for limiter in self.limiters() {
            limiter.fill(snapshot);
        }
        snapshot.limiter_queued.get_or_insert(0);
    }
}
