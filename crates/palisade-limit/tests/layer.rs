//! `RateLimitLayer` around a scripted provider: estimate, acquire, call,
//! settle; streams hold permits until they end; throttles and readiness.

use std::time::Duration;

use futures_util::StreamExt;
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ErrorKind, Priority, Provider, ProviderError, ProviderExt,
    Readiness, StreamEvent, Usage,
};
use palisade_limit::{
    AdaptiveConfig, BurndownConfig, Limiter, LimiterConfig, LimiterSet, Quota, RateLimitLayer,
};
use tokio::time::{Instant, advance};

const BIG_MODEL: &str = "vendor/big-model-v1";

fn response(id: &str, usage: Usage) -> Outcome {
    Outcome::Respond(ChatResponse::text(id.into(), "answer", Some(usage)))
}

#[tokio::test(start_paused = true)]
async fn complete_reserves_the_estimate_and_settles_the_usage() {
    let limiter =
        Limiter::new(LimiterConfig::default().with_tokens(Quota::per_minute(100_000))).unwrap();
    let provider = ScriptedProvider::new("model").layer(RateLimitLayer::new(limiter.clone()));
    let req = ChatRequest::user("hello").with_max_tokens(500);
    // The heuristic estimate: 3 per request + 4 per message + 2 for "hello".
    provider.complete(req).await.unwrap();
    let stats = limiter.stats();
    assert_eq!(stats.tokens_reserved, 9 + 500);
    // Echo usage: input 2 ("hello" by the scripted provider's count), output 16.
    assert_eq!(stats.tokens_settled, 2 + 16);
    assert_eq!(stats.tokens_available, Some(100_000 - 18));
}

#[tokio::test(start_paused = true)]
async fn configured_burndown_reserves_10000_and_settles_input_plus_5x_output() {
    // TPM 10,000 and a model whose output counts 5×: 1,000 input and
    // max_tokens 1,800 reserve 1,000 + 5 × 1,800 = 10,000, the whole budget.
    let limiter = Limiter::new(
        LimiterConfig::default()
            .with_tokens(Quota::per_minute(10_000))
            .with_burndown(BurndownConfig::default().with_model("big-model", 5)),
    )
    .unwrap();
    let model = ScriptedProvider::new(BIG_MODEL).then(
        Duration::from_secs(2),
        response(BIG_MODEL, Usage::new(1_000, 300)),
    );
    let provider = model.clone().layer(RateLimitLayer::new(limiter.clone()));
    let req = ChatRequest::user("x")
        .with_max_tokens(1_800)
        .with_input_token_estimate(1_000);
    let call = tokio::spawn(async move { provider.complete(req).await });
    tokio::task::yield_now().await;
    let in_flight = limiter.stats();
    assert_eq!(in_flight.tokens_reserved, 10_000);
    assert_eq!(in_flight.tokens_available, Some(0));
    call.await.unwrap().unwrap();
    let settled = limiter.stats();
    assert_eq!(settled.tokens_settled, 1_000 + 5 * 300);
    assert_eq!(settled.tokens_refunded, 10_000 - 2_500);
    // Two seconds of refill (333 tokens) plus the refund.
    assert_eq!(settled.tokens_available, Some(7_500 + 333));
}

#[tokio::test(start_paused = true)]
async fn a_stream_holds_its_permit_until_it_ends_and_settles_from_its_usage() {
    let limiter = Limiter::new(
        LimiterConfig::default()
            .with_tokens(Quota::per_minute(10_000))
            .with_max_concurrent(1),
    )
    .unwrap();
    let provider = ScriptedProvider::new("m")
        .then(Duration::ZERO, response("m", Usage::new(40, 60)))
        .layer(RateLimitLayer::new(limiter.clone()));
    let mut stream = provider
        .stream(
            ChatRequest::user("hi")
                .with_max_tokens(1_000)
                .with_input_token_estimate(50),
        )
        .await
        .unwrap();
    assert_eq!(limiter.in_flight(), 1);
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first, StreamEvent::TextDelta { .. }));
    assert_eq!(limiter.in_flight(), 1, "held while events flow");
    while stream.next().await.is_some() {}
    assert_eq!(limiter.in_flight(), 0);
    let stats = limiter.stats();
    assert_eq!(stats.tokens_settled, 100);
    assert_eq!(stats.tokens_refunded, 1_050 - 100);
    drop(stream);
    assert_eq!(limiter.stats().settled, 1, "settled once");
}

#[tokio::test(start_paused = true)]
async fn a_stream_dropped_midway_settles_from_usage_seen_or_releases() {
    let limiter = Limiter::new(
        LimiterConfig::default()
            .with_tokens(Quota::per_minute(10_000))
            .with_max_concurrent(1),
    )
    .unwrap();
    let provider = ScriptedProvider::new("m").layer(RateLimitLayer::new(limiter.clone()));
    let stream = provider
        .stream(ChatRequest::user("hi").with_input_token_estimate(10))
        .await
        .unwrap();
    drop(stream);
    let stats = limiter.stats();
    assert_eq!((stats.in_flight, stats.dropped_unsettled), (0, 1));
    assert_eq!(stats.tokens_available, Some(10_000));
}

