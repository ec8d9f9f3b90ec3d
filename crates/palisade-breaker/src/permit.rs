//! A call admitted by a breaker, and how its outcome gets back to it.

use palisade_core::ProviderError;
use tokio::time::Instant;

use crate::breaker::CircuitBreaker;
use crate::policy::Outcome;

/// Permission for one call, from [`CircuitBreaker::try_acquire`].
///
/// Report how the call ended with one of the `record` methods. A permit
/// dropped without a report frees its half-open probe slot, so a cancelled
/// probe never wedges the breaker, and counts as [`Outcome::Ignored`] (the
/// caller gave up: that says nothing about the provider) — unless it was
/// held for at least
/// [`count_dropped_calls_after`](crate::BreakerConfig::count_dropped_calls_after),
/// when it counts as a `Timeout`.
///
/// An outcome only counts in the state the call was admitted in: once the
/// breaker has changed state, a late report is dropped.
#[must_use = "report the call's outcome on the permit, or drop it to ignore the call"]
#[derive(Debug)]
pub struct Permit {
    breaker: CircuitBreaker,
    generation: u64,
    probe: bool,
    store_probe: bool,
    admitted: Option<Instant>,
    /// Whether a drop without a report may count as a timeout.
    drop_counts: bool,
    done: bool,
}

impl Permit {
    pub(crate) fn new(
        breaker: CircuitBreaker,
        generation: u64,
        probe: bool,
        admitted: Option<Instant>,
    ) -> Self {
        Self {
            breaker,
            generation,
            probe,
            store_probe: false,
            admitted,
            drop_counts: true,
            done: false,
        }
    }

    /// A drop without a report is ignored however long the permit was held
    /// (for a stream that has started: its consumer decides when to stop).
    pub(crate) fn ignore_drop(&mut self) {
        self.drop_counts = false;
    }

    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// The breaker that admitted the call.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    pub(crate) fn hold_store_probe(&mut self) {
        self.store_probe = true;
    }

    /// The call succeeded.
    pub fn record_success(self) {
        self.record(Outcome::Success);
    }

    /// The call failed; the breaker's [`OutcomePolicy`](crate::OutcomePolicy)
    /// decides whether it counts.
    pub fn record_error(self, error: &ProviderError) {
        let outcome = self.breaker.config().policy.classify_error(error);
        self.record(outcome);
    }

    /// Records a call's result ([`record_success`](Self::record_success) or
    /// [`record_error`](Self::record_error)).
    pub fn record_result<T>(self, result: &Result<T, ProviderError>) {
        match result {
            Ok(_) => self.record_success(),
            Err(e) => self.record_error(e),
        }
    }

    /// Records an already classified outcome.
    pub fn record(mut self, outcome: Outcome) {
        self.finish(outcome);
    }

    fn finish(&mut self, outcome: Outcome) {
        if self.done {
            return;
        }
        self.done = true;
        if self.store_probe {
            self.breaker.release_store_probe();
        }
        self.breaker
            .finish(self.generation, self.probe, self.admitted, outcome);
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        if !self.drop_counts {
            self.finish(Outcome::Ignored);
            return;
        }
        self.done = true;
        if self.store_probe {
            self.breaker.release_store_probe();
        }
        self.breaker
            .finish_dropped(self.generation, self.probe, self.admitted);
    }
}

/// A closed-state call admitted by borrowing the breaker: what the layer's
/// `complete` uses, so the healthy path touches no reference count. Same
/// contract as [`Permit`]: report once, or drop to ignore.
#[derive(Debug)]
pub(crate) struct ClosedCall<'a> {
    breaker: &'a CircuitBreaker,
    generation: u64,
    admitted: Option<Instant>,
    done: bool,
}

impl<'a> ClosedCall<'a> {
    pub(crate) fn new(
        breaker: &'a CircuitBreaker,
        (generation, admitted): (u64, Option<Instant>),
    ) -> Self {
        Self {
            breaker,
            generation,
            admitted,
            done: false,
        }
    }

    pub(crate) fn record_result<T>(mut self, result: &Result<T, ProviderError>) {
        let outcome = self.breaker.config().policy.classify(result);
        self.done = true;
        self.breaker
            .finish(self.generation, false, self.admitted, outcome);
    }
}

impl Drop for ClosedCall<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.breaker
                .finish_dropped(self.generation, false, self.admitted);
        }
    }
}
