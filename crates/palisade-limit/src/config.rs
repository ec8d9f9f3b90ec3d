//! Serde configuration with documented defaults, and `from_env()`.
//!
//! Durations are read by `palisade_core::duration`, as in every Palisade
//! config: a number of seconds (`period = 60`, `max_wait = 2.5`) or a string
//! with a unit (`max_wait = "2500ms"`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::adaptive::AdaptiveConfig;
use crate::clock::ClockSource;
use crate::config_error::ConfigError;
use crate::cost::BurndownConfig;
use crate::learned::LearnedOutputConfig;
use crate::profile::QuotaProfileConfig;

/// A quota: `amount` units per `period`, with a bucket of `burst` units.
///
/// In any window of one `period` the limiter admits at most
/// `amount + burst` units; `burst` is how many may go at once after a quiet
/// spell. Providers refill continuously (Anthropic documents a token bucket
/// whose capacity is the per-minute limit), hence the default `burst = amount`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// Units (requests or tokens) per period. Must be at least 1.
    pub amount: u64,
    /// The period. Default 60 s. Must not be zero.
    #[serde(default = "minute", with = "palisade_core::duration")]
    pub period: Duration,
    /// Bucket size; default (`None`) = `amount`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u64>,
}

fn minute() -> Duration {
    Duration::from_secs(60)
}

fn day() -> Duration {
    Duration::from_secs(24 * 60 * 60)
}

/// `tokens_per_day` reads as a [`Quota`] whose period defaults to a day
/// (`tokens_per_day = { amount = 2_000_000 }`), or as a bare amount
/// (`tokens_per_day = 2_000_000`).
mod day_quota {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Quota;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        amount: u64,
        #[serde(default = "super::day", with = "palisade_core::duration")]
        period: Duration,
        #[serde(default)]
        burst: Option<u64>,
    }

    #[derive(Deserialize)]
    #[serde(
        untagged,
        expecting = "an amount of tokens, or a table with `amount` (and `period`, `burst`)"
    )]
    enum Repr {
        Amount(u64),
        Table(Table),
    }

    pub(super) fn serialize<S: Serializer>(q: &Option<Quota>, s: S) -> Result<S::Ok, S::Error> {
        q.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Quota>, D::Error> {
        Ok(Some(match Repr::deserialize(d)? {
            Repr::Amount(amount) => Quota::per(amount, super::day()),
            Repr::Table(t) => Quota {
                amount: t.amount,
                period: t.period,
                burst: t.burst,
            },
        }))
    }
}

impl Quota {
    /// `amount` per minute, burst `amount`.
    pub const fn per_minute(amount: u64) -> Self {
        Self {
            amount,
            period: Duration::from_secs(60),
            burst: None,
        }
    }

    /// `amount` per second, burst `amount`.
    pub const fn per_second(amount: u64) -> Self {
        Self {
            amount,
            period: Duration::from_secs(1),
            burst: None,
        }
    }

    /// `amount` per day, burst `amount`.
    pub const fn per_day(amount: u64) -> Self {
        Self {
            amount,
            period: Duration::from_secs(24 * 60 * 60),
            burst: None,
        }
    }

    /// `amount` per `period`, burst `amount`.
    pub const fn per(amount: u64, period: Duration) -> Self {
        Self {
            amount,
            period,
            burst: None,
        }
    }

    /// Sets the bucket size.
    pub const fn with_burst(mut self, burst: u64) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The bucket size in effect.
    pub fn burst(&self) -> u64 {
        self.burst.unwrap_or(self.amount)
    }

    fn validate(&self, field: &'static str) -> Result<(), ConfigError> {
        if self.amount == 0 {
            return Err(ConfigError::invalid(field, "amount must be at least 1"));
        }
        if self.period.is_zero() {
            return Err(ConfigError::invalid(field, "period must not be zero"));
        }
        if self.burst == Some(0) {
            return Err(ConfigError::invalid(field, "burst must be at least 1"));
        }
        Ok(())
    }
}

