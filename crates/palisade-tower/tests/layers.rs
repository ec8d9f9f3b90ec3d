//! Palisade layers inside a tower `ServiceBuilder`, tower layers inside a
//! palisade stack.

use std::time::Duration;

use futures_util::FutureExt;
use palisade_breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, CircuitBreakerLayer, OpenDuration,
};
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    AttemptOutcome, ChatRequest, ErrorKind, LayerStack, Provider, ProviderExt, Readiness,
    SkipReason,
};
use palisade_limit::{Limiter, LimiterConfig, Quota, RateLimitLayer};
use palisade_stack::{Candidate, Fallback};
use palisade_tower::{PalisadeLayer, ProviderService, TowerLayer};
use tower::limit::ConcurrencyLimitLayer;
use tower::timeout::TimeoutLayer;
use tower::{Service, ServiceBuilder, ServiceExt};

const OPEN_FOR: Duration = Duration::from_secs(30);

fn breaker(name: &str) -> CircuitBreaker {
    let config = BreakerConfig {
        consecutive_failures: Some(2),
        open_duration: OpenDuration {
            base: OPEN_FOR,
            jitter: 0.0,
            ..OpenDuration::default()
        },
        ..BreakerConfig::default()
    };
    CircuitBreaker::new(name, config).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_service_builder_stack_with_palisade_limiter_and_breaker() {
    // Two answers, then the model hangs.
    let model = ScriptedProvider::new("model")
        .then(Duration::from_millis(100), Outcome::Echo)
        .then(Duration::from_millis(100), Outcome::Echo)
        .otherwise(Duration::from_secs(60), Outcome::Echo);
    let limiter = Limiter::new(
        LimiterConfig::named("model")
            .with_requests(Quota::per_minute(60))
            .with_max_concurrent(4),
    )
    .unwrap();
    let breaker = breaker("model");

    let mut service = ServiceBuilder::new()
        .concurrency_limit(8)
        .layer(PalisadeLayer::new(
            "model",
            CircuitBreakerLayer::new(breaker.clone()),
        ))
        .layer(PalisadeLayer::new(
            "model",
            RateLimitLayer::new(limiter.clone()),
        ))
        .timeout(Duration::from_secs(5))
        .service(ProviderService::new(model.clone()));

    for _ in 0..2 {
        let answer = service
            .ready()
            .await
            .unwrap()
            .call(ChatRequest::user("hi").with_max_tokens(64))
            .await
            .unwrap();
        assert_eq!(answer.text_content(), "ok");
    }
    // tower's timeout, inside palisade's breaker: the breaker counts it.
    for _ in 0..2 {
        let err = service
            .ready()
            .await
            .unwrap()
            .call(ChatRequest::user("hi").with_max_tokens(64))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(
        service.ready().now_or_never().is_none(),
        "the ServiceBuilder stack is ready with its breaker open"
    );

    let stats = limiter.stats();
    assert_eq!(stats.admitted, 4, "the limiter saw every call");
    assert_eq!(stats.in_flight, 0, "a timed-out call kept its permit");
    assert_eq!(model.call_count(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_palisade_stack_with_tower_timeout_and_concurrency_limit() {
    let slow = ScriptedProvider::new("slow").otherwise(Duration::from_secs(60), Outcome::Echo);
    let breaker = breaker("slow");
    let guarded = LayerStack::new()
        .push(TowerLayer::new(ConcurrencyLimitLayer::new(2)))
        .push(CircuitBreakerLayer::new(breaker.clone()))
        .push(TowerLayer::new(TimeoutLayer::new(Duration::from_secs(5))))
        .wrap(slow.clone());
    assert_eq!(guarded.id().as_str(), "slow");

    for _ in 0..2 {
        let err = guarded.complete(ChatRequest::user("hi")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    // The breaker's readiness reaches through the outer tower layer.
    assert_eq!(
        guarded.readiness(),
        Readiness::Unavailable {
            retry_after: OPEN_FOR
        }
    );

    // So a fallback skips the candidate without calling it.
    let backup = ScriptedProvider::new("backup").then_text("from backup");
    let fallback = Fallback::new([Candidate::new(guarded), Candidate::new(backup)]);
    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.text_content(), "from backup");
    assert!(matches!(
        answer.attempts[0].outcome,
        AttemptOutcome::Skipped(SkipReason::Unavailable { .. })
    ));
    assert_eq!(slow.call_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_tower_concurrency_limit_inside_a_palisade_stack_bounds_calls() {
    let model = ScriptedProvider::new("m").otherwise(Duration::from_secs(1), Outcome::Echo);
    let limited = std::sync::Arc::new(
        model
            .clone()
            .with_context_window(200_000)
            .layer(TowerLayer::new(ConcurrencyLimitLayer::new(3))),
    );
    assert_eq!(limited.context_window(), Some(200_000));

    let started = tokio::time::Instant::now();
    let calls: Vec<_> = (0..9)
        .map(|i| {
            let limited = limited.clone();
            tokio::spawn(async move { limited.complete(ChatRequest::user(format!("{i}"))).await })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().text_content(), "ok");
    }
    assert_eq!(model.max_in_flight(), 3);
    // Nine one-second calls, three at a time (tokio's paused clock).
    assert_eq!(started.elapsed(), Duration::from_secs(3));
}
