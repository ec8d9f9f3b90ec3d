//! A fake Anthropic Messages API server, in process, speaking the real wire
//! format, so a real client (the reqwest-based `palisade-anthropic`, the
//! official SDKs) can be tested without an account or a network.
//!
//! It serves any [`Provider`](palisade_core::Provider) per model id: each
//! body is parsed strictly, translated into a
//! [`ChatRequest`](palisade_core::ChatRequest), answered by the provider and
//! written back as the API would.
//!
//! | route | answer |
//! |---|---|
//! | `POST /v1/messages` | JSON `message` (`content`, `stop_reason`, `usage` with cache reads, writes and their 5 min / 1 h split) |
//! | `POST /v1/messages` with `"stream": true` | SSE: `message_start`, `ping`, `content_block_start` / `_delta` / `_stop`, `message_delta`, `message_stop` |
//!
//! Every answer carries a `request-id` and, for a known model, the
//! `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
//! headers (resets as RFC 3339 times) of the model's [`Quota`]: requests,
//! input tokens and output tokens per minute, each a continuously refilled
//! bucket on tokio time. Cache reads do not count toward the input tokens.
//! A request over a limit gets 429 `rate_limit_error` with `retry-after`.
//!
//! Checked before the provider is called, in the API's order:
//!
//! | check | answer |
//! |---|---|
//! | no `x-api-key` / `Authorization: Bearer`, or not the configured key | 401 `authentication_error` |
//! | `anthropic-version` missing or unknown | 400 `invalid_request_error` |
//! | a fault ([`Fault`]) | its answer (429, 529 `overloaded_error`, 500 `api_error`, …), or latency |
//! | unknown fields, wrong types, empty text blocks, thinking budget < 1024 | 400 `invalid_request_error` naming the field |
//! | under `2026-10-21`: `temperature`, `top_p`, `top_k`; documents in assistant turns; citations on user text blocks | 400 `invalid_request_error` |
//! | unknown model | 404 `not_found_error` |
//! | [`palisade_core::validate`]: roles, a `tool_result` without its `tool_use`, … | 400 `invalid_request_error` |
//! | an echoed `thinking` block with a wrong signature; with thinking on, a tool-using assistant turn that does not start with its thinking | 400 `invalid_request_error` |
//! | a prompt longer than a [`Fault::ContextWindow`] | 400 "prompt is too long: N tokens > M maximum" |
//! | a quota exceeded | 429 `rate_limit_error`, `retry-after` |
//!
//! Thinking blocks are signed by the server, so a client that echoes them
//! unchanged passes and one that edits them does not. Cache points
//! (`cache_control`) work as a prefix cache: the first call writes, an
//! identical prefix later reads. Tool calls are scripted on the provider
//! (a [`ScriptedProvider`](crate::ScriptedProvider) answering with
//! `ContentBlock::ToolUse`).
//!
//! # Example
//!
//! ```
//! use palisade_testkit::ScriptedProvider;
//! use palisade_testkit::anthropic::{FakeAnthropic, Fault, Quota};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let server = FakeAnthropic::builder()
//!     .model_with_quota(
//!         "claude-sonnet-4-5",
//!         ScriptedProvider::new("sonnet").then_text("hello"),
//!         Quota::new(50, 30_000, 8_000),
//!     )
//!     .api_key("sk-ant-test")
//!     .bind("127.0.0.1:0")
//!     .await?;
//! assert!(server.base_url().starts_with("http://127.0.0.1:"));
//! server.inject("claude-sonnet-4-5", Fault::overloaded()); // the next call gets 529
//! server.shutdown().await;
//! # Ok(()) }
//! ```

mod cache;
mod fault;
mod quota;
mod recording;
mod request;
mod response;
mod routes;
mod server;
mod state;

pub use fault::Fault;
pub use quota::Quota;
pub use recording::ReceivedRequest;
pub use server::{FakeAnthropic, FakeAnthropicBuilder, FakeAnthropicServer};
