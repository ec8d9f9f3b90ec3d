//! `Limiter::expected_wait`: the answer matches what admission then does,
//! for every dimension, the queue ahead and a concurrency cap, and asking
//! changes nothing.

use std::time::Duration;

use palisade_core::Priority;
use palisade_limit::{Cost, Limiter, LimiterConfig, Quota, TokenCounts};
use tokio::time::Instant;

fn limiter(config: LimiterConfig) -> Limiter {
    Limiter::new(config.with_max_wait(Duration::from_secs(3600))).unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_expected_wait_is_when_admission_happens() {
    // 6 requests a minute, burst 1: one every 10 s.
    let l = limiter(LimiterConfig::default().with_requests(Quota::per_minute(6).with_burst(1)));
    let _first = l.try_acquire(Cost::request()).unwrap();
    let expected = l.expected_wait(Cost::request(), Priority::Normal);
    assert_eq!(expected.wait, Duration::from_secs(10));
    assert_eq!(expected.reason, Some("requests"));
    let start = Instant::now();
    let _second = l.acquire(Cost::request(), Priority::Normal).await.unwrap();
    assert_eq!(start.elapsed(), expected.wait);
}

#[tokio::test(start_paused = true)]
async fn asking_consumes_nothing() {
    let l = limiter(LimiterConfig::default().with_requests(Quota::per_minute(6).with_burst(1)));
    for _ in 0..100 {
        assert!(l.expected_wait(Cost::request(), Priority::Normal).is_now());
    }
    assert!(l.try_acquire(Cost::request()).is_ok());
    assert_eq!(l.stats().admitted, 1);
}

#[tokio::test(start_paused = true)]
async fn the_queue_ahead_counts_by_priority() {
    let l = limiter(LimiterConfig::default().with_requests(Quota::per_minute(6).with_burst(1)));
    let _held = l.try_acquire(Cost::request()).unwrap();
    // Two normal requests queue (at 10 s and 20 s).
    let a = tokio::spawn({
        let l = l.clone();
        async move { l.acquire(Cost::request(), Priority::Normal).await }
    });
    let b = tokio::spawn({
        let l = l.clone();
        async move { l.acquire(Cost::request(), Priority::Normal).await }
    });
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    assert_eq!(l.stats().queued_now, 2);
    // A third normal one comes after both; a high one before them.
    assert_eq!(
        l.expected_wait(Cost::request(), Priority::Normal).wait,
        Duration::from_secs(30)
    );
    assert_eq!(
        l.expected_wait(Cost::request(), Priority::High).wait,
        Duration::from_secs(10)
    );
    let start = Instant::now();
    let _c = l.acquire(Cost::request(), Priority::Normal).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    drop(a.await.unwrap().unwrap());
    drop(b.await.unwrap().unwrap());
}

#[tokio::test(start_paused = true)]
async fn every_token_dimension_and_debt_are_in_the_schedule() {
    // 600 output tokens a minute, burst 100: 10 a second.
    let l = limiter(
        LimiterConfig::default()
            .with_tokens(Quota::per_minute(60_000))
            .with_output_tokens(Quota::per_minute(600).with_burst(100)),
    );
    let cost = Cost::input_and_output(10, 100, 1);
    let permit = l.try_acquire(cost).unwrap();
    let expected = l.expected_wait(cost, Priority::Normal);
    assert_eq!(expected.reason, Some("output_tokens"));
    assert_eq!(expected.wait, Duration::from_secs(10));
    // 100 output tokens more than reserved: debt, another 10 s.
    permit.settle_counts(TokenCounts {
        tokens: 210,
        input: 10,
        output: 200,
    });
    let expected = l.expected_wait(cost, Priority::Normal);
    assert_eq!(expected.wait, Duration::from_secs(20));
    let start = Instant::now();
    let _next = l.acquire(cost, Priority::Normal).await.unwrap();
    assert_eq!(start.elapsed(), expected.wait);
}

#[tokio::test(start_paused = true)]
async fn a_concurrency_cap_answers_in_rounds_and_an_impossible_cost_never() {
    let l = limiter(
        LimiterConfig::default()
            .with_max_concurrent(2)
            .with_tokens(Quota::per_minute(1_000).with_burst(500)),
    );
    let _a = l.try_acquire(Cost::tokens(1)).unwrap();
    assert!(l.expected_wait(Cost::tokens(1), Priority::Normal).is_now());
    let _b = l.try_acquire(Cost::tokens(1)).unwrap();
    let expected = l.expected_wait(Cost::tokens(1), Priority::Normal);
    assert_eq!((expected.rounds, expected.reason), (1, Some("concurrency")));
    assert_eq!(
        expected.total(Duration::from_secs(3)),
        Duration::from_secs(3)
    );
    let never = l.expected_wait(Cost::tokens(501), Priority::Normal);
    assert!(never.never, "{never:?}");
    assert_eq!(never.reason, Some("tokens"));
}
