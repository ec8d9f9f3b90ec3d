//! Runs one system under test against an offered load, in virtual time: a
//! current-thread tokio runtime with paused time, so every sleep — provider
//! latency, arrivals, backoff, limiter waits — completes as soon as nothing
//! else can run, and an hour of traffic takes a fraction of a second.
//!
//! Memory: arrivals are drawn as they are sent, each request is a task that
//! writes its outcome into the run's tally and is then freed, so what a run
//! holds is bounded by the requests in flight at once, not by its length.
//!
//! Determinism: one thread, tasks spawned in arrival order, every random draw
//! from a seeded stream, and no wall-clock reads; the same scenario gives the
//! same outcomes, call for call.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::{ChatRequest, ErrorKind, Provider, SharedProvider};
use tokio::time::Instant;

use crate::arrival::Arrival;
use crate::by_model::MODEL_TAG;
use crate::probe::{Probed, REQUEST_TAG};
use crate::provider::{
    CACHE_READ_TAG, CACHE_WRITE_TAG, OUTPUT_TOKENS_TAG, ProviderStats, SimulatedProvider,
};
use crate::quota_log::QuotaLog;
use crate::scenario::Scenario;
use crate::tally::{Served, SharedTally, Tally};
use crate::timeline::Timeline;

/// How often (simulated time) progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(15);

/// How long after the last request's deadline the driver still waits for
/// outcomes before it stops and counts what is missing as lost.
const DRAIN_GRACE: Duration = Duration::from_secs(60);

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

/// Everything a run produced, for the report.
#[derive(Debug)]
pub(crate) struct RunOutcome {
    /// Requests of the load (the report's `requests`).
    pub(crate) requests: u64,
    pub(crate) tally: Tally,
    pub(crate) timeline: Timeline,
    /// Each model's own statistics, in scenario order.
    pub(crate) model_stats: Vec<ProviderStats>,
}

/// Builds the system under test from the (probed) models, inside the
/// simulation's runtime so it can read tokio time.
pub(crate) type BuildSystem<'a> =
    &'a dyn Fn(&Scenario, Vec<SharedProvider>) -> Result<SharedProvider, String>;

/// One run to make.
pub(crate) struct Run<'a> {
    pub(crate) scenario: &'a Scenario,
    /// The system's name in progress reports.
    pub(crate) name: &'a str,
    pub(crate) build: BuildSystem<'a>,
    pub(crate) progress: &'a dyn ProgressSink,
    /// How many requests `arrivals` yields.
    pub(crate) requests: u64,
    /// One log per model, when the planner wants the quota operations.
    pub(crate) quota_logs: Option<&'a [QuotaLog]>,
}

/// Runs the system against `arrivals` under paused time.
pub(crate) fn run_system(
    run: &Run<'_>,
    arrivals: impl Iterator<Item = Arrival>,
) -> Result<RunOutcome, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(|e| format!("cannot start the simulation runtime: {e}"))?;
    // Tasks still running when `drive` returns are dropped with the runtime;
    // the report already counts them as lost.
    runtime.block_on(drive(run, arrivals))
}

/// A request in flight: reports its outcome, or — when dropped without one
/// (its task panicked or was cancelled) — that it was abandoned.
struct Pending {
    tally: SharedTally,
    epoch: Instant,
    index: u64,
    at: Duration,
    home: usize,
    done: bool,
}

impl Pending {
    fn finish(mut self, result: Result<Served, ErrorKind>) {
        self.done = true;
        let now = Instant::now().saturating_duration_since(self.epoch);
        self.tally
            .finished_with(self.index, self.at, now, result, self.home);
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        if !self.done {
            self.tally.abandoned(self.index);
        }
    }
}

