//! Answers in the Messages API's wire format: the message JSON, the SSE
//! events of a stream, and error bodies.

use palisade_core::{
    ChatResponse, ContentBlock, ErrorKind, ProviderError, StopReason, StreamEvent, Usage,
};
use serde_json::{Value, json};

/// The fake's thinking signature: a keyed hash of the thinking text, so an
/// echoed block whose text or signature was changed is refused (as the API
/// refuses it).
pub(super) fn signature(thinking: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"palisade-fake-anthropic:"
        .iter()
        .chain(thinking.as_bytes())
    {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("EqQBCkYIBxgCKkD{h:016x}")
}

pub(super) fn stop_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::EndTurn => "end_turn",
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::ContentFiltered => "refusal",
        _ => "end_turn",
    }
}

pub(super) fn usage_json(u: &Usage) -> Value {
    let one_hour = u.cache_write_1h_tokens.min(u.cache_write_tokens);
    json!({
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": u.cache_write_tokens - one_hour,
            "ephemeral_1h_input_tokens": one_hour,
        },
        "service_tier": "standard",
    })
}

/// The answer's content blocks; reasoning (when thinking was on) first,
/// signed.
fn content_json(answer: &ChatResponse, thinking: bool) -> Vec<Value> {
    let mut out = Vec::new();
    if thinking && let Some(r) = &answer.reasoning {
        out.push(
            json!({ "type": "thinking", "thinking": r.text, "signature": signature(&r.text) }),
        );
    }
    for b in &answer.content {
        match b {
            ContentBlock::Text { text } => out.push(json!({ "type": "text", "text": text })),
            ContentBlock::Json { value } => {
                out.push(json!({ "type": "text", "text": value.to_string() }));
            }
            ContentBlock::ToolUse { id, name, input } => {
                out.push(json!({ "type": "tool_use", "id": id, "name": name, "input": input }));
            }
            ContentBlock::Reasoning { text, .. } if thinking => {
                out.push(
                    json!({ "type": "thinking", "thinking": text, "signature": signature(text) }),
                );
            }
            ContentBlock::RedactedReasoning { data } if thinking => {
                out.push(json!({ "type": "redacted_thinking", "data": data }));
            }
            _ => {}
        }
    }
    out
}

pub(super) fn message_json(
    id: &str,
    model: &str,
    answer: &ChatResponse,
    usage: &Usage,
    thinking: bool,
) -> Value {
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content_json(answer, thinking),
        "stop_reason": stop_reason(answer.stop_reason),
        "stop_sequence": null,
        "usage": usage_json(usage),
    })
}

/// `(status, error.type)` for a provider error.
pub(super) fn error_type(kind: ErrorKind) -> (u16, &'static str) {
    match kind {
        ErrorKind::Throttled => (429, "rate_limit_error"),
        ErrorKind::Overloaded => (529, "overloaded_error"),
        ErrorKind::Unavailable => (503, "api_error"),
        ErrorKind::Timeout => (504, "timeout_error"),
        ErrorKind::ContextWindowExceeded | ErrorKind::InvalidRequest => {
            (400, "invalid_request_error")
        }
        ErrorKind::QuotaExhausted => (400, "billing_error"),
        ErrorKind::Auth => (401, "authentication_error"),
        ErrorKind::NotFound => (404, "not_found_error"),
        _ => (500, "api_error"),
    }
}

pub(super) fn error_json(error_type: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": error_type, "message": message } })
}

/// The message of a provider error as the API would word it.
pub(super) fn error_message(err: &ProviderError) -> String {
    if err.kind() == ErrorKind::ContextWindowExceeded
        && !err
            .message()
            .to_ascii_lowercase()
            .contains("prompt is too long")
    {
        return format!("prompt is too long: {}", err.message());
    }
    err.message().to_owned()
}

/// One SSE event.
pub(super) struct Frame {
    pub(super) event: &'static str,
    pub(super) data: Value,
}

impl Frame {
    fn new(event: &'static str, data: Value) -> Self {
        Self { event, data }
    }

    pub(super) fn encode(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.event, self.data)
    }

    pub(super) fn error(error_type: &str, message: &str) -> Self {
        Self::new("error", error_json(error_type, message))
    }
}

#[derive(PartialEq, Eq)]
enum OpenKind {
    Text,
    Tool,
    Thinking,
}

