//! Every Bedrock failure, classified into the core [`ErrorKind`] taxonomy.
//!
//! # The mapping
//!
//! | Bedrock answer | HTTP | [`ErrorKind`] | why |
//! |---|---|---|---|
//! | `ThrottlingException` | 429 | `Throttled` | rate or token quota; back off and retry |
//! | `ServiceUnavailableException` | 503 | `Unavailable` | the service is down for now |
//! | `ModelNotReadyException` | 429 | `Overloaded` | the model is loading; retryable |
//! | `ModelTimeoutException` | 408 | `Timeout` | the model took too long |
//! | `InternalServerException`, `ModelErrorException`, `ModelStreamErrorException` | 500 / 424 | `Internal` | retryable; the stack's policy retries once, then falls back |
//! | `ServiceQuotaExceededException` (unmodelled on Converse: matched by code) | 400 | `QuotaExhausted` | a hard quota; waiting seconds won't help |
//! | `AccessDeniedException`, `UnrecognizedClientException`, `ExpiredTokenException`, signature errors | 403 | `Auth` | credentials, or no access to this model |
//! | `ResourceNotFoundException` | 404 | `NotFound` | wrong id, retired model (fallback-eligible) |
//! | `ValidationException` "…on-demand throughput isn't supported…", "…model identifier is invalid…", "…end of its life…" | 400 | `NotFound` | wrong id or a model that needs an inference profile (fallback-eligible) |
//! | `ValidationException` "Input is too long…", "…too many tokens…", "…context window / length / limit…" | 400 | `ContextWindowExceeded` | a larger model may fit |
//! | `ValidationException` "…tools.N.custom.input_schema…" (a tool schema the model rejects) | 400 | `InvalidRequest`, message starting `tools[N].input_schema:` | fix the schema; every model would refuse it |
//! | `ValidationException` "…messages.I.content.J.image…: image exceeds … maximum" (image too large) | 400 | `InvalidRequest`, message starting `messages[I].content[J]:` | shrink the image |
//! | `ValidationException` "…service tier … is not supported…" (unsupported tier) | 400 | `InvalidRequest`, message starting `service_tier:` | pick a tier the model offers |
//! | other `ValidationException`, `ConflictException` | 400 | `InvalidRequest` | every model would refuse it |
//! | unknown code with 429 | 429 | `Throttled` | |
//! | unknown code with 503 / 502, 504, 408, 401 / 403, 404, other 5xx, other 4xx | | `Unavailable`, `Timeout`, `Auth`, `NotFound`, `Internal`, `InvalidRequest` | by status |
//! | `throttlingException` inside a ConverseStream body (HTTP 200, no code) | 200 | `Throttled` | matched by the event's type |
//! | other exceptions inside a stream | 200 | as their HTTP counterparts | |
//! | SDK timeout (operation / attempt timeout), connect or read timeout | — | `Timeout` | |
//! | connection refused / reset, DNS, a stream cut mid-frame | — | `Network` | |
//! | credentials could not be loaded | — | `Auth` | |
//! | request could not be built | — | `InvalidRequest` | |
//! | an HTTP answer that cannot be parsed | — | `Internal` (`Network` when the body was cut by an I/O error) | |
//!
//! Every error keeps the AWS request id (`x-amzn-RequestId`), the HTTP status,
//! a `Retry-After` when the service sent one, and the SDK error as its source.

use std::error::Error as StdError;
use std::time::Duration;

use aws_sdk_bedrockruntime::config::http::HttpResponse;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::converse::ConverseError;
use aws_sdk_bedrockruntime::operation::converse_stream::ConverseStreamError;
use aws_sdk_bedrockruntime::operation::count_tokens::CountTokensError;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_smithy_types::event_stream::RawMessage;
use palisade_core::{ErrorKind, ProviderError, ProviderId};

