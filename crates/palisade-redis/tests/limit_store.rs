//! `RedisLimitStore` under palisade-limit's `Limiter`, against a real
//! redis-server: a quota shared by two limiters, the failure policies while
//! Redis is stopped and their recovery when it restarts, and lease renewal.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::Priority;
use palisade_limit::{
    Cost, LimitError, LimitKind, LimitStore, Limiter, LimiterConfig, Quota, Reservation,
    StoreError, StoreLimits, TokenCounts,
};
use palisade_redis::testing::RedisServer;
use palisade_redis::{FailurePolicy, RedisConfig, RedisConnection, RedisLimitStore};
use redis::AsyncCommands;

const HOUR: Duration = Duration::from_secs(3600);

/// Quick to declare Redis down and quick to try it again, so the outage
/// tests spend little wall time.
fn config(server: &RedisServer, policy: FailurePolicy) -> RedisConfig {
    RedisConfig {
        command_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
        retry_interval: Duration::from_millis(100),
        ..RedisConfig::with_url(server.url()).on_unavailable(policy)
    }
}

async fn store(config: RedisConfig) -> RedisLimitStore {
    RedisLimitStore::new(RedisConnection::connect(config).await.unwrap())
}

/// `burst` requests that do not refill during the test.
fn requests(burst: u64) -> StoreLimits {
    StoreLimits {
        requests: Some(Quota::per(1, HOUR).with_burst(burst)),
        tokens: None,
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: None,
        rate_fraction: 1.0,
        lease_ttl: Duration::from_secs(30),
    }
}

fn admitted(answer: &Result<Reservation, StoreError>) -> bool {
    matches!(answer, Ok(Reservation::Admitted(_)))
}

#[tokio::test]
async fn two_limiters_share_one_quota() {
    let Some(server) = RedisServer::start_or_skip("two_limiters_share_one_quota") else {
        return;
    };
    let config = LimiterConfig {
        requests: Some(Quota::per(1, HOUR).with_burst(5)),
        max_wait: Duration::from_millis(100),
        ..LimiterConfig::named("shared")
    };
    let ttl = Duration::from_secs(30);
    let mut limiters = Vec::new();
    for _ in 0..2 {
        let store = store(config_for(&server)).await;
        limiters
            .push(Limiter::with_store(config.clone(), Arc::new(store), "model-a", ttl).unwrap());
    }
    let mut granted = [0, 0];
    for round in 0..10 {
        let which = round % 2;
        match limiters[which]
            .acquire(Cost::request(), Priority::Normal)
            .await
        {
            Ok(permit) => {
                granted[which] += 1;
                drop(permit);
            }
            Err(LimitError::RateLimited { .. }) => {}
            Err(other) => panic!("unexpected {other}"),
        }
    }
    // Five for the pair, not five each.
    assert_eq!(granted[0] + granted[1], 5, "{granted:?}");
    assert!(granted[0] > 0 && granted[1] > 0, "{granted:?}");
}

fn config_for(server: &RedisServer) -> RedisConfig {
    RedisConfig::with_url(server.url())
}

