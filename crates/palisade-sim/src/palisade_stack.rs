//! The palisade stack under test: a `palisade-stack` [`StackConfig`] built by
//! its [`StackBuilder`] over the scenario's models, in the canonical order
//!
//! ```text
//! Fallback ─► per model: Retry ─► CircuitBreaker ─► RateLimit ─► simulated model
//! ```
//!
//! A scenario may give the whole stack config (`[palisade.stack]`, the format
//! of docs/config.md, candidates named by model id); otherwise it is derived
//! from the few knobs of [`PalisadeConfig`] and the models' quotas:
//!
//! * **RateLimit**, one limiter per model at that model's quota, with its
//!   output burndown, so reservations match the model's own accounting. The
//!   limiter is a token bucket (GCRA) that admits at most `rate + burst` in
//!   any window, refunds included, so it is set to `rate + burst = quota`
//!   and never takes a model over its quota: requests `rpm − 1` a minute with
//!   a burst of 1; tokens `tpm − B` with a burst of `B = R + max(R, n × H)`, where
//!   `R` is the largest reservation of the scenario's requests
//!   (`input + max_tokens × burndown`), `n` the calls the model has in
//!   flight when it serves at its quota (its requests per minute at the
//!   mean sizes times its mean call time) and `H` what each of them holds
//!   until it settles (`(max_tokens − mean output) × burndown`). The burst
//!   must hold the calls in flight: a reservation is returned only when its
//!   call ends, so a bucket of one reservation refills to the brim while a
//!   call runs and cannot admit the next until the refund (so never less
//!   than two reservations); a burst larger than that only lowers the rate. With
//!   [`PalisadeConfig::route_by_expected_wait`] (the default) every limiter
//!   queues up to the deadline and the fallback routes by expected wait
//!   (`[fallback.overload]`); otherwise a request queues at a model for
//!   [`PalisadeConfig::queue_wait`] before the fallback tries the next
//!   model, and at the last model until its deadline. Higher priorities are
//!   served first.
//! * **CircuitBreaker** per model: opens after consecutive server errors or
//!   outage refusals; throttles do not count (behind a limiter they are the
//!   limiter's own queue timeouts, not a sign of ill health). The open time
//!   has the breaker's default jitter.
//! * **Retry** per model: server errors are retried on the same model with
//!   exponential backoff and full jitter; throttles and outages move on to
//!   the next model at once when one is ready.
//! * Jitter (retry and breaker) is drawn from the scenario's seed through the
//!   stack's `seed`, so the same scenario replays the same run.
//! * **Fallback** over the models in order, waiting for the earliest to
//!   recover (up to the deadline) when none is ready; no fallback-wide
//!   cooldowns (the limiters pace each model) and no per-attempt timeout
//!   (the simulated models answer or refuse, they never hang; the caller's
//!   deadline bounds every request).
//! * Optional, off unless the scenario asks: **learned output reservations**
//!   on every model's limiter (`[palisade.learned_output]`, the limiter's
//!   `learned_output`), and a **budget** in front of the fallback
//!   (`[palisade.budget]`, the stack's `[budget]`) priced at the models'
//!   own prices.

use std::sync::Arc;
use std::time::Duration;

use palisade_breaker::{BreakerConfig, OutcomePolicy};
use palisade_core::{ErrorKind, SharedProvider};
use palisade_limit::{
    BurndownConfig, CacheTokens, LearnedOutputConfig, LimiterConfig, Quota, QuotaProfileConfig,
};
use palisade_stack::fallback::CooldownConfig;
use palisade_stack::{
    Backoff, BudgetConfig, CandidateConfig, FallbackConfig, Jitter, OverloadConfig, PriceTable,
    RetryPolicy, StackBuilder, StackConfig, TimeoutConfig,
};
use serde::{Deserialize, Serialize};

use crate::arrival::LoadSummary;
use crate::limits::{MAX_ATTEMPTS, MAX_BACKOFF, MAX_WAIT, count_within, duration_within};
use crate::model::SimulatedModelConfig;
use crate::prompt_cache::CacheReadQuota;
use crate::scenario::Scenario;

