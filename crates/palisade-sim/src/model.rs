//! One simulated model's whole description: identity, quotas, latency, output
//! lengths, failures and price. This is what a scenario's `[[models]]` entry
//! and a fake Bedrock server's config hold.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::distribution::Distribution;
use crate::failure::FailureConfig;
use crate::latency::LatencyConfig;
use crate::limits::{MAX_PRICE_USD, MAX_TOKENS, count_within, number_within};
use crate::prompt_cache::PromptCacheConfig;
use crate::quota::QuotaConfig;

/// Price per million tokens, in US dollars.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Price {
    /// Per million input tokens. Default: 3.00.
    pub input_per_million_usd: f64,
    /// Per million output tokens. Default: 15.00.
    pub output_per_million_usd: f64,
    /// Per million prompt tokens read from the cache. Default: a tenth of
    /// the input price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_read_per_million_usd: Option<f64>,
    /// Per million prompt tokens written to the cache. Default: 1.25 times
    /// the input price.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_write_per_million_usd: Option<f64>,
}

impl Default for Price {
    fn default() -> Self {
        Self {
            input_per_million_usd: 3.0,
            output_per_million_usd: 15.0,
            cache_read_per_million_usd: None,
            cache_write_per_million_usd: None,
        }
    }
}

impl Price {
    /// Cost in dollars of `input` and `output` tokens.
    pub fn cost(&self, input: u64, output: u64) -> f64 {
        self.cost_with_cache(input, output, 0, 0)
    }

    /// Cost in dollars, prompt-cache reads and writes included.
    pub fn cost_with_cache(
        &self,
        input: u64,
        output: u64,
        cache_read: u64,
        cache_write: u64,
    ) -> f64 {
        let read = self
            .cache_read_per_million_usd
            .unwrap_or(self.input_per_million_usd * 0.1);
        let write = self
            .cache_write_per_million_usd
            .unwrap_or(self.input_per_million_usd * 1.25);
        (input as f64 * self.input_per_million_usd
            + output as f64 * self.output_per_million_usd
            + cache_read as f64 * read
            + cache_write as f64 * write)
            / 1_000_000.0
    }

    fn validate(&self) -> Result<(), (&'static str, String)> {
        let check = |key, v: f64| number_within(v, 0.0, MAX_PRICE_USD).map_err(|e| (key, e));
        check("input_per_million_usd", self.input_per_million_usd)?;
        check("output_per_million_usd", self.output_per_million_usd)?;
        if let Some(v) = self.cache_read_per_million_usd {
            check("cache_read_per_million_usd", v)?;
        }
        if let Some(v) = self.cache_write_per_million_usd {
            check("cache_write_per_million_usd", v)?;
        }
        Ok(())
    }
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
    /// Price. Default: $3 / $15 per million input / output tokens.
    #[serde(default)]
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
            price: Price::default(),
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
        self.price
            .validate()
            .map_err(|(f, e)| err(format!("price.{f}"), e))?;
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
