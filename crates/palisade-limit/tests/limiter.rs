//! Admission, settle, debt, the drop rule, waiting, cancellation, priorities
//! and fairness, all on paused tokio time.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use palisade_core::{Priority, Usage};
use palisade_limit::{Cost, DropRule, LimitError, LimitKind, Limiter, LimiterConfig, Quota};
use tokio::time::Instant;

fn limiter(config: LimiterConfig) -> Limiter {
    Limiter::new(config).unwrap()
}

#[tokio::test(start_paused = true)]
async fn admits_within_every_limit_and_refuses_beyond() {
    let l = limiter(
        LimiterConfig::named("m")
            .with_requests(Quota::per_minute(2))
            .with_tokens(Quota::per_minute(1_000))
            .with_max_concurrent(5),
    );
    let a = l.try_acquire(Cost::tokens(400)).unwrap();
    let b = l.try_acquire(Cost::tokens(400)).unwrap();
    let err = l.try_acquire(Cost::tokens(1)).unwrap_err();
    match err {
        LimitError::RateLimited {
            limit, retry_after, ..
        } => {
            assert_eq!(limit, LimitKind::Requests);
            assert_eq!(retry_after, Some(Duration::from_secs(30)));
        }
        other => panic!("unexpected {other:?}"),
    }
    drop((a, b));
    // Nothing was consumed by the refusal: the token budget is whole again
    // (dropping refunds by default) and the request quota frees in 30 s.
    let stats = l.stats();
    assert_eq!(stats.tokens_available, Some(1_000));
    assert_eq!(stats.admitted, 2);
    assert_eq!(stats.rejected, 1);
}

#[tokio::test(start_paused = true)]
async fn refusal_by_one_limit_consumes_nothing_from_the_others() {
    let l = limiter(
        LimiterConfig::default()
            .with_requests(Quota::per_minute(10))
            .with_tokens(Quota::per_minute(100)),
    );
    let _p = l.try_acquire(Cost::tokens(90)).unwrap();
    assert!(l.try_acquire(Cost::tokens(20)).is_err());
    assert_eq!(l.stats().requests_available, Some(9));
    assert_eq!(l.stats().tokens_available, Some(10));
}

#[tokio::test(start_paused = true)]
async fn cost_beyond_capacity_fails_at_once() {
    let l = limiter(LimiterConfig::default().with_tokens(Quota::per_minute(1_000)));
    let err = l
        .acquire(Cost::tokens(1_001), Priority::Normal)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LimitError::CostExceedsCapacity {
                cost: 1_001,
                capacity: 1_000,
                limit: LimitKind::Tokens,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("exceeds the whole tokens capacity of 1000")
    );
    let provider_error = palisade_core::ProviderError::from(err);
    assert_eq!(
        provider_error.kind(),
        palisade_core::ErrorKind::InvalidRequest
    );
    // The limiter refused it itself: breakers must not hold it against the provider.
    assert_eq!(provider_error.origin(), palisade_core::ErrorOrigin::Layer);
}

#[tokio::test(start_paused = true)]
async fn settle_refunds_unused_and_charges_overrun_as_debt() {
    let l = limiter(
        LimiterConfig::default()
            .with_tokens(Quota::per_minute(600))
            .with_max_wait(Duration::from_secs(120)),
    );
    let p = l.try_acquire(Cost::tokens(300)).unwrap();
    let s = p.settle_tokens(100);
    assert_eq!((s.refunded, s.debt), (200, 0));
    assert_eq!(l.stats().tokens_available, Some(500));

    let p = l.try_acquire(Cost::tokens(100)).unwrap();
    let s = p.settle_tokens(1_000);
    assert_eq!((s.refunded, s.debt), (0, 900));
    // 500 - 1000 = -500 tokens: even a zero-token request waits 50 s
    // (refill is 10 tokens a second).
    assert_eq!(l.stats().tokens_available, Some(-500));
    let err = l.try_acquire(Cost::request()).unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_secs(50)));
    let start = Instant::now();
    let _p = l.acquire(Cost::request(), Priority::Normal).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(50));
    let stats = l.stats();
    assert_eq!(stats.tokens_debt, 900);
    assert_eq!(stats.tokens_refunded, 200);
    assert_eq!(stats.tokens_settled, 1_100);
}

