//! One span per Bedrock call, with the OpenTelemetry GenAI attribute names, so
//! any tracing backend groups calls by model and reads their token usage.

use palisade_core::{ChatRequest, ChatResponse, ProviderError, StopReason, Usage};
use tracing::Span;
use tracing::field::Empty;

/// The span of one call; usage, finish reason, request id and error type are
/// recorded on it as they become known.
pub(crate) fn call_span(operation: &'static str, model_id: &str, req: &ChatRequest) -> Span {
    tracing::info_span!(
        "bedrock.call",
        otel.name = format_args!("chat {model_id}"),
        gen_ai.system = "aws.bedrock",
        gen_ai.operation.name = "chat",
        gen_ai.request.model = model_id,
        gen_ai.request.max_tokens = req.max_tokens,
        gen_ai.usage.input_tokens = Empty,
        gen_ai.usage.output_tokens = Empty,
        gen_ai.response.finish_reasons = Empty,
        aws.bedrock.operation = operation,
        aws.request_id = Empty,
        error.type = Empty,
    )
}

pub(crate) fn record_usage(span: &Span, usage: Usage) {
    span.record("gen_ai.usage.input_tokens", usage.input_tokens);
    span.record("gen_ai.usage.output_tokens", usage.output_tokens);
}

pub(crate) fn record_stop(span: &Span, reason: StopReason) {
    span.record("gen_ai.response.finish_reasons", finish_reason(reason));
}

pub(crate) fn record_request_id(span: &Span, request_id: Option<&str>) {
    if let Some(id) = request_id {
        span.record("aws.request_id", id);
    }
}

pub(crate) fn record_response(span: &Span, response: &ChatResponse) {
    if let Some(usage) = response.usage {
        record_usage(span, usage);
    }
    record_stop(span, response.stop_reason);
    record_request_id(span, response.request_id.as_deref());
}

/// Records the error on the span and emits the event a dashboard counts.
pub(crate) fn record_error(span: &Span, error: &ProviderError) {
    span.record("error.type", error.kind().as_str());
    record_request_id(span, error.request_id());
    tracing::warn!(
        parent: span,
        error.kind = error.kind().as_str(),
        http.status = error.status(),
        retry_after_ms = error.retry_after().map(|d| d.as_millis() as u64),
        error.message = error.message(),
        "bedrock error"
    );
}

fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::ContentFiltered => "content_filtered",
        _ => "other",
    }
}
