//! What a closed breaker costs per call: the layer around a zero-latency
//! provider against the bare provider, in the same run.
//!
//! Two groups measure the same calls: `closed_call` in wall time (criterion's
//! default), `closed_call_cpu` in the benchmark thread's CPU time, which does
//! not count the time slices other processes take on a shared machine.
//!
//! `cargo bench -p palisade-breaker --bench layer_overhead -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use async_trait::async_trait;
use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_executor::block_on;
use palisade_breaker::{BreakerConfig, CircuitBreaker, CircuitBreakerLayer};
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderExt, ProviderId,
    stream_from_response,
};

/// Answers at once with a clone of one prepared response.
struct Immediate {
    id: ProviderId,
    response: ChatResponse,
}

#[async_trait]
impl Provider for Immediate {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, _req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        Ok(self.response.clone())
    }

    async fn stream(&self, _req: ChatRequest) -> Result<ChatStream, ProviderError> {
        Ok(stream_from_response(self.response.clone()))
    }
}

/// A layer that only forwards: the cost every `async_trait` layer pays (one
/// boxed future), so the breaker's own share is `with_breaker − passthrough`.
struct Passthrough<P>(P);

#[async_trait]
impl<P: Provider> Provider for Passthrough<P> {
    fn id(&self) -> &ProviderId {
        self.0.id()
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.0.complete(req).await
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.0.stream(req).await
    }
}

/// A response whose clone allocates nothing, so the bare call is little more
/// than `async_trait`'s boxed future and the breaker's share stays visible.
fn immediate() -> Immediate {
    let id = ProviderId::new("bench/model");
    let mut response = ChatResponse::text(id.clone(), "", None);
    response.content.clear();
    response.model.clear();
    Immediate { response, id }
}

fn closed_call_wall(c: &mut Criterion) {
    closed_call(c, "closed_call");
}

fn closed_call_cpu(c: &mut Criterion<ThreadCpuTime>) {
    closed_call(c, "closed_call_cpu");
}

fn closed_call<M: Measurement>(c: &mut Criterion<M>, name: &str) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(1));
    // No messages: cloning it allocates nothing either.
    let request = ChatRequest::new(Vec::new());

    let bare = immediate();
    group.bench_function("bare_provider", |b| {
        b.iter(|| block_on(bare.complete(black_box(request.clone()))));
    });

    let passthrough = Passthrough(immediate());
    group.bench_function("passthrough_layer", |b| {
        b.iter(|| block_on(passthrough.complete(black_box(request.clone()))));
    });

    for (name, config) in [
        ("with_breaker", BreakerConfig::default()),
        (
            "with_breaker_slow_calls_on",
            BreakerConfig {
                slow_call_rate_threshold: Some(80.0),
                ..BreakerConfig::default()
            },
        ),
        (
            "with_breaker_dropped_calls_counted",
            BreakerConfig {
                count_dropped_calls_after: Some(Duration::from_secs(60)),
                ..BreakerConfig::default()
            },
        ),
    ] {
        let breaker = CircuitBreaker::new("bench/model", config).unwrap_or_else(|e| panic!("{e}"));
        let guarded = immediate().layer(CircuitBreakerLayer::new(breaker));
        group.bench_function(name, |b| {
            b.iter(|| block_on(guarded.complete(black_box(request.clone()))));
        });
    }

    let breaker = CircuitBreaker::new("bench/model", BreakerConfig::default())
        .unwrap_or_else(|e| panic!("{e}"));
    group.bench_function("permit_only", |b| {
        b.iter(|| {
            if let Ok(permit) = black_box(&breaker).try_acquire() {
                permit.record_success();
            }
        });
    });
    group.finish();
}

/// The CPU time of the calling thread (`CLOCK_THREAD_CPUTIME_ID`), in ns.
struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }

    fn end(&self, start: Self::Intermediate) -> Duration {
        start.elapsed()
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanoseconds
    }
}

/// Formats nanoseconds as ns or µs, throughput as elements per second.
struct Nanoseconds;

impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        if typical < 1e3 {
            return "ns";
        }
        values.iter_mut().for_each(|v| *v /= 1e3);
        "µs"
    }

    fn scale_throughputs(
        &self,
        _typical: f64,
        throughput: &Throughput,
        values: &mut [f64],
    ) -> &'static str {
        let per_iteration = match *throughput {
            Throughput::Elements(n)
            | Throughput::Bytes(n)
            | Throughput::BytesDecimal(n)
            | Throughput::Bits(n) => n as f64,
        };
        values
            .iter_mut()
            .for_each(|v| *v = per_iteration * 1e9 / *v / 1e6);
        "Melem/s"
    }

    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

criterion_group!(wall, closed_call_wall);
criterion_group! {
    name = cpu;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = closed_call_cpu
}
criterion_main!(wall, cpu);