#[tokio::test(start_paused = true)]
async fn settle_prices_usage_with_the_reservations_burndown_and_every_reported_token() {
    let l = limiter(LimiterConfig::default().with_tokens(Quota::per_minute(10_000)));
    let p = l
        .try_acquire(Cost::input_and_output(1_000, 1_800, 5))
        .unwrap();
    assert_eq!(p.reserved_tokens(), 10_000);
    let usage = Usage {
        cache_read_tokens: 4_000,
        ..Usage::new(1_000, 200)
    };
    // The default cost model counts cache reads (a provider's own model may
    // not): 1,000 + 4,000 + 200 × 5.
    let s = p.settle(usage);
    assert_eq!(s.refunded, 10_000 - 6_000);
}

#[tokio::test(start_paused = true)]
async fn drop_rules() {
    for (rule, available) in [
        (DropRule::RefundAll, 1_000),
        (DropRule::KeepInput, 700),
        (DropRule::KeepAll, 500),
    ] {
        let l = limiter(
            LimiterConfig::default()
                .with_tokens(Quota::per_minute(1_000))
                .with_max_concurrent(1)
                .with_drop_rule(rule),
        );
        let p = l.try_acquire(Cost::input_and_output(300, 200, 1)).unwrap();
        assert_eq!(l.in_flight(), 1);
        drop(p);
        assert_eq!(l.in_flight(), 0, "{rule:?}");
        assert_eq!(l.stats().tokens_available, Some(available), "{rule:?}");
        assert_eq!(l.stats().dropped_unsettled, 1);
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_caller_releases_its_permit() {
    let l = limiter(LimiterConfig::default().with_max_concurrent(1));
    let l2 = l.clone();
    let task = tokio::spawn(async move {
        let _permit = l2.try_acquire(Cost::request()).unwrap();
        panic!("caller failed while holding a permit");
    });
    assert!(task.await.is_err());
    assert_eq!(l.in_flight(), 0);
    assert!(l.try_acquire(Cost::request()).is_ok());
}

#[tokio::test(start_paused = true)]
async fn waits_for_refill_then_admits() {
    let l = limiter(LimiterConfig::default().with_requests(Quota::per_second(1)));
    let _a = l.acquire(Cost::request(), Priority::Normal).await.unwrap();
    let start = Instant::now();
    let _b = l.acquire(Cost::request(), Priority::Normal).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(1));
    let stats = l.stats();
    assert_eq!(stats.admitted, 2);
    assert_eq!(stats.wait_histogram[0], 1);
    assert_eq!(stats.wait_histogram[4], 1, "one wait of (100 ms, 1 s]");
}

#[tokio::test(start_paused = true)]
async fn max_wait_and_deadline_turn_into_rate_limited() {
    let l = limiter(
        LimiterConfig::default()
            .with_max_concurrent(1)
            .with_max_wait(Duration::from_secs(5)),
    );
    let _held = l.try_acquire(Cost::request()).unwrap();
    let start = Instant::now();
    let err = l
        .acquire(Cost::request(), Priority::Normal)
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::from_secs(5));
    assert!(matches!(
        err,
        LimitError::RateLimited {
            limit: LimitKind::Concurrency,
            retry_after: None,
            ..
        }
    ));
    let deadline = Instant::now() + Duration::from_secs(2);
    let err = l
        .acquire_until(Cost::request(), Priority::Normal, Some(deadline))
        .await
        .unwrap_err();
    assert_eq!(Instant::now(), deadline);
    assert_eq!(err.kind(), palisade_core::ErrorKind::Throttled);
    let stats = l.stats();
    assert_eq!((stats.timed_out, stats.queued_now), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_request_that_cannot_make_its_deadline_fails_at_once() {
    let l = limiter(LimiterConfig::default().with_requests(Quota::per_minute(1)));
    let _a = l.try_acquire(Cost::request()).unwrap();
    let start = Instant::now();
    let err = l
        .acquire_until(
            Cost::request(),
            Priority::Normal,
            Some(start + Duration::from_secs(10)),
        )
        .await
        .unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(60)));
}

