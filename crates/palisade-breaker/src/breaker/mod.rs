//! The circuit breaker state machine: its state and manual controls here;
//! admitting calls (handing out [`Permit`](crate::Permit)s) in `admission`;
//! counting outcomes and the transitions they cause in `outcome`; sharing with
//! a fleet in `fleet`; construction in `builder`.
//!
//! The submodules add `impl CircuitBreaker` blocks and import from this
//! module, never the other way (one type's methods still call each other
//! across the files). That keeps the imports a hierarchy: the permit, which
//! reports back to the breaker, sits between the state here and the
//! admission that creates it.
//!
//! Two halves with different costs:
//! - the **closed fast path** — admitting a call and counting its outcome —
//!   touches only atomics: one load of the state word to admit, a few loads
//!   (and, unless the window is all successes, one `fetch_add`) to count a
//!   success (see [`crate::window`]);
//! - every **transition** (trip, half-open, probe verdicts, close, isolate,
//!   reset) runs under one mutex, so the state word, the open deadline and the
//!   probe counts always change together. The state word is only ever written
//!   under that mutex.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use palisade_core::{ErrorKind, ProviderId, Readiness};
use rand::rngs::SmallRng;
use tokio::time::Instant;

use crate::config::BreakerConfig;
use crate::error::BreakerOpen;
use crate::events::{self, StateChange, StateListener, TransitionReason};
use crate::snapshot::HealthSnapshot;
use crate::state::{BreakerState, StateWord};
use crate::store::{BreakerStore, ISOLATED_RETRY_AFTER, Transition};
use crate::window::Window;

mod admission;
mod builder;
mod fleet;
mod outcome;

pub use builder::CircuitBreakerBuilder;

/// A circuit breaker for one provider.
///
/// Cheap to clone: clones share one state. Admit a call with
/// [`try_acquire`](Self::try_acquire) (or [`acquire`](Self::acquire) when a
/// shared [`BreakerStore`] is configured), then report how it ended on the
/// [`Permit`](crate::Permit). [`CircuitBreakerLayer`](crate::CircuitBreakerLayer) does both
/// around a [`Provider`](palisade_core::Provider).
///
/// The transition from `Open` to `HalfOpen` happens lazily, on the first
/// admission after the open duration; [`state`](Self::state) and
/// [`readiness`](Self::readiness) already report the effective state.
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

struct Inner {
    id: ProviderId,
    config: BreakerConfig,
    /// [`StateWord`]: state and generation.
    word: AtomicU64,
    consecutive_failures: AtomicU32,
    window: Window,
    /// The slow-call threshold, when the slow-call condition is on. Admission
    /// reads the clock only when this or `dropped_after` is set.
    slow_after: Option<Duration>,
    /// `count_dropped_calls_after`.
    dropped_after: Option<Duration>,
    origin: Instant,
    /// `1 + index in ErrorKind::ALL` of the last counted failure, 0 for none.
    last_error: AtomicU8,
    /// The latest Retry-After deadline of a counted failure, in nanoseconds
    /// since `origin` (0: none).
    retry_not_before: AtomicU64,
    /// Store publications still in flight; a sync does not adopt an older
    /// shared state over a decision not yet published.
    publishing: AtomicU32,
    guarded: Mutex<Guarded>,
    listener: Option<StateListener>,
    store: Option<Arc<dyn BreakerStore>>,
}

/// The state that only changes with a transition.
struct Guarded {
    open_until: Option<Instant>,
    consecutive_opens: u32,
    probes_in_flight: u32,
    probe_successes: u32,
    rng: SmallRng,
}

impl CircuitBreaker {
    /// The provider this breaker guards.
    pub fn id(&self) -> &ProviderId {
        &self.inner.id
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.inner.config
    }

    /// The closed fast path without a permit (and so without touching the
    /// shared reference count): the generation and admission time of a
    /// closed-state call, or `None` when the circuit is not closed.
    #[inline]
    pub(crate) fn admit_closed(&self) -> Option<(u64, Option<Instant>)> {
        let word = self.word();
        (word.state() == BreakerState::Closed).then(|| (word.generation(), self.admission_time()))
    }

    /// The effective state: `HalfOpen` once an open duration has elapsed,
    /// even before the next admission makes the transition.
    pub fn state(&self) -> BreakerState {
        let state = self.word().state();
        if state != BreakerState::Open {
            return state;
        }
        let g = self.lock();
        match (self.word().state(), g.open_until) {
            (BreakerState::Open, Some(until)) if until <= Instant::now() => BreakerState::HalfOpen,
            (state, _) => state,
        }
    }

    /// Whether a call would be admitted now, in the terms routing uses: the
    /// time until half-open while open, `busy_retry_after` while every probe
    /// slot is taken, [`ISOLATED_RETRY_AFTER`] while isolated.
    pub fn readiness(&self) -> Readiness {
        if self.word().state() == BreakerState::Closed {
            return Readiness::Ready;
        }
        let g = self.lock();
        let now = Instant::now();
        let unavailable = |retry_after| Readiness::Unavailable { retry_after };
        match self.word().state() {
            BreakerState::Closed => Readiness::Ready,
            BreakerState::Isolated => unavailable(ISOLATED_RETRY_AFTER),
            BreakerState::Open => match g.open_until {
                Some(until) if until > now => unavailable(until - now),
                _ => Readiness::Ready,
            },
            BreakerState::HalfOpen
                if g.probes_in_flight < self.inner.config.half_open.max_probes =>
            {
                Readiness::Ready
            }
            BreakerState::HalfOpen => unavailable(self.inner.config.half_open.busy_retry_after),
        }
    }

