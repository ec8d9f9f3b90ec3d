//! Bedrock's error answers on the wire: the status, `x-amzn-ErrorType` code
//! and message a [`ProviderError`] becomes, as an HTTP answer or as an
//! exception frame inside a ConverseStream body.

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
