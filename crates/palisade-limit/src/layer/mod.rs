//! [`RateLimit`]: a [`Provider`] that admits each call through limiters.
//!
//! Per call: estimate the input tokens (the request's own estimate, else the
//! estimator), price the reservation with the cost model, wait for permits
//! (priority and deadline from the request's metadata), call the inner
//! provider, then settle the permits from the reported usage. A stream holds
//! its permits until it ends and settles from its last usage event. A call
//! that succeeds without reporting usage keeps its reservation; one that
//! fails or is dropped before usage is known follows the limiter's
//! [`DropRule`](crate::DropRule). A `Throttled` error from the provider (not a
//! refusal by an inner limiter) is fed to the limiters (adaptive mode). The
//! provider's rate-limit headers, on a response, an error, a stream as it
//! opens ([`ChatStream::rate_limit`]) or a stream's error, calibrate the
//! limiters whether adaptive mode is on or not (see
//! [`Limiter::observe_rate_limit`](crate::Limiter::observe_rate_limit)).
//!
//! Keyed limiters (per user, per task type) join the call's set for
//! admission and settlement only: throttles and rate-limit headers describe
//! the provider's quota, not a user's, so only the fixed limiters hear them.

mod error;
mod latency;
// The tower shape every Palisade layer shares: `layer/layer.rs` holds the Layer.
#[allow(clippy::module_inception)]
mod layer;
mod settle;
mod stream;

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ExpectedWait, HeuristicEstimator, Provider,
    ProviderError, ProviderId, Readiness, TokenEstimator, Usage,
};

pub use layer::RateLimitLayer;
pub use stream::LimitedStream;

use self::error::is_provider_throttle;
use self::latency::CallLatency;
use self::settle::{Ending, settle};
use crate::cost::{Cost, CostModel};
use crate::keyed::KeyedLimiters;
use crate::set::{LimiterSet, PermitSet};

/// A provider whose calls are admitted by a [`LimiterSet`]. Built by
/// [`RateLimitLayer`] or [`RateLimit::new`].
#[derive(Clone)]
pub struct RateLimit<P> {
    inner: P,
    limiters: LimiterSet,
    keyed: Arc<[KeyedLimiters]>,
    estimator: Arc<dyn TokenEstimator>,
    cost_model: Option<Arc<dyn CostModel>>,
    /// Time from admission to the answer, for routers (see `latency.rs`).
    latency: Arc<CallLatency>,
}

impl<P: std::fmt::Debug> std::fmt::Debug for RateLimit<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit")
            .field("inner", &self.inner)
            .field("limiters", &self.limiters)
            .field("keyed", &self.keyed)
            .field("cost_model", &self.cost_model)
            .finish_non_exhaustive()
    }
}

impl<P> RateLimit<P> {
    /// Wraps `inner` in `limiters`, with the heuristic estimator and each
    /// limiter's cost model.
    pub fn new(inner: P, limiters: impl Into<LimiterSet>) -> Self {
        Self {
            inner,
            limiters: limiters.into(),
            keyed: Arc::new([]),
            estimator: Arc::new(HeuristicEstimator),
            cost_model: None,
            latency: Arc::default(),
        }
    }

    pub(crate) fn from_parts(
        inner: P,
        limiters: LimiterSet,
        keyed: Arc<[KeyedLimiters]>,
        estimator: Arc<dyn TokenEstimator>,
        cost_model: Option<Arc<dyn CostModel>>,
    ) -> Self {
        Self {
            inner,
            limiters,
            keyed,
            estimator,
            cost_model,
            latency: Arc::default(),
        }
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The wrapped provider, mutably.
    pub fn get_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// The limiters every call goes through.
    pub fn limiters(&self) -> &LimiterSet {
        &self.limiters
    }
}

impl<P: Provider> RateLimit<P> {
    /// The limiters this call must pass: the fixed set, plus the keyed
    /// limiters its tags select (only then is a set built per call).
    fn call_set(&self, req: &ChatRequest) -> Result<Cow<'_, LimiterSet>, ProviderError> {
        if self.keyed.is_empty() {
            return Ok(Cow::Borrowed(&self.limiters));
        }
        let mut set = self.limiters.clone();
        for keyed in self.keyed.iter() {
            let limiter = keyed.limiter_for(req).map_err(|e| self.refused(e))?;
            if let Some(limiter) = limiter {
                set.push(limiter);
            }
        }
        Ok(Cow::Owned(set))
    }

    /// Prices the request: the layer's cost model if it has one, else the
    /// first fixed limiter's (they share the config's burndown table by
    /// default), else the first keyed one's.
    async fn cost(&self, req: &ChatRequest, limiters: &LimiterSet) -> Cost {
        let input = self.estimator.input_tokens(req).await;
        self.cost_for(req, limiters, input)
    }

