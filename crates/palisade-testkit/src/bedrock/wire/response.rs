//! Bedrock Runtime response bodies: a [`ChatResponse`] as Converse JSON, and
//! the JSON payloads of ConverseStream events.

use std::time::Duration;

use palisade_core::{ChatResponse, ContentBlock, StopReason, Usage};
use serde_json::{Value, json};

/// The Converse response body for a complete answer.
///
/// Reasoning comes first as a `reasoningContent` block, as Claude answers it.
/// A response without usage omits the `usage` member, which SDKs fill with
/// zeros: exactly the case a client must treat as "usage unknown".
/// `latency` is the time the model took, reported as `metrics.latencyMs`.
pub(crate) fn converse_body(response: &ChatResponse, latency: Duration) -> Value {
    let mut content = Vec::with_capacity(response.content.len() + 1);
    if let Some(reasoning) = &response.reasoning {
        content.push(reasoning_block(
            &reasoning.text,
            reasoning.signature.as_deref(),
        ));
    }
    for block in &response.content {
        content.push(match block {
            ContentBlock::Text { text } => json!({ "text": text }),
            ContentBlock::Reasoning { text, signature } => {
                reasoning_block(text, signature.as_deref())
            }
            ContentBlock::Json { value } => json!({ "text": value.to_string() }),
            ContentBlock::ToolUse { id, name, input } => {
                json!({ "toolUse": { "toolUseId": id, "name": name, "input": input } })
            }
            ContentBlock::RedactedReasoning { data } => {
                json!({ "reasoningContent": { "redactedContent": data } })
            }
            // `ContentBlock` is non-exhaustive; a future block kind the fake
            // does not know is sent as its JSON form in a text block.
            other => json!({ "text": serde_json::to_string(other).unwrap_or_default() }),
        });
    }
    let mut body = json!({
        "output": { "message": { "role": "assistant", "content": content } },
        "stopReason": stop_reason(response.stop_reason),
        "metrics": metrics(latency),
    });
    if let (Some(usage), Some(object)) = (response.usage, body.as_object_mut()) {
        object.insert("usage".to_owned(), usage_json(usage));
    }
    body
}

fn reasoning_block(text: &str, signature: Option<&str>) -> Value {
    let mut reasoning_text = json!({ "text": text });
    if let (Some(signature), Some(object)) = (signature, reasoning_text.as_object_mut()) {
        object.insert("signature".to_owned(), json!(signature));
    }
    json!({ "reasoningContent": { "reasoningText": reasoning_text } })
}

/// Bedrock's `TokenUsage`: `totalTokens` counts every token, cache included.
pub(crate) fn usage_json(usage: Usage) -> Value {
    json!({
        "inputTokens": usage.input_tokens,
        "outputTokens": usage.output_tokens,
        "totalTokens": usage.total(),
        "cacheReadInputTokens": usage.cache_read_tokens,
        "cacheWriteInputTokens": usage.cache_write_tokens,
    })
}

/// Bedrock's `stopReason` string for a core stop reason.
pub(crate) fn stop_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::ContentFiltered => "content_filtered",
        _ => "end_turn",
    }
}

/// `contentBlockDelta` payload carrying answer text.
pub(crate) fn text_delta(index: u32, text: &str) -> Value {
    json!({ "contentBlockIndex": index, "delta": { "text": text } })
}

/// `contentBlockStart` payload opening a tool use.
pub(crate) fn tool_use_start(index: u32, id: &str, name: &str) -> Value {
    json!({ "contentBlockIndex": index, "start": { "toolUse": { "toolUseId": id, "name": name } } })
}

/// `contentBlockDelta` payload carrying a piece of a tool use's input JSON.
pub(crate) fn tool_input_delta(index: u32, json_text: &str) -> Value {
    json!({ "contentBlockIndex": index, "delta": { "toolUse": { "input": json_text } } })
}

/// `contentBlockDelta` payload carrying reasoning text.
pub(crate) fn reasoning_text_delta(index: u32, text: &str) -> Value {
    json!({ "contentBlockIndex": index, "delta": { "reasoningContent": { "text": text } } })
}

/// `contentBlockDelta` payload carrying the reasoning signature.
pub(crate) fn reasoning_signature_delta(index: u32, signature: &str) -> Value {
    json!({ "contentBlockIndex": index, "delta": { "reasoningContent": { "signature": signature } } })
}

/// `contentBlockStop` payload.
pub(crate) fn block_stop(index: u32) -> Value {
    json!({ "contentBlockIndex": index })
}

/// `messageStop` payload.
pub(crate) fn message_stop(reason: StopReason) -> Value {
    json!({ "stopReason": stop_reason(reason) })
}

/// Bedrock's `metrics`: the model's latency in whole milliseconds.
fn metrics(latency: Duration) -> Value {
    let millis = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
    json!({ "latencyMs": millis })
}

/// `metadata` payload: usage (when known) and the stream's latency.
pub(crate) fn metadata(usage: Option<Usage>, latency: Duration) -> Value {
    let mut body = json!({ "metrics": metrics(latency) });
    if let (Some(usage), Some(object)) = (usage, body.as_object_mut()) {
        object.insert("usage".to_owned(), usage_json(usage));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::{ProviderId, Reasoning};

    #[test]
    fn converse_body_has_reasoning_first_and_full_usage() {
        let mut response = ChatResponse::text(
            ProviderId::new("m"),
            "answer",
            Some(Usage {
                input_tokens: 10,
                output_tokens: 5,
                cache_read_tokens: 3,
                cache_write_tokens: 2,
                cache_write_1h_tokens: 0,
            }),
        );
        response.reasoning = Some(Reasoning {
            text: "think".into(),
            signature: Some("sig".into()),
        });
        response.stop_reason = StopReason::MaxTokens;
        let body = converse_body(&response, Duration::from_micros(1_250_900));
        assert_eq!(body["metrics"]["latencyMs"], 1_250);
        let content = &body["output"]["message"]["content"];
        assert_eq!(
            content[0]["reasoningContent"]["reasoningText"]["signature"],
            "sig"
        );
        assert_eq!(content[1]["text"], "answer");
        assert_eq!(body["stopReason"], "max_tokens");
        assert_eq!(body["usage"]["totalTokens"], 20);
        assert_eq!(body["usage"]["cacheWriteInputTokens"], 2);
    }

    #[test]
    fn unknown_usage_is_left_out() {
        let body = converse_body(
            &ChatResponse::text(ProviderId::new("m"), "x", None),
            Duration::ZERO,
        );
        assert!(body.get("usage").is_none());
    }
}
