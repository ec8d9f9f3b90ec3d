//! Fallback over an ordered set of candidates, with routing, cooldowns,
//! context-window and content-policy fallback, waiting for recovery, and
//! optional hedging.
//!
//! # One request
//!
//! 1. The [`Router`] orders the candidates.
//! 2. Each in turn is skipped without a call when the request's estimated
//!    tokens (input estimate + `max_tokens`) exceed its context window, or
//!    when its [`readiness`](palisade_core::Provider::readiness) (breaker,
//!    limiter) or the fallback's cooldown of it says it is unavailable.
//! 3. Otherwise it is called (with its own retries, when it has a retry
//!    layer). A success ends the request. A failure moves on when the error is
//!    [fallback eligible](palisade_core::ErrorKind::is_fallback_eligible) (or
//!    `ContentFiltered` with `content_policy_fallback`), after `pause`;
//!    otherwise it ends the request. A retryable failure with a `retry_after`
//!    starts a cooldown of the candidate for every request.
//! 4. When a pass ends without an answer and some candidate is expected to
//!    recover (skipped as unavailable, or failed with a known recovery time),
//!    the fallback waits for the earliest recovery, up to the request's
//!    deadline (or `max_wait`) and `max_rounds` calling passes, then tries
//!    again, leaving out the candidates that failed for good; past those
//!    limits it returns [`FallbackError::AllCandidatesUnavailable`]. When no
//!    candidate is expected to recover, it returns [`FallbackError::Failed`]
//!    with the last error.
//!
//! The answer's [`attempts`](palisade_core::ChatResponse::attempts) say which
//! candidates were tried or skipped and why; on failure the same trail is in
//! the [`FallbackError`].

mod affinity;
mod attempt;
mod candidate;
mod config;
pub(crate) mod context;
mod error;
mod hedge;
mod pass;
mod plan;
mod routed;

use std::sync::Arc;
use std::time::Duration;

use palisade_core::{
    Attempt, AttemptOutcome, ChatRequest, ChatResponse, ChatStream, ErrorKind, HeuristicEstimator,
    Provider, ProviderError, ProviderId, Readiness, SkipReason, TokenEstimator, async_trait,
};
use tokio::time::Instant;
use tracing::Span;

pub use candidate::{Candidate, CandidateProbe};
pub use config::{CooldownConfig, FallbackConfig, HedgeConfig, OverloadConfig};
pub use error::FallbackError;

use attempt::AttemptLabel;
use pass::{Pass, PassEnd};

use crate::routing::{PriorityOrder, Router};
use crate::stats::CandidateSnapshot;
use crate::telemetry;

/// The shortest wait for recovery, so a provider that reports "unavailable
/// for 0 s" cannot make the fallback spin.
const MIN_RECOVERY_WAIT: Duration = Duration::from_millis(1);

/// A provider that routes each request over several candidates.
#[derive(Clone)]
pub struct Fallback {
    id: ProviderId,
    candidates: Arc<[Candidate]>,
    router: Arc<dyn Router>,
    config: FallbackConfig,
    estimator: Arc<dyn TokenEstimator>,
    /// Shared by clones, as the candidates' caches are.
    affinity: Arc<affinity::Affinity>,
}

impl std::fmt::Debug for Fallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fallback")
            .field("id", &self.id)
            .field("candidates", &self.candidates)
            .field("router", &self.router)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What a successful call produced.
pub(crate) enum Answer {
    Response(ChatResponse),
    Stream(ChatStream),
}

impl Fallback {
    /// A fallback over `candidates` in priority order, default config, id `fallback`.
    pub fn new(candidates: impl IntoIterator<Item = Candidate>) -> Self {
        Self {
            id: ProviderId::new("fallback"),
            candidates: candidates.into_iter().collect(),
            router: Arc::new(PriorityOrder),
            config: FallbackConfig::default(),
            estimator: Arc::new(HeuristicEstimator),
            affinity: Arc::default(),
        }
    }

