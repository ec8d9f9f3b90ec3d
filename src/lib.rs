#![doc = include_str!("../README.md")]

pub use palisade_core as core;
#[cfg(feature = "breaker")]
pub use palisade_breaker as breaker;
#[cfg(feature = "limit")]
pub use palisade_limit as limit;
#[cfg(feature = "prompt")]
pub use palisade_prompt as prompt;
#[cfg(feature = "redis")]
pub use palisade_redis as redis;
#[cfg(feature = "stack")]
pub use palisade_stack as stack;
