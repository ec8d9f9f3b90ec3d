//! The simulation report: what each system under test achieved on the same
//! offered load, with stable field names (documented in docs/simulation.md)
//! for scripts reading `palisade simulate --json`.
//!
//! Maps are `BTreeMap`s and floats are rounded, so the same run serializes
//! to the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::arrival::LoadSummary;
use crate::capacity::{Capacity, model_requests_per_min};
use crate::driver::RunOutcome;
use crate::failure::Window;
pub use crate::percentiles::LatencySummary;
use crate::scenario::Scenario;
use crate::timeline::Timeline;

/// The whole report: the scenario, then each system side by side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimulationReport {
    /// The scenario and its capacity figures.
    pub scenario: ScenarioSummary,
    /// The naive client (no limiter, no breaker, SDK standard retries).
    pub naive: SystemReport,
    /// The palisade stack.
    pub palisade: SystemReport,
}

/// The scenario as run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScenarioSummary {
    /// Its name.
    pub name: String,
    /// Its seed.
    pub seed: u64,
    /// Simulated seconds during which requests arrive.
    pub duration_s: f64,
    /// Clients (0 for a recorded trace).
    pub clients: u32,
    /// Requests offered (the same for both systems).
    pub requests: u64,
    /// Requests per minute offered.
    pub offered_requests_per_min: f64,
    /// Tokens per minute offered (input + the primary's mean output).
    pub offered_tokens_per_min: f64,
    /// Tokens per minute the models could serve at most (quotas, outages);
    /// `null` when a model has no quota, so there is no bound.
    pub capacity_tokens_per_min: Option<f64>,
    /// `min(offered, capacity)`: the goodput a perfect client would reach;
    /// `null` when there is no bound.
    pub quota_bound_tokens_per_min: Option<f64>,
    /// The models, primary first.
    pub models: Vec<ModelSummary>,
}

/// One model's quotas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelSummary {
    /// Its id.
    pub id: String,
    /// Requests per minute, if limited.
    pub rpm: Option<u32>,
    /// Tokens per minute, if limited.
    pub tpm: Option<u64>,
    /// Input tokens per minute quota, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub itpm: Option<u64>,
    /// Output tokens per minute quota, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otpm: Option<u64>,
    /// Output burndown.
    pub output_burndown: f64,
    /// Requests per minute it can serve at the scenario's mean sizes;
    /// `null` when it has no quota (no bound).
    pub max_requests_per_min: Option<f64>,
    /// The windows in which it refuses every call (the HTML report shades
    /// them; not part of `--json`).
    #[serde(skip)]
    pub outages: Vec<Window>,
}

/// What one system achieved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemReport {
    /// Requests issued.
    pub requests: u64,
    /// Requests answered.
    pub completed: u64,
    /// Requests that ended in an error (the caller's deadline included).
    pub failed: u64,
    /// Requests with no outcome at all (`requests − completed − failed`):
    /// the simulation lost them, a bug. A report with any is not to be
    /// trusted, and `palisade simulate` exits with status 1.
    pub lost: u64,
    /// `completed / requests`, in percent.
    pub completed_pct: f64,
    /// Failed requests by the error kind the caller saw (`timeout` includes
    /// callers that gave up at their deadline).
    pub failed_by_kind: BTreeMap<String, u64>,
    /// Calls the models refused for quota (RPM or TPM), as the models count.
    pub throttles_seen_by_provider: u64,
    /// Failed requests whose error was `throttled`.
    pub throttles_surfaced: u64,
    /// Calls the models received, all outcomes.
    pub provider_calls: u64,
    /// Calls to the same model as the request's previous call.
    pub retries: u64,
    /// Calls to a different model than the request's previous call.
    pub fallbacks: u64,
    /// Completed requests answered by a model other than the primary.
    pub served_by_fallback: u64,
    /// End-to-end latency of completed requests (arrival to answer).
    pub latency_ms: LatencySummary,
    /// Time every request (answered or not) spent waiting outside the
    /// models: limiter queues, retry backoff, breaker and fallback waits.
    pub queue_ms: LatencySummary,
    /// Time from arrival to the error of the failed requests (a refusal at
    /// once is near 0; a caller that gave up at its deadline, the deadline).
    pub time_to_failure_ms: LatencySummary,
    /// Calls the models started but the caller's deadline cut before they
    /// answered (the models' `cancelled`, summed): quota spent on answers
    /// nobody receives.
    pub calls_cut_by_deadline: u64,
    /// Input + output tokens of completed requests per minute of `duration`.
    pub goodput_tokens_per_min: f64,
    /// `goodput / quota_bound`, in percent; `null` when there is no bound.
    pub goodput_pct_of_quota_bound: Option<f64>,
    /// What the completed requests cost, in US dollars.
    pub cost_usd: f64,
    /// Simulated seconds after the end of `duration` until the last request
    /// had its outcome.
    pub drain_s: f64,
    /// Per model, by id.
    pub models: BTreeMap<String, ModelReport>,
    /// The run over time (for the HTML report's charts; not part of
    /// `--json`).
    #[serde(skip)]
    pub timeline: Timeline,
}