/// How the palisade side of a simulation is configured. Every field has a
/// default; an empty `[palisade]` table is the stack documented above.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PalisadeConfig {
    /// Longest a request queues at a model's limiter before the fallback
    /// tries the next model (the last model: until the deadline). Default: 2 s.
    #[serde(with = "palisade_core::duration")]
    pub queue_wait: Duration,
    /// Route by expected wait (the fallback's `[fallback.overload]`, on by
    /// default in palisade-stack): each request goes to the model that can
    /// serve it soonest, moves on when another could serve it first, and is
    /// refused at once when no model can serve it before its deadline. Every
    /// model's limiter then queues up to the deadline, and `queue_wait` is
    /// unused. `false`: the models in order, `queue_wait` at each (the stack
    /// before expected waits). Default: `true`.
    pub route_by_expected_wait: bool,
    /// With `route_by_expected_wait`, how much longer a request waits for a
    /// model earlier in the list than for the one that could serve it
    /// soonest (the fallback's `overload.prefer_within`). A value as long
    /// as the deadline makes the list a cost-aware spill-over: the first
    /// model that can serve in time serves (the `tiers` scenario).
    /// Default: the fallback's default, 1 s.
    #[serde(
        default,
        with = "palisade_core::duration::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefer_within: Option<Duration>,
    /// With `route_by_expected_wait`, prompt-cache affinity (the fallback's
    /// `overload.cache_affinity`, a table of 10,000 prefixes): a
    /// conversation goes back to the model that answered its previous turn,
    /// and holds its cached prefix, whenever that model can serve in time.
    /// `false` sets the table's size to 0, which turns it off: each turn
    /// goes where it is served soonest. Default: `true`.
    pub cache_affinity: bool,
    /// Attempts per model for server errors, the first included. Default: 3.
    pub retry_attempts: u32,
    /// First retry backoff, doubling per retry up to 16×. Default: 500 ms.
    #[serde(with = "palisade_core::duration")]
    pub retry_backoff: Duration,
    /// Consecutive failures that open a model's breaker. Default: 5.
    pub breaker_failures: u32,
    /// How long a breaker stays open the first time (doubling while the model
    /// keeps failing, up to 4×). Default: 20 s.
    #[serde(with = "palisade_core::duration")]
    pub breaker_open: Duration,
    /// Learned output reservations on every model's limiter (the keys of
    /// docs/limits.md, "Learned output reservations"): reserve what replies
    /// really use instead of `max_tokens`. Default: none (reserve
    /// `max_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learned_output: Option<LearnedOutputConfig>,
    /// A spending budget in front of the fallback (the `[budget]` of
    /// docs/config.md), priced at the models' own prices. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetConfig>,
    /// A whole stack config to run instead of the derived one (the format of
    /// docs/config.md; each candidate's `id` must be a model id of the
    /// scenario). Default: none.
    pub stack: Option<StackConfig>,
}

impl Default for PalisadeConfig {
    fn default() -> Self {
        Self {
            queue_wait: Duration::from_secs(2),
            route_by_expected_wait: true,
            prefer_within: None,
            cache_affinity: true,
            retry_attempts: 3,
            retry_backoff: Duration::from_millis(500),
            breaker_failures: 5,
            breaker_open: Duration::from_secs(20),
            learned_output: None,
            budget: None,
            stack: None,
        }
    }
}

