//! With the `metrics` feature, calls, retries and fallbacks are counted
//! through the `metrics` facade.
#![cfg(feature = "metrics")]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt};
use palisade_stack::{Backoff, Candidate, Fallback, RetryLayer, RetryPolicy};

/// Counts increments and histogram records by metric name.
#[derive(Default, Clone)]
struct Tally(Arc<Mutex<HashMap<String, Arc<AtomicU64>>>>);

struct Cell(Arc<AtomicU64>);

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.0.fetch_add(value, Ordering::SeqCst);
    }
    fn absolute(&self, value: u64) {
        self.0.store(value, Ordering::SeqCst);
    }
}

impl HistogramFn for Cell {
    fn record(&self, _value: f64) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Tally {
    fn cell(&self, key: &Key) -> Arc<AtomicU64> {
        let mut map = self.0.lock().unwrap();
        Arc::clone(map.entry(key.name().to_owned()).or_default())
    }
    fn get(&self, name: &str) -> u64 {
        self.0
            .lock()
            .unwrap()
            .get(name)
            .map_or(0, |c| c.load(Ordering::SeqCst))
    }
}

impl Recorder for Tally {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(Arc::new(Cell(self.cell(key))))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(Arc::new(Cell(self.cell(key))))
    }
}

#[test]
fn attempts_retries_and_fallbacks_are_counted() {
    let tally = Tally::default();
    metrics::with_local_recorder(&tally, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let policy =
                RetryPolicy::default()
                    .with_max_attempts(2)
                    .with_backoff(Backoff::exponential(
                        Duration::from_millis(10),
                        Duration::from_secs(1),
                    ));
            let primary = ScriptedProvider::new("primary")
                .then_errors(2, &ProviderError::new(ErrorKind::Internal, "500"));
            let secondary = ScriptedProvider::new("secondary");
            let fallback = Fallback::new([
                Candidate::new(primary.layer(RetryLayer::new(policy.clone()))),
                Candidate::new(secondary.layer(RetryLayer::new(policy))),
            ]);
            fallback.complete(ChatRequest::user("hi")).await.unwrap();
        });
    });
    assert_eq!(tally.get("palisade.stack.retries"), 1);
    assert_eq!(tally.get("palisade.stack.fallbacks"), 1);
    assert_eq!(tally.get("palisade.stack.attempts"), 2);
    assert_eq!(tally.get("gen_ai.client.operation.duration"), 2);
    assert_eq!(
        tally.get("gen_ai.client.token.usage"),
        2,
        "input and output of the answer"
    );
}
