//! Faults a test sets on a model: error answers the server sends instead of
//! calling the provider, latency, a smaller context window, a stream cut
//! mid-way or an `error` event inside it.

use std::time::Duration;

/// A fault for one model, queued once with
/// [`FakeAnthropicServer::inject`](super::FakeAnthropicServer::inject) (the
/// next request it applies to, then gone) or set with
/// [`FakeAnthropicServer::set_fault`](super::FakeAnthropicServer::set_fault)
/// (every request until cleared).
///
/// ```
/// use std::time::Duration;
/// use palisade_testkit::anthropic::Fault;
///
/// let overloaded = Fault::overloaded(); // 529 overloaded_error
/// let down = Fault::down(); // 500 api_error
/// let slow = Fault::Slow(Duration::from_secs(30));
/// let cut = Fault::CutStream { after_events: 3 };
/// let throttled = Fault::rate_limited(Duration::from_secs(2));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this error: `{"type":"error","error":{"type","message"}}`.
    Http {
        /// The status.
        status: u16,
        /// `error.type`, e.g. `overloaded_error`.
        error_type: String,
        /// `error.message`.
        message: String,
        /// A `retry-after` header in whole seconds (rounded up), if any.
        retry_after: Option<Duration>,
    },
    /// Wait this long (tokio time) before answering, then answer normally.
    Slow(Duration),
    /// The model's context window is this many tokens: a longer prompt gets
    /// 400 `invalid_request_error` "prompt is too long: N tokens > M maximum".
    ContextWindow(u32),
    /// Streams only: send `after_events` SSE events of the answer, then end
    /// the body without `message_stop` (a connection cut mid-way).
    CutStream {
        /// SSE events sent before the cut (`message_start` counts).
        after_events: usize,
    },
    /// Streams only: send `after_events` SSE events, then an `error` event,
    /// then end the body.
    ErrorEvent {
        /// SSE events sent before the error.
        after_events: usize,
        /// `error.type`, e.g. `overloaded_error`.
        error_type: String,
        /// `error.message`.
        message: String,
    },
}

impl Fault {
    /// An HTTP error answer.
    pub fn http(status: u16, error_type: &str, message: impl Into<String>) -> Self {
        Fault::Http {
            status,
            error_type: error_type.to_owned(),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 529 `overloaded_error`, as the API sends under load.
    pub fn overloaded() -> Self {
        Self::http(529, "overloaded_error", "Overloaded")
    }

    /// 429 `rate_limit_error` with `retry-after`.
    pub fn rate_limited(retry_after: Duration) -> Self {
        Fault::Http {
            status: 429,
            error_type: "rate_limit_error".into(),
            message: "Number of request tokens has exceeded your per-minute rate limit".into(),
            retry_after: Some(retry_after),
        }
    }

    /// 500 `api_error`: the service is down.
    pub fn down() -> Self {
        Self::http(500, "api_error", "Internal server error")
    }

    /// 401 `authentication_error`.
    pub fn auth_failure() -> Self {
        Self::http(401, "authentication_error", "invalid x-api-key")
    }

    /// 400 `billing_error`: the credit balance is exhausted (not retryable).
    pub fn billing() -> Self {
        Self::http(
            400,
            "billing_error",
            "Your credit balance is too low to access the Anthropic API.",
        )
    }

    /// An `overloaded_error` event after `after_events` SSE events.
    pub fn overloaded_event(after_events: usize) -> Self {
        Fault::ErrorEvent {
            after_events,
            error_type: "overloaded_error".into(),
            message: "Overloaded".into(),
        }
    }

    /// Whether it applies to a streaming (`true`) or whole call.
    pub(crate) fn applies_to(&self, stream: bool) -> bool {
        match self {
            Fault::CutStream { .. } | Fault::ErrorEvent { .. } => stream,
            _ => true,
        }
    }
}
