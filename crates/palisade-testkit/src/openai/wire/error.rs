//! OpenAI's error body: `{"error": {"message", "type", "param", "code"}}`.

use std::time::Duration;

use palisade_core::{ErrorKind, ProviderError};
use serde_json::{Value, json};

/// An error answer: status, body fields, and an optional Retry-After.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenAiError {
    pub(crate) status: u16,
    pub(crate) message: String,
    pub(crate) error_type: Option<String>,
    pub(crate) param: Option<String>,
    pub(crate) code: Option<String>,
    pub(crate) retry_after: Option<Duration>,
}

impl OpenAiError {
    pub(crate) fn new(
        status: u16,
        error_type: Option<&str>,
        code: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            message: message.into(),
            error_type: error_type.map(str::to_owned),
            param: None,
            code: code.map(str::to_owned),
            retry_after: None,
        }
    }

    /// 400 `invalid_request_error` naming the parameter.
    pub(crate) fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new(400, Some("invalid_request_error"), None, message);
        e.param = Some(param.into());
        e
    }

    pub(crate) fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub(crate) fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// 503, as OpenAI answers when the service is down.
    pub(crate) fn down() -> Self {
        Self::new(
            503,
            Some("server_error"),
            None,
            "The server is overloaded or not ready yet.",
        )
    }

    /// 429 `insufficient_quota`: billing quota used up (not retryable).
    pub(crate) fn insufficient_quota() -> Self {
        Self::new(
            429,
            Some("insufficient_quota"),
            Some("insufficient_quota"),
            "You exceeded your current quota, please check your plan and billing details.",
        )
    }

    /// 400 `context_length_exceeded`.
    pub(crate) fn context_length(model: &str, window: u32, needed: u32) -> Self {
        Self::new(
            400,
            Some("invalid_request_error"),
            Some("context_length_exceeded"),
            format!(
                "This model's maximum context length is {window} tokens. However, your \
                 messages resulted in {needed} tokens. Please reduce the length of the \
                 messages. (model {model})"
            ),
        )
        .with_param("messages")
    }

    /// 401 `invalid_api_key`, the key masked as OpenAI masks it.
    pub(crate) fn invalid_api_key(given: Option<&str>) -> Self {
        match given {
            None => Self::new(
                401,
                Some("invalid_request_error"),
                None,
                "You didn't provide an API key. You need to provide your API key in an \
                 Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            ),
            Some(key) => Self::new(
                401,
                Some("invalid_request_error"),
                Some("invalid_api_key"),
                format!("Incorrect API key provided: {}.", mask(key)),
            ),
        }
    }

    /// The answer for an error a served provider returned.
    pub(crate) fn from_provider_error(err: &ProviderError) -> Self {
        let message = err.message().to_owned();
        let mut e = match err.kind() {
            ErrorKind::Throttled => {
                Self::new(429, Some("requests"), Some("rate_limit_exceeded"), message)
            }
            ErrorKind::Overloaded | ErrorKind::Unavailable => {
                Self::new(503, Some("server_error"), None, message)
            }
            ErrorKind::Timeout => Self::new(504, Some("server_error"), None, message),
            ErrorKind::ContextWindowExceeded => Self::new(
                400,
                Some("invalid_request_error"),
                Some("context_length_exceeded"),
                message,
            )
            .with_param("messages"),
            ErrorKind::ContentFiltered => Self::new(
                400,
                Some("invalid_request_error"),
                Some("content_filter"),
                message,
            )
            .with_param("prompt"),
            ErrorKind::QuotaExhausted => Self::new(
                429,
                Some("insufficient_quota"),
                Some("insufficient_quota"),
                message,
            ),
            ErrorKind::InvalidRequest => {
                Self::new(400, Some("invalid_request_error"), None, message)
            }
            ErrorKind::Auth => Self::new(
                401,
                Some("invalid_request_error"),
                Some("invalid_api_key"),
                message,
            ),
            ErrorKind::NotFound => Self::new(
                404,
                Some("invalid_request_error"),
                Some("model_not_found"),
                message,
            ),
            _ => Self::new(500, Some("server_error"), None, message),
        };
        e.retry_after = err.retry_after();
        e
    }

    /// The `error` object (also sent inside a stream).
    pub(crate) fn object(&self) -> Value {
        json!({
            "message": self.message,
            "type": self.error_type,
            "param": self.param,
            "code": self.code,
        })
    }

    pub(crate) fn body(&self) -> Value {
        json!({ "error": self.object() })
    }
}

/// `sk-abc…wxyz` → `sk-ab***wxyz`, as OpenAI echoes a wrong key.
fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 8 {
        return "***".to_owned();
    }
    let head: String = chars[..5].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}
