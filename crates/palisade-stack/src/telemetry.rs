//! Spans, events and metrics, in one place so their names stay consistent.
//!
//! Spans and fields use the OpenTelemetry GenAI semantic conventions
//! (`gen_ai.operation.name`, `gen_ai.request.model`, `gen_ai.usage.*`,
//! `error.type`); Palisade's own decisions use `palisade.*` fields. With the
//! `metrics` feature the same facts go to the `metrics` facade:
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `gen_ai.client.operation.duration` (seconds) | histogram | `gen_ai.request.model`, `outcome` |
//! | `gen_ai.client.token.usage` (tokens) | histogram | `gen_ai.request.model`, `gen_ai.token.type` |
//! | `palisade.stack.attempts` | counter | `gen_ai.request.model`, `outcome` |
//! | `palisade.stack.retries` | counter | `gen_ai.request.model`, `error.type` |
//! | `palisade.stack.skips` | counter | `gen_ai.request.model`, `reason` |
//! | `palisade.stack.fallbacks` | counter | `gen_ai.request.model`, `error.type` |
//! | `palisade.stack.cost_micro_usd` | counter | `gen_ai.request.model` |
//! | `palisade.stack.budget.rejections` | counter | `scope` |

use std::time::Duration;

use palisade_core::{ChatRequest, ChatResponse, ErrorKind, ProviderError, ProviderId, Usage};
use tracing::Span;
use tracing::field::Empty;

/// The span around one call through a fallback.
pub(crate) fn call_span(fallback: &ProviderId, req: &ChatRequest, streaming: bool) -> Span {
    tracing::info_span!(
        "chat",
        gen_ai.operation.name = "chat",
        palisade.fallback = %fallback,
        palisade.streaming = streaming,
        gen_ai.request.max_tokens = req.max_tokens,
        gen_ai.request.temperature = req.temperature.map(f64::from),
        gen_ai.response.model = Empty,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        palisade.cost_usd = Empty,
        palisade.attempts = Empty,
        error.type = Empty,
    )
}

/// The span around one candidate call (retries included).
/// Its parent is the call's span, given explicitly so the fallback does not
/// have to keep the call span entered (which would cost a move of its future).
///
/// `gen_ai.request.model` is the candidate's id, the one id its stats,
/// trail, limiter and breaker use; `palisade.model` the model id behind it.
pub(crate) fn attempt_span(
    parent: &Span,
    candidate: &ProviderId,
    model: &str,
    number: usize,
    hedge: bool,
) -> Span {
    tracing::info_span!(
        parent: parent,
        "attempt",
        gen_ai.request.model = %candidate,
        palisade.model = model,
        palisade.attempt = number,
        palisade.hedge = hedge,
        error.type = Empty,
    )
}

pub(crate) fn record_response(span: &Span, response: &ChatResponse, cost: Option<f64>) {
    span.record("gen_ai.response.model", response.model.as_str());
    span.record("palisade.attempts", response.attempts.len());
    if let Some(u) = &response.usage {
        span.record("gen_ai.usage.input_tokens", u.input_tokens);
        span.record("gen_ai.usage.output_tokens", u.output_tokens);
    }
    if let Some(c) = cost {
        span.record("palisade.cost_usd", c);
    }
}

pub(crate) fn record_error(span: &Span, error: &ProviderError) {
    span.record("error.type", error.kind().as_str());
}

/// A candidate call ended.
pub(crate) fn attempt_finished(
    candidate: &ProviderId,
    outcome: Result<Option<&Usage>, ErrorKind>,
    elapsed: Duration,
    cost: Option<f64>,
) {
    #[cfg(feature = "metrics")]
    {
        let model = candidate.to_string();
        let label = match outcome {
            Ok(_) => "success",
            Err(kind) => kind.as_str(),
        };
        metrics::counter!("palisade.stack.attempts", "gen_ai.request.model" => model.clone(), "outcome" => label)
            .increment(1);
        metrics::histogram!("gen_ai.client.operation.duration", "gen_ai.request.model" => model.clone(), "outcome" => label)
            .record(elapsed.as_secs_f64());
        if let Ok(Some(u)) = outcome {
            metrics::histogram!("gen_ai.client.token.usage", "gen_ai.request.model" => model.clone(), "gen_ai.token.type" => "input")
                .record(f64::from(u.input_tokens));
            metrics::histogram!("gen_ai.client.token.usage", "gen_ai.request.model" => model.clone(), "gen_ai.token.type" => "output")
                .record(f64::from(u.output_tokens));
        }
        if let Some(c) = cost {
            metrics::counter!("palisade.stack.cost_micro_usd", "gen_ai.request.model" => model)
                .increment((c.max(0.0) * 1e6).round() as u64);
        }
    }
    #[cfg(not(feature = "metrics"))]
    let _ = (candidate, outcome, elapsed, cost);
}

/// A retry is about to be sent after `delay`.
pub(crate) fn retried(
    candidate: &ProviderId,
    attempt: u32,
    delay: Duration,
    error: &ProviderError,
) {
    tracing::info!(
        target: "palisade_stack::retry",
        attempt,
        gen_ai.request.model = %candidate,
        palisade.delay_ms = delay.as_secs_f64() * 1000.0,
        error.type = error.kind().as_str(),
        retry_after_ms = error.retry_after().map(|d| d.as_secs_f64() * 1000.0),
        "retrying"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!("palisade.stack.retries", "gen_ai.request.model" => candidate.to_string(), "error.type" => error.kind().as_str())
        .increment(1);
}

/// A candidate was passed over without a call.
pub(crate) fn skipped(
    parent: &Span,
    candidate: &ProviderId,
    reason: &'static str,
    retry_after: Option<Duration>,
) {
    tracing::debug!(
        target: "palisade_stack::fallback",
        parent: parent,
        reason,
        gen_ai.request.model = %candidate,
        retry_after_ms = retry_after.map(|d| d.as_secs_f64() * 1000.0),
        "candidate skipped"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!("palisade.stack.skips", "gen_ai.request.model" => candidate.to_string(), "reason" => reason)
        .increment(1);
}

/// The request moves on from a failed candidate.
pub(crate) fn fell_back(parent: &Span, candidate: &ProviderId, error: &ProviderError) {
    tracing::info!(
        target: "palisade_stack::fallback",
        parent: parent,
        from = %candidate,
        error.type = error.kind().as_str(),
        "falling back to the next candidate"
    );
    #[cfg(feature = "metrics")]
    metrics::counter!("palisade.stack.fallbacks", "gen_ai.request.model" => candidate.to_string(), "error.type" => error.kind().as_str())
        .increment(1);
}

/// A budget refused a request.
pub(crate) fn budget_rejected(scope: &str) {
    #[cfg(feature = "metrics")]
    metrics::counter!("palisade.stack.budget.rejections", "scope" => scope.to_owned()).increment(1);
    #[cfg(not(feature = "metrics"))]
    let _ = scope;
}
