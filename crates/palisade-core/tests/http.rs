//! `palisade_core::http`: the classification table row by row, the header
//! parsers value by value, and no panic on any header or body.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use palisade_core::ErrorKind;
use palisade_core::http::{
    HeaderPairs, RateLimitSnapshot, classify_error, classify_status, error_from_response,
    is_category_code, parse_reset_duration, parse_retry_after, request_id, retry_after,
};
use proptest::prelude::*;

const NONE: HeaderPairs<'static> = HeaderPairs(&[]);

#[test]
fn statuses_map_as_the_table_says() {
    let rows = [
        (400, ErrorKind::InvalidRequest),
        (401, ErrorKind::Auth),
        (403, ErrorKind::Auth),
        (404, ErrorKind::NotFound),
        (408, ErrorKind::Timeout),
        (409, ErrorKind::InvalidRequest),
        (413, ErrorKind::InvalidRequest),
        (422, ErrorKind::InvalidRequest),
        (429, ErrorKind::Throttled),
        (500, ErrorKind::Internal),
        (502, ErrorKind::Unavailable),
        (503, ErrorKind::Unavailable),
        (504, ErrorKind::Timeout),
        (529, ErrorKind::Overloaded),
    ];
    for (status, kind) in rows {
        assert_eq!(classify_status(status), kind, "status {status}");
        assert_eq!(
            error_from_response(status, &NONE, b"").kind(),
            kind,
            "status {status}"
        );
    }
}

