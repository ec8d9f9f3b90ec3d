//! Faults a test injects to exercise a client's error mapping: raw error
//! answers (codes and messages a provider cannot express) and exception
//! frames in the middle of a stream.

use std::time::Duration;

use super::recording::Operation;

/// A raw error answer to inject for the next matching request, for testing a
/// client's error mapping against exactly what Bedrock sends.
///
/// Queue one with [`FakeBedrockServer::inject`]; each fault answers one
/// request and is then gone.
///
/// ```
/// use palisade_testkit::bedrock::WireFault;
///
/// // Bedrock's answer to an on-demand call of a model that needs a profile:
/// let fault = WireFault::on_demand_not_supported();
/// // A 429 whose code no SDK knows:
/// let fault = WireFault::http(429, Some("SomethingNewException"), "slow down");
/// // Three events of the answer, then a throttling exception inside the stream:
/// let fault = WireFault::mid_stream_throttling(3);
/// ```
///
/// [`FakeBedrockServer::inject`]: super::FakeBedrockServer::inject
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireFault {
    /// Answer any operation with this HTTP error instead of calling the provider.
    Http {
        /// The HTTP status.
        status: u16,
        /// The `x-amzn-ErrorType` header; `None` sends none.
        error_type: Option<String>,
        /// The body's `message`.
        message: String,
        /// A `Retry-After` header in whole seconds, if any.
        retry_after: Option<Duration>,
    },
    /// ConverseStream only: stream `after_events` event frames of the
    /// provider's answer, then an exception frame, then end the body. The
    /// HTTP status stays 200. Converse and CountTokens calls pass it by.
    MidStream {
        /// Event frames sent before the exception (`messageStart` counts).
        after_events: usize,
        /// The `:exception-type` header, e.g. `throttlingException`.
        exception_type: String,
        /// The exception payload's `message`.
        message: String,
    },
}

impl WireFault {
    /// An HTTP error with an optional `x-amzn-ErrorType`.
    pub fn http(status: u16, error_type: Option<&str>, message: impl Into<String>) -> Self {
        WireFault::Http {
            status,
            error_type: error_type.map(str::to_owned),
            message: message.into(),
            retry_after: None,
        }
    }

    /// An exception frame inside a ConverseStream body after `after_events` events.
    pub fn mid_stream(
        after_events: usize,
        exception_type: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        WireFault::MidStream {
            after_events,
            exception_type: exception_type.into(),
            message: message.into(),
        }
    }

    /// Adds a `Retry-After` header (whole seconds, rounded up) to an HTTP fault.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        if let WireFault::Http { retry_after, .. } = &mut self {
            *retry_after = Some(after);
        }
        self
    }

    /// 429 ThrottlingException, as Bedrock sends when a rate or token quota is hit.
    pub fn throttling() -> Self {
        Self::http(
            429,
            Some("ThrottlingException"),
            "Too many requests, please wait before trying again.",
        )
    }

    /// 400 ServiceQuotaExceededException (not in Converse's modelled errors,
    /// so SDKs surface it as unhandled with this code).
    pub fn service_quota_exceeded() -> Self {
        Self::http(
            400,
            Some("ServiceQuotaExceededException"),
            "Your request exceeded the service quota for this account.",
        )
    }

    /// 400 ValidationException for a model id that needs an inference profile.
    pub fn on_demand_not_supported() -> Self {
        Self::http(
            400,
            Some("ValidationException"),
            "Invocation of model ID anthropic.claude-sonnet-4-20250514-v1:0 with on-demand \
             throughput isn\u{2019}t supported. Retry your request with the ID or ARN of an \
             inference profile that contains this model.",
        )
    }

    /// 400 ValidationException for a prompt longer than the context window.
    pub fn input_too_long() -> Self {
        Self::http(
            400,
            Some("ValidationException"),
            "Input is too long for requested model.",
        )
    }

    /// A `throttlingException` frame after `after_events` events of a stream.
    pub fn mid_stream_throttling(after_events: usize) -> Self {
        Self::mid_stream(
            after_events,
            "throttlingException",
            "Too many tokens, please wait before trying again.",
        )
    }

    /// Whether this fault answers a request of `operation`.
    pub(crate) fn applies_to(&self, operation: Operation) -> bool {
        match self {
            WireFault::Http { .. } => true,
            WireFault::MidStream { .. } => operation == Operation::ConverseStream,
        }
    }
}
