//! Runs one system under test against a scenario's offered load, in virtual
//! time: a current-thread tokio runtime with paused time, so every sleep —
//! provider latency, arrivals, backoff, limiter waits — completes as soon as
//! nothing else can run, and an hour of traffic takes seconds.
//!
//! Determinism: one thread, tasks spawned in arrival order, every random draw
//! from a seeded stream, and no wall-clock reads; the same scenario gives the
//! same outcomes, call for call.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use palisade_core::{ChatRequest, ErrorKind, Provider, SharedProvider};
use tokio::time::Instant;

use crate::arrival::Arrival;
use crate::probe::{CallLog, CallTrace, Probed, REQUEST_TAG};
use crate::provider::{ProviderStats, SimulatedProvider};
use crate::scenario::Scenario;

/// How often (simulated time) progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// Receives progress while a simulation runs (a progress bar, a log line).
pub trait ProgressSink: Send + Sync {
    /// `system` has run `simulated` of simulated time; `finished` of `total`
    /// requests have an outcome.
    fn update(&self, system: &str, simulated: Duration, finished: u64, total: u64);
}

/// A sink that ignores progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl ProgressSink for NoProgress {
    fn update(&self, _: &str, _: Duration, _: u64, _: u64) {}
}

/// What served a completed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Served {
    /// Index of the model in the scenario.
    pub(crate) model: usize,
    pub(crate) input_tokens: u32,
    pub(crate) output_tokens: u32,
}

/// What one request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestOutcome {
    /// Arrival, since the start of the run.
    pub(crate) at: Duration,
    /// When the caller had its answer or error, since the start.
    pub(crate) finished: Duration,
    /// The answer, or the kind of the error the caller saw.
    pub(crate) result: Result<Served, ErrorKind>,
}

/// Everything a run produced, for the report.
#[derive(Debug)]
pub(crate) struct RunOutcome {
    /// One per request of the load; `None` if its task was lost (panicked).
    pub(crate) outcomes: Vec<Option<RequestOutcome>>,
    /// Calls made per request, as the models saw them.
    pub(crate) traces: Vec<CallTrace>,
    /// Each model's own statistics, in scenario order.
    pub(crate) model_stats: Vec<ProviderStats>,
}

/// Builds the system under test from the (probed) models, inside the
/// simulation's runtime so it can read tokio time.
pub(crate) type BuildSystem<'a> =
    &'a dyn Fn(&Scenario, Vec<SharedProvider>) -> Result<SharedProvider, String>;

/// Runs `build`'s system against `load` under paused time.
pub(crate) fn run_system(
    scenario: &Scenario,
    load: &[Arrival],
    name: &str,
    build: BuildSystem<'_>,
    progress: &dyn ProgressSink,
) -> Result<RunOutcome, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| format!("cannot start the simulation runtime: {e}"))?;
    runtime.block_on(drive(scenario, load, name, build, progress))
}

async fn drive(
    scenario: &Scenario,
    load: &[Arrival],
    name: &str,
    build: BuildSystem<'_>,
    progress: &dyn ProgressSink,
) -> Result<RunOutcome, String> {
    let epoch = Instant::now();
    let log = CallLog::new(load.len());
    let mut models = Vec::with_capacity(scenario.models.len());
    let mut probed: Vec<SharedProvider> = Vec::with_capacity(scenario.models.len());
    for (index, config) in scenario.models.iter().enumerate() {
        let model = SimulatedProvider::starting_at(config.clone(), scenario.seed, epoch)
            .map_err(|e| e.to_string())?;
        probed.push(Arc::new(Probed::new(model.clone(), index, log.clone())));
        models.push(model);
    }
    let model_ids: Arc<[String]> = scenario.models.iter().map(|m| m.id.clone()).collect();
    let system = build(scenario, probed)?;

    let finished = Arc::new(AtomicU64::new(0));
    let total = load.len() as u64;
    let mut handles = Vec::with_capacity(load.len());
    let mut next_report = PROGRESS_EVERY;
    for (index, arrival) in load.iter().enumerate() {
        // Progress is reported from the dispatch loop and the drain loop, not
        // from a timer task, so reporting adds no wake-ups to the schedule.
        while next_report <= arrival.at {
            tokio::time::sleep_until(epoch + next_report).await;
            progress.update(name, next_report, finished.load(Ordering::Relaxed), total);
            next_report += PROGRESS_EVERY;
        }
        tokio::time::sleep_until(epoch + arrival.at).await;
        let deadline = epoch + arrival.at + scenario.requests.deadline;
        let request = request_for(index, arrival, deadline);
        let system = system.clone();
        let model_ids = model_ids.clone();
        let finished = finished.clone();
        let at = arrival.at;
        handles.push(tokio::spawn(async move {
            let result = match tokio::time::timeout_at(deadline, system.complete(request)).await {
                Ok(Ok(answer)) => {
                    let usage = answer.usage.unwrap_or_default();
                    let model = model_ids
                        .iter()
                        .position(|id| id == answer.served_by.as_str())
                        .unwrap_or(0);
                    Ok(Served {
                        model,
                        input_tokens: usage.input_tokens,
                        output_tokens: usage.output_tokens,
                    })
                }
                Ok(Err(err)) => Err(err.kind()),
                // The caller gave up at its deadline.
                Err(_) => Err(ErrorKind::Timeout),
            };
            finished.fetch_add(1, Ordering::Relaxed);
            RequestOutcome {
                at,
                finished: epoch.elapsed(),
                result,
            }
        }));
    }

    let mut outcomes = Vec::with_capacity(handles.len());
    for handle in handles {
        while !handle.is_finished() {
            // Report while draining; a request can take at most its deadline.
            tokio::time::sleep_until(epoch + next_report).await;
            progress.update(name, next_report, finished.load(Ordering::Relaxed), total);
            next_report += PROGRESS_EVERY;
        }
        outcomes.push(handle.await.ok());
    }
    progress.update(name, epoch.elapsed(), total, total);
    drop(system);
    Ok(RunOutcome {
        outcomes,
        traces: log.traces(),
        model_stats: models.iter().map(SimulatedProvider::stats).collect(),
    })
}

/// The chat request for one arrival: an explicit input size (the simulated
/// models take it as the exact count), its priority, deadline and index tag.
fn request_for(index: usize, arrival: &Arrival, deadline: Instant) -> ChatRequest {
    ChatRequest::user("simulated request")
        .with_input_token_estimate(arrival.input_tokens)
        .with_max_tokens(arrival.max_tokens)
        .with_priority(arrival.priority)
        .with_deadline(deadline)
        .with_tag(format!("{REQUEST_TAG}{index}"))
}
