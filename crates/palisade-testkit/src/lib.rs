//! Test doubles for code that calls LLM providers: wire-level fake provider
//! servers, so a real client (the AWS SDK, reqwest) is tested against the
//! real protocol without an account or a network, and a scripted
//! [`Provider`](palisade_core::Provider) for tests above the wire.
//!
//! This crate is for tests, examples and local tools; no production crate of
//! Palisade depends on it.
//!
//! # A scripted provider
//!
//! [`ScriptedProvider`] (from `palisade_core::testing`, re-exported here)
//! answers with programmed responses, errors and latencies on tokio time and
//! records every call:
//!
//! ```
//! use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError};
//! use palisade_testkit::ScriptedProvider;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let model = ScriptedProvider::new("primary")
//!     .then_error(ProviderError::new(ErrorKind::Throttled, "slow down"))
//!     .then_text("hello");
//! let first = model.complete(ChatRequest::user("hi")).await.unwrap_err();
//! assert_eq!(first.kind(), ErrorKind::Throttled);
//! let second = model.complete(ChatRequest::user("hi")).await.unwrap();
//! assert_eq!(second.text_content(), "hello");
//! assert_eq!(model.call_count(), 2);
//! # }
//! ```
//!
//! # Fake servers
//!
//! Each fake server serves any `Provider` per model id behind one provider's
//! wire protocol, and is laid out like that provider's crate: routes, wire
//! types (requests in, responses and stream frames out, exceptions), and the
//! faults a test injects. The Bedrock server is in `bedrock`, the Anthropic
//! Messages API server in `anthropic`, the OpenAI-compatible one in `openai`.
//!
//! # Module hierarchy
//!
//! [`module_graph`] reads a crate's `src/` and finds import cycles between
//! its modules; palisade-limit and palisade-breaker test themselves with it.
//!
//! # Feature flags
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `bedrock` | no | `bedrock`: the fake AWS Bedrock Runtime server (Converse, ConverseStream, CountTokens) |
//! | `anthropic` | no | `anthropic`: the fake Anthropic Messages API server (JSON and SSE, quotas with `anthropic-ratelimit-*` headers, faults) |
//! | `openai` | no | `openai`: the fake OpenAI-compatible server (Chat Completions, JSON and SSE, Azure routes, quotas, faults) |

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

#[cfg(feature = "anthropic")]
pub mod anthropic;
#[cfg(feature = "bedrock")]
pub mod bedrock;
pub mod module_graph;
#[cfg(feature = "openai")]
pub mod openai;
pub mod python;

pub use palisade_core::testing::{Outcome, RecordedCall, ScriptedProvider, Step};
