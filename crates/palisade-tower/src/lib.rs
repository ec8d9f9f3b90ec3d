//! tower interop for Palisade: a bridge, not a second core.
//!
//! Four small adapters, a service and a layer each way, after tower's own `service_fn`,
//! `MapErr` and `BoxCloneService`; none re-implements middleware, and errors
//! are converted only where they cross:
//!
//! | adapter | from | to |
//! |---|---|---|
//! | [`ProviderService`] | a palisade [`Provider`](palisade_core::Provider) | a `tower::Service<ChatRequest>` (`Response = ChatResponse`, `Error = ProviderError`), cloneable, `poll_ready` from `readiness()` |
//! | [`ServiceProvider`] | a `tower::Service<ChatRequest, Response = ChatResponse>` | a [`Provider`](palisade_core::Provider), its errors mapped back to [`ErrorKind`](palisade_core::ErrorKind)s |
//! | [`PalisadeLayer`] | a palisade [`Layer`](palisade_core::Layer) | a `tower::Layer`, for `ServiceBuilder` |
//! | [`TowerLayer`] | a `tower::Layer` | a palisade [`Layer`](palisade_core::Layer), for `ProviderExt::layer` and `LayerStack` |
//!
//! [`error`] has the mapping table from tower's `BoxError` back to
//! [`ProviderError`](palisade_core::ProviderError); [`WhenUnavailable`] says
//! why an unavailable provider makes `poll_ready` pending rather than fail,
//! and how to choose the other. The [`guide`] walks through both directions.
//!
//! # Example: tower and palisade layers in one stack
//!
//! A palisade circuit breaker inside a tower `ServiceBuilder` with tower's
//! timeout and concurrency limit; the model is slow, tower's `Elapsed` comes
//! back as [`ErrorKind::Timeout`](palisade_core::ErrorKind::Timeout), the
//! breaker counts it, opens, and `poll_ready` stops saying ready.
//!
//! ```
//! use std::time::Duration;
//! use palisade_breaker::{BreakerConfig, BreakerState, CircuitBreaker, CircuitBreakerLayer};
//! use palisade_core::testing::{Outcome, ScriptedProvider};
//! use palisade_core::{ChatRequest, ErrorKind};
//! use palisade_tower::{PalisadeLayer, ProviderService};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
//! let model = ScriptedProvider::new("model-a")
//!     .otherwise(Duration::from_secs(60), Outcome::Echo); // hangs for a minute
//!
//! let mut config = BreakerConfig::default();
//! config.consecutive_failures = Some(2);
//! let breaker = CircuitBreaker::new("model-a", config).unwrap();
//!
//! let mut service = ServiceBuilder::new()
//!     .concurrency_limit(8)
//!     .layer(PalisadeLayer::new("model-a", CircuitBreakerLayer::new(breaker.clone())))
//!     .timeout(Duration::from_secs(5))
//!     .service(ProviderService::new(model));
//!
//! for _ in 0..2 {
//!     let err = service.ready().await.unwrap().call(ChatRequest::user("hi")).await.unwrap_err();
//!     assert_eq!(err.kind(), ErrorKind::Timeout);
//! }
//! assert_eq!(breaker.state(), BreakerState::Open);
//!
//! // Open: the stack is not ready until the breaker lets a probe through.
//! let not_ready = tokio::time::timeout(Duration::from_secs(1), service.ready()).await;
//! assert!(not_ready.is_err());
//! # }
//! ```
//!
//! # Feature flags
//!
//! None. tower is a dependency with `util`, `timeout`, `load-shed` and
//! `limit` on, and is re-exported as [`tower`] so the facade's users reach
//! `ServiceBuilder`, `TimeoutLayer` and `ConcurrencyLimitLayer` without a
//! second dependency line.
//!
//! # Time
//!
//! `poll_ready`'s wait for recovery is a tokio timer, so it needs a tokio
//! runtime with time enabled (outside one it refuses instead of waiting),
//! and tests drive it with `tokio::time::pause()`.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod error;
#[doc = include_str!("../../../docs/tower.md")]
pub mod guide {}
mod palisade_layer;
mod provider;
mod ready;
mod service;
mod tower_layer;

pub use error::{NotReady, ServiceFailed, provider_error_from_box};
pub use palisade_layer::PalisadeLayer;
pub use provider::ServiceProvider;
pub use ready::WhenUnavailable;
pub use service::{ProviderService, ResponseFuture};
pub use tower_layer::TowerLayer;

/// The tower this crate is built against, re-exported.
pub use tower;