#[tokio::test(start_paused = true)]
async fn a_failed_call_releases_its_reservation() {
    let limiter = Limiter::new(
        LimiterConfig::default()
            .with_tokens(Quota::per_minute(10_000))
            .with_max_concurrent(1),
    )
    .unwrap();
    let provider = ScriptedProvider::new("m")
        .then_error(ProviderError::new(ErrorKind::Internal, "boom"))
        .then(
            Duration::ZERO,
            Outcome::FailMidStream(
                "partial".into(),
                ProviderError::new(ErrorKind::Network, "reset"),
            ),
        )
        .layer(RateLimitLayer::new(limiter.clone()));
    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    let mut s = provider.stream(ChatRequest::user("hi")).await.unwrap();
    assert!(s.next().await.unwrap().is_ok());
    assert!(s.next().await.unwrap().is_err());
    assert_eq!(limiter.in_flight(), 0, "released at the error, not at drop");
    let stats = limiter.stats();
    assert_eq!(stats.dropped_unsettled, 2);
    assert_eq!(stats.tokens_available, Some(10_000));
}

#[tokio::test(start_paused = true)]
async fn a_refusal_is_a_throttled_provider_error_naming_the_provider() {
    let limiter = Limiter::new(
        LimiterConfig::default()
            .with_requests(Quota::per_minute(1))
            .with_max_wait(Duration::from_secs(1)),
    )
    .unwrap();
    let provider = ScriptedProvider::new("m").layer(RateLimitLayer::new(limiter));
    provider.complete(ChatRequest::user("a")).await.unwrap();
    let err = provider.complete(ChatRequest::user("b")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
    assert_eq!(err.provider().map(|p| p.as_str()), Some("m"));
    assert_eq!(provider.get_ref().call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_request_deadline_and_priority_are_honoured() {
    let limiter = Limiter::new(
        LimiterConfig::default()
            .with_max_concurrent(1)
            .with_max_wait(Duration::from_secs(600)),
    )
    .unwrap();
    let inner = ScriptedProvider::new("m").otherwise(Duration::from_secs(10), Outcome::Echo);
    let provider = std::sync::Arc::new(inner.clone().layer(RateLimitLayer::new(limiter.clone())));
    let busy = {
        let p = provider.clone();
        tokio::spawn(async move { p.complete(ChatRequest::user("busy")).await })
    };
    tokio::task::yield_now().await;
    let start = Instant::now();
    let err = provider
        .complete(ChatRequest::user("late").with_timeout(Duration::from_secs(3)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    busy.await.unwrap().unwrap();
    assert_eq!(inner.call_count(), 1);
    // Priority comes from the request's metadata.
    let low = {
        let p = provider.clone();
        tokio::spawn(async move {
            p.complete(ChatRequest::user("low").with_priority(Priority::Low))
                .await
        })
    };
    let _ = low.await;
    assert_eq!(inner.calls()[1].request.metadata.priority, Priority::Low);
}

#[tokio::test(start_paused = true)]
async fn throttles_pause_the_limiter_and_show_in_readiness() {
    let limiter = Limiter::new(
        LimiterConfig::default()
            .with_requests(Quota::per_minute(600))
            .with_adaptive(AdaptiveConfig::enabled()),
    )
    .unwrap();
    let inner = ScriptedProvider::new("m")
        .then_error(ProviderError::throttled(
            "slow down",
            Some(Duration::from_secs(5)),
        ))
        .with_context_window(200_000);
    let provider = inner.clone().layer(RateLimitLayer::new(limiter.clone()));
    assert_eq!(provider.readiness(), Readiness::Ready);
    assert_eq!(provider.context_window(), Some(200_000));
    let err = provider.complete(ChatRequest::user("a")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(
        provider.readiness(),
        Readiness::Unavailable {
            retry_after: Duration::from_secs(5)
        }
    );
    assert!(limiter.stats().rate_fraction < 1.0);
    // The inner provider's own state is combined in (the later recovery wins).
    inner.set_readiness(Readiness::Unavailable {
        retry_after: Duration::from_secs(8),
    });
    assert_eq!(
        provider.readiness(),
        Readiness::Unavailable {
            retry_after: Duration::from_secs(8)
        }
    );
    inner.set_readiness(Readiness::Ready);
    advance(Duration::from_secs(2)).await;
    // A call now waits out the pause rather than hitting the provider.
    let start = Instant::now();
    provider.complete(ChatRequest::user("b")).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(provider.readiness(), Readiness::Ready);
}

#[tokio::test(start_paused = true)]
async fn model_and_account_limiters_are_acquired_together_with_rollback() {
    let model = Limiter::new(
        LimiterConfig::named("model")
            .with_requests(Quota::per_minute(10))
            .with_tokens(Quota::per_minute(10_000)),
    )
    .unwrap();
    let account = Limiter::new(
        LimiterConfig::named("account")
            .with_max_concurrent(1)
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let set = LimiterSet::new().with(model.clone()).with(account.clone());
    let provider = ScriptedProvider::new("m")
        .otherwise(Duration::from_secs(1), Outcome::Echo)
        .layer(RateLimitLayer::new(set));
    let provider = std::sync::Arc::new(provider);
    let first = {
        let p = provider.clone();
        tokio::spawn(async move {
            p.complete(ChatRequest::user("1").with_input_token_estimate(100))
                .await
        })
    };
    tokio::task::yield_now().await;
    let err = provider
        .complete(ChatRequest::user("2").with_input_token_estimate(100))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    // Whatever the model limiter granted to the refused call came back whole.
    let stats = model.stats();
    assert_eq!(stats.requests_available, Some(9));
    assert_eq!(stats.tokens_available, Some(10_000 - 100 - 1_024));
    first.await.unwrap().unwrap();
    assert!(matches!(
        account
            .try_acquire(palisade_limit::Cost::request())
            .map(drop),
        Ok(())
    ));
}

#[tokio::test(start_paused = true)]
async fn a_success_without_usage_keeps_its_reservation() {
    let limiter =
        Limiter::new(LimiterConfig::default().with_tokens(Quota::per_minute(10_000))).unwrap();
    let no_usage = ChatResponse::text("m".into(), "answer", None);
    let provider = ScriptedProvider::new("m")
        .then(Duration::ZERO, Outcome::Respond(no_usage.clone()))
        .then(Duration::ZERO, Outcome::Respond(no_usage))
        .layer(RateLimitLayer::new(limiter.clone()));
    let req = || {
        ChatRequest::user("x")
            .with_max_tokens(900)
            .with_input_token_estimate(100)
    };
    provider.complete(req()).await.unwrap();
    let mut s = provider.stream(req()).await.unwrap();
    while s.next().await.is_some() {}
    let stats = limiter.stats();
    assert_eq!(stats.tokens_settled, 2_000);
    assert_eq!((stats.tokens_refunded, stats.tokens_debt), (0, 0));
    assert_eq!(stats.tokens_available, Some(8_000));
}

#[tokio::test(start_paused = true)]
async fn an_inner_limiters_refusal_does_not_slow_an_outer_adaptive_limiter() {
    let inner = Limiter::new(
        LimiterConfig::named("model")
            .with_requests(Quota::per_minute(1))
            .with_max_wait(Duration::ZERO),
    )
    .unwrap();
    let outer = Limiter::new(
        LimiterConfig::named("account")
            .with_requests(Quota::per_minute(100))
            .with_adaptive(AdaptiveConfig::enabled()),
    )
    .unwrap();
    let provider = ScriptedProvider::new("m")
        .layer(RateLimitLayer::new(inner))
        .layer(RateLimitLayer::new(outer.clone()));
    provider.complete(ChatRequest::user("a")).await.unwrap();
    let err = provider.complete(ChatRequest::user("b")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    let stats = outer.stats();
    assert_eq!((stats.throttles, stats.rate_fraction), (0, 1.0));
    assert_eq!(provider.readiness(), Readiness::Ready);
}

#[tokio::test(start_paused = true)]
async fn a_stream_past_its_output_reservation_pays_as_it_goes() {
    let limiter = Limiter::new(
        LimiterConfig::default()
            .with_tokens(Quota::per_minute(100_000))
            .with_output_tokens(Quota::per_minute(10_000)),
    )
    .unwrap();
    // ~1,000 tokens of text (4 characters a token) against 100 reserved.
    let long = "word".repeat(1_000);
    let provider = ScriptedProvider::new("m")
        .then(
            Duration::ZERO,
            Outcome::Respond(ChatResponse::text(
                "m".into(),
                &long,
                Some(Usage::new(50, 1_000)),
            )),
        )
        .layer(RateLimitLayer::new(limiter.clone()));
    let mut stream = provider
        .stream(
            ChatRequest::user("hi")
                .with_max_tokens(100)
                .with_input_token_estimate(50),
        )
        .await
        .unwrap();
    assert_eq!(limiter.stats().output_tokens_available, Some(10_000 - 100));
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first, StreamEvent::TextDelta { .. }));
    // Charged while the stream runs, before its usage or its end: the
    // 900-token overrun, rounded up to the charging step.
    let output = limiter.stats().output_tokens_available.unwrap();
    assert!(
        (10_000 - 1_000 - 64..=10_000 - 1_000).contains(&output),
        "{output}"
    );
    let tokens = limiter.stats().tokens_available.unwrap();
    assert!(tokens <= 100_000 - 1_050, "{tokens}");
    while stream.next().await.is_some() {}
    // Settled to the real usage: 1,000 output, 1,050 in all.
    let stats = limiter.stats();
    assert_eq!(stats.output_tokens_available, Some(10_000 - 1_000));
    assert_eq!(stats.tokens_available, Some(100_000 - 1_050));
    assert_eq!(stats.tokens_settled, 1_050);
}
