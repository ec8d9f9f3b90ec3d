//! The circuit breaker state machine.
//!
//! Two halves with different costs:
//! - the **closed fast path** — admitting a call and counting its outcome —
//!   touches only atomics: one load of the state word to admit, a few relaxed
//!   read-modify-writes to count (see [`crate::window`]);
//! - every **transition** (trip, half-open, probe verdicts, close, isolate,
//!   reset) runs under one mutex, so the state word, the open deadline and the
//!   probe counts always change together. The state word is only ever written
//!   under that mutex.

use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use palisade_core::{ErrorKind, ProviderId, Readiness};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::time::Instant;

use crate::config::{BreakerConfig, ConfigError};
use crate::events::{self, StateChange, StateListener, TransitionReason};
use crate::layer::BreakerOpen;
use crate::open_duration;
use crate::permit::Permit;
use crate::policy::Outcome;
use crate::registry::HealthSnapshot;
use crate::state::{BreakerState, StateWord};
use crate::store::{
    BreakerStore, ISOLATED_RETRY_AFTER, ProbeGrant, SharedState, StoreError, Transition,
};
use crate::window::{Sample, Window, WindowCounts};

/// A circuit breaker for one provider.
///
/// Cheap to clone: clones share one state. Admit a call with
/// [`try_acquire`](Self::try_acquire) (or [`acquire`](Self::acquire) when a
/// shared [`BreakerStore`] is configured), then report how it ended on the
/// [`Permit`]. [`CircuitBreakerLayer`](crate::CircuitBreakerLayer) does both
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
    /// The slow-call threshold, when the slow-call condition is on (only then
    /// does admission read the clock).
    slow_after: Option<Duration>,
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

/// Builds a [`CircuitBreaker`] with a listener, a store or a jitter seed.
#[must_use]
pub struct CircuitBreakerBuilder {
    id: ProviderId,
    config: BreakerConfig,
    listener: Option<StateListener>,
    store: Option<Arc<dyn BreakerStore>>,
    seed: Option<u64>,
}

impl std::fmt::Debug for CircuitBreakerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CircuitBreakerBuilder")
            .field("id", &self.id)
            .field("config", &self.config)
            .field("listener", &self.listener.is_some())
            .field("store", &self.store)
            .field("seed", &self.seed)
            .finish()
    }
}

impl CircuitBreakerBuilder {
    /// The configuration (default: [`BreakerConfig::default`]).
    pub fn config(mut self, config: BreakerConfig) -> Self {
        self.config = config;
        self
    }

    /// Calls `listener` on every state change (see [`StateListener`]).
    pub fn on_state_change(
        mut self,
        listener: impl Fn(&StateChange) + Send + Sync + 'static,
    ) -> Self {
        self.listener = Some(Arc::new(listener));
        self
    }

    /// Shares decisions through `store` (see [`crate::store`]).
    pub fn store(mut self, store: Arc<dyn BreakerStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Seeds the jitter's random generator, for reproducible open durations.
    pub fn jitter_seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Validates the configuration and builds the breaker.
    pub fn build(self) -> Result<CircuitBreaker, ConfigError> {
        self.config.validate()?;
        Ok(self.build_validated())
    }

    /// Builds from a configuration that has passed `validate`.
    pub(crate) fn build_validated(self) -> CircuitBreaker {
        let origin = Instant::now();
        let rng = match self.seed {
            Some(seed) => SmallRng::seed_from_u64(seed),
            None => SmallRng::from_os_rng(),
        };
        let slow_after = self
            .config
            .slow_call_rate_threshold
            .map(|_| self.config.slow_call_duration);
        CircuitBreaker {
            inner: Arc::new(Inner {
                window: Window::new(self.config.window, origin),
                id: self.id,
                word: AtomicU64::new(StateWord::new(BreakerState::Closed, 0).0),
                consecutive_failures: AtomicU32::new(0),
                slow_after,
                origin,
                last_error: AtomicU8::new(0),
                retry_not_before: AtomicU64::new(0),
                publishing: AtomicU32::new(0),
                guarded: Mutex::new(Guarded {
                    open_until: None,
                    consecutive_opens: 0,
                    probes_in_flight: 0,
                    probe_successes: 0,
                    rng,
                }),
                listener: self.listener,
                store: self.store,
                config: self.config,
            }),
        }
    }
}

impl CircuitBreaker {
    /// A breaker for `provider` with `config`.
    pub fn new(
        provider: impl Into<ProviderId>,
        config: BreakerConfig,
    ) -> Result<Self, ConfigError> {
        Self::builder(provider).config(config).build()
    }

    /// A builder for a breaker for `provider`.
    pub fn builder(provider: impl Into<ProviderId>) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder {
            id: provider.into(),
            config: BreakerConfig::default(),
            listener: None,
            store: None,
            seed: None,
        }
    }

    /// The provider this breaker guards.
    pub fn id(&self) -> &ProviderId {
        &self.inner.id
    }

    /// The configuration.
    pub fn config(&self) -> &BreakerConfig {
        &self.inner.config
    }

