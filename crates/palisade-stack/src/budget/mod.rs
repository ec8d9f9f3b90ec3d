//! Spending limits: a budget in USD per time window, overall and per request
//! tag, priced from a [`PriceTable`].
//!
//! A request is refused (kind `QuotaExhausted`, `retry_after` = time until the
//! window resets) when a budget it falls under is already spent; answers are
//! charged their real cost afterwards. Calls already in flight when the limit
//! is reached still complete, so spending can exceed a limit by what those
//! calls cost. Crossing `warn_at` of a limit logs one `warn` event per window.
//!
//! Streamed answers are charged from their usage event; since stream events
//! do not name the serving model, they are priced as the wrapped provider's
//! id, or at the table's highest price when that is unknown.

mod error;
mod layer;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use futures_util::StreamExt;
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderId, Readiness,
    StreamEvent, async_trait,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

pub use error::BudgetExceeded;
pub use layer::BudgetLayer;

use crate::cost::PriceTable;

/// Budget settings. Defaults: a 1-day window, no limits, warnings at 80%.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetConfig {
    /// Length of a budget window; spending resets at its end. Default 1 d.
    #[serde(with = "palisade_core::duration")]
    pub window: Duration,
    /// USD allowed per window across all requests. Default: no limit.
    pub limit_usd: Option<f64>,
    /// USD allowed per window for requests carrying a tag, by tag (for
    /// example `"tenant=acme" = 25.0`). Default: none.
    pub tags: BTreeMap<String, f64>,
    /// Share of a limit at which a warning is logged. Default 0.8.
    pub warn_at: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(86_400),
            limit_usd: None,
            tags: BTreeMap::new(),
            warn_at: 0.8,
        }
    }
}

/// Spending against one limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScopeSnapshot {
    /// USD spent in the current window.
    pub spent_usd: f64,
    /// The limit, if any.
    pub limit_usd: Option<f64>,
}

/// A budget's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetSnapshot {
    /// Time until the current window resets, in seconds.
    pub resets_in_s: f64,
    /// All requests.
    pub total: ScopeSnapshot,
    /// Per tag with a limit.
    pub tags: BTreeMap<String, ScopeSnapshot>,
    /// Requests refused since the layer was built.
    pub rejected: u64,
}

#[derive(Debug)]
struct Window {
    started: Instant,
    total: f64,
    by_tag: HashMap<String, f64>,
    warned: HashSet<String>,
    rejected: u64,
}

/// The shared spending record of a budget.
#[derive(Debug)]
pub(crate) struct Ledger {
    config: BudgetConfig,
    prices: PriceTable,
    window: Mutex<Window>,
}

impl Ledger {
    fn new(config: BudgetConfig, prices: PriceTable) -> Self {
        Self {
            config,
            prices,
            window: Mutex::new(Window {
                started: Instant::now(),
                total: 0.0,
                by_tag: HashMap::new(),
                warned: HashSet::new(),
                rejected: 0,
            }),
        }
    }

