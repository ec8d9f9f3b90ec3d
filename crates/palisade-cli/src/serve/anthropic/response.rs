//! A core answer → a Messages API `message`, and a core stream → its SSE
//! events: `message_start`, `ping`, `content_block_start` / `_delta` /
//! `_stop`, `message_delta` (stop reason and the usage), `message_stop`.
//!
//! | core | Messages API |
//! |---|---|
//! | reasoning / `ReasoningDelta` | a `thinking` block (`thinking_delta`, `signature_delta`) |
//! | text (and JSON) | `text` blocks (`text_delta`) |
//! | `tool_use` / `ToolUseStart` + `ToolInputDelta` | `tool_use` blocks (`input_json_delta`) |
//! | redacted reasoning | `redacted_thinking` |
//! | stop reason | `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, `refusal` (content filtered) |
//! | usage | `input_tokens`, `output_tokens`, `cache_read_input_tokens`, `cache_creation_input_tokens`; in a stream on `message_delta` (the stack reports usage at the end) |
//! | an error after the first event | `event: error`, then the body ends |

use bytes::Bytes;
use palisade_core::{ChatResponse, ContentBlock, ProviderError, StopReason, StreamEvent, Usage};
use serde_json::{Value, json};

use crate::serve::error::{ApiError, Dialect};
use crate::serve::sse::{self, Frames};

fn stop_reason(reason: StopReason) -> &'static str {
    match reason {
        StopReason::MaxTokens => "max_tokens",
        StopReason::StopSequence => "stop_sequence",
        StopReason::ToolUse => "tool_use",
        StopReason::ContentFiltered => "refusal",
        _ => "end_turn",
    }
}

fn usage(u: Usage) -> Value {
    json!({
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "cache_read_input_tokens": u.cache_read_tokens,
        "cache_creation_input_tokens": u.cache_write_tokens,
    })
}

/// The `message` of an answer.
pub(super) fn message(answer: &ChatResponse, id: &str) -> Value {
    let mut content = Vec::with_capacity(answer.content.len() + 1);
    if let Some(r) = &answer.reasoning {
        content.push(json!({
            "type": "thinking",
            "thinking": r.text,
            "signature": r.signature.as_deref().unwrap_or(""),
        }));
    }
    for block in &answer.content {
        match block {
            ContentBlock::Text { text } => content.push(json!({"type": "text", "text": text})),
            ContentBlock::Json { value } => {
                content.push(json!({"type": "text", "text": value.to_string()}));
            }
            ContentBlock::ToolUse { id, name, input } => content.push(json!({
                "type": "tool_use", "id": id, "name": name, "input": input,
            })),
            ContentBlock::Reasoning { text, signature } => content.push(json!({
                "type": "thinking", "thinking": text, "signature": signature.as_deref().unwrap_or(""),
            })),
            ContentBlock::RedactedReasoning { data } => {
                content.push(json!({"type": "redacted_thinking", "data": data}));
            }
            _ => {}
        }
    }
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": answer.model,
        "content": content,
        "stop_reason": stop_reason(answer.stop_reason),
        "stop_sequence": null,
        "usage": usage(answer.usage.unwrap_or_default()),
    })
}

/// The kind of the content block open in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    Tool,
}

/// Writes a stream as Messages API events.
pub(super) struct Events {
    id: String,
    model: String,
    /// The open block and its index.
    open: Option<(Open, usize)>,
    next_index: usize,
    usage: Option<Usage>,
    stop: Option<StopReason>,
}

impl Events {
    /// Events of the answer `id` of `model`.
    pub(super) fn new(id: String, model: String) -> Self {
        Self {
            id,
            model,
            open: None,
            next_index: 0,
            usage: None,
            stop: None,
        }
    }

    fn close(&mut self, out: &mut Vec<Bytes>) {
        if let Some((_, index)) = self.open.take() {
            out.push(sse::named(
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            ));
        }
    }

    /// Opens a block of `kind` unless one is open already; its index.
    fn ensure(&mut self, kind: Open, block: Value, out: &mut Vec<Bytes>) -> usize {
        if let Some((open, index)) = self.open
            && open == kind
        {
            return index;
        }
        self.close(out);
        self.open_block(kind, block, out)
    }

    fn open_block(&mut self, kind: Open, block: Value, out: &mut Vec<Bytes>) -> usize {
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some((kind, index));
        let mut event = json!({"type": "content_block_start", "index": index});
        event["content_block"] = block;
        out.push(sse::named("content_block_start", &event));
        index
    }

    fn delta(index: usize, delta: Value) -> Bytes {
        let mut event = json!({"type": "content_block_delta", "index": index});
        event["delta"] = delta;
        sse::named("content_block_delta", &event)
    }
}

