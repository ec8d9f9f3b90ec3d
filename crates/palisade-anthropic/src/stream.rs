//! The SSE answer of a streaming call as core [`StreamEvent`]s.
//!
//! | SSE event | core events |
//! |---|---|
//! | `message_start` | `ServiceTier` (when the usage names one) |
//! | `content_block_start` `text` / `tool_use` / `thinking` / `redacted_thinking` | (text, if any) / `ToolUseStart` / (reasoning, if any) / `RedactedReasoning` |
//! | `content_block_delta` `text_delta` / `input_json_delta` / `thinking_delta` / `signature_delta` | `TextDelta` / `ToolInputDelta` / `ReasoningDelta` / `ReasoningDelta` with the signature |
//! | `content_block_stop` (text, tool use) | `BlockStop` |
//! | `message_delta` | (stop reason and cumulative usage kept) |
//! | `message_stop` | `Usage`, then `Stop` |
//! | `ping`, unknown events | — |
//! | `error` | a typed `ProviderError` (its `error.type` classified as in [`palisade_core::http`]), then the end |
//!
//! A body that ends before `message_stop` is a `Network` error, so a cut
//! stream is never mistaken for a whole answer. With structured output
//! emulated by a forced tool, that tool's input streams as text (the JSON
//! reply), and its `tool_use` stop reason as `end_turn`.

use std::collections::{HashMap, VecDeque};

use eventsource_stream::Eventsource;
use futures_util::{Stream, StreamExt};
use palisade_core::http::classify_error_code;
use palisade_core::{ErrorKind, ProviderError, ProviderId, StopReason, StreamEvent};

use crate::wire::{WireBlock, WireDelta, WireEvent, WireUsage, stop_reason};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Tool,
    /// The forced structured-output tool: its input streams as text.
    Structured,
    Thinking,
    Other,
}

/// Folds SSE events into core events.
struct Translator {
    provider: ProviderId,
    request_id: Option<String>,
    structured_tool: Option<String>,
    open: HashMap<usize, Open>,
    usage: WireUsage,
    stop: Option<StopReason>,
    saw_tool_use: bool,
    done: bool,
}

impl Translator {
    fn error(&self, kind: ErrorKind, message: impl Into<String>) -> ProviderError {
        let mut err = ProviderError::new(kind, message).with_provider(self.provider.clone());
        if let Some(id) = &self.request_id {
            err = err.with_request_id(id.clone());
        }
        err
    }

