//! What one run adds up as it goes: outcomes, per-model figures, latency and
//! queueing percentiles, the timeline, and — only for requests still in
//! flight — which models each request has called. Nothing is kept per
//! finished request, so memory depends on how many requests are in flight
//! at once, never on how many the run has.
//!
//! The driver's request tasks and the probes around the models write here;
//! the driver reads it for progress and the report.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use palisade_core::ErrorKind;

use crate::percentiles::{PRECISE, Percentiles};
use crate::timeline::{Timeline, TimelineRecorder};

/// What served a completed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Served {
    /// Index of the model in the scenario.
    pub(crate) model: usize,
    pub(crate) input_tokens: u32,
    pub(crate) output_tokens: u32,
    pub(crate) cache_read_tokens: u32,
    pub(crate) cache_write_tokens: u32,
}

/// The calls made so far on behalf of one request in flight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct CallTrace {
    /// Model index of the latest call.
    last_model: Option<usize>,
    retries: u32,
    fallbacks: u32,
    /// Time spent inside model calls (the rest of its latency is waiting).
    in_calls: Duration,
}

/// One model's share of a run.
#[derive(Debug, Clone)]
pub(crate) struct ModelTally {
    pub(crate) completed: u64,
    pub(crate) input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) cache_read_tokens: u64,
    pub(crate) cache_write_tokens: u64,
    /// Latency of the requests it answered.
    pub(crate) latency: Percentiles,
    /// Waiting time of the requests that ended with it (answered by it, or
    /// failed after calling it last).
    pub(crate) queue: Percentiles,
}

impl ModelTally {
    fn new() -> Self {
        Self {
            completed: 0,
            input_tokens: 0,
            output_tokens: 0,
            cache_read_tokens: 0,
            cache_write_tokens: 0,
            latency: Percentiles::new(PRECISE),
            queue: Percentiles::new(PRECISE),
        }
    }
}

/// Everything a run adds up.
#[derive(Debug)]
pub(crate) struct Tally {
    pub(crate) dispatched: u64,
    pub(crate) completed: u64,
    pub(crate) failed_by_kind: BTreeMap<String, u64>,
    /// Request tasks that ended without an outcome (a panic in the system
    /// under test, or still running when the run had to stop).
    pub(crate) abandoned: u64,
    pub(crate) retries: u64,
    pub(crate) fallbacks: u64,
    /// Latency of completed requests, arrival to answer.
    pub(crate) latency: Percentiles,
    /// Time every finished request spent outside model calls.
    pub(crate) queue: Percentiles,
    /// Time from arrival to the error of failed requests.
    pub(crate) to_failure: Percentiles,
    pub(crate) models: Vec<ModelTally>,
    /// Latest outcome, since the start.
    pub(crate) last_finish: Duration,
    in_flight: u64,
    in_calls: u64,
    traces: HashMap<u64, CallTrace>,
    timeline: TimelineRecorder,
}

/// A shared handle on a run's [`Tally`].
#[derive(Debug, Clone)]
pub(crate) struct SharedTally(Arc<Mutex<Tally>>);

impl SharedTally {
    pub(crate) fn new(models: usize, span: Duration) -> Self {
        SharedTally(Arc::new(Mutex::new(Tally::empty(models, span))))
    }

    fn lock(&self) -> MutexGuard<'_, Tally> {
        // Every update is complete before the lock is released, so a panic
        // elsewhere leaves the tally consistent.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Requests in flight now.
    pub(crate) fn in_flight(&self) -> u64 {
        self.lock().in_flight
    }

    /// Requests with an outcome (or abandoned) so far.
    pub(crate) fn finished(&self) -> u64 {
        let t = self.lock();
        t.dispatched - t.in_flight
    }

    /// Request `index` was sent at `now`.
    pub(crate) fn dispatched(&self, index: u64, now: Duration) {
        let mut t = self.lock();
        t.dispatched += 1;
        t.in_flight += 1;
        t.traces.insert(index, CallTrace::default());
        t.note_depth(now);
    }