/// The SSE events of a streamed answer, from the provider's events (up to
/// and including its error, if it failed mid-stream).
pub(super) fn frames(
    id: &str,
    model: &str,
    events: Vec<Result<StreamEvent, ProviderError>>,
    usage: &Usage,
    thinking: bool,
) -> Vec<Frame> {
    let mut start_usage = usage_json(usage);
    start_usage["output_tokens"] = json!(1);
    let mut out = vec![
        Frame::new(
            "message_start",
            json!({ "type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null, "usage": start_usage,
            }}),
        ),
        Frame::new("ping", json!({ "type": "ping" })),
    ];
    let mut index = 0usize;
    let mut open: Option<(OpenKind, String)> = None;
    let mut stop = StopReason::EndTurn;
    let close = |out: &mut Vec<Frame>, open: &mut Option<(OpenKind, String)>, index: &mut usize| {
        if let Some((kind, text)) = open.take() {
            if kind == OpenKind::Thinking {
                out.push(Frame::new(
                    "content_block_delta",
                    json!({ "type": "content_block_delta", "index": *index,
                            "delta": { "type": "signature_delta", "signature": signature(&text) } }),
                ));
            }
            out.push(Frame::new(
                "content_block_stop",
                json!({ "type": "content_block_stop", "index": *index }),
            ));
            *index += 1;
        }
    };
    let start = |out: &mut Vec<Frame>, index: usize, block: Value| {
        out.push(Frame::new(
            "content_block_start",
            json!({ "type": "content_block_start", "index": index, "content_block": block }),
        ));
    };
    let delta = |out: &mut Vec<Frame>, index: usize, delta: Value| {
        out.push(Frame::new(
            "content_block_delta",
            json!({ "type": "content_block_delta", "index": index, "delta": delta }),
        ));
    };
    for event in events {
        match event {
            Ok(StreamEvent::TextDelta { text }) => {
                if !matches!(open, Some((OpenKind::Text, _))) {
                    close(&mut out, &mut open, &mut index);
                    start(&mut out, index, json!({ "type": "text", "text": "" }));
                    open = Some((OpenKind::Text, String::new()));
                }
                delta(
                    &mut out,
                    index,
                    json!({ "type": "text_delta", "text": text }),
                );
            }
            Ok(StreamEvent::ReasoningDelta { text, .. }) => {
                if !thinking {
                    continue;
                }
                if !matches!(open, Some((OpenKind::Thinking, _))) {
                    close(&mut out, &mut open, &mut index);
                    start(
                        &mut out,
                        index,
                        json!({ "type": "thinking", "thinking": "", "signature": "" }),
                    );
                    open = Some((OpenKind::Thinking, String::new()));
                }
                if !text.is_empty() {
                    if let Some((_, acc)) = &mut open {
                        acc.push_str(&text);
                    }
                    delta(
                        &mut out,
                        index,
                        json!({ "type": "thinking_delta", "thinking": text }),
                    );
                }
            }
            Ok(StreamEvent::RedactedReasoning { data }) => {
                if !thinking {
                    continue;
                }
                close(&mut out, &mut open, &mut index);
                start(
                    &mut out,
                    index,
                    json!({ "type": "redacted_thinking", "data": data }),
                );
                out.push(Frame::new(
                    "content_block_stop",
                    json!({ "type": "content_block_stop", "index": index }),
                ));
                index += 1;
            }
            Ok(StreamEvent::ToolUseStart { id: tool_id, name }) => {
                close(&mut out, &mut open, &mut index);
                start(
                    &mut out,
                    index,
                    json!({ "type": "tool_use", "id": tool_id, "name": name, "input": {} }),
                );
                open = Some((OpenKind::Tool, String::new()));
            }
            Ok(StreamEvent::ToolInputDelta { json: fragment }) => {
                delta(
                    &mut out,
                    index,
                    json!({ "type": "input_json_delta", "partial_json": fragment }),
                );
            }
            Ok(StreamEvent::BlockStop) => close(&mut out, &mut open, &mut index),
            Ok(StreamEvent::Stop { reason }) => stop = reason,
            Ok(_) => {}
            Err(err) => {
                close(&mut out, &mut open, &mut index);
                let (_, kind) = error_type(err.kind());
                out.push(Frame::error(kind, &error_message(&err)));
                return out;
            }
        }
    }
    close(&mut out, &mut open, &mut index);
    out.push(Frame::new(
        "message_delta",
        json!({ "type": "message_delta",
                "delta": { "stop_reason": stop_reason(stop), "stop_sequence": null },
                "usage": usage_json(usage) }),
    ));
    out.push(Frame::new(
        "message_stop",
        json!({ "type": "message_stop" }),
    ));
    out
}
