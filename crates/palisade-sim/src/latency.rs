//! How long a simulated call takes: time to first token, then a time per
//! output token, each drawn from a configurable distribution.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::distribution::Distribution;
use crate::limits::{MAX_CALL_TIME, MAX_LATENCY_MS, duration_from_ms, number_within};
use crate::rng::SimRng;

/// A model's latency profile. Times are in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LatencyConfig {
    /// Time from the request to the first output token, in ms.
    /// Default: log-normal, median 600 ms, sigma 0.3.
    pub time_to_first_token_ms: Distribution,
    /// Time per output token after the first, in ms, drawn once per call.
    /// Default: uniform 12–20 ms (50–80 tokens/s).
    pub per_output_token_ms: Distribution,
    /// How long a refusal (throttle, outage) takes to come back, in ms.
    /// Default: 80 ms.
    pub rejection_ms: f64,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        Self {
            time_to_first_token_ms: Distribution::LogNormal {
                median: 600.0,
                sigma: 0.3,
            },
            per_output_token_ms: Distribution::Uniform {
                min: 12.0,
                max: 20.0,
            },
            rejection_ms: 80.0,
        }
    }
}

/// The timing of one admitted call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallTiming {
    /// Until the first token.
    pub first_token: Duration,
    /// Per output token after it.
    pub per_token: Duration,
}

impl CallTiming {
    /// Total time for `output_tokens` tokens (saturating: at most
    /// [`MAX_CALL_TIME`](crate::limits::MAX_CALL_TIME) past the first token).
    pub fn total(&self, output_tokens: u32) -> Duration {
        let rest = self
            .per_token
            .checked_mul(output_tokens.saturating_sub(1))
            .unwrap_or(MAX_CALL_TIME)
            .min(MAX_CALL_TIME);
        self.first_token.saturating_add(rest)
    }

    /// Output tokens produced `elapsed` after the call started (for calls
    /// cut short: the quota is charged for what was generated).
    pub fn tokens_by(&self, elapsed: Duration, output_tokens: u32) -> u32 {
        let Some(after_first) = elapsed.checked_sub(self.first_token) else {
            return 0;
        };
        if self.per_token.is_zero() {
            return output_tokens;
        }
        let more = after_first.as_nanos() / self.per_token.as_nanos();
        u32::try_from(more.saturating_add(1))
            .unwrap_or(u32::MAX)
            .min(output_tokens)
    }
}

impl LatencyConfig {
    /// Draws one call's timing, stretched by `slowdown` (1.0 = normal).
    /// Whatever the parameters, each time is clamped to
    /// `[0, MAX_CALL_TIME]`: a draw never panics.
    pub fn draw(&self, rng: &mut SimRng, slowdown: f64) -> CallTiming {
        let ms = |d: &Distribution, rng: &mut SimRng| duration_from_ms(d.sample(rng) * slowdown);
        CallTiming {
            first_token: ms(&self.time_to_first_token_ms, rng),
            per_token: ms(&self.per_output_token_ms, rng),
        }
    }

    /// How long a refusal takes (clamped like [`draw`](Self::draw)).
    pub fn rejection(&self) -> Duration {
        duration_from_ms(self.rejection_ms)
    }

    /// Checks the parameters (each at most
    /// [`MAX_LATENCY_MS`](crate::limits::MAX_LATENCY_MS)); the error is the
    /// field's path inside the table and what is wrong.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let field = |name: &str, key: &str| format!("{name}.{key}");
        self.time_to_first_token_ms
            .validate(MAX_LATENCY_MS)
            .map_err(|(k, e)| (field("time_to_first_token_ms", k), e))?;
        self.per_output_token_ms
            .validate(MAX_LATENCY_MS)
            .map_err(|(k, e)| (field("per_output_token_ms", k), e))?;
        number_within(self.rejection_ms, 0.0, MAX_LATENCY_MS)
            .map_err(|e| ("rejection_ms".to_owned(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_by_counts_what_was_generated() {
        let t = CallTiming {
            first_token: Duration::from_millis(500),
            per_token: Duration::from_millis(10),
        };
        assert_eq!(t.total(101), Duration::from_millis(1500));
        assert_eq!(t.tokens_by(Duration::from_millis(400), 101), 0);
        assert_eq!(t.tokens_by(Duration::from_millis(500), 101), 1);
        assert_eq!(t.tokens_by(Duration::from_millis(600), 101), 11);
        assert_eq!(t.tokens_by(Duration::from_secs(60), 101), 101);
    }

    /// Issue 21, item 1: a latency of 2e22 ms (or a slow factor of 1e300)
    /// panicked converting float seconds to a `Duration`.
    #[test]
    fn huge_latencies_clamp_instead_of_panicking() {
        let config = LatencyConfig {
            time_to_first_token_ms: Distribution::fixed(2e22),
            per_output_token_ms: Distribution::fixed(2e22),
            rejection_ms: 2e22,
        };
        let mut rng = crate::rng::rng_for(1, "t");
        let t = config.draw(&mut rng, 1e300);
        assert_eq!(t.first_token, MAX_CALL_TIME);
        assert_eq!(t.total(u32::MAX), MAX_CALL_TIME * 2);
        assert_eq!(config.rejection(), MAX_CALL_TIME);
        assert_eq!(
            config.validate().unwrap_err().0,
            "time_to_first_token_ms.value"
        );
    }
}
