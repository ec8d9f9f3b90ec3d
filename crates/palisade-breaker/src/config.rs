//! What trips a breaker, how long it stays open, and how it probes: one serde
//! struct with documented defaults.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::policy::OutcomePolicy;

/// A circuit breaker's configuration.
///
/// Any enabled trip condition opens the circuit:
/// - `consecutive_failures` failures in a row;
/// - a failure rate ≥ `failure_rate_threshold` % over the sliding `window`,
///   once it holds at least `minimum_calls` calls;
/// - a slow-call rate ≥ `slow_call_rate_threshold` % (calls slower than
///   `slow_call_duration`, measured from admission to outcome), with the same
///   window and minimum.
///
/// Defaults (also what an empty TOML table gives):
///
/// ```toml
/// consecutive_failures = 5
/// failure_rate_threshold = 50.0    # percent
/// # slow_call_rate_threshold       # off: long generations are normal for LLMs
/// slow_call_duration = "60s"
/// # count_dropped_calls_after      # off: a dropped call is ignored
/// minimum_calls = 20
/// honor_retry_after = true
/// policy = ["throttled", "overloaded", "unavailable", "timeout", "network", "internal"]
///
/// [window]
/// type = "count"                   # or: type = "time", length = "60s", buckets = 60
/// size = 100
///
/// [open_duration]
/// base = "30s"
/// growth = { type = "exponential", multiplier = 2.0 }
/// max = "10m"
/// jitter = 0.1                     # shortens each open duration by up to 10 %
///
/// [half_open]
/// max_probes = 1
/// successes_to_close = 1
/// busy_retry_after = "1s"
/// probe_lease = "600s"
/// ```
///
/// The seed design (trip after 5 consecutive errors, cool down 60 s × the
/// error count) is [`BreakerConfig::seed`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Trip after this many counted failures in a row (`None`: off). Default 5.
    pub consecutive_failures: Option<u32>,
    /// Trip when failures are at least this percentage of the window
    /// (`None`: off). Default 50.
    pub failure_rate_threshold: Option<f64>,
    /// Trip when slow calls are at least this percentage of the window
    /// (`None`: off). Default off.
    pub slow_call_rate_threshold: Option<f64>,
    /// A call taking at least this long is slow. Default 60 s.
    #[serde(with = "palisade_core::duration")]
    pub slow_call_duration: Duration,
    /// A call dropped before it reported an outcome, after running at least
    /// this long, counts as a [`Timeout`](palisade_core::ErrorKind::Timeout)
    /// failure (if the policy counts timeouts); a call dropped sooner is
    /// ignored (`None`: every dropped call is ignored). Default `None`.
    ///
    /// In the canonical stack (`palisade-stack`'s `StackBuilder`) the
    /// per-attempt timeout is the innermost layer, *inside* the breaker, so a
    /// timed-out attempt reaches the breaker as a `Timeout` error and counts
    /// without this setting. Set it when something *outside* the breaker
    /// ends slow calls by dropping them — a timeout layer you placed around
    /// the breaker, or the request's overall deadline — to the limit that
    /// drops them (or a little under it), so those calls count while quick
    /// cancellations (a lost hedge, a caller that went away) stay ignored.
    /// Turning it on costs a clock read per call.
    /// Streams are exempt once they have started: a consumer that stops
    /// reading says nothing about the provider.
    #[serde(
        with = "palisade_core::duration::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub count_dropped_calls_after: Option<Duration>,
    /// The sliding window the rates are computed over. Default: the last 100 calls.
    pub window: SlidingWindow,
    /// The rate conditions only apply once the window holds this many calls.
    /// Default 20.
    pub minimum_calls: u32,
    /// How long the circuit stays open.
    pub open_duration: OpenDuration,
    /// How the half-open state probes.
    pub half_open: HalfOpenConfig,
    /// Which error kinds count as failures. Default: [`OutcomePolicy::default`].
    pub policy: OutcomePolicy,
    /// When a counted failure carried a Retry-After (a `Throttled` with
    /// `retry_after`), an opening circuit stays open at least until then.
    /// Default `true`.
    pub honor_retry_after: bool,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            consecutive_failures: Some(5),
            failure_rate_threshold: Some(50.0),
            slow_call_rate_threshold: None,
            slow_call_duration: Duration::from_secs(60),
            count_dropped_calls_after: None,
            window: SlidingWindow::default(),
            minimum_calls: 20,
            open_duration: OpenDuration::default(),
            half_open: HalfOpenConfig::default(),
            policy: OutcomePolicy::default(),
            honor_retry_after: true,
        }
    }
}

impl BreakerConfig {
    /// The seed design: trip after 5 consecutive errors, stay open
    /// 60 s × the number of consecutive errors (so a failed probe after 5
    /// errors opens for 360 s), no cap, no jitter, no rate conditions.
    pub fn seed() -> Self {
        Self {
            consecutive_failures: Some(5),
            failure_rate_threshold: None,
            slow_call_rate_threshold: None,
            open_duration: OpenDuration {
                base: Duration::from_secs(60),
                growth: Growth::PerFailure,
                max: None,
                jitter: 0.0,
            },
            ..Self::default()
        }
    }

