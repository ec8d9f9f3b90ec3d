//! Retry: attempts, delays (asserted in virtual time), Retry-After, kinds,
//! time limits, the retry budget, streams.

use std::time::Duration;

use futures_util::StreamExt;
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt};
use palisade_stack::retry::RetryBudgetConfig;
use palisade_stack::{Backoff, RetryLayer, RetryPolicy};
use tokio::time::Instant;

fn exact(max_attempts: u32, base: Duration, cap: Duration) -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(max_attempts)
        .with_backoff(Backoff::exponential(base, cap))
        .with_max_total_time(None)
        .with_budget(RetryBudgetConfig {
            enabled: false,
            ..RetryBudgetConfig::default()
        })
}

fn internal() -> ProviderError {
    ProviderError::new(ErrorKind::Internal, "boom")
}

fn offsets(p: &ScriptedProvider, start: Instant) -> Vec<Duration> {
    p.calls().iter().map(|c| c.at - start).collect()
}

#[tokio::test(start_paused = true)]
async fn attempts_and_delays_follow_the_policy() {
    let p = ScriptedProvider::new("m")
        .then_errors(3, &internal())
        .then_text("done");
    let retry = p.clone().layer(RetryLayer::new(exact(
        4,
        Duration::from_secs(1),
        Duration::from_secs(3),
    )));
    let start = Instant::now();
    let answer = retry.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.text_content(), "done");
    // Delays 1 s, 2 s, then 4 s capped to 3 s.
    let secs = |s: u64| Duration::from_secs(s);
    assert_eq!(offsets(&p, start), [secs(0), secs(1), secs(3), secs(6)]);
    assert_eq!(start.elapsed(), secs(6));
    assert_eq!(retry.stats().retries, 3);
}

