//! The palisade stack under test, composed over the scenario's models from
//! the limit, breaker and stack crates in the canonical order:
//!
//! ```text
//! Fallback ─► per model: Retry ─► CircuitBreaker ─► RateLimit ─► simulated model
//! ```
//!
//! * **RateLimit**, one limiter per model at that model's quota, with its
//!   output burndown, so reservations match the model's own accounting. The
//!   simulated quota is a sliding minute, and a token bucket (GCRA) admits at
//!   most `amount + burst` in any minute, so the limiter is set to
//!   `amount = quota − burst`: never more than the quota in any minute.
//!   The token burst is the largest single reservation of the scenario's
//!   requests (a smaller one could never admit it); the request burst is 1.
//!   A request queues at a model for [`PalisadeConfig::queue_wait`] before
//!   the fallback tries the next model; at the last model it queues until
//!   its deadline. Higher priorities are served first.
//! * **CircuitBreaker**, one per model: opens after consecutive server
//!   errors or outage refusals so calls stop going to a model that is down,
//!   probes it again after the open time. Throttles do not count: behind a
//!   limiter they are the limiter's own queue timeouts, not a sign of ill health.
//! * **Retry** per model: server errors are retried on the same model with
//!   exponential backoff (no jitter, so runs are reproducible); throttles and
//!   outages move on to the next model at once when one is ready.
//! * **Fallback** over the models in order, waiting for the earliest to
//!   recover (up to the deadline) when none is ready.
//!
//! No timeout layer: the simulated models never hang, and the caller's
//! deadline bounds every request.

use std::sync::Arc;
use std::time::Duration;

use palisade_breaker::{BreakerConfig, CircuitBreaker, CircuitBreakerLayer, OutcomePolicy};
use palisade_core::{ErrorKind, ProviderExt, SharedProvider};
use palisade_limit::{BurndownConfig, Limiter, LimiterConfig, Quota, RateLimitLayer};
use palisade_stack::fallback::CooldownConfig;
use palisade_stack::{Backoff, Candidate, Fallback, FallbackConfig, RetryLayer, RetryPolicy};
use serde::{Deserialize, Serialize};

use crate::model::SimulatedModelConfig;
use crate::scenario::Scenario;

/// How the palisade side of a simulation is configured. Every field has a
/// default; an empty `[palisade]` table is the stack documented above.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PalisadeConfig {
    /// Longest a request queues at a model's limiter before the fallback
    /// tries the next model (the last model: until the deadline). Default: 2 s.
    #[serde(with = "crate::duration_serde")]
    pub queue_wait: Duration,
    /// Attempts per model for server errors, the first included. Default: 3.
    pub retry_attempts: u32,
    /// First retry backoff, doubling per retry. Default: 500 ms.
    #[serde(with = "crate::duration_serde")]
    pub retry_backoff: Duration,
    /// Consecutive failures that open a model's breaker. Default: 5.
    pub breaker_failures: u32,
    /// How long a breaker stays open the first time (doubling while the model
    /// keeps failing, up to 4×). Default: 20 s.
    #[serde(with = "crate::duration_serde")]
    pub breaker_open: Duration,
}

impl Default for PalisadeConfig {
    fn default() -> Self {
        Self {
            queue_wait: Duration::from_secs(2),
            retry_attempts: 3,
            retry_backoff: Duration::from_millis(500),
            breaker_failures: 5,
            breaker_open: Duration::from_secs(20),
        }
    }
}

impl PalisadeConfig {
    /// Checks the knobs; the error is `(field, what is wrong)`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.retry_attempts == 0 {
            return Err(("retry_attempts".into(), "must be at least 1".into()));
        }
        if self.breaker_failures == 0 {
            return Err(("breaker_failures".into(), "must be at least 1".into()));
        }
        if self.breaker_open.is_zero() {
            return Err(("breaker_open".into(), "must be longer than zero".into()));
        }
        Ok(())
    }
}

