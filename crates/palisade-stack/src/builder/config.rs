//! The serde form of a whole stack: one TOML file describes the candidates,
//! their limits and breakers, retry, timeouts, fallback, routing, budget and
//! prices. `docs/config.md` documents every key.

use std::time::Duration;

use palisade_breaker::BreakerConfig;
use palisade_core::Price;
use palisade_limit::LimiterConfig;
use serde::{Deserialize, Serialize};

use super::StackConfigError;
use super::provider::ProviderKind;
use crate::alert::AlertConfig;
use crate::budget::BudgetConfig;
use crate::cost::PriceTable;
use crate::fallback::FallbackConfig;
use crate::retry::RetryPolicy;
use crate::routing::RoutingStrategy;
use crate::timeout::TimeoutConfig;

/// A whole stack. Every section has defaults; only `candidates` is required
/// to build one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StackConfig {
    /// The stack's id in logs and errors. Default `"stack"`.
    pub name: String,
    /// The candidates, in priority order.
    pub candidates: Vec<CandidateConfig>,
    /// Retry policy of every candidate (a candidate's own `retry` replaces it).
    pub retry: RetryPolicy,
    /// Time limits: `per_attempt` for every candidate call, `overall` as the
    /// deadline of requests that carry none.
    pub timeout: TimeoutConfig,
    /// How the fallback moves between candidates.
    pub fallback: FallbackConfig,
    /// The order candidates are tried in.
    pub routing: RoutingConfig,
    /// Circuit breaker of every candidate (a candidate's own `breaker`
    /// replaces it). Default: `palisade-breaker`'s defaults.
    pub breaker: BreakerConfig,
    /// Whether candidates get circuit breakers at all. Default `true`.
    pub breakers: bool,
    /// Rate limits of every candidate without its own `limit`. Default:
    /// none (no limiter layer).
    pub limit: Option<LimiterConfig>,
    /// Spending limits; no budget layer when absent.
    pub budget: Option<BudgetConfig>,
    /// Prices by model id, USD per million tokens.
    pub prices: PriceTable,
    /// Alert-only thresholds (monthly spend, failures per window); none
    /// when absent.
    pub alerts: Option<AlertConfig>,
    /// Limits per value of a request tag (`[[keyed_limit]]`: per user, per
    /// task type), applied in front of the fallback so a request counts
    /// once however many attempts and candidates it takes. Default: none.
    #[serde(rename = "keyed_limit", skip_serializing_if = "Vec::is_empty")]
    pub keyed_limits: Vec<palisade_limit::KeyedLimitConfig>,
    /// Seed of the retry and breaker jitter, so a stack replays the same
    /// delays for the same failures (simulations, reproducing an incident).
    /// Each candidate draws from its own stream derived from this seed and
    /// its position. Default: none, jitter seeded from the OS.
    pub seed: Option<u64>,
}

impl Default for StackConfig {
    fn default() -> Self {
        Self {
            name: "stack".to_owned(),
            candidates: Vec::new(),
            retry: RetryPolicy::default(),
            timeout: TimeoutConfig::default(),
            fallback: FallbackConfig::default(),
            routing: RoutingConfig::default(),
            breaker: BreakerConfig::default(),
            breakers: true,
            limit: None,
            budget: None,
            prices: PriceTable::default(),
            alerts: None,
            keyed_limits: Vec::new(),
            seed: None,
        }
    }
}

/// `[routing]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoutingConfig {
    /// Default `priority`.
    pub strategy: RoutingStrategy,
}

