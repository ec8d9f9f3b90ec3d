//! The ground every Palisade crate stands on: the [`Provider`] trait, the
//! request / response / stream types, the [`ErrorKind`] taxonomy, [`Layer`]s,
//! token estimation and request validation.
//!
//! A provider is any LLM API (or a layer around one). Layers wrap providers in
//! providers, so limits, breakers, retries and fallbacks compose around any
//! client and every layer can also be used alone.
//!
//! # Example: two layers and the order they run in
//!
//! `provider.layer(a).layer(b)` wraps inside-out: a call runs **`b`, then `a`**,
//! then the provider. Here `a` counts calls and `b` tags the request; the
//! provider sees the tag, and the log shows the order.
//!
//! ```
//! use std::sync::{Arc, Mutex};
//! use async_trait::async_trait;
//! use palisade_core::testing::ScriptedProvider;
//! use palisade_core::{
//!     ChatRequest, ChatResponse, ChatStream, Layer, Provider, ProviderError, ProviderExt,
//!     ProviderId,
//! };
//!
//! type Log = Arc<Mutex<Vec<&'static str>>>;
//!
//! /// Counts calls (and logs that it ran).
//! struct Count<P> { inner: P, log: Log }
//! struct CountLayer(Log);
//! impl<P: Provider> Layer<P> for CountLayer {
//!     type Provider = Count<P>;
//!     fn layer(&self, inner: P) -> Count<P> { Count { inner, log: self.0.clone() } }
//! }
//! #[async_trait]
//! impl<P: Provider> Provider for Count<P> {
//!     fn id(&self) -> &ProviderId { self.inner.id() }
//!     async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
//!         self.log.lock().unwrap().push("count");
//!         self.inner.complete(req).await
//!     }
//!     async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
//!         self.inner.stream(req).await
//!     }
//! }
//!
//! /// Adds a tag to the request's metadata (and logs that it ran).
//! struct Tag<P> { inner: P, log: Log }
//! struct TagLayer(Log);
//! impl<P: Provider> Layer<P> for TagLayer {
//!     type Provider = Tag<P>;
//!     fn layer(&self, inner: P) -> Tag<P> { Tag { inner, log: self.0.clone() } }
//! }
//! #[async_trait]
//! impl<P: Provider> Provider for Tag<P> {
//!     fn id(&self) -> &ProviderId { self.inner.id() }
//!     async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
//!         self.log.lock().unwrap().push("tag");
//!         self.inner.complete(req.with_tag("tenant=acme")).await
//!     }
//!     async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
//!         self.inner.stream(req.with_tag("tenant=acme")).await
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let log: Log = Arc::default();
//! let model = ScriptedProvider::new("model-a").then_text("hello");
//! let stack = model
//!     .clone()
//!     .layer(CountLayer(log.clone())) // inner
//!     .layer(TagLayer(log.clone())); // outer: runs first
//!
//! let answer = stack.complete(ChatRequest::user("hi")).await.unwrap();
//! assert_eq!(answer.text_content(), "hello");
//! assert_eq!(*log.lock().unwrap(), ["tag", "count"]);
//! assert_eq!(model.calls()[0].request.metadata.tags, ["tenant=acme"]);
//! # }
//! ```
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `testing` | no | [`testing::ScriptedProvider`], a scripted provider for tests |
//!
//! # Errors
//!
//! Every adapter maps its failures into [`ProviderError`] with one
//! [`ErrorKind`]; the table on [`ErrorKind`] says which kinds are retried,
//! which move a fallback on, and which count against a circuit breaker.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod capabilities;
mod content;
pub mod duration;
mod error;
mod estimate;
mod expected_wait;
pub mod http;
mod layer;
mod price;
mod priority;
mod provider;
mod request;
mod response;
mod stream;
mod structured;
#[cfg(feature = "testing")]
pub mod testing;
mod tier;
mod tools;
mod validate;

pub use capabilities::{Capabilities, Feature, StructuredOutputSupport, Unsupported};
pub use content::{CachePoint, CacheTtl, ContentBlock, DocumentFormat, ImageFormat, MediaSource};
pub use error::{ErrorKind, ErrorOrigin, ProviderError};
pub use estimate::{
    DEFAULT_IMAGE_TOKENS, HeuristicEstimator, PDF_PAGE_TOKENS, TOOL_USE_SYSTEM_PROMPT_TOKENS,
    TokenEstimator, block_tokens, tool_definition_tokens,
};
pub use expected_wait::ExpectedWait;
pub use layer::{Identity, Layer, LayerStack, ProviderExt, Stack};
pub use price::Price;
pub use priority::UnknownPriority;
pub use provider::{Provider, ProviderId, Readiness, SharedProvider};
pub use request::{
    ChatRequest, DEFAULT_MAX_TOKENS, Message, Priority, RequestMetadata, Role, ThinkingConfig,
};
pub use response::{
    Attempt, AttemptOutcome, ChatResponse, Reasoning, SkipReason, StopReason, Usage,
};
pub use stream::{
    ChatStream, EventStream, StreamAssemblyError, StreamEvent, collect_stream, stream_from_response,
};
pub use structured::{SchemaError, StructuredOutput};
pub use tier::{ServiceTier, TierSet};
pub use tools::{Tool, ToolChoice};
pub use validate::{
    ValidationError, ValidationErrorKind, ValidationRules, validate, validate_for,
    validate_for_with, validate_with,
};

/// The request guide's Rust snippets, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../../docs/requests.md")]
mod requests_guide {}

/// Re-exported so layer authors use the same `async_trait` as the trait.
pub use async_trait::async_trait;
