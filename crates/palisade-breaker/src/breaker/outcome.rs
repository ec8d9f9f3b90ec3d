//! Counting finished calls, and the transitions they cause: trips, probe
//! verdicts, opening for the next duration, closing.

use std::sync::atomic::Ordering;
use std::time::Duration;

use palisade_core::{ErrorKind, ProviderError};
use tokio::time::Instant;

use super::{CircuitBreaker, Guarded};
use crate::events::{StateChange, TransitionReason};
use crate::open_duration;
use crate::policy::Outcome;
use crate::state::{BreakerState, StateWord};
use crate::store::Transition;
use crate::window::{Sample, WindowCounts};

impl CircuitBreaker {
    /// Counts a finished call. Called once per [`Permit`].
    pub(crate) fn finish(
        &self,
        generation: u64,
        probe: bool,
        admitted: Option<Instant>,
        outcome: Outcome,
    ) {
        let inner = &*self.inner;
        let needs_now = inner.window.needs_clock()
            || (inner.slow_after.is_some() && admitted.is_some())
            || matches!(
                outcome,
                Outcome::Failure {
                    retry_after: Some(_),
                    ..
                }
            );
        let now = needs_now.then(Instant::now);
        let slow = match (inner.slow_after, admitted, now) {
            (Some(limit), Some(at), Some(now)) => now.saturating_duration_since(at) >= limit,
            _ => false,
        };
        if probe {
            self.finish_probe(generation, outcome, slow, now);
            return;
        }
        let word = self.word();
        if word != StateWord::new(BreakerState::Closed, generation) {
            // Admitted before the last transition: it must not vote on the
            // state that followed.
            return;
        }
        match outcome {
            Outcome::Ignored => {}
            Outcome::Success => {
                if inner.consecutive_failures.load(Ordering::Relaxed) != 0 {
                    inner.consecutive_failures.store(0, Ordering::Relaxed);
                }
                inner.window.record(
                    Sample {
                        failed: false,
                        slow,
                    },
                    now,
                );
                if slow {
                    self.check_trip(word, 0, now);
                }
            }
            Outcome::Failure { kind, retry_after } => {
                self.note_failure(kind, retry_after, now);
                let run = inner
                    .consecutive_failures
                    .fetch_add(1, Ordering::Relaxed)
                    .saturating_add(1);
                inner.window.record(Sample { failed: true, slow }, now);
                self.check_trip(word, run, now);
            }
        }
    }

    /// Counts a call dropped before it reported: a `Timeout` failure once it
    /// ran `count_dropped_calls_after`, otherwise ignored.
    pub(crate) fn finish_dropped(&self, generation: u64, probe: bool, admitted: Option<Instant>) {
        let outcome = match (self.inner.dropped_after, admitted) {
            (Some(limit), Some(at)) if at.elapsed() >= limit => {
                let timeout = ProviderError::new(ErrorKind::Timeout, "dropped by its caller");
                self.inner.config.policy.classify_error(&timeout)
            }
            _ => Outcome::Ignored,
        };
        self.finish(generation, probe, admitted, outcome);
    }

    fn note_failure(&self, kind: ErrorKind, retry_after: Option<Duration>, now: Option<Instant>) {
        let inner = &*self.inner;
        if let Some(i) = ErrorKind::ALL.iter().position(|k| *k == kind) {
            inner.last_error.store(i as u8 + 1, Ordering::Relaxed);
        }
        if let (Some(wait), Some(now), true) = (retry_after, now, inner.config.honor_retry_after) {
            let deadline = now
                .saturating_duration_since(inner.origin)
                .saturating_add(wait);
            let nanos = u64::try_from(deadline.as_nanos())
                .unwrap_or(u64::MAX)
                .max(1);
            inner.retry_not_before.fetch_max(nanos, Ordering::Relaxed);
        }
    }

    fn check_trip(&self, word: StateWord, run: u32, now: Option<Instant>) {
        let config = &self.inner.config;
        let reason = if config
            .consecutive_failures
            .is_some_and(|limit| run >= limit)
        {
            Some(TransitionReason::ConsecutiveFailures { count: run })
        } else {
            self.rate_trip(self.inner.window.counts(now))
        };
        if let Some(reason) = reason {
            self.trip(word, reason, now.unwrap_or_else(Instant::now));
        }
    }

