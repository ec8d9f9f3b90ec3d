//! Retry with backoff, Retry-After, a time limit and a retry budget.
//!
//! [`Retry`] wraps one provider; [`RetryLayer`] builds it. Every retry and
//! every decision to stop is a `tracing` event (target `palisade_stack::retry`).
//! Streams are retried only before their first event.

mod backoff;
mod budget;
mod layer;
mod policy;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, ProviderId,
    Readiness, async_trait,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

pub use backoff::{Backoff, Jitter};
pub use budget::{RetryBudget, RetryBudgetConfig};
pub use layer::RetryLayer;
pub use policy::RetryPolicy;

use crate::first_event::first_event;

/// A provider that retries failed calls of the provider it wraps.
#[derive(Debug, Clone)]
pub struct Retry<P> {
    inner: P,
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) policy: RetryPolicy,
    pub(crate) budget: RetryBudget,
    pub(crate) counters: Counters,
    /// Seeded jitter source, when the layer was given a seed; otherwise the
    /// thread-local OS-seeded generator is used.
    pub(crate) jitter_rng: Option<Mutex<StdRng>>,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    exhausted: AtomicU64,
    budget_exhausted: AtomicU64,
    out_of_time: AtomicU64,
    deferred: AtomicU64,
}

/// What a [`Retry`] has done since it was built (or reset).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryStats {
    /// Calls received (first attempts).
    pub requests: u64,
    /// Retries sent (attempts after the first).
    pub retries: u64,
    /// Calls that failed after using every attempt.
    pub exhausted: u64,
    /// Retries refused because the retry budget was spent.
    pub budget_exhausted: u64,
    /// Retries not started because the time limit or deadline came first.
    pub out_of_time: u64,
    /// Errors handed to the fallback at once because another candidate was ready.
    pub deferred: u64,
}

/// Why a retry loop stopped with an error.
#[derive(Debug, Clone, Copy)]
enum GiveUp {
    NotRetryable,
    Exhausted,
    Deferred,
    OutOfTime,
    BudgetSpent,
}

impl GiveUp {
    fn as_str(self) -> &'static str {
        match self {
            GiveUp::NotRetryable => "not retryable",
            GiveUp::Exhausted => "attempts exhausted",
            GiveUp::Deferred => "deferred to fallback",
            GiveUp::OutOfTime => "time limit or deadline",
            GiveUp::BudgetSpent => "retry budget spent",
        }
    }
}

impl<P> Retry<P> {
    /// Wraps `inner` with `policy` and a retry budget of its own.
    pub fn new(inner: P, policy: RetryPolicy) -> Self {
        RetryLayer::new(policy).wrap(inner)
    }

    pub(crate) fn from_shared(inner: P, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.shared.policy
    }

    /// The retry budget (shared with the layer's other providers).
    pub fn budget(&self) -> &RetryBudget {
        &self.shared.budget
    }

    /// Counters since creation.
    pub fn stats(&self) -> RetryStats {
        self.shared.stats()
    }
}

impl Shared {
    pub(crate) fn new(policy: RetryPolicy, seed: Option<u64>) -> Self {
        let budget = RetryBudget::new(policy.budget.clone());
        Self {
            policy,
            budget,
            counters: Counters::default(),
            jitter_rng: seed.map(|seed| Mutex::new(StdRng::seed_from_u64(seed))),
        }
    }

    /// The backoff before retry `attempt`, drawn from the seeded generator
    /// when there is one.
    fn backoff(&self, attempt: u32, previous: Duration) -> Duration {
        let backoff = &self.policy.backoff;
        match &self.jitter_rng {
            // A poisoned lock only means another caller panicked mid-draw;
            // the generator state is still a valid generator state.
            Some(rng) => {
                let mut rng = rng.lock().unwrap_or_else(PoisonError::into_inner);
                backoff.delay(attempt, previous, &mut *rng)
            }
            None => backoff.delay(attempt, previous, &mut rand::rng()),
        }
    }

    pub(crate) fn stats(&self) -> RetryStats {
        let c = &self.counters;
        RetryStats {
            requests: c.requests.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            exhausted: c.exhausted.load(Ordering::Relaxed),
            budget_exhausted: c.budget_exhausted.load(Ordering::Relaxed),
            out_of_time: c.out_of_time.load(Ordering::Relaxed),
            deferred: c.deferred.load(Ordering::Relaxed),
        }
    }

