//! The classification table of `ErrorKind`, asserted row by row.

use std::time::Duration;

use palisade_core::{ErrorKind, ErrorOrigin, ProviderError, ProviderId};

#[test]
fn classification_table() {
    use ErrorKind::*;
    // (kind, retryable, fallback eligible, counts against a breaker)
    let table = [
        (Throttled, true, true, true),
        (Overloaded, true, true, true),
        (Unavailable, true, true, true),
        (Timeout, true, true, true),
        (ContextWindowExceeded, false, true, false),
        (ContentFiltered, false, false, false),
        (QuotaExhausted, false, true, false),
        (InvalidRequest, false, false, false),
        (Auth, false, true, false),
        (NotFound, false, true, false),
        (Network, true, true, true),
        (Cancelled, false, false, false),
        (Internal, true, true, true),
    ];
    assert_eq!(table.len(), ErrorKind::ALL.len(), "every kind has a row");
    for (kind, retryable, fallback, breaker) in table {
        assert_eq!(kind.is_retryable(), retryable, "{kind} retryable");
        assert_eq!(kind.is_fallback_eligible(), fallback, "{kind} fallback");
        assert_eq!(kind.counts_as_failure(), breaker, "{kind} breaker");
        let err = ProviderError::new(kind, "x");
        assert_eq!(err.is_retryable(), retryable);
        assert_eq!(err.is_fallback_eligible(), fallback);
    }
}

#[test]
fn error_carries_context_and_displays_it() {
    let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset by peer");
    let err = ProviderError::throttled("too many requests", Some(Duration::from_millis(1500)))
        .with_provider(ProviderId::new("bedrock/claude"))
        .with_request_id("req-123")
        .with_status(429)
        .with_source(io);
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_millis(1500)));
    assert_eq!(
        err.provider().map(ProviderId::as_str),
        Some("bedrock/claude")
    );
    assert_eq!(err.request_id(), Some("req-123"));
    assert_eq!(err.status(), Some(429));
    let shown = err.to_string();
    assert!(shown.contains("throttled from bedrock/claude"), "{shown}");
    assert!(shown.contains("retry after 1.500s"), "{shown}");
    assert!(shown.contains("req-123"), "{shown}");
    let source = std::error::Error::source(&err).expect("source kept");
    assert_eq!(source.to_string(), "reset by peer");
    // A clone shares the source.
    assert!(std::error::Error::source(&err.clone()).is_some());
}

#[test]
fn or_provider_keeps_the_innermost_id() {
    let err = ProviderError::new(ErrorKind::Internal, "boom").with_provider("inner".into());
    assert_eq!(
        err.or_provider(&"outer".into())
            .provider()
            .map(ProviderId::as_str),
        Some("inner")
    );
    let err = ProviderError::new(ErrorKind::Internal, "boom");
    assert_eq!(
        err.or_provider(&"outer".into())
            .provider()
            .map(ProviderId::as_str),
        Some("outer")
    );
}

#[test]
fn kinds_serialize_as_snake_case() {
    for kind in ErrorKind::ALL {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        let back: ErrorKind = serde_json::from_str(&json).unwrap();
        assert_eq!(back, kind);
    }
}

#[test]
fn origin_defaults_to_the_provider_and_layers_can_mark_their_own() {
    let err = ProviderError::throttled("quota", None);
    assert_eq!(err.origin(), ErrorOrigin::Provider);
    let local = err.with_origin(ErrorOrigin::Layer);
    assert_eq!(local.origin(), ErrorOrigin::Layer);
    let copy = local.clone();
    assert_eq!(copy.origin(), local.origin(), "clones keep it");
}
