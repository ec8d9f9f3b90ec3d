use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use palisade_core::{Price, Provider, ProviderId, Readiness, ServiceTier, SharedProvider};

use crate::stats::CandidateSnapshot;
use crate::stats::candidate::CandidateStats;

/// Something that knows more about a candidate than the fallback sees (its
/// retry layer, breaker, limiter) and adds it to the candidate's snapshot.
///
/// The [`StackBuilder`](crate::StackBuilder) attaches one per layer it
/// builds; a hand-built stack attaches the same ones with
/// [`Candidate::with_probe`]: [`RetryLayer`](crate::RetryLayer) fills
/// `retries`, `palisade_breaker::CircuitBreaker` fills `breaker_state` (and
/// closes on reset), `palisade_limit::Limiter` and `LimiterSet` fill
/// `limiter_queued`.
pub trait CandidateProbe: Send + Sync {
    /// Adds what it knows to `snapshot`.
    fn fill(&self, snapshot: &mut CandidateSnapshot);

    /// Forgets transient state: closes a breaker, clears a budget. Default: nothing.
    fn reset(&self) {}
}

impl<T: CandidateProbe + ?Sized> CandidateProbe for Arc<T> {
    fn fill(&self, snapshot: &mut CandidateSnapshot) {
        (**self).fill(snapshot);
    }

    fn reset(&self) {
        (**self).reset();
    }
}

/// One provider a [`Fallback`](super::Fallback) may route to, with what
/// routing needs to know about it. Normally the provider is wrapped in its
/// own retry, timeout, breaker and limiter.
#[derive(Clone)]
pub struct Candidate {
    provider: SharedProvider,
    id: ProviderId,
    model: String,
    weight: f64,
    price: Option<Price>,
    context_window: Option<u32>,
    cooldown: Option<Duration>,
    tier: Option<ServiceTier>,
    pub(crate) stats: Arc<CandidateStats>,
    probes: Vec<Arc<dyn CandidateProbe>>,
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidate")
            .field("id", &self.id)
            .field("model", &self.model)
            .field("weight", &self.weight)
            .field("price", &self.price)
            .field("context_window", &self.context_window())
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

impl Candidate {
    /// A candidate of weight 1, no price, the provider's own context window.
    pub fn new(provider: impl Provider + 'static) -> Self {
        Self::from_shared(Arc::new(provider))
    }

    /// A candidate from an already shared provider.
    pub fn from_shared(provider: SharedProvider) -> Self {
        Self {
            id: provider.id().clone(),
            model: provider.id().as_str().to_owned(),
            provider,
            weight: 1.0,
            price: None,
            context_window: None,
            cooldown: None,
            tier: None,
            stats: Arc::new(CandidateStats::new()),
            probes: Vec::new(),
        }
    }

    /// Names the candidate: the id its stats, attempts trail, spans and
    /// served-by carry (default: its provider's id). The
    /// [`StackBuilder`](crate::StackBuilder) names each candidate by its
    /// config id, which also names its limiter and breaker.
    pub fn with_id(mut self, id: impl Into<ProviderId>) -> Self {
        self.id = id.into();
        self
    }

    /// Sets the model id reported beside the candidate id in stats and the
    /// attempts trail (default: its provider's id).
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// Sets the weight `weighted_random` routing uses (negative counts as 0).
    pub fn with_weight(mut self, weight: f64) -> Self {
        self.weight = weight.max(0.0);
        self
    }

    /// Sets the price used for cost stats and `cheapest_first` routing.
    pub fn with_price(mut self, price: Price) -> Self {
        self.price = Some(price);
        self
    }

    /// Overrides the context window the provider reports.
    pub fn with_context_window(mut self, tokens: u32) -> Self {
        self.context_window = Some(tokens);
        self
    }

