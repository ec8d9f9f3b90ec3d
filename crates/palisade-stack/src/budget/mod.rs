//! Spending limits: a budget in USD per time window, overall and per request
//! tag, priced from a [`PriceTable`].
//!
//! Budgets **reserve**: before a call starts, its worst-case cost — input at
//! the dearest input rate (cache writes included) for the estimated input
//! tokens plus [`input_margin`](BudgetConfig::input_margin), output at
//! `max_tokens` — is held against every budget the request falls under, and
//! the call is refused (kind `QuotaExhausted`, `retry_after` = time until the
//! window resets) unless spent + held + its worst case fits each limit. The
//! answer then settles the hold to its real cost. So concurrent calls cannot
//! all pass a check only one of them fits, and a budget is never exceeded as
//! long as no call costs more than its reservation (an estimator that counts
//! far too low can break that; such an overrun is charged and logged at
//! `warn`). A call whose worst case exceeds a whole limit is refused with no
//! `retry_after`: no window would ever take it.
//!
//! The price is the wrapped provider's own (by its id) when the table has it,
//! else the dearest worst case over the table, since a stack may answer from
//! any of its models. Crossing `warn_at` of a limit logs one `warn` event per
//! window.
//!
//! Streamed answers are charged from their usage event; since stream events
//! do not name the serving model, they are priced as the wrapped provider's
//! id, or at the table's highest price when that is unknown.

mod error;
mod layer;
mod reservation;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use futures_util::StreamExt;
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, HeuristicEstimator, Provider, ProviderError, ProviderId,
    Readiness, StreamEvent, TokenEstimator, async_trait,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

pub use error::BudgetExceeded;
pub use layer::BudgetLayer;

use crate::cost::PriceTable;
use reservation::Reservation;

/// Slack for float sums when a hold is checked against a limit.
const LIMIT_SLACK_USD: f64 = 1e-12;

/// Budget settings. Defaults: a 1-day window, no limits, warnings at 80%,
/// input reserved at its estimate + 25%.
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
    /// Share added to a request's input-token estimate when its worst-case
    /// cost is reserved (the default heuristic estimator is within about
    /// ±25% on typical text). Default 0.25; 0 trusts the estimate exactly
    /// (right for an exact counter or an explicit
    /// `input_token_estimate`).
    pub input_margin: f64,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(86_400),
            limit_usd: None,
            tags: BTreeMap::new(),
            warn_at: 0.8,
            input_margin: 0.25,
        }
    }
}

/// Spending against one limit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScopeSnapshot {
    /// USD spent in the current window.
    pub spent_usd: f64,
    /// USD held by calls in flight (their worst-case cost until they settle).
    #[serde(default)]
    pub reserved_usd: f64,
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
    /// Held by calls in flight. Not cleared when a window rolls over: those
    /// calls settle (and are charged) in the window they finish in.
    reserved_total: f64,
    reserved_by_tag: HashMap<String, f64>,
    warned: HashSet<String>,
    rejected: u64,
}

/// The shared spending record of a budget.
pub(crate) struct Ledger {
    config: BudgetConfig,
    prices: PriceTable,
    /// Counts input tokens for reservations; shared by everything holding
    /// the ledger, so setting it on one clone of a layer sets it for all.
    estimator: RwLock<Arc<dyn TokenEstimator>>,
    window: Mutex<Window>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("config", &self.config)
            .field("prices", &self.prices)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    fn new(config: BudgetConfig, prices: PriceTable) -> Self {
        Self {
            config,
            prices,
            estimator: RwLock::new(Arc::new(HeuristicEstimator)),
            window: Mutex::new(Window {
                started: Instant::now(),
                total: 0.0,
                by_tag: HashMap::new(),
                reserved_total: 0.0,
                reserved_by_tag: HashMap::new(),
                warned: HashSet::new(),
                rejected: 0,
            }),
        }
    }

    fn set_estimator(&self, estimator: Arc<dyn TokenEstimator>) {
        *self.estimator.write().unwrap_or_else(|e| e.into_inner()) = estimator;
    }

    fn has_limits(&self) -> bool {
        self.config.limit_usd.is_some() || !self.config.tags.is_empty()
    }

