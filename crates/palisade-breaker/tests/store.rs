//! Sharing decisions between instances through a `BreakerStore`
//! (`InMemoryStore`: the reference semantics for `palisade-redis`).

use std::sync::Arc;
use std::time::Duration;

use palisade_breaker::store::{BreakerStore, ProbeGrant, Transition};
use palisade_breaker::{
    BreakerConfig, BreakerState, CircuitBreaker, Growth, InMemoryStore, OpenDuration, Outcome,
};
use palisade_core::{ErrorKind, ProviderId};
use tokio::time::advance;

const FAIL: Outcome = Outcome::Failure {
    kind: ErrorKind::Overloaded,
    retry_after: None,
};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn instance(store: &Arc<InMemoryStore>) -> CircuitBreaker {
    let mut config = BreakerConfig {
        consecutive_failures: Some(1),
        open_duration: OpenDuration {
            base: secs(10),
            growth: Growth::Linear,
            max: None,
            jitter: 0.0,
        },
        ..BreakerConfig::default()
    };
    config.half_open.max_probes = 1;
    CircuitBreaker::builder("model-a")
        .config(config)
        .store(store.clone())
        .build()
        .unwrap()
}

/// Lets spawned publications run.
async fn settle() {
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_trip_on_one_instance_opens_the_others_after_a_sync() {
    let store = Arc::new(InMemoryStore::new());
    let (a, b) = (instance(&store), instance(&store));
    a.try_acquire().unwrap().record(FAIL);
    settle().await;
    let shared = store.load(&"model-a".into()).await.unwrap().unwrap();
    assert_eq!(shared.state, BreakerState::Open);
    assert_eq!(shared.retry_after, Some(secs(10)));

    assert_eq!(
        b.state(),
        BreakerState::Closed,
        "the fast path never asks the store"
    );
    b.sync_from_store().await.unwrap();
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, secs(10));
}

#[tokio::test(start_paused = true)]
async fn probe_slots_are_fleet_wide_and_a_close_reaches_everyone() {
    let store = Arc::new(InMemoryStore::new());
    let (a, b) = (instance(&store), instance(&store));
    a.try_acquire().unwrap().record(FAIL);
    settle().await;
    b.sync_from_store().await.unwrap();
    advance(secs(10)).await;

    let probe = a.acquire().await.unwrap();
    assert!(probe.is_probe());
    // b's local state would admit a probe, but the fleet's only slot is taken.
    let refused = b.acquire().await.unwrap_err();
    assert_eq!(refused.state, BreakerState::HalfOpen);
    assert_eq!(
        b.state(),
        BreakerState::HalfOpen,
        "its local slot was returned"
    );

    probe.record_success();
    settle().await;
    assert_eq!(a.state(), BreakerState::Closed);
    // b learns of the close from its next probe request and calls normally.
    let permit = b.acquire().await.unwrap();
    assert!(!permit.is_probe());
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_reset_or_isolation_reaches_the_fleet() {
    let store = Arc::new(InMemoryStore::new());
    let (a, b) = (instance(&store), instance(&store));
    a.isolate();
    settle().await;
    b.sync_from_store().await.unwrap();
    assert_eq!(b.state(), BreakerState::Isolated);
    a.reset();
    settle().await;
    b.sync_from_store().await.unwrap();
    assert_eq!(b.state(), BreakerState::Closed);
}

#[tokio::test(start_paused = true)]
async fn in_memory_store_semantics() {
    let store = InMemoryStore::new();
    let key = ProviderId::new("k");
    assert_eq!(store.load(&key).await.unwrap(), None);
    let open = |s| Transition::Open {
        open_for: secs(s),
        consecutive_opens: 1,
    };
    store.apply(&key, open(30)).await.unwrap();
    // A shorter opening keeps the later deadline.
    let shared = store.apply(&key, open(5)).await.unwrap();
    assert_eq!(shared.retry_after, Some(secs(30)));
    assert_eq!(
        store.try_acquire_probe(&key, 2, secs(60)).await.unwrap(),
        ProbeGrant::Open {
            retry_after: secs(30)
        }
    );
    advance(secs(30)).await;
    let probe = || store.try_acquire_probe(&key, 2, secs(60));
    assert_eq!(probe().await.unwrap(), ProbeGrant::Granted);
    assert_eq!(probe().await.unwrap(), ProbeGrant::Granted);
    assert_eq!(probe().await.unwrap(), ProbeGrant::Busy);
    store.release_probe(&key).await.unwrap();
    assert_eq!(probe().await.unwrap(), ProbeGrant::Granted);
    // Leases of crashed holders expire.
    advance(secs(60)).await;
    let shared = store.load(&key).await.unwrap().unwrap();
    assert_eq!(shared.state, BreakerState::HalfOpen);
    assert_eq!(probe().await.unwrap(), ProbeGrant::Granted);
    store.apply(&key, Transition::Close).await.unwrap();
    assert_eq!(probe().await.unwrap(), ProbeGrant::Closed);
    store.apply(&key, Transition::Isolate).await.unwrap();
    assert_eq!(probe().await.unwrap(), ProbeGrant::Isolated);
    // Isolation is only lifted by a reset.
    store.apply(&key, Transition::Close).await.unwrap();
    assert_eq!(probe().await.unwrap(), ProbeGrant::Isolated);
    store.apply(&key, Transition::Reset).await.unwrap();
    assert_eq!(probe().await.unwrap(), ProbeGrant::Closed);
}

#[tokio::test(start_paused = true)]
async fn the_sync_task_follows_the_store_and_stops_with_the_breaker() {
    let store = Arc::new(InMemoryStore::new());
    let a = instance(&store);
    let b = instance(&store);
    let task = b.spawn_store_sync(secs(1)).unwrap();
    a.try_acquire().unwrap().record(FAIL);
    advance(secs(1)).await;
    settle().await;
    assert_eq!(b.state(), BreakerState::Open);
    drop(b);
    advance(secs(2)).await;
    settle().await;
    assert!(task.is_finished());
}