/// What happens to a reservation when its [`Permit`](crate::Permit) is dropped
/// without being settled (the call failed, was cancelled, or the caller
/// panicked). The concurrency slot is released in every case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DropRule {
    /// Give the whole token reservation back (default). Providers do not bill
    /// a call that failed before answering, and providers that reserve up
    /// front return the reservation of a failed request; a layer that saw
    /// usage settles from it
    /// instead of dropping.
    #[default]
    RefundAll,
    /// Keep the input part and refund the output part: for providers that
    /// bill the prompt of a call that failed mid-answer.
    KeepInput,
    /// Keep the whole reservation: the most conservative choice when usage of
    /// failed calls is unknown.
    KeepAll,
}

/// Everything a [`Limiter`](crate::Limiter) needs. Every field has a default;
/// the default config limits nothing (no limit configured admits everything).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimiterConfig {
    /// Name used in errors, logs and stats. Default `"default"`.
    pub name: String,
    /// Requests per period (GCRA). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests: Option<Quota>,
    /// Tokens per period, all kinds combined (input, cache, output times
    /// its burndown, as the cost model counts them), reserve-then-settle.
    /// Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Quota>,
    /// Input tokens per period (what the cost model counts as input:
    /// by default input plus cache writes, cache reads settled back).
    /// Anthropic's API and Bedrock's Messages-API endpoint limit it apart
    /// from output. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<Quota>,
    /// Output tokens per period: `max_tokens` (or the learned reservation)
    /// at admission, settled to the real output. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<Quota>,
    /// Tokens per day, counted as `tokens` is. Its period defaults to a
    /// day; a bare number is an amount per day. Default: none.
    #[serde(default, with = "day_quota", skip_serializing_if = "Option::is_none")]
    pub tokens_per_day: Option<Quota>,
    /// Most requests in flight. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent: Option<u32>,
    /// Longest a request waits in the queue before it fails with
    /// `RateLimited`; a request's own deadline shortens it. Default 30 s.
    #[serde(with = "palisade_core::duration")]
    pub max_wait: Duration,
    /// A waiting request is served as if one priority higher for every
    /// `priority_aging` it has waited, so low priorities cannot starve under
    /// sustained high-priority load. Zero = strict priority. Default 10 s.
    #[serde(with = "palisade_core::duration")]
    pub priority_aging: Duration,
    /// What a dropped, unsettled permit gives back. Default `refund_all`.
    pub on_drop: DropRule,
    /// Adaptive rate (off by default).
    pub adaptive: AdaptiveConfig,
    /// Output burndown by model for the default cost model.
    pub burndown: BurndownConfig,
    /// How the provider counts a call against each dimension, for a
    /// provider Palisade ships no profile for (see
    /// [`QuotaProfileConfig`]); when set it is the limiter's cost model in
    /// place of the default one (and of a provider's profile given to the
    /// stack builder). Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<QuotaProfileConfig>,
    /// Reserve each route's learned output (a high quantile of what its
    /// replies used) instead of `max_tokens`; off by default. Wraps whatever
    /// cost model the limiter uses (the default, a provider's quota profile
    /// given to `Limiter::with_cost_model`) in
    /// [`LearnedOutput`](crate::LearnedOutput).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned_output: Option<LearnedOutputConfig>,
    /// Where time is read. Default `tokio` (follows paused time, reading
    /// the CPU's time-stamp counter where tokio's clock cannot be paused);
    /// `tsc` reads the counter everywhere and must not be used under paused
    /// time.
    pub clock: ClockSource,
}

impl Default for LimiterConfig {
    fn default() -> Self {
        Self {
            name: "default".to_owned(),
            requests: None,
            tokens: None,
            input_tokens: None,
            output_tokens: None,
            tokens_per_day: None,
            max_concurrent: None,
            max_wait: Duration::from_secs(30),
            priority_aging: Duration::from_secs(10),
            on_drop: DropRule::RefundAll,
            adaptive: AdaptiveConfig::default(),
            burndown: BurndownConfig::default(),
            profile: None,
            learned_output: None,
            clock: ClockSource::Tokio,
        }
    }
}