/// One `[[candidates]]` entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateConfig {
    /// The provider id the application binds a provider to (see
    /// [`StackBuilder::provider`](super::StackBuilder::provider)).
    pub id: String,
    /// The model id, for prices and for provider factories. Default: `id`.
    #[serde(default)]
    pub model: Option<String>,
    /// Weight for `weighted_random` routing. Default 1.
    #[serde(default = "one")]
    pub weight: f64,
    /// Context window in tokens, overriding what the provider reports.
    #[serde(default)]
    pub context_window: Option<u32>,
    /// Price, overriding the `[prices]` entry for the model.
    #[serde(default)]
    pub price: Option<Price>,
    /// Rate limits, overriding the stack's `[limit]`.
    #[serde(default)]
    pub limit: Option<LimiterConfig>,
    /// Circuit breaker, overriding the stack's `[breaker]`.
    #[serde(default)]
    pub breaker: Option<BreakerConfig>,
    /// Retry policy, overriding the stack's `[retry]`.
    #[serde(default)]
    pub retry: Option<RetryPolicy>,
    /// Per-attempt time limit, overriding `timeout.per_attempt`.
    #[serde(default, with = "palisade_core::duration::option")]
    pub timeout: Option<Duration>,
    /// Cooldown after this candidate fails throttled, overloaded or
    /// unavailable with no `retry_after`, overriding
    /// `fallback.cooldown.default` (`"0s"` turns it off for this candidate).
    #[serde(default, with = "palisade_core::duration::option")]
    pub cooldown: Option<Duration>,
    /// Which client serves the candidate, for applications that make
    /// providers from the config (`palisade chat`): `"bedrock"`, `"openai"`,
    /// `"anthropic"` or `"sim"`. Default: `"sim"` for a model id starting
    /// with `sim/`, else `"bedrock"` (see [`provider_kind`](Self::provider_kind)).
    /// Kept as written so an unknown name is reported with its candidate.
    #[serde(default)]
    pub provider: Option<String>,
    /// Where the provider's API is (OpenAI: the URL `/chat/completions` is
    /// appended to; Anthropic: the URL `/v1/messages` is appended to;
    /// Bedrock: the endpoint override, the same as `endpoint_url`).
    /// Default: the provider's own endpoint.
    #[serde(default)]
    pub base_url: Option<String>,
    /// The name of the environment variable holding the API key (OpenAI and
    /// Anthropic candidates). The key itself never appears in the config.
    #[serde(default)]
    pub api_key_env: Option<String>,
    /// The AWS region of a Bedrock candidate. Default: `BEDROCK_REGION`,
    /// `AWS_REGION`, then the AWS profile's.
    #[serde(default)]
    pub region: Option<String>,
    /// The Bedrock Runtime endpoint of a Bedrock candidate (a VPC endpoint,
    /// a local fake). Default: the region's, or
    /// `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` / `AWS_ENDPOINT_URL` when set.
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// The service tier this candidate calls: a pool of the model with its
    /// own quota and price (`flex`, `default`, `priority`, `reserved`).
    /// Calls go out with that tier; a request asking for a higher tier
    /// (`ChatRequest::service_tier`, cheapest first: flex, default,
    /// priority, reserved) skips it. List the pools cheapest first for
    /// cost-aware spill-over (docs/limits.md, "Service tiers as pools").
    /// Default: none (the request's own tier).
    #[serde(default)]
    pub tier: Option<palisade_core::ServiceTier>,
}

fn one() -> f64 {
    1.0
}

impl CandidateConfig {
    /// A candidate named `id` with every setting from the stack.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            model: None,
            weight: 1.0,
            context_window: None,
            price: None,
            limit: None,
            breaker: None,
            retry: None,
            timeout: None,
            cooldown: None,
            provider: None,
            base_url: None,
            api_key_env: None,
            region: None,
            endpoint_url: None,
            tier: None,
        }
    }

    /// Names the candidate's provider (`provider = "…"`).
    #[must_use]
    pub fn with_provider(mut self, kind: ProviderKind) -> Self {
        self.provider = Some(kind.as_str().to_owned());
        self
    }

    /// The model id: `model`, else `id`.
    pub fn model(&self) -> &str {
        self.model.as_deref().unwrap_or(&self.id)
    }
}

/// The environment variables [`StackConfig::apply_env`] reads: the
/// limiter's, applied through `palisade-limit`. Which models to call is the
/// provider's business (each provider crate reads its own variables); add them with
/// [`StackConfig::add_models`].
pub const ENV_VARS: [&str; 3] = palisade_limit::ENV_VARS;

impl StackConfig {
    /// Refuses every value the stack cannot work with, each error naming its
    /// key as written in the file (`candidates.<id>.…` for a candidate's
    /// own): zero attempts, rounds or timeouts, negative or NaN numbers,
    /// durations beyond 100 years, and the limiter's and breaker's own rules
    /// for every `limit` and `breaker` table. docs/config.md lists them all.
    /// [`StackBuilder::build`](super::StackBuilder::build) calls it.
    ///
    /// ```
    /// # use palisade_stack::{StackConfig, StackConfigError};
    /// let config = StackConfig::from_toml("[retry]\nmax_attempts = 0\n[[candidates]]\nid = \"a\"\n")?;
    /// let err = config.validate().unwrap_err();
    /// assert!(err.to_string().contains("`retry.max_attempts`"), "{err}");
    /// # Ok::<(), StackConfigError>(())
    /// ```
    pub fn validate(&self) -> Result<(), StackConfigError> {
        super::validate::stack(self)
    }

    /// Parses a TOML document.
    pub fn from_toml(text: &str) -> Result<Self, StackConfigError> {
        super::parse::stack_config(text)
    }

    /// Renders the config as TOML.
    pub fn to_toml(&self) -> Result<String, StackConfigError> {
        toml::to_string(self).map_err(|e| StackConfigError::Toml(e.to_string()))
    }