    /// [`readiness`](Self::readiness) as an
    /// [`ExpectedWait`](palisade_core::ExpectedWait), naming why: `"breaker_open"`
    /// (until half-open), `"breaker_probing"` (every probe slot taken) or
    /// `"breaker_isolated"`.
    pub fn expected_wait(&self) -> palisade_core::ExpectedWait {
        use palisade_core::ExpectedWait;
        let Readiness::Unavailable { retry_after } = self.readiness() else {
            return ExpectedWait::NOW;
        };
        let reason = match self.word().state() {
            BreakerState::Isolated => "breaker_isolated",
            BreakerState::HalfOpen => "breaker_probing",
            _ => "breaker_open",
        };
        ExpectedWait::after(retry_after, reason)
    }

    /// Forces the circuit open until [`reset`](Self::reset); published to the
    /// store, if any.
    pub fn isolate(&self) {
        let change = {
            let mut g = self.lock();
            let from = self.word().state();
            if from == BreakerState::Isolated {
                None
            } else {
                g.open_until = None;
                g.probes_in_flight = 0;
                g.probe_successes = 0;
                self.publish(Transition::Isolate);
                Some(self.set_state(
                    from,
                    BreakerState::Isolated,
                    TransitionReason::Isolated,
                    None,
                ))
            }
        };
        self.emit(change);
    }

    /// Closes the circuit and clears every count (window, runs, growing open
    /// durations); published to the store, if any. Calls in flight when it
    /// resets are not counted when they finish. The last error kind is kept
    /// for diagnosis.
    pub fn reset(&self) {
        let change = {
            let mut g = self.lock();
            self.publish(Transition::Reset);
            let change = self.close(&mut g, TransitionReason::Reset);
            if change.is_none() {
                // Already closed: a new generation all the same, so calls
                // admitted before the reset do not vote after it.
                let next = self.word().next(BreakerState::Closed);
                self.inner.word.store(next.0, Ordering::Release);
            }
            change
        };
        self.emit(change);
    }

    /// A serializable view for a health endpoint.
    pub fn snapshot(&self) -> HealthSnapshot {
        let now = Instant::now();
        let (open_until, consecutive_opens, probes_in_flight) = {
            let g = self.lock();
            (g.open_until, g.consecutive_opens, g.probes_in_flight)
        };
        let state = self.state();
        let counts = self.inner.window.counts(Some(now));
        let retry_after = match state {
            BreakerState::Open => open_until.map(|t| t.saturating_duration_since(now)),
            BreakerState::Isolated => Some(ISOLATED_RETRY_AFTER),
            _ => None,
        };
        HealthSnapshot {
            provider: self.inner.id.clone(),
            state,
            calls: counts.calls,
            failures: counts.failures,
            slow_calls: counts.slow,
            failure_rate: counts.failure_rate(),
            slow_call_rate: counts.slow_rate(),
            consecutive_failures: self.inner.consecutive_failures.load(Ordering::Relaxed),
            consecutive_opens,
            probes_in_flight,
            retry_after_ms: retry_after.map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            last_error_kind: self.last_error_kind(),
        }
    }

    /// The kind of the last counted failure, if any.
    pub fn last_error_kind(&self) -> Option<ErrorKind> {
        let index = self.inner.last_error.load(Ordering::Relaxed);
        usize::from(index)
            .checked_sub(1)
            .and_then(|i| ErrorKind::ALL.get(i).copied())
    }

    // ---- internals -------------------------------------------------------

    fn word(&self) -> StateWord {
        StateWord(self.inner.word.load(Ordering::Acquire))
    }

    fn lock(&self) -> MutexGuard<'_, Guarded> {
        // The guarded fields are consistent after every statement that
        // changes them, so a poisoned lock (a panicking listener elsewhere)
        // holds a usable state.
        self.inner.guarded.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn admission_time(&self) -> Option<Instant> {
        self.needs_admission_time().then(Instant::now)
    }

    fn needs_admission_time(&self) -> bool {
        self.inner.slow_after.is_some() || self.inner.dropped_after.is_some()
    }

    fn refusal(&self, state: BreakerState, retry_after: Duration) -> BreakerOpen {
        BreakerOpen {
            provider: self.inner.id.clone(),
            state,
            retry_after,
        }
    }

    /// Moves to `to` in a new generation. Lock held.
    fn set_state(
        &self,
        from: BreakerState,
        to: BreakerState,
        reason: TransitionReason,
        open_for: Option<Duration>,
    ) -> StateChange {
        let next = self.word().next(to);
        self.inner.word.store(next.0, Ordering::Release);
        StateChange {
            provider: self.inner.id.clone(),
            from,
            to,
            reason,
            open_for,
        }
    }

    /// Traces and reports a change; the lock must be released.
    fn emit(&self, change: Option<StateChange>) {
        if let Some(change) = change {
            events::trace(&change);
            if let Some(listener) = &self.inner.listener {
                listener(&change);
            }
        }
    }
}

impl std::fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("provider", &self.inner.id)
            .field("state", &self.word().state())
            .field(
                "consecutive_failures",
                &self.inner.consecutive_failures.load(Ordering::Relaxed),
            )
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}