/// The environment variables [`LimiterConfig::from_env`] reads.
pub const ENV_VARS: [&str; 3] = [
    "MAX_REQUESTS_PER_MINUTE",
    "MAX_CONCURRENT_REQUESTS",
    "MAX_TOKENS_PER_MINUTE",
];

impl LimiterConfig {
    /// A config with nothing limited, named `name`.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The document-analysis service's limits (the system Palisade replaces
    /// on Bedrock): 30 requests a minute, 5 in flight, 120,000 tokens a
    /// minute; everything else default. Beside
    /// `palisade_breaker::BreakerConfig::seed()` and
    /// `palisade_stack::RetryPolicy::seed()`.
    ///
    /// ```
    /// # use palisade_limit::{LimiterConfig, Quota};
    /// let config = LimiterConfig::seed_document_service();
    /// assert_eq!(config.requests, Some(Quota::per_minute(30)));
    /// assert_eq!(config.max_concurrent, Some(5));
    /// assert_eq!(config.tokens, Some(Quota::per_minute(120_000)));
    /// config.validate()?;
    /// # Ok::<(), palisade_limit::ConfigError>(())
    /// ```
    pub fn seed_document_service() -> Self {
        Self::default()
            .with_requests(Quota::per_minute(30))
            .with_max_concurrent(5)
            .with_tokens(Quota::per_minute(120_000))
    }

    /// Sets the requests quota.
    pub fn with_requests(mut self, quota: Quota) -> Self {
        self.requests = Some(quota);
        self
    }

    /// Sets the tokens quota.
    pub fn with_tokens(mut self, quota: Quota) -> Self {
        self.tokens = Some(quota);
        self
    }

    /// Limits input tokens per period (see [`LimiterConfig::input_tokens`]).
    pub fn with_input_tokens(mut self, quota: Quota) -> Self {
        self.input_tokens = Some(quota);
        self
    }

    /// Limits output tokens per period (see [`LimiterConfig::output_tokens`]).
    pub fn with_output_tokens(mut self, quota: Quota) -> Self {
        self.output_tokens = Some(quota);
        self
    }

    /// Limits tokens per day (see [`LimiterConfig::tokens_per_day`]).
    pub fn with_tokens_per_day(mut self, quota: Quota) -> Self {
        self.tokens_per_day = Some(quota);
        self
    }

    /// Sets the concurrency cap.
    pub fn with_max_concurrent(mut self, max: u32) -> Self {
        self.max_concurrent = Some(max);
        self
    }

    /// Sets the longest wait in the queue.
    pub fn with_max_wait(mut self, max_wait: Duration) -> Self {
        self.max_wait = max_wait;
        self
    }

    /// Sets the adaptive-rate settings.
    pub fn with_adaptive(mut self, adaptive: AdaptiveConfig) -> Self {
        self.adaptive = adaptive;
        self
    }

    /// Reserves each route's learned output instead of `max_tokens` (see
    /// [`LearnedOutput`](crate::LearnedOutput)).
    pub fn with_learned_output(mut self, learned: LearnedOutputConfig) -> Self {
        self.learned_output = Some(learned);
        self
    }

    /// Sets the output burndown rules of the default cost model.
    pub fn with_burndown(mut self, burndown: BurndownConfig) -> Self {
        self.burndown = burndown;
        self
    }

    /// Sets where time is read.
    pub fn with_clock(mut self, clock: ClockSource) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the drop rule.
    pub fn with_drop_rule(mut self, rule: DropRule) -> Self {
        self.on_drop = rule;
        self
    }

