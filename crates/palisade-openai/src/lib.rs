//! A Palisade [`Provider`](palisade_core::Provider) for OpenAI Chat
//! Completions and the servers that speak it: OpenAI, Azure OpenAI, vLLM,
//! Ollama, a LiteLLM proxy, OpenRouter. `complete` and `stream` (SSE, with
//! `stream_options.include_usage`), tools and tool-call deltas, images,
//! PDF documents, structured output (`response_format` with a JSON schema),
//! usage with cached tokens, and every failure classified into the core
//! [`ErrorKind`](palisade_core::ErrorKind) taxonomy with the status,
//! `Retry-After`, request id and `x-ratelimit-*` snapshot kept.
//!
//! # Example
//!
//! Against the fake OpenAI-compatible server of `palisade-testkit` (the
//! real reqwest client, the real wire format):
//!
//! ```
//! use palisade_core::{ChatRequest, Provider};
//! use palisade_openai::OpenAiProvider;
//! use palisade_testkit::ScriptedProvider;
//! use palisade_testkit::openai::{FakeOpenAi, Quota};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = FakeOpenAi::builder()
//!     .model("gpt-4o-mini", ScriptedProvider::new("mini").then_text("Hello from the fake"))
//!     .quota("gpt-4o-mini", Quota::new(500, 200_000))
//!     .bind("127.0.0.1:0")
//!     .await?;
//!
//! let provider = OpenAiProvider::builder("gpt-4o-mini")
//!     .base_url(server.base_url())
//!     .api_key("sk-test")
//!     .build()?;
//!
//! let answer = provider.complete(ChatRequest::user("Hi")).await?;
//! assert_eq!(answer.text_content(), "Hello from the fake");
//! assert!(answer.rate_limit.is_some()); // x-ratelimit-* headers, for the limiter
//! assert_eq!(provider.context_window(), Some(128_000));
//! # Ok(()) }
//! ```
//!
//! # Servers
//!
//! | server | settings |
//! |---|---|
//! | OpenAI | the defaults; key from `OPENAI_API_KEY` ([`OpenAiProviderBuilder::api_key_from_env`]) |
//! | Azure OpenAI | `base_url("https://NAME.openai.azure.com")`, [`azure`](OpenAiProviderBuilder::azure)`(AzureConfig::new("deployment"))`: deployment URL, `api-version` query, `api-key` header |
//! | vLLM | `base_url("http://HOST:8000/v1")`, the served model name |
//! | Ollama | `base_url("http://localhost:11434/v1")`, a model tag; no key |
//! | LiteLLM proxy | its URL and a virtual key |
//! | OpenRouter | `base_url("https://openrouter.ai/api/v1")`, `vendor/model`, optional `HTTP-Referer` / `X-Title` [`header`](OpenAiProviderBuilder::header)s |
//!
//! Servers that accept less than OpenAI declare it with
//! [`OpenAiProviderBuilder::capabilities`], so routing skips them for
//! requests they cannot serve.
//!
//! # Requests
//!
//! Every core field is carried or refused with `InvalidRequest` naming it,
//! before anything is sent: the table is in [`request`]. Cache points are
//! accepted and not sent (OpenAI caches prefixes automatically); thinking
//! is refused.
//!
//! # Errors and retries
//!
//! The mapping table is in [`error`]. Neither reqwest nor this crate retries
//! (the client is built with `reqwest::retry::never()`): the stack's retry
//! layer is the one retry loop, and it reads each error's kind and
//! `Retry-After`.
//!
//! # Rate limits
//!
//! Every answer, stream and error carries the `x-ratelimit-*` snapshot
//! ([`ChatResponse::rate_limit`](palisade_core::ChatResponse::rate_limit),
//! [`ChatStream::rate_limit`](palisade_core::ChatStream::rate_limit),
//! [`ProviderError::rate_limit`](palisade_core::ProviderError::rate_limit)),
//! which `palisade_limit::RateLimitLayer` calibrates its limiter from. With
//! the `limit` feature, `OpenAiQuotaProfile` is the limiter's cost model for
//! OpenAI's token accounting (`max_tokens` stays charged).
//!
//! # Secrets
//!
//! The key is an [`ApiKey`]: redacted in `Debug`, with no `Display` or
//! `Serialize`; the auth header is marked sensitive; an error body that
//! echoes the key has it replaced by `[redacted]`.

#![cfg_attr(
    not(test),
    warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod catalog;
mod config;
pub mod error;
mod provider;
#[cfg(feature = "limit")]
mod quota;
pub mod request;
mod response;
mod secret;
mod stream;

pub use config::{
    AzureConfig, DEFAULT_API_KEY_ENV, DEFAULT_AZURE_API_VERSION, MaxTokensField, OPENAI_BASE_URL,
    OpenAiConfig,
};
pub use provider::{BuildError, OpenAiProvider, OpenAiProviderBuilder};
#[cfg(feature = "limit")]
pub use quota::OpenAiQuotaProfile;
pub use response::{service_tier, stop_reason};
pub use secret::ApiKey;