    /// Admits a call, or refuses it with the time until the circuit lets a
    /// probe through. Local state only: never waits, never calls the store.
    ///
    /// In the closed state this is one atomic load (plus a clock read when
    /// the slow-call condition is on).
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit, BreakerOpen> {
        let word = self.word();
        if word.state() == BreakerState::Closed {
            return Ok(Permit::new(
                self.clone(),
                word.generation(),
                false,
                self.admission_time(),
            ));
        }
        self.acquire_slow()
    }

    /// The closed fast path without a permit (and so without touching the
    /// shared reference count): the generation and admission time of a
    /// closed-state call, or `None` when the circuit is not closed.
    #[inline]
    pub(crate) fn admit_closed(&self) -> Option<(u64, Option<Instant>)> {
        let word = self.word();
        (word.state() == BreakerState::Closed).then(|| (word.generation(), self.admission_time()))
    }

    /// Like [`try_acquire`](Self::try_acquire), and with a shared store a
    /// half-open probe also needs a fleet-wide probe slot. In the closed state
    /// it completes without awaiting anything. A store error falls back to the
    /// local decision.
    pub async fn acquire(&self) -> Result<Permit, BreakerOpen> {
        let mut permit = self.try_acquire()?;
        let Some(store) = self.inner.store.as_ref().filter(|_| permit.is_probe()) else {
            return Ok(permit);
        };
        let half_open = &self.inner.config.half_open;
        match store
            .try_acquire_probe(&self.inner.id, half_open.max_probes, half_open.probe_lease)
            .await
        {
            Ok(ProbeGrant::Granted) => {
                permit.hold_store_probe();
                Ok(permit)
            }
            Ok(ProbeGrant::Busy) => {
                Err(self.refusal(BreakerState::HalfOpen, half_open.busy_retry_after))
            }
            Ok(ProbeGrant::Open { retry_after }) => {
                drop(permit);
                self.adopt(SharedState {
                    state: BreakerState::Open,
                    retry_after: Some(retry_after),
                    consecutive_opens: 0,
                    probes_in_flight: 0,
                });
                Err(self.refusal(BreakerState::Open, retry_after))
            }
            Ok(ProbeGrant::Isolated) => {
                drop(permit);
                self.adopt(SharedState {
                    state: BreakerState::Isolated,
                    retry_after: Some(ISOLATED_RETRY_AFTER),
                    consecutive_opens: 0,
                    probes_in_flight: 0,
                });
                Err(self.refusal(BreakerState::Isolated, ISOLATED_RETRY_AFTER))
            }
            Ok(ProbeGrant::Closed) => {
                // Another instance closed the circuit: this probe's generation
                // ends here, and the call goes through as a closed-state call.
                drop(permit);
                self.adopt(SharedState {
                    state: BreakerState::Closed,
                    retry_after: None,
                    consecutive_opens: 0,
                    probes_in_flight: 0,
                });
                self.try_acquire()
            }
            Err(error) => {
                tracing::warn!(
                    target: "palisade_breaker",
                    provider = %self.inner.id,
                    %error,
                    "breaker store unreachable; probing on local state"
                );
                Ok(permit)
            }
        }
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

    /// Reads the fleet's state from the store and adopts it where it is
    /// stricter than the local one (another instance opened or isolated the
    /// circuit) or ends a local half-open or isolation (another instance
    /// closed or reset it). Without a store, does nothing.
    pub async fn sync_from_store(&self) -> Result<(), StoreError> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        if let Some(shared) = store.load(&self.inner.id).await?
            && self.inner.publishing.load(Ordering::Acquire) == 0
        {
            self.adopt(shared);
        }
        Ok(())
    }