    /// The default config with `MAX_REQUESTS_PER_MINUTE`,
    /// `MAX_CONCURRENT_REQUESTS` and `MAX_TOKENS_PER_MINUTE` applied where set.
    /// An unset or empty variable leaves that limit off.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`from_env`](LimiterConfig::from_env) over any lookup (for tests and
    /// for configs layered from other sources).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        let read = |name: &'static str| -> Result<Option<u64>, ConfigError> {
            match lookup(name) {
                None => Ok(None),
                Some(v) if v.trim().is_empty() => Ok(None),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(0) | Err(_) => Err(ConfigError::Env {
                        var: name,
                        value: v,
                        reason: "expected a whole number of at least 1",
                    }),
                    Ok(n) => Ok(Some(n)),
                },
            }
        };
        if let Some(n) = read("MAX_REQUESTS_PER_MINUTE")? {
            config.requests = Some(Quota::per_minute(n));
        }
        if let Some(n) = read("MAX_CONCURRENT_REQUESTS")? {
            config.max_concurrent = Some(u32::try_from(n).unwrap_or(u32::MAX));
        }
        if let Some(n) = read("MAX_TOKENS_PER_MINUTE")? {
            config.tokens = Some(Quota::per_minute(n));
        }
        Ok(config)
    }

    /// Checks every field; [`Limiter::new`](crate::Limiter::new) calls it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(q) = &self.requests {
            q.validate("requests")?;
        }
        if let Some(q) = &self.tokens {
            q.validate("tokens")?;
        }
        if let Some(q) = &self.input_tokens {
            q.validate("input_tokens")?;
        }
        if let Some(q) = &self.output_tokens {
            q.validate("output_tokens")?;
        }
        if let Some(q) = &self.tokens_per_day {
            q.validate("tokens_per_day")?;
        }
        if self.max_concurrent == Some(0) {
            return Err(ConfigError::invalid(
                "max_concurrent",
                "must be at least 1 (leave it unset for no cap)",
            ));
        }
        if let Some((field, reason)) = self.profile.as_ref().and_then(|p| p.invalid()) {
            return Err(ConfigError::invalid(field, reason));
        }
        if let Some((field, reason)) = self.learned_output.as_ref().and_then(|l| l.invalid()) {
            return Err(ConfigError::invalid(field, reason));
        }
        self.adaptive.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_env_reads_the_three_variables() {
        let env = |name: &str| match name {
            "MAX_REQUESTS_PER_MINUTE" => Some("50".to_owned()),
            "MAX_CONCURRENT_REQUESTS" => Some(" 4 ".to_owned()),
            "MAX_TOKENS_PER_MINUTE" => Some(String::new()),
            _ => None,
        };
        let config = LimiterConfig::from_lookup(env).unwrap();
        assert_eq!(config.requests, Some(Quota::per_minute(50)));
        assert_eq!(config.max_concurrent, Some(4));
        assert_eq!(config.tokens, None);
    }

    #[test]
    fn from_env_names_the_bad_variable() {
        let env = |name: &str| (name == "MAX_TOKENS_PER_MINUTE").then(|| "lots".to_owned());
        let err = LimiterConfig::from_lookup(env).unwrap_err();
        assert!(err.to_string().contains("MAX_TOKENS_PER_MINUTE"), "{err}");
    }

    #[test]
    fn toml_round_trip_with_defaults() {
        let config: LimiterConfig = toml::from_str(
            "name = \"claude\"\nmax_concurrent = 8\n[tokens]\namount = 10000\n[requests]\namount = 5\nperiod = 1\n",
        )
        .unwrap();
        assert_eq!(config.tokens, Some(Quota::per_minute(10_000)));
        assert_eq!(config.requests, Some(Quota::per_second(5)));
        assert_eq!(config.max_wait, Duration::from_secs(30));
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<LimiterConfig>(&text).unwrap(), config);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = toml::from_str::<LimiterConfig>("max_concurent = 4\n").unwrap_err();
        assert!(err.to_string().contains("max_concurent"), "{err}");
        let err =
            toml::from_str::<LimiterConfig>("[tokens]\namount = 5\nbursts = 3\n").unwrap_err();
        assert!(err.to_string().contains("bursts"), "{err}");
    }

    #[test]
    fn validate_names_the_field() {
        let err = LimiterConfig::default()
            .with_tokens(Quota::per_minute(0))
            .validate()
            .unwrap_err();
        assert!(err.to_string().contains("`tokens`"), "{err}");
    }
}