    /// Sets the config.
    pub fn with_config(mut self, config: FallbackConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the router (default: [`PriorityOrder`]).
    pub fn with_router(mut self, router: impl Router + 'static) -> Self {
        self.router = Arc::new(router);
        self
    }

    /// Sets the router from a shared one.
    pub fn with_shared_router(mut self, router: Arc<dyn Router>) -> Self {
        self.router = router;
        self
    }

    /// Sets the estimator for the context-window check (default: [`HeuristicEstimator`]).
    pub fn with_estimator(mut self, estimator: impl TokenEstimator + 'static) -> Self {
        self.estimator = Arc::new(estimator);
        self
    }

    /// Sets the estimator from a shared one.
    pub fn with_shared_estimator(mut self, estimator: Arc<dyn TokenEstimator>) -> Self {
        self.estimator = estimator;
        self
    }

    /// Sets the fallback's own id (default `fallback`).
    pub fn with_id(mut self, id: impl Into<ProviderId>) -> Self {
        self.id = id.into();
        self
    }

    /// The candidates, in configuration order.
    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The config.
    pub fn config(&self) -> &FallbackConfig {
        &self.config
    }

    /// A snapshot per candidate, in configuration order.
    pub fn stats(&self) -> Vec<CandidateSnapshot> {
        self.candidates.iter().map(Candidate::snapshot).collect()
    }

    /// Clears every cooldown and resets the candidates' probes (their
    /// breakers close, their retry budgets refill).
    pub fn reset(&self) {
        for c in self.candidates.iter() {
            c.reset();
        }
    }

    /// Clears the cooldowns only.
    pub fn reset_cooldowns(&self) {
        for c in self.candidates.iter() {
            c.stats.reset_cooldown();
        }
    }

    /// One request, all passes. `span` is the call's span: entered around
    /// each pass and wait rather than around this whole (large) future, which
    /// would cost a move of it.
    async fn run(
        &self,
        req: ChatRequest,
        streaming: bool,
        span: &Span,
    ) -> Result<Answer, ProviderError> {
        let deadline = req.metadata.deadline;
        // Without a deadline, `max_wait` counts from the first wait.
        let mut wait_limit = deadline;
        let windows = self.config.context_window_fallback
            && self.candidates.iter().any(|c| c.context_window().is_some());
        let needed = if windows {
            self.estimator
                .input_tokens(&req)
                .await
                .saturating_add(req.max_tokens)
        } else {
            0
        };
        let mut trail = Vec::new();
        let mut order = Vec::with_capacity(self.candidates.len());
        let mut rounds = 0;
        let mut dead = Vec::new();
        let mut last_error = None;
        loop {
            order.clear();
            self.router.route(&req, &self.candidates, &mut order);
            self.sanitize(&mut order);
            let mut pass = Pass {
                called: false,
                reached_provider: false,
                recovery: None,
                dead: std::mem::take(&mut dead),
                last_error: None,
                span: span.clone(),
            };
            let end = match &self.config.hedge {
                None if self.config.overload.enabled => {
                    self.routed_pass(&req, streaming, needed, &order, &mut trail, &mut pass)
                        .await
                }
                None => {
                    self.sequential_pass(&req, streaming, needed, &order, &mut trail, &mut pass)
                        .await
                }
                Some(hedge) => {
                    self.hedged_pass(
                        &req, streaming, needed, &order, &mut trail, &mut pass, hedge,
                    )
                    .await
                }
            };
            // Routed by expected wait, a pass whose calls were all refused
            // by local limits (their queue time ran out because another
            // candidate could serve sooner) is not a round: time moved on
            // and no provider was asked. The deadline or `max_wait` ends
            // the request instead.
            let routed = self.config.hedge.is_none() && self.config.overload.enabled;
            if pass.called && (pass.reached_provider || !routed) {
                rounds += 1;
            }
            dead = std::mem::take(&mut pass.dead);
            if let Some(error) = pass.last_error.take() {
                last_error = Some(error);
            }
            let recovery = match end {
                PassEnd::Answered(answer) => return Ok(answer),
                PassEnd::Stop(error) => return Err(self.failed(error, trail)),
                PassEnd::Exhausted { recovery } => recovery,
                PassEnd::Shed { time_left, soonest } => {
                    tracing::info!(
                        target: "palisade_stack::fallback",
                        parent: span,
                        time_left_ms = time_left.as_secs_f64() * 1000.0,
                        palisade.fallback = %self.id,
                        "no candidate can serve the request before its deadline: shed"
                    );
                    return Err(FallbackError::DeadlineUnreachable {
                        fallback: self.id.clone(),
                        time_left,
                        retry_after: soonest.map_or(time_left, |(_, wait)| wait),
                        soonest: soonest.map(|(i, _)| self.candidates[i].id().clone()),
                        attempts: trail,
                    }
                    .into_provider_error());
                }
            };
            let Some(recovery) = recovery else {
                return Err(match last_error {
                    Some(error) => self.failed(error, trail),
                    None if trail.is_empty() => ProviderError::invalid_request(format!(
                        "fallback `{}` has no candidates to route to",
                        self.id
                    )),
                    None => FallbackError::NoCandidateFits {
                        fallback: self.id.clone(),
                        needed,
                        attempts: trail,
                    }
                    .into_provider_error(),
                });
            };
            let now = Instant::now();
            let resume = now + recovery.max(MIN_RECOVERY_WAIT);
            let limit = *wait_limit.get_or_insert(now + self.config.max_wait);
            if resume > limit || rounds >= self.config.max_rounds {
                return Err(FallbackError::AllCandidatesUnavailable {
                    fallback: self.id.clone(),
                    retry_after: recovery,
                    attempts: trail,
                }
                .into_provider_error());
            }
            tracing::info!(
                target: "palisade_stack::fallback",
                parent: span,
                wait_ms = recovery.as_secs_f64() * 1000.0,
                palisade.fallback = %self.id,
                "every candidate is unavailable; waiting for the earliest to recover"
            );
            Box::pin(tokio::time::sleep_until(resume)).await;
        }
    }

    /// Drops out-of-range and repeated indices a custom router may produce.
    fn sanitize(&self, order: &mut Vec<usize>) {
        let n = self.candidates.len();
        if n <= 64 {
            let mut seen = 0u64;
            order.retain(|&i| {
                let fresh = i < n && seen & (1 << i) == 0;
                seen |= 1 << i.min(63);
                fresh
            });
        } else {
            let mut seen = vec![false; n];
            order.retain(|&i| i < n && !std::mem::replace(&mut seen[i], true));
        }
    }
    fn failed(&self, error: ProviderError, attempts: Vec<Attempt>) -> ProviderError {
        FallbackError::Failed { error, attempts }.into_provider_error()
    }
}

fn skip(candidate: &Candidate, reason: SkipReason) -> Attempt {
    Attempt::new(
        candidate.id().clone(),
        AttemptOutcome::Skipped(reason),
        Duration::ZERO,
    )
    .with_model(candidate.model())
}

#[async_trait]
impl Provider for Fallback {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let span = telemetry::call_span(&self.id, &req, false);
        let result = self.run(req, false, &span).await;
        match result {
            Ok(Answer::Response(response)) => {
                let cost = self
                    .candidates
                    .iter()
                    .find(|c| c.id() == &response.served_by)
                    .and_then(|c| c.price())
                    .zip(response.usage.as_ref())
                    .map(|(p, u)| p.cost(u));
                telemetry::record_response(&span, &response, cost);
                Ok(response)
            }
            Ok(Answer::Stream(_)) => Err(ProviderError::new(
                ErrorKind::Internal,
                "fallback produced a stream for a complete() call",
            )),
            Err(error) => {
                telemetry::record_error(&span, &error);
                Err(error)
            }
        }
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let span = telemetry::call_span(&self.id, &req, true);
        match self.run(req, true, &span).await {
            Ok(Answer::Stream(stream)) => Ok(stream),
            Ok(Answer::Response(response)) => Ok(palisade_core::stream_from_response(response)),
            Err(error) => {
                telemetry::record_error(&span, &error);
                Err(error)
            }
        }
    }

    /// Ready when any candidate is; otherwise unavailable until the earliest recovers.
    fn readiness(&self) -> Readiness {
        let mut earliest: Option<Duration> = None;
        for c in self.candidates.iter() {
            match c.readiness() {
                Readiness::Ready => return Readiness::Ready,
                Readiness::Unavailable { retry_after } => {
                    earliest = Some(earliest.map_or(retry_after, |e| e.min(retry_after)));
                }
            }
        }
        earliest.map_or(Readiness::Ready, |retry_after| Readiness::Unavailable {
            retry_after,
        })
    }

    /// The largest candidate window (a request that fits none is refused anyway).
    fn context_window(&self) -> Option<u32> {
        let windows: Option<Vec<u32>> = self
            .candidates
            .iter()
            .map(Candidate::context_window)
            .collect();
        windows.and_then(|w| w.into_iter().max())
    }
}
