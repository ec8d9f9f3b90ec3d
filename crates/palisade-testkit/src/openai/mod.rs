//! A fake OpenAI-compatible server, in process, speaking the Chat
//! Completions wire format, so a real client (reqwest, the official SDKs)
//! is tested without an account or a network.
//!
//! It serves any [`Provider`](palisade_core::Provider) per model: each body
//! is checked as OpenAI checks it and translated into a
//! [`ChatRequest`](palisade_core::ChatRequest), the provider answers, and
//! the answer is written back as OpenAI would: a `chat.completion` JSON, or
//! `chat.completion.chunk` server-sent events ending in `data: [DONE]`
//! (with a usage chunk when `stream_options.include_usage` is set).
//!
//! | route | |
//! |---|---|
//! | `POST /v1/chat/completions` | OpenAI and compatible servers; key as `Authorization: Bearer` |
//! | `POST /openai/deployments/{deployment}/chat/completions?api-version=…` | Azure OpenAI; key as `api-key`; the deployment is the model |
//!
//! Every answer carries `x-request-id`, and for a model with a [`Quota`]
//! `x-ratelimit-{limit,remaining,reset}-{requests,tokens}` (resets as
//! OpenAI writes them: `20ms`, `1.5s`, `6m0s`). Errors are
//! `{"error": {"message", "type", "param", "code"}}`:
//!
//! | cause | status | `type` / `code` |
//! |---|---|---|
//! | a malformed or unknown parameter | 400 | `invalid_request_error`, `param` names it |
//! | missing or wrong key | 401 | `invalid_request_error` / `invalid_api_key` |
//! | unknown model | 404 | `invalid_request_error` / `model_not_found` |
//! | quota (RPM / TPM) exceeded | 429 | `requests` or `tokens` / `rate_limit_exceeded`, `retry-after` and `retry-after-ms` |
//! | prompt + `max_tokens` over the model's [context window](FakeOpenAiBuilder::context_window) | 400 | `invalid_request_error` / `context_length_exceeded` |
//! | [`Fault::Down`] | 503 | `server_error` |
//! | [`Fault::QuotaExhausted`] | 429 | `insufficient_quota` / `insufficient_quota` |
//! | [`Fault::ContentFilter`] or a provider's `ContentFiltered` error | 200 | `finish_reason: content_filter` |
//! | a provider error | by kind: Throttled 429, Unavailable / Overloaded 503, Timeout 504, QuotaExhausted 429, ContextWindowExceeded 400, Auth 401, NotFound 404, others 500 |
//! | a provider error inside a stream | 200 | `data: {"error": {...}}`, then the body ends |
//!
//! # Example
//!
//! ```
//! use palisade_testkit::ScriptedProvider;
//! use palisade_testkit::openai::{FakeOpenAi, Fault, Quota};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let server = FakeOpenAi::builder()
//!     .model("gpt-4o-mini", ScriptedProvider::new("mini").then_text("hi"))
//!     .quota("gpt-4o-mini", Quota::new(60, 100_000))
//!     .api_key("sk-test")
//!     .bind("127.0.0.1:0")
//!     .await?;
//! assert!(server.base_url().ends_with("/v1"));
//! server.set_fault("gpt-4o-mini", Fault::Down); // 503 until cleared
//! server.clear_fault("gpt-4o-mini");
//! server.inject("gpt-4o-mini", Fault::StreamCut { after_chunks: 2 }); // next stream only
//! # Ok(()) }
//! ```
//!
//! The server runs on the tokio runtime that calls
//! [`bind`](FakeOpenAiBuilder::bind); quotas and slow faults use tokio time.

mod fault;
mod quota;
mod recording;
mod routes;
mod server;
mod state;
mod wire;

pub use fault::Fault;
pub use quota::Quota;
pub use recording::ReceivedRequest;
pub use server::{FakeOpenAi, FakeOpenAiBuilder, FakeOpenAiServer, FakeOpenAiStats};
