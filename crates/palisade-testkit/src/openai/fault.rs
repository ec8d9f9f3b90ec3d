//! Fault states a test puts a model in: down, slow, out of quota, a context
//! window too small, content filtered, a stream cut mid-way, bad auth, a
//! rate limit, or any raw OpenAI error.

use std::time::Duration;

/// How the fake answers a model's requests while the fault holds.
///
/// Set one with [`FakeOpenAiServer::set_fault`] (holds until cleared) or
/// queue one with [`FakeOpenAiServer::inject`] (answers the next request it
/// applies to, then is gone).
///
/// [`FakeOpenAiServer::set_fault`]: super::FakeOpenAiServer::set_fault
/// [`FakeOpenAiServer::inject`]: super::FakeOpenAiServer::inject
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// 503 `server_error`: "The server is overloaded or not ready yet."
    Down,
    /// Wait this long (tokio time) before answering normally.
    Slow(Duration),
    /// 429 `insufficient_quota` (billing quota used up; not retryable).
    QuotaExhausted,
    /// 400 `context_length_exceeded`, whatever the request's size.
    ContextTooSmall,
    /// A 200 answer with no content and `finish_reason: content_filter`.
    ContentFilter,
    /// Streams only: send this many chunks of the answer, then end the body
    /// without `data: [DONE]` (as a dropped upstream or proxy does; ending
    /// it cleanly keeps the chunks already written deliverable).
    /// Non-streaming calls pass it by.
    StreamCut {
        /// Chunks sent before the cut (the role chunk counts).
        after_chunks: usize,
    },
    /// 401 `invalid_api_key`.
    AuthFailure,
    /// 429 `rate_limit_exceeded` with `retry-after` (whole seconds, rounded
    /// up) and `retry-after-ms`, whatever the quota says.
    RateLimited {
        /// The delay the answer asks for.
        retry_after: Duration,
    },
    /// Any error answer.
    Http {
        /// The status.
        status: u16,
        /// `error.type`.
        error_type: Option<String>,
        /// `error.code`.
        code: Option<String>,
        /// `error.message`.
        message: String,
    },
}

impl Fault {
    /// Whether the fault answers a request (streaming or not).
    pub(crate) fn applies_to(&self, streaming: bool) -> bool {
        !matches!(self, Fault::StreamCut { .. }) || streaming
    }
}
