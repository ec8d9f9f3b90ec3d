//! The quota-bound maximum: how many tokens per minute the scenario's
//! models could serve at most, given their quotas and outages, and how much
//! of that the offered load asks for.
//!
//! For each model, a request of the scenario's mean size costs
//! `mean input + mean output × burndown` quota tokens (the input as the
//! quota counts it: a cached prefix per the model's prompt cache), so the
//! model serves at most `min(rpm, tpm / that cost, itpm / mean input,
//! otpm / mean output)` requests per minute — each worth
//! `mean input + mean output` tokens of answer — for the share of the run it
//! is not in an outage. The sum over models is the capacity; the quota-bound
//! goodput is the smaller of the capacity and the offered load (nothing can
//! serve more than is asked). Means are taken over the configured
//! distributions (output clamped to `max_tokens`), not over the draws of one
//! run, so one run's goodput may land a little above or below them.
//!
//! A model with no quota at all has no bound: then neither has the capacity,
//! and the report says so instead of quoting a figure.
//!
//! The bound ignores the transient cost of reservations (a call holds
//! `max_tokens × burndown` until it ends) and any time a model is throttled
//! for, so it is an upper bound no client reaches exactly.

use serde::Serialize;

use crate::arrival::LoadSummary;
use crate::scenario::Scenario;

/// The capacity figures of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Capacity {
    /// Tokens per minute the offered load asks for (input plus the primary's
    /// mean output, per request; a trace's own output where it gives one).
    pub offered_tokens_per_min: f64,
    /// Tokens per minute the models could serve together at most; `None`
    /// when a model has no quota (no bound).
    pub capacity_tokens_per_min: Option<f64>,
    /// `min(offered, capacity)`: the goodput a perfect client would reach;
    /// `None` when the capacity has no bound.
    pub quota_bound_tokens_per_min: Option<f64>,
}

/// Requests per minute one model can serve at the scenario's mean sizes,
/// ignoring outages; `None` when it has no quota (no bound).
pub(crate) fn model_requests_per_min(scenario: &Scenario, model: usize) -> Option<f64> {
    let config = scenario.models.get(model)?;
    let max_tokens = scenario.requests.max_tokens;
    let prefix = scenario.requests.cached_prefix_tokens;
    // The prompt as the quotas count it once a call has ended: the cached
    // prefix as the model's prompt cache counts reads.
    let mean_in = scenario.requests.input_tokens.mean_clamped(1, u32::MAX)
        + f64::from(config.prompt_cache.cache_reads.at_settlement(prefix));
    let mean_out = config.output_tokens.mean_clamped(1, max_tokens);
    let per_window = config.quota.window.as_secs_f64() / 60.0;
    let by_requests = config.quota.rpm.map(|rpm| f64::from(rpm) / per_window);
    let cost = mean_in + mean_out * config.quota.output_burndown;
    let by_tokens = config.quota.tpm.map(|tpm| tpm as f64 / cost / per_window);
    let by_input = config.quota.itpm.map(|q| q as f64 / mean_in / per_window);
    let by_output = config.quota.otpm.map(|q| q as f64 / mean_out / per_window);
    [by_requests, by_tokens, by_input, by_output]
        .into_iter()
        .flatten()
        .reduce(f64::min)
}

/// The capacity figures of `scenario` for an offered load summarized by `load`.
pub(crate) fn capacity(scenario: &Scenario, load: &LoadSummary) -> Capacity {
    let minutes = scenario.duration.as_secs_f64() / 60.0;
    let max_tokens = scenario.requests.max_tokens;
    // An answer is worth its whole prompt, the cached prefix included.
    let mean_in = scenario.requests.input_tokens.mean_clamped(1, u32::MAX)
        + f64::from(scenario.requests.cached_prefix_tokens);

    let primary_mean_out = scenario
        .models
        .first()
        .map_or(0.0, |m| m.output_tokens.mean_clamped(1, max_tokens));
    let drawn_outputs = load.requests.saturating_sub(load.known_outputs) as f64;
    let offered = (load.prompt_tokens as f64
        + load.known_output_tokens as f64
        + drawn_outputs * primary_mean_out)
        / minutes;

    let per_model: Option<Vec<f64>> = scenario
        .models
        .iter()
        .enumerate()
        .map(|(i, config)| {
            let mean_out = config.output_tokens.mean_clamped(1, max_tokens);
            let down: f64 = config
                .failures
                .outages
                .iter()
                .map(|w| w.overlap(scenario.duration).as_secs_f64())
                .sum();
            let up_share = (1.0 - down / scenario.duration.as_secs_f64()).max(0.0);
            if up_share == 0.0 {
                return Some(0.0);
            }
            model_requests_per_min(scenario, i).map(|r| r * (mean_in + mean_out) * up_share)
        })
        .collect();
    let capacity = per_model.map(|c| c.iter().sum::<f64>());
    Capacity {
        offered_tokens_per_min: offered,
        capacity_tokens_per_min: capacity,
        quota_bound_tokens_per_min: capacity.map(|c| offered.min(c)),
    }
}
