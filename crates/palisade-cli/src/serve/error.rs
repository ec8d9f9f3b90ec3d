//! Errors as HTTP answers, the way each provider writes them: the status and
//! `Retry-After` the stack's error calls for, the body in the error shape of
//! the endpoint's provider.
//!
//! | cause | status | OpenAI `type` / `code` | Anthropic `type` |
//! |---|---|---|---|
//! | a body that is not JSON or not the API's shape (the message names the field) | 400 | `invalid_request_error` | `invalid_request_error` |
//! | no key / wrong key | 401 | `invalid_request_error` / `invalid_api_key` | `authentication_error` |
//! | `POST /reset` without an admin key configured | 403 | `invalid_request_error` / `reset_disabled` | `permission_error` |
//! | `InvalidRequest` (a candidate refused a field) | 400 | `invalid_request_error` | `invalid_request_error` |
//! | `ContextWindowExceeded` | 400 | `invalid_request_error` / `context_length_exceeded` | `invalid_request_error` |
//! | `ContentFiltered` | 400 | `invalid_request_error` / `content_filter` | `invalid_request_error` |
//! | `Throttled` | 429 + `Retry-After` | `requests` / `rate_limit_exceeded` | `rate_limit_error` |
//! | `QuotaExhausted` | 429 + `Retry-After` when known | `insufficient_quota` / `insufficient_quota` | `rate_limit_error` |
//! | `Overloaded` | 503 (OpenAI), 529 (Anthropic) + `Retry-After` | `server_error` / `overloaded` | `overloaded_error` |
//! | `Unavailable` (every candidate cooling down or open) | 503 + `Retry-After` | `server_error` / `service_unavailable` | `api_error` |
//! | `Timeout` | 504 | `server_error` / `timeout` | `timeout_error` |
//! | `Auth`, `NotFound`, `Network` (a candidate's upstream, not the client) | 502 | `server_error` / `upstream_error` | `api_error` |
//! | `Cancelled` | 503 | `server_error` / `cancelled` | `api_error` |
//! | `Internal` | 500 | `server_error` | `api_error` |
//!
//! `Retry-After` is whole seconds, rounded up; `retry-after-ms` (read by
//! both official SDKs) carries the milliseconds.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use palisade_core::{ErrorKind, ProviderError};
use serde_json::{Value, json};

use super::auth::Refusal;
use super::request_id::RequestId;

/// Which provider's error shape an answer takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dialect {
    /// `{"error": {"message", "type", "param", "code"}}`.
    OpenAi,
    /// `{"type": "error", "error": {"type", "message"}, "request_id"}`.
    Anthropic,
}

/// An error answer, before it is written in a dialect.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct ApiError {
    status: StatusCode,
    openai_type: &'static str,
    openai_code: Option<&'static str>,
    anthropic_type: &'static str,
    /// The request field at fault (OpenAI's `param`).
    param: Option<String>,
    message: String,
    retry_after: Option<Duration>,
}

impl ApiError {
    fn new(status: StatusCode, openai_type: &'static str, anthropic_type: &'static str) -> Self {
        Self {
            status,
            openai_type,
            openai_code: None,
            anthropic_type,
            param: None,
            message: String::new(),
            retry_after: None,
        }
    }

    fn code(mut self, code: &'static str) -> Self {
        self.openai_code = Some(code);
        self
    }

    fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// A request the server cannot read: `param` names the field (a JSON
    /// path such as `messages[1].content`), the message says what is wrong.
    pub(super) fn bad_request(param: Option<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            "invalid_request_error",
        )
        .message(message);
        e.param = param;
        e
    }

    /// A request whose key was refused.
    pub(super) fn refused(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NoAdminKey => Self::new(
                StatusCode::FORBIDDEN,
                "invalid_request_error",
                "permission_error",
            )
            .code("reset_disabled"),
            Refusal::Missing | Refusal::Wrong => Self::new(
                StatusCode::UNAUTHORIZED,
                "invalid_request_error",
                "authentication_error",
            )
            .code("invalid_api_key"),
        }
        .message(refusal.to_string())
    }

    /// A failure of this server itself.
    pub(super) fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "api_error",
        )
        .message(message)
    }

    /// A route that does not exist.
    pub(super) fn not_found(path: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "not_found_error",
        )
        .code("unknown_url")
        .message(format!("no route {path}; see docs/serve.md for the routes"))
    }

    /// The stack's error, with the status its kind calls for.
    pub(super) fn from_provider(err: &ProviderError, dialect: Dialect) -> Self {
        use StatusCode as S;
        let base = match err.kind() {
            ErrorKind::InvalidRequest => Self::new(
                S::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request_error",
            ),
            ErrorKind::ContextWindowExceeded => Self::new(
                S::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request_error",
            )
            .code("context_length_exceeded"),
            ErrorKind::ContentFiltered => Self::new(
                S::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request_error",
            )
            .code("content_filter"),
            ErrorKind::Throttled => Self::new(S::TOO_MANY_REQUESTS, "requests", "rate_limit_error")
                .code("rate_limit_exceeded"),
            ErrorKind::QuotaExhausted => Self::new(
                S::TOO_MANY_REQUESTS,
                "insufficient_quota",
                "rate_limit_error",
            )
            .code("insufficient_quota"),
            ErrorKind::Overloaded => {
                let status = match dialect {
                    Dialect::OpenAi => S::SERVICE_UNAVAILABLE,
                    // Anthropic's "overloaded" status.
                    Dialect::Anthropic => S::from_u16(529).unwrap_or(S::SERVICE_UNAVAILABLE),
                };
                Self::new(status, "server_error", "overloaded_error").code("overloaded")
            }
            ErrorKind::Unavailable => {
                Self::new(S::SERVICE_UNAVAILABLE, "server_error", "api_error")
                    .code("service_unavailable")
            }
            ErrorKind::Timeout => {
                Self::new(S::GATEWAY_TIMEOUT, "server_error", "timeout_error").code("timeout")
            }
            ErrorKind::Auth | ErrorKind::NotFound | ErrorKind::Network => {
                Self::new(S::BAD_GATEWAY, "server_error", "api_error").code("upstream_error")
            }
            ErrorKind::Cancelled => {
                Self::new(S::SERVICE_UNAVAILABLE, "server_error", "api_error").code("cancelled")
            }
            _ => Self::new(S::INTERNAL_SERVER_ERROR, "server_error", "api_error"),
        };
        let mut e = base.message(crate::stack_file::one_line(&err.to_string()));
        e.retry_after = err.retry_after();
        e
    }

    /// The status.
    #[cfg(test)]
    pub(super) fn status(&self) -> StatusCode {
        self.status
    }

    /// The error object: OpenAI's `error` member, or Anthropic's.
    pub(super) fn object(&self, dialect: Dialect) -> Value {
        match dialect {
            Dialect::OpenAi => json!({
                "message": self.message,
                "type": self.openai_type,
                "param": self.param,
                "code": self.openai_code,
            }),
            Dialect::Anthropic => {
                let message = match &self.param {
                    Some(p) if !self.message.contains(p.as_str()) => {
                        format!("{p}: {}", self.message)
                    }
                    _ => self.message.clone(),
                };
                json!({ "type": self.anthropic_type, "message": message })
            }
        }
    }

    /// The whole answer: status, `Retry-After`, and the body.
    pub(super) fn into_response(self, dialect: Dialect, id: &RequestId) -> Response {
        let body = match dialect {
            Dialect::OpenAi => json!({ "error": self.object(dialect) }),
            Dialect::Anthropic => json!({
                "type": "error",
                "error": self.object(dialect),
                "request_id": id.as_str(),
            }),
        };
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response();
        if let Some(after) = self.retry_after {
            let ms = after.as_millis();
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            if let Ok(v) = HeaderValue::from_str(&ms.to_string()) {
                headers.insert("retry-after-ms", v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_throttle_is_429_with_retry_after_rounded_up() {
        let err = ProviderError::throttled("slow down", Some(Duration::from_millis(1500)));
        let e = ApiError::from_provider(&err, Dialect::OpenAi);
        let r = e.into_response(Dialect::OpenAi, &RequestId::new());
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert_eq!(r.headers()["retry-after-ms"], "1500");
    }

    #[test]
    fn overloaded_is_529_for_anthropic_and_503_for_openai() {
        let err = ProviderError::new(ErrorKind::Overloaded, "busy");
        assert_eq!(
            ApiError::from_provider(&err, Dialect::Anthropic)
                .status()
                .as_u16(),
            529
        );
        assert_eq!(
            ApiError::from_provider(&err, Dialect::OpenAi)
                .status()
                .as_u16(),
            503
        );
    }

    #[test]
    fn anthropic_messages_name_the_field() {
        let e = ApiError::bad_request(Some("messages[0].role".into()), "unknown variant `bot`");
        let obj = e.object(Dialect::Anthropic);
        assert_eq!(obj["type"], "invalid_request_error");
        assert!(
            obj["message"]
                .as_str()
                .unwrap()
                .starts_with("messages[0].role: ")
        );
        assert_eq!(e.object(Dialect::OpenAi)["param"], "messages[0].role");
    }
}
