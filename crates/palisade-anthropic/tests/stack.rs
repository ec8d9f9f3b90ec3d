//! The provider under the stack's retry and fallback, against the fake
//! server: what is retried (429 after its `retry-after`, 529), what is not
//! (auth, a stream cut after its first event), and what falls back (a
//! context window too small, a server that is down).

use std::time::Duration;

use futures_util::StreamExt;
use palisade_anthropic::{AnthropicProvider, ApiKey};
use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, Provider, StreamEvent};
use palisade_stack::{Backoff, Candidate, Fallback, Retry, RetryPolicy};
use palisade_testkit::anthropic::{FakeAnthropic, FakeAnthropicServer, Fault};

const KEY: &str = "sk-ant-stack-test";

async fn server() -> FakeAnthropicServer {
    FakeAnthropic::builder()
        .model("claude-a", ScriptedProvider::new("a").then_text("from a"))
        .model("claude-b", ScriptedProvider::new("b").then_text("from b"))
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

fn provider(server: &FakeAnthropicServer, model: &str) -> AnthropicProvider {
    AnthropicProvider::builder(model)
        .base_url(server.base_url())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap()
}

fn policy() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(3)
        .with_backoff(Backoff::exponential(
            Duration::from_millis(100),
            Duration::from_secs(1),
        ))
}

#[tokio::test(start_paused = true)]
async fn a_429_is_retried_after_its_retry_after() {
    let server = server().await;
    server.inject("claude-a", Fault::rate_limited(Duration::from_secs(3)));
    let retry = Retry::new(provider(&server, "claude-a"), policy());
    let started = tokio::time::Instant::now();
    let answer = retry.complete(ChatRequest::user("Hi")).await.unwrap();
    assert_eq!(answer.text_content(), "from a");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "waited {:?}",
        started.elapsed()
    );
    assert_eq!(server.requests().len(), 2);
    assert_eq!(retry.stats().retries, 1);
}

#[tokio::test(start_paused = true)]
async fn a_529_is_retried_and_auth_is_not() {
    let server = server().await;
    server.inject("claude-a", Fault::overloaded());
    let retry = Retry::new(provider(&server, "claude-a"), policy());
    retry.complete(ChatRequest::user("Hi")).await.unwrap();
    assert_eq!(server.requests().len(), 2);

    server.set_fault("claude-a", Fault::auth_failure());
    let err = retry.complete(ChatRequest::user("Hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(server.requests().len(), 3, "auth errors are not retried");
}

#[tokio::test(start_paused = true)]
async fn a_stream_cut_after_its_first_event_is_not_retried() {
    let server = server().await;
    server.inject("claude-a", Fault::CutStream { after_events: 4 });
    let retry = Retry::new(provider(&server, "claude-a"), policy());
    let mut stream = retry.stream(ChatRequest::user("Hi")).await.unwrap();
    let mut last = None;
    while let Some(event) = stream.next().await {
        let failed = event.is_err();
        last = Some(event);
        if failed {
            break;
        }
    }
    let err = last.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn context_too_small_and_down_fall_back() {
    let server = server().await;
    server.set_fault("claude-a", Fault::ContextWindow(20));
    let fallback = Fallback::new([
        Candidate::new(provider(&server, "claude-a")),
        Candidate::new(provider(&server, "claude-b")),
    ]);
    let answer = fallback
        .complete(ChatRequest::user("a fairly long question ".repeat(20)))
        .await
        .unwrap();
    assert_eq!(answer.text_content(), "from b");
    assert_eq!(answer.attempts.len(), 2, "{:?}", answer.attempts);

    server.clear_faults("claude-a");
    server.set_fault("claude-a", Fault::down());
    let answer = fallback.complete(ChatRequest::user("Hi")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "anthropic/claude-b");
    let to_a: Vec<u16> = server
        .requests()
        .iter()
        .filter(|r| r.model.as_deref() == Some("claude-a"))
        .map(|r| r.status)
        .collect();
    assert_eq!(to_a.last(), Some(&500), "{to_a:?}");
    let streamed = fallback.stream(ChatRequest::user("Hi")).await.unwrap();
    let events: Vec<_> = streamed.collect().await;
    assert!(events.iter().all(Result::is_ok));
    assert!(matches!(events.last(), Some(Ok(StreamEvent::Stop { .. }))));
}

#[tokio::test(start_paused = true)]
async fn quota_exhausted_is_not_retried_and_falls_back() {
    let server = server().await;
    // 400 `billing_error`: the account's credit is used up, waiting won't help.
    server.set_fault("claude-a", Fault::billing());
    let retry = Retry::new(provider(&server, "claude-a"), policy());
    let err = retry.complete(ChatRequest::user("Hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
    assert_eq!(server.requests().len(), 1, "a hard quota is not retried");
    assert_eq!(retry.stats().retries, 0);

    let fallback = Fallback::new([
        Candidate::new(Retry::new(provider(&server, "claude-a"), policy())),
        Candidate::new(provider(&server, "claude-b")),
    ]);
    let answer = fallback.complete(ChatRequest::user("Hi")).await.unwrap();
    assert_eq!(answer.text_content(), "from b");
    let to_a = server
        .requests()
        .iter()
        .filter(|r| r.model.as_deref() == Some("claude-a"))
        .count();
    assert_eq!(to_a, 2, "one call each time, no retries");
}
