//! The stack the builder produces: keyed limits and a budget (when
//! configured) around a fallback over fully layered candidates, with one
//! stats snapshot and one reset for all of it.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, Layer, Provider, ProviderError, ProviderId, Readiness,
    async_trait,
};
use tokio::time::Instant;

use super::StackConfig;
use palisade_limit::{KeyedLimiters, LimiterSet, RateLimitLayer};

use crate::alert::Alerts;
use crate::budget::{Budget, BudgetLayer};
use crate::fallback::Fallback;
use crate::stats::StackStats;

/// The canonical stack: `Budget ─► Fallback/Router ─► per candidate: Retry ─►
/// Breaker ─► RateLimit ─► Timeout ─► Provider`. Built by
/// [`StackBuilder`](super::StackBuilder); cheap to clone (clones share state).
#[derive(Debug, Clone)]
pub struct FallbackStack {
    fallback: Fallback,
    budget: Option<(BudgetLayer, Budget<Fallback>)>,
    /// The keyed limits (`[[keyed_limit]]`) around the budget (or the
    /// fallback): what a call goes through first when there are any.
    keyed: Option<KeyedFront>,
    overall: Option<Duration>,
    config: StackConfig,
    alerts: Option<Arc<Alerts>>,
}

impl FallbackStack {
    pub(crate) fn new(
        fallback: Fallback,
        budget: Option<BudgetLayer>,
        config: StackConfig,
    ) -> Self {
        let budget = budget.map(|layer| {
            let wrapped = layer.layer(fallback.clone());
            (layer, wrapped)
        });
        Self {
            overall: config.timeout.overall,
            fallback,
            budget,
            keyed: None,
            config,
            alerts: None,
        }
    }

    /// Puts `keyed` limits in front of everything else: a request takes a
    /// permit of its tag value's limiter once, whatever attempts and
    /// candidates follow, and settles it from the answer's usage.
    pub(crate) fn with_keyed(mut self, keyed: Vec<KeyedLimiters>) -> Self {
        if keyed.is_empty() {
            return self;
        }
        let mut layer = RateLimitLayer::new(LimiterSet::new());
        for k in keyed {
            layer = layer.with_keyed(k);
        }
        let front: Arc<dyn Provider> = match &self.budget {
            Some((budget, _)) => Arc::new(layer.layer(budget.layer(self.fallback.clone()))),
            None => Arc::new(layer.layer(self.fallback.clone())),
        };
        self.keyed = Some(KeyedFront(front));
        self
    }

    /// Watches every call with `alerts` (the `[alerts]` thresholds).
    pub(crate) fn with_alerts(mut self, alerts: Option<Arc<Alerts>>) -> Self {
        self.alerts = alerts;
        self
    }

    /// The fallback (candidates, their stats, cooldowns).
    pub fn fallback(&self) -> &Fallback {
        &self.fallback
    }

    /// The config the stack was built from.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// One snapshot of the whole stack.
    pub fn stats(&self) -> StackStats {
        StackStats {
            candidates: self.fallback.stats(),
            budget: self.budget.as_ref().map(|(layer, _)| layer.snapshot()),
        }
    }

    /// Closes every breaker, clears every cooldown and refills the retry
    /// budgets. Spending is kept (see [`reset_budget`](FallbackStack::reset_budget)).
    pub fn reset(&self) {
        self.fallback.reset();
    }

    /// Starts a new budget window now.
    pub fn reset_budget(&self) {
        if let Some((layer, _)) = &self.budget {
            layer.reset();
        }
    }

    fn stamp_deadline(&self, req: &mut ChatRequest) {
        if req.metadata.deadline.is_none() {
            req.metadata.deadline = self.overall.map(|d| Instant::now() + d);
        }
    }
}

/// The keyed limits' layer over the rest of the stack.
#[derive(Clone)]
struct KeyedFront(Arc<dyn Provider>);

impl std::fmt::Debug for KeyedFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("KeyedFront").field(self.0.id()).finish()
    }
}

#[async_trait]
impl Provider for FallbackStack {
    fn id(&self) -> &ProviderId {
        self.fallback.id()
    }

    async fn complete(&self, mut req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.stamp_deadline(&mut req);
        let result = match (&self.keyed, &self.budget) {
            (Some(front), _) => front.0.complete(req).await,
            (None, Some((_, budget))) => budget.complete(req).await,
            (None, None) => self.fallback.complete(req).await,
        };
        if let Some(alerts) = &self.alerts {
            alerts.observe(&result);
        }
        result
    }

    async fn stream(&self, mut req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.stamp_deadline(&mut req);
        let result = match (&self.keyed, &self.budget) {
            (Some(front), _) => front.0.stream(req).await,
            (None, Some((_, budget))) => budget.stream(req).await,
            (None, None) => self.fallback.stream(req).await,
        };
        match &self.alerts {
            Some(alerts) => alerts.observe_stream(self.fallback.id().as_str(), result),
            None => result,
        }
    }

    fn readiness(&self) -> Readiness {
        self.fallback.readiness()
    }

    fn expected_wait(&self, req: &ChatRequest) -> palisade_core::ExpectedWait {
        self.fallback.expected_wait(req)
    }

    fn context_window(&self) -> Option<u32> {
        self.fallback.context_window()
    }
}
