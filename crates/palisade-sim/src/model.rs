//! One simulated model's whole description: identity, quotas, latency, output
//! lengths, failures and price. This is what a scenario's `[[models]]` entry
//! and a fake Bedrock server's config hold.

use palisade_core::Price;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::distribution::Distribution;
use crate::failure::FailureConfig;
use crate::latency::LatencyConfig;
use crate::limits::{MAX_PRICE_USD, MAX_TOKENS, count_within, number_within};
use crate::prompt_cache::PromptCacheConfig;
use crate::quota::QuotaConfig;

/// What a model's price is when its table has no `price`: $3 / $15 per
/// million input / output tokens, cache reads at a tenth of the input rate
/// and cache writes at 1.25 times it.
pub fn default_price() -> Price {
    Price::new(3.0, 15.0).with_cache(0.3, 3.75)
}

/// Every rate finite, not negative and at most [`MAX_PRICE_USD`]; the error
/// names the rate (`input_per_mtok`).
fn validate_price(price: &Price) -> Result<(), (&'static str, String)> {
    price
        .check()
        .map_err(|rate| (rate, "must be a finite number, not negative".to_owned()))?;
    let rates = [
        ("input_per_mtok", Some(price.input_per_mtok)),
        ("output_per_mtok", Some(price.output_per_mtok)),
        ("cache_read_per_mtok", Some(price.cache_read_per_mtok)),
        ("cache_write_per_mtok", Some(price.cache_write_per_mtok)),
        ("cache_write_1h_per_mtok", price.cache_write_1h_per_mtok),
    ];
    for (rate, value) in rates {
        if let Some(v) = value {
            number_within(v, 0.0, MAX_PRICE_USD).map_err(|e| (rate, e))?;
        }
    }
    Ok(())
}

/// A simulated model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedModelConfig {
    /// The provider id (and model id) it answers as. Required.
    pub id: String,
    /// Context window in tokens; longer inputs fail with
    /// `ContextWindowExceeded`. Default: 200,000.
    #[serde(default = "default_context_window")]
    pub context_window: u32,
    /// Quotas. Default: none.
    #[serde(default)]
    pub quota: QuotaConfig,
    /// Latency profile. Default: see [`LatencyConfig`].
    #[serde(default)]
    pub latency: LatencyConfig,
    /// Output length in tokens before clamping to `[1, max_tokens]`; a draw at
    /// or over `max_tokens` stops with `MaxTokens`.
    /// Default: log-normal, median 300, sigma 0.6.
    #[serde(default = "default_output_tokens")]
    pub output_tokens: Distribution,
    /// Failure injection. Default: none.
    #[serde(default)]
    pub failures: FailureConfig,
    /// Price, in `palisade-core`'s [`Price`] (`input_per_mtok`,
    /// `output_per_mtok`, `cache_read_per_mtok`, `cache_write_per_mtok`;
    /// the cache rates default to 0 when the table is given). Default:
    /// [`default_price`].
    #[serde(default = "default_price")]
    pub price: Price,
    /// Prompt caching at the requests' cache points, and how the token
    /// quota counts cache reads. Default: off.
    #[serde(default, skip_serializing_if = "is_default")]
    pub prompt_cache: PromptCacheConfig,
}

fn is_default(cache: &PromptCacheConfig) -> bool {
    *cache == PromptCacheConfig::default()
}

fn default_context_window() -> u32 {
    200_000
}

fn default_output_tokens() -> Distribution {
    Distribution::LogNormal {
        median: 300.0,
        sigma: 0.6,
    }
}

impl SimulatedModelConfig {
    /// A model with the given id, no quotas, no failures, default latency.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            context_window: default_context_window(),
            quota: QuotaConfig::default(),
            latency: LatencyConfig::default(),
            output_tokens: default_output_tokens(),
            failures: FailureConfig::default(),
            price: default_price(),
            prompt_cache: PromptCacheConfig::default(),
        }
    }

    /// Sets requests and tokens per minute and the output burndown.
    pub fn with_quota(mut self, rpm: u32, tpm: u64, output_burndown: f64) -> Self {
        self.quota.rpm = Some(rpm);
        self.quota.tpm = Some(tpm);
        self.quota.output_burndown = output_burndown;
        self
    }

    /// Sets the output length distribution.
    pub fn with_output_tokens(mut self, output_tokens: Distribution) -> Self {
        self.output_tokens = output_tokens;
        self
    }

    /// Sets the latency profile.
    pub fn with_latency(mut self, latency: LatencyConfig) -> Self {
        self.latency = latency;
        self
    }

    /// Sets the prompt cache.
    pub fn with_prompt_cache(mut self, prompt_cache: PromptCacheConfig) -> Self {
        self.prompt_cache = prompt_cache;
        self
    }

    /// Sets the failure injection.
    pub fn with_failures(mut self, failures: FailureConfig) -> Self {
        self.failures = failures;
        self
    }

    /// Checks every parameter; the error names the field.
    pub fn validate(&self) -> Result<(), ModelConfigError> {
        let err = |field: String, message: String| ModelConfigError {
            model: self.id.clone(),
            field,
            message,
        };
        if self.id.trim().is_empty() {
            return Err(err("id".into(), "must not be empty".into()));
        }
        count_within(self.context_window, 1, MAX_TOKENS)
            .map_err(|e| err("context_window".into(), e))?;
        self.quota
            .validate()
            .map_err(|(f, e)| err(format!("quota.{f}"), e))?;
        self.latency
            .validate()
            .map_err(|(f, e)| err(format!("latency.{f}"), e))?;
        self.output_tokens
            .validate(f64::from(MAX_TOKENS))
            .map_err(|(k, e)| err(format!("output_tokens.{k}"), e))?;
        self.failures
            .validate()
            .map_err(|(f, e)| err(format!("failures.{f}"), e))?;
        validate_price(&self.price).map_err(|(f, e)| err(format!("price.{f}"), e))?;
        self.prompt_cache
            .validate()
            .map_err(|(f, e)| err(format!("prompt_cache.{f}"), e))?;
        Ok(())
    }
}

/// A simulated model's description has a bad value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("model {model:?}: `{field}` {message}")]
pub struct ModelConfigError {
    /// The model's id.
    pub model: String,
    /// The offending field, as a path inside the model's table.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}
