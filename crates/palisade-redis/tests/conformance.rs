//! One conformance suite for every limit and breaker store: the same cases
//! (`conformance/cases.rs`) run against the in-memory stores, a single
//! `redis-server` and a local Redis Cluster. Adding a store is one line
//! below (and its fixture in `conformance/fixture.rs`). Every line of output
//! names the store: `conformance[redis-single] lease_expiry_and_renewal ... ok`.

#[path = "conformance/cases.rs"]
mod cases;
#[path = "conformance/fixture.rs"]
mod fixture;

/// `store!(test_name, Fixture)`: runs every case against `Fixture::start()`
/// (which returns `None` after a visible SKIPPED line when the store's server
/// is not installed, and fails under `CI=true`).
macro_rules! store {
    ($test:ident, $fixture:path) => {
        #[tokio::test(flavor = "current_thread")]
        async fn $test() {
            if let Some(fixture) = <$fixture>::start().await {
                cases::run(&fixture).await;
            }
        }
    };
}

store!(memory, fixture::Memory);
store!(redis_single, fixture::RedisSingle);
store!(redis_cluster, fixture::RedisClusterFixture);
#[cfg(feature = "tls")]
store!(redis_tls, fixture::RedisTls);
