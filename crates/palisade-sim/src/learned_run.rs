//! Learned output reservations against reserving `max_tokens`: the palisade
//! stack over the same offered load twice, once with its limiters reserving
//! `max_tokens` and once with learned output reservations
//! (`[palisade.learned_output]`, the scenario's own settings or the
//! limiter's defaults), each on its own paused-time runtime with fresh
//! models.
//!
//! Under a tokens-per-minute quota that counts what calls really use, a
//! request with `max_tokens` 8,192 and ~300-token replies holds 27× its
//! real output against the limiter while it runs; the learned run reserves
//! what the route's replies use, so the same quota admits several times the
//! rate (the `large-max-tokens` scenario, docs/simulation.md).

use std::fmt::Write as _;

use serde::Serialize;

use crate::arrival::LoadSummary;
use crate::capacity::capacity;
use crate::driver::{NoProgress, ProgressSink};
use crate::report::{ScenarioSummary, SystemReport};
use crate::scenario::Scenario;
use crate::simulation::{Load, PALISADE, SimulationError, run_one};
use crate::table::render_pair;

/// The palisade stack reserving `max_tokens` and reserving learned output,
/// on the same load.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LearnedOutputComparison {
    /// The scenario and its load.
    pub scenario: ScenarioSummary,
    /// The stack whose limiters reserve `max_tokens`.
    pub reserve_max_tokens: SystemReport,
    /// The stack whose limiters reserve learned output.
    pub learned: SystemReport,
}

impl LearnedOutputComparison {
    /// Requests answered per minute of the run by the learned stack over
    /// those answered by the reserve-`max_tokens` one (infinite when the
    /// latter answered none).
    pub fn admitted_ratio(&self) -> f64 {
        self.learned.completed as f64 / self.reserve_max_tokens.completed as f64
    }
}

/// Runs `scenario`'s load through the palisade stack reserving `max_tokens`
/// and through it with learned output reservations.
///
/// The scenario must derive its stack (no `[palisade.stack]`) and have no
/// `[agent]` workload.
pub fn compare_learned_output(
    scenario: &Scenario,
) -> Result<LearnedOutputComparison, SimulationError> {
    scenario
        .validate()
        .map_err(|e| SimulationError::new("scenario", e.to_string()))?;
    if scenario.agent.is_some() {
        return Err(SimulationError::new(
            "scenario",
            "has an [agent] workload; learned output reservations are compared over \
             independent requests",
        ));
    }
    if scenario.palisade.stack.is_some() {
        return Err(SimulationError::new(
            "scenario",
            "gives its own `[palisade.stack]`; the comparison turns learned output on and \
             off in the derived stack",
        ));
    }
    let mut reserve = scenario.clone();
    reserve.palisade.learned_output = None;
    let mut learned = scenario.clone();
    learned
        .palisade
        .learned_output
        .get_or_insert_with(Default::default);

    let summary = LoadSummary::of(scenario.offered_load());
    let capacity = capacity(scenario, &summary);
    let progress: &dyn ProgressSink = &NoProgress;
    let (reserve_run, learned_run) = std::thread::scope(|scope| {
        let reserve_run =
            scope.spawn(|| run_one(&reserve, Load::Scenario, &summary, PALISADE, progress, None));
        let learned_run = run_one(&learned, Load::Scenario, &summary, PALISADE, progress, None);
        let reserve_run = reserve_run
            .join()
            .map_err(|_| SimulationError::new(PALISADE, "the simulation thread panicked"))?;
        Ok::<_, SimulationError>((reserve_run?, learned_run?))
    })?;
    Ok(LearnedOutputComparison {
        scenario: ScenarioSummary::new(scenario, &summary, &capacity),
        reserve_max_tokens: SystemReport::new(scenario, &capacity, reserve_run),
        learned: SystemReport::new(scenario, &capacity, learned_run),
    })
}

/// Renders the comparison as a plain-text table, the two stacks side by
/// side, with the ratio of their admitted rates.
pub fn render_learned_table(comparison: &LearnedOutputComparison) -> String {
    let minutes = comparison.scenario.duration_s / 60.0;
    let per_min = |r: &SystemReport| r.completed as f64 / minutes;
    let mut out = render_pair(
        &comparison.scenario,
        [
            ("reserve max_tokens", &comparison.reserve_max_tokens),
            ("learned", &comparison.learned),
        ],
    );
    let _ = writeln!(
        out,
        "\nanswered per minute: {:.1} reserving max_tokens, {:.1} learned ({:.2}×)",
        per_min(&comparison.reserve_max_tokens),
        per_min(&comparison.learned),
        comparison.admitted_ratio()
    );
    out
}