impl PalisadeConfig {
    /// Checks the knobs; the error is `(field, what is wrong)`.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let field = |f: &'static str| move |e: String| (f.to_owned(), e);
        duration_within(self.queue_wait, MAX_WAIT, true).map_err(field("queue_wait"))?;
        if let Some(d) = self.prefer_within {
            duration_within(d, MAX_WAIT, true).map_err(field("prefer_within"))?;
        }
        count_within(self.retry_attempts, 1, MAX_ATTEMPTS).map_err(field("retry_attempts"))?;
        duration_within(self.retry_backoff, MAX_BACKOFF, true).map_err(field("retry_backoff"))?;
        count_within(self.breaker_failures, 1, u32::MAX).map_err(field("breaker_failures"))?;
        duration_within(self.breaker_open, MAX_WAIT, false).map_err(field("breaker_open"))?;
        if let Some((key, reason)) = self.learned_output.as_ref().and_then(|l| l.invalid()) {
            return Err((key.to_owned(), reason.to_owned()));
        }
        if self.stack.is_some() {
            for (key, set) in [
                ("learned_output", self.learned_output.is_some()),
                ("budget", self.budget.is_some()),
                ("cache_affinity", !self.cache_affinity),
            ] {
                if set {
                    return Err((
                        key.to_owned(),
                        "applies to the derived stack only; with `[palisade.stack]` set it \
                         there (`candidates.limit.learned_output`, `[palisade.stack.budget]`, \
                         `[palisade.stack.fallback.overload] cache_affinity = 0`)"
                            .to_owned(),
                    ));
                }
            }
        }
        if let Some(budget) = &self.budget {
            let probe = StackConfig {
                candidates: vec![CandidateConfig::new("budget-check")],
                budget: Some(budget.clone()),
                ..StackConfig::default()
            };
            probe.validate().map_err(|e| {
                (
                    "budget".to_owned(),
                    format!("is not a budget that can run: {e}"),
                )
            })?;
        }
        if let Some(stack) = &self.stack {
            stack.validate().map_err(|e| {
                (
                    "stack".to_owned(),
                    format!("is not a stack that can run: {e}"),
                )
            })?;
        }
        Ok(())
    }

    /// The stack config the simulation runs: `stack` when given, else the
    /// one derived from the knobs and the scenario's models. Either way its
    /// jitter is seeded from the scenario's seed unless it names its own, so
    /// a run replays exactly.
    pub fn stack_config(&self, scenario: &Scenario) -> StackConfig {
        let prompts = Prompts::of(&LoadSummary::of(scenario.offered_load()));
        let all: Vec<usize> = (0..scenario.models.len()).collect();
        self.stack_config_over(scenario, &all, prompts)
    }

    /// The stack config over the models `over` (indices, fallback order),
    /// for a load whose prompts are `prompts`.
    pub(crate) fn stack_config_over(
        &self,
        scenario: &Scenario,
        over: &[usize],
        prompts: Prompts,
    ) -> StackConfig {
        let mut config = match &self.stack {
            Some(stack) => stack.clone(),
            None => self.derived_stack_config(scenario, over, prompts),
        };
        config.seed.get_or_insert(scenario.seed);
        config
    }

    /// The stack the module docs describe, for `scenario`'s models `over`.
    fn derived_stack_config(
        &self,
        scenario: &Scenario,
        over: &[usize],
        prompts: Prompts,
    ) -> StackConfig {
        let largest_prompt = prompts.largest;
        let last = over.len().saturating_sub(1);
        let candidates = over
            .iter()
            .filter_map(|&m| scenario.models.get(m))
            .enumerate()
            .map(|(i, model)| {
                let reservation = model
                    .quota
                    .charge(largest_prompt, scenario.requests.max_tokens);
                let queue_wait = if i == last || self.route_by_expected_wait {
                    scenario.requests.deadline
                } else {
                    self.queue_wait
                };
                let in_flight =
                    calls_in_flight_at_quota(model, prompts.mean, scenario.requests.max_tokens);
                let held = held_while_in_flight(model, scenario.requests.max_tokens);
                let mut limiter = limiter_for(model, reservation, in_flight * held, queue_wait);
                split_limits(
                    &mut limiter,
                    model,
                    largest_prompt,
                    scenario.requests.max_tokens,
                );
                limiter.learned_output = self.learned_output.clone();
                let mut candidate = CandidateConfig::new(model.id.clone());
                candidate.limit = Some(limiter);
                candidate
            })
            .collect();
        // A budget is priced at the models' own prices, the ones the
        // simulated models bill; without one the table stays empty, as the
        // stack has always run.
        let prices = match &self.budget {
            Some(_) => over
                .iter()
                .filter_map(|&m| scenario.models.get(m))
                .fold(PriceTable::new(), |table, model| {
                    table.with(model.id.clone(), model.price)
                }),
            None => PriceTable::new(),
        };
        let mut breaker = BreakerConfig {
            consecutive_failures: Some(self.breaker_failures),
            policy: OutcomePolicy::new().ignore(ErrorKind::Throttled),
            ..BreakerConfig::default()
        };
        breaker.open_duration.base = self.breaker_open;
        breaker.open_duration.max = Some(self.breaker_open.saturating_mul(4));
        StackConfig {
            name: "palisade".into(),
            candidates,
            retry: RetryPolicy::default()
                .with_max_attempts(self.retry_attempts)
                .with_max_total_time(None)
                .with_backoff(
                    Backoff::exponential(self.retry_backoff, self.retry_backoff.saturating_mul(16))
                        .with_jitter(Jitter::Full),
                ),
            timeout: TimeoutConfig {
                per_attempt: None,
                overall: None,
            },
            fallback: FallbackConfig {
                max_wait: scenario.requests.deadline,
                max_rounds: u32::MAX,
                cooldown: CooldownConfig {
                    enabled: false,
                    ..CooldownConfig::default()
                },
                overload: OverloadConfig {
                    enabled: self.route_by_expected_wait,
                    prefer_within: self
                        .prefer_within
                        .unwrap_or(OverloadConfig::default().prefer_within),
                    // A table of no entries remembers nothing: off.
                    cache_affinity: if self.cache_affinity {
                        OverloadConfig::default().cache_affinity
                    } else {
                        0
                    },
                    ..OverloadConfig::default()
                },
                ..FallbackConfig::default()
            },
            breaker,
            budget: self.budget.clone(),
            prices,
            ..StackConfig::default()
        }
    }
}

