//! A core answer → a `chat.completion`, and a core stream →
//! `chat.completion.chunk` events ending in `data: [DONE]`.
//!
//! | core | Chat Completions |
//! |---|---|
//! | text (and JSON) blocks | `message.content` / `delta.content` |
//! | `tool_use` blocks / `ToolUseStart` + `ToolInputDelta` | `tool_calls` (`arguments` a JSON string), indexed in order |
//! | reasoning | `reasoning_content` (the field vLLM and DeepSeek use); its signature has no field |
//! | stop reason | `finish_reason`: `stop`, `length`, `tool_calls`, `content_filter` |
//! | usage | `prompt_tokens` (cache reads and writes included), `completion_tokens`, `prompt_tokens_details.cached_tokens` |
//! | service tier | `service_tier` |
//! | an error after the first event | `data: {"error": {...}}`, then the body ends |

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use palisade_core::{
    ChatResponse, ContentBlock, ProviderError, ServiceTier, StopReason, StreamEvent, Usage,
};
use serde_json::{Value, json};

use crate::serve::error::{ApiError, Dialect};
use crate::serve::sse::{self, Frames};

fn finish_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::MaxTokens => "length",
        StopReason::ToolUse => "tool_calls",
        StopReason::ContentFiltered => "content_filter",
        _ => "stop",
    }
}

fn tier(tier: ServiceTier) -> &'static str {
    match tier {
        ServiceTier::Flex => "flex",
        ServiceTier::Priority => "priority",
        ServiceTier::Reserved => "scale",
        _ => "default",
    }
}

fn usage(u: Usage) -> Value {
    let prompt = u64::from(u.input_tokens)
        + u64::from(u.cache_read_tokens)
        + u64::from(u.cache_write_tokens);
    let completion = u64::from(u.output_tokens);
    json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": u.cache_read_tokens},
    })
}

fn created() -> u64 {
    // A timestamp for the client, not a timing: wall time is what it means.
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `chat.completion` of an answer.
pub(super) fn completion(answer: &ChatResponse, id: &str) -> Value {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in &answer.content {
        match block {
            ContentBlock::Text { text: t } => text.push_str(t),
            ContentBlock::Json { value } => text.push_str(&value.to_string()),
            ContentBlock::ToolUse { id, name, input } => tool_calls.push(json!({
                "id": id,
                "type": "function",
                "function": {"name": name, "arguments": input.to_string()},
            })),
            _ => {}
        }
    }
    let mut message = json!({
        "role": "assistant",
        "content": if text.is_empty() && !tool_calls.is_empty() { Value::Null } else { Value::String(text) },
        "refusal": null,
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    if let Some(r) = &answer.reasoning {
        message["reasoning_content"] = Value::String(r.text.clone());
    }
    let mut out = json!({
        "id": id,
        "object": "chat.completion",
        "created": created(),
        "model": answer.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(answer.stop_reason),
        }],
        "system_fingerprint": null,
    });
    if let Some(u) = answer.usage {
        out["usage"] = usage(u);
    }
    if let Some(t) = answer.service_tier {
        out["service_tier"] = json!(tier(t));
    }
    out
}

/// Writes a stream as `chat.completion.chunk` events.
pub(super) struct Chunks {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// Index of the open tool call among this answer's tool calls.
    tool_index: Option<usize>,
    tools_seen: usize,
    usage: Option<Usage>,
    stop: Option<StopReason>,
    tier: Option<ServiceTier>,
}

impl Chunks {
    /// Chunks for the answer `id` of `model`.
    pub(super) fn new(id: String, model: String, include_usage: bool) -> Self {
        Self {
            id,
            model,
            created: created(),
            include_usage,
            tool_index: None,
            tools_seen: 0,
            usage: None,
            stop: None,
            tier: None,
        }
    }

    fn chunk(&self, choices: Value) -> Value {
        let mut c = json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": null,
        });
        c["choices"] = choices;
        if let Some(t) = self.tier {
            c["service_tier"] = json!(tier(t));
        }
        c
    }

    fn delta(&self, delta: Value) -> Bytes {
        let mut choice = json!({"index": 0, "logprobs": null, "finish_reason": null});
        choice["delta"] = delta;
        sse::data(&self.chunk(Value::Array(vec![choice])))
    }
}