    fn rate_trip(&self, counts: WindowCounts) -> Option<TransitionReason> {
        let config = &self.inner.config;
        if counts.calls < config.minimum_calls {
            return None;
        }
        // Compare `part × 100 ≥ threshold × calls` rather than a divided rate,
        // so a threshold is met exactly at its call, never one call off.
        let reached = |part: u32, threshold: Option<f64>| {
            threshold.is_some_and(|t| f64::from(part) * 100.0 >= t * f64::from(counts.calls))
        };
        if reached(counts.failures, config.failure_rate_threshold) {
            return Some(TransitionReason::FailureRate {
                rate: counts.failure_rate().unwrap_or(0.0),
                calls: counts.calls,
            });
        }
        if reached(counts.slow, config.slow_call_rate_threshold) {
            return Some(TransitionReason::SlowCallRate {
                rate: counts.slow_rate().unwrap_or(0.0),
                calls: counts.calls,
            });
        }
        None
    }

    #[cold]
    fn trip(&self, expected: StateWord, reason: TransitionReason, now: Instant) {
        let change = {
            let mut g = self.lock();
            // Another thread may have tripped (or reset) it meanwhile.
            (self.word() == expected).then(|| self.open(&mut g, BreakerState::Closed, reason, now))
        };
        self.emit(change);
    }

    fn finish_probe(&self, generation: u64, outcome: Outcome, slow: bool, now: Option<Instant>) {
        let change = {
            let mut g = self.lock();
            if self.word() != StateWord::new(BreakerState::HalfOpen, generation) {
                return;
            }
            g.probes_in_flight = g.probes_in_flight.saturating_sub(1);
            match outcome {
                Outcome::Ignored => None,
                Outcome::Success if !slow => {
                    g.probe_successes += 1;
                    let successes = g.probe_successes;
                    if successes >= self.inner.config.half_open.successes_to_close {
                        self.publish(Transition::Close);
                        self.close(&mut g, TransitionReason::ProbesSucceeded { successes })
                    } else {
                        None
                    }
                }
                Outcome::Success | Outcome::Failure { .. } => {
                    if let Outcome::Failure { kind, retry_after } = outcome {
                        self.note_failure(kind, retry_after, now);
                    }
                    let failures = &self.inner.consecutive_failures;
                    failures.fetch_add(1, Ordering::Relaxed);
                    let now = now.unwrap_or_else(Instant::now);
                    Some(self.open(
                        &mut g,
                        BreakerState::HalfOpen,
                        TransitionReason::ProbeFailed,
                        now,
                    ))
                }
            }
        };
        self.emit(change);
    }

    /// Opens the circuit for the next, longer duration. Lock held.
    fn open(
        &self,
        g: &mut Guarded,
        from: BreakerState,
        reason: TransitionReason,
        now: Instant,
    ) -> StateChange {
        let inner = &*self.inner;
        g.consecutive_opens = g.consecutive_opens.saturating_add(1);
        let failures = inner.consecutive_failures.load(Ordering::Relaxed);
        let mut open_for =
            inner
                .config
                .open_duration
                .jittered(g.consecutive_opens, failures, &mut g.rng);
        let not_before = inner.retry_not_before.swap(0, Ordering::Relaxed);
        if not_before != 0 {
            let deadline = open_duration::deadline(inner.origin, Duration::from_nanos(not_before));
            open_for = open_for.max(deadline.saturating_duration_since(now));
        }
        open_for = open_for.min(open_duration::LONGEST_WAIT);
        g.open_until = Some(now + open_for);
        g.probes_in_flight = 0;
        g.probe_successes = 0;
        inner.window.clear();
        self.publish(Transition::Open {
            open_for,
            consecutive_opens: g.consecutive_opens,
        });
        self.set_state(from, BreakerState::Open, reason, Some(open_for))
    }

    /// Closes the circuit and clears the counts. Lock held. `None` when it was
    /// already closed (the counts are cleared all the same).
    pub(super) fn close(&self, g: &mut Guarded, reason: TransitionReason) -> Option<StateChange> {
        let inner = &*self.inner;
        g.open_until = None;
        g.consecutive_opens = 0;
        g.probes_in_flight = 0;
        g.probe_successes = 0;
        inner.window.clear();
        inner.consecutive_failures.store(0, Ordering::Relaxed);
        inner.retry_not_before.store(0, Ordering::Relaxed);
        let from = self.word().state();
        if from == BreakerState::Closed {
            return None;
        }
        Some(self.set_state(from, BreakerState::Closed, reason, None))
    }
}
