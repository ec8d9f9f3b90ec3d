//! The shared circuit breaker: `breaker.lua` and the
//! [`BreakerStore`](palisade_breaker::BreakerStore) built on it.

mod store;

pub use store::RedisBreakerStore;
