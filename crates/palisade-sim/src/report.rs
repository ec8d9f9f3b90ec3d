//! The simulation report: what each system under test achieved on the same
//! offered load, with stable field names (documented in docs/simulation.md)
//! for scripts reading `palisade simulate --json`.
//!
//! Maps are `BTreeMap`s and floats are rounded, so the same run serializes
//! to the same bytes.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::arrival::Arrival;
use crate::capacity::{Capacity, model_requests_per_min};
use crate::driver::RunOutcome;
use crate::scenario::Scenario;

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
    /// Clients.
    pub clients: u32,
    /// Requests offered (the same for both systems).
    pub requests: u64,
    /// Requests per minute offered.
    pub offered_requests_per_min: f64,
    /// Tokens per minute offered (input + the primary's mean output).
    pub offered_tokens_per_min: f64,
    /// Tokens per minute the models could serve at most (quotas, outages).
    pub capacity_tokens_per_min: f64,
    /// `min(offered, capacity)`: the goodput a perfect client would reach.
    pub quota_bound_tokens_per_min: f64,
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
    /// Output burndown.
    pub output_burndown: f64,
    /// Requests per minute it can serve at the scenario's mean sizes.
    pub max_requests_per_min: f64,
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
    /// Requests with no outcome at all (`requests − completed − failed`);
    /// anything but 0 is a bug.
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
    /// Input + output tokens of completed requests per minute of `duration`.
    pub goodput_tokens_per_min: f64,
    /// `goodput / quota_bound`, in percent.
    pub goodput_pct_of_quota_bound: f64,
    /// What the completed requests cost, in US dollars.
    pub cost_usd: f64,
    /// Simulated seconds after the end of `duration` until the last request
    /// had its outcome.
    pub drain_s: f64,
    /// Per model, by id.
    pub models: BTreeMap<String, ModelReport>,
}

/// Latency percentiles (nearest rank), in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
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
    /// Input tokens it served.
    pub input_tokens: u64,
    /// Output tokens it served.
    pub output_tokens: u64,
    /// What its answers cost, in US dollars.
    pub cost_usd: f64,
}

fn round(x: f64, digits: i32) -> f64 {
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
    pub(crate) fn new(scenario: &Scenario, load: &[Arrival], capacity: &Capacity) -> Self {
        let minutes = scenario.duration.as_secs_f64() / 60.0;
        Self {
            name: scenario.name.clone(),
            seed: scenario.seed,
            duration_s: round(scenario.duration.as_secs_f64(), 3),
            clients: scenario.clients,
            requests: load.len() as u64,
            offered_requests_per_min: round(load.len() as f64 / minutes, 2),
            offered_tokens_per_min: round(capacity.offered_tokens_per_min, 0),
            capacity_tokens_per_min: round(capacity.capacity_tokens_per_min, 0),
            quota_bound_tokens_per_min: round(capacity.quota_bound_tokens_per_min, 0),
            models: scenario
                .models
                .iter()
                .enumerate()
                .map(|(i, m)| ModelSummary {
                    id: m.id.clone(),
                    rpm: m.quota.rpm,
                    tpm: m.quota.tpm,
                    output_burndown: m.quota.output_burndown,
                    max_requests_per_min: round(model_requests_per_min(scenario, i), 2),
                })
                .collect(),
        }
    }
}

impl SystemReport {
    pub(crate) fn new(scenario: &Scenario, capacity: &Capacity, run: &RunOutcome) -> Self {
        let requests = run.outcomes.len() as u64;
        let mut completed = 0u64;
        let mut failed_by_kind: BTreeMap<String, u64> = BTreeMap::new();
        let mut latencies: Vec<f64> = Vec::with_capacity(run.outcomes.len());
        let mut served_tokens = 0u64;
        let mut per_model = vec![(0u64, 0u64, 0u64); scenario.models.len()];
        let mut last_finish = scenario.duration;
        for outcome in run.outcomes.iter().flatten() {
            last_finish = last_finish.max(outcome.finished);
            match outcome.result {
                Ok(served) => {
                    completed += 1;
                    latencies.push(outcome.finished.saturating_sub(outcome.at).as_secs_f64() * 1e3);
                    served_tokens +=
                        u64::from(served.input_tokens) + u64::from(served.output_tokens);
                    if let Some(m) = per_model.get_mut(served.model) {
                        m.0 += 1;
                        m.1 += u64::from(served.input_tokens);
                        m.2 += u64::from(served.output_tokens);
                    }
                }
                Err(kind) => *failed_by_kind.entry(kind.as_str().to_owned()).or_default() += 1,
            }
        }
        let failed: u64 = failed_by_kind.values().sum();
        let minutes = scenario.duration.as_secs_f64() / 60.0;
        let goodput = served_tokens as f64 / minutes;

        let mut models = BTreeMap::new();
        let mut cost = 0.0;
        for (i, config) in scenario.models.iter().enumerate() {
            let (done, input, output) = per_model[i];
            let stats = run.model_stats.get(i).copied().unwrap_or_default();
            let model_cost = config.price.cost(input, output);
            cost += model_cost;
            models.insert(
                config.id.clone(),
                ModelReport {
                    completed: done,
                    share_pct: pct(done, completed),
                    calls: stats.calls,
                    throttled: stats.throttled(),
                    outage_refusals: stats.outage_refusals,
                    injected_errors: stats.injected_errors,
                    cancelled: stats.cancelled,
                    input_tokens: input,
                    output_tokens: output,
                    cost_usd: round(model_cost, 4),
                },
            );
        }

        Self {
            requests,
            completed,
            failed,
            lost: requests - completed - failed,
            completed_pct: pct(completed, requests),
            throttles_surfaced: failed_by_kind.get("throttled").copied().unwrap_or(0),
            failed_by_kind,
            throttles_seen_by_provider: run.model_stats.iter().map(|s| s.throttled()).sum(),
            provider_calls: run.model_stats.iter().map(|s| s.calls).sum(),
            retries: run.traces.iter().map(|t| u64::from(t.retries)).sum(),
            fallbacks: run.traces.iter().map(|t| u64::from(t.fallbacks)).sum(),
            served_by_fallback: completed - per_model.first().map_or(0, |m| m.0),
            latency_ms: latency_summary(&mut latencies),
            goodput_tokens_per_min: round(goodput, 0),
            goodput_pct_of_quota_bound: if capacity.quota_bound_tokens_per_min > 0.0 {
                round(goodput * 100.0 / capacity.quota_bound_tokens_per_min, 2)
            } else {
                0.0
            },
            cost_usd: round(cost, 4),
            drain_s: round(
                last_finish.saturating_sub(scenario.duration).as_secs_f64(),
                3,
            ),
            models,
        }
    }
}

fn latency_summary(ms: &mut [f64]) -> LatencySummary {
    if ms.is_empty() {
        return LatencySummary::default();
    }
    ms.sort_by(f64::total_cmp);
    let rank = |p: f64| {
        let i = ((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1;
        round(ms[i], 1)
    };
    LatencySummary {
        p50: rank(0.50),
        p95: rank(0.95),
        p99: rank(0.99),
        max: round(ms[ms.len() - 1], 1),
        mean: round(ms.iter().sum::<f64>() / ms.len() as f64, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut ms: Vec<f64> = (1..=100).map(f64::from).collect();
        let s = latency_summary(&mut ms);
        assert_eq!((s.p50, s.p95, s.p99, s.max), (50.0, 95.0, 99.0, 100.0));
        assert_eq!(latency_summary(&mut []), LatencySummary::default());
    }
}
