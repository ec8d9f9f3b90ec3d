//! Bedrock's error answers: the exception a [`ProviderError`] becomes on the
//! wire, and the raw [`WireFault`]s a test injects to exercise a client's
//! error mapping (codes and messages a provider cannot express).

use std::time::Duration;

use palisade_core::{ErrorKind, ProviderError};

/// An error answer in Bedrock's wire form: HTTP status, `x-amzn-ErrorType`
/// code and message, or the same as an exception event inside a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AwsException {
    pub(crate) status: u16,
    /// The `x-amzn-ErrorType` header; `None` sends no header (an unmodelled error).
    pub(crate) code: Option<String>,
    pub(crate) message: String,
    pub(crate) retry_after: Option<Duration>,
}

impl AwsException {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: Some(code.to_owned()),
            message: message.into(),
            retry_after: None,
        }
    }

    /// 400 ValidationException: what Bedrock answers to a malformed request.
    pub(crate) fn validation(message: impl Into<String>) -> Self {
        Self::new(400, "ValidationException", message)
    }

    /// The exception Bedrock would answer with for an error of this kind.
    ///
    /// | kind | status | `x-amzn-ErrorType` |
    /// |---|---|---|
    /// | Throttled | 429 | ThrottlingException |
    /// | Overloaded | 429 | ModelNotReadyException |
    /// | Unavailable | 503 | ServiceUnavailableException |
    /// | Timeout | 408 | ModelTimeoutException |
    /// | ContextWindowExceeded | 400 | ValidationException ("Input is too long for requested model.") |
    /// | QuotaExhausted | 400 | ServiceQuotaExceededException |
    /// | InvalidRequest | 400 | ValidationException |
    /// | Auth | 403 | AccessDeniedException |
    /// | NotFound | 404 | ResourceNotFoundException |
    /// | Internal, Network, Cancelled, other | 500 | InternalServerException |
    ///
    /// `ContentFiltered` never gets here: Bedrock reports it as a successful
    /// answer with stop reason `content_filtered` (see the routes).
    pub(crate) fn from_provider_error(err: &ProviderError) -> Self {
        let message = err.message().to_owned();
        let mut exception = match err.kind() {
            ErrorKind::Throttled => Self::new(429, "ThrottlingException", message),
            ErrorKind::Overloaded => Self::new(429, "ModelNotReadyException", message),
            ErrorKind::Unavailable => Self::new(503, "ServiceUnavailableException", message),
            ErrorKind::Timeout => Self::new(408, "ModelTimeoutException", message),
            ErrorKind::ContextWindowExceeded => Self::validation(format!(
                "Input is too long for requested model. ({message})"
            )),
            ErrorKind::QuotaExhausted => Self::new(400, "ServiceQuotaExceededException", message),
            ErrorKind::InvalidRequest => Self::validation(message),
            ErrorKind::Auth => Self::new(403, "AccessDeniedException", message),
            ErrorKind::NotFound => Self::new(404, "ResourceNotFoundException", message),
            // A dropped connection has no wire form a server can send on
            // purpose; the nearest answer is a server-side failure.
            _ => Self::new(500, "InternalServerException", message),
        };
        exception.retry_after = err.retry_after();
        exception
    }

    /// The `:exception-type` of this error inside a ConverseStream body.
    ///
    /// Only five exceptions are modelled in the stream; the others travel as
    /// `modelStreamErrorException` (or, for a non-standard code, as itself
    /// in lowerCamelCase, which SDKs surface as an unhandled error).
    pub(crate) fn stream_exception_type(&self) -> String {
        match self.code.as_deref() {
            Some("ThrottlingException") => "throttlingException".to_owned(),
            Some("ServiceUnavailableException" | "ModelNotReadyException") => {
                "serviceUnavailableException".to_owned()
            }
            Some("ValidationException") => "validationException".to_owned(),
            Some("InternalServerException") => "internalServerException".to_owned(),
            _ => "modelStreamErrorException".to_owned(),
        }
    }
}

/// A raw error answer to inject for the next matching request, for testing a
/// client's error mapping against exactly what Bedrock sends.
///
/// Queue one with [`FakeBedrockServer::inject`]; each fault answers one
/// request and is then gone.
///
/// ```
/// use palisade_sim::bedrock_server::WireFault;
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
    pub(crate) fn applies_to(&self, operation: super::Operation) -> bool {
        match self {
            WireFault::Http { .. } => true,
            WireFault::MidStream { .. } => operation == super::Operation::ConverseStream,
        }
    }
}