#[test]
fn body_codes_decide_before_the_status() {
    let openai = |code: &str, ty: &str| {
        format!(r#"{{"error":{{"message":"m","type":"{ty}","param":null,"code":"{code}"}}}}"#)
    };
    let anthropic =
        |ty: &str| format!(r#"{{"type":"error","error":{{"type":"{ty}","message":"m"}}}}"#);
    let rows: Vec<(u16, String, ErrorKind)> = vec![
        (
            429,
            openai("insufficient_quota", "insufficient_quota"),
            ErrorKind::QuotaExhausted,
        ),
        (
            429,
            openai("rate_limit_exceeded", "requests"),
            ErrorKind::Throttled,
        ),
        (
            400,
            openai("context_length_exceeded", "invalid_request_error"),
            ErrorKind::ContextWindowExceeded,
        ),
        (
            400,
            openai("content_filter", "invalid_request_error"),
            ErrorKind::ContentFiltered,
        ),
        (
            401,
            openai("invalid_api_key", "invalid_request_error"),
            ErrorKind::Auth,
        ),
        (
            404,
            openai("model_not_found", "invalid_request_error"),
            ErrorKind::NotFound,
        ),
        (529, anthropic("overloaded_error"), ErrorKind::Overloaded),
        (429, anthropic("rate_limit_error"), ErrorKind::Throttled),
        (
            413,
            anthropic("request_too_large"),
            ErrorKind::InvalidRequest,
        ),
        (401, anthropic("authentication_error"), ErrorKind::Auth),
        (403, anthropic("permission_error"), ErrorKind::Auth),
        (404, anthropic("not_found_error"), ErrorKind::NotFound),
        (500, anthropic("api_error"), ErrorKind::Internal),
        (400, anthropic("billing_error"), ErrorKind::QuotaExhausted),
    ];
    for (status, body, kind) in rows {
        let err = error_from_response(status, &NONE, body.as_bytes());
        assert_eq!(err.kind(), kind, "{status} {body}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.message(), "m");
    }
    let too_long = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#;
    assert_eq!(
        error_from_response(400, &NONE, too_long.as_bytes()).kind(),
        ErrorKind::ContextWindowExceeded
    );
}

#[test]
fn category_codes_yield_to_the_status() {
    // OpenAI's `type` is a category; with no reason in `code` the status is
    // the precise word (a missing key is a 401 `invalid_request_error`, an
    // outage a 503 `server_error`).
    let openai_type = |ty: &str| {
        format!(r#"{{"error":{{"message":"m","type":"{ty}","param":null,"code":null}}}}"#)
    };
    let anthropic =
        |ty: &str| format!(r#"{{"type":"error","error":{{"type":"{ty}","message":"m"}}}}"#);
    let rows: Vec<(u16, String, ErrorKind)> = vec![
        (
            400,
            openai_type("invalid_request_error"),
            ErrorKind::InvalidRequest,
        ),
        (401, openai_type("invalid_request_error"), ErrorKind::Auth),
        (403, openai_type("invalid_request_error"), ErrorKind::Auth),
        (
            404,
            openai_type("invalid_request_error"),
            ErrorKind::NotFound,
        ),
        (
            408,
            openai_type("invalid_request_error"),
            ErrorKind::Timeout,
        ),
        (
            409,
            openai_type("invalid_request_error"),
            ErrorKind::InvalidRequest,
        ),
        (
            422,
            openai_type("invalid_request_error"),
            ErrorKind::InvalidRequest,
        ),
        (
            429,
            openai_type("invalid_request_error"),
            ErrorKind::Throttled,
        ),
        (
            500,
            openai_type("invalid_request_error"),
            ErrorKind::Internal,
        ),
        (500, openai_type("server_error"), ErrorKind::Internal),
        (502, openai_type("server_error"), ErrorKind::Unavailable),
        (503, openai_type("server_error"), ErrorKind::Unavailable),
        (504, openai_type("server_error"), ErrorKind::Timeout),
        (529, openai_type("server_error"), ErrorKind::Overloaded),
        (500, anthropic("api_error"), ErrorKind::Internal),
        (503, anthropic("api_error"), ErrorKind::Unavailable),
        (
            400,
            anthropic("invalid_request_error"),
            ErrorKind::InvalidRequest,
        ),
        (404, anthropic("invalid_request_error"), ErrorKind::NotFound),
    ];
    for (status, body, kind) in rows {
        let err = error_from_response(status, &NONE, body.as_bytes());
        assert_eq!(err.kind(), kind, "{status} {body}");
    }
    // A reason in `code` still wins over the status and the category.
    let body =
        r#"{"error":{"message":"m","type":"invalid_request_error","code":"model_not_found"}}"#;
    assert_eq!(
        error_from_response(400, &NONE, body.as_bytes()).kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        classify_error(503, Some("insufficient_quota"), Some("server_error")),
        ErrorKind::QuotaExhausted
    );
    for code in ["invalid_request_error", "server_error", "api_error"] {
        assert!(is_category_code(code), "{code}");
    }
    assert!(!is_category_code("rate_limit_exceeded"));
}

#[test]
fn retry_after_reads_seconds_dates_and_milliseconds() {
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
    assert_eq!(
        parse_retry_after(" 1.5 ", now),
        Some(Duration::from_millis(1500))
    );
    let date = httpdate::fmt_http_date(now + Duration::from_secs(30));
    assert_eq!(parse_retry_after(&date, now), Some(Duration::from_secs(30)));
    let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
    assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("soon", now), None);
    assert_eq!(parse_retry_after("-3", now), None);
    let headers = HeaderPairs(&[("retry-after-ms", "250"), ("Retry-After", "9")]);
    assert_eq!(retry_after(&headers), Some(Duration::from_millis(250)));
    assert_eq!(
        retry_after(&HeaderPairs(&[("Retry-After", "9")])),
        Some(Duration::from_secs(9))
    );
}

#[test]
fn reset_durations_parse_as_openai_writes_them() {
    let rows = [
        ("6m0s", Some(Duration::from_secs(360))),
        ("20ms", Some(Duration::from_millis(20))),
        ("1s", Some(Duration::from_secs(1))),
        ("1h2m3.5s", Some(Duration::from_secs_f64(3723.5))),
        ("0.5", Some(Duration::from_millis(500))),
        ("", None),
        ("abc", None),
        ("5x", None),
        ("m5", None),
    ];
    for (value, want) in rows {
        assert_eq!(parse_reset_duration(value), want, "{value:?}");
    }
}

#[test]
fn openai_and_anthropic_headers_fill_the_snapshot() {
    let openai = HeaderPairs(&[
        ("x-ratelimit-limit-requests", "60"),
        ("x-ratelimit-remaining-requests", "59"),
        ("x-ratelimit-reset-requests", "1s"),
        ("x-ratelimit-limit-tokens", "150000"),
        ("x-ratelimit-remaining-tokens", "149984"),
        ("x-ratelimit-reset-tokens", "6m0s"),
    ]);
    let snap = RateLimitSnapshot::from_headers(&openai).unwrap();
    assert_eq!(snap.requests.limit, Some(60));
    assert_eq!(snap.requests.remaining, Some(59));
    assert_eq!(snap.tokens.reset, Some(Duration::from_secs(360)));
    assert!(snap.input_tokens.is_empty());

    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let anthropic = HeaderPairs(&[
        ("anthropic-ratelimit-requests-limit", "50"),
        ("anthropic-ratelimit-requests-remaining", "49"),
        ("anthropic-ratelimit-requests-reset", "2023-11-14T22:13:21Z"),
        ("anthropic-ratelimit-input-tokens-limit", "40000"),
        ("anthropic-ratelimit-input-tokens-remaining", "39000"),
        ("anthropic-ratelimit-output-tokens-remaining", "7000"),
        ("anthropic-ratelimit-tokens-remaining", "46000"),
    ]);
    let snap = RateLimitSnapshot::from_headers_at(&anthropic, now).unwrap();
    assert_eq!(snap.requests.remaining, Some(49));
    assert_eq!(snap.requests.reset, Some(Duration::from_secs(1)));
    assert_eq!(snap.input_tokens.limit, Some(40_000));
    assert_eq!(snap.output_tokens.remaining, Some(7_000));
    assert_eq!(snap.tokens.remaining, Some(46_000));

    assert_eq!(RateLimitSnapshot::from_headers(&NONE), None);
}

#[test]
fn request_ids_come_from_every_provider_header() {
    for name in [
        "x-request-id",
        "request-id",
        "x-amzn-RequestId",
        "apim-request-id",
    ] {
        let pairs = [(name, "id-1")];
        assert_eq!(
            request_id(&HeaderPairs(&pairs)).as_deref(),
            Some("id-1"),
            "{name}"
        );
    }
    let err = error_from_response(
        429,
        &HeaderPairs(&[
            ("request-id", "req_9"),
            ("anthropic-ratelimit-requests-remaining", "0"),
        ]),
        b"{}",
    );
    assert_eq!(err.request_id(), Some("req_9"));
    assert_eq!(err.rate_limit().and_then(|s| s.requests.remaining), Some(0));
}

#[test]
fn odd_bodies_still_give_a_message() {
    assert_eq!(error_from_response(503, &NONE, b"").message(), "HTTP 503");
    assert_eq!(
        error_from_response(502, &NONE, b"Bad gateway\n").message(),
        "Bad gateway"
    );
    let long = vec![b'x'; 5000];
    assert!(error_from_response(500, &NONE, &long).message().len() < 400);
    let not_utf8 = [0xff, 0xfe, 0x00];
    assert_eq!(
        error_from_response(500, &NONE, &not_utf8).kind(),
        ErrorKind::Internal
    );
}

proptest! {
    #[test]
    fn no_header_value_or_body_panics(
        value in ".{0,40}",
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        status in 0u16..1000,
    ) {
        let _ = parse_reset_duration(&value);
        let _ = parse_retry_after(&value, SystemTime::now());
        let names = [
            "retry-after", "retry-after-ms", "x-ratelimit-reset-tokens",
            "x-ratelimit-remaining-requests", "anthropic-ratelimit-tokens-reset",
            "anthropic-ratelimit-input-tokens-remaining",
        ];
        for name in names {
            let pairs = [(name, value.as_str())];
            let headers = HeaderPairs(&pairs);
            let _ = RateLimitSnapshot::from_headers(&headers);
            let _ = retry_after(&headers);
            let _ = error_from_response(status, &headers, &bytes);
        }
    }
}
