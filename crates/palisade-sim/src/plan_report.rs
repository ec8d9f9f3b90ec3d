//! The quota plan: what [`plan`](crate::plan) and
//! [`plan_trace`](crate::plan_trace) found, in the stable shape of
//! `palisade plan --json` (version 1, every field documented here and in
//! docs/simulation.md, "Planning quotas").
//!
//! Maps are ordered and floats rounded, so the same plan serializes to the
//! same bytes. New fields may be added within version 1; a field is never
//! renamed, removed or given another meaning without a new version.

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::plan_demand::{ModelDemand, Rate};
use crate::quota::QuotaConfig;
use crate::report::{LatencySummary, ModelReport, SystemReport, round};
use crate::scenario::Scenario;

/// The version of the plan's JSON shape.
pub const PLAN_VERSION: u32 = 1;

/// A quota plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaPlan {
    /// The shape's version: 1.
    pub version: u32,
    /// What was planned for.
    pub source: PlanSource,
    /// The target the recommended quotas meet.
    pub target: PlanTargetReport,
    /// Whether the search found quotas that meet the target (if not, the
    /// recommended quotas are the largest it tried, and they do not).
    pub target_met: bool,
    /// The simulation runs the plan took.
    pub runs: PlanRuns,
    /// Per model, in the scenario's order (primary first).
    pub models: Vec<ModelPlan>,
    /// The palisade stack with no quota on any model (the demand run):
    /// what no quota can improve on.
    pub at_no_quota: SystemOutcome,
    /// Both systems at the scenario's own quotas.
    pub at_current: PlanOutcome,
    /// Both systems at the recommended quotas.
    pub at_recommended: PlanOutcome,
    /// The whole simulation report at the scenario's own quotas (what
    /// `palisade plan --html` draws); not part of the JSON shape.
    #[serde(skip)]
    pub current_report: crate::report::SimulationReport,
}

/// What was planned for.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanSource {
    /// `"scenario"` or `"trace"`.
    pub kind: &'static str,
    /// The scenario's name (for a trace: the scenario it ran in, or
    /// `"trace FILE"`).
    pub name: String,
    /// The seed of every random draw.
    pub seed: u64,
    /// Simulated seconds during which requests arrive.
    pub duration_s: f64,
    /// Requests of the load.
    pub requests: u64,
}

/// The target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlanTargetReport {
    /// Calls the models may refuse for quota: 0.
    pub max_throttles: u64,
    /// Requests that may fail: as many as with no quota at all (outages
    /// and server errors that no quota prevents).
    pub max_failed: u64,
    /// The bound on the palisade stack's p99 queueing, in seconds.
    pub max_queue_p99_s: f64,
}

/// The simulation runs of a plan (each one system over the whole load).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PlanRuns {
    /// All of them.
    pub total: u32,
    /// The demand run: the palisade stack with no quota on any model.
    pub demand: u32,
    /// The naive client and the palisade stack at the current quotas.
    pub at_current: u32,
    /// The palisade stack at candidate quotas.
    pub search: u32,
    /// The most search runs a plan may take.
    pub search_limit: u32,
    /// The naive client at the recommended quotas.
    pub naive_check: u32,
    /// Where the recommended quotas lie between each model's steady
    /// demand (0) and the peak that refuses nothing (1); above 1 when the
    /// peak was not enough.
    pub scale: f64,
}

/// A model's quotas; `null` for no quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Quotas {
    /// Requests per quota window.
    pub rpm: Option<u32>,
    /// Tokens per quota window (prompt + output × burndown).
    pub tpm: Option<u64>,
    /// Input tokens per quota window; planned only for a model that has
    /// such a quota.
    pub itpm: Option<u64>,
    /// Output tokens per quota window; planned only for a model that has
    /// such a quota.
    pub otpm: Option<u64>,
}

/// One model's plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelPlan {
    /// Its id.
    pub id: String,
    /// How many quota tokens one output token burns.
    pub output_burndown: f64,
    /// What the load asks of it when nothing limits it.
    pub demand: ModelDemand,
    /// Its quotas in the scenario.
    pub current: Quotas,
    /// The smallest quotas the search found meeting the target, in the
    /// quotas the model has (RPM and TPM for a model with none); a model
    /// the load never reached keeps its current quotas.
    pub recommended: Quotas,
    /// How it fared at the current quotas.
    pub at_current: ModelOutcomes,
    /// How it fared at the recommended quotas.
    pub at_recommended: ModelOutcomes,
}