    /// Runs `call` until it succeeds or the policy says stop.
    async fn run<T, F, Fut>(
        &self,
        id: &ProviderId,
        req: ChatRequest,
        call: F,
    ) -> Result<T, ProviderError>
    where
        F: Fn(ChatRequest) -> Fut,
        Fut: Future<Output = Result<T, ProviderError>>,
    {
        let started = Instant::now();
        let deadline = req.metadata.deadline;
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        self.budget.deposit_at(started);
        let mut previous_delay = self.policy.backoff.base;
        let mut attempt: u32 = 1;
        loop {
            // The last permitted attempt takes the request itself; earlier
            // ones a copy, since a retry must send it again.
            let last = attempt >= self.policy.max_attempts;
            let result = if last {
                return call(req).await.inspect_err(|e| {
                    if e.is_retryable() {
                        self.give_up(id, e, attempt, GiveUp::Exhausted);
                    }
                });
            } else {
                call(req.clone()).await
            };
            let error = match result {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            match self.next_delay(&error, attempt, started, deadline, &mut previous_delay) {
                Ok(delay) => {
                    self.counters.retries.fetch_add(1, Ordering::Relaxed);
                    crate::telemetry::retried(id, attempt, delay, &error);
                    if !delay.is_zero() {
                        // Boxed: only retries sleep, so the common future stays small.
                        Box::pin(tokio::time::sleep(delay)).await;
                    }
                    attempt += 1;
                }
                Err(reason) => {
                    self.give_up(id, &error, attempt, reason);
                    return Err(error);
                }
            }
        }
    }

    fn next_delay(
        &self,
        error: &ProviderError,
        attempt: u32,
        started: Instant,
        deadline: Option<Instant>,
        previous_delay: &mut Duration,
    ) -> Result<Duration, GiveUp> {
        if !error.is_retryable() {
            return Err(GiveUp::NotRetryable);
        }
        let moves_on = matches!(
            error.kind(),
            ErrorKind::Throttled | ErrorKind::Overloaded | ErrorKind::Unavailable
        );
        if self.policy.defer_to_fallback
            && moves_on
            && crate::fallback::context::alternative_ready()
        {
            return Err(GiveUp::Deferred);
        }
        let backoff = self.backoff(attempt, *previous_delay);
        // Never sooner than the provider asked.
        let delay = backoff.max(error.retry_after().unwrap_or_default());
        let resume = Instant::now() + delay;
        let past_limit = self
            .policy
            .max_total_time
            .is_some_and(|limit| resume > started + limit);
        if past_limit || deadline.is_some_and(|d| resume >= d) {
            return Err(GiveUp::OutOfTime);
        }
        if !self.budget.try_withdraw() {
            return Err(GiveUp::BudgetSpent);
        }
        *previous_delay = backoff;
        Ok(delay)
    }

    fn give_up(&self, id: &ProviderId, error: &ProviderError, attempt: u32, reason: GiveUp) {
        let counter = match reason {
            GiveUp::NotRetryable => None,
            GiveUp::Exhausted => Some(&self.counters.exhausted),
            GiveUp::Deferred => Some(&self.counters.deferred),
            GiveUp::OutOfTime => Some(&self.counters.out_of_time),
            GiveUp::BudgetSpent => Some(&self.counters.budget_exhausted),
        };
        if let Some(counter) = counter {
            counter.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                target: "palisade_stack::retry",
                attempt,
                gen_ai.request.model = %id,
                error.type = error.kind().as_str(),
                reason = reason.as_str(),
                "not retrying"
            );
        }
    }
}

#[async_trait]
impl<P: Provider> Provider for Retry<P> {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let id = self.inner.id();
        self.shared.run(id, req, |r| self.inner.complete(r)).await
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let id = self.inner.id();
        self.shared
            .run(id, req, |r| async {
                first_event(self.inner.stream(r).await).await
            })
            .await
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    fn expected_wait(&self, req: &ChatRequest) -> palisade_core::ExpectedWait {
        self.inner.expected_wait(req)
    }

    fn context_window(&self) -> Option<u32> {
        self.inner.context_window()
    }

    // Fallback skips a candidate by what its provider accepts; a layer
    // that hid it would make every candidate look able to serve anything.
    fn capabilities(&self) -> palisade_core::Capabilities {
        self.inner.capabilities()
    }
}
