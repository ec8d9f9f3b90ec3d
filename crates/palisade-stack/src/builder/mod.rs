//! Building the canonical stack from a [`StackConfig`].
//!
//! The config describes the candidates; the application supplies a provider
//! for each (by id, or through a factory that gets the candidate's config),
//! because only it knows how to reach a model. The builder then wraps each
//! provider, innermost first, in its per-attempt timeout, rate limiter,
//! circuit breaker and retry layers, routes over them with the configured
//! fallback and router, and puts the budget in front.
//!
//! The per-attempt timeout is innermost (the team's design sketch puts it between
//! retry and breaker) so that it measures the model's time and not the
//! limiter's queueing, and so that a model that hangs opens its breaker: a
//! timeout raised inside the breaker is a failure it counts, where one raised
//! outside would only drop the breaker's call.

mod config;
mod direct;
mod env;
mod named;
mod parse;
mod probes;
mod provider;
mod stack;
mod validate;

use std::collections::HashMap;
use std::sync::Arc;

use palisade_breaker::{CircuitBreaker, CircuitBreakerLayer};
use palisade_core::{Layer, ProviderId, SharedProvider, TokenEstimator};
use palisade_limit::{CostModel, Limiter, LimiterSet, RateLimitLayer};

pub use config::{CandidateConfig, ENV_VARS, RoutingConfig, StackConfig};
pub use env::SIDECAR_ENV_VARS;
pub use provider::ProviderKind;

/// What a [`StackBuilder::provider_factory`] may fail with: any error, boxed.
/// A concrete type, so a factory closure needs no annotation and `?` converts
/// any error into it.
pub type FactoryError = Box<dyn std::error::Error + Send + Sync>;
pub use stack::FallbackStack;

use crate::alert::{Alert, AlertSink, Alerts, UtcClock};
use crate::budget::BudgetLayer;
use crate::fallback::{Candidate, Fallback};
use crate::retry::RetryLayer;
use crate::routing::Router;
use crate::timeout::{TimeoutConfig, TimeoutLayer};
use direct::Direct;
use named::Named;

/// A config that cannot be built into a stack.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StackConfigError {
    /// The TOML did not parse or did not match the schema.
    #[error("stack config: {0}")]
    Toml(String),
    /// An environment variable had a value that cannot work.
    #[error("stack config from the environment: {0}")]
    Env(String),
    /// No candidates were configured.
    #[error(
        "stack config has no candidates (add [[candidates]], or StackConfig::add_models for the models a provider names)"
    )]
    NoCandidates,
    /// Two candidates share an id.
    #[error("stack config: candidate `{0}` appears twice")]
    DuplicateCandidate(String),
    /// A candidate has no provider bound and no factory made one.
    #[error("stack config: no provider for candidate `{0}` (bind one with StackBuilder::provider)")]
    MissingProvider(String),
    /// The factory failed for a candidate.
    #[error("stack config: could not create the provider for candidate `{id}`: {reason}")]
    Factory {
        /// The candidate.
        id: String,
        /// What the factory said.
        reason: String,
    },
    /// A candidate's limiter config is invalid.
    #[error("stack config: candidate `{id}` limit: {reason}")]
    Limit {
        /// The candidate.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A value the stack cannot work with.
    #[error("stack config: `{field}` {problem}")]
    Invalid {
        /// The key, as written in the config file.
        field: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A candidate names a provider there is no client for.
    #[error(
        "stack config: `candidates.{id}.provider` is {name:?}; expected one of \"bedrock\", \"openai\", \"anthropic\", \"sim\""
    )]
    UnknownProvider {
        /// The candidate.
        id: String,
        /// The name as written.
        name: String,
    },
    /// A value in a `limit` or `breaker` table that its crate refuses, under
    /// the key as written in the stack file.
    #[error("stack config: `{field}`: {reason}")]
    InvalidSection {
        /// The key, as written in the config file (`candidates.a.breaker.minimum_calls`).
        field: String,
        /// What its crate says is wrong.
        reason: String,
    },
    /// A candidate's breaker config is invalid.
    #[error("stack config: candidate `{id}` breaker: {reason}")]
    Breaker {
        /// The candidate.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

type Factory = dyn Fn(&CandidateConfig) -> Result<SharedProvider, FactoryError>;
type CostModelFactory = dyn Fn(&CandidateConfig) -> Option<Arc<dyn CostModel>>;

/// Jitter stream of a candidate's circuit breaker (see `candidate_seed`).
const BREAKER_STREAM: u64 = 0;
/// Jitter stream of a candidate's retry layer.
const RETRY_STREAM: u64 = 1;

/// Builds a [`FallbackStack`] from a [`StackConfig`] and the providers.
pub struct StackBuilder {
    config: StackConfig,
    providers: HashMap<String, SharedProvider>,
    factory: Option<Box<Factory>>,
    router: Option<Arc<dyn Router>>,
    estimator: Option<Arc<dyn TokenEstimator>>,
    cost_models: Option<Box<CostModelFactory>>,
    alert_sinks: Vec<AlertSink>,
    alert_clock: UtcClock,
}

impl std::fmt::Debug for StackBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackBuilder")
            .field("config", &self.config)
            .field("providers", &self.providers.keys().collect::<Vec<_>>())
            .field("factory", &self.factory.is_some())
            .field("router", &self.router)
            .field("cost_models", &self.cost_models.is_some())
            .field("alert_sinks", &self.alert_sinks.len())
            .finish_non_exhaustive()
    }
}

