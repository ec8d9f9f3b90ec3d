//! The stack the builder produces: a budget (when configured) around a
//! fallback over fully layered candidates, with one stats snapshot and one
//! reset for all of it.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, Layer, Provider, ProviderError, ProviderId, Readiness,
    async_trait,
};
use tokio::time::Instant;

use super::StackConfig;
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
            config,
            alerts: None,
        }
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

#[async_trait]
impl Provider for FallbackStack {
    fn id(&self) -> &ProviderId {
        self.fallback.id()
    }

    async fn complete(&self, mut req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.stamp_deadline(&mut req);
        let result = match &self.budget {
            Some((_, budget)) => budget.complete(req).await,
            None => self.fallback.complete(req).await,
        };
        if let Some(alerts) = &self.alerts {
            alerts.observe(&result);
        }
        result
    }

    async fn stream(&self, mut req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.stamp_deadline(&mut req);
        let result = match &self.budget {
            Some((_, budget)) => budget.stream(req).await,
            None => self.fallback.stream(req).await,
        };
        match &self.alerts {
            Some(alerts) => alerts.observe_stream(self.fallback.id().as_str(), result),
            None => result,
        }
    }

    fn readiness(&self) -> Readiness {
        self.fallback.readiness()
    }

    fn context_window(&self) -> Option<u32> {
        self.fallback.context_window()
    }
}
