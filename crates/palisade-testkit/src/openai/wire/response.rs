//! Core answers → Chat Completions bodies and `chat.completion.chunk`s.

use palisade_core::{ChatResponse, ContentBlock, ServiceTier, StopReason, Usage};
use serde_json::{Value, json};

/// The wire `finish_reason` of a stop reason.
pub(crate) fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFiltered => "content_filter",
        _ => "stop",
    }
}

fn tier_name(tier: Option<ServiceTier>) -> &'static str {
    match tier {
        Some(ServiceTier::Flex) => "flex",
        Some(ServiceTier::Priority) => "priority",
        Some(ServiceTier::Reserved) => "scale",
        _ => "default",
    }
}

/// `usage`: `prompt_tokens` counts cached tokens too, as OpenAI's does.
pub(crate) fn usage(u: Usage) -> Value {
    let prompt = u.input_tokens + u.cache_read_tokens + u.cache_write_tokens;
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": u.output_tokens,
        "total_tokens": prompt + u.output_tokens,
        "prompt_tokens_details": { "cached_tokens": u.cache_read_tokens, "audio_tokens": 0 },
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

/// A `chat.completion` body.
pub(crate) fn completion(
    id: &str,
    created: u64,
    model: &str,
    answer: &ChatResponse,
    u: Usage,
) -> Value {
    let text: String = answer
        .content
        .iter()
        .filter_map(ContentBlock::as_answer_text)
        .collect();
    let calls: Vec<Value> = answer
        .tool_uses()
        .map(|(id, name, input)| {
            json!({
                "id": id,
                "type": "function",
                "function": { "name": name, "arguments": input.to_string() }
            })
        })
        .collect();
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { Value::String(text) },
        "refusal": null,
        "annotations": []
    });
    if !calls.is_empty() {
        message["tool_calls"] = Value::Array(calls);
    }
    json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(answer.stop_reason)
        }],
        "usage": usage(u),
        "service_tier": tier_name(answer.service_tier),
        "system_fingerprint": "fp_palisade_fake"
    })
}

/// Writes `chat.completion.chunk`s with the fields every chunk repeats.
pub(crate) struct ChunkWriter {
    pub(crate) id: String,
    pub(crate) created: u64,
    pub(crate) model: String,
    pub(crate) include_usage: bool,
    pub(crate) tier: Option<ServiceTier>,
}

impl ChunkWriter {
    fn base(&self, choices: Value) -> Value {
        let mut chunk = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "service_tier": tier_name(self.tier),
            "system_fingerprint": "fp_palisade_fake"
        });
        chunk["choices"] = choices;
        if self.include_usage {
            chunk["usage"] = Value::Null;
        }
        chunk
    }

    /// A chunk with one choice: this delta and finish reason.
    pub(crate) fn delta(&self, delta: Value, finish: Option<&str>) -> Value {
        let mut choice = json!({ "index": 0, "logprobs": null, "finish_reason": finish });
        choice["delta"] = delta;
        self.base(Value::Array(vec![choice]))
    }

    /// The last chunk: no choices, the usage.
    pub(crate) fn usage(&self, u: Usage) -> Value {
        let mut chunk = self.base(json!([]));
        chunk["usage"] = usage(u);
        chunk
    }
}

/// One SSE frame.
pub(crate) fn sse(data: &str) -> bytes::Bytes {
    bytes::Bytes::from(format!("data: {data}\n\n"))
}
