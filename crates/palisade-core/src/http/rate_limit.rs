//! What a provider's rate-limit headers say about its quota: per dimension,
//! the limit, what remains and when the window resets.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::headers::HeaderSource;

/// One quota dimension as the provider reported it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateLimitWindow {
    /// The quota (per minute, as both OpenAI and Anthropic report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// What is left of it now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remaining: Option<u64>,
    /// Time until the window is full again (OpenAI) or until `remaining` is
    /// replenished (Anthropic).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset: Option<Duration>,
}

impl RateLimitWindow {
    /// Whether any value was reported.
    pub fn is_empty(&self) -> bool {
        self.limit.is_none() && self.remaining.is_none() && self.reset.is_none()
    }
}

/// A provider's rate-limit headers, parsed: requests, tokens (combined) and,
/// where the provider splits them, input and output tokens.
///
/// Read from OpenAI's `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`
/// (resets as durations: `6m0s`, `20ms`) and Anthropic's
/// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}`
/// (resets as RFC 3339 instants). Values that don't parse are left out,
/// never guessed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RateLimitSnapshot {
    /// Requests per minute.
    #[serde(default, skip_serializing_if = "RateLimitWindow::is_empty")]
    pub requests: RateLimitWindow,
    /// Tokens per minute (input and output together).
    #[serde(default, skip_serializing_if = "RateLimitWindow::is_empty")]
    pub tokens: RateLimitWindow,
    /// Input tokens per minute.
    #[serde(default, skip_serializing_if = "RateLimitWindow::is_empty")]
    pub input_tokens: RateLimitWindow,
    /// Output tokens per minute.
    #[serde(default, skip_serializing_if = "RateLimitWindow::is_empty")]
    pub output_tokens: RateLimitWindow,
}

impl RateLimitSnapshot {
    /// Parses the headers; `None` when there are no rate-limit headers.
    ///
    /// ```
    /// use std::time::Duration;
    /// use palisade_core::http::{HeaderPairs, RateLimitSnapshot};
    ///
    /// let headers = HeaderPairs(&[
    ///     ("x-ratelimit-limit-requests", "500"),
    ///     ("x-ratelimit-remaining-requests", "499"),
    ///     ("x-ratelimit-reset-requests", "120ms"),
    ///     ("x-ratelimit-remaining-tokens", "29000"),
    ///     ("x-ratelimit-reset-tokens", "2s"),
    /// ]);
    /// let snap = RateLimitSnapshot::from_headers(&headers).unwrap();
    /// assert_eq!(snap.requests.remaining, Some(499));
    /// assert_eq!(snap.requests.reset, Some(Duration::from_millis(120)));
    /// assert_eq!(snap.tokens.remaining, Some(29_000));
    /// ```
    pub fn from_headers(headers: &impl HeaderSource) -> Option<Self> {
        Self::from_headers_at(headers, SystemTime::now())
    }

    /// [`from_headers`](Self::from_headers) with the wall-clock time the
    /// RFC 3339 resets are measured from.
    pub fn from_headers_at(headers: &impl HeaderSource, now: SystemTime) -> Option<Self> {
        let openai = |dim: &str| RateLimitWindow {
            limit: number(headers.header(&format!("x-ratelimit-limit-{dim}"))),
            remaining: number(headers.header(&format!("x-ratelimit-remaining-{dim}"))),
            reset: headers
                .header(&format!("x-ratelimit-reset-{dim}"))
                .and_then(parse_reset_duration),
        };
        let anthropic = |dim: &str| RateLimitWindow {
            limit: number(headers.header(&format!("anthropic-ratelimit-{dim}-limit"))),
            remaining: number(headers.header(&format!("anthropic-ratelimit-{dim}-remaining"))),
            reset: headers
                .header(&format!("anthropic-ratelimit-{dim}-reset"))
                .and_then(|v| parse_reset_instant(v, now)),
        };
        let merge = |a: RateLimitWindow, b: RateLimitWindow| RateLimitWindow {
            limit: a.limit.or(b.limit),
            remaining: a.remaining.or(b.remaining),
            reset: a.reset.or(b.reset),
        };
        let snapshot = Self {
            requests: merge(openai("requests"), anthropic("requests")),
            tokens: merge(openai("tokens"), anthropic("tokens")),
            input_tokens: anthropic("input-tokens"),
            output_tokens: anthropic("output-tokens"),
        };
        (!snapshot.is_empty()).then_some(snapshot)
    }

    /// Whether no dimension was reported.
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty()
            && self.tokens.is_empty()
            && self.input_tokens.is_empty()
            && self.output_tokens.is_empty()
    }
}

fn number(value: Option<&str>) -> Option<u64> {
    value?.trim().parse().ok()
}

/// Parses an OpenAI-style reset duration: a sequence of number + unit
/// (`h`, `m`, `s`, `ms`, `us`/`µs`, `ns`), e.g. `6m0s`, `1h2m3.5s`, `20ms`;
/// a bare number is seconds. `None` for anything else.
pub fn parse_reset_duration(value: &str) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && (0.0..1e9).contains(&secs))
            .then(|| Duration::from_secs_f64(secs));
    }
    let mut total = 0.0f64;
    let mut rest = value;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let amount: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += amount * scale;
    }
    (total.is_finite() && total < 1e9).then(|| Duration::from_secs_f64(total))
}

/// An RFC 3339 reset instant as the time left from `now` (zero if past).
fn parse_reset_instant(value: &str, now: SystemTime) -> Option<Duration> {
    let at = humantime::parse_rfc3339_weak(value.trim()).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}