impl StackBuilder {
    /// A builder for `config`.
    pub fn new(config: StackConfig) -> Self {
        Self {
            config,
            providers: HashMap::new(),
            factory: None,
            router: None,
            estimator: None,
            cost_models: None,
            alert_sinks: Vec::new(),
            alert_clock: UtcClock::system(),
        }
    }

    /// A builder for a TOML config.
    pub fn from_toml(text: &str) -> Result<Self, StackConfigError> {
        StackConfig::from_toml(text).map(Self::new)
    }

    /// Binds the provider of candidate `id`.
    pub fn provider(
        mut self,
        id: impl Into<String>,
        provider: impl palisade_core::Provider + 'static,
    ) -> Self {
        self.providers.insert(id.into(), Arc::new(provider));
        self
    }

    /// Binds an already shared provider to candidate `id`.
    pub fn shared_provider(mut self, id: impl Into<String>, provider: SharedProvider) -> Self {
        self.providers.insert(id.into(), provider);
        self
    }

    /// Makes the providers of candidates not bound by id, from their config
    /// (for example a client per [`model`](CandidateConfig::model)).
    ///
    /// The factory returns any [`Provider`](palisade_core::Provider) in a
    /// `Result` whose error is the concrete [`FactoryError`], so a closure
    /// needs no type annotation: `Ok(provider)` infers, and `?` turns any
    /// error into a [`StackConfigError::Factory`] naming the candidate.
    ///
    /// ```
    /// # use palisade_core::testing::ScriptedProvider;
    /// # use palisade_stack::{StackBuilder, StackConfigError};
    /// let config = "[[candidates]]\nid = \"a\"\n[[candidates]]\nid = \"b\"\nmodel = \"bad\"\n";
    /// let built = StackBuilder::from_toml(config)?
    ///     .provider_factory(|c| {
    ///         if c.model() == "bad" {
    ///             let port: u16 = "not a port".parse()?; // any error converts
    ///             return Ok(ScriptedProvider::new(format!("{}:{port}", c.id)));
    ///         }
    ///         Ok(ScriptedProvider::new(c.model()).then_text("hi"))
    ///     })
    ///     .build();
    /// assert!(matches!(built, Err(StackConfigError::Factory { id, .. }) if id == "b"));
    /// # Ok::<(), StackConfigError>(())
    /// ```
    pub fn provider_factory<F, P>(mut self, factory: F) -> Self
    where
        F: Fn(&CandidateConfig) -> Result<P, FactoryError> + 'static,
        P: palisade_core::Provider + 'static,
    {
        self.factory = Some(Box::new(move |c| {
            factory(c).map(|p| Arc::new(p) as SharedProvider)
        }));
        self
    }