/// The prompts of the load a stack is sized for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Prompts {
    /// The largest prompt, in tokens: the largest reservation.
    pub(crate) largest: u32,
    /// The mean prompt, in tokens: how many calls fit the quota.
    pub(crate) mean: f64,
}

impl Prompts {
    /// The prompts of a load summarized by `summary`.
    pub(crate) fn of(summary: &LoadSummary) -> Self {
        let mean = if summary.requests == 0 {
            f64::from(summary.largest_prompt)
        } else {
            summary.prompt_tokens as f64 / summary.requests as f64
        };
        Self {
            largest: summary.largest_prompt,
            mean,
        }
    }
}

/// How many calls `model` has in flight when it serves at its quota: the
/// calls per minute its quotas admit at a mean prompt of `mean_prompt`
/// tokens and its mean output, times its mean call time (first token plus
/// the mean output at the mean pace).
fn calls_in_flight_at_quota(
    model: &SimulatedModelConfig,
    mean_prompt: f64,
    max_tokens: u32,
) -> f64 {
    let quota = &model.quota;
    let mean_out = model.output_tokens.mean_clamped(1, max_tokens);
    let minutes = quota.window.as_secs_f64() / 60.0;
    let cost = mean_prompt + mean_out * quota.output_burndown;
    let by_requests = quota.rpm.map(|rpm| f64::from(rpm) / minutes);
    let by_tokens = quota.tpm.map(|tpm| tpm as f64 / cost / minutes);
    let Some(per_min) = by_requests.into_iter().chain(by_tokens).reduce(f64::min) else {
        return 0.0;
    };
    let latency = &model.latency;
    let call_ms =
        latency.time_to_first_token_ms.mean() + mean_out * latency.per_output_token_ms.mean();
    let calls = per_min / 60.0 * call_ms / 1_000.0;
    if calls.is_finite() {
        calls.max(0.0)
    } else {
        0.0
    }
}

/// Quota tokens a call holds while in flight beyond what it is charged at
/// the end: the unused part of `max_tokens × burndown` at the model's mean
/// output (nothing when the quota is counted from usage).
fn held_while_in_flight(model: &SimulatedModelConfig, max_tokens: u32) -> f64 {
    if !model.quota.reserves_max_tokens {
        return 0.0;
    }
    let mean_out = model.output_tokens.mean_clamped(1, max_tokens);
    (f64::from(max_tokens) - mean_out).max(0.0) * model.quota.output_burndown.ceil()
}

