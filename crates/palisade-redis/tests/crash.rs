//! An instance killed while holding concurrency leases: while it lives it
//! keeps renewing them (its slots stay taken past the TTL); once it is killed
//! (SIGKILL, no cleanup) they expire and another instance gets the capacity.
//!
//! Wall clock by necessity (a separate process), with a short lease TTL of
//! 1 s; the test counts admissions and bounds its loops by count.

mod support;

use std::time::Duration;

use palisade_limit::{LimitKind, LimitStore, Quota, Reservation, StoreLimits, TokenCounts};
use palisade_redis::testing::RedisServer;
use palisade_redis::{RedisConfig, RedisConnection, RedisLimitStore};

const SLOTS: u32 = 3;
const LEASE_TTL: Duration = Duration::from_secs(1);

fn limits() -> StoreLimits {
    StoreLimits {
        requests: Some(Quota::per_minute(10_000)),
        tokens: None,
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: Some(SLOTS),
        rate_fraction: 1.0,
        lease_ttl: LEASE_TTL,
    }
}

#[tokio::test]
async fn a_killed_instances_leases_come_back_after_their_ttl() {
    let Some(server) = RedisServer::start_or_skip("a_killed_instances_leases_come_back") else {
        return;
    };
    let mut holder = support::spawn(
        "lease_holder_child",
        "lease-holder",
        &[("CHILD_REDIS_URL", server.url())],
    );
    let held = support::read_after(&mut holder, "HELD ", Duration::from_secs(30));
    assert_eq!(held.as_deref(), Some("3"), "the child took every slot");

    let store = RedisLimitStore::new(
        RedisConnection::connect(RedisConfig::with_url(server.url()))
            .await
            .unwrap(),
    );
    // Twice the TTL later the child's leases are still there: it renews them.
    tokio::time::sleep(LEASE_TTL * 2).await;
    assert!(matches!(
        store
            .try_reserve("crash", &limits(), TokenCounts::ZERO)
            .await,
        Ok(Reservation::NotBefore {
            limit: LimitKind::Concurrency,
            ..
        })
    ));

    holder.kill().unwrap();
    holder.wait().unwrap();
    // Now nobody renews them: within about one TTL all three slots return.
    let mut admitted = 0;
    for _ in 0..200 {
        match store
            .try_reserve("crash", &limits(), TokenCounts::ZERO)
            .await
            .unwrap()
        {
            Reservation::Admitted(_) => {
                admitted += 1;
                if admitted == SLOTS {
                    break;
                }
            }
            Reservation::NotBefore { .. } => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    assert_eq!(
        admitted, SLOTS,
        "the killed instance's capacity did not come back"
    );
}

/// The child's side of the crash test; does nothing unless started by it.
/// Takes every slot, says so, and waits to be killed (or gives up after a
/// minute, so an orphan never lingers).
#[test]
fn lease_holder_child() {
    if std::env::var(support::ROLE).as_deref() != Ok("lease-holder") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let config = RedisConfig::with_url(support::var("CHILD_REDIS_URL"));
        let store = RedisLimitStore::new(RedisConnection::connect(config).await.unwrap());
        let mut leases = Vec::new();
        for _ in 0..SLOTS {
            match store
                .try_reserve("crash", &limits(), TokenCounts::ZERO)
                .await
                .unwrap()
            {
                Reservation::Admitted(lease) => leases.push(lease),
                other => panic!("the child could not take a slot: {other:?}"),
            }
        }
        println!("\nHELD {}", leases.len());
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}