    fn cost_for(&self, req: &ChatRequest, limiters: &LimiterSet, input: u32) -> Cost {
        let id = self.inner.id();
        let first = self.limiters.limiters().first();
        match (
            &self.cost_model,
            first.or_else(|| limiters.limiters().first()),
        ) {
            (Some(model), _) => model.reserve(id, req, input),
            (None, Some(limiter)) => limiter.cost_of(id, req, input),
            (None, None) => Cost::request(),
        }
    }

    async fn admit(&self, req: &ChatRequest) -> Result<PermitSet, ProviderError> {
        let limiters = self.call_set(req)?;
        let cost = self.cost(req, &limiters).await;
        // A router's `start_by` ends the wait before the caller's deadline
        // (room for the call itself, or another candidate serving sooner).
        let until = match (req.metadata.deadline, req.metadata.start_by) {
            (Some(d), Some(s)) => Some(d.min(s)),
            (d, s) => d.or(s),
        };
        limiters
            .acquire_until(cost, req.metadata.priority, until)
            .await
            .map_err(|e| self.refused(e))
    }

    fn refused(&self, e: crate::error::LimitError) -> ProviderError {
        let id = self.inner.id();
        tracing::debug!(gen_ai.request.model = %id, error = %e, "rate limit refused the call");
        error::to_provider_error(e, id)
    }

    /// Finishes the call's permits (see [`settle`]), tracing the usage.
    fn finish(&self, permits: PermitSet, usage: Option<Usage>, ending: Ending) {
        if let Some(usage) = &usage {
            tracing::debug!(
                gen_ai.request.model = %self.inner.id(),
                gen_ai.usage.input_tokens = usage.input_tokens,
                gen_ai.usage.output_tokens = usage.output_tokens,
                "settling rate-limit permits"
            );
        }
        settle(permits, usage, self.cost_model.as_ref(), ending);
    }

    fn observe_error(&self, err: &ProviderError) {
        if let Some(snapshot) = err.rate_limit() {
            self.limiters.observe_rate_limit(snapshot);
        }
        if is_provider_throttle(err) {
            tracing::debug!(
                gen_ai.request.model = %self.inner.id(),
                retry_after_secs = err.retry_after().map(|d| d.as_secs_f64()),
                "provider throttled the call"
            );
            self.limiters.record_throttle(err.retry_after());
        }
    }
}

#[async_trait]
impl<P: Provider> Provider for RateLimit<P> {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let permits = self.admit(&req).await?;
        let admitted = tokio::time::Instant::now();
        match self.inner.complete(req).await {
            Ok(response) => {
                self.latency.record(admitted.elapsed());
                if let Some(snapshot) = &response.rate_limit {
                    self.limiters.observe_rate_limit(snapshot);
                }
                self.finish(permits, response.usage, Ending::Completed);
                Ok(response)
            }
            Err(err) => {
                self.observe_error(&err);
                self.finish(permits, None, Ending::Cut);
                Err(err)
            }
        }
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let permits = self.admit(&req).await?;
        match self.inner.stream(req).await {
            Ok(stream) => {
                // The headers came before the first event: calibrate now, so
                // the calls queued behind this one see the provider's state.
                if let Some(snapshot) = stream.rate_limit() {
                    self.limiters.observe_rate_limit(snapshot);
                }
                let (limiters, cost_model) = (self.limiters.clone(), self.cost_model.clone());
                Ok(stream
                    .map_events(|events| LimitedStream::new(events, permits, limiters, cost_model)))
            }
            Err(err) => {
                self.observe_error(&err);
                self.finish(permits, None, Ending::Cut);
                Err(err)
            }
        }
    }

    fn readiness(&self) -> Readiness {
        self.limiters.readiness().and(self.inner.readiness())
    }

    /// The limiters' schedule for what this request would reserve (its
    /// input estimated without awaiting: see
    /// [`TokenEstimator::input_tokens_now`]), combined with the inner
    /// provider's. A keyed limit that refuses the request outright answers
    /// "now": the call reports the refusal itself.
    fn expected_wait(&self, req: &ChatRequest) -> ExpectedWait {
        let own = match self.call_set(req) {
            Ok(limiters) => {
                let input = self.estimator.input_tokens_now(req);
                let cost = self.cost_for(req, &limiters, input);
                limiters.expected_wait(cost, req.metadata.priority)
            }
            Err(_) => ExpectedWait::NOW,
        };
        own.with_call_latency(self.latency.high())
            .and(self.inner.expected_wait(req))
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