/// Classifies a Bedrock error from its code, HTTP status and message: the
/// table in this module's docs, as a function.
///
/// `code` is the exception name (`ThrottlingException`); pass `None` when the
/// answer carried none, and the status decides.
///
/// ```
/// use palisade_bedrock::classify;
/// use palisade_core::ErrorKind;
///
/// assert_eq!(classify(Some("ThrottlingException"), Some(429), ""), ErrorKind::Throttled);
/// assert_eq!(
///     classify(Some("ValidationException"), Some(400), "Input is too long for requested model."),
///     ErrorKind::ContextWindowExceeded,
/// );
/// assert_eq!(classify(None, Some(429), ""), ErrorKind::Throttled);
/// ```
pub fn classify(code: Option<&str>, status: Option<u16>, message: &str) -> ErrorKind {
    match code {
        Some("ThrottlingException" | "TooManyRequestsException") => ErrorKind::Throttled,
        Some("ServiceUnavailableException") => ErrorKind::Unavailable,
        Some("ModelNotReadyException") => ErrorKind::Overloaded,
        Some("ModelTimeoutException") => ErrorKind::Timeout,
        Some(
            "InternalServerException"
            | "InternalFailure"
            | "ModelErrorException"
            | "ModelStreamErrorException",
        ) => ErrorKind::Internal,
        Some("ServiceQuotaExceededException") => ErrorKind::QuotaExhausted,
        Some(
            "AccessDeniedException"
            | "UnrecognizedClientException"
            | "ExpiredTokenException"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "MissingAuthenticationTokenException"
            | "UnauthorizedException",
        ) => ErrorKind::Auth,
        Some("ResourceNotFoundException") => ErrorKind::NotFound,
        Some("ValidationException") => classify_validation(message),
        Some("ConflictException") => ErrorKind::InvalidRequest,
        _ => classify_status(status),
    }
}

/// A ValidationException is three different things, told apart only by its
/// message: a model id this account cannot call as given, a prompt too long
/// for the model, or a genuinely bad request.
fn classify_validation(message: &str) -> ErrorKind {
    // A rejected field is the request's fault whatever else the message says
    // ("image exceeds 5 MB maximum" is not a context window).
    if crate::rejection::rejected_field(message).is_some() {
        return ErrorKind::InvalidRequest;
    }
    let message = message.to_ascii_lowercase();
    let wrong_model = [
        "on-demand throughput isn", // ’ or ' follows
        "on-demand throughput is not",
        "model identifier is invalid",
        "end of its life",
        "end-of-life",
    ];
    let too_long = [
        "too long",
        "too many tokens",
        "too many input tokens",
        "context window",
        "context length",
        "context limit",
        "maximum context",
    ];
    if wrong_model.iter().any(|m| message.contains(m)) {
        ErrorKind::NotFound
    } else if too_long.iter().any(|m| message.contains(m)) {
        ErrorKind::ContextWindowExceeded
    } else {
        ErrorKind::InvalidRequest
    }
}

fn classify_status(status: Option<u16>) -> ErrorKind {
    match status {
        Some(429) => ErrorKind::Throttled,
        Some(502 | 503) => ErrorKind::Unavailable,
        Some(408 | 504) => ErrorKind::Timeout,
        Some(401 | 403) => ErrorKind::Auth,
        Some(404) => ErrorKind::NotFound,
        Some(400..=499) => ErrorKind::InvalidRequest,
        _ => ErrorKind::Internal,
    }
}

/// An operation error of the SDK, with the exception name when the variant
/// says it but the metadata may not (exceptions inside an event stream carry
/// no code).
pub(crate) trait BedrockServiceError:
    ProvideErrorMetadata + StdError + Send + Sync + 'static
{
    /// The exception's name, from the variant.
    fn modelled_code(&self) -> Option<&'static str> {
        None
    }
}

impl BedrockServiceError for ConverseError {}
impl BedrockServiceError for ConverseStreamError {}
impl BedrockServiceError for CountTokensError {}

impl BedrockServiceError for ConverseStreamOutputError {
    fn modelled_code(&self) -> Option<&'static str> {
        Some(match self {
            Self::ThrottlingException(_) => "ThrottlingException",
            Self::ServiceUnavailableException(_) => "ServiceUnavailableException",
            Self::InternalServerException(_) => "InternalServerException",
            Self::ModelStreamErrorException(_) => "ModelStreamErrorException",
            Self::ValidationException(_) => "ValidationException",
            _ => return None,
        })
    }
}

/// What a raw answer can tell about an error: status and headers (an HTTP
/// response), or nothing (an event-stream frame).
pub(crate) trait RawAnswer: std::fmt::Debug + Send + Sync + 'static {
    fn status(&self) -> Option<u16>;
    fn header(&self, name: &str) -> Option<&str>;
}