    /// Sets how long the fallback cools this candidate down after it fails
    /// Throttled, Overloaded or Unavailable with no `retry_after` (Bedrock's
    /// throttling errors carry none), overriding the fallback's
    /// [`cooldown.default`](super::CooldownConfig::default). `Duration::ZERO`
    /// turns that cooldown off for this candidate; a `retry_after` the
    /// provider sends still applies.
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = Some(cooldown);
        self
    }

    /// Makes the candidate a pool of one service tier: every call goes out
    /// with `tier`, and a request asking for a higher tier (cheapest first:
    /// flex, default, priority, reserved) skips it.
    pub fn with_tier(mut self, tier: ServiceTier) -> Self {
        self.tier = Some(tier);
        self
    }

    /// The tier it calls, if it is a tier pool (see [`with_tier`](Candidate::with_tier)).
    pub fn tier(&self) -> Option<ServiceTier> {
        self.tier
    }

    /// Whether it may serve a request that asks for tier `wanted` (a pool
    /// below the tier asked for may not).
    pub(crate) fn serves_tier(&self, wanted: Option<ServiceTier>) -> bool {
        match (self.tier, wanted) {
            (Some(pool), Some(wanted)) => tier_rank(pool) >= tier_rank(wanted),
            _ => true,
        }
    }

    /// Attaches a probe that adds to this candidate's stats and reset (its
    /// breaker, its limiter, its retry layer: see [`CandidateProbe`]).
    pub fn with_probe(mut self, probe: impl CandidateProbe + 'static) -> Self {
        self.probes.push(Arc::new(probe));
        self
    }

    /// The candidate's id (see [`with_id`](Candidate::with_id)).
    pub fn id(&self) -> &ProviderId {
        &self.id
    }

    /// The model id behind it (see [`with_model`](Candidate::with_model)).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The provider.
    pub fn provider(&self) -> &SharedProvider {
        &self.provider
    }

    /// Its routing weight.
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// Its price, if configured.
    pub fn price(&self) -> Option<&Price> {
        self.price.as_ref()
    }

    /// Its context window: the configured one, else the provider's.
    pub fn context_window(&self) -> Option<u32> {
        self.context_window
            .or_else(|| self.provider.context_window())
    }

    /// Its own cooldown after a throttle without `retry_after`, if set
    /// (see [`with_cooldown`](Candidate::with_cooldown)).
    pub fn cooldown(&self) -> Option<Duration> {
        self.cooldown
    }

    /// Whether it can take a call: its provider's readiness combined with the
    /// fallback's cooldown of it.
    pub fn readiness(&self) -> Readiness {
        let own = match self.stats.cooldown_remaining() {
            Some(retry_after) => Readiness::Unavailable { retry_after },
            None => Readiness::Ready,
        };
        own.and(self.provider.readiness())
    }

    /// Calls through the fallback in flight now.
    pub fn in_flight(&self) -> usize {
        self.stats
            .in_flight
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The moving average of its call latency, `None` before the first call.
    pub fn latency_ewma(&self) -> Option<Duration> {
        self.stats.latency_ewma()
    }

    /// Time left in the fallback's cooldown of it.
    pub fn cooldown_remaining(&self) -> Option<Duration> {
        self.stats.cooldown_remaining()
    }

    /// Its stats, probes included.
    pub fn snapshot(&self) -> CandidateSnapshot {
        let mut snapshot = self.stats.snapshot(&self.id, &self.model);
        for probe in &self.probes {
            probe.fill(&mut snapshot);
        }
        snapshot
    }

    /// Clears the cooldown and resets the probes (breakers, budgets).
    pub fn reset(&self) {
        self.stats.reset_cooldown();
        for probe in &self.probes {
            probe.reset();
        }
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        self.stats.reset_counters();
    }
}

/// Cheapest first, as [`ServiceTier::ALL`] lists them.
fn tier_rank(tier: ServiceTier) -> usize {
    ServiceTier::ALL
        .iter()
        .position(|t| *t == tier)
        .unwrap_or(usize::MAX)
}
