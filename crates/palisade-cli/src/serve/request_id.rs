//! Every response carries a request id, as the providers' do: made here,
//! put in the request's extensions for the handlers' error bodies, sent
//! back as `x-request-id` (OpenAI's name) and, on `/v1/messages`, as
//! `request-id` (Anthropic's). The same middleware logs the request and
//! counts it for `/metrics`; it never logs headers, so no key reaches a log.

use std::fmt;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use rand::Rng;

/// One request's id: `req_` and 24 random hex digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RequestId(String);

impl RequestId {
    pub(super) fn new() -> Self {
        let n: u128 = rand::rng().random();
        Self(format!("req_{:024x}", n & ((1u128 << 96) - 1)))
    }

    /// The id.
    pub(super) fn as_str(&self) -> &str {
        &self.0
    }

    /// The id without its `req_` prefix, for the ids of answers
    /// (`chatcmpl-…`, `msg_…`).
    pub(super) fn suffix(&self) -> &str {
        self.0.strip_prefix("req_").unwrap_or(&self.0)
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Stamps the request id, then logs and counts the answer.
pub(super) async fn stamp(mut request: Request, next: Next) -> Response {
    let id = RequestId::new();
    request.extensions_mut().insert(id.clone());
    // The route pattern, not the path: bounded label values.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| match p.as_str() {
            "/v1/chat/completions" => "/v1/chat/completions",
            "/v1/messages" => "/v1/messages",
            "/health" => "/health",
            "/stats" => "/stats",
            "/reset" => "/reset",
            "/metrics" => "/metrics",
            _ => "other",
        });
    let method = request.method().clone();
    let start = tokio::time::Instant::now();
    let mut response = next.run(request).await;
    let status = response.status().as_u16();
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        if route == "/v1/messages" {
            response.headers_mut().insert("request-id", value.clone());
        }
        response.headers_mut().insert("x-request-id", value);
    }
    // For a stream this is the time to its first byte; the stack's own
    // metrics time the whole call.
    let elapsed = start.elapsed();
    metrics::counter!("palisade.serve.requests", "route" => route, "status" => status.to_string())
        .increment(1);
    metrics::histogram!("palisade.serve.request.duration", "route" => route)
        .record(elapsed.as_secs_f64());
    tracing::info!(
        request_id = %id,
        %method,
        route,
        status,
        elapsed_ms = elapsed.as_secs_f64() * 1e3,
        "served"
    );
    response
}
