//! Header feedback through the real stack: the fake OpenAI server with a
//! true RPM and TPM, the reqwest provider, and the stack's rate limiter
//! (`RateLimitLayer`) configured 3× above the true quota under the stack's
//! retry layer, as a user builds it. 500 requests from 20 tasks, on paused
//! tokio time (the fake server counts its quota windows in tokio time, so
//! the run is minutes of simulated traffic in well under a second).
//!
//! The snapshot travels from the `x-ratelimit-*` headers through
//! `OpenAiProvider` (on the `ChatResponse`, the `ChatStream` and the
//! `ProviderError`) to `RateLimitLayer`, which calibrates the limiter: it
//! converges to the true limits, the server's 429s stay under 2 % of the
//! calls and goodput reaches ≥ 90 % of the true quota. The numbers are in
//! docs/limits.md; rerun with
//! `cargo test -p palisade-openai --all-features --test header_feedback -- --nocapture`.
//!
//! The limiter prices calls with `OpenAiQuotaProfile` (feature `limit`):
//! OpenAI, and the fake, keep `max_tokens` charged, and a limiter that
//! refunds it believes it has more left than the server says. The run with
//! the default cost model shows the difference (its 429 share is printed,
//! not bounded).

#![cfg(feature = "limit")]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{KEY, MODEL, provider};
use palisade_core::{ChatRequest, HeuristicEstimator, Provider, ProviderExt, TokenEstimator};
use palisade_limit::{Limiter, LimiterConfig, Quota as LimitQuota, RateLimitLayer};
use palisade_openai::OpenAiQuotaProfile;
use palisade_stack::{RetryLayer, RetryPolicy};
use palisade_testkit::openai::{FakeOpenAi, FakeOpenAiServer, Quota};
use palisade_testkit::{Outcome, ScriptedProvider};
use tokio::time::Instant;

const TRUE_RPM: u32 = 120;
const TRUE_TPM: u32 = 40_000;
const JOBS: usize = 500;
const TASKS: usize = 20;
const MAX_TOKENS: u32 = 100;

/// Job `i`: a prompt of about 200–400 tokens (by the heuristic estimator
/// both the limiter and the fake server use), `max_tokens` 100. The index
/// leads the text so each job's body is distinct on the server.
fn job(i: usize) -> ChatRequest {
    let words = 150 + i * 37 % 150;
    ChatRequest::user(format!("job {i}: {}", "word ".repeat(words))).with_max_tokens(MAX_TOKENS)
}

async fn server(latency: Duration) -> FakeOpenAiServer {
    FakeOpenAi::builder()
        .model(
            MODEL,
            ScriptedProvider::new("mini").otherwise(latency, Outcome::Echo),
        )
        .quota(MODEL, Quota::new(TRUE_RPM, TRUE_TPM))
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap()
}

/// What one run measured.
#[derive(Debug)]
struct Run {
    calls: u64,
    rate_limited: u64,
    served: u64,
    served_tokens: u64,
    elapsed: Duration,
    /// The shortest the server's own quotas allow for the work (a full
    /// bucket at the start, then the refill rate): `elapsed` at 100 %.
    ideal: Duration,
    calibrated_requests: Option<u64>,
    calibrated_tokens: Option<u64>,
}

impl Run {
    fn rate_limited_share(&self) -> f64 {
        self.rate_limited as f64 / self.calls as f64
    }

    fn goodput(&self) -> f64 {
        self.ideal.as_secs_f64() / self.elapsed.as_secs_f64()
    }
}

/// The tokens the server charged for the served jobs: its estimate of each
/// distinct body it received plus `max_tokens` (OpenAI counts `max_tokens`
/// at admission and refunds nothing).
async fn served_tokens(server: &FakeOpenAiServer) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    for r in server.requests() {
        if seen.insert(r.body.clone()) {
            let chat = r.chat_request.expect("a valid request");
            let input = HeuristicEstimator.estimate_request(&chat).await;
            total += u64::from(input + chat.max_tokens);
        }
    }
    total
}

/// How the run's calls go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `complete`, the limiter pricing with `OpenAiQuotaProfile`.
    Complete,
    /// `stream` (each assembled to its end), with `OpenAiQuotaProfile`.
    Stream,
    /// `complete`, the limiter's default cost model (refunds `max_tokens`).
    CompleteDefaultCost,
}

