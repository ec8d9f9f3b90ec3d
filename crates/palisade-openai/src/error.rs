//! Failures → [`ErrorKind`].
//!
//! HTTP answers go through [`palisade_core::http::error_from_response`]: the
//! body's `error.code`, then `error.type`, when it names a reason; the
//! status when the body names only a category (`server_error` on a 503 is
//! `Unavailable`, `invalid_request_error` without a code on a 401 is
//! `Auth`: see [`palisade_core::http::is_category_code`]).
//!
//! | what happened | kind | retried by the stack |
//! |---|---|---|
//! | 429 `rate_limit_exceeded` (type `requests` / `tokens`) | `Throttled`, with `Retry-After` / `retry-after-ms` | yes |
//! | 429 `insufficient_quota` | `QuotaExhausted` | no (falls back) |
//! | 400 `context_length_exceeded` | `ContextWindowExceeded` | no (falls back) |
//! | 400 `content_filter` (Azure's prompt filter), or a 200 with `finish_reason: content_filter` (an answer, stop reason `ContentFiltered`) | `ContentFiltered` | no |
//! | 400 / 404 / 422 other `invalid_request_error` | `InvalidRequest` / `NotFound` (`model_not_found`, `DeploymentNotFound`) | no |
//! | 401 `invalid_api_key`, 403 | `Auth` | no (falls back) |
//! | 408, 504 | `Timeout` | yes |
//! | 500 `server_error` | `Internal` | yes |
//! | 502, 503 | `Unavailable` | yes |
//! | connect refused, reset, DNS, a body cut short | `Network` | yes (before the first event only) |
//! | an `error` object inside the event stream | by its `code` / `type`, else `Internal` | no (after the first event) |
//! | a stream that ends without `data: [DONE]` | `Network` | no (after the first event) |
//! | a request the API cannot carry | `InvalidRequest` naming the field, before sending | no |
//!
//! Every error carries the status, `x-request-id` and the `x-ratelimit-*`
//! snapshot when the answer had them, and never the API key (an echo of the
//! key in a body is replaced by `[redacted]`).

use palisade_core::http::{HeaderSource, classify_error_code, error_from_response};
use palisade_core::{ErrorKind, ProviderError, ProviderId};

use crate::secret::ApiKey;

/// The error an HTTP answer with a non-success status stands for.
pub fn from_http(
    provider: &ProviderId,
    status: u16,
    headers: &impl HeaderSource,
    body: &[u8],
    key: Option<&ApiKey>,
) -> ProviderError {
    let err = error_from_response(status, headers, body);
    redact(err, key).with_provider(provider.clone())
}

/// The error an `{"error": {...}}` object inside the event stream stands for.
pub fn from_stream_error(provider: &ProviderId, error: &serde_json::Value) -> ProviderError {
    let field = |name: &str| error.get(name).and_then(serde_json::Value::as_str);
    let kind = field("code")
        .and_then(classify_error_code)
        .or_else(|| field("type").and_then(classify_error_code))
        .unwrap_or(ErrorKind::Internal);
    let message = field("message").unwrap_or("an error event inside the stream");
    ProviderError::new(kind, format!("mid-stream: {message}")).with_provider(provider.clone())
}

/// A transport failure (connect, reset, timeout, a body cut short).
pub fn from_transport(provider: &ProviderId, err: reqwest::Error) -> ProviderError {
    let kind = if err.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Network
    };
    // reqwest's message names the URL, never headers, so the key is not in it.
    ProviderError::new(kind, format!("openai transport: {err}"))
        .with_provider(provider.clone())
        .with_source(err)
}

/// The same error with the key (if a server echoed it) redacted.
fn redact(err: ProviderError, key: Option<&ApiKey>) -> ProviderError {
    let Some(key) = key.filter(|k| !k.expose().is_empty() && err.message().contains(k.expose()))
    else {
        return err;
    };
    let message = err.message().replace(key.expose(), "[redacted]");
    let mut out = ProviderError::new(err.kind(), message).with_retry_after(err.retry_after());
    if let Some(status) = err.status() {
        out = out.with_status(status);
    }
    if let Some(id) = err.request_id() {
        out = out.with_request_id(id);
    }
    if let Some(snapshot) = err.rate_limit() {
        out = out.with_rate_limit(*snapshot);
    }
    out
}
