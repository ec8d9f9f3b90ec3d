//! What the suite needs from a store under test: instances that share one
//! fleet's state, a clock to let time pass on, and (where the store can be
//! unreachable) a way to cut it off.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use palisade_breaker::BreakerStore;
use palisade_breaker::InMemoryStore;
use palisade_limit::{LimitStore, MemoryStore};
use palisade_redis::testing::{RedisCluster, RedisServer};
use palisade_redis::{
    FailurePolicy, RedisBreakerStore, RedisConfig, RedisConnection, RedisLimitStore,
};

/// One store implementation, as the conformance cases see it.
#[async_trait]
pub(crate) trait StoreFixture: Send + Sync {
    /// How the output names the store.
    fn name(&self) -> &'static str;

    /// A new instance (for a networked store: its own connection) of the
    /// fleet's limit store, following `policy` when the store is unreachable.
    async fn limit_store(&self, policy: FailurePolicy) -> Arc<dyn LimitStore>;

    /// A new instance of the fleet's breaker store.
    async fn breaker_store(&self) -> Arc<dyn BreakerStore>;

    /// Lets `d` pass on the clock the store decides by.
    async fn pass(&self, d: Duration);

    /// Makes the store unreachable for every instance until [`heal`](Self::heal).
    /// `false` when this store cannot be unreachable (it lives in the process).
    fn cut(&self) -> bool;

    /// Ends a [`cut`](Self::cut).
    fn heal(&self);

    /// The share of each limit an instance keeps for itself under
    /// `fail_open` while cut off.
    fn local_share(&self) -> f64 {
        LOCAL_SHARE
    }
}

/// `local_share` of the networked fixtures.
pub(crate) const LOCAL_SHARE: f64 = 0.5;

/// palisade-limit's `MemoryStore` and palisade-breaker's `InMemoryStore`, on
/// paused tokio time: instances are clones sharing one state.
pub(crate) struct Memory {
    limits: MemoryStore,
    breakers: Arc<InMemoryStore>,
}

impl Memory {
    /// Pauses tokio time (the test runs on a current-thread runtime), then
    /// makes the stores, so their clocks are the paused one.
    pub(crate) async fn start() -> Option<Self> {
        tokio::time::pause();
        Some(Self {
            limits: MemoryStore::new(),
            breakers: Arc::new(InMemoryStore::new()),
        })
    }
}

#[async_trait]
impl StoreFixture for Memory {
    fn name(&self) -> &'static str {
        "memory"
    }
    async fn limit_store(&self, _policy: FailurePolicy) -> Arc<dyn LimitStore> {
        Arc::new(self.limits.clone())
    }
    async fn breaker_store(&self) -> Arc<dyn BreakerStore> {
        self.breakers.clone()
    }
    async fn pass(&self, d: Duration) {
        tokio::time::advance(d).await;
    }
    fn cut(&self) -> bool {
        false
    }
    fn heal(&self) {}
}

/// The Redis configuration of every networked fixture: quick to declare
/// Redis down and to try it again, so the outage cases spend little time.
pub(crate) fn redis_config(url: String, policy: FailurePolicy) -> RedisConfig {
    RedisConfig {
        key_prefix: "conformance".into(),
        command_timeout: Duration::from_millis(300),
        connect_timeout: Duration::from_millis(300),
        retry_interval: Duration::from_millis(100),
        local_share: LOCAL_SHARE,
        ..RedisConfig::with_url(url).on_unavailable(policy)
    }
}

/// `RedisLimitStore` and `RedisBreakerStore` on one `redis-server`; every
/// instance has its own connection. Time is the server's, so it passes on
/// the wall clock.
pub(crate) struct RedisSingle {
    server: RedisServer,
}

impl RedisSingle {
    /// `None` (after a visible SKIPPED line) without `redis-server`.
    pub(crate) async fn start() -> Option<Self> {
        RedisServer::start_or_skip("conformance redis-single").map(|server| Self { server })
    }
}