#[tokio::test]
async fn fail_open_admits_at_the_local_limit_and_returns_to_redis() {
    let Some(mut server) = RedisServer::start_or_skip("fail_open_admits_at_the_local_limit") else {
        return;
    };
    let config = RedisConfig {
        local_share: 0.5,
        ..config(&server, FailurePolicy::FailOpen)
    };
    let store = store(config).await;
    let limits = requests(10);
    for _ in 0..2 {
        assert!(admitted(
            &store.try_reserve("fo", &limits, TokenCounts::ZERO).await
        ));
    }
    server.stop();

    // Local decisions with half of each limit: 5 of the 10, then "not before".
    let mut local = Vec::new();
    for _ in 0..8 {
        local.push(store.try_reserve("fo", &limits, TokenCounts::ZERO).await);
    }
    let local_admitted = local.iter().filter(|a| admitted(a)).count();
    assert_eq!(local_admitted, 5, "{local:?}");
    assert!(matches!(
        local.last(),
        Some(Ok(Reservation::NotBefore {
            limit: LimitKind::Requests,
            ..
        }))
    ));
    let stats = store.stats();
    assert!(!stats.available);
    assert_eq!(stats.outages, 1);
    assert_eq!(stats.served_locally, 8);
    // A lease issued locally is settled locally, outage or not.
    let Some(Ok(Reservation::Admitted(lease))) = local.into_iter().next() else {
        panic!("the first local answer was an admission");
    };
    store
        .settle("fo", &limits, lease, TokenCounts::ZERO)
        .await
        .unwrap();

    server.restart().unwrap();
    // Recovery needs no action: within a retry interval a call reaches Redis
    // (empty after the restart) again. Bounded by count, not by time.
    let mut back = false;
    for _ in 0..100 {
        let answer = store.try_reserve("fo", &limits, TokenCounts::ZERO).await;
        if store.stats().available {
            assert!(admitted(&answer), "{answer:?}");
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        back,
        "the store never went back to Redis: {:?}",
        store.stats()
    );
    assert_eq!(store.stats().recoveries, 1);
    let mut manager = store.connection().link();
    let exists: bool = manager.exists("palisade:{fo}:rate").await.unwrap();
    assert!(exists, "admissions are counted in Redis again");
}

#[tokio::test]
async fn fail_closed_refuses_with_a_typed_error_and_recovers() {
    let Some(mut server) = RedisServer::start_or_skip("fail_closed_refuses_with_a_typed_error")
    else {
        return;
    };
    let store = store(config(&server, FailurePolicy::FailClosed)).await;
    let limits = requests(10);
    assert!(admitted(
        &store.try_reserve("fc", &limits, TokenCounts::ZERO).await
    ));
    server.stop();

    for _ in 0..5 {
        match store.try_reserve("fc", &limits, TokenCounts::ZERO).await {
            Err(err @ StoreError::Unavailable { .. }) => {
                let message = err.to_string();
                assert!(
                    message.contains(&format!("127.0.0.1:{}", server.port())),
                    "{message}"
                );
                // The Redis error travels along as the source.
                let source = std::error::Error::source(&err).map(ToString::to_string);
                assert!(source.is_some_and(|s| s.contains("unavailable")), "{err:?}");
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
    let stats = store.stats();
    assert_eq!(stats.refused_unavailable, 5);
    // Only the first call (and at most one per retry interval) waited for
    // the network; the others were refused on the spot.
    assert!(stats.skipped_while_down >= 1, "{stats:?}");

    // Through a limiter the same failure is LimitError::Store.
    let limiter = Limiter::with_store(
        LimiterConfig {
            requests: Some(Quota::per(1, HOUR).with_burst(10)),
            ..LimiterConfig::named("closed")
        },
        Arc::new(store.clone()),
        "fc",
        Duration::from_secs(30),
    )
    .unwrap();
    let err = limiter
        .acquire(Cost::request(), Priority::Normal)
        .await
        .unwrap_err();
    assert!(matches!(err, LimitError::Store { .. }), "{err}");

    server.restart().unwrap();
    let mut back = false;
    for _ in 0..100 {
        if admitted(&store.try_reserve("fc", &limits, TokenCounts::ZERO).await) {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        back,
        "never admitted after the restart: {:?}",
        store.stats()
    );
    assert!(store.stats().available);
}

#[tokio::test]
async fn held_leases_are_renewed_past_their_ttl_and_end_on_settle() {
    let Some(server) = RedisServer::start_or_skip("held_leases_are_renewed") else {
        return;
    };
    let holder = store(config_for(&server)).await;
    let other = store(config_for(&server)).await;
    let limits = StoreLimits {
        max_concurrent: Some(1),
        lease_ttl: Duration::from_millis(600),
        ..requests(100)
    };
    let Ok(Reservation::Admitted(lease)) = holder
        .try_reserve("renew", &limits, TokenCounts::ZERO)
        .await
    else {
        panic!("the first reservation is admitted");
    };
    assert_eq!(holder.live_leases(), 1);
    // Well past the TTL: the lease is still held because it is renewed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    match other.try_reserve("renew", &limits, TokenCounts::ZERO).await {
        Ok(Reservation::NotBefore {
            limit: LimitKind::Concurrency,
            retry_after,
        }) => {
            // A full concurrency cap is polled, not waited out to the TTL.
            assert!(retry_after <= RedisConfig::default().concurrency_retry);
        }
        answer => panic!("expected a concurrency refusal, got {answer:?}"),
    }
    assert!(holder.stats().leases_renewed >= 1);
    holder
        .settle("renew", &limits, lease, TokenCounts::ZERO)
        .await
        .unwrap();
    assert_eq!(holder.live_leases(), 0);
    assert!(admitted(
        &other.try_reserve("renew", &limits, TokenCounts::ZERO).await
    ));
}

#[tokio::test]
async fn tokens_are_refunded_across_instances() {
    let Some(server) = RedisServer::start_or_skip("tokens_are_refunded_across_instances") else {
        return;
    };
    let a = store(config_for(&server)).await;
    let b = store(config_for(&server)).await;
    let limits = StoreLimits {
        tokens: Some(Quota::per(1, HOUR).with_burst(1000)),
        ..requests(100)
    };
    let Ok(Reservation::Admitted(lease)) = a
        .try_reserve("tpm", &limits, TokenCounts::combined(1000))
        .await
    else {
        panic!("a full bucket admits its burst");
    };
    assert!(matches!(
        b.try_reserve("tpm", &limits, TokenCounts::combined(100))
            .await,
        Ok(Reservation::NotBefore {
            limit: LimitKind::Tokens,
            ..
        })
    ));
    let settled = a
        .settle("tpm", &limits, lease, TokenCounts::combined(300))
        .await
        .unwrap();
    assert_eq!((settled.refunded, settled.debt), (700, 0));
    assert!(admitted(
        &b.try_reserve("tpm", &limits, TokenCounts::combined(700))
            .await
    ));
    // More than the burst can never fit: an error, not an endless wait.
    assert!(matches!(
        b.try_reserve("tpm", &limits, TokenCounts::combined(1001))
            .await,
        Err(StoreError::Protocol { .. })
    ));
}
