//! Failure injection: a random server-error rate, outage windows (the model is
//! unavailable from one instant to another) and slow-call windows.
//!
//! Windows are offsets from the provider's epoch (the start of the
//! simulation), so one scenario file describes "down from minute 20 to 30".

use std::time::Duration;

use palisade_core::ErrorKind;
use serde::{Deserialize, Serialize};

use crate::limits::{MAX_HORIZON, MAX_SLOWDOWN, duration_within, positive_at_most};

/// A span of simulated time, `[from, to)` after the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Start, inclusive.
    #[serde(with = "palisade_core::duration")]
    pub from: Duration,
    /// End, exclusive.
    #[serde(with = "palisade_core::duration")]
    pub to: Duration,
}

impl Window {
    /// Whether `t` (since the epoch) falls inside.
    pub fn contains(&self, t: Duration) -> bool {
        self.from <= t && t < self.to
    }

    /// How much of `[0, horizon)` the window covers.
    pub fn overlap(&self, horizon: Duration) -> Duration {
        self.to.min(horizon).saturating_sub(self.from.min(horizon))
    }
}

/// A window in which calls take `factor` times as long.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowWindow {
    /// Start, inclusive.
    #[serde(with = "palisade_core::duration")]
    pub from: Duration,
    /// End, exclusive.
    #[serde(with = "palisade_core::duration")]
    pub to: Duration,
    /// Latency multiplier (2.0 = twice as slow).
    pub factor: f64,
}

/// The server error a random failure is reported as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InjectedError {
    /// HTTP 500, `InternalServerException`.
    #[default]
    Internal,
    /// HTTP 503, `ServiceUnavailableException`.
    Unavailable,
    /// HTTP 529-like, `ModelNotReadyException`.
    Overloaded,
}

impl InjectedError {
    /// The error kind and HTTP status it maps to.
    pub fn kind_and_status(self) -> (ErrorKind, u16) {
        match self {
            InjectedError::Internal => (ErrorKind::Internal, 500),
            InjectedError::Unavailable => (ErrorKind::Unavailable, 503),
            InjectedError::Overloaded => (ErrorKind::Overloaded, 429),
        }
    }
}

/// What goes wrong with a simulated model, and when.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailureConfig {
    /// Probability that an admitted call fails with a server error after its
    /// time to first token (it still counts against the request quota and
    /// its input against the token quota). Default: 0.
    pub error_rate: f64,
    /// How the random failures are reported. Default: `internal` (HTTP 500).
    pub error_kind: InjectedError,
    /// Spans in which every call is refused with `ServiceUnavailable` (HTTP
    /// 503) without touching the quotas. Default: none.
    pub outages: Vec<Window>,
    /// Spans in which calls are slower. Default: none.
    pub slow: Vec<SlowWindow>,
}

impl FailureConfig {
    /// Whether the model is down at `t` since the epoch; if so, until when.
    pub fn outage_at(&self, t: Duration) -> Option<Duration> {
        self.outages.iter().find(|w| w.contains(t)).map(|w| w.to)
    }

    /// The latency multiplier at `t` (product of the slow windows covering it).
    pub fn slowdown_at(&self, t: Duration) -> f64 {
        self.slow
            .iter()
            .filter(|w| w.from <= t && t < w.to)
            .map(|w| w.factor)
            .product()
    }

    /// Checks the parameters; the error is the field's path inside the
    /// table (`outages[1].to`) and what is wrong.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if !(0.0..=1.0).contains(&self.error_rate) {
            return Err((
                "error_rate".into(),
                format!("must be within 0..=1, got {}", self.error_rate),
            ));
        }
        let window = |list: &str, i: usize, from: Duration, to: Duration| {
            duration_within(to, MAX_HORIZON, false).map_err(|e| (format!("{list}[{i}].to"), e))?;
            if from >= to {
                return Err((
                    format!("{list}[{i}].from"),
                    format!(
                        "must be before `to`: the window {}..{} is empty",
                        palisade_core::duration::format(from),
                        palisade_core::duration::format(to)
                    ),
                ));
            }
            Ok(())
        };
        for (i, w) in self.outages.iter().enumerate() {
            window("outages", i, w.from, w.to)?;
        }
        for (i, w) in self.slow.iter().enumerate() {
            window("slow", i, w.from, w.to)?;
            positive_at_most(w.factor, MAX_SLOWDOWN)
                .map_err(|e| (format!("slow[{i}].factor"), e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_half_open_and_slowdowns_multiply() {
        let f: FailureConfig = toml::from_str(
            r#"
            outages = [{ from = "20m", to = "30m" }]
            slow = [{ from = "0s", to = "1h", factor = 2.0 }, { from = "10m", to = "11m", factor = 3.0 }]
            "#,
        )
        .unwrap();
        let min = |m: u64| Duration::from_secs(60 * m);
        assert_eq!(f.outage_at(min(19)), None);
        assert_eq!(f.outage_at(min(20)), Some(min(30)));
        assert_eq!(f.outage_at(min(30)), None);
        assert_eq!(f.slowdown_at(min(10)), 6.0);
        assert_eq!(f.slowdown_at(min(12)), 2.0);
        assert_eq!(f.outages[0].overlap(min(25)), min(5));
    }

    #[test]
    fn validation_names_the_window_and_its_key() {
        let f: FailureConfig =
            toml::from_str(r#"slow = [{ from = "0s", to = "1h", factor = 1e300 }]"#).unwrap();
        assert_eq!(f.validate().unwrap_err().0, "slow[0].factor");
        let f: FailureConfig =
            toml::from_str(r#"outages = [{ from = "0s", to = "1m" }, { from = "2m", to = "1m" }]"#)
                .unwrap();
        assert_eq!(f.validate().unwrap_err().0, "outages[1].from");
    }
}
