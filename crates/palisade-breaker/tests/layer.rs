//! `CircuitBreakerLayer` around a scripted provider: refusals without calling
//! the inner provider, outcomes of `complete` and of streams, readiness.

use std::error::Error as _;
use std::time::Duration;

use futures_util::StreamExt;
use palisade_breaker::{
    BreakerConfig, BreakerOpen, BreakerState, CircuitBreaker, CircuitBreakerLayer, Growth,
    OpenDuration,
};
use palisade_core::testing::{Outcome as Script, ScriptedProvider};
use palisade_core::{
    ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt, Readiness, collect_stream,
};
use tokio::time::advance;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn breaker(consecutive: u32) -> CircuitBreaker {
    CircuitBreaker::new(
        "model-a",
        BreakerConfig {
            consecutive_failures: Some(consecutive),
            failure_rate_threshold: None,
            open_duration: OpenDuration {
                base: secs(30),
                growth: Growth::Constant,
                max: None,
                jitter: 0.0,
            },
            ..BreakerConfig::default()
        },
    )
    .unwrap()
}

fn unavailable() -> ProviderError {
    ProviderError::new(ErrorKind::Unavailable, "503")
}

fn hi() -> ChatRequest {
    ChatRequest::user("hi")
}

#[tokio::test(start_paused = true)]
async fn while_open_the_inner_provider_is_not_called() {
    let b = breaker(3);
    let model = ScriptedProvider::new("model-a").then_errors(3, &unavailable());
    let guarded = model.clone().layer(CircuitBreakerLayer::new(b.clone()));
    for _ in 0..3 {
        assert_eq!(
            guarded.complete(hi()).await.unwrap_err().kind(),
            ErrorKind::Unavailable
        );
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(model.call_count(), 3);

    advance(secs(5)).await;
    for _ in 0..10 {
        let err = guarded.complete(hi()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unavailable);
        assert_eq!(err.retry_after(), Some(secs(25)));
        assert_eq!(err.provider().map(|p| p.as_str()), Some("model-a"));
        let open = BreakerOpen::from_provider_error(&err).expect("typed source");
        assert_eq!(open.state, BreakerState::Open);
        assert!(err.source().is_some());
        assert!(guarded.stream(hi()).await.is_err());
    }
    assert_eq!(model.call_count(), 3, "refused calls never reach the model");
    assert_eq!(
        guarded.readiness(),
        Readiness::Unavailable {
            retry_after: secs(25)
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_probe_through_the_layer_closes_or_reopens() {
    let b = breaker(1);
    let model = ScriptedProvider::new("model-a")
        .then_error(unavailable())
        .then_error(unavailable())
        .then_text("ok");
    let guarded = model.clone().layer(CircuitBreakerLayer::new(b.clone()));
    guarded.complete(hi()).await.unwrap_err();
    advance(secs(30)).await;
    guarded.complete(hi()).await.unwrap_err(); // failed probe
    assert_eq!(b.state(), BreakerState::Open);
    advance(secs(30)).await;
    assert_eq!(guarded.complete(hi()).await.unwrap().text_content(), "ok");
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(model.call_count(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_bad_request_never_opens_the_circuit() {
    let b = breaker(1);
    let model = ScriptedProvider::new("model-a").otherwise(
        Duration::ZERO,
        Script::Fail(ProviderError::invalid_request("bad role order")),
    );
    let guarded = model.clone().layer(CircuitBreakerLayer::new(b.clone()));
    for _ in 0..50 {
        let err = guarded.complete(hi()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(model.call_count(), 50);
}

#[tokio::test(start_paused = true)]
async fn streams_record_at_their_end() {
    let b = breaker(2);
    let model = ScriptedProvider::new("model-a")
        .then(
            Duration::ZERO,
            Script::FailMidStream("partial".into(), unavailable()),
        )
        .then_text("whole");
    let guarded = model.clone().layer(CircuitBreakerLayer::new(b.clone()));

    // A mid-stream failure counts when the error arrives, not before.
    let mut stream = guarded.stream(hi()).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    assert_eq!(b.snapshot().consecutive_failures, 0);
    assert!(stream.next().await.unwrap().is_err());
    assert_eq!(b.snapshot().consecutive_failures, 1);
    drop(stream);

    // A whole stream is a success (it breaks the run).
    let stream = guarded.stream(hi()).await.unwrap();
    collect_stream(stream).await.unwrap();
    assert_eq!(b.snapshot().consecutive_failures, 0);
    assert_eq!(b.snapshot().calls, 2);

    // A stream error before the first event counts at once.
    let model = ScriptedProvider::new("model-a").then_errors(2, &unavailable());
    let guarded = model.layer(CircuitBreakerLayer::new(b.clone()));
    assert!(guarded.stream(hi()).await.is_err());
    assert!(guarded.stream(hi()).await.is_err());
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn a_stream_dropped_mid_way_is_ignored_and_frees_its_probe_slot() {
    let b = breaker(1);
    let model = ScriptedProvider::new("model-a").then_error(unavailable());
    let guarded = model.layer(CircuitBreakerLayer::new(b.clone()));
    guarded.complete(hi()).await.unwrap_err();
    advance(secs(30)).await;

    let mut probe = guarded.stream(hi()).await.unwrap();
    probe.next().await.unwrap().unwrap(); // the first event, then the caller leaves
    assert!(
        guarded.complete(hi()).await.is_err(),
        "the only probe slot is taken"
    );
    drop(probe);
    assert_eq!(b.state(), BreakerState::HalfOpen);
    assert!(guarded.readiness().is_ready());
    guarded.complete(hi()).await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_call_is_ignored() {
    let b = breaker(1);
    let model = ScriptedProvider::new("model-a").then(secs(60), Script::Fail(unavailable()));
    let guarded = model.layer(CircuitBreakerLayer::new(b.clone()));
    let call = guarded.complete(hi());
    assert!(tokio::time::timeout(secs(1), call).await.is_err());
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().calls, 0);
}

#[tokio::test(start_paused = true)]
async fn slow_calls_are_timed_from_admission_to_outcome() {
    let b = CircuitBreaker::new(
        "model-a",
        BreakerConfig {
            consecutive_failures: None,
            failure_rate_threshold: None,
            slow_call_rate_threshold: Some(100.0),
            slow_call_duration: secs(20),
            minimum_calls: 2,
            ..BreakerConfig::default()
        },
    )
    .unwrap();
    let model = ScriptedProvider::new("model-a").otherwise(secs(25), Script::Echo);
    let guarded = model.layer(CircuitBreakerLayer::new(b.clone()));
    guarded.complete(hi()).await.unwrap();
    assert_eq!(b.snapshot().slow_calls, 1);
    assert_eq!(b.state(), BreakerState::Closed);
    guarded.complete(hi()).await.unwrap();
    assert_eq!(b.state(), BreakerState::Open);
}

#[tokio::test(start_paused = true)]
async fn readiness_and_context_window_combine_with_the_inner_provider() {
    let b = breaker(1);
    let model = ScriptedProvider::new("model-a")
        .with_context_window(200_000)
        .then_error(unavailable());
    let guarded = model.clone().layer(CircuitBreakerLayer::new(b.clone()));
    assert_eq!(guarded.context_window(), Some(200_000));
    model.set_readiness(Readiness::Unavailable {
        retry_after: secs(7),
    });
    assert_eq!(
        guarded.readiness(),
        Readiness::Unavailable {
            retry_after: secs(7)
        }
    );
    model.set_readiness(Readiness::Ready);
    guarded.complete(hi()).await.unwrap_err();
    model.set_readiness(Readiness::Unavailable {
        retry_after: secs(7),
    });
    assert_eq!(
        guarded.readiness(),
        Readiness::Unavailable {
            retry_after: secs(30)
        },
        "the later recovery wins"
    );
    assert_eq!(guarded.get_ref().id().as_str(), "model-a");
    assert_eq!(guarded.breaker().state(), BreakerState::Open);
    let _model: ScriptedProvider = guarded.into_inner();
}

#[tokio::test(start_paused = true)]
async fn calls_timed_out_by_an_outer_layer_count_when_configured() {
    let b = CircuitBreaker::new(
        "model-a",
        BreakerConfig {
            consecutive_failures: Some(2),
            failure_rate_threshold: None,
            count_dropped_calls_after: Some(secs(10)),
            ..BreakerConfig::default()
        },
    )
    .unwrap();
    let model = ScriptedProvider::new("model-a").otherwise(secs(60), Script::Echo);
    let guarded = model.layer(CircuitBreakerLayer::new(b.clone()));

    // Dropped sooner (a lost hedge, a caller that left): ignored.
    for _ in 0..5 {
        assert!(
            tokio::time::timeout(secs(5), guarded.complete(hi()))
                .await
                .is_err()
        );
    }
    assert_eq!(b.snapshot().calls, 0);

    // Dropped by a 10 s per-attempt timeout: a `Timeout` failure each.
    for _ in 0..2 {
        assert!(
            tokio::time::timeout(secs(10), guarded.complete(hi()))
                .await
                .is_err()
        );
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.snapshot().last_error_kind, Some(ErrorKind::Timeout));

    // The same for a stream that never started; a timed-out probe reopens.
    advance(secs(30)).await;
    assert!(
        tokio::time::timeout(secs(10), guarded.stream(hi()))
            .await
            .is_err()
    );
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.snapshot().consecutive_opens, 2);
}

#[tokio::test(start_paused = true)]
async fn a_started_stream_dropped_late_is_still_ignored() {
    let b = CircuitBreaker::new(
        "model-a",
        BreakerConfig {
            consecutive_failures: Some(1),
            count_dropped_calls_after: Some(secs(10)),
            ..BreakerConfig::default()
        },
    )
    .unwrap();
    let guarded = ScriptedProvider::new("model-a").layer(CircuitBreakerLayer::new(b.clone()));
    let mut stream = guarded.stream(hi()).await.unwrap();
    stream.next().await.unwrap().unwrap();
    advance(secs(120)).await;
    drop(stream);
    assert_eq!(b.state(), BreakerState::Closed);
    assert_eq!(b.snapshot().consecutive_failures, 0);
}

/// The layer's provider is `Breaker<P>`, like `RateLimit<P>` or `Retry<P>`;
/// the old name still compiles, as a deprecated alias of the same type.
#[tokio::test(start_paused = true)]
async fn the_wrapper_is_breaker_and_the_old_name_is_an_alias() {
    let guarded: palisade_breaker::Breaker<ScriptedProvider> = ScriptedProvider::new("model-a")
        .then_text("ok")
        .layer(CircuitBreakerLayer::new(breaker(5)));
    #[allow(deprecated)]
    let old: palisade_breaker::BreakerProvider<ScriptedProvider> = guarded;
    let answer = old.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.text_content(), "ok");
    assert_eq!(old.breaker().state(), BreakerState::Closed);
}