#[tokio::test(start_paused = true)]
async fn try_acquire_never_jumps_the_queue() {
    let l = limiter(LimiterConfig::default().with_max_concurrent(1));
    let held = l.try_acquire(Cost::request()).unwrap();
    let mut waiter = pin!(l.acquire(Cost::request(), Priority::Low));
    assert!(poll_once(waiter.as_mut()).is_pending());
    drop(held);
    // The waiter was granted the slot; try_acquire must not take it.
    let err = l.try_acquire(Cost::request()).unwrap_err();
    assert!(matches!(err, LimitError::RateLimited { .. }), "{err:?}");
    assert!(matches!(poll_once(waiter.as_mut()), Poll::Ready(Ok(_))));
}

#[tokio::test(start_paused = true)]
async fn cancelling_a_waiter_leaves_no_trace() {
    let l = limiter(
        LimiterConfig::default()
            .with_tokens(Quota::per_minute(100))
            .with_max_concurrent(1),
    );
    let held = l.try_acquire(Cost::tokens(10)).unwrap();
    {
        // Cancelled while waiting.
        let mut w = Box::pin(l.acquire(Cost::tokens(50), Priority::Normal));
        assert!(poll_once(w.as_mut()).is_pending());
        assert_eq!(l.stats().queued_now, 1);
    }
    assert_eq!(l.stats().queued_now, 0);
    {
        // Cancelled after being granted but before noticing.
        let mut w = Box::pin(l.acquire(Cost::tokens(50), Priority::Normal));
        assert!(poll_once(w.as_mut()).is_pending());
        drop(held);
        assert_eq!(l.in_flight(), 1, "granted to the waiter");
    }
    let stats = l.stats();
    assert_eq!(stats.in_flight, 0);
    assert_eq!(stats.queued_now, 0);
    assert_eq!(stats.tokens_available, Some(100));
    assert_eq!(stats.cancelled_waits, 2);
    assert_eq!(stats.admitted, 1);
}

#[tokio::test(start_paused = true)]
async fn high_priority_queued_after_100_low_goes_first() {
    let l = limiter(
        LimiterConfig::default()
            .with_max_concurrent(1)
            .with_max_wait(Duration::from_secs(3600)),
    );
    let held = l.try_acquire(Cost::request()).unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..101 {
        let priority = if i == 100 {
            Priority::High
        } else {
            Priority::Low
        };
        let (l, order) = (l.clone(), Arc::clone(&order));
        tasks.push(tokio::spawn(async move {
            let _p = l.acquire(Cost::request(), priority).await.unwrap();
            order.lock().unwrap().push(i);
        }));
        tokio::task::yield_now().await;
    }
    assert_eq!(l.stats().queued_now, 101);
    drop(held);
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().unwrap();
    assert_eq!(order[0], 100, "the High request first");
    assert_eq!(order[1..], (0..100).collect::<Vec<_>>()[..], "then FIFO");
}

#[tokio::test(start_paused = true)]
async fn a_large_request_is_not_starved_by_small_ones() {
    // 600 tokens a minute = 10 a second; small requests of 10 tokens arrive
    // every 500 ms (twice the refill rate); a request for the whole budget
    // arrives after 5 s. Head-of-line admission makes the small ones queue
    // behind it, so it gets in once the bucket has refilled.
    let l = limiter(
        LimiterConfig::default()
            .with_tokens(Quota::per_minute(600))
            .with_max_wait(Duration::from_secs(3600)),
    );
    let start = Instant::now();
    let admitted_large = Arc::new(Mutex::new(None));
    let mut tasks = Vec::new();
    for i in 0..240u64 {
        let l = l.clone();
        let at = start + Duration::from_millis(500 * i);
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            let p = l.acquire(Cost::tokens(10), Priority::Normal).await.unwrap();
            p.settle_tokens(10);
        }));
    }
    {
        let (l, slot) = (l.clone(), Arc::clone(&admitted_large));
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start + Duration::from_secs(5)).await;
            let p = l
                .acquire(Cost::tokens(600), Priority::Normal)
                .await
                .unwrap();
            *slot.lock().unwrap() = Some(Instant::now());
            p.settle_tokens(600);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let admitted = admitted_large.lock().unwrap().unwrap();
    // Bounded by one refill of the whole bucket after it arrived.
    assert!(
        admitted - start <= Duration::from_secs(5 + 60),
        "{:?}",
        admitted - start
    );
}

