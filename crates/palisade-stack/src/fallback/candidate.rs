use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use palisade_core::{Provider, ProviderId, Readiness, SharedProvider};

use crate::cost::ModelPrice;
use crate::stats::CandidateSnapshot;
use crate::stats::candidate::CandidateStats;

/// Something that knows more about a candidate than the fallback sees (its
/// retry layer, breaker, limiter) and adds it to the candidate's snapshot.
/// The [`StackBuilder`](crate::StackBuilder) attaches one per layer it builds.
pub trait CandidateProbe: Send + Sync {
    /// Adds what it knows to `snapshot`.
    fn fill(&self, snapshot: &mut CandidateSnapshot);

    /// Forgets transient state: closes a breaker, clears a budget. Default: nothing.
    fn reset(&self) {}
}

/// One provider a [`Fallback`](super::Fallback) may route to, with what
/// routing needs to know about it. Normally the provider is wrapped in its
/// own retry, timeout, breaker and limiter.
#[derive(Clone)]
pub struct Candidate {
    provider: SharedProvider,
    id: ProviderId,
    weight: f64,
    price: Option<ModelPrice>,
    context_window: Option<u32>,
    pub(crate) stats: Arc<CandidateStats>,
    probes: Vec<Arc<dyn CandidateProbe>>,
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidate")
            .field("id", &self.id)
            .field("weight", &self.weight)
            .field("price", &self.price)
            .field("context_window", &self.context_window())
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
            provider,
            weight: 1.0,
            price: None,
            context_window: None,
            stats: Arc::new(CandidateStats::new()),
            probes: Vec::new(),
        }
    }

    /// Sets the weight `weighted_random` routing uses (negative counts as 0).
    pub fn with_weight(mut self, weight: f64) -> Self {
        self.weight = weight.max(0.0);
        self
    }

    /// Sets the price used for cost stats and `cheapest_first` routing.
    pub fn with_price(mut self, price: ModelPrice) -> Self {
        self.price = Some(price);
        self
    }

    /// Overrides the context window the provider reports.
    pub fn with_context_window(mut self, tokens: u32) -> Self {
        self.context_window = Some(tokens);
        self
    }

    /// Attaches a probe that adds to this candidate's stats and reset.
    pub fn with_probe(mut self, probe: Arc<dyn CandidateProbe>) -> Self {
        self.probes.push(probe);
        self
    }

    /// The candidate's id (its provider's).
    pub fn id(&self) -> &ProviderId {
        &self.id
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
    pub fn price(&self) -> Option<&ModelPrice> {
        self.price.as_ref()
    }

    /// Its context window: the configured one, else the provider's.
    pub fn context_window(&self) -> Option<u32> {
        self.context_window
            .or_else(|| self.provider.context_window())
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
        let mut snapshot = self.stats.snapshot(&self.id);
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