impl Frames for Chunks {
    fn start(&mut self) -> Vec<Bytes> {
        vec![self.delta(json!({"role": "assistant", "content": "", "refusal": null}))]
    }

    fn event(&mut self, event: StreamEvent) -> Vec<Bytes> {
        match event {
            StreamEvent::TextDelta { text } if !text.is_empty() => {
                vec![self.delta(json!({"content": text}))]
            }
            StreamEvent::ReasoningDelta { text, .. } if !text.is_empty() => {
                vec![self.delta(json!({"reasoning_content": text}))]
            }
            StreamEvent::ToolUseStart { id, name } => {
                let index = self.tools_seen;
                self.tools_seen += 1;
                self.tool_index = Some(index);
                vec![self.delta(json!({"tool_calls": [{
                    "index": index,
                    "id": id,
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }]}))]
            }
            StreamEvent::ToolInputDelta { json } => match self.tool_index {
                Some(index) if !json.is_empty() => vec![self.delta(json!({"tool_calls": [{
                    "index": index,
                    "function": {"arguments": json},
                }]}))],
                _ => Vec::new(),
            },
            StreamEvent::BlockStop => {
                self.tool_index = None;
                Vec::new()
            }
            StreamEvent::Usage(u) => {
                self.usage = Some(u);
                Vec::new()
            }
            StreamEvent::ServiceTier { tier } => {
                self.tier = Some(tier);
                Vec::new()
            }
            StreamEvent::Stop { reason } => {
                self.stop = Some(reason);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn finish(&mut self) -> Vec<Bytes> {
        let reason = self.stop.unwrap_or(StopReason::EndTurn);
        let mut out = vec![sse::data(&self.chunk(json!([{
            "index": 0, "delta": {}, "logprobs": null, "finish_reason": finish_reason(reason),
        }])))];
        if self.include_usage {
            let mut last = self.chunk(json!([]));
            last["usage"] = self.usage.map_or(Value::Null, usage);
            out.push(sse::data(&last));
        }
        out.push(Bytes::from_static(b"data: [DONE]\n\n"));
        out
    }

    fn error(&mut self, error: &ProviderError) -> Vec<Bytes> {
        let e = ApiError::from_provider(error, Dialect::OpenAi);
        vec![sse::data(&json!({"error": e.object(Dialect::OpenAi)}))]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(frames: &[Bytes]) -> Vec<String> {
        frames
            .iter()
            .map(|f| {
                let text = std::str::from_utf8(f).unwrap();
                text.strip_prefix("data: ").unwrap().trim_end().to_owned()
            })
            .collect()
    }

    #[test]
    fn tool_calls_are_indexed_and_the_stream_ends_with_usage_then_done() {
        let mut chunks = Chunks::new("chatcmpl-1".into(), "m".into(), true);
        let mut frames = chunks.start();
        for (id, args) in [("a", "{\"x\":1}"), ("b", "{}")] {
            frames.extend(chunks.event(StreamEvent::ToolUseStart {
                id: id.into(),
                name: "f".into(),
            }));
            frames.extend(chunks.event(StreamEvent::ToolInputDelta { json: args.into() }));
            frames.extend(chunks.event(StreamEvent::BlockStop));
        }
        frames.extend(chunks.event(StreamEvent::Usage(Usage::new(3, 4))));
        frames.extend(chunks.event(StreamEvent::Stop {
            reason: StopReason::ToolUse,
        }));
        frames.extend(chunks.finish());
        let lines = data(&frames);
        assert_eq!(lines.last().map(String::as_str), Some("[DONE]"));
        let json: Vec<Value> = lines[..lines.len() - 1]
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(json[0]["choices"][0]["delta"]["role"], "assistant");
        let second = &json[3]["choices"][0]["delta"]["tool_calls"][0];
        assert_eq!(
            (second["index"].as_u64(), second["id"].as_str()),
            (Some(1), Some("b"))
        );
        let finish = &json[json.len() - 2];
        assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
        let usage = &json[json.len() - 1];
        assert_eq!(usage["choices"], serde_json::json!([]));
        assert_eq!(usage["usage"]["completion_tokens"], 4);
        assert_eq!(usage["usage"]["total_tokens"], 7);
    }
}