#[tokio::test(start_paused = true)]
async fn aging_lets_low_priority_through_sustained_high_load() {
    let l = limiter(
        LimiterConfig::default()
            .with_requests(Quota::per_second(1).with_burst(1))
            .with_max_wait(Duration::from_secs(3600)),
    );
    let low_done = Arc::new(Mutex::new(None));
    let start = Instant::now();
    let mut tasks = Vec::new();
    {
        let (l, slot) = (l.clone(), Arc::clone(&low_done));
        tasks.push(tokio::spawn(async move {
            let _p = l.acquire(Cost::request(), Priority::Low).await.unwrap();
            *slot.lock().unwrap() = Some(Instant::now());
        }));
    }
    // Two High requests a second, twice what the limit admits.
    for i in 0..200u64 {
        let l = l.clone();
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep_until(start + Duration::from_millis(500 * i)).await;
            let _p = l.acquire(Cost::request(), Priority::High).await;
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let done = low_done.lock().unwrap().unwrap();
    // Low is promoted one rank per 10 s waited: level with High after 20 s,
    // then served ahead of younger High requests.
    assert!(
        done - start <= Duration::from_secs(25),
        "{:?}",
        done - start
    );
}

/// Counts wake-ups per waiter.
struct CountingWaker(AtomicUsize);
impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(start_paused = true)]
async fn a_release_wakes_only_the_waiter_it_admits() {
    let l = limiter(LimiterConfig::default().with_max_concurrent(1));
    let held = l.try_acquire(Cost::request()).unwrap();
    let counters: Vec<Arc<CountingWaker>> = (0..50)
        .map(|_| Arc::new(CountingWaker(AtomicUsize::new(0))))
        .collect();
    let mut waiters: Vec<_> = (0..50)
        .map(|_| Box::pin(l.acquire(Cost::request(), Priority::Normal)))
        .collect();
    for (w, c) in waiters.iter_mut().zip(&counters) {
        let waker = Waker::from(Arc::clone(c));
        assert!(
            w.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    }
    drop(held);
    let woken: Vec<usize> = counters
        .iter()
        .map(|c| c.0.load(Ordering::SeqCst))
        .collect();
    assert_eq!(woken[0], 1);
    assert_eq!(woken.iter().sum::<usize>(), 1, "{woken:?}");
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// A requests-only limiter gives nothing back when a permit finishes, so it
/// finishes permits without its lock; the settle and drop counters must count
/// them all the same (issue #21, problem 12).
#[tokio::test(start_paused = true)]
async fn a_requests_only_limiter_counts_settles_and_drops() {
    let l = limiter(LimiterConfig::named("rpm").with_requests(Quota::per_minute(10)));
    let settled = l.try_acquire(Cost::tokens(100)).unwrap();
    settled.settle_tokens(40);
    drop(l.try_acquire(Cost::tokens(100)).unwrap());
    let by_ref = l.try_acquire_ref(Cost::tokens(50)).unwrap();
    by_ref.settle_tokens(70);
    drop(l.try_acquire_ref(Cost::tokens(10)).unwrap());

    let stats = l.stats();
    assert_eq!(stats.admitted, 4);
    assert_eq!(stats.settled, 2, "{stats:?}");
    assert_eq!(stats.dropped_unsettled, 2, "{stats:?}");
    assert_eq!(stats.tokens_settled, 40 + 70, "{stats:?}");
    // The first settle leaves 60 of its 100 unused; drops refund everything
    // by default (100 and 10); the overrun of the second settle is no refund.
    assert_eq!(stats.tokens_refunded, 60 + 100 + 10, "{stats:?}");
    assert_eq!(stats.requests_available, Some(6));
}
