//! `RedisConfig`: where Redis is, how long to wait for it, and what to do
//! when it does not answer.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::topology::{Topology, redact};

/// The environment variable [`RedisConfig::from_env`] reads the URL from.
pub const REDIS_URL_ENV: &str = "REDIS_URL";

/// The URL used when neither the configuration nor `REDIS_URL` names one.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// What a store does when Redis cannot be reached (refused, timed out, reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailurePolicy {
    /// Keep serving from this process's in-memory store with its local limits,
    /// emitting a warning event when the outage starts and counting every
    /// decision made locally in the stats. The fleet may then send up to
    /// N × the local limit, which is why the local limit is usually set to a
    /// share of the shared one.
    #[default]
    FailOpen,
    /// Refuse with [`RedisStoreError::Unavailable`](crate::RedisStoreError::Unavailable):
    /// never exceed the shared quota, at the price of availability.
    FailClosed,
}

/// Configuration of the connection to Redis, shared by the limit and breaker
/// stores. Every field has a default, so `{}` (or an empty TOML table) is valid.
///
/// ```
/// use palisade_redis::{FailurePolicy, RedisConfig};
///
/// let config: RedisConfig = toml::from_str(r#"
///     url = "redis://10.0.0.5:6379/0"
///     on_unavailable = "fail_closed"
///     command_timeout = "100ms"
/// "#).unwrap();
/// assert_eq!(config.on_unavailable, FailurePolicy::FailClosed);
/// assert_eq!(config.key_prefix, "palisade");
/// ```
///
/// `Debug` shows the URL with its password replaced by `***`.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Where Redis is, and whether it is one server or a cluster:
    ///
    /// - `redis://[user:password@]host:port[/db]`: one server (`rediss://`
    ///   for TLS, with the `tls` feature);
    /// - `redis+cluster://[user:password@]host:port,host:port` (or
    ///   `rediss+cluster://`): a Redis Cluster, from these seed nodes;
    /// - a list of node URLs separated by commas or spaces: a cluster, from
    ///   these seeds.
    ///
    /// Default `redis://127.0.0.1:6379`; [`RedisConfig::from_env`] takes it
    /// from `REDIS_URL`.
    pub url: String,
    /// The first part of every key (`<prefix>:{<name>}:rpm`), so several
    /// deployments can share one Redis. Default `palisade`.
    pub key_prefix: String,
    /// What to do while Redis cannot be reached. Default `fail_open`.
    pub on_unavailable: FailurePolicy,
    /// How long one script call may take, connecting included, before Redis
    /// counts as unreachable. Default `250ms`: far above a healthy round trip
    /// (well under a millisecond in one region), far below an LLM call.
    #[serde(with = "palisade_core::duration")]
    pub command_timeout: Duration,
    /// How long one connection attempt may take. Default `1s`.
    #[serde(with = "palisade_core::duration")]
    pub connect_timeout: Duration,
    /// While Redis is unreachable, how often one call tries it again (the
    /// others go straight to the failure policy, so an outage costs one
    /// timeout per interval, not one per call). Default `1s`.
    #[serde(with = "palisade_core::duration")]
    pub retry_interval: Duration,
    /// Under `fail_open`, the share of each shared limit (rates, bursts and
    /// the concurrency cap, rounded up, at least 1) this instance allows
    /// itself while Redis is unreachable. `1.0` (the default) keeps the full
    /// limit per instance; `1/N` for N instances keeps the fleet within the
    /// quota during an outage.
    pub local_share: f64,
    /// When every concurrency slot is leased, how soon a waiting request asks
    /// Redis again. Slots are freed by other instances, which cannot wake
    /// this one, so the limiter polls. Default `50ms`.
    #[serde(with = "palisade_core::duration")]
    pub concurrency_retry: Duration,
    /// For `rediss://` (feature `tls`): a PEM file of the CA to trust instead
    /// of the system's roots, for a managed Redis with a private CA. Default
    /// none (system roots).
    pub tls_ca_file: Option<PathBuf>,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: DEFAULT_REDIS_URL.to_owned(),
            key_prefix: "palisade".to_owned(),
            on_unavailable: FailurePolicy::FailOpen,
            command_timeout: Duration::from_millis(250),
            connect_timeout: Duration::from_secs(1),
            retry_interval: Duration::from_secs(1),
            local_share: 1.0,
            concurrency_retry: Duration::from_millis(50),
            tls_ca_file: None,
        }
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Self {
            url,
            key_prefix,
            on_unavailable,
            command_timeout,
            connect_timeout,
            retry_interval,
            local_share,
            concurrency_retry,
            tls_ca_file,
        } = self;
        f.debug_struct("RedisConfig")
            .field("url", &redact(url))
            .field("key_prefix", key_prefix)
            .field("on_unavailable", on_unavailable)
            .field("command_timeout", command_timeout)
            .field("connect_timeout", connect_timeout)
            .field("retry_interval", retry_interval)
            .field("local_share", local_share)
            .field("concurrency_retry", concurrency_retry)
            .field("tls_ca_file", tls_ca_file)
            .finish()
    }
}

