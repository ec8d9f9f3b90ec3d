//! One id per candidate: the config id names the stats entry, the attempts
//! trail, the limiter and the breaker, while the provider's own
//! model id is kept beside it; hand-built stacks report the layers they
//! attach; streams say who served them and how; local refusals are not
//! counted as the provider's throttles.

use std::time::Duration;

use palisade_breaker::{BreakerConfig, BreakerOpen, CircuitBreaker, CircuitBreakerLayer};
use palisade_core::testing::ScriptedProvider;
use palisade_core::{
    AttemptOutcome, ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt, collect_stream,
};
use palisade_limit::{Limiter, LimiterConfig, Quota, RateLimitLayer};
use palisade_stack::{Candidate, Fallback, FallbackError, RetryLayer, RetryPolicy, StackBuilder};

const TWO_CANDIDATES: &str = r#"
    [retry]
    max_attempts = 1

    [[candidates]]
    id = "flaky"

    [[candidates]]
    id = "steady"
"#;

fn throttled() -> ProviderError {
    ProviderError::throttled("429 Too Many Requests", None)
}

#[tokio::test(start_paused = true)]
async fn the_config_id_names_stats_trail_and_served_by_and_the_model_id_stays_beside_it() {
    let flaky = ScriptedProvider::new("openai/flaky").then_error(throttled());
    let steady = ScriptedProvider::new("openai/steady");
    let stack = StackBuilder::from_toml(TWO_CANDIDATES)
        .unwrap()
        .provider("flaky", flaky)
        .provider("steady", steady)
        .build()
        .unwrap();

    let answer = stack.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "steady");
    assert_eq!(answer.model, "openai/steady");
    let trail: Vec<(&str, Option<&str>)> = answer
        .attempts
        .iter()
        .map(|a| (a.provider.as_str(), a.model.as_deref()))
        .collect();
    assert_eq!(
        trail,
        [
            ("flaky", Some("openai/flaky")),
            ("steady", Some("openai/steady"))
        ]
    );

    let stats = stack.stats();
    let flaky = stats
        .candidate("flaky")
        .expect("stats keyed by the config id");
    assert_eq!(flaky.model, "openai/flaky");
    assert_eq!(flaky.throttles, 1);
    assert_eq!(stats.candidate("steady").unwrap().successes, 1);
    assert!(stats.candidate("openai/flaky").is_none());
}

