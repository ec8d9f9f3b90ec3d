//! Runs a scenario against both systems — the naive client and the palisade
//! stack — on the same offered load, and reports them side by side.

use std::sync::Arc;

use palisade_core::SharedProvider;
use thiserror::Error;

use crate::capacity::capacity;
use crate::driver::{ProgressSink, run_system};
use crate::naive::NaiveClient;
use crate::report::{ScenarioSummary, SimulationReport, SystemReport};
use crate::scenario::Scenario;

/// A simulation could not run.
#[derive(Debug, Error)]
#[error("simulation failed ({system}): {message}")]
pub struct SimulationError {
    /// The system under test it failed for.
    pub system: String,
    /// Why.
    pub message: String,
}

/// The naive client's name in reports and progress.
pub const NAIVE: &str = "naive";
/// The palisade stack's name in reports and progress.
pub const PALISADE: &str = "palisade";

/// Runs `scenario` against the naive client and the palisade stack.
///
/// Each system runs on its own paused-time runtime with fresh models (the
/// same seeds), so neither sees the other's quota use, and the report is the
/// same for the same scenario, byte for byte once serialized.
pub fn simulate(
    scenario: &Scenario,
    progress: &dyn ProgressSink,
) -> Result<SimulationReport, SimulationError> {
    scenario.validate().map_err(|e| SimulationError {
        system: "scenario".into(),
        message: e.to_string(),
    })?;
    let load = scenario.offered_load();
    let capacity = capacity(scenario, &load);
    let fail = |system: &str| {
        let system = system.to_owned();
        move |message| SimulationError { system, message }
    };
    let naive = run_system(scenario, &load, NAIVE, &build_naive, progress).map_err(fail(NAIVE))?;
    let palisade = run_system(
        scenario,
        &load,
        PALISADE,
        &crate::palisade_stack::build,
        progress,
    )
    .map_err(fail(PALISADE))?;
    Ok(SimulationReport {
        scenario: ScenarioSummary::new(scenario, &load, &capacity),
        naive: SystemReport::new(scenario, &capacity, &naive),
        palisade: SystemReport::new(scenario, &capacity, &palisade),
    })
}

fn build_naive(scenario: &Scenario, models: Vec<SharedProvider>) -> Result<SharedProvider, String> {
    Ok(Arc::new(NaiveClient::new(
        models,
        scenario.naive.clone(),
        scenario.seed,
    )))
}