/// Both systems' outcomes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanOutcome {
    /// The naive client (no limiter, SDK standard retries).
    pub naive: SystemOutcome,
    /// The palisade stack.
    pub palisade: SystemOutcome,
}

/// What one system achieved.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SystemOutcome {
    /// Requests issued.
    pub requests: u64,
    /// Requests answered.
    pub completed: u64,
    /// Requests that ended in an error (the caller's deadline included).
    pub failed: u64,
    /// Failed requests by the error kind the caller saw (`timeout`
    /// includes callers that gave up at their deadline).
    pub failed_by_kind: BTreeMap<String, u64>,
    /// Calls the models refused for quota (RPM or TPM).
    pub throttles: u64,
    /// Failed requests whose error was `throttled`.
    pub throttles_surfaced: u64,
    /// End-to-end latency of answered requests, in ms.
    pub latency_ms: LatencySummary,
    /// Time every request waited outside the models, in ms.
    pub queue_ms: LatencySummary,
    /// What the answered requests cost, in US dollars.
    pub cost_usd: f64,
    /// `cost_usd` scaled from the run's duration to a day.
    pub cost_usd_per_day: f64,
}

/// One model's outcomes in both systems.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelOutcomes {
    /// Under the naive client.
    pub naive: ModelOutcome,
    /// Under the palisade stack.
    pub palisade: ModelOutcome,
}

/// What one model did in one run.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct ModelOutcome {
    /// Requests it answered.
    pub completed: u64,
    /// Calls it refused for quota.
    pub throttled: u64,
    /// Latency of the requests it answered, in ms.
    pub latency_ms: LatencySummary,
    /// What its answers cost, in US dollars.
    pub cost_usd: f64,
}

impl Quotas {
    /// A model's quotas as they are.
    pub(crate) fn of(quota: &QuotaConfig) -> Self {
        Self {
            rpm: quota.rpm,
            tpm: quota.tpm,
            itpm: quota.itpm,
            otpm: quota.otpm,
        }
    }

    /// Writes these quotas into `quota`.
    pub(crate) fn set(&self, quota: &mut QuotaConfig) {
        quota.rpm = self.rpm;
        quota.tpm = self.tpm;
        quota.itpm = self.itpm;
        quota.otpm = self.otpm;
    }
}

impl SystemOutcome {
    pub(crate) fn of(report: &SystemReport, duration_s: f64) -> Self {
        let days = (duration_s / 86_400.0).max(f64::MIN_POSITIVE);
        Self {
            requests: report.requests,
            completed: report.completed,
            failed: report.failed,
            failed_by_kind: report.failed_by_kind.clone(),
            throttles: report.throttles_seen_by_provider,
            throttles_surfaced: report.throttles_surfaced,
            latency_ms: report.latency_ms,
            queue_ms: report.queue_ms,
            cost_usd: report.cost_usd,
            cost_usd_per_day: round(report.cost_usd / days, 2),
        }
    }
}

impl ModelOutcome {
    pub(crate) fn of(report: Option<&ModelReport>) -> Self {
        report.map_or_else(Self::default, |m| Self {
            completed: m.completed,
            throttled: m.throttled,
            latency_ms: m.latency_ms,
            cost_usd: m.cost_usd,
        })
    }
}

impl QuotaPlan {
    /// Sets each planned model's quotas in `scenario` (matched by id) to
    /// the recommended ones; other models are left as they are.
    pub fn apply(&self, scenario: &mut Scenario) {
        for model in &mut scenario.models {
            if let Some(plan) = self.models.iter().find(|p| p.id == model.id) {
                plan.recommended.set(&mut model.quota);
            }
        }
    }

    /// The target's queueing bound, in milliseconds.
    pub fn max_queue_p99_ms(&self) -> f64 {
        self.target.max_queue_p99_s * 1e3
    }
}