impl RawAnswer for HttpResponse {
    fn status(&self) -> Option<u16> {
        Some(HttpResponse::status(self).as_u16())
    }
    fn header(&self, name: &str) -> Option<&str> {
        self.headers().get(name)
    }
}

impl RawAnswer for RawMessage {
    fn status(&self) -> Option<u16> {
        None
    }
    fn header(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// Converts an SDK error into a classified [`ProviderError`].
///
/// `request_id` is the id of the HTTP exchange when the error itself carries
/// none (errors inside an event stream belong to the stream's response).
pub(crate) fn from_sdk_error<E, R>(
    err: SdkError<E, R>,
    provider: &ProviderId,
    request_id: Option<&str>,
) -> ProviderError
where
    E: BedrockServiceError,
    R: RawAnswer,
{
    let mut status = None;
    let mut retry_after = None;
    let mut own_request_id = None;
    let (kind, message) = match &err {
        SdkError::ServiceError(service) => {
            let raw = service.raw();
            status = raw.status();
            retry_after = raw.header("retry-after").and_then(parse_retry_after);
            own_request_id = raw
                .header("x-amzn-requestid")
                .or_else(|| raw.header("x-amz-request-id"))
                .map(str::to_owned);
            let e = service.err();
            let code = e.modelled_code().or_else(|| e.code());
            let message = e.message().unwrap_or("").to_owned();
            let kind = classify(code, status, &message);
            let label = code.unwrap_or("unknown error");
            // Name the field as the caller's request does, first, so the
            // error says what to fix.
            let field = (kind == ErrorKind::InvalidRequest)
                .then(|| crate::rejection::rejected_field(&message))
                .flatten();
            match field {
                Some(field) => (kind, format!("{field}: {label}: {message}")),
                None => (kind, format!("{label}: {message}")),
            }
        }
        SdkError::TimeoutError(_) => (ErrorKind::Timeout, "the call timed out".to_owned()),
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_timeout() {
                ErrorKind::Timeout
            } else if has_credentials_error(&err) {
                ErrorKind::Auth
            } else if failure.is_user() {
                ErrorKind::InvalidRequest
            } else {
                ErrorKind::Network
            };
            (kind, format!("dispatch failed: {}", error_chain(&err)))
        }
        SdkError::ConstructionFailure(_) => {
            let kind = if has_credentials_error(&err) {
                ErrorKind::Auth
            } else {
                ErrorKind::InvalidRequest
            };
            (kind, format!("request not built: {}", error_chain(&err)))
        }
        SdkError::ResponseError(response) => {
            status = response.raw().status();
            // A body cut off by the connection (an I/O error in the chain) or
            // a stream frame we could not read is a transport failure; an
            // HTTP answer that arrived whole but cannot be parsed is the
            // service's fault.
            let kind = if status.is_none() || has_io_error(&err) {
                ErrorKind::Network
            } else {
                ErrorKind::Internal
            };
            (kind, format!("unreadable answer: {}", error_chain(&err)))
        }
        _ => (ErrorKind::Internal, error_chain(&err)),
    };
    let mut error = ProviderError::new(kind, message)
        .with_provider(provider.clone())
        .with_retry_after(retry_after);
    if let Some(status) = status {
        error = error.with_status(status);
    }
    if let Some(id) = own_request_id.as_deref().or(request_id) {
        error = error.with_request_id(id);
    }
    error.with_source(err)
}

/// `Retry-After` in seconds (Bedrock does not send HTTP dates).
fn parse_retry_after(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<f64>()
        .ok()
        .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
}

/// Whether an I/O error is somewhere in the failure's chain.
fn has_io_error(err: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if e.is::<std::io::Error>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// Whether the failure came from loading credentials (somewhere in its chain).
fn has_credentials_error(err: &(dyn StdError + 'static)) -> bool {
    let mut current: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = current {
        if e.is::<aws_credential_types::provider::error::CredentialsError>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// The error and its sources, joined: the SDK's top-level message alone
/// ("dispatch failure") rarely says what happened.
fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut text = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        text.push_str(": ");
        text.push_str(&e.to_string());
        current = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_as_the_table_says() {
        let cases = [
            ("ThrottlingException", 429, "", ErrorKind::Throttled),
            (
                "ServiceUnavailableException",
                503,
                "",
                ErrorKind::Unavailable,
            ),
            ("ModelNotReadyException", 429, "", ErrorKind::Overloaded),
            ("ModelTimeoutException", 408, "", ErrorKind::Timeout),
            ("InternalServerException", 500, "", ErrorKind::Internal),
            ("ModelErrorException", 424, "", ErrorKind::Internal),
            ("ModelStreamErrorException", 424, "", ErrorKind::Internal),
            (
                "ServiceQuotaExceededException",
                400,
                "",
                ErrorKind::QuotaExhausted,
            ),
            ("AccessDeniedException", 403, "", ErrorKind::Auth),
            ("UnrecognizedClientException", 403, "", ErrorKind::Auth),
            ("ResourceNotFoundException", 404, "", ErrorKind::NotFound),
            (
                "ValidationException",
                400,
                "Malformed input request",
                ErrorKind::InvalidRequest,
            ),
        ];
        for (code, status, message, kind) in cases {
            assert_eq!(classify(Some(code), Some(status), message), kind, "{code}");
        }
    }

    #[test]
    fn validation_messages_split_three_ways() {
        let not_found = [
            "Invocation of model ID anthropic.claude-sonnet-4-20250514-v1:0 with on-demand throughput isn\u{2019}t supported. Retry your request with the ID or ARN of an inference profile that contains this model.",
            "Invocation of model ID x with on-demand throughput isn't supported.",
            "The provided model identifier is invalid.",
            "This model version has reached the end of its life. Please refer to the AWS documentation for more details.",
        ];
        for m in not_found {
            assert_eq!(
                classify(Some("ValidationException"), Some(400), m),
                ErrorKind::NotFound,
                "{m}"
            );
        }
        let too_long = [
            "Input is too long for requested model.",
            "prompt is too long: 215000 tokens > 200000 maximum",
            "Too many input tokens. Max input tokens: 200000, request input token count: 210000",
            "input length and `max_tokens` exceed context limit: 197626 + 8192 > 200000",
        ];
        for m in too_long {
            assert_eq!(
                classify(Some("ValidationException"), Some(400), m),
                ErrorKind::ContextWindowExceeded,
                "{m}"
            );
        }
        assert_eq!(
            classify(
                Some("ValidationException"),
                Some(400),
                "temperature: must be <= 1"
            ),
            ErrorKind::InvalidRequest
        );
    }

    #[test]
    fn a_rejected_tool_schema_is_invalid_request() {
        let m = "The model returned the following errors: tools.0.custom.input_schema: JSON schema is invalid. It must match JSON Schema draft 2020-12 (https://json-schema.org/draft/2020-12).";
        assert_eq!(
            classify(Some("ValidationException"), Some(400), m),
            ErrorKind::InvalidRequest
        );
    }

    #[test]
    fn an_image_too_large_is_invalid_request() {
        let m = "The model returned the following errors: messages.0.content.1.image.source.base64: image exceeds 5 MB maximum: 5316048 bytes > 5242880 bytes";
        assert_eq!(
            classify(Some("ValidationException"), Some(400), m),
            ErrorKind::InvalidRequest
        );
    }

    #[test]
    fn an_unsupported_tier_is_invalid_request() {
        let m = "The provided service tier 'flex' is not supported for model anthropic.claude-sonnet-4-5-20250929-v1:0.";
        assert_eq!(
            classify(Some("ValidationException"), Some(400), m),
            ErrorKind::InvalidRequest
        );
    }

    #[test]
    fn unknown_codes_fall_back_to_the_status() {
        assert_eq!(
            classify(Some("BrandNewException"), Some(429), ""),
            ErrorKind::Throttled
        );
        assert_eq!(classify(None, Some(503), ""), ErrorKind::Unavailable);
        assert_eq!(classify(None, Some(504), ""), ErrorKind::Timeout);
        assert_eq!(classify(None, Some(403), ""), ErrorKind::Auth);
        assert_eq!(classify(None, Some(404), ""), ErrorKind::NotFound);
        assert_eq!(classify(None, Some(418), ""), ErrorKind::InvalidRequest);
        assert_eq!(classify(None, Some(500), ""), ErrorKind::Internal);
        assert_eq!(classify(None, None, ""), ErrorKind::Internal);
    }

    #[test]
    fn retry_after_is_seconds() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
