//! Hedging: a slow first candidate gets company after the delay; the winner's
//! answer is returned and the loser is cancelled.

use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{AttemptOutcome, ChatRequest, Provider, SkipReason};
use palisade_stack::{Candidate, Fallback, FallbackConfig, HedgeConfig};
use tokio::time::Instant;

fn hedged(candidates: impl IntoIterator<Item = Candidate>, delay: Duration) -> Fallback {
    Fallback::new(candidates).with_config(FallbackConfig {
        hedge: Some(HedgeConfig::after(delay)),
        ..FallbackConfig::default()
    })
}

#[tokio::test(start_paused = true)]
async fn the_slow_primary_is_cancelled_when_the_hedge_wins() {
    let primary =
        ScriptedProvider::new("primary").otherwise(Duration::from_secs(10), Outcome::Echo);
    let secondary =
        ScriptedProvider::new("secondary").otherwise(Duration::from_millis(500), Outcome::Echo);
    let fallback = hedged(
        [
            Candidate::new(primary.clone()),
            Candidate::new(secondary.clone()),
        ],
        Duration::from_secs(1),
    );

    let start = Instant::now();
    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "secondary");
    assert_eq!(start.elapsed(), Duration::from_millis(1500));
    assert_eq!(secondary.calls()[0].at - start, Duration::from_secs(1));
    // The loser was dropped mid-call: cancelled, nothing left in flight.
    assert_eq!(primary.cancelled(), 1);
    assert_eq!(primary.in_flight(), 0);
    assert_eq!(fallback.candidates()[0].in_flight(), 0);
    assert_eq!(answer.attempts.len(), 2);
    assert_eq!(answer.attempts[0].provider.as_str(), "primary");
    assert_eq!(
        answer.attempts[0].outcome,
        AttemptOutcome::Skipped(SkipReason::HedgeLost)
    );
    assert_eq!(answer.attempts[0].elapsed, Duration::from_millis(1500));
    assert_eq!(answer.attempts[1].outcome, AttemptOutcome::Succeeded);
    let stats = fallback.stats();
    assert_eq!((stats[0].hedges_lost, stats[1].hedges), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_fast_primary_is_not_hedged() {
    let primary =
        ScriptedProvider::new("primary").otherwise(Duration::from_millis(200), Outcome::Echo);
    let secondary = ScriptedProvider::new("secondary");
    let fallback = hedged(
        [
            Candidate::new(primary.clone()),
            Candidate::new(secondary.clone()),
        ],
        Duration::from_secs(1),
    );
    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "primary");
    assert_eq!(secondary.call_count(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_failed_hedge_leaves_the_primary_running() {
    let primary = ScriptedProvider::new("primary").otherwise(Duration::from_secs(3), Outcome::Echo);
    let secondary = ScriptedProvider::new("secondary").then_error(
        palisade_core::ProviderError::new(palisade_core::ErrorKind::Internal, "500"),
    );
    let fallback = hedged(
        [
            Candidate::new(primary.clone()),
            Candidate::new(secondary.clone()),
        ],
        Duration::from_secs(1),
    );
    let start = Instant::now();
    let answer = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.served_by.as_str(), "primary");
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(primary.cancelled(), 0);
}

#[tokio::test(start_paused = true)]
async fn the_losers_limiter_permit_is_back() {
    use palisade_core::ProviderExt;
    use palisade_limit::{Limiter, LimiterConfig, RateLimitLayer};

    let limiter = Limiter::new(LimiterConfig::named("primary").with_max_concurrent(1)).unwrap();
    let primary =
        ScriptedProvider::new("primary").otherwise(Duration::from_secs(10), Outcome::Echo);
    let secondary =
        ScriptedProvider::new("secondary").otherwise(Duration::from_millis(100), Outcome::Echo);
    let limited = primary.clone().layer(RateLimitLayer::new(limiter.clone()));
    let fallback = hedged(
        [Candidate::new(limited), Candidate::new(secondary)],
        Duration::from_secs(1),
    );
    fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(primary.cancelled(), 1);
    assert_eq!(
        limiter.in_flight(),
        0,
        "the cancelled call released its permit"
    );
    // The primary takes calls again at once.
    let answer = fallback.complete(ChatRequest::user("again")).await;
    assert!(answer.is_ok());
}
