//! Redis stores for Palisade's limiter and circuit breaker, so that several
//! instances share one quota and one view of a model's health.
//!
//! A provider's quota is per account and model, not per process: ten
//! instances each limiting to 50 requests per minute send 500. Here the
//! counting of a [`palisade_limit::Limiter`] and the decisions of a
//! [`palisade_breaker::CircuitBreaker`] live in Redis: one Lua script per
//! admission (requests, every token dimension — combined, input, output,
//! per day — and a concurrency lease, checked and taken atomically on the
//! server's clock), leases with a TTL so a crashed instance
//! cannot hold capacity, hash-tagged keys, and a [`FailurePolicy`] for when
//! Redis cannot be reached.
//!
//! # Example
//!
//! `no_run`: it needs a Redis server at `REDIS_URL`. The runnable version is
//! `examples/shared_quota.rs` (`cargo run --example shared_quota --features
//! redis,limit`), which starts a `redis-server` from `PATH` when `REDIS_URL`
//! is not set.
//!
//! ```no_run
//! use std::sync::Arc;
//! use std::time::Duration;
//!
//! use palisade_breaker::CircuitBreaker;
//! use palisade_core::Priority;
//! use palisade_limit::{Cost, Limiter, LimiterConfig, Quota};
//! use palisade_redis::{RedisBreakerStore, RedisConfig, RedisConnection, RedisLimitStore};
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // One connection per process (it reconnects by itself), shared by the stores.
//! let connection = RedisConnection::connect(RedisConfig::from_env()).await?;
//!
//! // Every instance that uses the key "bedrock/claude" shares these 50 RPM.
//! let config = LimiterConfig {
//!     requests: Some(Quota::per_minute(50)),
//!     tokens: Some(Quota::per_minute(200_000)),
//!     max_concurrent: Some(20),
//!     ..LimiterConfig::named("claude")
//! };
//! let store = Arc::new(RedisLimitStore::new(connection.clone()));
//! let limiter = Limiter::with_store(config, store, "bedrock/claude", Duration::from_secs(30))?;
//!
//! // One instance's trip opens the circuit for all (at their next sync).
//! let breaker = CircuitBreaker::builder("bedrock/claude")
//!     .store(Arc::new(RedisBreakerStore::new(connection)))
//!     .build()?;
//! breaker.spawn_store_sync(Duration::from_secs(1));
//!
//! let permit = limiter.acquire(Cost::tokens(1_200), Priority::Normal).await?;
//! // ... call the model, then settle with what it really used:
//! permit.settle_tokens(900);
//! # Ok(()) }
//! ```
//!
//! # What goes where
//!
//! | type | role |
//! |---|---|
//! | [`RedisConfig`] | URL (`REDIS_URL`), key prefix, timeouts, failure policy (serde) |
//! | [`RedisConnection`] | one reconnecting client ([`RedisLink`]: a single server or a Redis Cluster, from the URL), the timeout on every call, Redis's health, [`RedisStats`] |
//! | [`RedisLimitStore`] | palisade-limit's `LimitStore`: `admit.lua`, `settle.lua`, lease renewal, the failure policy |
//! | [`RedisBreakerStore`] | palisade-breaker's `BreakerStore`: `breaker.lua` |
//! | [`keys`] | the key layout and its hash tags |
//! | [`limit::scripts`] | the limit scripts, callable without a limiter |
//! | [`guide`] | the model in prose: key layout, scripts' semantics, failure handling |
//!
//! # Failure policy
//!
//! A call that cannot reach Redis within `command_timeout` marks it down
//! (one warning event); until a call succeeds again — one is tried per
//! `retry_interval` — admissions follow [`FailurePolicy`]: `fail_open` decides
//! locally with palisade-limit's in-memory store and `local_share` of each
//! limit, `fail_closed` refuses with a typed error. Recovery is automatic.
//! Breakers always go on with their local state when the store fails.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `testing` | no | [`testing::RedisServer`]: a throwaway `redis-server` on a free loopback port, for tests, benches and examples |

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod breaker;
mod config;
mod connection;
mod dead_letter;
mod error;
pub mod keys;
pub mod limit;
mod link;
mod stats;
#[cfg(feature = "testing")]
pub mod testing;
mod tls;
mod topology;

/// The model in prose: key layout, the scripts' semantics, failure handling
/// (the text of `docs/redis.md`).
#[doc = include_str!("../../../docs/redis.md")]
pub mod guide {}

pub use breaker::RedisBreakerStore;
pub use config::{DEFAULT_REDIS_URL, FailurePolicy, REDIS_URL_ENV, RedisConfig};
pub use connection::RedisConnection;
pub use dead_letter::{DEFAULT_DEAD_LETTER_QUEUE, RedisDeadLetterStore};
pub use error::{ConfigError, RedisStoreError};
pub use limit::RedisLimitStore;
pub use link::RedisLink;
pub use stats::RedisStats;
pub use topology::redact;
