//! `RedisBreakerStore` against a real redis-server: a trip on one instance
//! opens the circuit on another, half-open probes are limited fleet-wide, a
//! crashed prober's slot comes back, and an unreachable Redis leaves the
//! breakers working on local state.

use std::sync::Arc;
use std::time::Duration;

use palisade_breaker::store::{ProbeGrant, Transition};
use palisade_breaker::{
    BreakerConfig, BreakerState, BreakerStore, CircuitBreaker, ISOLATED_RETRY_AFTER, Outcome,
};
use palisade_core::{ErrorKind, ProviderId};
use palisade_redis::testing::RedisServer;
use palisade_redis::{RedisBreakerStore, RedisConfig, RedisConnection};

const HOUR: Duration = Duration::from_secs(3600);

async fn store(server: &RedisServer) -> RedisBreakerStore {
    let config = RedisConfig {
        command_timeout: Duration::from_millis(300),
        retry_interval: Duration::from_millis(100),
        ..RedisConfig::with_url(server.url())
    };
    RedisBreakerStore::new(RedisConnection::connect(config).await.unwrap())
}

fn breaker(store: RedisBreakerStore) -> CircuitBreaker {
    let mut config = BreakerConfig {
        consecutive_failures: Some(3),
        ..BreakerConfig::default()
    };
    config.open_duration.base = Duration::from_secs(300);
    config.open_duration.jitter = 0.0;
    CircuitBreaker::builder("bedrock/model-x")
        .config(config)
        .store(Arc::new(store))
        .build()
        .unwrap()
}

fn failure() -> Outcome {
    Outcome::Failure {
        kind: ErrorKind::Unavailable,
        retry_after: None,
    }
}

