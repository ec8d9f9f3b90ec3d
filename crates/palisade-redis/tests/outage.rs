//! Redis going away in the middle of steady traffic through a limiter: killed
//! (connections refused) or frozen (no answer at all). Nothing panics; under
//! `fail_open` the limiter keeps admitting at the local limit, under
//! `fail_closed` it fails with typed errors; both return to Redis once it is
//! back. Loops are bounded by count; no durations are asserted.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::Priority;
use palisade_limit::{Cost, LimitError, Limiter, LimiterConfig, Quota};
use palisade_redis::testing::RedisServer;
use palisade_redis::{FailurePolicy, RedisConfig, RedisConnection, RedisLimitStore};

const HOUR: Duration = Duration::from_secs(3600);

#[derive(Debug, Default, PartialEq)]
struct Tally {
    admitted: u32,
    rate_limited: u32,
    store_errors: u32,
}

async fn limiter(server: &RedisServer, policy: FailurePolicy) -> (Limiter, RedisLimitStore) {
    let config = RedisConfig {
        command_timeout: Duration::from_millis(200),
        connect_timeout: Duration::from_millis(200),
        retry_interval: Duration::from_millis(100),
        local_share: 0.5,
        ..RedisConfig::with_url(server.url()).on_unavailable(policy)
    };
    let store = RedisLimitStore::new(RedisConnection::connect(config).await.unwrap());
    let limits = LimiterConfig {
        // 40 requests that do not refill during the test, 4 in flight.
        requests: Some(Quota::per(1, HOUR).with_burst(40)),
        max_concurrent: Some(4),
        max_wait: Duration::from_millis(50),
        ..LimiterConfig::named("outage")
    };
    let limiter = Limiter::with_store(
        limits,
        Arc::new(store.clone()),
        "outage",
        Duration::from_secs(5),
    )
    .unwrap();
    (limiter, store)
}

/// `n` calls, one after the other, each holding its permit briefly (a
/// dropped permit goes back to the store in a background task; the pause
/// lets it, as the time a real call takes would).
async fn traffic(limiter: &Limiter, n: u32) -> Tally {
    let mut tally = Tally::default();
    for _ in 0..n {
        match limiter.acquire(Cost::request(), Priority::Normal).await {
            Ok(permit) => {
                tally.admitted += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
                drop(permit);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(LimitError::RateLimited { .. }) => tally.rate_limited += 1,
            Err(LimitError::Store { .. }) => tally.store_errors += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    tally
}

/// Calls until one is admitted by Redis again (bounded).
async fn until_redis_serves(limiter: &Limiter, store: &RedisLimitStore) -> bool {
    for _ in 0..200 {
        let served_before = store.stats().calls;
        let admitted = limiter
            .acquire(Cost::request(), Priority::Normal)
            .await
            .is_ok();
        if admitted && store.stats().available && store.stats().calls > served_before {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_rides_through_a_killed_redis() {
    let Some(mut server) = RedisServer::start_or_skip("fail_open_rides_through_a_killed_redis")
    else {
        return;
    };
    let (limiter, store) = limiter(&server, FailurePolicy::FailOpen).await;
    let before = traffic(&limiter, 10).await;
    assert_eq!(before.admitted, 10);

    server.stop();
    // Half of the 40 locally (local_share 0.5): 20 of these 30, then refusals.
    let during = traffic(&limiter, 30).await;
    assert_eq!(during.store_errors, 0, "{during:?}");
    assert_eq!(during.admitted, 20, "{during:?}");
    assert_eq!(during.rate_limited, 10, "{during:?}");
    assert!(store.stats().served_locally >= 30);

    server.restart().unwrap();
    assert!(
        until_redis_serves(&limiter, &store).await,
        "{:?}",
        store.stats()
    );
    let stats = store.stats();
    assert_eq!((stats.outages, stats.recoveries), (1, 1), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_closed_fails_typed_through_a_frozen_redis() {
    let Some(server) = RedisServer::start_or_skip("fail_closed_fails_typed_through_a_frozen_redis")
    else {
        return;
    };
    let (limiter, store) = limiter(&server, FailurePolicy::FailClosed).await;
    assert_eq!(traffic(&limiter, 5).await.admitted, 5);

    // Frozen, not gone: the connection stays open and nothing answers, so
    // only the command timeout can tell.
    server.pause().unwrap();
    let during = traffic(&limiter, 10).await;
    assert_eq!(during.store_errors, 10, "{during:?}");
    let stats = store.stats();
    assert!(!stats.available);
    assert!(stats.skipped_while_down >= 1, "{stats:?}");

    server.resume().unwrap();
    assert!(
        until_redis_serves(&limiter, &store).await,
        "{:?}",
        store.stats()
    );
    // The quota survived the freeze. Scripts sent while it was frozen ran
    // when it resumed, so an admission that timed out may still have been
    // taken (its lease, never renewed, expires): the caller can only have
    // been given less than the quota, never more.
    let after = traffic(&limiter, 40).await;
    let total = 5 + 1 + after.admitted;
    assert!(total <= 40, "{total} admitted of 40: {after:?}");
    assert!(total >= 30, "{total} admitted of 40: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fail_open_rides_through_a_frozen_redis() {
    let Some(server) = RedisServer::start_or_skip("fail_open_rides_through_a_frozen_redis") else {
        return;
    };
    let (limiter, store) = limiter(&server, FailurePolicy::FailOpen).await;
    assert_eq!(traffic(&limiter, 5).await.admitted, 5);
    server.pause().unwrap();
    let during = traffic(&limiter, 10).await;
    assert_eq!(
        (during.admitted, during.store_errors),
        (10, 0),
        "{during:?}"
    );
    server.resume().unwrap();
    assert!(
        until_redis_serves(&limiter, &store).await,
        "{:?}",
        store.stats()
    );
    assert_eq!(store.stats().recoveries, 1);
}