    /// Checks every field; the error names the field and what is wrong with it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.consecutive_failures == Some(0) {
            return Err(ConfigError::new(
                "consecutive_failures",
                "is 0; use at least 1, or leave it out to disable the condition",
            ));
        }
        for (field, value) in [
            ("failure_rate_threshold", self.failure_rate_threshold),
            ("slow_call_rate_threshold", self.slow_call_rate_threshold),
        ] {
            if let Some(v) = value
                && !(v > 0.0 && v <= 100.0)
            {
                return Err(ConfigError::new(
                    field,
                    format!("is {v}; a percentage in (0, 100] is expected"),
                ));
            }
        }
        if self.slow_call_rate_threshold.is_some() && self.slow_call_duration.is_zero() {
            return Err(ConfigError::new(
                "slow_call_duration",
                "is 0 while slow_call_rate_threshold is set: every call would be slow",
            ));
        }
        if self.minimum_calls == 0 {
            return Err(ConfigError::new("minimum_calls", "is 0; use at least 1"));
        }
        self.window.validate()?;
        let rates_on =
            self.failure_rate_threshold.is_some() || self.slow_call_rate_threshold.is_some();
        if let SlidingWindow::Count { size } = self.window
            && rates_on
            && self.minimum_calls > size
        {
            return Err(ConfigError::new(
                "minimum_calls",
                format!(
                    "is {} but window.size is {size}: the rate conditions could never trip",
                    self.minimum_calls
                ),
            ));
        }
        self.open_duration.validate()?;
        self.half_open.validate()
    }
}

/// The window the failure and slow-call rates are computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SlidingWindow {
    /// The last `size` counted calls.
    Count {
        /// How many calls (1 to 1,048,576).
        size: u32,
    },
    /// The calls of the last `length`, in `buckets` slices; the oldest slice
    /// drops out whole, so the window covers between `length − length/buckets`
    /// and `length`.
    Time {
        /// How far back the window reaches.
        #[serde(with = "palisade_core::duration")]
        length: Duration,
        /// How many slices (1 to 3,600, each at least 1 ms).
        buckets: u32,
    },
}

/// The largest count window: large enough for any LLM workload, small enough
/// that the window's memory (one byte a call) stays modest.
pub const MAX_COUNT_WINDOW: u32 = 1 << 20;
/// The most slices a time window may have.
pub const MAX_TIME_BUCKETS: u32 = 3600;

impl Default for SlidingWindow {
    fn default() -> Self {
        SlidingWindow::Count { size: 100 }
    }
}

impl SlidingWindow {
    fn validate(&self) -> Result<(), ConfigError> {
        match *self {
            SlidingWindow::Count { size } if size == 0 || size > MAX_COUNT_WINDOW => {
                Err(ConfigError::new(
                    "window.size",
                    format!("is {size}; use 1 to {MAX_COUNT_WINDOW}"),
                ))
            }
            SlidingWindow::Time { buckets, .. } if buckets == 0 || buckets > MAX_TIME_BUCKETS => {
                Err(ConfigError::new(
                    "window.buckets",
                    format!("is {buckets}; use 1 to {MAX_TIME_BUCKETS}"),
                ))
            }
            SlidingWindow::Time { length, buckets }
                if length / buckets < Duration::from_millis(1) =>
            {
                Err(ConfigError::new(
                    "window.length",
                    format!(
                        "is {length:?}, under 1 ms per bucket with {buckets} buckets; \
                         lengthen the window or use fewer buckets"
                    ),
                ))
            }
            _ => Ok(()),
        }
    }
}

/// How long the circuit stays open, growing with each consecutive opening
/// (an opening right after a failed probe), capped, with jitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenDuration {
    /// The first open duration. Default 30 s.
    #[serde(with = "palisade_core::duration")]
    pub base: Duration,
    /// How the duration grows. Default: doubling.
    pub growth: Growth,
    /// The longest open duration (`None`: uncapped, which in practice means a
    /// year). Default 10 min.
    #[serde(
        with = "palisade_core::duration::option",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub max: Option<Duration>,
    /// Each open duration is shortened by a random fraction up to this
    /// (0 to 1), so a fleet of instances does not probe in lockstep.
    /// Jitter never lengthens it past `max`, nor shortens it below a
    /// Retry-After. Default 0.1.
    pub jitter: f64,
}

impl Default for OpenDuration {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            growth: Growth::Exponential { multiplier: 2.0 },
            max: Some(Duration::from_secs(600)),
            jitter: 0.1,
        }
    }
}