impl Frames for Events {
    fn start(&mut self) -> Vec<Bytes> {
        vec![
            sse::named(
                "message_start",
                &json!({"type": "message_start", "message": {
                    "id": self.id,
                    "type": "message",
                    "role": "assistant",
                    "model": self.model,
                    "content": [],
                    "stop_reason": null,
                    "stop_sequence": null,
                    "usage": {"input_tokens": 0, "output_tokens": 0},
                }}),
            ),
            sse::named("ping", &json!({"type": "ping"})),
        ]
    }

    fn event(&mut self, event: StreamEvent) -> Vec<Bytes> {
        let mut out = Vec::new();
        match event {
            StreamEvent::TextDelta { text } => {
                let i = self.ensure(Open::Text, json!({"type": "text", "text": ""}), &mut out);
                if !text.is_empty() {
                    out.push(Self::delta(i, json!({"type": "text_delta", "text": text})));
                }
            }
            StreamEvent::ReasoningDelta { text, signature } => {
                let i = self.ensure(
                    Open::Thinking,
                    json!({"type": "thinking", "thinking": "", "signature": ""}),
                    &mut out,
                );
                if !text.is_empty() {
                    out.push(Self::delta(
                        i,
                        json!({"type": "thinking_delta", "thinking": text}),
                    ));
                }
                if let Some(signature) = signature {
                    out.push(Self::delta(
                        i,
                        json!({"type": "signature_delta", "signature": signature}),
                    ));
                }
            }
            StreamEvent::RedactedReasoning { data } => {
                self.close(&mut out);
                self.open_block(
                    Open::Thinking,
                    json!({"type": "redacted_thinking", "data": data}),
                    &mut out,
                );
                self.close(&mut out);
            }
            StreamEvent::ToolUseStart { id, name } => {
                self.close(&mut out);
                self.open_block(
                    Open::Tool,
                    json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    &mut out,
                );
            }
            StreamEvent::ToolInputDelta { json } => {
                if let Some((Open::Tool, i)) = self.open {
                    out.push(Self::delta(
                        i,
                        json!({"type": "input_json_delta", "partial_json": json}),
                    ));
                }
            }
            StreamEvent::BlockStop => self.close(&mut out),
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Stop { reason } => self.stop = Some(reason),
            _ => {}
        }
        out
    }

    fn finish(&mut self) -> Vec<Bytes> {
        let mut out = Vec::new();
        self.close(&mut out);
        let reason = self.stop.unwrap_or(StopReason::EndTurn);
        out.push(sse::named(
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason(reason), "stop_sequence": null},
                "usage": usage(self.usage.unwrap_or_default()),
            }),
        ));
        out.push(sse::named("message_stop", &json!({"type": "message_stop"})));
        out
    }

    fn error(&mut self, error: &ProviderError) -> Vec<Bytes> {
        let e = ApiError::from_provider(error, Dialect::Anthropic);
        vec![sse::named(
            "error",
            &json!({"type": "error", "error": e.object(Dialect::Anthropic)}),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `(event name, data)` pairs of some frames.
    fn parse(frames: &[Bytes]) -> Vec<(String, Value)> {
        frames
            .iter()
            .map(|f| {
                let text = std::str::from_utf8(f).unwrap();
                let (event, data) = text.trim_end().split_once('\n').unwrap();
                (
                    event.strip_prefix("event: ").unwrap().to_owned(),
                    serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn text_then_a_tool_use_are_two_indexed_blocks_and_usage_comes_last() {
        let mut events = Events::new("msg_1".into(), "m".into());
        let mut frames = events.start();
        for event in [
            StreamEvent::TextDelta {
                text: "Let me ".into(),
            },
            StreamEvent::TextDelta {
                text: "check.".into(),
            },
            StreamEvent::ToolUseStart {
                id: "t1".into(),
                name: "weather".into(),
            },
            StreamEvent::ToolInputDelta {
                json: "{\"city\":".into(),
            },
            StreamEvent::ToolInputDelta {
                json: "\"Oslo\"}".into(),
            },
            StreamEvent::BlockStop,
            StreamEvent::Usage(Usage::new(12, 7)),
            StreamEvent::Stop {
                reason: StopReason::ToolUse,
            },
        ] {
            frames.extend(events.event(event));
        }
        frames.extend(events.finish());
        let got = parse(&frames);
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert_eq!(got[2].1["index"], 0);
        assert_eq!(got[6].1["index"], 1);
        assert_eq!(got[6].1["content_block"]["type"], "tool_use");
        assert_eq!(got[8].1["delta"]["partial_json"], "\"Oslo\"}");
        assert_eq!(got[10].1["delta"]["stop_reason"], "tool_use");
        assert_eq!(got[10].1["usage"]["output_tokens"], 7);
        assert_eq!(got[10].1["usage"]["input_tokens"], 12);
    }
}
