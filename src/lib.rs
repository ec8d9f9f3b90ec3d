#![doc = include_str!("../README.md")]

#[cfg(feature = "bedrock")]
pub use palisade_bedrock as bedrock;
#[cfg(feature = "breaker")]
pub use palisade_breaker as breaker;
pub use palisade_core as core;
#[cfg(feature = "limit")]
pub use palisade_limit as limit;
#[cfg(feature = "prompt")]
pub use palisade_prompt as prompt;
#[cfg(feature = "redis")]
pub use palisade_redis as redis;
#[cfg(feature = "sim")]
pub use palisade_sim as sim;
#[cfg(feature = "stack")]
pub use palisade_stack as stack;
#[cfg(feature = "toon")]
pub use palisade_toon as toon;
#[cfg(feature = "tower")]
pub use palisade_tower as tower;
