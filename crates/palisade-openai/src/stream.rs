//! Chat Completions server-sent events → core stream events.
//!
//! Each `data:` line is a `chat.completion.chunk`: `delta.content` pieces
//! become text deltas; `delta.tool_calls[]` entries open a tool use when a
//! new `index` arrives (with its `id` and `function.name`) and extend it with
//! `function.arguments` pieces; `finish_reason` closes the open block; the
//! last chunk (`choices: []`, thanks to `stream_options.include_usage`)
//! carries the usage. `data: [DONE]` ends the answer: the usage and the
//! stop event are sent then, so a stream that ends without `[DONE]` is cut
//! and reported as [`ErrorKind::Network`], never as a whole answer.

use std::collections::VecDeque;
use std::pin::Pin;

use eventsource_stream::{EventStreamError, Eventsource};
use futures_util::{Stream, StreamExt};
use palisade_core::{ErrorKind, ProviderError, ProviderId, StopReason, StreamEvent, Usage};
use serde::Deserialize;

use crate::response::{WireUsage, service_tier, stop_reason};

#[derive(Debug, Deserialize)]
struct WireChunk {
    #[serde(default, deserialize_with = "crate::response::null_as_default")]
    choices: Vec<WireChunkChoice>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    service_tier: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireChunkChoice {
    #[serde(default)]
    index: u32,
    #[serde(default, deserialize_with = "crate::response::null_as_default")]
    delta: WireDelta,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct WireDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
    #[serde(default, deserialize_with = "crate::response::null_as_default")]
    tool_calls: Vec<WireToolCallDelta>,
}

#[derive(Debug, Deserialize)]
struct WireToolCallDelta {
    #[serde(default)]
    index: u32,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<WireFunctionDelta>,
}

#[derive(Debug, Deserialize)]
struct WireFunctionDelta {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    None,
    Text,
    Tool(u32),
}

/// Folds chunks into core events, keeping the open block between chunks.
struct Decoder {
    provider: ProviderId,
    open: Open,
    stop: Option<StopReason>,
    refused: bool,
    usage: Option<Usage>,
    tier_sent: bool,
    out: VecDeque<Result<StreamEvent, ProviderError>>,
    finished: bool,
}

impl Decoder {
    fn new(provider: ProviderId) -> Self {
        Self {
            provider,
            open: Open::None,
            stop: None,
            refused: false,
            usage: None,
            tier_sent: false,
            out: VecDeque::new(),
            finished: false,
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: String) {
        self.out.push_back(Err(
            ProviderError::new(kind, message).with_provider(self.provider.clone())
        ));
        self.finished = true;
    }

    fn close(&mut self) {
        if self.open != Open::None {
            self.out.push_back(Ok(StreamEvent::BlockStop));
            self.open = Open::None;
        }
    }

    fn text(&mut self, text: String) {
        if text.is_empty() {
            return;
        }
        if self.open != Open::Text {
            self.close();
            self.open = Open::Text;
        }
        self.out.push_back(Ok(StreamEvent::TextDelta { text }));
    }

    fn data(&mut self, data: &str) {
        if data.trim() == "[DONE]" {
            self.close();
            if let Some(usage) = self.usage.take() {
                self.out.push_back(Ok(StreamEvent::Usage(usage)));
            }
            let reason = if self.refused {
                StopReason::ContentFiltered
            } else {
                self.stop.unwrap_or(StopReason::EndTurn)
            };
            self.out.push_back(Ok(StreamEvent::Stop { reason }));
            self.finished = true;
            return;
        }
        let value: serde_json::Value = match serde_json::from_str(data) {
            Ok(v) => v,
            Err(e) => {
                return self.fail(
                    ErrorKind::Internal,
                    format!("a stream chunk is not JSON: {e}"),
                );
            }
        };
        if let Some(error) = value.get("error") {
            let err = crate::error::from_stream_error(&self.provider, error);
            self.out.push_back(Err(err));
            self.finished = true;
            return;
        }
        let chunk: WireChunk = match serde_json::from_value(value) {
            Ok(c) => c,
            Err(e) => {
                return self.fail(
                    ErrorKind::Internal,
                    format!("a stream chunk has an unexpected shape: {e}"),
                );
            }
        };
        if !self.tier_sent
            && let Some(tier) = service_tier(chunk.service_tier.as_deref())
        {
            self.out.push_back(Ok(StreamEvent::ServiceTier { tier }));
            self.tier_sent = true;
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content {
                self.text(text);
            }
            if let Some(refusal) = choice.delta.refusal.filter(|r| !r.is_empty()) {
                self.refused = true;
                self.text(refusal);
            }
            for call in choice.delta.tool_calls {
                let (name, arguments) = match call.function {
                    Some(f) => (f.name, f.arguments),
                    None => (None, None),
                };
                if self.open != Open::Tool(call.index) {
                    let Some(id) = call.id else {
                        return self.fail(
                            ErrorKind::Internal,
                            format!("tool call {} starts without an id", call.index),
                        );
                    };
                    self.close();
                    self.out.push_back(Ok(StreamEvent::ToolUseStart {
                        id,
                        name: name.unwrap_or_default(),
                    }));
                    self.open = Open::Tool(call.index);
                }
                if let Some(json) = arguments.filter(|a| !a.is_empty()) {
                    self.out.push_back(Ok(StreamEvent::ToolInputDelta { json }));
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.close();
                self.stop = Some(stop_reason(Some(&reason)));
            }
        }
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage.to_core());
        }
    }
}

type Events = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// The core events of a Chat Completions event stream.
pub(crate) fn events(provider: ProviderId, response: reqwest::Response) -> Events {
    let sse = response.bytes_stream().eventsource();
    let state = (Box::pin(sse), Decoder::new(provider));
    Box::pin(futures_util::stream::unfold(
        state,
        |(mut sse, mut decoder)| async move {
            loop {
                if let Some(event) = decoder.out.pop_front() {
                    return Some((event, (sse, decoder)));
                }
                if decoder.finished {
                    return None;
                }
                match sse.next().await {
                    Some(Ok(event)) => decoder.data(&event.data),
                    Some(Err(EventStreamError::Transport(e))) => decoder.fail(
                        if e.is_timeout() {
                            ErrorKind::Timeout
                        } else {
                            ErrorKind::Network
                        },
                        format!("the event stream broke: {e}"),
                    ),
                    Some(Err(e)) => decoder.fail(
                        ErrorKind::Internal,
                        format!("the event stream is malformed: {e}"),
                    ),
                    None => decoder.fail(
                        ErrorKind::Network,
                        "the stream ended before `data: [DONE]` (cut mid-way)".to_owned(),
                    ),
                }
            }
        },
    ))
}
