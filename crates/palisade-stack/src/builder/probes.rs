//! What the builder attaches to each candidate so its snapshot shows the
//! layers beneath the fallback, and `reset()` reaches them.

use palisade_breaker::CircuitBreaker;
use palisade_limit::LimiterSet;

use crate::fallback::CandidateProbe;
use crate::retry::RetryLayer;
use crate::stats::CandidateSnapshot;

impl CandidateProbe for RetryLayer {
    fn fill(&self, snapshot: &mut CandidateSnapshot) {
        snapshot.retries += self.stats().retries;
    }

    fn reset(&self) {
        self.budget().reset();
    }
}

/// Reports a candidate's breaker state; `reset()` closes it.
#[derive(Debug)]
pub(crate) struct BreakerProbe(pub(crate) CircuitBreaker);

impl CandidateProbe for BreakerProbe {
    fn fill(&self, snapshot: &mut CandidateSnapshot) {
        snapshot.breaker_state = Some(self.0.state().as_str().to_owned());
    }

    fn reset(&self) {
        self.0.reset();
    }
}

/// Reports how many requests wait in a candidate's limiters.
#[derive(Debug)]
pub(crate) struct LimiterProbe(pub(crate) LimiterSet);

impl CandidateProbe for LimiterProbe {
    fn fill(&self, snapshot: &mut CandidateSnapshot) {
        let queued = self.0.limiters().iter().map(|l| l.stats().queued_now).sum();
        snapshot.limiter_queued = Some(queued);
    }
}
