//! `Retry-After` (seconds or an HTTP date) and `retry-after-ms`.

use std::time::{Duration, SystemTime};

use super::headers::HeaderSource;

/// Longest Retry-After honoured; a larger value (or a date far ahead) is
/// clamped, so a broken header cannot park a candidate for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// Parses a `Retry-After` value: delay-seconds (`"7"`, also `"1.5"` as some
/// servers send) or an HTTP date, measured from `now`. `None` for anything
/// else; a date in the past is zero.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    if let Ok(secs) = value.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

/// The delay a response asks for: `retry-after-ms` (OpenAI, Azure) first,
/// then `Retry-After`.
pub fn retry_after(headers: &impl HeaderSource) -> Option<Duration> {
    if let Some(ms) = headers
        .header("retry-after-ms")
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Some(Duration::from_secs_f64(
            (ms / 1000.0).min(MAX_RETRY_AFTER.as_secs_f64()),
        ));
    }
    headers
        .header("retry-after")
        .and_then(|v| parse_retry_after(v, SystemTime::now()))
}
