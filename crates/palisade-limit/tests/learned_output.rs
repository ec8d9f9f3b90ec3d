//! Learned output reservations under a tight tokens-per-minute quota: with
//! `max_tokens` 8,192 and replies of ~300 tokens, reserving `max_tokens`
//! holds 27× the real output per call in flight, so the quota admits a
//! fraction of what it could; learned reservations admit what the quota
//! really allows, and the quota still holds over the run.

use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatRequest, ChatResponse, Provider, ProviderExt, Usage};
use palisade_limit::{LearnedOutputConfig, Limiter, LimiterConfig, Quota, RateLimitLayer};
use tokio::time::Instant;

const TPM: u64 = 100_000;
const MAX_TOKENS: u32 = 8_192;
/// Each call takes this long (a long reply, a slow model).
const LATENCY: Duration = Duration::from_secs(15);
const RUN: Duration = Duration::from_secs(600);
/// Enough that the quota, not the clients, bounds the rate.
const CLIENTS: usize = 100;

/// Replies of 200–400 output tokens (mean 300) to ~60-token prompts.
fn model() -> ScriptedProvider {
    (0..4_000u32).fold(ScriptedProvider::new("m"), |p, i| {
        let output = 200 + (i * 37) % 201;
        p.then(
            LATENCY,
            Outcome::Respond(ChatResponse::text(
                "m".into(),
                "answer",
                Some(Usage::new(60, output)),
            )),
        )
    })
}

struct Run {
    answered: usize,
    tokens_settled: u64,
}

/// `CLIENTS` clients sending one request after another for `RUN`.
async fn run(config: LimiterConfig) -> Run {
    let limiter = Limiter::new(config.with_max_wait(RUN)).unwrap();
    let provider = model().layer(RateLimitLayer::new(limiter.clone()));
    let provider = std::sync::Arc::new(provider);
    let end = Instant::now() + RUN;
    let clients = (0..CLIENTS).map(|_| {
        let provider = std::sync::Arc::clone(&provider);
        tokio::spawn(async move {
            let mut answered = 0;
            while Instant::now() < end {
                let req = ChatRequest::user("Summarise the attached section in a paragraph.")
                    .with_max_tokens(MAX_TOKENS)
                    .with_deadline(end);
                if provider.complete(req).await.is_ok() && Instant::now() <= end {
                    answered += 1;
                }
            }
            answered
        })
    });
    // Spawned together, awaited after.
    let clients: Vec<_> = clients.collect();
    let mut answered = 0;
    for c in clients {
        answered += c.await.unwrap();
    }
    Run {
        answered,
        tokens_settled: limiter.stats().tokens_settled,
    }
}

fn quota() -> LimiterConfig {
    LimiterConfig::named("tpm").with_tokens(Quota::per_minute(TPM))
}

#[tokio::test(start_paused = true)]
async fn learned_reservations_admit_at_least_three_times_as_many_calls() {
    let reserve_max = run(quota()).await;
    let learned = run(quota().with_learned_output(LearnedOutputConfig::default())).await;
    let minutes = RUN.as_secs_f64() / 60.0;
    println!(
        "reserve max_tokens: {} answered ({:.1}/min); learned: {} answered ({:.1}/min); ratio {:.2}",
        reserve_max.answered,
        reserve_max.answered as f64 / minutes,
        learned.answered,
        learned.answered as f64 / minutes,
        learned.answered as f64 / reserve_max.answered as f64,
    );
    assert!(
        learned.answered >= 3 * reserve_max.answered,
        "learned {} vs reserve-max {}",
        learned.answered,
        reserve_max.answered
    );
    // The quota still holds: what was really used over the run stays
    // within the tokens the run's minutes allow (plus the first burst).
    for r in [&reserve_max, &learned] {
        assert!(
            r.tokens_settled as f64 <= TPM as f64 * (minutes + 1.0),
            "{} tokens in {minutes} min",
            r.tokens_settled
        );
    }
}
