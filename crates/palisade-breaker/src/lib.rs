//! Circuit breakers for LLM providers: stop sending to a model that is
//! throttled or failing, probe it carefully, and come back without a manual
//! reset.
//!
//! - [`CircuitBreaker`]: the state machine (`Closed → Open → HalfOpen →
//!   Closed`, back to `Open` on a failed probe, plus [`isolate`] and
//!   [`reset`]), with trip conditions after resilience4j and Polly:
//!   consecutive failures, failure rate and slow-call rate over a count- or
//!   time-based sliding window with a minimum number of calls.
//! - [`OutcomePolicy`]: which [`ErrorKind`](palisade_core::ErrorKind)s count.
//!   By default a provider's trouble (throttled, overloaded, unavailable,
//!   timeout, network, internal) counts and a caller's bad request does not.
//!   A `Throttled` error's Retry-After keeps an opening circuit open at least
//!   that long.
//! - [`OpenDuration`]: base × consecutive openings (or exponential, or the
//!   seed design's 60 s × failures), capped, with jitter.
//! - [`CircuitBreakerLayer`]: the breaker around any
//!   [`Provider`](palisade_core::Provider), as a [`Breaker`]; refuses at once with a typed error
//!   while open and reports [`Readiness::Unavailable`] so fallback skips it.
//! - [`HealthRegistry`]: breakers by provider id, serde snapshots for a health
//!   endpoint, reset of one or all.
//! - [`BreakerStore`]: sharing trips and probe slots across instances
//!   (`palisade-redis`); [`InMemoryStore`] in-process.
//!
//! State changes are `tracing` events (target `palisade_breaker`, with
//! `gen_ai.request.model`) and, optionally, calls to a [`StateListener`].
//! All timing uses tokio time, so tests run on a paused clock.
//!
//! [`isolate`]: CircuitBreaker::isolate
//! [`reset`]: CircuitBreaker::reset
//! [`Readiness::Unavailable`]: palisade_core::Readiness::Unavailable
//!
//! # Example
//!
//! A model that throttles five times in a row trips the breaker; while it is
//! open the model is not called at all; after the open duration one probe goes
//! through and, succeeding, closes it.
//!
//! ```
//! use std::time::Duration;
//! use palisade_breaker::{
//!     BreakerConfig, BreakerOpen, BreakerState, CircuitBreaker, CircuitBreakerLayer, OpenDuration,
//! };
//! use palisade_core::testing::ScriptedProvider;
//! use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt, Readiness};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let config = BreakerConfig::default()
//!     .consecutive_failures(5) // the default: trips after 5 failures in a row
//!     .open_duration(OpenDuration::default().base(Duration::from_secs(30)).jitter(0.0));
//! let breaker = CircuitBreaker::new("bedrock/model-a", config).unwrap();
//!
//! let model = ScriptedProvider::new("bedrock/model-a")
//!     .then_errors(5, &ProviderError::throttled("slow down", None))
//!     .then_text("back again");
//! let guarded = model.clone().layer(CircuitBreakerLayer::new(breaker.clone()));
//!
//! for _ in 0..5 {
//!     let err = guarded.complete(ChatRequest::user("hi")).await.unwrap_err();
//!     assert_eq!(err.kind(), ErrorKind::Throttled);
//! }
//! assert_eq!(breaker.state(), BreakerState::Open);
//!
//! // Refused without calling the model, as an `Unavailable` with retry_after.
//! let err = guarded.complete(ChatRequest::user("hi")).await.unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Unavailable);
//! assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
//! assert!(BreakerOpen::from_provider_error(&err).is_some());
//! assert_eq!(model.call_count(), 5);
//! assert_eq!(
//!     guarded.readiness(),
//!     Readiness::Unavailable { retry_after: Duration::from_secs(30) }
//! );
//!
//! // After the open duration, one probe; its success closes the circuit.
//! tokio::time::advance(Duration::from_secs(30)).await;
//! let answer = guarded.complete(ChatRequest::user("hi")).await.unwrap();
//! assert_eq!(answer.text_content(), "back again");
//! assert_eq!(breaker.state(), BreakerState::Closed);
//! # }
//! ```
//!
//! # The model in brief
//!
//! - **Closed.** Calls flow. Each outcome the policy counts enters the sliding
//!   window; the circuit opens when any enabled condition is met: the run of
//!   consecutive failures reaches `consecutive_failures`, or — once the
//!   window holds `minimum_calls` — the failure rate or slow-call rate reaches
//!   its threshold. Ignored outcomes neither count nor break a run.
//! - **Open.** Calls are refused with [`BreakerOpen`] (time until half-open).
//!   The n-th consecutive opening lasts [`OpenDuration::nominal`]`(n)`, less
//!   jitter, but at least until any Retry-After a counted failure carried.
//! - **HalfOpen.** At most `half_open.max_probes` probes at once; each refused
//!   caller is told `busy_retry_after`. `successes_to_close` successful probes
//!   close the circuit (clearing the window and the growth); one counted
//!   failure (or slow probe, with the slow-call condition on) reopens it for
//!   the next, longer duration.
//! - **Isolated.** Forced open by hand until [`CircuitBreaker::reset`].
//!
//! An outcome counts only in the state its call was admitted in: calls still
//! in flight when the circuit trips do not vote on the half-open state.
//!
//! # Cost
//!
//! In the closed state, admission is one atomic load and recording a few
//! relaxed atomic operations; no lock, no store call, and no clock read unless
//! a time window or the slow-call condition needs one. The measured overhead
//! of the layer is in `docs/benchmarks.md`.
//!
//! The guide, `docs/breaker.md` in the repository, covers every key, the
//! layer's stream semantics, the health snapshot and the store contract.
//! `cargo run -p palisade-breaker --example model_outage` plays a model outage
//! and recovery on a paused clock, with the events and the final snapshot.
//!
//! # Feature flags
//!
//! None: everything is always built.
//!
//! # Guide
//!
//! `docs/breaker.md` is compiled into the crate's doctests (not rendered
//! here), so its snippets cannot go stale.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod breaker;
mod config;
mod error;
mod events;
pub mod layer;
mod open_duration;
mod permit;
mod policy;
mod registry;
mod setters;
mod snapshot;
mod state;
pub mod store;
mod window;

pub use breaker::{CircuitBreaker, CircuitBreakerBuilder};
pub use config::{
    BreakerConfig, ConfigError, Growth, HalfOpenConfig, MAX_COUNT_WINDOW, MAX_TIME_BUCKETS,
    OpenDuration, SlidingWindow,
};
pub use error::BreakerOpen;
pub use events::{StateChange, StateListener, TransitionReason};
#[allow(deprecated)]
pub use layer::BreakerProvider;
pub use layer::{Breaker, BreakerStream, CircuitBreakerLayer};
pub use permit::Permit;
pub use policy::{Outcome, OutcomePolicy};
pub use registry::HealthRegistry;
pub use snapshot::HealthSnapshot;
pub use state::BreakerState;
pub use store::{BreakerStore, ISOLATED_RETRY_AFTER, InMemoryStore, SharedState};

/// The breaker guide's snippets, checked as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/breaker.md")]
mod breaker_guide {}