/// One model's share of a system's work.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelReport {
    /// Requests it answered.
    pub completed: u64,
    /// Its share of all answered requests, in percent.
    pub share_pct: f64,
    /// Calls it received.
    pub calls: u64,
    /// Calls it refused for quota.
    pub throttled: u64,
    /// Calls it refused during an outage.
    pub outage_refusals: u64,
    /// Admitted calls that failed with an injected server error.
    pub injected_errors: u64,
    /// Admitted calls dropped by the caller before the answer.
    pub cancelled: u64,
    /// Input tokens it served (billed at the input price).
    pub input_tokens: u64,
    /// Output tokens it served.
    pub output_tokens: u64,
    /// Prompt tokens it read from the cache.
    pub cache_read_tokens: u64,
    /// Prompt tokens it wrote to the cache.
    pub cache_write_tokens: u64,
    /// Latency of the requests it answered.
    pub latency_ms: LatencySummary,
    /// Waiting time of the requests that ended with it (answered by it, or
    /// failed after calling it last).
    pub queue_ms: LatencySummary,
    /// What its answers cost, in US dollars.
    pub cost_usd: f64,
}

pub(crate) fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    let r = (x * scale).round() / scale;
    if r.is_finite() { r } else { 0.0 }
}

fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        round(part as f64 * 100.0 / whole as f64, 3)
    }
}

impl ScenarioSummary {
    pub(crate) fn new(scenario: &Scenario, load: &LoadSummary, capacity: &Capacity) -> Self {
        let minutes = scenario.duration.as_secs_f64() / 60.0;
        Self {
            name: scenario.name.clone(),
            seed: scenario.seed,
            duration_s: round(scenario.duration.as_secs_f64(), 3),
            clients: scenario.clients,
            requests: load.requests,
            offered_requests_per_min: round(load.requests as f64 / minutes, 2),
            offered_tokens_per_min: round(capacity.offered_tokens_per_min, 0),
            capacity_tokens_per_min: capacity.capacity_tokens_per_min.map(|c| round(c, 0)),
            quota_bound_tokens_per_min: capacity.quota_bound_tokens_per_min.map(|c| round(c, 0)),
            models: scenario
                .models
                .iter()
                .enumerate()
                .map(|(i, m)| ModelSummary {
                    id: m.id.clone(),
                    rpm: m.quota.rpm,
                    tpm: m.quota.tpm,
                    itpm: m.quota.itpm,
                    otpm: m.quota.otpm,
                    output_burndown: m.quota.output_burndown,
                    max_requests_per_min: model_requests_per_min(scenario, i).map(|r| round(r, 2)),
                    outages: m.failures.outages.clone(),
                })
                .collect(),
        }
    }
}

impl SystemReport {
    pub(crate) fn new(scenario: &Scenario, capacity: &Capacity, run: RunOutcome) -> Self {
        let RunOutcome {
            requests,
            tally,
            timeline,
            model_stats,
        } = run;
        let completed = tally.completed;
        let failed: u64 = tally.failed_by_kind.values().sum();
        let minutes = scenario.duration.as_secs_f64() / 60.0;
        let served_tokens: u64 = tally
            .models
            .iter()
            .map(|m| m.input_tokens + m.output_tokens + m.cache_read_tokens + m.cache_write_tokens)
            .sum();
        let goodput = served_tokens as f64 / minutes;

        let mut models = BTreeMap::new();
        let mut cost = 0.0;
        for (i, config) in scenario.models.iter().enumerate() {
            let Some(m) = tally.models.get(i) else {
                continue;
            };
            let stats = model_stats.get(i).copied().unwrap_or_default();
            let model_cost = config.price.cost_of_totals(
                m.input_tokens,
                m.output_tokens,
                m.cache_read_tokens,
                m.cache_write_tokens,
            );
            cost += model_cost;
            models.insert(
                config.id.clone(),
                ModelReport {
                    completed: m.completed,
                    share_pct: pct(m.completed, completed),
                    calls: stats.calls,
                    throttled: stats.throttled(),
                    outage_refusals: stats.outage_refusals,
                    injected_errors: stats.injected_errors,
                    cancelled: stats.cancelled,
                    input_tokens: m.input_tokens,
                    output_tokens: m.output_tokens,
                    cache_read_tokens: m.cache_read_tokens,
                    cache_write_tokens: m.cache_write_tokens,
                    latency_ms: m.latency.summary(),
                    queue_ms: m.queue.summary(),
                    cost_usd: round(model_cost, 4),
                },
            );
        }

        Self {
            requests,
            completed,
            failed,
            lost: requests.saturating_sub(completed + failed),
            completed_pct: pct(completed, requests),
            throttles_surfaced: tally.failed_by_kind.get("throttled").copied().unwrap_or(0),
            throttles_seen_by_provider: model_stats.iter().map(|s| s.throttled()).sum(),
            provider_calls: model_stats.iter().map(|s| s.calls).sum(),
            retries: tally.retries,
            fallbacks: tally.fallbacks,
            served_by_fallback: completed - tally.models.first().map_or(0, |m| m.completed),
            latency_ms: tally.latency.summary(),
            queue_ms: tally.queue.summary(),
            time_to_failure_ms: tally.to_failure.summary(),
            calls_cut_by_deadline: model_stats.iter().map(|s| s.cancelled).sum(),
            goodput_tokens_per_min: round(goodput, 0),
            goodput_pct_of_quota_bound: capacity
                .quota_bound_tokens_per_min
                .filter(|bound| *bound > 0.0)
                .map(|bound| round(goodput * 100.0 / bound, 2)),
            cost_usd: round(cost, 4),
            drain_s: round(
                tally
                    .last_finish
                    .max(scenario.duration)
                    .saturating_sub(scenario.duration)
                    .as_secs_f64(),
                3,
            ),
            failed_by_kind: tally.failed_by_kind,
            models,
            timeline,
        }
    }
}
