//! Failures on the wire → typed errors, through the real client, and what
//! the stack's retry layer does with them.

mod common;

use std::time::Duration;

use common::{KEY, MODEL, provider};
use futures_util::StreamExt;
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError, ServiceTier, StopReason};
use palisade_openai::OpenAiProvider;
use palisade_stack::{RetryLayer, RetryPolicy};
use palisade_testkit::openai::{FakeOpenAi, Fault, Quota};
use palisade_testkit::{Outcome, ScriptedProvider};
use tokio::time::Instant;

fn retrying(p: OpenAiProvider) -> impl Provider {
    RetryLayer::seeded(RetryPolicy::default().with_max_attempts(3), 7).wrap(p)
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_is_retried_after_that_delay() {
    let server = FakeOpenAi::builder()
        .model(MODEL, ScriptedProvider::new("mini").then_text("finally"))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    server.inject(
        MODEL,
        Fault::RateLimited {
            retry_after: Duration::from_secs(3),
        },
    );
    let started = Instant::now();
    let answer = retrying(provider(&server))
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap();
    assert_eq!(answer.text_content(), "finally");
    assert_eq!(server.requests().len(), 2);
    // Never sooner than the server asked (tokio time; paused, so exact waits).
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn quota_429_carries_headers_and_the_retry_succeeds_after_reset() {
    let server = FakeOpenAi::builder()
        .any_model(ScriptedProvider::new("mini").otherwise(Duration::ZERO, Outcome::Echo))
        .quota(MODEL, Quota::new(1, 100_000))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let p = provider(&server);
    p.complete(ChatRequest::user("one")).await.unwrap();
    let err = p.complete(ChatRequest::user("two")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.status(), Some(429));
    let retry_after = err.retry_after().expect("Retry-After");
    assert!(
        retry_after > Duration::from_secs(50) && retry_after <= Duration::from_secs(60),
        "{retry_after:?}"
    );
    let rl = err.rate_limit().expect("x-ratelimit-* on the 429");
    assert_eq!(rl.requests.limit, Some(1));
    assert_eq!(rl.requests.remaining, Some(0));
    assert!(rl.requests.reset.is_some());
    assert_eq!(server.stats().rate_limited, 1);

    let started = Instant::now();
    retrying(p)
        .complete(ChatRequest::user("three"))
        .await
        .unwrap();
    assert!(started.elapsed() >= retry_after - Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn quota_exhausted_is_not_retried() {
    let server = FakeOpenAi::builder()
        .model(MODEL, ScriptedProvider::new("mini").then_text("never"))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    server.set_fault(MODEL, Fault::QuotaExhausted);
    let err = retrying(provider(&server))
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
    assert!(err.is_fallback_eligible());
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_auth_failure_is_not_retried_and_never_shows_the_key() {
    let server = FakeOpenAi::builder()
        .model(MODEL, ScriptedProvider::new("mini").then_text("never"))
        .api_key("sk-the-right-key-000000")
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let err = retrying(provider(&server))
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.status(), Some(401));
    assert_eq!(server.requests().len(), 1);
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(KEY), "{shown}");
    }
    // A missing key is a 401 too (OpenAI types it `invalid_request_error`).
    let keyless = OpenAiProvider::builder(MODEL)
        .base_url(server.base_url())
        .build()
        .unwrap();
    let err = keyless.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test(start_paused = true)]
async fn a_stream_cut_mid_way_is_a_typed_error_after_the_first_event_and_not_retried() {
    let model = ScriptedProvider::new("mini").then_text("a long answer that will not arrive whole");
    let server = FakeOpenAi::builder()
        .model(MODEL, model)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    // The role chunk and the text chunk arrive, then the connection breaks.
    server.inject(MODEL, Fault::StreamCut { after_chunks: 2 });
    let mut stream = retrying(provider(&server))
        .stream(ChatRequest::user("hi"))
        .await
        .unwrap();
    let mut text = String::new();
    let mut last = None;
    while let Some(event) = stream.next().await {
        match event {
            Ok(palisade_core::StreamEvent::TextDelta { text: t }) => text.push_str(&t),
            Ok(_) => {}
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    assert_eq!(
        text, "a long answer that will not arrive whole",
        "events came before the cut"
    );
    let err = last.expect("the cut is an error, not a clean end");
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn an_error_event_inside_the_stream_is_typed() {
    let model = ScriptedProvider::new("mini").then(
        Duration::ZERO,
        Outcome::FailMidStream(
            "partial".into(),
            ProviderError::new(ErrorKind::Throttled, "slow down"),
        ),
    );
    let server = FakeOpenAi::builder()
        .model(MODEL, model)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let stream = provider(&server)
        .stream(ChatRequest::user("hi"))
        .await
        .unwrap();
    let err = stream.into_response().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert!(err.message().contains("slow down"));
}

#[tokio::test]
async fn malformed_requests_are_refused_locally_before_sending() {
    let server = FakeOpenAi::builder()
        .any_model(ScriptedProvider::new("any").then_text("never"))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let p = provider(&server);
    let cases: Vec<(ChatRequest, &str)> = vec![
        (
            ChatRequest::user("hi")
                .with_max_tokens(4000)
                .with_thinking(1024),
            "thinking",
        ),
        (
            {
                let mut r = ChatRequest::user("hi");
                r.stop_sequences = (0..5).map(|i| format!("s{i}")).collect();
                r
            },
            "stop_sequences",
        ),
        (
            ChatRequest::user("hi").with_service_tier(ServiceTier::Reserved),
            "service_tier",
        ),
        (
            {
                let mut r = ChatRequest::user("hi");
                r.parallel_tool_calls = Some(false);
                r
            },
            "parallel_tool_calls",
        ),
        (
            ChatRequest::user("hi").with_passthrough("model", serde_json::json!("other")),
            "passthrough.model",
        ),
        (ChatRequest::user("hi").with_max_tokens(0), "max_tokens"),
        (
            ChatRequest::new(vec![palisade_core::Message::new(
                palisade_core::Role::User,
                vec![palisade_core::ContentBlock::document(
                    "notes",
                    palisade_core::DocumentFormat::Docx,
                    b"x",
                )],
            )]),
            "messages[0].content[0]",
        ),
    ];
    for (req, field) in cases {
        let err = p.complete(req.clone()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{field}: {err}");
        assert!(err.message().contains(field), "{field}: {err}");
        let err = p.stream(req).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{field}: {err}");
    }
    assert_eq!(server.requests().len(), 0, "nothing reached the wire");
}

#[tokio::test]
async fn fault_states_map_to_kinds() {
    let server = FakeOpenAi::builder()
        .model(
            MODEL,
            ScriptedProvider::new("mini").otherwise(Duration::ZERO, Outcome::Echo),
        )
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let p = provider(&server);
    let cases = [
        (Fault::Down, ErrorKind::Unavailable),
        (Fault::ContextTooSmall, ErrorKind::ContextWindowExceeded),
        (Fault::AuthFailure, ErrorKind::Auth),
        (
            Fault::Http {
                status: 500,
                error_type: Some("server_error".into()),
                code: None,
                message: "boom".into(),
            },
            ErrorKind::Internal,
        ),
    ];
    for (fault, kind) in cases {
        server.set_fault(MODEL, fault.clone());
        let err = p.complete(ChatRequest::user("hi")).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{fault:?}: {err}");
        let err = p.stream(ChatRequest::user("hi")).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{fault:?} (stream): {err}");
    }
    server.set_fault(MODEL, Fault::ContentFilter);
    let answer = p.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.stop_reason, StopReason::ContentFiltered);
    let answer = p
        .stream(ChatRequest::user("hi"))
        .await
        .unwrap()
        .into_response()
        .await
        .unwrap();
    assert_eq!(answer.stop_reason, StopReason::ContentFiltered);
    server.clear_fault(MODEL);
    assert!(p.complete(ChatRequest::user("hi")).await.is_ok());
}

#[tokio::test]
async fn a_context_window_too_small_is_context_window_exceeded() {
    let server = FakeOpenAi::builder()
        .model(MODEL, ScriptedProvider::new("mini").then_text("never"))
        .context_window(MODEL, 100)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let err = provider(&server)
        .complete(ChatRequest::user("x".repeat(2000)).with_max_tokens(10))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextWindowExceeded, "{err}");
}

#[tokio::test]
async fn a_connection_refused_is_network() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let p = OpenAiProvider::builder(MODEL)
        .base_url(format!("http://{addr}/v1"))
        .build()
        .unwrap();
    let err = p.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
}
