//! What the canonical stack adds to a call: the full stack (budget + fallback
//! over 3 candidates + retry + timeout + breaker + limiter) around a
//! zero-latency provider, against calling that provider directly, in the same
//! run. Also the layers alone, to show where the time goes.
//!
//! `cargo bench -p palisade-stack --bench overhead -- --warm-up-time 1 --measurement-time 3`

#![allow(missing_docs)] // criterion_group! generates an undocumented pub fn

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderExt, ProviderId, Usage,
    async_trait, stream_from_response,
};
use palisade_stack::{
    BudgetConfig, BudgetLayer, Candidate, Fallback, Price, PriceTable, RetryLayer, RetryPolicy,
    StackBuilder, TimeoutLayer,
};

/// Answers at once, with usage, like a provider with no latency.
#[derive(Clone)]
struct Instantly(ProviderId);

#[async_trait]
impl Provider for Instantly {
    fn id(&self) -> &ProviderId {
        &self.0
    }
    async fn complete(&self, _req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        Ok(ChatResponse::text(
            self.0.clone(),
            "ok",
            Some(Usage::new(12, 4)),
        ))
    }
    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        Ok(stream_from_response(self.complete(req).await?))
    }
}

const STACK: &str = r#"
[budget]
window = "1d"
limit_usd = 1000000000.0

[prices]
"a" = { input_per_mtok = 3.0, output_per_mtok = 15.0 }

[limit]
max_concurrent = 1000
requests = { amount = 1000000000, period = 1 }
tokens = { amount = 1000000000000, period = 1 }

[[candidates]]
id = "a"
[[candidates]]
id = "b"
[[candidates]]
id = "c"
"#;

/// Wall time, or the bench thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`),
/// which leaves out the time slices other processes take on a shared
/// machine. The current-thread runtime runs every call on the bench thread.
#[derive(Clone, Copy)]
enum Clock {
    Wall,
    ThreadCpu,
}

fn run<P: Provider>(
    rt: &tokio::runtime::Runtime,
    provider: &P,
    iters: u64,
    clock: Clock,
) -> Duration {
    let req = ChatRequest::user("What is the capital of France?").with_max_tokens(64);
    rt.block_on(async {
        let wall = Instant::now();
        let cpu = cpu_time::ThreadTime::now();
        for _ in 0..iters {
            black_box(provider.complete(req.clone()).await.ok());
        }
        match clock {
            Clock::Wall => wall.elapsed(),
            Clock::ThreadCpu => cpu.elapsed(),
        }
    })
}

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a tokio runtime");
    let bare = Instantly(ProviderId::new("a"));
    let retry_timeout = bare
        .clone()
        .layer(TimeoutLayer::per_attempt(Duration::from_secs(60)))
        .layer(RetryLayer::new(RetryPolicy::default()));
    let fallback =
        Fallback::new(["a", "b", "c"].map(|id| Candidate::new(Instantly(ProviderId::new(id)))));
    let build = |toml: &str| {
        StackBuilder::from_toml(toml)
            .expect("the bench config parses")
            .provider("a", bare.clone())
            .provider("b", Instantly(ProviderId::new("b")))
            .provider("c", Instantly(ProviderId::new("c")))
            .build()
            .expect("the bench stack builds")
    };
    let stack = Arc::new(build(STACK));
    // The same stack routed in order (`[fallback.overload] enabled = false`):
    // what asking the candidates for their expected wait costs.
    let in_order = build(&format!("{STACK}\n[fallback.overload]\nenabled = false\n"));
    // The two layers from the sibling crates, configured as in the stack.
    let limiter = palisade_limit::Limiter::new(
        palisade_limit::LimiterConfig::named("a")
            .with_max_concurrent(1000)
            .with_requests(palisade_limit::Quota::per_second(1_000_000_000))
            .with_tokens(palisade_limit::Quota::per_second(1_000_000_000_000)),
    )
    .expect("the bench limiter config is valid");
    let breaker =
        palisade_breaker::CircuitBreaker::new("a", palisade_breaker::BreakerConfig::default())
            .expect("the default breaker config is valid");
    let breaker_limiter = bare
        .clone()
        .layer(palisade_limit::RateLimitLayer::new(limiter))
        .layer(palisade_breaker::CircuitBreakerLayer::new(breaker));
    let budget = bare.clone().layer(BudgetLayer::new(
        BudgetConfig {
            limit_usd: Some(1e9),
            ..BudgetConfig::default()
        },
        PriceTable::new().with("a", Price::new(3.0, 15.0)),
    ));

    for (name, clock) in [
        ("stack_overhead", Clock::Wall),
        ("stack_overhead_cpu", Clock::ThreadCpu),
    ] {
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Elements(1));
        group.bench_function("bare_provider", |b| {
            b.iter_custom(|n| run(&rt, &bare, n, clock));
        });
        group.bench_function("retry_timeout", |b| {
            b.iter_custom(|n| run(&rt, &retry_timeout, n, clock));
        });
        group.bench_function("fallback_3_candidates", |b| {
            b.iter_custom(|n| run(&rt, &fallback, n, clock));
        });
        group.bench_function("budget", |b| {
            b.iter_custom(|n| run(&rt, &budget, n, clock));
        });
        group.bench_function("breaker_limiter", |b| {
            b.iter_custom(|n| run(&rt, &breaker_limiter, n, clock));
        });
        group.bench_function("full_stack", |b| {
            b.iter_custom(|n| run(&rt, &*stack, n, clock));
        });
        group.bench_function("full_stack_in_order", |b| {
            b.iter_custom(|n| run(&rt, &in_order, n, clock));
        });
        group.finish();
    }

    // Anchor: one clock read (`tokio::time::Instant::now()`, which is the
    // std clock while time is not paused). The stack's own layers read the
    // clock six times per successful call (budget 2, fallback 2, retry 1,
    // timeout 1), so this shows how much of the overhead is the machine's clock.
    let mut anchors = c.benchmark_group("anchors");
    anchors.throughput(Throughput::Elements(1));
    anchors.bench_function("tokio_instant_now", |b| {
        b.iter_custom(|n| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..n {
                    black_box(tokio::time::Instant::now());
                }
                start.elapsed()
            })
        });
    });
    anchors.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);
