//! Rate, token and concurrency limits for LLM traffic: reserve-then-settle
//! token budgets, output burndown, fair priority queueing, adaptive rates,
//! and a store trait for limits shared between processes.
//!
//! # Example: limit a provider
//!
//! ```
//! use palisade_core::testing::ScriptedProvider;
//! use palisade_core::{ChatRequest, Provider, ProviderExt};
//! use palisade_limit::{BurndownConfig, Limiter, LimiterConfig, Quota, RateLimitLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // 50 requests and 40,000 tokens a minute, 4 at once; this model's output
//! // counts 5× against the token quota.
//! let limiter = Limiter::new(
//!     LimiterConfig::named("big-model")
//!         .with_requests(Quota::per_minute(50))
//!         .with_tokens(Quota::per_minute(40_000))
//!         .with_max_concurrent(4)
//!         .with_burndown(BurndownConfig::default().with_model("big-model", 5)),
//! )?;
//! let model = ScriptedProvider::new("vendor/big-model-v1")
//!     .layer(RateLimitLayer::new(limiter.clone()));
//!
//! let request = ChatRequest::user("Summarise this contract.")
//!     .with_max_tokens(1_000)
//!     .with_input_token_estimate(2_000);
//! let answer = model.complete(request).await?;
//! assert_eq!(answer.text_content(), "ok");
//!
//! // Reserved 2,000 + 1,000 × 5 (output burndown), settled to the real
//! // usage (2,000 in, 16 out × 5): the rest went back to the budget.
//! let stats = limiter.stats();
//! assert_eq!(stats.tokens_reserved, 7_000);
//! assert_eq!(stats.tokens_settled, 2_080);
//! assert_eq!(stats.tokens_refunded, 4_920);
//! assert_eq!(stats.in_flight, 0);
//! # Ok(()) }
//! ```
//!
//! Without a provider, ask for permits directly:
//!
//! ```
//! use palisade_core::{Priority, Usage};
//! use palisade_limit::{Cost, Limiter, LimiterConfig, Quota};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), palisade_limit::LimitError> {
//! let limiter = Limiter::new(LimiterConfig::default().with_tokens(Quota::per_minute(10_000)))
//!     .expect("valid config");
//! let permit = limiter.acquire(Cost::tokens(3_000), Priority::High).await?;
//! // ... call the model ...
//! let settled = permit.settle_tokens(1_200);
//! assert_eq!(settled.refunded, 1_800);
//! # Ok(()) }
//! ```
//!
//! # What is in the box
//!
//! | item | what it does |
//! |---|---|
//! | [`Limiter`] | requests per interval (GCRA), a token budget with reserve-then-settle, a concurrency cap, all admitted together or not at all; a FIFO-per-priority waiting queue |
//! | [`Permit`] | an admitted request; [`Permit::settle`] refunds or charges debt, dropping it follows the [`DropRule`] |
//! | [`PermitRef`] | the same, borrowing the limiter ([`Limiter::try_acquire_ref`]) for callers that settle in scope |
//! | [`LimiterSet`] | several limiters (model + account) acquired with rollback |
//! | [`LimiterMap`] | one limiter per key (model, provider), made on first use from a template |
//! | [`KeyedLimiters`], [`KeyedLimitConfig`] | one limiter per value of a request tag (`user=alice`, `task=analysis`), with per-value overrides, bounded in memory (idle ones dropped); [`RateLimitLayer::with_keyed`] adds them to a layer |
//! | [`CostModel`], [`DefaultCostModel`] | what a call costs against the token budget; the provider-neutral default reserves input + `max_tokens` × burndown (1 unless configured) and settles to every reported token; provider crates ship their providers' own models |
//! | [`LearnedOutput`], [`LearnedOutputConfig`] | reserve each route's learned output (p99 of what its replies used, plus a margin) instead of `max_tokens`; `learned_output` in a [`LimiterConfig`] turns it on for the default cost model |
//! | [`RateLimitLayer`] | the layer for any [`Provider`](palisade_core::Provider): estimate, acquire, call, settle; streams hold permits until they end |
//! | [`AdaptiveConfig`] | AIMD rate on provider throttles, `retry_after` pauses, provider-reported remaining capacity (off by default) |
//! | [`LimitStore`], [`MemoryStore`] | where counting lives; `palisade-redis` shares it between processes |
//! | [`LimiterStats`] | serde snapshot: admitted, rejected, queued, wait histogram, tokens reserved/settled/refunded/debt |
//!
//! The [`guide`] explains the model: reservations, debt, the drop rule,
//! priorities and adaptive mode. Time comes from tokio's clock, so
//! `tokio::time::pause()` drives a limiter in tests and simulations.
//!
//! # Configuration
//!
//! [`LimiterConfig`] is a serde struct with documented defaults (nothing is
//! limited unless configured); [`LimiterConfig::from_env`] reads
//! `MAX_REQUESTS_PER_MINUTE`, `MAX_CONCURRENT_REQUESTS` and
//! `MAX_TOKENS_PER_MINUTE`.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

/// The user guide, `docs/limits.md`, compiled with the doc tests so that its
/// Rust snippets build and run (so they use `palisade_limit` and
/// `palisade_core` paths, not the facade, which this crate cannot depend on).
/// Only under `cfg(doctest)`: the file lives outside the crate.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/limits.md")]
mod user_guide {}

mod adaptive;
mod calibration;
mod clock;
mod concurrency;
mod config;
mod config_error;
mod cost;
mod error;
mod expected_wait;
mod gcra;
pub mod guide;
mod keyed;
mod keyed_config;
mod kind;
mod layer;
mod learned;
mod limiter;
mod limits;
mod map;
mod permit;
mod profile;
mod queue;
mod set;
mod shared;
mod slack;
mod stats;
mod store;
mod wait;

pub use adaptive::AdaptiveConfig;
pub use clock::ClockSource;
pub use config::{DropRule, ENV_VARS, LimiterConfig, Quota};
pub use config_error::ConfigError;
pub use cost::{BurndownConfig, Cost, CostModel, DefaultCostModel, TokenCounts};
pub use error::LimitError;
pub use keyed::KeyedLimiters;
pub use keyed_config::{KeyedConfigError, KeyedLimitConfig, Untagged};
pub use kind::LimitKind;
pub use layer::{LimitedStream, RateLimit, RateLimitLayer};
pub use learned::{LearnedOutput, LearnedOutputConfig, ROUTE_TAG_PREFIX};
pub use limiter::Limiter;
pub use map::LimiterMap;
pub use permit::{Permit, PermitRef};
pub use profile::{CacheTokens, QuotaProfileConfig};
pub use set::{LimiterSet, PermitSet};
pub use stats::{LimiterStats, WAIT_BUCKETS};
pub use store::{
    Lease, LeaseToken, LimitStore, MemoryStore, Renewal, Reservation, Settled, StoreError,
    StoreErrorSource, StoreLimits,
};