#[async_trait]
impl StoreFixture for RedisSingle {
    fn name(&self) -> &'static str {
        "redis-single"
    }
    async fn limit_store(&self, policy: FailurePolicy) -> Arc<dyn LimitStore> {
        let connection = connect(redis_config(self.server.url(), policy)).await;
        Arc::new(RedisLimitStore::new(connection))
    }
    async fn breaker_store(&self) -> Arc<dyn BreakerStore> {
        let config = redis_config(self.server.url(), FailurePolicy::FailOpen);
        Arc::new(RedisBreakerStore::new(connect(config).await))
    }
    async fn pass(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
    fn cut(&self) -> bool {
        self.server.pause().is_ok()
    }
    fn heal(&self) {
        let _ = self.server.resume();
    }
}

/// A connection that has answered once: an instance is up before a case
/// uses it, so a slow first connection (a TLS handshake on a loaded machine)
/// is not mistaken for an outage within the case's short command timeout.
pub(crate) async fn connect(config: RedisConfig) -> RedisConnection {
    let connection = match RedisConnection::connect(config).await {
        Ok(connection) => connection,
        Err(err) => panic!("connecting to the fixture's Redis: {err}"),
    };
    for _ in 0..50 {
        if connection.ping().await.is_ok() {
            return connection;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "the fixture's Redis at {} never answered",
        connection.server()
    );
}

/// The same Redis stores on a local Redis Cluster (three masters, three
/// replicas); every instance has its own cluster client. The node timeout is
/// long, so the short freezes of the outage cases never start a failover.
pub(crate) struct RedisClusterFixture {
    cluster: RedisCluster,
}

impl RedisClusterFixture {
    /// `None` (after a visible SKIPPED line) without `redis-server` and
    /// `redis-cli`.
    pub(crate) async fn start() -> Option<Self> {
        RedisCluster::start_or_skip("conformance redis-cluster", Duration::from_secs(15))
            .map(|cluster| Self { cluster })
    }
}

#[async_trait]
impl StoreFixture for RedisClusterFixture {
    fn name(&self) -> &'static str {
        "redis-cluster"
    }
    async fn limit_store(&self, policy: FailurePolicy) -> Arc<dyn LimitStore> {
        let connection = connect(redis_config(self.cluster.url(), policy)).await;
        assert!(connection.is_cluster());
        Arc::new(RedisLimitStore::new(connection))
    }
    async fn breaker_store(&self) -> Arc<dyn BreakerStore> {
        let config = redis_config(self.cluster.url(), FailurePolicy::FailOpen);
        Arc::new(RedisBreakerStore::new(connect(config).await))
    }
    async fn pass(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
    fn cut(&self) -> bool {
        self.cluster.pause().is_ok()
    }
    fn heal(&self) {
        let _ = self.cluster.resume();
    }
}

/// The single-server stores over TLS (`rediss://`, feature `tls`), trusting
/// a throwaway CA through `tls_ca_file`.
#[cfg(feature = "tls")]
pub(crate) struct RedisTls {
    server: RedisServer,
    ca: palisade_redis::testing::ThrowawayCa,
}

#[cfg(feature = "tls")]
impl RedisTls {
    /// `None` (after a visible SKIPPED line) without `redis-server` or
    /// `openssl`.
    pub(crate) async fn start() -> Option<Self> {
        RedisServer::start_tls_or_skip("conformance redis-tls")
            .map(|(server, ca)| Self { server, ca })
    }

    fn config(&self, policy: FailurePolicy) -> RedisConfig {
        RedisConfig {
            tls_ca_file: Some(self.ca.ca_certificate()),
            ..redis_config(self.server.url(), policy)
        }
    }
}

#[cfg(feature = "tls")]
#[async_trait]
impl StoreFixture for RedisTls {
    fn name(&self) -> &'static str {
        "redis-tls"
    }
    async fn limit_store(&self, policy: FailurePolicy) -> Arc<dyn LimitStore> {
        Arc::new(RedisLimitStore::new(connect(self.config(policy)).await))
    }
    async fn breaker_store(&self) -> Arc<dyn BreakerStore> {
        let connection = connect(self.config(FailurePolicy::FailOpen)).await;
        Arc::new(RedisBreakerStore::new(connection))
    }
    async fn pass(&self, d: Duration) {
        tokio::time::sleep(d).await;
    }
    fn cut(&self) -> bool {
        self.server.pause().is_ok()
    }
    fn heal(&self) {
        let _ = self.server.resume();
    }
}
