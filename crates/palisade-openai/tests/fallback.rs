//! The provider under the stack's retry and fallback, against the fake
//! server: a context window too small and a server that is down fall back
//! to the next candidate (whole and streamed), and a quota exhausted falls
//! back without a retry.

mod common;

use std::time::Duration;

use common::KEY;
use futures_util::StreamExt;
use palisade_core::{AttemptOutcome, ChatRequest, ErrorKind, Provider, StreamEvent};
use palisade_openai::OpenAiProvider;
use palisade_stack::{Backoff, Candidate, Fallback, RetryLayer, RetryPolicy};
use palisade_testkit::openai::{FakeOpenAi, FakeOpenAiServer, Fault};
use palisade_testkit::{Outcome, ScriptedProvider};

async fn server() -> FakeOpenAiServer {
    FakeOpenAi::builder()
        .model(
            "gpt-a",
            ScriptedProvider::new("a").otherwise(Duration::ZERO, Outcome::Echo),
        )
        .model(
            "gpt-b",
            ScriptedProvider::new("b").otherwise(Duration::ZERO, Outcome::Echo),
        )
        // gpt-a's window is small: a long prompt does not fit it.
        .context_window("gpt-a", 100)
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

fn provider(server: &FakeOpenAiServer, model: &str) -> OpenAiProvider {
    OpenAiProvider::builder(model)
        .base_url(server.base_url())
        .api_key(KEY)
        // No window known locally: the server's 400 is what falls back.
        .build()
        .unwrap()
}

/// Each candidate under its own retry layer, as the stack builds them.
fn fallback(server: &FakeOpenAiServer) -> Fallback {
    let retry = RetryLayer::seeded(
        RetryPolicy::default()
            .with_max_attempts(3)
            .with_backoff(Backoff::exponential(
                Duration::from_millis(100),
                Duration::from_secs(1),
            )),
        7,
    );
    Fallback::new([
        Candidate::new(retry.wrap(provider(server, "gpt-a"))),
        Candidate::new(retry.wrap(provider(server, "gpt-b"))),
    ])
}

fn sent_to(server: &FakeOpenAiServer, model: &str) -> usize {
    server
        .requests()
        .iter()
        .filter(|r| r.model == model)
        .count()
}

#[tokio::test(start_paused = true)]
async fn context_too_small_falls_back_without_a_retry() {
    let server = server().await;
    let stack = fallback(&server);
    let long = ChatRequest::user("a fairly long question ".repeat(40)).with_max_tokens(50);
    let answer = stack.complete(long.clone()).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "openai/gpt-b");
    assert!(
        matches!(
            answer.attempts[0].outcome,
            AttemptOutcome::Failed {
                kind: ErrorKind::ContextWindowExceeded,
                ..
            }
        ),
        "{:?}",
        answer.attempts
    );
    assert_eq!(sent_to(&server, "gpt-a"), 1, "not retried");
    let streamed = stack.stream(long).await.unwrap();
    assert_eq!(streamed.served_by().as_str(), "openai/gpt-b");
    let events: Vec<_> = streamed.collect().await;
    assert!(events.iter().all(Result::is_ok), "{events:?}");
    assert!(matches!(events.last(), Some(Ok(StreamEvent::Stop { .. }))));
    // A short prompt with a small `max_tokens` fits gpt-a.
    let answer = stack
        .complete(ChatRequest::user("hi").with_max_tokens(10))
        .await
        .unwrap();
    assert_eq!(answer.served_by.as_str(), "openai/gpt-a");
}

#[tokio::test(start_paused = true)]
async fn down_falls_back_whole_and_streamed() {
    let server = server().await;
    server.set_fault("gpt-a", Fault::Down);
    let stack = fallback(&server);
    let answer = stack.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "openai/gpt-b");
    assert!(
        answer.attempts.iter().any(|a| matches!(
            a.outcome,
            AttemptOutcome::Failed {
                kind: ErrorKind::Unavailable,
                ..
            }
        )),
        "{:?}",
        answer.attempts
    );
    let streamed = stack.stream(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(streamed.served_by().as_str(), "openai/gpt-b");
    let answer = streamed.into_response().await.unwrap();
    assert_eq!(answer.text_content(), "ok");
    assert!(sent_to(&server, "gpt-a") >= 1);
}

#[tokio::test(start_paused = true)]
async fn quota_exhausted_falls_back_without_a_retry() {
    let server = server().await;
    server.set_fault("gpt-a", Fault::QuotaExhausted);
    let stack = fallback(&server);
    let answer = stack.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "openai/gpt-b");
    assert_eq!(sent_to(&server, "gpt-a"), 1, "a hard quota is not retried");
}