/// 500 jobs from 20 tasks through Retry ─► RateLimit(3×) ─► OpenAiProvider.
async fn run_3x(mode: Mode) -> Run {
    let server = server(Duration::from_secs(1)).await;
    let config = LimiterConfig::named("gpt-3x")
        .with_requests(LimitQuota::per_minute(3 * u64::from(TRUE_RPM)))
        .with_tokens(LimitQuota::per_minute(3 * u64::from(TRUE_TPM)))
        .with_max_wait(Duration::from_secs(3_600));
    let limiter = match mode {
        Mode::CompleteDefaultCost => Limiter::new(config),
        _ => Limiter::with_cost_model(config, Arc::new(OpenAiQuotaProfile)),
    }
    .unwrap();
    let policy = RetryPolicy::default()
        .with_max_attempts(10)
        .with_max_total_time(Some(Duration::from_secs(3_600)));
    let provider = provider(&server);
    let streaming = mode == Mode::Stream;
    let model = Arc::new(
        provider
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
    let stats = server.stats();
    assert_eq!(stats.answered, JOBS as u64, "{stats:?}");
    let served_tokens = served_tokens(&server).await;
    let per_sec = |per_min: u32| f64::from(per_min) / 60.0;
    let ideal_requests = (JOBS as f64 - f64::from(TRUE_RPM)) / per_sec(TRUE_RPM);
    let ideal_tokens = (served_tokens as f64 - f64::from(TRUE_TPM)) / per_sec(TRUE_TPM);
    let limiter_stats = limiter.stats();
    Run {
        calls: stats.requests,
        rate_limited: stats.rate_limited,
        served: stats.answered,
        served_tokens,
        elapsed: end.duration_since(start),
        ideal: Duration::from_secs_f64(ideal_requests.max(ideal_tokens)),
        calibrated_requests: limiter_stats.calibrated_requests,
        calibrated_tokens: limiter_stats.calibrated_tokens,
    }
}

fn report(run: &Run, what: &str) {
    println!(
        "openai {what}: {} calls, {} answered 429 ({:.2} %), {} served ({} tokens) in {:.1} s \
         (ideal {:.1} s): goodput {:.1} % of the true quota; calibrated to {:?} RPM, {:?} TPM",
        run.calls,
        run.rate_limited,
        100.0 * run.rate_limited_share(),
        run.served,
        run.served_tokens,
        run.elapsed.as_secs_f64(),
        run.ideal.as_secs_f64(),
        100.0 * run.goodput(),
        run.calibrated_requests,
        run.calibrated_tokens,
    );
}

fn check(run: &Run) {
    assert!(run.rate_limited_share() < 0.02, "{run:?}");
    assert!(run.goodput() >= 0.90, "{run:?}");
    assert_eq!(
        run.calibrated_requests,
        Some(u64::from(TRUE_RPM)),
        "{run:?}"
    );
    assert_eq!(run.calibrated_tokens, Some(u64::from(TRUE_TPM)), "{run:?}");
}

#[tokio::test(start_paused = true)]
async fn a_3x_limiter_converges_to_the_fake_servers_quota() {
    let run = run_3x(Mode::Complete).await;
    report(&run, "complete");
    check(&run);
}

#[tokio::test(start_paused = true)]
async fn a_3x_limiter_converges_from_streams_alone() {
    // Every call streams: the snapshot of a successful stream (taken when it
    // opens) is what calibrates the limiter.
    let run = run_3x(Mode::Stream).await;
    report(&run, "stream");
    check(&run);
}

#[tokio::test(start_paused = true)]
async fn with_the_default_cost_model_it_converges_but_runs_early() {
    let run = run_3x(Mode::CompleteDefaultCost).await;
    report(&run, "complete, default cost model");
    assert!(run.goodput() >= 0.90, "{run:?}");
    assert_eq!(
        run.calibrated_requests,
        Some(u64::from(TRUE_RPM)),
        "{run:?}"
    );
    assert_eq!(run.calibrated_tokens, Some(u64::from(TRUE_TPM)), "{run:?}");
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_reaches_the_limiter_from_a_response_a_stream_and_an_error() {
    let server = server(Duration::ZERO).await;
    let fresh = || {
        Limiter::new(
            LimiterConfig::named("probe")
                .with_requests(LimitQuota::per_minute(1_000))
                .with_tokens(LimitQuota::per_minute(1_000_000)),
        )
        .unwrap()
    };
    let p = provider(&server);

    // A whole answer carries it.
    let answer = p.complete(job(0)).await.unwrap();
    let snap = answer
        .rate_limit
        .as_deref()
        .expect("x-ratelimit-* on the answer");
    assert_eq!(snap.requests.limit, Some(u64::from(TRUE_RPM)));
    let limiter = fresh();
    p.clone()
        .layer(RateLimitLayer::new(limiter.clone()))
        .complete(job(1))
        .await
        .unwrap();
    assert_eq!(
        limiter.stats().calibrated_requests,
        Some(u64::from(TRUE_RPM))
    );
    assert_eq!(limiter.stats().calibrated_tokens, Some(u64::from(TRUE_TPM)));

    // A stream carries it as it opens, before the first event.
    let stream = p.stream(job(2)).await.unwrap();
    let snap = stream.rate_limit().expect("x-ratelimit-* on the stream");
    assert_eq!(snap.tokens.limit, Some(u64::from(TRUE_TPM)));
    let answer = stream.into_response().await.unwrap();
    assert!(answer.rate_limit.is_some(), "kept when assembled");
    let limiter = fresh();
    let stream = p
        .clone()
        .layer(RateLimitLayer::new(limiter.clone()))
        .stream(job(3))
        .await
        .unwrap();
    assert_eq!(
        limiter.stats().calibrated_requests,
        Some(u64::from(TRUE_RPM)),
        "calibrated when the stream opened"
    );
    drop(stream);

    // An error carries it: use up the quota, each call through a fresh
    // limiter, until one is answered 429; that limiter saw only the error.
    let mut tries = 0;
    let (limiter, err) = loop {
        tries += 1;
        assert!(tries < 1_000, "the quota never ran out");
        let limiter = fresh();
        let layered = p.clone().layer(RateLimitLayer::new(limiter.clone()));
        if let Err(e) = layered.complete(job(4)).await {
            break (limiter, e);
        }
    };
    assert_eq!(err.status(), Some(429));
    let snap = err.rate_limit().expect("x-ratelimit-* on the 429");
    assert_eq!(snap.requests.limit, Some(u64::from(TRUE_RPM)));
    assert_eq!(
        limiter.stats().calibrated_requests,
        Some(u64::from(TRUE_RPM))
    );
    assert_eq!(limiter.stats().calibrated_tokens, Some(u64::from(TRUE_TPM)));
}
