//! `stream` over ConverseStream: AWS event-stream frames from the fake server
//! through the real SDK decoder into core stream events, including
//! exceptions inside the stream (HTTP 200, no error code).

mod common;

use std::time::Duration;

use common::{EventsProvider, SONNET, client_for, serve};
use futures_util::StreamExt;
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ErrorKind, Provider, ProviderError, ProviderId, Reasoning,
    StopReason, StreamEvent, Usage, collect_stream,
};
use palisade_testkit::bedrock::WireFault;

fn text(t: &str) -> Result<StreamEvent, ProviderError> {
    Ok(StreamEvent::TextDelta { text: t.to_owned() })
}

fn three_chunks() -> EventsProvider {
    EventsProvider::new(vec![
        text("Hel"),
        text("lo, "),
        text("world"),
        Ok(StreamEvent::Usage(Usage {
            input_tokens: 30,
            output_tokens: 3,
            cache_read_tokens: 7,
            cache_write_tokens: 0,
            cache_write_1h_tokens: 0,
        })),
        Ok(StreamEvent::Stop {
            reason: StopReason::EndTurn,
        }),
    ])
}

#[tokio::test]
async fn text_deltas_then_usage_then_stop() {
    let server = serve(SONNET, three_chunks()).await;
    let provider = client_for(&server, SONNET).await;
    let events: Vec<_> = provider
        .stream(ChatRequest::user("hi"))
        .await
        .unwrap()
        .collect()
        .await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        [
            StreamEvent::TextDelta { text: "Hel".into() },
            StreamEvent::TextDelta {
                text: "lo, ".into()
            },
            StreamEvent::TextDelta {
                text: "world".into()
            },
            // contentBlockStop closes the text block.
            StreamEvent::BlockStop,
            StreamEvent::Usage(Usage {
                input_tokens: 30,
                output_tokens: 3,
                cache_read_tokens: 7,
                cache_write_tokens: 0,
                cache_write_1h_tokens: 0,
            }),
            StreamEvent::Stop {
                reason: StopReason::EndTurn
            },
        ]
    );
    assert_eq!(
        server.last_request().unwrap().operation,
        palisade_testkit::bedrock::Operation::ConverseStream
    );
}

#[tokio::test]
async fn reasoning_and_signature_stream_before_the_text() {
    let mut answer = ChatResponse::text(ProviderId::new("sonnet"), "42", Some(Usage::new(12, 40)));
    answer.reasoning = Some(Reasoning {
        text: "six times seven".into(),
        signature: Some("sig-xyz".into()),
    });
    answer.stop_reason = StopReason::MaxTokens;
    let model = ScriptedProvider::new("sonnet").then(Duration::ZERO, Outcome::Respond(answer));
    let server = serve(SONNET, model).await;
    let provider = client_for(&server, SONNET).await;
    let stream = provider
        .stream(
            ChatRequest::user("hi")
                .with_max_tokens(4096)
                .with_thinking(1024),
        )
        .await
        .unwrap();
    let collected = collect_stream(stream).await.unwrap();
    assert_eq!(collected.text_content(), "42");
    assert_eq!(
        collected.reasoning,
        Some(Reasoning {
            text: "six times seven".into(),
            signature: Some("sig-xyz".into()),
        })
    );
    assert_eq!(collected.usage, Some(Usage::new(12, 40)));
    assert_eq!(collected.stop_reason, StopReason::MaxTokens);
    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        body["additionalModelRequestFields"]["thinking"]["budget_tokens"],
        1024
    );
}

#[tokio::test]
async fn a_throttle_in_the_middle_of_the_stream_ends_it_with_throttled() {
    let server = serve(SONNET, three_chunks()).await;
    // messageStart + two text deltas, then a throttlingException frame.
    server.inject(SONNET, WireFault::mid_stream_throttling(3));
    let provider = client_for(&server, SONNET).await;
    let mut stream = provider.stream(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::TextDelta { text: "Hel".into() }
    );
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::TextDelta {
            text: "lo, ".into()
        }
    );
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled, "{err}");
    assert!(
        err.status().is_none(),
        "an in-stream exception has no HTTP status of its own"
    );
    assert_eq!(
        err.request_id(),
        Some(server.last_request().unwrap().request_id.as_str()),
        "the stream's request id is kept"
    );
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );
}

#[tokio::test]
async fn a_throttle_before_any_content_fails_the_call_itself() {
    // Right after messageStart: no event was produced, so retry and fallback
    // can still act; the error comes from `stream()`, not from the stream.
    let server = serve(SONNET, three_chunks()).await;
    server.inject(SONNET, WireFault::mid_stream_throttling(1));
    let provider = client_for(&server, SONNET).await;
    let err = match provider.stream(ChatRequest::user("hi")).await {
        Err(err) => err,
        Ok(_) => panic!("expected the call to fail"),
    };
    assert_eq!(err.kind(), ErrorKind::Throttled, "{err}");
    assert!(err.request_id().is_some());
}

#[tokio::test]
async fn other_exceptions_inside_the_stream_are_classified() {
    let cases = [
        ("serviceUnavailableException", ErrorKind::Unavailable),
        ("internalServerException", ErrorKind::Internal),
        ("modelStreamErrorException", ErrorKind::Internal),
        ("validationException", ErrorKind::InvalidRequest),
    ];
    for (exception, kind) in cases {
        let server = serve(SONNET, three_chunks()).await;
        server.inject(
            SONNET,
            WireFault::mid_stream(2, exception, "something went wrong"),
        );
        let provider = client_for(&server, SONNET).await;
        let mut stream = provider.stream(ChatRequest::user("hi")).await.unwrap();
        assert!(stream.next().await.unwrap().is_ok());
        let err = stream.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), kind, "{exception}: {err}");
    }
}

#[tokio::test]
async fn a_provider_error_mid_stream_becomes_the_matching_exception() {
    let model = EventsProvider::new(vec![
        text("partial"),
        Err(ProviderError::throttled("token quota", None)),
    ]);
    let server = serve(SONNET, model).await;
    let provider = client_for(&server, SONNET).await;
    let mut stream = provider.stream(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        StreamEvent::TextDelta {
            text: "partial".into()
        }
    );
    let err = stream.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled, "{err}");
}

#[tokio::test]
async fn a_stream_without_usage_reports_none_and_still_stops() {
    let model = EventsProvider::new(vec![
        text("hi"),
        Ok(StreamEvent::Stop {
            reason: StopReason::StopSequence,
        }),
    ]);
    let server = serve(SONNET, model).await;
    let provider = client_for(&server, SONNET).await;
    let stream = provider.stream(ChatRequest::user("hi")).await.unwrap();
    let collected = collect_stream(stream).await.unwrap();
    assert_eq!(collected.usage, None);
    assert_eq!(collected.stop_reason, StopReason::StopSequence);
}