    /// A call for request `index` to `model` starts at `now`.
    pub(crate) fn call_started(&self, index: Option<u64>, model: usize, now: Duration) {
        let mut t = self.lock();
        t.in_calls += 1;
        if let Some(trace) = index.and_then(|i| t.traces.get_mut(&i)) {
            match trace.last_model {
                Some(m) if m == model => trace.retries += 1,
                Some(_) => trace.fallbacks += 1,
                None => {}
            }
            trace.last_model = Some(model);
        }
        t.note_depth(now);
    }

    /// A call for request `index` ended at `now` after `took`; `throttled`
    /// if the model refused it for quota.
    pub(crate) fn call_ended(
        &self,
        index: Option<u64>,
        took: Duration,
        throttled: bool,
        now: Duration,
    ) {
        let mut t = self.lock();
        t.in_calls = t.in_calls.saturating_sub(1);
        if let Some(trace) = index.and_then(|i| t.traces.get_mut(&i)) {
            trace.in_calls = trace.in_calls.saturating_add(took);
        }
        if throttled {
            t.timeline.throttled(now);
        }
        t.note_depth(now);
    }

    /// Request `index`, sent at `at`, came to `result` at `now`. `home` is
    /// the model a failure is charged to when no model was called.
    pub(crate) fn finished_with(
        &self,
        index: u64,
        at: Duration,
        now: Duration,
        result: Result<Served, ErrorKind>,
        home: usize,
    ) {
        let mut t = self.lock();
        let trace = t.traces.remove(&index).unwrap_or_default();
        t.in_flight = t.in_flight.saturating_sub(1);
        t.retries += u64::from(trace.retries);
        t.fallbacks += u64::from(trace.fallbacks);
        t.last_finish = t.last_finish.max(now);
        let latency = now.saturating_sub(at);
        let waited = latency.saturating_sub(trace.in_calls);
        t.queue.record(waited);
        let charged = match result {
            Ok(served) => {
                t.completed += 1;
                t.latency.record(latency);
                t.timeline.served(now, served.model, latency);
                if let Some(m) = t.models.get_mut(served.model) {
                    m.completed += 1;
                    m.input_tokens += u64::from(served.input_tokens);
                    m.output_tokens += u64::from(served.output_tokens);
                    m.cache_read_tokens += u64::from(served.cache_read_tokens);
                    m.cache_write_tokens += u64::from(served.cache_write_tokens);
                    m.latency.record(latency);
                }
                served.model
            }
            Err(kind) => {
                t.to_failure.record(latency);
                *t.failed_by_kind
                    .entry(kind.as_str().to_owned())
                    .or_default() += 1;
                t.timeline.failed(now);
                trace.last_model.unwrap_or(home)
            }
        };
        if let Some(m) = t.models.get_mut(charged) {
            m.queue.record(waited);
        }
        t.note_depth(now);
    }

    /// Request `index` ended without an outcome.
    pub(crate) fn abandoned(&self, index: u64) {
        let mut t = self.lock();
        t.traces.remove(&index);
        t.in_flight = t.in_flight.saturating_sub(1);
        t.abandoned += 1;
    }

    /// The finished tally, and its timeline at least `through` long.
    pub(crate) fn take(&self, through: Duration) -> (Tally, Timeline) {
        let mut t = self.lock();
        let mut tally = std::mem::replace(&mut *t, Tally::empty(0, Duration::ZERO));
        let recorder = std::mem::replace(
            &mut tally.timeline,
            TimelineRecorder::new(Duration::ZERO, 0),
        );
        let timeline = recorder.finish(through.max(tally.last_finish));
        (tally, timeline)
    }
}

impl Tally {
    fn empty(models: usize, span: Duration) -> Self {
        Tally {
            dispatched: 0,
            completed: 0,
            failed_by_kind: BTreeMap::new(),
            abandoned: 0,
            retries: 0,
            fallbacks: 0,
            latency: Percentiles::new(PRECISE),
            queue: Percentiles::new(PRECISE),
            to_failure: Percentiles::new(PRECISE),
            models: (0..models).map(|_| ModelTally::new()).collect(),
            last_finish: Duration::ZERO,
            in_flight: 0,
            in_calls: 0,
            traces: HashMap::new(),
            timeline: TimelineRecorder::new(span, models),
        }
    }

    /// Requests waiting outside every model right now.
    fn note_depth(&mut self, now: Duration) {
        let depth = self.in_flight.saturating_sub(self.in_calls);
        self.timeline.queue_depth(now, depth);
    }
}