    /// Spawns a task that calls [`sync_from_store`](Self::sync_from_store)
    /// every `period` for as long as a clone of this breaker lives. `None`
    /// without a store or outside a tokio runtime.
    pub fn spawn_store_sync(&self, period: Duration) -> Option<tokio::task::JoinHandle<()>> {
        self.inner.store.as_ref()?;
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        Some(handle.spawn(async move {
            let mut tick = tokio::time::interval(period.max(Duration::from_millis(1)));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let breaker = CircuitBreaker { inner };
                if let Err(error) = breaker.sync_from_store().await {
                    tracing::warn!(target: "palisade_breaker", provider = %breaker.inner.id, %error, "breaker store sync failed");
                }
            }
        }))
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
        self.inner.slow_after.map(|_| Instant::now())
    }

    fn refusal(&self, state: BreakerState, retry_after: Duration) -> BreakerOpen {
        BreakerOpen {
            provider: self.inner.id.clone(),
            state,
            retry_after,
        }
    }

    #[cold]
    fn acquire_slow(&self) -> Result<Permit, BreakerOpen> {
        let now = Instant::now();
        let mut change = None;
        let result = {
            let mut g = self.lock();
            let word = self.word();
            match word.state() {
                BreakerState::Closed => Ok(Permit::new(
                    self.clone(),
                    word.generation(),
                    false,
                    self.admission_time(),
                )),
                BreakerState::Isolated => {
                    Err(self.refusal(BreakerState::Isolated, ISOLATED_RETRY_AFTER))
                }
                BreakerState::Open => match g.open_until {
                    Some(until) if until > now => {
                        Err(self.refusal(BreakerState::Open, until - now))
                    }
                    _ => {
                        g.probes_in_flight = 0;
                        g.probe_successes = 0;
                        change = Some(self.set_state(
                            BreakerState::Open,
                            BreakerState::HalfOpen,
                            TransitionReason::OpenElapsed,
                            None,
                        ));
                        self.admit_probe(&mut g, now)
                    }
                },
                BreakerState::HalfOpen => self.admit_probe(&mut g, now),
            }
        };
        self.emit(change);
        result
    }

    fn admit_probe(&self, g: &mut Guarded, now: Instant) -> Result<Permit, BreakerOpen> {
        let half_open = &self.inner.config.half_open;
        if g.probes_in_flight < half_open.max_probes {
            g.probes_in_flight += 1;
            let admitted = self.inner.slow_after.map(|_| now);
            Ok(Permit::new(
                self.clone(),
                self.word().generation(),
                true,
                admitted,
            ))
        } else {
            Err(self.refusal(BreakerState::HalfOpen, half_open.busy_retry_after))
        }
    }

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
            || admitted.is_some()
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
    fn close(&self, g: &mut Guarded, reason: TransitionReason) -> Option<StateChange> {
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

    /// Adopts the fleet's state where it should win (see `sync_from_store`).
    fn adopt(&self, shared: SharedState) {
        let now = Instant::now();
        let change = {
            let mut g = self.lock();
            let from = self.word().state();
            match (shared.state, from) {
                (BreakerState::Open, BreakerState::Open) => {
                    // Already open here: keep the later deadline, quietly.
                    let until =
                        open_duration::deadline(now, shared.retry_after.unwrap_or(Duration::ZERO));
                    g.open_until = g.open_until.max(Some(until));
                    g.consecutive_opens = g.consecutive_opens.max(shared.consecutive_opens);
                    None
                }
                (BreakerState::Open, BreakerState::Closed | BreakerState::HalfOpen) => {
                    let until =
                        open_duration::deadline(now, shared.retry_after.unwrap_or(Duration::ZERO));
                    {
                        g.open_until = Some(until);
                        g.consecutive_opens = g.consecutive_opens.max(shared.consecutive_opens);
                        g.probes_in_flight = 0;
                        g.probe_successes = 0;
                        self.inner.window.clear();
                        let open_for = shared.retry_after;
                        Some(self.set_state(
                            from,
                            BreakerState::Open,
                            TransitionReason::Shared,
                            open_for,
                        ))
                    }
                }
                (BreakerState::Isolated, f) if f != BreakerState::Isolated => {
                    g.open_until = None;
                    g.probes_in_flight = 0;
                    Some(self.set_state(
                        from,
                        BreakerState::Isolated,
                        TransitionReason::Shared,
                        None,
                    ))
                }
                // A local `Open` is not ended by a shared `Closed`: the fleet may
                // simply not have seen this instance's trip yet. It probes the
                // store when its own deadline passes and closes then.
                (BreakerState::Closed, BreakerState::HalfOpen | BreakerState::Isolated) => {
                    self.close(&mut g, TransitionReason::Shared)
                }
                _ => None,
            }
        };
        self.emit(change);
    }

    /// Publishes a decision to the store, if any, without waiting (the caller
    /// may hold the lock, or be in `Drop`).
    fn publish(&self, transition: Transition) {
        let Some(store) = self.inner.store.clone() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "palisade_breaker", provider = %self.inner.id, ?transition, "no tokio runtime: breaker decision not shared");
            return;
        };
        self.inner.publishing.fetch_add(1, Ordering::AcqRel);
        let breaker = self.clone();
        handle.spawn(async move {
            let result = store.apply(&breaker.inner.id, transition).await;
            breaker.inner.publishing.fetch_sub(1, Ordering::AcqRel);
            match result {
                // The fleet may hold a later deadline (or an isolation) than ours.
                Ok(shared) => breaker.adopt(shared),
                Err(error) => tracing::warn!(target: "palisade_breaker", provider = %breaker.inner.id, ?transition, %error, "breaker store publish failed"),
            }
        });
    }

    /// Returns a fleet-wide probe slot, without waiting.
    pub(crate) fn release_store_probe(&self) {
        let (Some(store), Ok(handle)) = (
            self.inner.store.clone(),
            tokio::runtime::Handle::try_current(),
        ) else {
            // Without a runtime the slot's lease expires on its own.
            return;
        };
        let id = self.inner.id.clone();
        handle.spawn(async move {
            if let Err(error) = store.release_probe(&id).await {
                tracing::warn!(target: "palisade_breaker", provider = %id, %error, "breaker store probe release failed; the lease will expire");
            }
        });
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
