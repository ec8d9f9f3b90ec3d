//! Providers as trait objects, streams, layers composed both ways, estimation.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ErrorKind, HeuristicEstimator, Identity, LayerStack, Provider,
    ProviderError, ProviderExt, Readiness, SharedProvider, StopReason, StreamEvent, TokenEstimator,
    Usage, collect_stream, stream_from_response,
};

#[tokio::test]
async fn dyn_providers_live_in_a_vec_and_are_called() {
    let a = ScriptedProvider::new("a").then_text("from a");
    let b = ScriptedProvider::new("b").then_text("from b");
    let providers: Vec<SharedProvider> = vec![Arc::new(a.clone()), Arc::new(b.clone())];
    let mut answers = Vec::new();
    for p in &providers {
        let r = p.complete(ChatRequest::user("hi")).await.unwrap();
        answers.push((
            p.id().to_string(),
            r.text_content(),
            r.served_by.to_string(),
        ));
    }
    assert_eq!(
        answers,
        [
            ("a".to_owned(), "from a".to_owned(), "a".to_owned()),
            ("b".to_owned(), "from b".to_owned(), "b".to_owned())
        ]
    );
    // Arc<dyn Provider> is itself a Provider, so it can be wrapped again.
    let nested: Arc<SharedProvider> = Arc::new(providers[0].clone());
    assert_eq!(nested.id().as_str(), "a");
    assert_eq!(a.call_count(), 1);
    assert_eq!(b.call_count(), 1);
}

#[tokio::test]
async fn a_stream_consumed_to_the_end_yields_its_final_usage() {
    let mut response = ChatResponse::text("m".into(), "hello world", Some(Usage::new(12, 3)));
    response.stop_reason = StopReason::MaxTokens;
    let p = ScriptedProvider::new("m").then(Duration::ZERO, Outcome::Respond(response));
    let mut stream = p.stream(ChatRequest::user("hi")).await.unwrap();
    let mut last_usage = None;
    let mut text = String::new();
    let mut stopped = None;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            StreamEvent::TextDelta { text: t } => text.push_str(&t),
            StreamEvent::Usage(u) => last_usage = Some(u),
            StreamEvent::Stop { reason } => stopped = Some(reason),
            StreamEvent::BlockStop => {}
            other => panic!("unexpected event {other:?}"),
        }
    }
    assert_eq!(text, "hello world");
    assert_eq!(last_usage, Some(Usage::new(12, 3)));
    assert_eq!(stopped, Some(StopReason::MaxTokens));
}

#[tokio::test]
async fn collect_stream_round_trips_a_response_and_rejects_a_truncated_one() {
    let mut response = ChatResponse::text("m".into(), "abc", Some(Usage::new(1, 2)));
    response.reasoning = Some(palisade_core::Reasoning {
        text: "thinking".into(),
        signature: Some("sig".into()),
    });
    let collected = collect_stream(stream_from_response(response.clone()))
        .await
        .unwrap();
    assert_eq!(collected, response);

    let truncated = palisade_core::ChatStream::from_events(
        "m".into(),
        vec![Ok(StreamEvent::TextDelta { text: "par".into() })],
    );
    let err = collect_stream(truncated).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
}

#[tokio::test]
async fn mid_stream_failure_arrives_as_an_item() {
    let p = ScriptedProvider::new("m").then(
        Duration::ZERO,
        Outcome::FailMidStream(
            "partial".into(),
            ProviderError::throttled("in stream", None),
        ),
    );
    let stream = p.stream(ChatRequest::user("hi")).await.unwrap();
    let err = collect_stream(stream).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.provider().map(|p| p.as_str()), Some("m"));
}

#[tokio::test(start_paused = true)]
async fn scripted_latency_runs_on_tokio_time_and_cancellation_is_recorded() {
    let p = ScriptedProvider::new("slow").otherwise(Duration::from_secs(10), Outcome::Echo);
    let start = tokio::time::Instant::now();
    let r = p
        .complete(ChatRequest::user("hi").with_max_tokens(100))
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(r.usage.map(|u| u.output_tokens), Some(16));

    let call = p.complete(ChatRequest::user("hi"));
    let timed_out = tokio::time::timeout(Duration::from_secs(1), call).await;
    assert!(timed_out.is_err());
    assert_eq!(p.cancelled(), 1);
    assert_eq!(p.in_flight(), 0);
    assert_eq!(p.finished(), 1);
}

#[tokio::test]
async fn layer_stack_and_provider_ext_build_the_same_provider() {
    let p = ScriptedProvider::new("m");
    let a = p.clone().layer(Identity).layer(Identity);
    let b = LayerStack::new()
        .push(Identity)
        .push(Identity)
        .wrap(p.clone());
    assert_eq!(a.id(), b.id());
    a.complete(ChatRequest::user("x")).await.unwrap();
    b.complete(ChatRequest::user("x")).await.unwrap();
    assert_eq!(p.call_count(), 2);
}

#[test]
fn readiness_and_keeps_the_later_recovery() {
    let soon = Readiness::Unavailable {
        retry_after: Duration::from_secs(1),
    };
    let later = Readiness::Unavailable {
        retry_after: Duration::from_secs(5),
    };
    assert_eq!(Readiness::Ready.and(Readiness::Ready), Readiness::Ready);
    assert_eq!(Readiness::Ready.and(soon), soon);
    assert_eq!(soon.and(later), later);
    assert_eq!(later.and(soon), later);
}

#[tokio::test]
async fn heuristic_estimator_is_documented_and_honours_the_override() {
    let est = HeuristicEstimator;
    assert_eq!(est.estimate_text(""), 0);
    assert_eq!(est.estimate_text("abcd"), 1);
    assert_eq!(est.estimate_text("abcde"), 2);
    assert_eq!(est.estimate_text("日本語"), 3);
    let req = ChatRequest::user("a".repeat(400)).with_system("s".repeat(40));
    // 3 per request + (10 + 4) system + (100 + 4) message
    assert_eq!(est.estimate_request(&req).await, 121);
    assert_eq!(est.input_tokens(&req).await, 121);
    assert_eq!(est.input_tokens(&req.with_input_token_estimate(7)).await, 7);
}

#[test]
fn requests_round_trip_through_json() {
    let req = ChatRequest::user("hi")
        .with_system("sys")
        .with_tag("t")
        .with_priority(palisade_core::Priority::High);
    let json = serde_json::to_string(&req).unwrap();
    let back: ChatRequest = serde_json::from_str(&json).unwrap();
    assert_eq!(back, req);
}

#[test]
fn attempt_outcomes_read_as_sentences() {
    use palisade_core::{AttemptOutcome, SkipReason};
    assert_eq!(AttemptOutcome::Succeeded.to_string(), "answered");
    let failed = AttemptOutcome::Failed {
        kind: ErrorKind::Throttled,
        message: "rate exceeded".into(),
    };
    assert_eq!(failed.to_string(), "failed: throttled: rate exceeded");
    let skipped = AttemptOutcome::Skipped(SkipReason::Unavailable {
        retry_after: Duration::from_millis(4000),
    });
    assert_eq!(skipped.to_string(), "skipped: unavailable for 4.0 s");
    let too_small = AttemptOutcome::Skipped(SkipReason::ContextWindowTooSmall {
        needed: 300_000,
        window: 200_000,
    });
    assert_eq!(
        too_small.to_string(),
        "skipped: needs 300000 tokens, context window 200000"
    );
}