/// The limiter for one model (see the module docs for the numbers):
/// `reservation` is the largest call's, `held` what the calls in flight at
/// the quota hold beyond their final charge.
fn limiter_for(
    model: &SimulatedModelConfig,
    reservation: u64,
    held: f64,
    queue_wait: Duration,
) -> LimiterConfig {
    let quota = &model.quota;
    let mut limiter = LimiterConfig::named(model.id.clone()).with_max_wait(queue_wait);
    if let Some(rpm) = quota.rpm {
        let rate = u64::from(rpm).saturating_sub(1).max(1);
        limiter = limiter.with_requests(Quota::per(rate, quota.window).with_burst(1));
    }
    if let Some(tpm) = quota.tpm {
        // One call's reservation, plus what the calls in flight at the
        // quota hold until they settle, and at least a second reservation
        // (`as` saturates; the clamp keeps a bucket that fits one call).
        let burst = reservation
            .saturating_add((held.ceil() as u64).max(reservation))
            .clamp(1, tpm);
        let rate = tpm.saturating_sub(burst).max(1);
        limiter = limiter.with_tokens(Quota::per(rate, quota.window).with_burst(burst));
    }
    limiter.burndown = BurndownConfig {
        default: quota.output_burndown.ceil() as u32,
        ..BurndownConfig::default()
    };
    limiter
}

/// A model's split quotas (`itpm`, `otpm`) as limits of its limiter, sized
/// as the combined one is (`rate + burst = quota`), and the quota profile that counts like the
/// model: the whole prompt reserved against input (which part the cache
/// serves is known only from the answer), cache reads settled as the
/// model's prompt cache counts them, output settled to what was generated.
fn split_limits(
    limiter: &mut LimiterConfig,
    model: &SimulatedModelConfig,
    largest_prompt: u32,
    max_tokens: u32,
) {
    let quota = &model.quota;
    if quota.itpm.is_none() && quota.otpm.is_none() {
        return;
    }
    // The burst holds what calls in flight reserve, returned only when they
    // settle: two of the largest reservations, or a tenth of the quota when
    // that is more (many small calls in flight at once).
    let bucket = |amount: u64, largest: u64| {
        let burst = largest.saturating_mul(2).max(amount / 10).clamp(1, amount);
        Quota::per(amount.saturating_sub(burst).max(1), quota.window).with_burst(burst)
    };
    if let Some(itpm) = quota.itpm {
        limiter.input_tokens = Some(bucket(itpm, u64::from(largest_prompt)));
    }
    if let Some(otpm) = quota.otpm {
        let largest = if quota.reserves_max_tokens {
            u64::from(max_tokens)
        } else {
            0
        };
        limiter.output_tokens = Some(bucket(otpm, largest.max(1)));
    }
    let cache_reads = match model.prompt_cache.cache_reads {
        CacheReadQuota::Counted => CacheTokens::Counted,
        CacheReadQuota::ReleasedAtSettle | CacheReadQuota::NotCounted => CacheTokens::Released,
    };
    limiter.profile = Some(QuotaProfileConfig {
        output_burndown: quota.output_burndown.ceil() as u32,
        cache_reads,
        ..QuotaProfileConfig::default()
    });
}