#[tokio::test(start_paused = true)]
async fn stops_after_max_attempts_with_the_last_error() {
    let p = ScriptedProvider::new("m").then_errors(10, &internal());
    let retry = p.clone().layer(RetryLayer::new(exact(
        3,
        Duration::from_millis(100),
        Duration::from_secs(1),
    )));
    let start = Instant::now();
    let err = retry.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert_eq!(p.call_count(), 3);
    assert_eq!(start.elapsed(), Duration::from_millis(300));
    assert_eq!(retry.stats().exhausted, 1);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_never_undercut() {
    let p = ScriptedProvider::new("m")
        .then_error(ProviderError::throttled(
            "slow down",
            Some(Duration::from_secs(7)),
        ))
        .then_text("ok");
    let retry = p.clone().layer(RetryLayer::new(exact(
        3,
        Duration::from_secs(1),
        Duration::from_secs(60),
    )));
    let start = Instant::now();
    retry.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(offsets(&p, start), [Duration::ZERO, Duration::from_secs(7)]);
}

#[tokio::test(start_paused = true)]
async fn jittered_delays_stay_within_the_policy_and_above_retry_after() {
    for jitter in [
        palisade_stack::Jitter::Full,
        palisade_stack::Jitter::Equal,
        palisade_stack::Jitter::Decorrelated,
        palisade_stack::Jitter::Additive,
    ] {
        let p = ScriptedProvider::new("m")
            .then_error(internal())
            .then_error(ProviderError::throttled(
                "wait",
                Some(Duration::from_secs(5)),
            ))
            .then_text("ok");
        let policy = exact(3, Duration::from_secs(2), Duration::from_secs(4));
        let policy = policy
            .clone()
            .with_backoff(policy.backoff.with_jitter(jitter));
        let max_delay = policy.backoff.max_delay();
        let retry = p.clone().layer(RetryLayer::new(policy));
        let start = Instant::now();
        retry.complete(ChatRequest::user("hi")).await.unwrap();
        let at = offsets(&p, start);
        let first = at[1];
        let second = at[2] - at[1];
        assert!(first <= max_delay, "{jitter:?}: first delay {first:?}");
        assert!(
            second >= Duration::from_secs(5),
            "{jitter:?}: retry-after undercut: {second:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn non_retryable_kinds_are_not_retried() {
    for kind in [
        ErrorKind::InvalidRequest,
        ErrorKind::ContextWindowExceeded,
        ErrorKind::ContentFiltered,
        ErrorKind::Auth,
        ErrorKind::QuotaExhausted,
    ] {
        let p = ScriptedProvider::new("m").then_error(ProviderError::new(kind, "no"));
        let retry = p.clone().layer(RetryLayer::new(exact(
            5,
            Duration::from_secs(1),
            Duration::from_secs(1),
        )));
        let err = retry.complete(ChatRequest::user("hi")).await.unwrap_err();
        assert_eq!(err.kind(), kind);
        assert_eq!(p.call_count(), 1, "{kind} must not be retried");
    }
}

#[tokio::test(start_paused = true)]
async fn no_retry_past_max_total_time_or_deadline() {
    let throttled = ProviderError::throttled("wait", Some(Duration::from_secs(30)));
    let p = ScriptedProvider::new("m").then_error(throttled.clone());
    let policy = exact(5, Duration::from_secs(1), Duration::from_secs(1))
        .with_max_total_time(Some(Duration::from_secs(10)));
    let retry = p.clone().layer(RetryLayer::new(policy));
    let start = Instant::now();
    let err = retry.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(p.call_count(), 1);
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "gave up at once instead of waiting"
    );

    let p = ScriptedProvider::new("m").then_error(throttled);
    let retry = p.clone().layer(RetryLayer::new(exact(
        5,
        Duration::from_secs(1),
        Duration::from_secs(1),
    )));
    let req = ChatRequest::user("hi").with_timeout(Duration::from_secs(20));
    retry.complete(req).await.unwrap_err();
    assert_eq!(p.call_count(), 1);
    assert_eq!(retry.stats().out_of_time, 1);
}

#[tokio::test(start_paused = true)]
async fn the_budget_stops_a_retry_storm() {
    let p = ScriptedProvider::new("m").otherwise(Duration::ZERO, Outcome::Fail(internal()));
    let policy = exact(3, Duration::ZERO, Duration::ZERO).with_budget(RetryBudgetConfig {
        enabled: true,
        ratio: 0.1,
        min_retries: 10,
        window: Duration::from_secs(10),
    });
    let retry = p.clone().layer(RetryLayer::new(policy));
    for _ in 0..1000 {
        retry.complete(ChatRequest::user("hi")).await.unwrap_err();
    }
    let stats = retry.stats();
    let budget = 10 + 1000 / 10;
    assert!(
        stats.retries <= budget,
        "{} retries, budget {budget}",
        stats.retries
    );
    assert!(
        stats.retries >= budget - 1,
        "the budget was used: {}",
        stats.retries
    );
    assert_eq!(p.call_count() as u64, 1000 + stats.retries);
    assert!(stats.budget_exhausted > 0);
}

#[tokio::test(start_paused = true)]
async fn streams_retry_only_before_the_first_event() {
    // Fails on open: retried.
    let p = ScriptedProvider::new("m")
        .then_error(internal())
        .then_text("hello");
    let retry = p.clone().layer(RetryLayer::new(exact(
        3,
        Duration::from_millis(10),
        Duration::from_secs(1),
    )));
    let stream = retry.stream(ChatRequest::user("hi")).await.unwrap();
    let answer = palisade_core::collect_stream(stream).await.unwrap();
    assert_eq!(answer.text_content(), "hello");
    assert_eq!(p.call_count(), 2);

    // Fails after an event: the error reaches the caller, no retry.
    let p = ScriptedProvider::new("m").then(
        Duration::ZERO,
        Outcome::FailMidStream("partial".into(), internal()),
    );
    let retry = p.clone().layer(RetryLayer::new(exact(
        3,
        Duration::from_millis(10),
        Duration::from_secs(1),
    )));
    let mut stream = retry.stream(ChatRequest::user("hi")).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok());
    assert_eq!(
        stream.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::Internal
    );
    assert_eq!(p.call_count(), 1);
}

mod properties {
    use super::*;
    use palisade_stack::Jitter;
    use proptest::prelude::*;

    /// The resolution of tokio's timer wheel.
    const TIMER_TICK: Duration = Duration::from_millis(1);

    fn any_jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
            Just(Jitter::Additive),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Whatever the backoff, a retry never comes sooner than the
        /// Retry-After of the error before it, and never later than the larger
        /// of that and the policy's longest delay.
        #[test]
        fn a_retry_never_undercuts_retry_after(
            retry_after_ms in proptest::collection::vec(proptest::option::of(0u64..5_000), 1..5),
            base_ms in 1u64..2_000,
            cap_ms in 1u64..10_000,
            jitter in any_jitter(),
            seed in any::<u64>(),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            rt.block_on(async {
                let mut p = ScriptedProvider::new("m");
                for ra in &retry_after_ms {
                    let error = ProviderError::new(ErrorKind::Overloaded, "busy")
                        .with_retry_after(ra.map(Duration::from_millis));
                    p = p.then_error(error);
                }
                let p = p.then_text("ok");
                let backoff = Backoff::exponential(Duration::from_millis(base_ms), Duration::from_millis(cap_ms))
                    .with_jitter(jitter);
                let max_delay = backoff.max_delay();
                let policy = exact(10, Duration::ZERO, Duration::ZERO).with_backoff(backoff);
                // Seeded, so a failure found here replays from its regression seed.
                let retry = p.clone().layer(RetryLayer::seeded(policy, seed));
                let start = Instant::now();
                retry.complete(ChatRequest::user("hi")).await.unwrap();
                let at = offsets(&p, start);
                prop_assert_eq!(at.len(), retry_after_ms.len() + 1);
                for (i, ra) in retry_after_ms.iter().enumerate() {
                    let gap = at[i + 1] - at[i];
                    let floor = Duration::from_millis(ra.unwrap_or(0));
                    prop_assert!(gap >= floor, "retry {} after {:?}, Retry-After {:?}", i + 1, gap, floor);
                    // Tokio's timer fires on whole milliseconds, rounding a
                    // deadline up, so a 70.4 ms delay is observed as 71 ms.
                    let ceiling = floor.max(max_delay) + TIMER_TICK;
                    prop_assert!(gap <= ceiling, "retry {} after {:?}, ceiling {:?}", i + 1, gap, ceiling);
                }
                Ok(())
            })?;
        }
    }
}