    /// The current window, rolled over if it ended.
    fn current(&self) -> MutexGuard<'_, Window> {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let length = self.config.window.max(Duration::from_millis(1));
        if now.duration_since(w.started) >= length {
            let windows = now.duration_since(w.started).as_nanos() / length.as_nanos();
            let skipped = u32::try_from(windows).unwrap_or(u32::MAX);
            w.started += length.saturating_mul(skipped);
            w.total = 0.0;
            w.by_tag.clear();
            w.warned.clear();
        }
        w
    }

    fn resets_in(&self, w: &Window) -> Duration {
        (w.started + self.config.window).saturating_duration_since(Instant::now())
    }

    /// Refuses the request if a budget it falls under is spent.
    fn admit(&self, req: &ChatRequest) -> Result<(), BudgetExceeded> {
        if self.config.limit_usd.is_none() && self.config.tags.is_empty() {
            return Ok(());
        }
        let mut w = self.current();
        let mut refusal = None;
        if let Some(limit) = self.config.limit_usd
            && w.total >= limit
        {
            refusal = Some(("total".to_owned(), limit, w.total));
        }
        if refusal.is_none() {
            for tag in &req.metadata.tags {
                if let Some(&limit) = self.config.tags.get(tag) {
                    let spent = w.by_tag.get(tag).copied().unwrap_or(0.0);
                    if spent >= limit {
                        refusal = Some((format!("tag:{tag}"), limit, spent));
                        break;
                    }
                }
            }
        }
        match refusal {
            None => Ok(()),
            Some((scope, limit, spent)) => {
                w.rejected += 1;
                crate::telemetry::budget_rejected(&scope);
                Err(BudgetExceeded {
                    scope,
                    limit,
                    spent,
                    resets_in: self.resets_in(&w),
                })
            }
        }
    }

    /// The tags of `req` that have a limit (what `charge` must update).
    fn limited_tags(&self, req: &ChatRequest) -> Vec<String> {
        if self.config.tags.is_empty() {
            return Vec::new();
        }
        req.metadata
            .tags
            .iter()
            .filter(|t| self.config.tags.contains_key(*t))
            .cloned()
            .collect()
    }

    fn charge(&self, tags: &[String], cost: f64) {
        if cost <= 0.0 {
            return;
        }
        let mut w = self.current();
        w.total += cost;
        let total = w.total;
        if let Some(limit) = self.config.limit_usd {
            self.warn_once(&mut w, "total", total, limit);
        }
        for tag in tags {
            let spent = {
                let s = w.by_tag.entry(tag.clone()).or_insert(0.0);
                *s += cost;
                *s
            };
            if let Some(&limit) = self.config.tags.get(tag) {
                self.warn_once(&mut w, tag, spent, limit);
            }
        }
    }

    fn warn_once(&self, w: &mut Window, scope: &str, spent: f64, limit: f64) {
        if spent >= limit * self.config.warn_at && !w.warned.contains(scope) {
            w.warned.insert(scope.to_owned());
            tracing::warn!(
                target: "palisade_stack::budget",
                scope,
                spent_usd = spent,
                limit_usd = limit,
                "budget nearly spent"
            );
        }
    }

    fn snapshot(&self) -> BudgetSnapshot {
        let w = self.current();
        BudgetSnapshot {
            resets_in_s: self.resets_in(&w).as_secs_f64(),
            total: ScopeSnapshot {
                spent_usd: w.total,
                limit_usd: self.config.limit_usd,
            },
            tags: self
                .config
                .tags
                .iter()
                .map(|(tag, limit)| {
                    let spent_usd = w.by_tag.get(tag).copied().unwrap_or(0.0);
                    (
                        tag.clone(),
                        ScopeSnapshot {
                            spent_usd,
                            limit_usd: Some(*limit),
                        },
                    )
                })
                .collect(),
            rejected: w.rejected,
        }
    }

    fn reset(&self) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        w.started = Instant::now();
        w.total = 0.0;
        w.by_tag.clear();
        w.warned.clear();
    }
}

/// A provider whose calls are refused once a budget is spent.
#[derive(Debug, Clone)]
pub struct Budget<P> {
    inner: P,
    ledger: Arc<Ledger>,
}

impl<P> Budget<P> {
    /// Wraps `inner` in a budget of its own.
    pub fn new(inner: P, config: BudgetConfig, prices: PriceTable) -> Self {
        Self::from_ledger(inner, Arc::new(Ledger::new(config, prices)))
    }

    fn from_ledger(inner: P, ledger: Arc<Ledger>) -> Self {
        Self { inner, ledger }
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// Spending in the current window.
    pub fn snapshot(&self) -> BudgetSnapshot {
        self.ledger.snapshot()
    }

    /// Starts a new window now.
    pub fn reset(&self) {
        self.ledger.reset();
    }
}

#[async_trait]
impl<P: Provider> Provider for Budget<P> {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.ledger
            .admit(&req)
            .map_err(BudgetExceeded::into_provider_error)?;
        let tags = self.ledger.limited_tags(&req);
        let response = self.inner.complete(req).await?;
        if let Some(cost) = self.ledger.prices.cost_of(&response) {
            self.ledger.charge(&tags, cost);
        } else if response.usage.is_some() && !self.ledger.prices.is_empty() {
            tracing::debug!(
                target: "palisade_stack::budget",
                model = response.model.as_str(),
                "no price for the model; the answer is not charged"
            );
        }
        Ok(response)
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.ledger
            .admit(&req)
            .map_err(BudgetExceeded::into_provider_error)?;
        let tags = self.ledger.limited_tags(&req);
        let stream = self.inner.stream(req).await?;
        let price = self
            .ledger
            .prices
            .get(self.inner.id().as_str())
            .or_else(|| self.ledger.prices.most_expensive())
            .copied();
        let ledger = Arc::clone(&self.ledger);
        Ok(stream.map_events(|events| {
            events.inspect(move |item| {
                if let (Ok(StreamEvent::Usage(usage)), Some(price)) = (item, price) {
                    ledger.charge(&tags, price.cost(usage));
                }
            })
        }))
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
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