/// The limiter for one model: its quota, less a burst, so that a token
/// bucket never admits more than a sliding minute allows.
fn limiter_for(
    config: &SimulatedModelConfig,
    largest_reservation: u64,
    queue_wait: Duration,
) -> Result<Limiter, String> {
    let quota = &config.quota;
    let burndown = quota.output_burndown.ceil() as u32;
    let mut limiter = LimiterConfig::named(config.id.clone()).with_max_wait(queue_wait);
    if let Some(rpm) = quota.rpm {
        let rpm = u64::from(rpm);
        let burst = 1;
        limiter = limiter.with_requests(
            Quota::per(rpm.saturating_sub(burst).max(1), quota.window).with_burst(burst),
        );
    }
    if let Some(tpm) = quota.tpm {
        // Room for two reservations: with one, a reservation's refund would
        // land on a bucket already refilled to capacity and be lost, holding
        // the model to `tpm / reservation` requests a minute.
        let burst = largest_reservation.saturating_mul(2).clamp(1, tpm);
        let rate = tpm.saturating_sub(largest_reservation).max(1);
        limiter = limiter.with_tokens(Quota::per(rate, quota.window).with_burst(burst));
    }
    limiter.burndown = BurndownConfig {
        default: burndown,
        builtin_bedrock: false,
        ..BurndownConfig::default()
    };
    Limiter::new(limiter).map_err(|e| format!("limiter for {}: {e}", config.id))
}

fn breaker_for(
    config: &SimulatedModelConfig,
    knobs: &PalisadeConfig,
    seed: u64,
) -> Result<CircuitBreaker, String> {
    let mut breaker = BreakerConfig {
        consecutive_failures: Some(knobs.breaker_failures),
        policy: OutcomePolicy::new().ignore(ErrorKind::Throttled),
        ..BreakerConfig::default()
    };
    breaker.open_duration.base = knobs.breaker_open;
    breaker.open_duration.max = Some(knobs.breaker_open * 4);
    CircuitBreaker::builder(config.id.as_str())
        .config(breaker)
        .jitter_seed(seed)
        .build()
        .map_err(|e| format!("breaker for {}: {e}", config.id))
}

/// Builds the palisade stack over the scenario's (probed) models.
pub(crate) fn build(
    scenario: &Scenario,
    models: Vec<SharedProvider>,
) -> Result<SharedProvider, String> {
    let knobs = &scenario.palisade;
    let largest_input = scenario
        .offered_load()
        .iter()
        .map(|a| a.input_tokens)
        .max()
        .unwrap_or(0);
    let last = models.len().saturating_sub(1);
    let retry = RetryPolicy::default()
        .with_max_attempts(knobs.retry_attempts)
        .with_max_total_time(None)
        .with_backoff(Backoff::exponential(
            knobs.retry_backoff,
            knobs.retry_backoff * 16,
        ));
    let mut candidates = Vec::with_capacity(models.len());
    for (i, (model, config)) in models.into_iter().zip(&scenario.models).enumerate() {
        let largest_reservation = config
            .quota
            .charge(largest_input, scenario.requests.max_tokens);
        let queue_wait = if i == last {
            scenario.requests.deadline
        } else {
            knobs.queue_wait
        };
        let limiter = limiter_for(config, largest_reservation, queue_wait)?;
        let breaker = breaker_for(config, knobs, scenario.seed.wrapping_add(i as u64))?;
        let layered = model
            .layer(RateLimitLayer::new(limiter))
            .layer(CircuitBreakerLayer::new(breaker))
            .layer(RetryLayer::new(retry.clone()));
        candidates.push(Candidate::new(layered));
    }
    let fallback = FallbackConfig {
        max_wait: scenario.requests.deadline,
        max_rounds: u32::MAX,
        // The limiters pace each model; a fallback-wide cooldown on top would
        // take a model out for everyone whenever one request's queue wait ran out.
        cooldown: CooldownConfig {
            enabled: false,
            ..CooldownConfig::default()
        },
        ..FallbackConfig::default()
    };
    Ok(Arc::new(
        Fallback::new(candidates)
            .with_config(fallback)
            .with_id("palisade"),
    ))
}
