//! Status, error code and body → [`ErrorKind`] and [`ProviderError`].

use crate::error::{ErrorKind, ProviderError};

use super::headers::{HeaderSource, request_id};
use super::rate_limit::RateLimitSnapshot;
use super::retry_after::retry_after;

/// The kind an HTTP status stands for when the body says nothing more (the
/// status column of the table in [the module docs](super)).
pub const fn classify_status(status: u16) -> ErrorKind {
    match status {
        401 | 403 => ErrorKind::Auth,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        429 => ErrorKind::Throttled,
        529 => ErrorKind::Overloaded,
        502 | 503 => ErrorKind::Unavailable,
        500..=599 => ErrorKind::Internal,
        _ => ErrorKind::InvalidRequest,
    }
}

/// The kind an error code or type from an error body stands for (OpenAI's
/// `error.code` / `error.type`, Anthropic's `error.type`), or `None` when the
/// code is not known and the status should decide. Without a status (an
/// error event inside a stream) this is all there is; with one, use
/// [`classify_error`], where a category code
/// ([`is_category_code`]: `invalid_request_error`, `server_error`,
/// `api_error`) yields to the status.
pub fn classify_error_code(code: &str) -> Option<ErrorKind> {
    Some(match code {
        "insufficient_quota" | "billing_error" | "billing_hard_limit_reached" => {
            ErrorKind::QuotaExhausted
        }
        "rate_limit_exceeded" | "rate_limit_error" | "tokens" | "requests" => ErrorKind::Throttled,
        "overloaded_error" | "server_overloaded" | "engine_overloaded" => ErrorKind::Overloaded,
        "context_length_exceeded" | "string_above_max_length" => ErrorKind::ContextWindowExceeded,
        "content_filter" | "content_policy_violation" => ErrorKind::ContentFiltered,
        "invalid_api_key"
        | "authentication_error"
        | "permission_error"
        | "invalid_organization" => ErrorKind::Auth,
        "model_not_found" | "not_found_error" | "deployment_not_found" | "DeploymentNotFound" => {
            ErrorKind::NotFound
        }
        "api_error" | "server_error" => ErrorKind::Internal,
        "timeout_error" => ErrorKind::Timeout,
        "invalid_request_error" | "request_too_large" | "invalid_request" => {
            ErrorKind::InvalidRequest
        }
        _ => return None,
    })
}

/// Whether `code` names a category of error rather than its reason:
/// OpenAI's `error.type` values `invalid_request_error` and `server_error`,
/// Anthropic's `api_error` and `invalid_request_error`. OpenAI sends a
/// missing key as a 401 `invalid_request_error` and an upstream outage as a
/// 503 `server_error`: beside a category the status is the more precise
/// word, so [`error_from_response`] lets the status decide.
pub fn is_category_code(code: &str) -> bool {
    matches!(
        code,
        "invalid_request_error" | "invalid_request" | "server_error" | "api_error"
    )
}

/// The kind of an error answer from its status and the body's code and
/// type (either may be absent): the first of `code`, `type` that names a
/// reason (`insufficient_quota`, `model_not_found`, `overloaded_error`, …)
/// decides; a category ([`is_category_code`]), an unknown code or none
/// leaves it to the status ([`classify_status`]). This is the table of
/// [the module docs](super) without the message check of
/// [`error_from_response`].
///
/// ```
/// use palisade_core::ErrorKind;
/// use palisade_core::http::classify_error;
///
/// assert_eq!(classify_error(401, None, Some("invalid_request_error")), ErrorKind::Auth);
/// assert_eq!(classify_error(400, None, Some("invalid_request_error")), ErrorKind::InvalidRequest);
/// assert_eq!(classify_error(503, None, Some("server_error")), ErrorKind::Unavailable);
/// assert_eq!(
///     classify_error(429, Some("insufficient_quota"), Some("insufficient_quota")),
///     ErrorKind::QuotaExhausted
/// );
/// ```
pub fn classify_error(status: u16, code: Option<&str>, error_type: Option<&str>) -> ErrorKind {
    [code, error_type]
        .into_iter()
        .flatten()
        .filter(|c| !is_category_code(c))
        .find_map(classify_error_code)
        .unwrap_or_else(|| classify_status(status))
}

/// Messages that mean the prompt is larger than the model's context window,
/// whatever code came with them.
fn is_context_message(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("prompt is too long")
        || m.contains("maximum context length")
        || m.contains("context window")
        || m.contains("context_length_exceeded")
        || m.contains("too many tokens")
}

/// The error an HTTP answer with a non-success status stands for: kind (from
/// the body's code or type, else the status), the body's message, the status,
/// `Retry-After` / `retry-after-ms`, the request id and the rate-limit
/// snapshot from the headers. Any body is accepted: JSON in OpenAI's or
/// Anthropic's shape, other JSON, text, or bytes that are not UTF-8.
pub fn error_from_response(status: u16, headers: &impl HeaderSource, body: &[u8]) -> ProviderError {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    let field = |name: &str| error.and_then(|e| e.get(name)).and_then(|v| v.as_str());
    let message = field("message").map(str::to_owned).unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("HTTP {status}")
        } else {
            excerpt(text)
        }
    });
    // OpenAI puts the precise reason in `code` and a category in `type`;
    // Anthropic has only `type`. A category defers to the status.
    let mut kind = classify_error(status, field("code"), field("type"));
    if matches!(kind, ErrorKind::InvalidRequest) && is_context_message(&message) {
        kind = ErrorKind::ContextWindowExceeded;
    }
    // A request-shaped reason (`request_too_large`) on a 5xx is the
    // server's failure: the status stands.
    if status >= 500 && matches!(kind, ErrorKind::InvalidRequest) {
        kind = classify_status(status);
    }
    let mut err = ProviderError::new(kind, message)
        .with_status(status)
        .with_retry_after(retry_after(headers));
    if let Some(id) = request_id(headers) {
        err = err.with_request_id(id);
    }
    if let Some(snapshot) = RateLimitSnapshot::from_headers(headers) {
        err = err.with_rate_limit(snapshot);
    }
    err
}

/// At most 300 characters of a body, for an error message.
fn excerpt(text: &str) -> String {
    const MAX: usize = 300;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