    /// The defaults with the environment applied (see [`apply_env`](StackConfig::apply_env)).
    pub fn from_env() -> Result<Self, StackConfigError> {
        let mut config = Self::default();
        config.apply_env_from(|name| std::env::var(name).ok())?;
        Ok(config)
    }

    /// Applies the environment knobs: `MAX_REQUESTS_PER_MINUTE`,
    /// `MAX_CONCURRENT_REQUESTS`, `MAX_TOKENS_PER_MINUTE` set those limits on
    /// the stack's `[limit]` (the default of every candidate). Then the
    /// rate-limiting sidecar's ([`SIDECAR_ENV_VARS`](super::SIDECAR_ENV_VARS)):
    /// `REQUEST_TIMEOUT` sets `timeout.per_attempt`, `MAX_RETRIES` sets
    /// `retry.max_attempts` (the sidecar's count of calls in all),
    /// `MONTHLY_BUDGET_ALERT` sets `alerts.monthly_spend_usd` (alert-only,
    /// as in the sidecar), `DEFAULT_MODEL` becomes the first candidate
    /// (added when absent), and
    /// `BEDROCK_`/`OPENAI_`/`ANTHROPIC_` `RPM` and `TPM` set the requests and
    /// tokens per minute of each candidate of that provider present when
    /// this is called. docs/config.md's Environment section has the whole
    /// table, and what is not carried (`MAX_WORKERS`) and why.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use palisade_stack::{StackConfig, StackConfigError};
    /// let env = |name: &str| match name {
    ///     "DEFAULT_MODEL" => Some("us.anthropic.claude-sonnet-4-6".to_owned()),
    ///     "REQUEST_TIMEOUT" => Some("30".to_owned()),
    ///     "BEDROCK_RPM" => Some("30".to_owned()),
    ///     _ => None,
    /// };
    /// let mut config = StackConfig::default();
    /// config.apply_env_from(env)?;
    /// assert_eq!(config.candidates[0].id, "us.anthropic.claude-sonnet-4-6");
    /// assert_eq!(config.timeout.per_attempt, Some(Duration::from_secs(30)));
    /// let limit = config.candidates[0].limit.as_ref().unwrap();
    /// assert_eq!(limit.requests.unwrap().amount, 30);
    ///
    /// let err = config.apply_env_from(|n| (n == "MAX_RETRIES").then(|| "three".to_owned()));
    /// assert!(err.unwrap_err().to_string().contains("`MAX_RETRIES` = \"three\""));
    /// # Ok::<(), StackConfigError>(())
    /// ```
    ///
    /// Model lists and regions belong to the provider crates, which read
    /// their own variables; add the models they name with
    /// [`add_models`](StackConfig::add_models).
    pub fn apply_env(&mut self) -> Result<(), StackConfigError> {
        self.apply_env_from(|name| std::env::var(name).ok())
    }

    /// [`apply_env`](StackConfig::apply_env) over any lookup.
    pub fn apply_env_from(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), StackConfigError> {
        let from_env = LimiterConfig::from_lookup(&lookup)
            .map_err(|e| StackConfigError::Env(e.to_string()))?;
        let limit = self.limit.get_or_insert_with(LimiterConfig::default);
        if from_env.requests.is_some() {
            limit.requests = from_env.requests;
        }
        if from_env.max_concurrent.is_some() {
            limit.max_concurrent = from_env.max_concurrent;
        }
        if from_env.tokens.is_some() {
            limit.tokens = from_env.tokens;
        }
        if limit.requests.is_none() && limit.tokens.is_none() && limit.max_concurrent.is_none() {
            self.limit = None;
        }
        self.apply_sidecar_env(&lookup)
    }
}

impl StackConfig {
    /// Appends a candidate per model id, in order, each with every setting
    /// from the stack and the model id as its candidate id; blank ids and ids
    /// already among the candidates are skipped. For model lists a provider
    /// crate reads from its environment:
    ///
    /// ```
    /// # use palisade_stack::StackConfig;
    /// let mut config = StackConfig::default();
    /// config.add_models(["primary-model", " fallback-model ", "primary-model", ""]);
    /// let ids: Vec<&str> = config.candidates.iter().map(|c| c.id.as_str()).collect();
    /// assert_eq!(ids, ["primary-model", "fallback-model"]);
    /// ```
    pub fn add_models<I>(&mut self, models: I)
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        for model in models {
            let model = model.as_ref().trim();
            if !model.is_empty() && !self.candidates.iter().any(|c| c.id == model) {
                self.candidates.push(CandidateConfig::new(model));
            }
        }
    }
}