/// Builds the palisade stack over the scenario's (probed) models `over`.
pub(crate) fn build(
    scenario: &Scenario,
    models: &[SharedProvider],
    over: &[usize],
    prompts: Prompts,
) -> Result<SharedProvider, String> {
    let config = scenario.palisade.stack_config_over(scenario, over, prompts);
    let mut builder = StackBuilder::new(config);
    for (model, config) in models.iter().zip(&scenario.models) {
        builder = builder.shared_provider(config.id.clone(), model.clone());
    }
    let stack = builder.build().map_err(|e| e.to_string())?;
    Ok(Arc::new(stack))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Result<Scenario, crate::ScenarioError> {
        Scenario::from_toml_str(
            &format!("duration = \"1m\"\nclients = 2\n[[models]]\nid = \"sim/a\"\n{extra}"),
            "t",
        )
    }

    #[test]
    fn learned_output_and_a_budget_reach_the_derived_stack() {
        let s =
            scenario("[palisade.learned_output]\nwarmup = 5\n[palisade.budget]\nlimit_usd = 2.0\n")
                .unwrap();
        let config = s.palisade.stack_config(&s);
        let limit = config.candidates[0].limit.as_ref().unwrap();
        assert_eq!(limit.learned_output.as_ref().unwrap().warmup, 5);
        assert_eq!(config.budget.as_ref().unwrap().limit_usd, Some(2.0));
        assert_eq!(config.prices.get("sim/a"), Some(&s.models[0].price));
        // Without them the derived stack is as it always was.
        let plain = scenario("").unwrap();
        let config = plain.palisade.stack_config(&plain);
        assert!(
            config.candidates[0]
                .limit
                .as_ref()
                .unwrap()
                .learned_output
                .is_none()
        );
        assert!(config.budget.is_none() && config.prices.is_empty());
    }

    /// The token bucket holds one reservation plus what the calls in
    /// flight at the quota hold, and never adds up to more than the quota.
    #[test]
    fn the_token_burst_holds_the_calls_in_flight_at_the_quota() {
        let s = Scenario::named("overload").unwrap();
        let config = s.palisade.stack_config(&s);
        let primary = config.candidates[0].limit.as_ref().unwrap();
        let tokens = primary.tokens.as_ref().unwrap();
        assert_eq!(
            tokens.amount + tokens.burst(),
            200_000,
            "rate + burst = tpm"
        );
        // Largest prompt 4,000 + 1,024 × 5; each call in flight holds about
        // (1,024 − 359) × 5 = 3,325 until it settles, and at 49.4 calls a
        // minute of about 6.4 s each about 5.3 calls are in flight.
        let reservation = 4_000 + 1_024 * 5;
        let held = tokens.burst() - reservation;
        assert!((16_000..19_000).contains(&held), "held {held}");
        let requests = primary.requests.as_ref().unwrap();
        assert_eq!(requests.amount + requests.burst(), 50, "rate + burst = rpm");

        // A model that answers at once holds nothing in flight: two
        // reservations, one for the call and one for its refund.
        let instant = scenario(
            "[models.quota]\ntpm = 100000\n[models.latency]\n\
             time_to_first_token_ms = { kind = \"fixed\", value = 0 }\n\
             per_output_token_ms = { kind = \"fixed\", value = 0 }\n",
        )
        .unwrap();
        let config = instant.palisade.stack_config(&instant);
        let tokens = config.candidates[0].limit.as_ref().unwrap().tokens.unwrap();
        let largest = LoadSummary::of(instant.offered_load()).largest_prompt;
        assert_eq!(
            tokens.burst(),
            2 * instant.models[0]
                .quota
                .charge(largest, instant.requests.max_tokens)
        );
    }

    #[test]
    fn cache_affinity_reaches_the_derived_stack_and_false_turns_it_off() {
        let on = scenario("").unwrap();
        let config = on.palisade.stack_config(&on);
        assert_eq!(
            config.fallback.overload.cache_affinity,
            OverloadConfig::default().cache_affinity
        );
        assert!(config.fallback.overload.cache_affinity > 0);
        let off = scenario("[palisade]\ncache_affinity = false\n").unwrap();
        assert_eq!(
            off.palisade
                .stack_config(&off)
                .fallback
                .overload
                .cache_affinity,
            0
        );
        let err = scenario(
            "[palisade]\ncache_affinity = false\n[palisade.stack]\n[[palisade.stack.candidates]]\nid = \"sim/a\"\n",
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("palisade.cache_affinity"), "{err}");
    }

    #[test]
    fn bad_learned_output_and_budget_keys_are_named() {
        let err = scenario("[palisade.learned_output]\nquantile = 1.5\n").unwrap_err();
        assert_eq!(
            err.field(),
            Some("palisade.learned_output.quantile"),
            "{err}"
        );
        let err = scenario("[palisade.budget]\nlimit_usd = -1.0\n").unwrap_err();
        assert_eq!(err.field(), Some("palisade.budget"), "{err}");
        let err = scenario(
            "[palisade.budget]\nlimit_usd = 1.0\n[palisade.stack]\n[[palisade.stack.candidates]]\nid = \"sim/a\"\n",
        )
        .unwrap_err();
        assert_eq!(err.field(), Some("palisade.budget"), "{err}");
    }
}
