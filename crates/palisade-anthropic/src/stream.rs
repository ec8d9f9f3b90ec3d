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

#[cfg(test)]
mod tests {
    use super::*;

    async fn run(sse: &str) -> Vec<Result<StreamEvent, ProviderError>> {
        let chunks: Vec<Result<bytes::Bytes, std::io::Error>> =
            vec![Ok(bytes::Bytes::from(sse.to_owned()))];
        events(
            futures_util::stream::iter(chunks),
            ProviderId::new("anthropic/test"),
            Some("req_1".into()),
            None,
        )
        .collect()
        .await
    }

    fn frame(data: &str) -> String {
        format!("event: x\ndata: {data}\n\n")
    }

    #[tokio::test]
    async fn unknown_events_and_pings_are_ignored() {
        let sse = [
            frame(r#"{"type":"message_start","message":{"model":"m","usage":{"input_tokens":3,"output_tokens":1,"service_tier":"priority"}}}"#),
            frame(r#"{"type":"ping"}"#),
            frame(r#"{"type":"something_new","x":1}"#),
            frame(r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            frame(r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#),
            frame(r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}"#),
            frame(r#"{"type":"content_block_stop","index":0}"#),
            frame(r#"{"type":"message_delta","delta":{"stop_reason":"refusal"},"usage":{"output_tokens":7,"cache_read_input_tokens":2}}"#),
            frame(r#"{"type":"message_stop"}"#),
        ]
        .concat();
        let events: Vec<StreamEvent> = run(&sse).await.into_iter().map(Result::unwrap).collect();
        assert_eq!(
            events,
            vec![
                StreamEvent::ServiceTier {
                    tier: palisade_core::ServiceTier::Priority
                },
                StreamEvent::TextDelta { text: "hi".into() },
                StreamEvent::BlockStop,
                StreamEvent::Usage(palisade_core::Usage::new(3, 7).with_cache(2, 0)),
                StreamEvent::Stop {
                    reason: StopReason::ContentFiltered
                },
            ]
        );
    }

    #[tokio::test]
    async fn a_delta_for_an_unstarted_block_is_an_internal_error() {
        let sse = [
            frame(r#"{"type":"message_start","message":{"usage":{"input_tokens":1}}}"#),
            frame(r#"{"type":"content_block_delta","index":3,"delta":{"type":"text_delta","text":"x"}}"#),
        ]
        .concat();
        let events = run(&sse).await;
        let err = events.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Internal);
        assert_eq!(err.request_id(), Some("req_1"));
    }

    #[tokio::test]
    async fn an_unknown_error_type_mid_stream_is_internal_and_known_ones_are_typed() {
        for (kind, expected) in [
            ("overloaded_error", ErrorKind::Overloaded),
            ("rate_limit_error", ErrorKind::Throttled),
            ("api_error", ErrorKind::Internal),
            ("brand_new_error", ErrorKind::Internal),
        ] {
            let sse = frame(&format!(
                r#"{{"type":"error","error":{{"type":"{kind}","message":"m"}}}}"#
            ));
            let events = run(&sse).await;
            assert_eq!(events.len(), 1);
            assert_eq!(events[0].as_ref().unwrap_err().kind(), expected, "{kind}");
        }
    }

    #[tokio::test]
    async fn a_body_without_message_stop_is_a_network_error() {
        let sse = frame(r#"{"type":"message_start","message":{"usage":{"input_tokens":1}}}"#);
        let events = run(&sse).await;
        assert_eq!(
            events.last().unwrap().as_ref().unwrap_err().kind(),
            ErrorKind::Network
        );
    }
}