#[tokio::test]
async fn a_breaker_opened_by_one_instance_is_open_for_another() {
    let Some(server) = RedisServer::start_or_skip("a_breaker_opened_by_one_instance") else {
        return;
    };
    let (store_a, store_b) = (store(&server).await, store(&server).await);
    let probe = store_a.clone();
    let a = breaker(store_a);
    let b = breaker(store_b);

    for _ in 0..3 {
        a.acquire().await.unwrap().record(failure());
    }
    assert_eq!(a.state(), BreakerState::Open);
    // The trip is published in the background; wait for it (bounded).
    let id = ProviderId::new("bedrock/model-x");
    let mut published = None;
    for _ in 0..200 {
        published = probe.load(&id).await.unwrap();
        if published.is_some_and(|s| s.state == BreakerState::Open) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let shared = published.unwrap();
    assert_eq!(shared.state, BreakerState::Open);
    assert!(
        shared
            .retry_after
            .is_some_and(|r| r > Duration::from_secs(60))
    );

    // B never saw a failure; one sync and it refuses calls too.
    assert_eq!(b.state(), BreakerState::Closed);
    b.sync_from_store().await.unwrap();
    assert_eq!(b.state(), BreakerState::Open);
    let refused = b.try_acquire().unwrap_err();
    assert!(refused.to_string().contains("model-x"), "{refused}");
}

#[tokio::test]
async fn half_open_probes_are_limited_across_the_fleet() {
    let Some(server) = RedisServer::start_or_skip("half_open_probes_are_limited") else {
        return;
    };
    let (a, b) = (store(&server).await, store(&server).await);
    let id = ProviderId::new("probes");
    let lease = Duration::from_secs(60);
    assert_eq!(
        a.try_acquire_probe(&id, 1, lease).await.unwrap(),
        ProbeGrant::Closed
    );

    let opened = a
        .apply(
            &id,
            Transition::Open {
                open_for: HOUR,
                consecutive_opens: 1,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (opened.state, opened.consecutive_opens),
        (BreakerState::Open, 1)
    );
    match b.try_acquire_probe(&id, 1, lease).await.unwrap() {
        ProbeGrant::Open { retry_after } => assert!(retry_after > Duration::from_secs(3500)),
        other => panic!("expected Open, got {other:?}"),
    }

    // `Open` keeps the later deadline, so reset before opening for zero: the
    // open period is then over, and the first prober turns the fleet half-open.
    a.apply(&id, Transition::Reset).await.unwrap();
    a.apply(
        &id,
        Transition::Open {
            open_for: Duration::ZERO,
            consecutive_opens: 2,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        a.try_acquire_probe(&id, 1, lease).await.unwrap(),
        ProbeGrant::Granted
    );
    assert_eq!(
        b.try_acquire_probe(&id, 1, lease).await.unwrap(),
        ProbeGrant::Busy
    );
    let shared = b.load(&id).await.unwrap().unwrap();
    assert_eq!(
        (shared.state, shared.probes_in_flight),
        (BreakerState::HalfOpen, 1)
    );
    a.release_probe(&id).await.unwrap();
    assert_eq!(
        b.try_acquire_probe(&id, 1, lease).await.unwrap(),
        ProbeGrant::Granted
    );

    // Enough successes: closed for everyone, and written as closed so that a
    // half-open instance that syncs follows.
    let closed = b.apply(&id, Transition::Close).await.unwrap();
    assert_eq!(
        (closed.state, closed.probes_in_flight),
        (BreakerState::Closed, 0)
    );
    assert_eq!(
        a.load(&id).await.unwrap().map(|s| s.state),
        Some(BreakerState::Closed)
    );
}

#[tokio::test]
async fn a_crashed_probers_slot_comes_back_after_its_lease() {
    let Some(server) = RedisServer::start_or_skip("a_crashed_probers_slot_comes_back") else {
        return;
    };
    let (a, b) = (store(&server).await, store(&server).await);
    let id = ProviderId::new("crashed-prober");
    a.apply(
        &id,
        Transition::Open {
            open_for: Duration::ZERO,
            consecutive_opens: 1,
        },
    )
    .await
    .unwrap();
    let short = Duration::from_millis(150);
    assert_eq!(
        a.try_acquire_probe(&id, 1, short).await.unwrap(),
        ProbeGrant::Granted
    );
    // `a` never releases it (it "crashed"); bounded polling until it expires.
    let mut granted = false;
    for _ in 0..100 {
        match b.try_acquire_probe(&id, 1, HOUR).await.unwrap() {
            ProbeGrant::Granted => {
                granted = true;
                break;
            }
            ProbeGrant::Busy => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("expected Busy or Granted, got {other:?}"),
        }
    }
    assert!(granted, "the expired probe lease never freed its slot");
}

#[tokio::test]
async fn later_deadlines_win_and_isolation_holds_until_reset() {
    let Some(server) = RedisServer::start_or_skip("later_deadlines_win") else {
        return;
    };
    let store = store(&server).await;
    let id = ProviderId::new("{weird} id");
    assert_eq!(
        store.load(&id).await.unwrap(),
        None,
        "nothing published yet"
    );
    let open = |open_for, consecutive_opens| Transition::Open {
        open_for,
        consecutive_opens,
    };
    store.apply(&id, open(HOUR, 3)).await.unwrap();
    let shorter = store
        .apply(&id, open(Duration::from_secs(1), 1))
        .await
        .unwrap();
    assert!(shorter.retry_after.unwrap() > Duration::from_secs(3500));
    assert_eq!(shorter.consecutive_opens, 3, "the larger count is kept");

    let isolated = store.apply(&id, Transition::Isolate).await.unwrap();
    assert_eq!(isolated.state, BreakerState::Isolated);
    assert_eq!(isolated.retry_after, Some(ISOLATED_RETRY_AFTER));
    for ignored in [open(HOUR, 9), Transition::Close] {
        let after = store.apply(&id, ignored).await.unwrap();
        assert_eq!(after.state, BreakerState::Isolated, "{ignored:?}");
    }
    assert_eq!(
        store.try_acquire_probe(&id, 1, HOUR).await.unwrap(),
        ProbeGrant::Isolated
    );
    let reset = store.apply(&id, Transition::Reset).await.unwrap();
    assert_eq!(
        (reset.state, reset.consecutive_opens),
        (BreakerState::Closed, 0)
    );
}

#[tokio::test]
async fn an_unreachable_redis_leaves_breakers_on_local_state() {
    let Some(mut server) = RedisServer::start_or_skip("an_unreachable_redis_leaves_breakers")
    else {
        return;
    };
    let store = store(&server).await;
    let check = store.clone();
    let local = breaker(store);
    server.stop();
    let id = ProviderId::new("bedrock/model-x");
    let err = check.load(&id).await.unwrap_err();
    assert!(err.to_string().contains("bedrock/model-x"), "{err}");
    // Calls still flow, failures still trip, locally.
    for _ in 0..3 {
        local.acquire().await.unwrap().record(failure());
    }
    assert_eq!(local.state(), BreakerState::Open);
    assert!(local.sync_from_store().await.is_err());
    assert_eq!(local.state(), BreakerState::Open);

    server.restart().unwrap();
    let mut back = false;
    for _ in 0..100 {
        if check.load(&id).await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(back, "the breaker store never reached Redis again");
}
