//! Distributed stores for Palisade's limiter and breaker, on Redis.
//!
//! (Work in progress: the crate root documentation is written with the stores.)

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod breaker;
mod config;
mod connection;
mod duration_serde;
mod error;
pub mod keys;
pub mod limit;
mod stats;
#[cfg(feature = "testing")]
pub mod testing;

pub use breaker::RedisBreakerStore;
pub use config::{DEFAULT_REDIS_URL, FailurePolicy, REDIS_URL_ENV, RedisConfig};
pub use connection::RedisConnection;
pub use error::{ConfigError, RedisStoreError};
pub use limit::RedisLimitStore;
pub use stats::RedisStats;