    /// Replaces the configured routing strategy with a custom router.
    pub fn router(mut self, router: impl Router + 'static) -> Self {
        self.router = Some(Arc::new(router));
        self
    }

    /// Sets the token estimator for the context-window check and the limiters.
    pub fn estimator(mut self, estimator: impl TokenEstimator + 'static) -> Self {
        self.estimator = Some(Arc::new(estimator));
        self
    }

    /// Chooses how each candidate's limiter counts a call against its token
    /// quota: the provider's quota profile (`BedrockQuotaProfile` in
    /// palisade-bedrock, `OpenAiQuotaProfile` in palisade-openai) instead of
    /// the provider-neutral default. `None` for a candidate keeps the
    /// default; `learned_output` in the candidate's `limit` wraps either.
    ///
    /// ```
    /// use std::sync::Arc;
    /// # use palisade_core::testing::ScriptedProvider;
    /// use palisade_limit::{BurndownConfig, CostModel, DefaultCostModel};
    /// use palisade_stack::{StackBuilder, StackConfigError};
    ///
    /// let config = "[limit]\ntokens = { amount = 100000 }\n[[candidates]]\nid = \"big\"\n";
    /// let stack = StackBuilder::from_toml(config)?
    ///     .provider("big", ScriptedProvider::new("big"))
    ///     .cost_model_factory(|c| {
    ///         // This model's output counts 5x against the quota.
    ///         let burndown = BurndownConfig::default().with_model(&c.id, 5);
    ///         Some(Arc::new(DefaultCostModel::new(burndown)) as Arc<dyn CostModel>)
    ///     })
    ///     .build()?;
    /// # drop(stack);
    /// # Ok::<(), StackConfigError>(())
    /// ```
    pub fn cost_model_factory<F>(mut self, factory: F) -> Self
    where
        F: Fn(&CandidateConfig) -> Option<Arc<dyn CostModel>> + 'static,
    {
        self.cost_models = Some(Box::new(factory));
        self
    }

    /// Calls `sink` with every [`Alert`] the stack's `[alerts]` raise, once
    /// per crossing, beside the `warn` event each gets (target
    /// `palisade_stack::alert`). Each sink added is called, in order, on the
    /// task whose call crossed the threshold: keep it quick (send the alert
    /// on a channel for anything slow).
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// # use palisade_core::testing::ScriptedProvider;
    /// # use palisade_core::{ChatRequest, Provider, ProviderError};
    /// use palisade_stack::{Alert, StackBuilder};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let config = "[alerts]\nfailures = { count = 2, window = \"1h\" }\n\
    ///               [retry]\nmax_attempts = 1\n[[candidates]]\nid = \"a\"\n";
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let sink = Arc::clone(&seen);
    /// let stack = StackBuilder::from_toml(config)?
    ///     .provider("a", ScriptedProvider::new("a")
    ///         .then_error(ProviderError::invalid_request("no"))
    ///         .then_error(ProviderError::invalid_request("no")))
    ///     .on_alert(move |alert: &Alert| sink.lock().unwrap().push(alert.clone()))
    ///     .build()?;
    /// for _ in 0..2 {
    ///     assert!(stack.complete(ChatRequest::user("hi")).await.is_err());
    /// }
    /// let seen = seen.lock().unwrap();
    /// assert!(matches!(seen[..], [Alert::Failures { threshold: 2, observed: 2, .. }]));
    /// # Ok(()) }
    /// ```
    pub fn on_alert(mut self, sink: impl Fn(&Alert) + Send + Sync + 'static) -> Self {
        self.alert_sinks.push(Arc::new(sink));
        self
    }

