//! A Palisade [`Provider`](palisade_core::Provider) over the Anthropic
//! Messages API (`POST /v1/messages`), on `reqwest` with rustls: complete and
//! SSE stream, tools, extended thinking with signatures, prompt caching,
//! images and PDF documents, structured output, service tiers, every failure
//! classified into the core [`ErrorKind`](palisade_core::ErrorKind) taxonomy,
//! and the `anthropic-ratelimit-*` headers on every answer and error.
//!
//! # Example
//!
//! Against the fake Anthropic server of `palisade-testkit` (the real reqwest
//! client, the real wire format, no account):
//!
//! ```
//! use palisade_anthropic::{AnthropicProvider, ApiKey};
//! use palisade_core::{ChatRequest, Provider};
//! use palisade_testkit::ScriptedProvider;
//! use palisade_testkit::anthropic::FakeAnthropic;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = FakeAnthropic::builder()
//!     .model("claude-sonnet-4-5", ScriptedProvider::new("sonnet").then_text("Hello from the fake"))
//!     .bind("127.0.0.1:0")
//!     .await?;
//!
//! let provider = AnthropicProvider::builder("claude-sonnet-4-5")
//!     .base_url(server.base_url())
//!     .api_key(ApiKey::new("sk-ant-test"))
//!     .build()?;
//!
//! let answer = provider.complete(ChatRequest::user("Hi")).await?;
//! assert_eq!(answer.text_content(), "Hello from the fake");
//! assert!(answer.rate_limit.is_some()); // anthropic-ratelimit-* headers, for the limiter
//! # Ok(()) }
//! ```
//!
//! # Versions and auth
//!
//! `anthropic-version` is a setting ([`ApiVersion`]), default `2023-06-01`
//! with `x-api-key`. `2026-10-21` (what the 2026 SDK majors send, with
//! `Authorization: Bearer`) refuses `temperature`, `top_p`, `top_k` and
//! documents in assistant turns; the provider refuses those locally with
//! `InvalidRequest` naming the field. [`AuthScheme`] picks the header
//! independently of the version.
//!
//! # Field mapping
//!
//! | `ChatRequest` field | Messages API |
//! |---|---|
//! | `system` (+ `system_cache_point`) | `system` (a string, or one text block with `cache_control`) |
//! | `messages` | `messages`; blocks: `text`, `json` (as text), `image` (base64 or URL), `document` (PDF base64 / URL, text formats as a text source; others refused), `tool_use`, `tool_result`, `reasoning` → `thinking` (signature required), `redacted_reasoning` → `redacted_thinking`, `cache_point` → `cache_control` on the block before it |
//! | `tools` (+ `tools_cache_point`) | `tools` (`cache_control` on the last tool) |
//! | `tool_choice`, `parallel_tool_calls` | `tool_choice` (`auto` / `any` / `none` / `tool`), `disable_parallel_tool_use` |
//! | `max_tokens`, `temperature`, `top_p`, `stop_sequences` | the same names (sampling refused under `2026-10-21`) |
//! | `thinking` | `thinking: {type: enabled, budget_tokens}` (budget ≥ 1024) |
//! | `structured_output` | a forced tool (default), or `output_config.format` ([`StructuredOutputMode::Native`]) |
//! | `service_tier` | `default` → `standard_only`, `priority` → `auto`; others refused |
//! | `passthrough` | merged into the body's top level (e.g. `top_k`, `metadata`); a key the provider sets itself is refused |
//! | `metadata` | not sent (the stack reads it) |
//!
//! At most four cache points (system, tools and message blocks together); a
//! 1 h point after a 5 min one is refused, as the API does.
//!
//! # Retries
//!
//! None: reqwest does not retry, and the provider does not either. The
//! stack's retry layer reads the error's kind, `retry-after` and rate-limit
//! snapshot.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod config;
mod provider;
#[cfg(feature = "limit")]
mod quota;
mod request;
mod response;
mod secret;
mod stream;
mod wire;

pub use config::{
    AnthropicConfig, AnthropicConfigError, ApiVersion, AuthScheme, DEFAULT_BASE_URL,
    StructuredOutputMode,
};
pub use provider::{AnthropicProvider, AnthropicProviderBuilder, DEFAULT_CONTEXT_WINDOW};
#[cfg(feature = "limit")]
pub use quota::AnthropicQuotaProfile;
pub use request::{MAX_CACHE_POINTS, MIN_THINKING_BUDGET, Refusal};
pub use secret::ApiKey;