#[tokio::test(start_paused = true)]
async fn the_breaker_and_the_errors_speak_of_the_config_id() {
    let config = r#"
        [retry]
        max_attempts = 1
        [breaker]
        consecutive_failures = 1
        [fallback]
        max_rounds = 1

        [[candidates]]
        id = "flaky"
    "#;
    let flaky = ScriptedProvider::new("openai/flaky")
        .then_error(ProviderError::new(ErrorKind::Internal, "500"));
    let stack = StackBuilder::from_toml(config)
        .unwrap()
        .provider("flaky", flaky.clone())
        .build()
        .unwrap();
    let err = stack.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.provider().map(|p| p.as_str()), Some("flaky"));

    // The open breaker refuses under the candidate's id, not the provider's.
    let breaker = stack
        .fallback()
        .candidates()
        .first()
        .map(|c| c.snapshot().breaker_state)
        .unwrap();
    assert_eq!(breaker.as_deref(), Some("open"));
    // Call the layered candidate directly: the refusal names `flaky`.
    let candidate = stack.fallback().candidates()[0].provider().clone();
    let refusal = candidate
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    let open = BreakerOpen::from_provider_error(&refusal).expect("a breaker refusal");
    assert_eq!(open.provider.as_str(), "flaky");
    assert_eq!(refusal.provider().map(|p| p.as_str()), Some("flaky"));
    assert_eq!(flaky.call_count(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_limiter_is_named_by_the_config_id() {
    let config = r#"
        [[candidates]]
        id = "flaky"
        limit = { requests = { amount = 10, period = 60 } }
    "#;
    let stack = StackBuilder::from_toml(config)
        .unwrap()
        .provider("flaky", ScriptedProvider::new("openai/flaky"))
        .build()
        .unwrap();
    stack.complete(ChatRequest::user("hi")).await.unwrap();
    // The limiter's refusal message names its limiter: make it refuse.
    let config = r#"
        [retry]
        max_attempts = 1
        [fallback]
        max_rounds = 1
        [[candidates]]
        id = "flaky"
        limit = { max_wait = 0, requests = { amount = 1, period = 60, burst = 1 } }
    "#;
    let stack = StackBuilder::from_toml(config)
        .unwrap()
        .provider("flaky", ScriptedProvider::new("openai/flaky"))
        .build()
        .unwrap();
    stack.complete(ChatRequest::user("one")).await.unwrap();
    let err = stack.complete(ChatRequest::user("two")).await.unwrap_err();
    let refusal = match &FallbackError::attempts_of(&err)[0].outcome {
        AttemptOutcome::Failed { message, .. } => message.clone(),
        other => panic!("the limiter refused: {other:?}"),
    };
    assert!(refusal.contains("`flaky`"), "{refusal}");
    assert!(!refusal.contains("openai/flaky"), "{refusal}");
}

#[tokio::test(start_paused = true)]
async fn local_refusals_are_counted_apart_from_provider_throttles() {
    let config = r#"
        [retry]
        max_attempts = 1
        [fallback]
        max_rounds = 1
        [[candidates]]
        id = "limited"
        limit = { max_wait = 0, requests = { amount = 1, period = 60, burst = 1 } }
    "#;
    let provider = ScriptedProvider::new("limited").then_error(throttled());
    let stack = StackBuilder::from_toml(config)
        .unwrap()
        .provider("limited", provider.clone())
        .build()
        .unwrap();
    // The provider's 429.
    let err = stack.complete(ChatRequest::user("one")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    stack.reset();
    // The limiter's own refusal: its one request a minute is spent.
    let err = stack.complete(ChatRequest::user("two")).await.unwrap_err();
    assert!(matches!(
        FallbackError::attempts_of(&err)[0].outcome,
        AttemptOutcome::Failed {
            kind: ErrorKind::Throttled,
            ..
        }
    ));
    assert_eq!(provider.call_count(), 1);

    let stats = stack.stats();
    let limited = stats.candidate("limited").unwrap();
    assert_eq!(limited.throttles, 1, "{limited:?}");
    assert_eq!(limited.failures.get(&ErrorKind::Throttled), Some(&1));
    assert_eq!(
        limited.refused_locally.get(&ErrorKind::Throttled),
        Some(&1),
        "{limited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hand_built_stack_reports_breaker_state_and_limiter_queue_like_a_built_one() {
    let model = ScriptedProvider::new("m");
    let breaker = CircuitBreaker::new("m", BreakerConfig::default()).unwrap();
    let limiter = Limiter::new(
        LimiterConfig::named("m").with_requests(Quota::per(10, Duration::from_secs(60))),
    )
    .unwrap();
    let retry = RetryLayer::new(RetryPolicy::default());
    let layered = model
        .layer(RateLimitLayer::new(limiter.clone()))
        .layer(CircuitBreakerLayer::new(breaker.clone()))
        .layer(retry.clone());
    let fallback = Fallback::new([Candidate::new(layered)
        .with_probe(breaker.clone())
        .with_probe(limiter)
        .with_probe(retry)]);
    fallback.complete(ChatRequest::user("hi")).await.unwrap();

    let snapshot = &fallback.stats()[0];
    assert_eq!(snapshot.breaker_state.as_deref(), Some("closed"));
    assert_eq!(snapshot.limiter_queued, Some(0));

    breaker.isolate();
    assert_eq!(
        fallback.stats()[0].breaker_state.as_deref(),
        Some("isolated")
    );
    fallback.reset();
    assert_eq!(fallback.stats()[0].breaker_state.as_deref(), Some("closed"));
}

#[tokio::test(start_paused = true)]
async fn a_stream_from_the_fallback_says_who_served_it_and_how_it_got_there() {
    let flaky = ScriptedProvider::new("openai/flaky").then_error(throttled());
    let steady = ScriptedProvider::new("openai/steady");
    let stack = StackBuilder::from_toml(TWO_CANDIDATES)
        .unwrap()
        .provider("flaky", flaky)
        .provider("steady", steady)
        .build()
        .unwrap();
    let stream = stack.stream(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(stream.served_by().as_str(), "steady");
    assert_eq!(stream.model(), "openai/steady");
    let outcomes: Vec<(&str, bool)> = stream
        .attempts()
        .iter()
        .map(|a| {
            (
                a.provider.as_str(),
                matches!(a.outcome, AttemptOutcome::Succeeded),
            )
        })
        .collect();
    assert_eq!(outcomes, [("flaky", false), ("steady", true)]);

    // Collected without naming anyone: the response has it all.
    let response = collect_stream(stream).await.unwrap();
    assert_eq!(response.served_by.as_str(), "steady");
    assert_eq!(response.model, "openai/steady");
    assert_eq!(response.attempts.len(), 2);
}
