//! How limits keyed by a request tag are configured: which tag, the
//! template limit, per-value overrides, the memory bound, and what a request
//! without the tag gets.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{LimiterConfig, Quota};
use crate::config_error::ConfigError;

/// One limiter per value of a request tag: per user (`tag = "user"` reads
/// `user=alice`), per task type (`tag = "task"` reads `task=analysis`).
///
/// ```toml
/// tag = "task"
/// max_keys = 1000
/// idle_ttl = "10m"
/// untagged = "unlimited"
/// [limit.requests]
/// amount = 20
/// [overrides.analysis.requests]
/// amount = 5
/// [overrides.chat.requests]
/// amount = 10
/// ```
///
/// Read with [`KeyedLimiters::new`](crate::KeyedLimiters::new), which
/// validates it ([`KeyedLimitConfig::validate`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyedLimitConfig {
    /// The tag whose value selects the limiter: `user` reads the tag
    /// `user=alice` as the key `alice`. Must not be empty nor contain `=`.
    pub tag: String,
    /// The template every value's limiter follows (its `name` is replaced
    /// by `{tag}:{value}`).
    #[serde(default)]
    pub limit: LimiterConfig,
    /// Values with their own limit instead of the template (whole configs,
    /// not merged with `limit`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub overrides: BTreeMap<String, LimiterConfig>,
    /// At most this many limiters live at once. Default 10,000. When full,
    /// the least recently used limiter that nobody holds is dropped to make
    /// room (it forgets its count); when every one is held, a new value is
    /// refused until one is released.
    #[serde(default = "default_max_keys")]
    pub max_keys: usize,
    /// A limiter nobody holds and no request used for this long is dropped.
    /// Default 10 minutes. Must be at least the time the longest quota takes
    /// to refill (its period, times burst / amount), so that dropping an
    /// idle limiter never forgives calls still inside its window.
    #[serde(default = "default_idle_ttl", with = "palisade_core::duration")]
    pub idle_ttl: Duration,
    /// What a request without the tag (or with an empty value) gets.
    #[serde(default)]
    pub untagged: Untagged,
}

/// What a request without the keyed tag is admitted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Untagged {
    /// No keyed limit (the default): the layer's fixed limiters still
    /// apply. Suits limits that exist to share capacity fairly between the
    /// callers who say who they are.
    #[default]
    Unlimited,
    /// One limiter, following the template, shared by every untagged
    /// request (named `{tag}:<untagged>`): callers cannot escape the limit
    /// by leaving the tag off.
    Shared,
}

fn default_max_keys() -> usize {
    10_000
}

fn default_idle_ttl() -> Duration {
    Duration::from_secs(600)
}

/// What is wrong with a [`KeyedLimitConfig`], naming the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyedConfigError {
    /// A field of the keyed config itself.
    #[error("invalid keyed limit (tag `{tag}`) field `{field}`: {reason}")]
    Invalid {
        /// The configured tag.
        tag: String,
        /// The field (`tag`, `max_keys`, `idle_ttl`).
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The template or an override is not a valid limiter config.
    #[error("invalid keyed limit (tag `{tag}`) at `{at}`: {source}")]
    Limit {
        /// The configured tag.
        tag: String,
        /// `limit`, or `overrides.{value}`.
        at: String,
        /// What the limiter config check said.
        #[source]
        source: ConfigError,
    },
}

impl KeyedLimitConfig {
    /// Per-`tag` limits following `limit`, with the documented defaults.
    pub fn new(tag: impl Into<String>, limit: LimiterConfig) -> Self {
        Self {
            tag: tag.into(),
            limit,
            overrides: BTreeMap::new(),
            max_keys: default_max_keys(),
            idle_ttl: default_idle_ttl(),
            untagged: Untagged::default(),
        }
    }

    /// Gives `value` its own limit.
    pub fn with_override(mut self, value: impl Into<String>, limit: LimiterConfig) -> Self {
        self.overrides.insert(value.into(), limit);
        self
    }

    /// Sets the memory bound.
    pub fn with_max_keys(mut self, max_keys: usize) -> Self {
        self.max_keys = max_keys;
        self
    }

    /// Sets how long an unused limiter is kept.
    pub fn with_idle_ttl(mut self, idle_ttl: Duration) -> Self {
        self.idle_ttl = idle_ttl;
        self
    }

    /// Sets what untagged requests get.
    pub fn with_untagged(mut self, untagged: Untagged) -> Self {
        self.untagged = untagged;
        self
    }

    /// The config of `value`'s limiter: its override or the template,
    /// named `{tag}:{value}`.
    pub(crate) fn limit_for(&self, value: &str) -> LimiterConfig {
        let base = self.overrides.get(value).unwrap_or(&self.limit);
        LimiterConfig {
            name: format!("{}:{value}", self.tag),
            ..base.clone()
        }
    }

    /// The config of the limiter shared by untagged requests.
    pub(crate) fn untagged_limit(&self) -> LimiterConfig {
        LimiterConfig {
            name: format!("{}:<untagged>", self.tag),
            ..self.limit.clone()
        }
    }

    /// Checks every field, the template and each override.
    pub fn validate(&self) -> Result<(), KeyedConfigError> {
        let invalid = |field, reason: &str| KeyedConfigError::Invalid {
            tag: self.tag.clone(),
            field,
            reason: reason.to_owned(),
        };
        if self.tag.is_empty() || self.tag.contains('=') {
            return Err(invalid(
                "tag",
                "must be a tag name such as `user`, without `=`",
            ));
        }
        if self.max_keys == 0 {
            return Err(invalid("max_keys", "must be at least 1"));
        }
        let limits = std::iter::once(("limit".to_owned(), &self.limit)).chain(
            self.overrides
                .iter()
                .map(|(value, limit)| (format!("overrides.{value}"), limit)),
        );
        for (at, limit) in limits {
            limit.validate().map_err(|source| KeyedConfigError::Limit {
                tag: self.tag.clone(),
                at: at.clone(),
                source,
            })?;
            let refill = refill_time(limit);
            if self.idle_ttl < refill {
                return Err(KeyedConfigError::Invalid {
                    tag: self.tag.clone(),
                    field: "idle_ttl",
                    reason: format!(
                        "{:?} is shorter than the {refill:?} the quotas at `{at}` take to \
                         refill: a dropped idle limiter would forget calls still in its window",
                        self.idle_ttl
                    ),
                });
            }
        }
        Ok(())
    }
}

/// How long the slowest quota of `limit` takes to refill from empty.
fn refill_time(limit: &LimiterConfig) -> Duration {
    [
        limit.requests,
        limit.tokens,
        limit.input_tokens,
        limit.output_tokens,
        limit.tokens_per_day,
    ]
    .into_iter()
    .flatten()
    .map(|q: Quota| {
        let scale = q.burst() as f64 / q.amount.max(1) as f64;
        q.period.mul_f64(scale.max(1.0))
    })
    .max()
    .unwrap_or(Duration::ZERO)
}