impl OpenDuration {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.base.is_zero() {
            return Err(ConfigError::new("open_duration.base", "is 0"));
        }
        if let Growth::Exponential { multiplier } = self.growth
            && !(multiplier.is_finite() && multiplier >= 1.0)
        {
            return Err(ConfigError::new(
                "open_duration.growth.multiplier",
                format!("is {multiplier}; use a finite number ≥ 1"),
            ));
        }
        if let Some(max) = self.max
            && max < self.base
        {
            return Err(ConfigError::new(
                "open_duration.max",
                format!("is {max:?}, shorter than base {:?}", self.base),
            ));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(ConfigError::new(
                "open_duration.jitter",
                format!("is {}; use a fraction from 0 to 1", self.jitter),
            ));
        }
        Ok(())
    }
}

/// How the open duration grows.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Growth {
    /// Always `base`.
    Constant,
    /// `base × n` for the n-th consecutive opening.
    Linear,
    /// `base × multiplier^(n−1)` for the n-th consecutive opening.
    Exponential {
        /// The factor between consecutive openings (≥ 1).
        multiplier: f64,
    },
    /// `base × the number of consecutive failures` when it opens (the seed
    /// design); a failed probe adds one.
    PerFailure,
}

/// How the half-open state probes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HalfOpenConfig {
    /// At most this many probe calls at once (K). Default 1.
    pub max_probes: u32,
    /// This many successful probes close the circuit (M); one counted
    /// failure reopens it. Default 1.
    pub successes_to_close: u32,
    /// The `retry_after` told to a caller refused because every probe slot is
    /// taken. Default 1 s.
    #[serde(with = "palisade_core::duration")]
    pub busy_retry_after: Duration,
    /// With a shared [`BreakerStore`](crate::BreakerStore): a fleet-wide probe
    /// slot is released after this long even if its holder never reports
    /// back (it crashed), so the fleet cannot stay half-open forever.
    /// Set it above your longest call. Default 10 min.
    #[serde(with = "palisade_core::duration")]
    pub probe_lease: Duration,
}

impl Default for HalfOpenConfig {
    fn default() -> Self {
        Self {
            max_probes: 1,
            successes_to_close: 1,
            busy_retry_after: Duration::from_secs(1),
            probe_lease: Duration::from_secs(600),
        }
    }
}

impl HalfOpenConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.max_probes == 0 {
            return Err(ConfigError::new(
                "half_open.max_probes",
                "is 0: the circuit could never close; use at least 1",
            ));
        }
        if self.successes_to_close == 0 {
            return Err(ConfigError::new(
                "half_open.successes_to_close",
                "is 0; use at least 1",
            ));
        }
        Ok(())
    }
}

/// A [`BreakerConfig`] field with a value the breaker cannot work with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid circuit breaker config: `{field}` {problem}")]
pub struct ConfigError {
    field: &'static str,
    problem: String,
}

impl ConfigError {
    fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }

    /// The offending field, dotted from the config's root (`open_duration.max`).
    pub fn field(&self) -> &'static str {
        self.field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_seed_are_valid() {
        BreakerConfig::default().validate().unwrap();
        BreakerConfig::seed().validate().unwrap();
    }

    #[test]
    fn empty_toml_is_the_default() {
        let c: BreakerConfig = toml::from_str("").unwrap();
        assert_eq!(c, BreakerConfig::default());
    }

    #[test]
    fn toml_round_trip() {
        let text = r#"
            consecutive_failures = 3
            slow_call_rate_threshold = 80.0
            slow_call_duration = "20s"
            [window]
            type = "time"
            length = "60s"
            buckets = 12
            [open_duration]
            base = "10s"
            growth = { type = "linear" }
            max = "5m"
            jitter = 0.0
        "#;
        let c: BreakerConfig = toml::from_str(text).unwrap();
        c.validate().unwrap();
        assert_eq!(c.slow_call_duration, Duration::from_secs(20));
        assert_eq!(
            c.window,
            SlidingWindow::Time {
                length: Duration::from_secs(60),
                buckets: 12
            }
        );
        assert_eq!(c.open_duration.max, Some(Duration::from_secs(300)));
        let back: BreakerConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn errors_name_the_field() {
        let c = BreakerConfig {
            minimum_calls: 101,
            ..BreakerConfig::default()
        };
        let e = c.validate().unwrap_err();
        assert_eq!(e.field(), "minimum_calls");
        assert!(e.to_string().contains("window.size is 100"), "{e}");

        let mut c = BreakerConfig::default();
        c.open_duration.jitter = 1.5;
        assert_eq!(c.validate().unwrap_err().field(), "open_duration.jitter");

        let mut c = BreakerConfig::default();
        c.half_open.max_probes = 0;
        assert_eq!(c.validate().unwrap_err().field(), "half_open.max_probes");

        let c = BreakerConfig {
            failure_rate_threshold: Some(0.0),
            ..BreakerConfig::default()
        };
        assert_eq!(c.validate().unwrap_err().field(), "failure_rate_threshold");

        assert!(toml::from_str::<BreakerConfig>("unknown = 1").is_err());
    }
}