    /// The most `req` can cost when `provider` serves it: its estimated
    /// input (plus the margin) at the dearest input rate and `max_tokens` of
    /// output, priced as `provider` when the table has it, else at the
    /// table's dearest. 0 with an empty table (nothing would be charged).
    async fn worst_case(&self, provider: &ProviderId, req: &ChatRequest) -> f64 {
        if self.prices.is_empty() {
            return 0.0;
        }
        let estimator = Arc::clone(&self.estimator.read().unwrap_or_else(|e| e.into_inner()));
        let estimate = f64::from(estimator.input_tokens(req).await);
        let margin = if self.config.input_margin.is_finite() {
            self.config.input_margin.max(0.0)
        } else {
            0.0
        };
        let input = (estimate * (1.0 + margin)).ceil().min(f64::from(u32::MAX)) as u32;
        match self.prices.get(provider.as_str()) {
            Some(price) => price.worst_case_cost(input, req.max_tokens),
            None => self
                .prices
                .iter()
                .map(|(_, price)| price.worst_case_cost(input, req.max_tokens))
                .fold(0.0, f64::max),
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

    /// Holds `need` (the call's worst case) against every budget `req`
    /// falls under, or refuses the request if one of them cannot take it.
    fn reserve(
        self: &Arc<Self>,
        req: &ChatRequest,
        need: f64,
    ) -> Result<Option<Reservation>, BudgetExceeded> {
        if !self.has_limits() {
            return Ok(None);
        }
        let tags = self.limited_tags(req);
        let mut w = self.current();
        // Refused when the hold does not fit, and (for a call priced at
        // nothing) when the limit is already reached.
        let refuses = |spent: f64, reserved: f64, limit: f64| {
            spent + reserved + need > limit + LIMIT_SLACK_USD || spent + reserved >= limit
        };
        let mut refusal = None;
        if let Some(limit) = self.config.limit_usd
            && refuses(w.total, w.reserved_total, limit)
        {
            refusal = Some(("total".to_owned(), limit, w.total, w.reserved_total));
        }
        if refusal.is_none() {
            for tag in &tags {
                let limit = self.config.tags[tag];
                let spent = w.by_tag.get(tag).copied().unwrap_or(0.0);
                let reserved = w.reserved_by_tag.get(tag).copied().unwrap_or(0.0);
                if refuses(spent, reserved, limit) {
                    refusal = Some((format!("tag:{tag}"), limit, spent, reserved));
                    break;
                }
            }
        }
        if let Some((scope, limit, spent, reserved)) = refusal {
            w.rejected += 1;
            crate::telemetry::budget_rejected(&scope);
            return Err(BudgetExceeded {
                scope,
                limit,
                spent,
                reserved,
                needed: need,
                resets_in: self.resets_in(&w),
            });
        }
        w.reserved_total += need;
        for tag in &tags {
            *w.reserved_by_tag.entry(tag.clone()).or_insert(0.0) += need;
        }
        drop(w);
        Ok(Some(Reservation::new(Arc::clone(self), tags, need)))
    }

    /// The tags of `req` that have a limit (what `charge` must update).
    fn limited_tags(&self, req: &ChatRequest) -> Vec<String> {
        if self.config.tags.is_empty() {
            return Vec::new();
        }
        // Each budgeted tag once, however often the request repeats it.
        let tags: std::collections::BTreeSet<&String> = req
            .metadata
            .tags
            .iter()
            .filter(|t| self.config.tags.contains_key(*t))
            .collect();
        tags.into_iter().cloned().collect()
    }

    /// Frees a hold of `reserved` and charges `cost` in its place.
    fn settle(&self, tags: &[String], reserved: f64, cost: f64) {
        let mut w = self.current();
        w.reserved_total = (w.reserved_total - reserved).max(0.0);
        for tag in tags {
            if let Some(held) = w.reserved_by_tag.get_mut(tag) {
                *held = (*held - reserved).max(0.0);
            }
        }
        drop(w);
        self.charge(tags, cost);
    }

    fn charge(&self, tags: &[String], cost: f64) {
        if !(cost > 0.0 && cost.is_finite()) {
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
                reserved_usd: w.reserved_total,
                limit_usd: self.config.limit_usd,
            },
            tags: self
                .config
                .tags
                .iter()
                .map(|(tag, limit)| {
                    let spent_usd = w.by_tag.get(tag).copied().unwrap_or(0.0);
                    let reserved_usd = w.reserved_by_tag.get(tag).copied().unwrap_or(0.0);
                    (
                        tag.clone(),
                        ScopeSnapshot {
                            spent_usd,
                            reserved_usd,
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

    /// Holds the request's worst case against its budgets, or refuses it.
    async fn reserve(&self, req: &ChatRequest) -> Result<Option<Reservation>, ProviderError>
    where
        P: Provider,
    {
        if !self.ledger.has_limits() {
            return Ok(None);
        }
        let need = self.ledger.worst_case(self.inner.id(), req).await;
        self.ledger
            .reserve(req, need)
            .map_err(BudgetExceeded::into_provider_error)
    }
}

#[async_trait]
impl<P: Provider> Provider for Budget<P> {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let reservation = self.reserve(&req).await?;
        // An error or a cancelled call drops the hold: nothing is charged.
        let response = self.inner.complete(req).await?;
        let cost = self.ledger.prices.cost_of(&response);
        if let Some(reservation) = reservation {
            reservation.settle(cost.unwrap_or(0.0));
        } else if let Some(cost) = cost {
            self.ledger.charge(&[], cost);
        }
        if cost.is_none() && response.usage.is_some() && !self.ledger.prices.is_empty() {
            tracing::debug!(
                target: "palisade_stack::budget",
                model = response.model.as_str(),
                "no price for the model; the answer is not charged"
            );
        }
        Ok(response)
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let mut reservation = self.reserve(&req).await?;
        let stream = self.inner.stream(req).await?;
        let price = self
            .ledger
            .prices
            .get(self.inner.id().as_str())
            .or_else(|| self.ledger.prices.most_expensive())
            .copied();
        let ledger = Arc::clone(&self.ledger);
        // The hold lives in the stream: settled by the usage event, freed
        // when the stream is dropped without one.
        Ok(stream.map_events(|events| {
            events.inspect(move |item| {
                if let (Ok(StreamEvent::Usage(usage)), Some(price)) = (item, price) {
                    match reservation.as_mut() {
                        Some(held) => held.settle_in_place(price.cost(usage)),
                        None => ledger.charge(&[], price.cost(usage)),
                    }
                }
            })
        }))
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
