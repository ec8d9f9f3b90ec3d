//! Helpers for providers that speak HTTP, with no HTTP client dependency:
//! classify a status, headers and body into a [`ProviderError`](crate::ProviderError), read
//! `Retry-After`, rate-limit headers and request ids.
//!
//! An adapter around any HTTP client (reqwest, hyper, ureq) calls
//! [`error_from_response`] for a non-success answer and
//! [`RateLimitSnapshot::from_headers`] for every answer:
//!
//! ```
//! use palisade_core::http::{error_from_response, HeaderPairs};
//! use palisade_core::ErrorKind;
//!
//! let headers = HeaderPairs(&[("retry-after", "7"), ("x-request-id", "req_1")]);
//! let body = br#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
//! let err = error_from_response(429, &headers, body);
//! assert_eq!(err.kind(), ErrorKind::Throttled);
//! assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(7)));
//! assert_eq!(err.request_id(), Some("req_1"));
//! ```
//!
//! # The mapping
//!
//! A body code or type that names a reason decides first (OpenAI's
//! `error.code`, then `error.type`; Anthropic's `error.type`); the status
//! decides when the body names only a category (`invalid_request_error`,
//! `server_error`, `api_error`: OpenAI sends a missing key as a 401
//! `invalid_request_error`, an outage as a 503 `server_error`) or nothing
//! known ([`classify_error`]).
//!
//! | status | body code / type | [`ErrorKind`](crate::ErrorKind) |
//! |---|---|---|
//! | 429 | `insufficient_quota`, `billing_error` | `QuotaExhausted` (a hard quota: waiting won't help) |
//! | 429 | `rate_limit_exceeded`, `rate_limit_error`, other | `Throttled` |
//! | 529 | `overloaded_error` | `Overloaded` |
//! | 400 / 413 / 422 | `context_length_exceeded`, "prompt is too long", "maximum context length" | `ContextWindowExceeded` |
//! | 400 | `content_filter`, `content_policy_violation` | `ContentFiltered` |
//! | 400 / 409 / 413 / 422 | `invalid_request_error`, `request_too_large`, other | `InvalidRequest` |
//! | 401 / 403 | `invalid_api_key`, `authentication_error`, `permission_error`, `invalid_request_error` (a category: the status decides) | `Auth` |
//! | 404 | `model_not_found`, `not_found_error`, `invalid_request_error` | `NotFound` |
//! | 408 | | `Timeout` |
//! | 429 | `invalid_request_error` | `Throttled` |
//! | 500 | `api_error`, `server_error` | `Internal` |
//! | 502 / 503 | `server_error`, `api_error`, none | `Unavailable` |
//! | 504 | `server_error`, `api_error`, none | `Timeout` |
//! | other 5xx | | `Internal` |
//! | other 4xx | | `InvalidRequest` |

mod classify;
mod headers;
mod rate_limit;
mod retry_after;

pub use classify::{
    classify_error, classify_error_code, classify_status, error_from_response, is_category_code,
};
pub use headers::{HeaderPairs, HeaderSource, request_id};
pub use rate_limit::{RateLimitSnapshot, RateLimitWindow, parse_reset_duration};
pub use retry_after::{parse_retry_after, retry_after};
