//! The canonical resilience stack for LLM calls: retry with backoff and a
//! retry budget, timeouts, fallback over candidates with routing, cooldowns
//! and hedging, cost and budgets, a batch executor, stats and telemetry.
//!
//! ```text
//! app ─► Budget ─► Fallback/Router ─► per candidate: Retry ─► Breaker ─► RateLimit ─► Timeout ─► Provider
//! ```
//!
//! That is the order [`StackBuilder`] builds: the per-attempt timeout is
//! innermost, so it times the model and not the limiter's queue, and the
//! breaker counts its timeouts as the model's failures.
//!
//! Every layer is usable alone around any [`Provider`](palisade_core::Provider);
//! the fallback takes any `Arc<dyn Provider>` as a candidate.
//!
//! # Example: a fallback stack over scripted providers
//!
//! The primary is throttled; its retry layer sees a ready secondary and hands
//! the request on at once, and the answer's attempts trail says so.
//!
//! ```
//! use std::time::Duration;
//! use palisade_core::testing::ScriptedProvider;
//! use palisade_core::{AttemptOutcome, ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt};
//! use palisade_stack::{Candidate, Fallback, RetryLayer, RetryPolicy, TimeoutLayer};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let primary = ScriptedProvider::new("primary")
//!     .then_error(ProviderError::throttled("slow down", Some(Duration::from_secs(2))));
//! let secondary = ScriptedProvider::new("secondary").then_text("hello");
//!
//! let candidate = |p: ScriptedProvider| {
//!     Candidate::new(
//!         p.layer(TimeoutLayer::per_attempt(Duration::from_secs(30)))
//!             .layer(RetryLayer::new(RetryPolicy::default())),
//!     )
//! };
//! let stack = Fallback::new([candidate(primary.clone()), candidate(secondary)]);
//!
//! let answer = stack.complete(ChatRequest::user("hi")).await.unwrap();
//! assert_eq!(answer.text_content(), "hello");
//! assert_eq!(answer.served_by.as_str(), "secondary");
//! assert!(matches!(
//!     answer.attempts[0].outcome,
//!     AttemptOutcome::Failed { kind: ErrorKind::Throttled, .. }
//! ));
//! // The primary asked for 2 s; the next request skips it without a call.
//! assert!(stack.candidates()[0].cooldown_remaining().is_some());
//! # }
//! ```
//!
//! # Layers
//!
//! | module | what it does |
//! |---|---|
//! | [`retry`] | attempts, total time, backoff (exponential; full, equal, decorrelated, additive jitter), Retry-After, retry budget |
//! | [`timeout`] | per-attempt limit and overall deadline, typed [`TimeoutError`] |
//! | [`fallback`] | candidates, routing, cooldowns, context-window and content-policy fallback, waiting for recovery, hedging |
//! | [`routing`] | priority, weighted random, least in flight, lowest latency, cheapest first, custom [`Router`] |
//! | [`cost`], [`budget`] | price table, cost per answer, budgets per window and tag |
//! | [`alert`] | alert-only thresholds: spend per calendar month, failed calls per window, as callbacks and `warn` events |
//! | [`batch`] | bounded-concurrency batches with priorities, progress and dead letters |
//! | [`stats`] | one serde [`StackStats`] snapshot |
//! | [`builder`] | [`StackBuilder`]: the whole canonical stack from one [`StackConfig`] (TOML, documented in `docs/config.md`) |
//!
//! Every decision is a `tracing` event inside a span per call and per attempt,
//! named after the OpenTelemetry GenAI conventions (see the `telemetry` table
//! in `docs/config.md`).
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `metrics` | no | counters and histograms through the [`metrics`](https://docs.rs/metrics) facade |

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod alert;
pub mod batch;
pub mod budget;
pub mod builder;
pub mod cost;
pub mod fallback;
mod first_event;
pub mod retry;
pub mod routing;
pub mod stats;
mod telemetry;
pub mod timeout;

pub use alert::{Alert, AlertConfig, UtcClock};
pub use batch::{
    BatchExecutor, BatchProgress, BatchReport, DeadLetter, DeadLetterStore, DeadLetterStoreError,
    FailureRecord, MemoryDeadLetterStore, ReplayReport,
};
pub use budget::{Budget, BudgetConfig, BudgetExceeded, BudgetLayer};
pub use builder::{
    CandidateConfig, FactoryError, FallbackStack, ProviderKind, SIDECAR_ENV_VARS, StackBuilder,
    StackConfig, StackConfigError,
};
#[allow(deprecated)]
pub use cost::ModelPrice;
pub use cost::PriceTable;
pub use fallback::{
    Candidate, CandidateProbe, Fallback, FallbackConfig, FallbackError, HedgeConfig, OverloadConfig,
};
/// The one price type, from `palisade-core`.
pub use palisade_core::Price;
pub use retry::{Backoff, Jitter, Retry, RetryLayer, RetryPolicy};
pub use routing::{Router, RoutingStrategy};
pub use stats::{CandidateSnapshot, StackStats};
pub use timeout::{Timeout, TimeoutConfig, TimeoutError, TimeoutLayer};

/// The configuration guide's snippets, checked as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/config.md")]
mod config_guide {}
