//! On a Redis Cluster: every key of one limit (and of one breaker) lives in
//! one slot, so each script runs on one node; different models spread over
//! the masters; and the URL forms that name a cluster reach it.

use std::collections::BTreeSet;
use std::time::Duration;

use palisade_breaker::BreakerStore;
use palisade_core::ProviderId;
use palisade_limit::{LimitStore, Quota, Reservation, StoreLimits, TokenCounts};
use palisade_redis::keys::{BreakerKeys, LimitKeys};
use palisade_redis::testing::RedisCluster;
use palisade_redis::{RedisBreakerStore, RedisConfig, RedisConnection, RedisLimitStore};
use redis::AsyncCommands;

fn limits() -> StoreLimits {
    StoreLimits {
        requests: Some(Quota::per_minute(100)),
        tokens: Some(Quota::per_minute(100_000)),
        input_tokens: None,
        output_tokens: None,
        tokens_per_day: None,
        max_concurrent: Some(10),
        rate_fraction: 1.0,
        lease_ttl: Duration::from_secs(30),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_of_one_model_share_a_slot_and_models_spread_over_masters() {
    let Some(cluster) = RedisCluster::start_or_skip("cluster keys", Duration::from_secs(15)) else {
        return;
    };
    let connection = RedisConnection::connect(RedisConfig::with_url(cluster.url()))
        .await
        .unwrap();
    assert!(connection.is_cluster());
    assert!(
        connection.server().starts_with("cluster 127.0.0.1:"),
        "{}",
        connection.server()
    );
    let limit_store = RedisLimitStore::new(connection.clone());
    let breaker_store = RedisBreakerStore::new(connection);

    let mut masters = BTreeSet::new();
    for i in 0..8 {
        let model = format!("bedrock/model-{i}");
        // One admission and one breaker decision per model: each script
        // touches all of that model's keys, which a cluster refuses
        // (CROSSSLOT) unless they share a slot.
        let answer = limit_store
            .try_reserve(&model, &limits(), TokenCounts::combined(500))
            .await
            .unwrap();
        assert!(
            matches!(answer, Reservation::Admitted(_)),
            "{model}: {answer:?}"
        );
        breaker_store
            .apply(
                &ProviderId::new(&model),
                palisade_breaker::store::Transition::Open {
                    open_for: Duration::from_secs(1),
                    consecutive_opens: 1,
                },
            )
            .await
            .unwrap();

        let keys = LimitKeys::new("palisade", &model);
        let breaker = BreakerKeys::new("palisade", &model);
        let master = cluster
            .master_of(&keys.rate)
            .expect("a master serves the slot");
        for key in [&keys.leases, &breaker.state, &breaker.probes] {
            assert_eq!(cluster.master_of(key), Some(master), "{key}");
        }
        // The state is on that master: asked directly, it has the keys.
        let mut node = redis::Client::open(format!("redis://127.0.0.1:{master}"))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let found: u32 = node
            .exists(&[&keys.rate, &keys.leases, &breaker.state])
            .await
            .unwrap();
        assert_eq!(found, 3, "{model} on master {master}");
        masters.insert(master);
    }
    assert_eq!(
        masters.len(),
        3,
        "8 models spread over all 3 masters: {masters:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_of_seed_nodes_is_a_cluster_too() {
    let Some(cluster) = RedisCluster::start_or_skip("cluster seed list", Duration::from_secs(15))
    else {
        return;
    };
    // Only two of six nodes given, as plain URLs: the client finds the rest.
    let ports = cluster.ports();
    let url = format!(
        "redis://127.0.0.1:{}, redis://127.0.0.1:{}",
        ports[0], ports[4]
    );
    let connection = RedisConnection::connect(RedisConfig::with_url(url))
        .await
        .unwrap();
    assert!(connection.is_cluster());
    connection.ping().await.unwrap();
    let store = RedisLimitStore::new(connection);
    for i in 0..8 {
        let answer = store
            .try_reserve(
                &format!("seeds/model-{i}"),
                &limits(),
                TokenCounts::combined(1),
            )
            .await
            .unwrap();
        assert!(matches!(answer, Reservation::Admitted(_)));
    }
}
