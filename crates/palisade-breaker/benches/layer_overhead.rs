//! What a closed breaker costs per call: the layer around a zero-latency
//! provider against the bare provider, in the same run.
//!
//! `cargo bench -p palisade-breaker --bench layer_overhead -- --warm-up-time 1 --measurement-time 3`

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::hint::black_box;

use async_trait::async_trait;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_executor::block_on;
use palisade_breaker::{BreakerConfig, CircuitBreaker, CircuitBreakerLayer};
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderExt, ProviderId,
    stream_from_response,
};

/// Answers at once with a clone of one prepared response.
struct Instant {
    id: ProviderId,
    response: ChatResponse,
}

#[async_trait]
impl Provider for Instant {
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
fn instant() -> Instant {
    let id = ProviderId::new("bench/model");
    let mut response = ChatResponse::text(id.clone(), "", None);
    response.content.clear();
    response.model.clear();
    Instant { response, id }
}

fn closed_call(c: &mut Criterion) {
    let mut group = c.benchmark_group("closed_call");
    group.throughput(Throughput::Elements(1));
    // No messages: cloning it allocates nothing either.
    let request = ChatRequest::new(Vec::new());

    let bare = instant();
    group.bench_function("bare_provider", |b| {
        b.iter(|| block_on(bare.complete(black_box(request.clone()))));
    });

    let passthrough = Passthrough(instant());
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
    ] {
        let breaker = CircuitBreaker::new("bench/model", config).unwrap_or_else(|e| panic!("{e}"));
        let guarded = instant().layer(CircuitBreakerLayer::new(breaker));
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

criterion_group!(benches, closed_call);
criterion_main!(benches);
