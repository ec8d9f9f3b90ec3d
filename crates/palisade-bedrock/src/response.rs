//! A Converse answer as a core [`ChatResponse`]: text, reasoning, usage,
//! stop reason, and who served it.

use aws_sdk_bedrockruntime::operation::RequestId;
use aws_sdk_bedrockruntime::operation::converse::ConverseOutput;
use aws_sdk_bedrockruntime::types::{
    ContentBlock as WireBlock, ConverseOutput as WireOutput, ReasoningContentBlock,
    ServiceTier as WireServiceTier, StopReason as WireStopReason, TokenUsage,
};
use palisade_core::{
    ChatResponse, ContentBlock, ErrorKind, ProviderError, ProviderId, Reasoning, ServiceTier,
    StopReason, StructuredOutput, Usage,
};

/// Converts a Converse output. With `structured` set (the request's
/// structured output, emulated by a forced tool), that tool's input is
/// checked against the schema and returned as [`ChatResponse::structured`];
/// the tool use itself is left out of the content.
///
/// # Errors
/// A forced-tool input that breaks the schema, or is missing.
pub(crate) fn chat_response(
    output: &ConverseOutput,
    served_by: &ProviderId,
    model_id: &str,
    structured: Option<&StructuredOutput>,
) -> Result<ChatResponse, ProviderError> {
    let mut value = None;
    let mut content = Vec::new();
    let mut reasoning: Option<Reasoning> = None;
    if let Some(WireOutput::Message(message)) = output.output() {
        for block in message.content() {
            match block {
                WireBlock::Text(text) => content.push(ContentBlock::text(text)),
                WireBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(r)) => {
                    let merged = reasoning.get_or_insert_with(Reasoning::default);
                    merged.text.push_str(r.text());
                    if let Some(signature) = r.signature() {
                        merged.signature = Some(signature.to_owned());
                    }
                }
                WireBlock::ReasoningContent(ReasoningContentBlock::RedactedContent(data)) => {
                    use base64::Engine as _;
                    content.push(ContentBlock::RedactedReasoning {
                        data: base64::engine::general_purpose::STANDARD.encode(data.as_ref()),
                    });
                }
                WireBlock::ToolUse(tool) => {
                    let input = crate::document::to_json(tool.input());
                    if structured.is_some_and(|s| s.name == tool.name()) {
                        value = Some(input);
                    } else {
                        content.push(ContentBlock::ToolUse {
                            id: tool.tool_use_id().to_owned(),
                            name: tool.name().to_owned(),
                            input,
                        });
                    }
                }
                _ => {}
            }
        }
    }
    let mut stop = stop_reason(output.stop_reason());
    let structured_value = match structured {
        None => None,
        Some(schema) => {
            let value = value.ok_or_else(|| {
                ProviderError::new(
                    ErrorKind::Internal,
                    format!(
                        "structured output: the model did not call the forced tool `{}`",
                        schema.name
                    ),
                )
                .with_provider(served_by.clone())
            })?;
            schema.check(&value).map_err(|e| {
                ProviderError::new(
                    ErrorKind::Internal,
                    format!("structured output `{}`: {e}", schema.name),
                )
                .with_provider(served_by.clone())
            })?;
            // The forced tool is hidden: for the caller the turn simply ended.
            if stop == StopReason::ToolUse
                && !content
                    .iter()
                    .any(|b| matches!(b, ContentBlock::ToolUse { .. }))
            {
                stop = StopReason::EndTurn;
            }
            Some(value)
        }
    };
    Ok(ChatResponse {
        content,
        reasoning,
        usage: output.usage().and_then(usage),
        stop_reason: stop,
        served_by: served_by.clone(),
        model: model_id.to_owned(),
        request_id: output.request_id().map(str::to_owned),
        structured: structured_value,
        service_tier: output.service_tier().and_then(service_tier),
        rate_limit: None,
        attempts: Vec::new(),
    })
}

/// The tier Bedrock says served the call.
pub(crate) fn service_tier(tier: &WireServiceTier) -> Option<ServiceTier> {
    ServiceTier::from_name(tier.r#type().as_str())
}

/// Bedrock's token usage, or `None` when every count is zero: the SDK fills
/// a missing `usage` with zeros, and a real call never costs nothing, so zeros
/// mean "not reported" and must not settle a limiter's reservation to zero.
pub(crate) fn usage(usage: &TokenUsage) -> Option<Usage> {
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    let usage = Usage {
        input_tokens: count(usage.input_tokens()),
        output_tokens: count(usage.output_tokens()),
        cache_read_tokens: usage.cache_read_input_tokens().map_or(0, count),
        cache_write_tokens: usage.cache_write_input_tokens().map_or(0, count),
        cache_write_1h_tokens: 0,
    };
    (usage.total() > 0).then_some(usage)
}

/// Bedrock's stop reason in core terms. A context-window stop truncates the
/// answer like `max_tokens`; guardrail and content-filter stops are refusals;
/// malformed-output stops and reasons newer than this SDK end the turn.
pub(crate) fn stop_reason(reason: &WireStopReason) -> StopReason {
    match reason {
        WireStopReason::EndTurn => StopReason::EndTurn,
        WireStopReason::MaxTokens | WireStopReason::ModelContextWindowExceeded => {
            StopReason::MaxTokens
        }
        WireStopReason::StopSequence => StopReason::StopSequence,
        WireStopReason::ToolUse => StopReason::ToolUse,
        WireStopReason::ContentFiltered | WireStopReason::GuardrailIntervened => {
            StopReason::ContentFiltered
        }
        other => {
            tracing::debug!(
                stop_reason = other.as_str(),
                "bedrock stop reason read as end_turn"
            );
            StopReason::EndTurn
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_zero_usage_is_unknown() {
        let zero = TokenUsage::builder()
            .input_tokens(0)
            .output_tokens(0)
            .total_tokens(0)
            .build()
            .unwrap();
        assert_eq!(usage(&zero), None);
        let cached_only = TokenUsage::builder()
            .input_tokens(0)
            .output_tokens(0)
            .total_tokens(0)
            .cache_read_input_tokens(10)
            .build()
            .unwrap();
        assert_eq!(usage(&cached_only).map(|u| u.cache_read_tokens), Some(10));
    }

    #[test]
    fn stop_reasons_map() {
        assert_eq!(
            stop_reason(&WireStopReason::MaxTokens),
            StopReason::MaxTokens
        );
        assert_eq!(
            stop_reason(&WireStopReason::ModelContextWindowExceeded),
            StopReason::MaxTokens
        );
        assert_eq!(
            stop_reason(&WireStopReason::GuardrailIntervened),
            StopReason::ContentFiltered
        );
        assert_eq!(
            stop_reason(&WireStopReason::from("something_new")),
            StopReason::EndTurn
        );
    }
}
