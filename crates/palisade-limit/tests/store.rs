//! Limiters whose counting lives in a `LimitStore` (here the in-memory one,
//! standing in for Redis): shared quotas, leases returned on settle and drop.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::Priority;
use palisade_limit::{
    Cost, LimitError, LimitKind, LimitStore, Limiter, LimiterConfig, MemoryStore, Quota,
    Reservation, StoreLimits, TokenCounts,
};
use tokio::time::Instant;

fn shared(store: &MemoryStore, name: &str) -> Limiter {
    Limiter::with_store(
        LimiterConfig::named(name)
            .with_requests(Quota::per_minute(2))
            .with_tokens(Quota::per_minute(1_000))
            .with_max_concurrent(2),
        Arc::new(store.clone()),
        "account",
        Duration::from_secs(30),
    )
    .unwrap()
}

/// Lets the background lease returns run.
async fn settle_tasks() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn two_limiters_on_one_key_share_the_quota() {
    let store = MemoryStore::new();
    let (a, b) = (shared(&store, "a"), shared(&store, "b"));
    let p1 = a
        .acquire(Cost::tokens(300), Priority::Normal)
        .await
        .unwrap();
    let p2 = b
        .acquire(Cost::tokens(300), Priority::Normal)
        .await
        .unwrap();
    assert_eq!(store.leases("account"), 2);
    p1.settle_tokens(100);
    drop(p2);
    settle_tasks().await;
    assert_eq!(store.leases("account"), 0);
    assert_eq!(store.tokens_available("account"), Some(900));
    // The request quota (2 a minute) is shared too: the third waits 30 s.
    let start = Instant::now();
    let _p3 = a.acquire(Cost::tokens(10), Priority::Normal).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(30));
}

#[tokio::test(start_paused = true)]
async fn a_store_refusal_past_the_deadline_is_rate_limited() {
    let store = MemoryStore::new();
    let a = shared(&store, "a");
    let _p1 = a.acquire(Cost::tokens(10), Priority::Normal).await.unwrap();
    let _p2 = a.acquire(Cost::tokens(10), Priority::Normal).await.unwrap();
    let err = a
        .acquire_until(
            Cost::tokens(10),
            Priority::Normal,
            Some(Instant::now() + Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            LimitError::RateLimited {
                limit: LimitKind::Requests | LimitKind::Concurrency,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(a.stats().queued_now, 0);
}

#[tokio::test(start_paused = true)]
async fn expired_leases_free_their_slot() {
    let store = MemoryStore::new();
    let limits = StoreLimits {
        requests: None,
        tokens: None,
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: Some(1),
        rate_fraction: 1.0,
        lease_ttl: Duration::from_secs(10),
    };
    let first = store
        .try_reserve("k", &limits, TokenCounts::ZERO)
        .await
        .unwrap();
    assert!(matches!(first, Reservation::Admitted(_)));
    match store
        .try_reserve("k", &limits, TokenCounts::ZERO)
        .await
        .unwrap()
    {
        Reservation::NotBefore { retry_after, limit } => {
            assert_eq!(limit, LimitKind::Concurrency);
            assert_eq!(retry_after, Duration::from_secs(10));
        }
        other => panic!("{other:?}"),
    }
    tokio::time::advance(Duration::from_secs(10)).await;
    assert!(matches!(
        store
            .try_reserve("k", &limits, TokenCounts::ZERO)
            .await
            .unwrap(),
        Reservation::Admitted(_)
    ));
}

#[tokio::test(start_paused = true)]
async fn an_impossible_cost_fails_without_asking_the_store() {
    let store = MemoryStore::new();
    let a = shared(&store, "a");
    let err = a
        .acquire(Cost::tokens(1_001), Priority::Normal)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        LimitError::CostExceedsCapacity {
            capacity: 1_000,
            ..
        }
    ));
    assert_eq!(store.leases("account"), 0);
}

#[tokio::test(start_paused = true)]
async fn try_acquire_says_it_cannot_ask_a_store() {
    let store = MemoryStore::new();
    let err = shared(&store, "a")
        .try_acquire(Cost::request())
        .unwrap_err();
    assert!(
        matches!(
            err,
            LimitError::Store {
                source: palisade_limit::StoreError::Unsupported(_),
                ..
            }
        ),
        "{err:?}"
    );
}