async fn drive(
    run: &Run<'_>,
    arrivals: impl Iterator<Item = Arrival>,
) -> Result<RunOutcome, String> {
    let scenario = run.scenario;
    let epoch = Instant::now();
    let deadline_after = scenario.requests.deadline;
    let tally = SharedTally::new(
        scenario.models.len(),
        scenario.duration.saturating_add(deadline_after),
    );
    let mut models = Vec::with_capacity(scenario.models.len());
    let mut probed: Vec<SharedProvider> = Vec::with_capacity(scenario.models.len());
    for (index, config) in scenario.models.iter().enumerate() {
        let log = run.quota_logs.and_then(|logs| logs.get(index)).cloned();
        let model = SimulatedProvider::logged(config.clone(), scenario.seed, epoch, log)
            .map_err(|e| e.to_string())?;
        probed.push(Arc::new(Probed::new(
            model.clone(),
            index,
            tally.clone(),
            epoch,
        )));
        models.push(model);
    }
    let model_ids: Arc<[String]> = scenario.models.iter().map(|m| m.id.clone()).collect();
    let system = (run.build)(scenario, probed)?;

    let report = |simulated: Duration| {
        run.progress
            .update(run.name, simulated, tally.finished(), run.requests);
    };
    let mut next_report = PROGRESS_EVERY;
    let mut last_arrival = Duration::ZERO;
    for (index, arrival) in (0u64..).zip(arrivals) {
        // Progress is reported from the dispatch loop and the drain loop, not
        // from a timer task, so reporting adds no wake-ups to the schedule.
        while next_report <= arrival.at {
            tokio::time::sleep_until(at(epoch, next_report)).await;
            report(next_report);
            next_report = next_report.saturating_add(PROGRESS_EVERY);
        }
        tokio::time::sleep_until(at(epoch, arrival.at)).await;
        last_arrival = arrival.at;
        let deadline = at(epoch, arrival.at.saturating_add(deadline_after));
        let request = request_for(index, &arrival, deadline);
        tally.dispatched(index, arrival.at);
        let pending = Pending {
            tally: tally.clone(),
            epoch,
            index,
            at: arrival.at,
            home: arrival.model.unwrap_or(0),
            done: false,
        };
        let system = system.clone();
        let model_ids = model_ids.clone();
        // The handle is dropped at once: the task's memory is freed when it
        // ends, and its outcome goes to the tally.
        drop(tokio::spawn(async move {
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
                        cache_read_tokens: usage.cache_read_tokens,
                        cache_write_tokens: usage.cache_write_tokens,
                    })
                }
                Ok(Err(err)) => Err(err.kind()),
                // The caller gave up at its deadline.
                Err(_) => Err(ErrorKind::Timeout),
            };
            pending.finish(result);
        }));
    }

    // Every request ends by its deadline; past that (and a grace), what has
    // no outcome is lost, and the report says so.
    let give_up = last_arrival
        .saturating_add(deadline_after)
        .saturating_add(DRAIN_GRACE);
    while tally.in_flight() > 0 && next_report <= give_up {
        tokio::time::sleep_until(at(epoch, next_report)).await;
        report(next_report);
        next_report = next_report.saturating_add(PROGRESS_EVERY);
    }
    let (tally_figures, timeline) = tally.take(scenario.duration);
    run.progress.update(
        run.name,
        epoch.elapsed(),
        tally_figures.dispatched,
        run.requests,
    );
    drop(system);
    Ok(RunOutcome {
        requests: run.requests,
        tally: tally_figures,
        timeline,
        model_stats: models.iter().map(SimulatedProvider::stats).collect(),
    })
}

/// `epoch + offset`, or `epoch` itself in the (validated-away) case that the
/// sum is not representable: a deadline in the past ends a request at once
/// rather than panicking.
fn at(epoch: Instant, offset: Duration) -> Instant {
    epoch.checked_add(offset).unwrap_or(epoch)
}

/// The chat request for one arrival: an explicit input size (the simulated
/// models take it as the exact count), its priority, deadline and index tag,
/// and for a trace's request its model, output length and cache use.
fn request_for(index: u64, arrival: &Arrival, deadline: Instant) -> ChatRequest {
    let mut request = ChatRequest::user("simulated request")
        .with_input_token_estimate(arrival.prompt_tokens())
        .with_max_tokens(arrival.max_tokens)
        .with_priority(arrival.priority)
        .with_deadline(deadline)
        .with_tag(format!("{REQUEST_TAG}{index}"));
    if let Some(model) = arrival.model {
        request = request.with_tag(format!("{MODEL_TAG}{model}"));
    }
    if let Some(output) = arrival.output_tokens {
        request = request.with_tag(format!("{OUTPUT_TOKENS_TAG}{output}"));
    }
    if arrival.cache_read_tokens > 0 {
        request = request.with_tag(format!("{CACHE_READ_TAG}{}", arrival.cache_read_tokens));
    }
    if arrival.cache_write_tokens > 0 {
        request = request.with_tag(format!("{CACHE_WRITE_TAG}{}", arrival.cache_write_tokens));
    }
    request
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;
    use palisade_core::{ChatResponse, ChatStream, ProviderError, ProviderId};

    use super::*;
    use crate::driver::NoProgress;

    /// A system with a bug: it panics on every third request.
    struct Panicky {
        id: ProviderId,
        inner: SharedProvider,
    }

    #[async_trait]
    impl Provider for Panicky {
        fn id(&self) -> &ProviderId {
            &self.id
        }
        async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
            let index: u64 = req
                .metadata
                .tags
                .iter()
                .find_map(|t| t.strip_prefix(REQUEST_TAG)?.parse().ok())
                .unwrap_or(0);
            assert!(index % 3 != 2, "a bug in the system under test");
            self.inner.complete(req).await
        }
        async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
            self.inner.stream(req).await
        }
    }

    /// Issue 21, item 1: when requests are lost, the run says how many (the
    /// report then counts them as `lost`, and `palisade simulate` exits 1).
    #[test]
    fn a_panicking_system_loses_requests_and_the_run_counts_them() {
        let scenario = Scenario::from_toml_str(
            "duration = \"2m\"\nclients = 60\n[[models]]\nid = \"sim/a\"\n",
            "t",
        )
        .unwrap();
        let build = |_: &Scenario, models: Vec<SharedProvider>| -> Result<SharedProvider, String> {
            Ok(Arc::new(Panicky {
                id: ProviderId::new("panicky"),
                inner: models[0].clone(),
            }))
        };
        let load: Vec<Arrival> = scenario.offered_load().collect();
        let run = Run {
            scenario: &scenario,
            name: "t",
            build: &build,
            progress: &NoProgress,
            requests: load.len() as u64,
            quota_logs: None,
        };
        let outcome = run_system(&run, load.iter().copied()).unwrap();
        let t = &outcome.tally;
        let expected_lost = load.len() as u64 / 3;
        assert!(expected_lost > 0);
        assert_eq!(t.abandoned, expected_lost);
        let failed: u64 = t.failed_by_kind.values().sum();
        assert_eq!(t.completed + failed + t.abandoned, load.len() as u64);
    }
}