    fn on_event(&mut self, data: &str, out: &mut VecDeque<Result<StreamEvent, ProviderError>>) {
        let event: WireEvent = match serde_json::from_str(data) {
            Ok(e) => e,
            Err(e) => {
                self.fail(
                    out,
                    self.error(ErrorKind::Internal, format!("unreadable stream event: {e}")),
                );
                return;
            }
        };
        match event {
            WireEvent::MessageStart { message } => {
                self.usage = message.usage.unwrap_or_default();
                if let Some(tier) = self.usage.tier() {
                    out.push_back(Ok(StreamEvent::ServiceTier { tier }));
                }
            }
            WireEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let open = match content_block {
                    WireBlock::Text { text } => {
                        if !text.is_empty() {
                            out.push_back(Ok(StreamEvent::TextDelta { text }));
                        }
                        Open::Text
                    }
                    WireBlock::ToolUse { id, name, .. } => {
                        if self.structured_tool.as_deref() == Some(name.as_str()) {
                            Open::Structured
                        } else {
                            self.saw_tool_use = true;
                            out.push_back(Ok(StreamEvent::ToolUseStart { id, name }));
                            Open::Tool
                        }
                    }
                    WireBlock::Thinking {
                        thinking,
                        signature,
                    } => {
                        if !thinking.is_empty() || signature.is_some() {
                            out.push_back(Ok(StreamEvent::ReasoningDelta {
                                text: thinking,
                                signature,
                            }));
                        }
                        Open::Thinking
                    }
                    WireBlock::RedactedThinking { data } => {
                        out.push_back(Ok(StreamEvent::RedactedReasoning { data }));
                        Open::Other
                    }
                    WireBlock::Other => Open::Other,
                };
                self.open.insert(index, open);
            }
            WireEvent::ContentBlockDelta { index, delta } => {
                let Some(open) = self.open.get(&index).copied() else {
                    self.fail(
                        out,
                        self.error(
                            ErrorKind::Internal,
                            format!("a delta for content block {index}, which was never started"),
                        ),
                    );
                    return;
                };
                let event = match (open, delta) {
                    (_, WireDelta::TextDelta { text }) => StreamEvent::TextDelta { text },
                    (Open::Structured, WireDelta::InputJsonDelta { partial_json }) => {
                        StreamEvent::TextDelta { text: partial_json }
                    }
                    (_, WireDelta::InputJsonDelta { partial_json }) => {
                        StreamEvent::ToolInputDelta { json: partial_json }
                    }
                    (_, WireDelta::ThinkingDelta { thinking }) => StreamEvent::ReasoningDelta {
                        text: thinking,
                        signature: None,
                    },
                    (_, WireDelta::SignatureDelta { signature }) => StreamEvent::ReasoningDelta {
                        text: String::new(),
                        signature: Some(signature),
                    },
                    (_, WireDelta::Other) => return,
                };
                out.push_back(Ok(event));
            }
            WireEvent::ContentBlockStop { index } => {
                if let Some(Open::Text | Open::Tool | Open::Structured) = self.open.remove(&index) {
                    out.push_back(Ok(StreamEvent::BlockStop));
                }
            }
            WireEvent::MessageDelta { delta, usage } => {
                if let Some(u) = usage {
                    self.usage = self.usage.merge(u);
                }
                if let Some(raw) = delta.stop_reason {
                    match stop_reason(&raw) {
                        Some(reason) => self.stop = Some(reason),
                        None => {
                            self.fail(
                                out,
                                self.error(
                                    ErrorKind::Internal,
                                    format!("unknown stop_reason {raw:?}"),
                                ),
                            );
                        }
                    }
                }
            }
            WireEvent::MessageStop => {
                let Some(mut reason) = self.stop else {
                    self.fail(
                        out,
                        self.error(ErrorKind::Internal, "message_stop without a stop reason"),
                    );
                    return;
                };
                if reason == StopReason::ToolUse
                    && self.structured_tool.is_some()
                    && !self.saw_tool_use
                {
                    reason = StopReason::EndTurn;
                }
                out.push_back(Ok(StreamEvent::Usage(self.usage.to_core())));
                out.push_back(Ok(StreamEvent::Stop { reason }));
                self.done = true;
            }
            WireEvent::Ping | WireEvent::Other => {}
            WireEvent::Error { error } => {
                let kind = classify_error_code(&error.kind).unwrap_or(ErrorKind::Internal);
                let message = if error.message.is_empty() {
                    error.kind
                } else {
                    error.message
                };
                self.fail(out, self.error(kind, message));
            }
        }
    }

    fn fail(&mut self, out: &mut VecDeque<Result<StreamEvent, ProviderError>>, err: ProviderError) {
        out.push_back(Err(err));
        self.done = true;
    }
}

/// Reads an SSE body into core events.
pub(crate) fn events<S, E>(
    body: S,
    provider: ProviderId,
    request_id: Option<String>,
    structured_tool: Option<String>,
) -> impl Stream<Item = Result<StreamEvent, ProviderError>> + Send + 'static
where
    S: Stream<Item = Result<bytes::Bytes, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let translator = Translator {
        provider,
        request_id,
        structured_tool,
        open: HashMap::new(),
        usage: WireUsage::default(),
        stop: None,
        saw_tool_use: false,
        done: false,
    };
    let sse = Box::pin(body.eventsource());
    futures_util::stream::unfold(
        (sse, translator, VecDeque::new()),
        |(mut sse, mut t, mut out)| async move {
            loop {
                if let Some(item) = out.pop_front() {
                    return Some((item, (sse, t, out)));
                }
                if t.done {
                    return None;
                }
                match sse.next().await {
                    Some(Ok(event)) => t.on_event(&event.data, &mut out),
                    Some(Err(e)) => {
                        let err = t.error(ErrorKind::Network, format!("the stream broke off: {e}"));
                        t.fail(&mut out, err);
                    }
                    None => {
                        let err = t.error(
                            ErrorKind::Network,
                            "the stream ended before message_stop (connection cut)",
                        );
                        t.fail(&mut out, err);
                    }
                }
            }
        },
    )
}
