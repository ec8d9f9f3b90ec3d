//! `ProviderService::poll_ready` follows `Provider::readiness()`.

use std::time::Duration;

use futures_util::FutureExt;
use palisade_breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, CircuitBreakerLayer, OpenDuration,
};
use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, ErrorOrigin, ProviderError, ProviderExt, Readiness};
use palisade_tower::{NotReady, ProviderService, ServiceProvider, WhenUnavailable};
use tower::load_shed::LoadShedLayer;
use tower::{Layer, Service, ServiceExt};

const OPEN_FOR: Duration = Duration::from_secs(30);

/// A breaker that opens after two failures, for exactly [`OPEN_FOR`].
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

fn unavailable() -> ProviderError {
    ProviderError::new(ErrorKind::Unavailable, "503")
}

#[tokio::test(start_paused = true)]
async fn ready_when_the_provider_is_ready() {
    let mut service = ProviderService::new(ScriptedProvider::new("a"));
    assert!(service.ready().now_or_never().is_some_and(|r| r.is_ok()));
}

#[tokio::test(start_paused = true)]
async fn pending_while_unavailable_then_ready_once_it_recovers() {
    let model = ScriptedProvider::new("a");
    model.set_readiness(Readiness::Unavailable {
        retry_after: Duration::from_secs(10),
    });
    let mut service = ProviderService::new(model.clone());

    // Still unavailable after its retry_after: the wait goes on.
    let waited = tokio::time::timeout(Duration::from_secs(25), service.ready()).await;
    assert!(waited.is_err(), "ready while the provider said unavailable");

    // Recovers while a task waits: the task is woken by the recheck timer.
    let waiter = tokio::spawn(async move {
        service.ready().await.map(|_| ())?;
        service.call(ChatRequest::user("hi")).await
    });
    tokio::time::advance(Duration::from_secs(3)).await;
    assert!(!waiter.is_finished());
    model.set_readiness(Readiness::Ready);
    let answer = waiter.await.unwrap().unwrap();
    assert_eq!(answer.text_content(), "ok");
}

#[tokio::test(start_paused = true)]
async fn an_open_breaker_is_not_ready_until_its_open_duration_passes() {
    let model = ScriptedProvider::new("a").then_errors(2, &unavailable());
    let breaker = breaker("a");
    let mut service = ProviderService::new(
        model
            .clone()
            .layer(CircuitBreakerLayer::new(breaker.clone())),
    );

    for _ in 0..2 {
        let err = service
            .ready()
            .await
            .unwrap()
            .call(ChatRequest::user("hi"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    assert!(
        service.ready().now_or_never().is_none(),
        "ready with the breaker open"
    );

    let opened = tokio::time::Instant::now();
    service.ready().await.unwrap();
    assert_eq!(
        opened.elapsed(),
        OPEN_FOR,
        "ready before the breaker allowed a probe"
    );
    let answer = service.call(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.text_content(), "ok");
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(model.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn refuse_mode_fails_poll_ready_with_a_typed_unavailable() {
    let model = ScriptedProvider::new("a");
    model.set_readiness(Readiness::Unavailable {
        retry_after: Duration::from_secs(7),
    });
    let mut service = ProviderService::new(model.clone()).when_unavailable(WhenUnavailable::Refuse);

    let err = service.ready().now_or_never().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.origin(), ErrorOrigin::Layer);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(err.provider().map(|p| p.as_str()), Some("a"));
    let not_ready = NotReady::from_provider_error(&err).unwrap();
    assert_eq!(not_ready.retry_after(), Duration::from_secs(7));
    assert_eq!(model.call_count(), 0);

    model.set_readiness(Readiness::Ready);
    assert!(service.ready().now_or_never().unwrap().is_ok());
}

#[tokio::test(start_paused = true)]
async fn load_shed_outside_turns_an_open_breaker_into_overloaded() {
    let breaker = breaker("a");
    let model = ScriptedProvider::new("a").then_errors(2, &unavailable());
    let guarded = model
        .clone()
        .layer(CircuitBreakerLayer::new(breaker.clone()));
    // Back into palisade, so the caller sees palisade kinds.
    let shed = ServiceProvider::new(
        "a",
        LoadShedLayer::new().layer(ProviderService::new(guarded)),
    );

    use palisade_core::Provider;
    for _ in 0..2 {
        shed.complete(ChatRequest::user("hi")).await.unwrap_err();
    }
    assert_eq!(breaker.state(), BreakerState::Open);
    let err = shed.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.origin(), ErrorOrigin::Layer);
    assert_eq!(model.call_count(), 2, "the shed call reached the model");
}