impl RedisConfig {
    /// The defaults with the URL taken from `REDIS_URL` when it is set and
    /// not empty.
    pub fn from_env() -> Self {
        Self::default().with_env_overrides(|name| std::env::var(name).ok())
    }

    /// Applies the environment, read through `var` (so tests need not touch
    /// the process environment): `REDIS_URL` replaces [`RedisConfig::url`].
    pub fn with_env_overrides(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        if let Some(url) = var(REDIS_URL_ENV).filter(|url| !url.trim().is_empty()) {
            self.url = url.trim().to_owned();
        }
        self
    }

    /// The defaults pointed at `url`.
    pub fn with_url(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            ..Self::default()
        }
    }

    /// Sets the failure policy.
    pub fn on_unavailable(mut self, policy: FailurePolicy) -> Self {
        self.on_unavailable = policy;
        self
    }

    /// Checks the values a store cannot work with, naming the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let field = |field: &'static str, problem: String| ConfigError { field, problem };
        Topology::parse(&self.url)?;
        if self.key_prefix.is_empty() || self.key_prefix.contains(['{', '}']) {
            return Err(field(
                "key_prefix",
                format!(
                    "`{}` must be non-empty and free of `{{` `}}` (they delimit the cluster hash tag)",
                    self.key_prefix
                ),
            ));
        }
        for (name, value) in [
            ("command_timeout", self.command_timeout),
            ("connect_timeout", self.connect_timeout),
            ("retry_interval", self.retry_interval),
            ("concurrency_retry", self.concurrency_retry),
        ] {
            if value.is_zero() {
                return Err(field(name, "must be greater than zero".into()));
            }
        }
        if let Some(path) = &self.tls_ca_file {
            if !crate::tls::SUPPORTED {
                return Err(field(
                    "tls_ca_file",
                    "is set, but TLS needs palisade-redis's `tls` feature".into(),
                ));
            }
            if !path.is_file() {
                return Err(field(
                    "tls_ca_file",
                    format!("`{}` is not a readable file", path.display()),
                ));
            }
        }
        if !(self.local_share > 0.0 && self.local_share <= 1.0) {
            return Err(field(
                "local_share",
                format!("{} must be in (0, 1]", self.local_share),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_table_is_the_defaults() {
        let config: RedisConfig = toml::from_str("").unwrap();
        assert_eq!(config, RedisConfig::default());
        config.validate().unwrap();
    }

    #[test]
    fn round_trips_through_toml() {
        let config = RedisConfig {
            command_timeout: Duration::from_micros(1500),
            ..RedisConfig::with_url("redis://10.1.2.3:6380/2")
                .on_unavailable(FailurePolicy::FailClosed)
        };
        let text = toml::to_string(&config).unwrap();
        assert!(text.contains("on_unavailable = \"fail_closed\""), "{text}");
        assert_eq!(toml::from_str::<RedisConfig>(&text).unwrap(), config);
    }

    #[test]
    fn redis_url_from_the_environment_wins_over_the_default() {
        let config = RedisConfig::default().with_env_overrides(|name| {
            (name == REDIS_URL_ENV).then(|| " redis://cache:6379 ".to_owned())
        });
        assert_eq!(config.url, "redis://cache:6379");
        let blank = RedisConfig::default().with_env_overrides(|_| Some(String::new()));
        assert_eq!(blank.url, DEFAULT_REDIS_URL);
    }

    #[test]
    fn unknown_fields_and_bad_values_are_named() {
        assert!(toml::from_str::<RedisConfig>("ur = \"x\"").is_err());
        let err = RedisConfig::with_url("http://nope").validate().unwrap_err();
        assert_eq!(err.field, "url");
        let err = RedisConfig {
            key_prefix: "a{b".into(),
            ..RedisConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "key_prefix");
        let err = RedisConfig {
            command_timeout: Duration::ZERO,
            ..RedisConfig::default()
        }
        .validate()
        .unwrap_err();
        assert!(err.to_string().contains("command_timeout"), "{err}");
        let err = RedisConfig {
            local_share: 0.0,
            ..RedisConfig::default()
        }
        .validate()
        .unwrap_err();
        assert_eq!(err.field, "local_share");
    }
}