    /// The clock that says which calendar month (UTC) the monthly spend
    /// alert sums over. Default: the system clock.
    pub fn alert_clock(mut self, clock: UtcClock) -> Self {
        self.alert_clock = clock;
        self
    }

    /// The config being built.
    pub fn config(&self) -> &StackConfig {
        &self.config
    }

    /// Builds the stack.
    pub fn build(mut self) -> Result<FallbackStack, StackConfigError> {
        self.config.validate()?;
        let mut candidates = Vec::with_capacity(self.config.candidates.len());
        for (i, c) in self.config.candidates.iter().enumerate() {
            if self.config.candidates[..i].iter().any(|d| d.id == c.id) {
                return Err(StackConfigError::DuplicateCandidate(c.id.clone()));
            }
            let provider = match self.providers.remove(&c.id) {
                Some(p) => p,
                None => match &self.factory {
                    Some(make) => make(c).map_err(|e| StackConfigError::Factory {
                        id: c.id.clone(),
                        reason: e.to_string(),
                    })?,
                    None => return Err(StackConfigError::MissingProvider(c.id.clone())),
                },
            };
            candidates.push(self.candidate(i, c, provider)?);
        }
        let router = self
            .router
            .take()
            .unwrap_or_else(|| self.config.routing.strategy.router());
        let mut fallback = Fallback::new(candidates)
            .with_id(ProviderId::new(&self.config.name))
            .with_config(self.config.fallback.clone())
            .with_shared_router(router);
        if let Some(estimator) = &self.estimator {
            fallback = fallback.with_shared_estimator(Arc::clone(estimator));
        }
        let budget = self.config.budget.clone().map(|b| {
            let layer = BudgetLayer::new(b, self.prices_for_budget());
            // Reservations count input as the limiters do.
            match &self.estimator {
                Some(estimator) => layer.with_estimator(Arc::clone(estimator)),
                None => layer,
            }
        });
        let sinks = std::mem::take(&mut self.alert_sinks);
        let alerts = self
            .config
            .alerts
            .as_ref()
            .filter(|a| !a.is_empty())
            .map(|config| {
                Arc::new(Alerts::new(
                    &self.config.name,
                    config,
                    // The budget's prices, so both count the same dollars.
                    self.prices_for_budget(),
                    self.alert_clock.clone(),
                    sinks,
                ))
            });
        let keyed = self
            .config
            .keyed_limits
            .iter()
            .enumerate()
            .map(|(i, k)| {
                palisade_limit::KeyedLimiters::new(k.clone()).map_err(|e| {
                    StackConfigError::InvalidSection {
                        field: format!("keyed_limit[{i}]"),
                        reason: e.to_string(),
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FallbackStack::new(fallback, budget, self.config)
            .with_keyed(keyed)
            .with_alerts(alerts))
    }

    /// The table the budget prices answers with: `[prices]` plus each
    /// candidate's own price under its model id.
    fn prices_for_budget(&self) -> crate::cost::PriceTable {
        let mut table = self.config.prices.clone();
        for c in &self.config.candidates {
            if let Some(price) = c.price {
                table.insert(c.model(), price);
                table.insert(c.id.clone(), price);
            }
        }
        table
    }

    /// The jitter seed of candidate `index`'s `stream` (retry or breaker),
    /// when the stack has a seed: distinct per candidate and per use, so two
    /// candidates failing together don't back off in lockstep.
    fn candidate_seed(&self, index: usize, stream: u64) -> Option<u64> {
        // SplitMix64's odd constant spreads neighbouring indices apart.
        self.config.seed.map(|seed| {
            seed ^ (index as u64)
                .wrapping_mul(2)
                .wrapping_add(stream)
                .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        })
    }

    /// Wraps one provider: Timeout, then RateLimit, Breaker, Retry outside it.
    fn candidate(
        &self,
        index: usize,
        c: &CandidateConfig,
        provider: SharedProvider,
    ) -> Result<Candidate, StackConfigError> {
        let mut probes: Vec<Arc<dyn crate::CandidateProbe>> = Vec::new();
        // The provider's own id is the model id reported beside the
        // candidate's (unless the config names the model); every layer above
        // sees the candidate's id.
        let model = c
            .model
            .clone()
            .unwrap_or_else(|| provider.id().as_str().to_owned());
        let id = ProviderId::new(&c.id);
        let mut layered: SharedProvider = Arc::new(Named {
            inner: provider,
            id: id.clone(),
        });
        // The per-attempt limit sits innermost, so it times the model alone
        // (not the limiter's queue) and the breaker sees its timeouts as the
        // model's failures instead of as dropped calls.
        let per_attempt = c.timeout.or(self.config.timeout.per_attempt);
        if per_attempt.is_some() {
            let timeout = TimeoutLayer::new(TimeoutConfig {
                per_attempt,
                overall: None,
            });
            layered = Arc::new(timeout.layer(Direct(layered)));
        }
        if let Some(limit) = c.limit.clone().or_else(|| self.config.limit.clone()) {
            let mut limit = limit;
            if limit.name == palisade_limit::LimiterConfig::default().name {
                limit.name = c.id.clone();
            }
            // A profile written in the config is the user's word on how
            // the provider counts: it wins over the factory's.
            let cost_model = match &limit.profile {
                Some(_) => None,
                None => self.cost_models.as_ref().and_then(|f| f(c)),
            };
            let limiter = match cost_model {
                Some(model) => Limiter::with_cost_model(limit, model),
                None => Limiter::new(limit),
            }
            .map_err(|e| StackConfigError::Limit {
                id: c.id.clone(),
                reason: e.to_string(),
            })?;
            let set = LimiterSet::from(limiter);
            probes.push(Arc::new(set.clone()));
            let mut layer = RateLimitLayer::new(set);
            if let Some(estimator) = &self.estimator {
                layer = layer.with_estimator(Arc::clone(estimator));
            }
            layered = Arc::new(layer.layer(Direct(layered)));
        }
        if self.config.breakers {
            let config = c
                .breaker
                .clone()
                .unwrap_or_else(|| self.config.breaker.clone());
            let mut builder = CircuitBreaker::builder(id.clone()).config(config);
            if let Some(seed) = self.candidate_seed(index, BREAKER_STREAM) {
                builder = builder.jitter_seed(seed);
            }
            let breaker = builder.build().map_err(|e| StackConfigError::Breaker {
                id: c.id.clone(),
                reason: e.to_string(),
            })?;
            probes.push(Arc::new(breaker.clone()));
            layered = Arc::new(CircuitBreakerLayer::new(breaker).layer(Direct(layered)));
        }
        let policy = c.retry.clone().unwrap_or_else(|| self.config.retry.clone());
        let retry = match self.candidate_seed(index, RETRY_STREAM) {
            Some(seed) => RetryLayer::seeded(policy, seed),
            None => RetryLayer::new(policy),
        };
        layered = Arc::new(retry.wrap(Direct(layered)));
        probes.push(Arc::new(retry));

        let mut candidate = Candidate::from_shared(layered)
            .with_id(id)
            .with_model(model)
            .with_weight(c.weight);
        if let Some(window) = c.context_window {
            candidate = candidate.with_context_window(window);
        }
        if let Some(cooldown) = c.cooldown {
            candidate = candidate.with_cooldown(cooldown);
        }
        if let Some(tier) = c.tier {
            candidate = candidate.with_tier(tier);
        }
        if let Some(price) = c
            .price
            .or_else(|| self.config.prices.get(c.model()).copied())
        {
            candidate = candidate.with_price(price);
        }
        for probe in probes {
            candidate = candidate.with_probe(probe);
        }
        Ok(candidate)
    }
}
