//! Header feedback through the real stack: the fake Anthropic server with a
//! true requests / input-tokens / output-tokens quota, the reqwest provider,
//! and the stack's rate limiter (`RateLimitLayer`) configured 3× above the
//! true quota under the stack's retry layer. 500 requests from 20 tasks on
//! paused tokio time (the fake server's buckets refill in tokio time).
//!
//! The `anthropic-ratelimit-*` snapshot travels on the `ChatResponse`, the
//! `ChatStream` and the `ProviderError` to `RateLimitLayer`, which
//! calibrates the limiter to the true limits; the server's 429s stay under
//! 2 % of the calls and goodput reaches ≥ 90 % of the true quota. The
//! numbers are in docs/limits.md; rerun with
//! `cargo test -p palisade-anthropic --test header_feedback -- --nocapture`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_anthropic::{AnthropicProvider, ApiKey};
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatRequest, HeuristicEstimator, Provider, ProviderExt, TokenEstimator};
use palisade_limit::{Limiter, LimiterConfig, Quota as LimitQuota, RateLimitLayer};
use palisade_stack::{RetryLayer, RetryPolicy, StackBuilder};
use palisade_testkit::anthropic::{FakeAnthropic, FakeAnthropicServer, Quota};
use tokio::time::Instant;

const MODEL: &str = "claude-quota";
const KEY: &str = "sk-ant-feedback-test";
const TRUE_RPM: u32 = 120;
const TRUE_INPUT_TPM: u32 = 40_000;
const TRUE_OUTPUT_TPM: u32 = 20_000;
const JOBS: usize = 500;
const TASKS: usize = 20;

/// Job `i`: a prompt of about 200–400 tokens, `max_tokens` 100 (the
/// scripted model answers 16 tokens).
fn job(i: usize) -> ChatRequest {
    let words = 150 + i * 37 % 150;
    ChatRequest::user(format!("job {i}: {}", "word ".repeat(words))).with_max_tokens(100)
}

async fn server() -> FakeAnthropicServer {
    FakeAnthropic::builder()
        .model_with_quota(
            MODEL,
            ScriptedProvider::new("m").otherwise(Duration::from_secs(1), Outcome::Echo),
            Quota::new(TRUE_RPM, TRUE_INPUT_TPM, TRUE_OUTPUT_TPM),
        )
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

fn provider(server: &FakeAnthropicServer) -> AnthropicProvider {
    AnthropicProvider::builder(MODEL)
        .base_url(server.base_url())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap()
}

async fn run_3x(streaming: bool) {
    let server = server().await;
    let limiter = Limiter::new(
        LimiterConfig::named("claude-3x")
            .with_requests(LimitQuota::per_minute(3 * u64::from(TRUE_RPM)))
            .with_tokens(LimitQuota::per_minute(3 * u64::from(TRUE_INPUT_TPM)))
            .with_max_wait(Duration::from_secs(3_600)),
    )
    .unwrap();
    let policy = RetryPolicy::default()
        .with_max_attempts(10)
        .with_max_total_time(Some(Duration::from_secs(3_600)));
    let model = Arc::new(
        provider(&server)
            .layer(RateLimitLayer::new(limiter.clone()))
            .layer(RetryLayer::seeded(policy, 7)),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (model, next) = (Arc::clone(&model), Arc::clone(&next));
            tokio::spawn(async move {
                let mut last = None;
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= JOBS {
                        return last;
                    }
                    let answer = if streaming {
                        match model.stream(job(i)).await {
                            Ok(s) => s.into_response().await,
                            Err(e) => Err(e),
                        }
                    } else {
                        model.complete(job(i)).await
                    };
                    if let Err(e) = answer {
                        panic!("job {i}: {e}");
                    }
                    last = Some(Instant::now());
                }
            })
        })
        .collect();
    let mut end = start;
    for t in tasks {
        if let Some(at) = t.await.unwrap() {
            end = end.max(at);
        }
    }
    let requests = server.requests();
    let calls = requests.len() as u64;
    let throttled = server.throttled_count();
    assert_eq!(server.served_count(), JOBS as u64);
    let mut input = 0u64;
    for r in requests.iter().filter(|r| r.status == 200) {
        let chat = r.chat_request.as_ref().expect("a valid request");
        input += u64::from(HeuristicEstimator.input_tokens(chat).await);
    }
    let per_sec = |per_min: u32| f64::from(per_min) / 60.0;
    let ideal_requests = (JOBS as f64 - f64::from(TRUE_RPM)) / per_sec(TRUE_RPM);
    let ideal_input = (input as f64 - f64::from(TRUE_INPUT_TPM)) / per_sec(TRUE_INPUT_TPM);
    let ideal = ideal_requests.max(ideal_input);
    let elapsed = end.duration_since(start).as_secs_f64();
    let share = throttled as f64 / calls as f64;
    let goodput = ideal / elapsed;
    let stats = limiter.stats();
    println!(
        "anthropic {}: {calls} calls, {throttled} answered 429 ({:.2} %), {JOBS} served \
         ({input} input tokens) in {elapsed:.1} s (ideal {ideal:.1} s): goodput {:.1} % of \
         the true quota; calibrated to {:?} RPM, {:?} TPM",
        if streaming { "stream" } else { "complete" },
        100.0 * share,
        100.0 * goodput,
        stats.calibrated_requests,
        stats.calibrated_tokens,
    );
    assert!(share < 0.02, "{throttled} of {calls} calls answered 429");
    assert!(goodput >= 0.90, "goodput {goodput}");
    assert_eq!(stats.calibrated_requests, Some(u64::from(TRUE_RPM)));
    // The limiter's one token bucket follows the combined `tokens` window:
    // the tighter of input and output, here the input limit.
    assert_eq!(stats.calibrated_tokens, Some(u64::from(TRUE_INPUT_TPM)));
}

