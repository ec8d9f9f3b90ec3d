//! Runs a scenario against both systems — the naive client and the palisade
//! stack — on the same offered load, and reports them side by side.

use std::sync::Arc;

use palisade_core::SharedProvider;
use thiserror::Error;

use crate::arrival::{Arrival, LoadSummary};
use crate::by_model::ByModel;
use crate::capacity::{Capacity, capacity};
use crate::driver::{ProgressSink, Run, RunOutcome, run_system};
use crate::naive::NaiveClient;
use crate::quota_log::QuotaLog;
use crate::report::{ScenarioSummary, SimulationReport, SystemReport};
use crate::scenario::Scenario;

/// A simulation could not run.
#[derive(Debug, Error)]
#[error("simulation failed ({system}): {message}")]
pub struct SimulationError {
    /// The system under test it failed for (or `scenario`, `trace`).
    pub system: String,
    /// Why.
    pub message: String,
}

impl SimulationError {
    pub(crate) fn new(system: &str, message: impl Into<String>) -> Self {
        Self {
            system: system.to_owned(),
            message: message.into(),
        }
    }
}

/// The naive client's name in reports and progress.
pub const NAIVE: &str = "naive";
/// The palisade stack's name in reports and progress.
pub const PALISADE: &str = "palisade";

/// Where a run's requests come from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Load<'a> {
    /// The scenario's own offered load, routed by each system (primary first).
    Scenario,
    /// Recorded requests, in time order, each pinned to its model.
    Trace(&'a [Arrival]),
}

impl<'a> Load<'a> {
    fn arrivals(self, scenario: &Scenario) -> Box<dyn Iterator<Item = Arrival> + 'a> {
        match self {
            Load::Scenario => Box::new(scenario.offered_load()),
            Load::Trace(requests) => Box::new(requests.iter().copied()),
        }
    }
}

/// Runs `scenario` against the naive client and the palisade stack.
///
/// Each system runs on its own paused-time runtime with fresh models (the
/// same seeds), so neither sees the other's quota use, and the report is the
/// same for the same scenario, byte for byte once serialized. Memory does
/// not grow with the scenario's duration: the load is drawn as it is sent and
/// nothing is kept per finished request.
pub fn simulate(
    scenario: &Scenario,
    progress: &dyn ProgressSink,
) -> Result<SimulationReport, SimulationError> {
    simulate_load(scenario, Load::Scenario, progress)
}

pub(crate) fn simulate_load(
    scenario: &Scenario,
    load: Load<'_>,
    progress: &dyn ProgressSink,
) -> Result<SimulationReport, SimulationError> {
    scenario
        .validate()
        .map_err(|e| SimulationError::new("scenario", e.to_string()))?;
    if scenario.agent.is_some() {
        return Err(SimulationError::new(
            "scenario",
            "has an [agent] workload: run it with `simulate_agent` or \
             `compare_cache_points` (`palisade simulate` does so by itself)",
        ));
    }
    if matches!(load, Load::Trace(_)) && scenario.palisade.stack.is_some() {
        return Err(SimulationError::new(
            "trace",
            "a trace runs one derived palisade stack per model; `[palisade.stack]` \
             applies to a scenario's own load only",
        ));
    }
    let summary = LoadSummary::of(load.arrivals(scenario));
    let capacity = capacity(scenario, &summary);
    let (naive, palisade) = run_both(scenario, load, &summary, progress, None)?;
    Ok(report(scenario, &summary, &capacity, naive, palisade))
}

/// Runs the naive client and the palisade stack, each on its own thread
/// (they share nothing but the progress sink, so running them side by side
/// changes no outcome and halves the wall time on two cores).
pub(crate) fn run_both(
    scenario: &Scenario,
    load: Load<'_>,
    summary: &LoadSummary,
    progress: &dyn ProgressSink,
    quota_logs: Option<&[QuotaLog]>,
) -> Result<(RunOutcome, RunOutcome), SimulationError> {
    std::thread::scope(|scope| {
        let naive = scope.spawn(|| run_one(scenario, load, summary, NAIVE, progress, quota_logs));
        let palisade = run_one(scenario, load, summary, PALISADE, progress, None);
        let naive = naive
            .join()
            .map_err(|_| SimulationError::new(NAIVE, "the simulation thread panicked"))?;
        Ok((naive?, palisade?))
    })
}

pub(crate) fn report(
    scenario: &Scenario,
    summary: &LoadSummary,
    capacity: &Capacity,
    naive: RunOutcome,
    palisade: RunOutcome,
) -> SimulationReport {
    SimulationReport {
        scenario: ScenarioSummary::new(scenario, summary, capacity),
        naive: SystemReport::new(scenario, capacity, naive),
        palisade: SystemReport::new(scenario, capacity, palisade),
    }
}

/// One system's run over `load`.
pub(crate) fn run_one(
    scenario: &Scenario,
    load: Load<'_>,
    summary: &LoadSummary,
    system: &str,
    progress: &dyn ProgressSink,
    quota_logs: Option<&[QuotaLog]>,
) -> Result<RunOutcome, SimulationError> {
    let prompts = crate::palisade_stack::Prompts::of(summary);
    let per_model = matches!(load, Load::Trace(_));
    let naive = |s: &Scenario, models: Vec<SharedProvider>| -> Result<SharedProvider, String> {
        Ok(if per_model {
            let clients = models
                .into_iter()
                .map(|m| Arc::new(NaiveClient::new(vec![m], s.naive.clone(), s.seed)) as _)
                .collect();
            Arc::new(ByModel::new(NAIVE, clients))
        } else {
            Arc::new(NaiveClient::new(models, s.naive.clone(), s.seed))
        })
    };
    let palisade = |s: &Scenario, models: Vec<SharedProvider>| -> Result<SharedProvider, String> {
        if per_model {
            let clients = (0..models.len())
                .map(|m| crate::palisade_stack::build(s, &models, &[m], prompts))
                .collect::<Result<_, _>>()?;
            Ok(Arc::new(ByModel::new(PALISADE, clients)))
        } else {
            let all: Vec<usize> = (0..models.len()).collect();
            crate::palisade_stack::build(s, &models, &all, prompts)
        }
    };
    let build: crate::driver::BuildSystem<'_> = if system == NAIVE { &naive } else { &palisade };
    let run = Run {
        scenario,
        name: system,
        build,
        progress,
        requests: summary.requests,
        quota_logs,
    };
    run_system(&run, load.arrivals(scenario)).map_err(|e| SimulationError::new(system, e))
}