#[tokio::test(start_paused = true)]
async fn a_3x_limiter_converges_to_the_fake_servers_quota() {
    run_3x(false).await;
}

#[tokio::test(start_paused = true)]
async fn a_3x_limiter_converges_from_streams_alone() {
    run_3x(true).await;
}

#[tokio::test(start_paused = true)]
async fn a_stream_carries_the_snapshot_to_the_limiter() {
    let server = server().await;
    let limiter = Limiter::new(
        LimiterConfig::named("probe")
            .with_requests(LimitQuota::per_minute(1_000))
            .with_tokens(LimitQuota::per_minute(1_000_000)),
    )
    .unwrap();
    let p = provider(&server);
    let stream = p.stream(job(0)).await.unwrap();
    let snap = stream
        .rate_limit()
        .expect("anthropic-ratelimit-* on the stream");
    assert_eq!(snap.requests.limit, Some(u64::from(TRUE_RPM)));
    assert!(stream.into_response().await.unwrap().rate_limit.is_some());
    let stream = p
        .layer(RateLimitLayer::new(limiter.clone()))
        .stream(job(1))
        .await
        .unwrap();
    assert_eq!(
        limiter.stats().calibrated_requests,
        Some(u64::from(TRUE_RPM)),
        "calibrated when the stream opened"
    );
    drop(stream);
}

#[tokio::test(start_paused = true)]
async fn a_stack_built_from_toml_stays_under_the_quota() {
    // The same load through `StackBuilder`, the way an application
    // configures it: the candidate's limiter 3× above the true quota, the
    // stack's retry, breaker and fallback around it. The limiter is the
    // stack's own (not visible here); the server's counts say how it did.
    let server = server().await;
    let toml = r#"
        name = "claude"
        seed = 7

        [retry]
        max_attempts = 10
        max_total_time = "1h"

        [[candidates]]
        id = "claude"
        limit = { max_wait = 3600, requests = { amount = 360, period = 60 }, tokens = { amount = 120000, period = 60 } }
    "#;
    let stack = StackBuilder::from_toml(toml)
        .unwrap()
        .provider("claude", provider(&server))
        .build()
        .unwrap();
    let stack = Arc::new(stack);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (stack, next) = (Arc::clone(&stack), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= JOBS {
                        return Instant::now();
                    }
                    if let Err(e) = stack.complete(job(i)).await {
                        panic!("job {i}: {e}");
                    }
                }
            })
        })
        .collect();
    let mut end = start;
    for t in tasks {
        end = end.max(t.await.unwrap());
    }
    let calls = server.requests().len() as u64;
    let throttled = server.throttled_count();
    assert_eq!(server.served_count(), JOBS as u64);
    let ideal = (JOBS as f64 - f64::from(TRUE_RPM)) / (f64::from(TRUE_RPM) / 60.0);
    let elapsed = end.duration_since(start).as_secs_f64();
    println!(
        "anthropic StackBuilder: {calls} calls, {throttled} answered 429 ({:.2} %), goodput \
         {:.1} % ({elapsed:.1} s, ideal {ideal:.1} s, requests binding)",
        100.0 * throttled as f64 / calls as f64,
        100.0 * ideal / elapsed,
    );
    assert!(
        (throttled as f64) < 0.02 * calls as f64,
        "{throttled} of {calls}"
    );
    assert!(ideal / elapsed >= 0.90, "{elapsed} s");
}
