//! Streaming answers: a [`ChatStream`] of events that says who serves it,
//! and the tools to build one from a complete response and to fold one back
//! into a response.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, ProviderError};
use crate::http::RateLimitSnapshot;
use crate::provider::ProviderId;
use crate::request::ContentBlock;
use crate::response::{Attempt, ChatResponse, Reasoning, StopReason, Usage};
use crate::tier::ServiceTier;

/// One event of a streamed answer.
///
/// Content arrives block by block, as the Messages and Converse APIs stream
/// it: text deltas extend the open text block, [`ToolUseStart`] opens a tool
/// use whose input JSON arrives in [`ToolInputDelta`]s, and [`BlockStop`]
/// closes the open block.
///
/// [`ToolUseStart`]: StreamEvent::ToolUseStart
/// [`ToolInputDelta`]: StreamEvent::ToolInputDelta
/// [`BlockStop`]: StreamEvent::BlockStop
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum StreamEvent {
    /// A piece of answer text.
    TextDelta {
        /// The text.
        text: String,
    },
    /// A piece of reasoning, or its signature (sent once, at the end).
    ReasoningDelta {
        /// The reasoning text (may be empty when only the signature comes).
        text: String,
        /// The signature, when this delta carries it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// A redacted (encrypted) reasoning block, whole.
    RedactedReasoning {
        /// The opaque payload.
        data: String,
    },
    /// The model starts a tool use.
    ToolUseStart {
        /// The tool use's id.
        id: String,
        /// The tool's name.
        name: String,
    },
    /// A piece of the open tool use's input, as JSON text.
    ToolInputDelta {
        /// The JSON fragment.
        json: String,
    },
    /// The open content block (text or tool use) is complete.
    BlockStop,
    /// Token usage, normally once near the end. Layers settle limits from the
    /// last one seen.
    Usage(Usage),
    /// The service tier serving the answer, when the provider says.
    ServiceTier {
        /// The tier.
        tier: ServiceTier,
    },
    /// Generation stopped.
    Stop {
        /// Why.
        reason: StopReason,
    },
}

/// The events of a stream, boxed.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// A streamed answer: events in order, or an error that ends the stream; and
/// who serves it — the provider, the model id it named, and the attempts
/// trail of the routing that chose it.
///
/// Layers wrap the events with [`ChatStream::map_events`], which keeps the
/// rest.
///
/// An HTTP provider also attaches the rate-limit snapshot of the response
/// headers that opened the stream ([`with_rate_limit`](Self::with_rate_limit)),
/// the streaming counterpart of [`ChatResponse::rate_limit`]: the headers
/// arrive before the first event, so a rate limiter can calibrate from a
/// stream that succeeds, not only from one that fails.
pub struct ChatStream {
    served_by: ProviderId,
    model: Option<String>,
    attempts: Vec<Attempt>,
    rate_limit: Option<Box<RateLimitSnapshot>>,
    events: EventStream,
}

impl ChatStream {
    /// A stream of `events` served by `served_by`.
    pub fn new(
        served_by: ProviderId,
        events: impl Stream<Item = Result<StreamEvent, ProviderError>> + Send + 'static,
    ) -> Self {
        Self {
            served_by,
            model: None,
            attempts: Vec::new(),
            rate_limit: None,
            events: Box::pin(events),
        }
    }

    /// A stream of these events, in order.
    pub fn from_events(
        served_by: ProviderId,
        events: impl IntoIterator<Item = Result<StreamEvent, ProviderError>>,
    ) -> Self
    where
        Vec<Result<StreamEvent, ProviderError>>: Send,
    {
        let events: Vec<_> = events.into_iter().collect();
        Self::new(served_by, futures_util::stream::iter(events))
    }

    /// Sets the model id as the provider named it.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    /// Sets the attempts trail.
    #[must_use]
    pub fn with_attempts(mut self, attempts: Vec<Attempt>) -> Self {
        self.attempts = attempts;
        self
    }

    /// Sets the rate-limit snapshot of the response headers that opened the
    /// stream (what [`ChatResponse::rate_limit`] is for a whole answer).
    ///
    /// ```
    /// use palisade_core::http::{HeaderPairs, RateLimitSnapshot};
    /// use palisade_core::{ChatStream, ProviderId};
    ///
    /// let headers = HeaderPairs(&[("x-ratelimit-remaining-requests", "41")]);
    /// let snapshot = RateLimitSnapshot::from_headers(&headers).unwrap();
    /// let stream = ChatStream::from_events(ProviderId::new("p"), []).with_rate_limit(snapshot);
    /// assert_eq!(stream.rate_limit().unwrap().requests.remaining, Some(41));
    /// ```
    #[must_use]
    pub fn with_rate_limit(mut self, snapshot: RateLimitSnapshot) -> Self {
        self.rate_limit = Some(Box::new(snapshot));
        self
    }

    /// The provider's rate-limit headers as the stream opened, if it sent
    /// any; [`collect_stream`] carries it to the assembled response.
    pub fn rate_limit(&self) -> Option<&RateLimitSnapshot> {
        self.rate_limit.as_deref()
    }

    /// Replaces who serves the stream (a routing layer naming its candidate).
    #[must_use]
    pub fn with_served_by(mut self, served_by: ProviderId) -> Self {
        self.served_by = served_by;
        self
    }

    /// The provider serving the stream.
    pub fn served_by(&self) -> &ProviderId {
        &self.served_by
    }

    /// The model id as the provider named it (the provider id when it named
    /// none).
    pub fn model(&self) -> &str {
        self.model.as_deref().unwrap_or(self.served_by.as_str())
    }

    /// Every candidate tried or passed over before (and including) the one
    /// serving, in order; empty when no routing layer was involved.
    pub fn attempts(&self) -> &[Attempt] {
        &self.attempts
    }

    /// The attempts trail, to extend it.
    pub fn attempts_mut(&mut self) -> &mut Vec<Attempt> {
        &mut self.attempts
    }

    /// Wraps the events (to watch, time or settle them), keeping who serves
    /// the stream, the trail and the rate-limit snapshot.
    #[must_use]
    pub fn map_events<S>(self, wrap: impl FnOnce(EventStream) -> S) -> Self
    where
        S: Stream<Item = Result<StreamEvent, ProviderError>> + Send + 'static,
    {
        Self {
            served_by: self.served_by,
            model: self.model,
            attempts: self.attempts,
            rate_limit: self.rate_limit,
            events: Box::pin(wrap(self.events)),
        }
    }

    /// The events alone.
    pub fn into_events(self) -> EventStream {
        self.events
    }

    /// Consumes the stream and assembles the response it describes
    /// ([`collect_stream`]).
    ///
    /// # Errors
    /// The stream's own error, or one of [`collect_stream`]'s.
    pub async fn into_response(self) -> Result<ChatResponse, ProviderError> {
        collect_stream(self).await
    }
}

impl Stream for ChatStream {
    type Item = Result<StreamEvent, ProviderError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.events.size_hint()
    }
}

impl fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatStream")
            .field("served_by", &self.served_by)
            .field("model", &self.model())
            .field("attempts", &self.attempts.len())
            .field("rate_limit", &self.rate_limit)
            .finish_non_exhaustive()
    }
}

/// A stream that cannot be assembled into a response: the reason, kept as
/// the source of the [`ProviderError`] that [`collect_stream`] returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamAssemblyError {
    /// The stream ended without a stop event (the connection was cut).
    #[error("the stream ended without a stop event")]
    NoStop,
    /// A tool use's input, assembled from its deltas, is not valid JSON.
    #[error("the input of tool use `{id}` is not valid JSON: {error}")]
    ToolInput {
        /// The tool use's id.
        id: String,
        /// The parser's message.
        error: String,
    },
    /// A tool input delta arrived with no tool use open.
    #[error("a tool input delta arrived outside a tool use")]
    OrphanToolInput,
}

/// Turns a complete response into the stream of events a streaming call would
/// have produced (reasoning, each content block, service tier, usage, stop):
/// for providers that can only answer whole, and for tests. The stream keeps
/// the response's served-by, model, attempts trail and rate-limit snapshot.
pub fn stream_from_response(response: ChatResponse) -> ChatStream {
    let mut events = Vec::with_capacity(4 + response.content.len() * 2);
    if let Some(r) = response.reasoning {
        events.push(Ok(StreamEvent::ReasoningDelta {
            text: r.text,
            signature: r.signature,
        }));
    }
    for block in response.content {
        match block {
            ContentBlock::Text { text } if !text.is_empty() => {
                events.push(Ok(StreamEvent::TextDelta { text }));
                events.push(Ok(StreamEvent::BlockStop));
            }
            ContentBlock::ToolUse { id, name, input } => {
                events.push(Ok(StreamEvent::ToolUseStart { id, name }));
                events.push(Ok(StreamEvent::ToolInputDelta {
                    json: input.to_string(),
                }));
                events.push(Ok(StreamEvent::BlockStop));
            }
            ContentBlock::RedactedReasoning { data } => {
                events.push(Ok(StreamEvent::RedactedReasoning { data }));
            }
            ContentBlock::Reasoning { text, signature } => {
                events.push(Ok(StreamEvent::ReasoningDelta { text, signature }));
            }
            // Other blocks never appear in answers; a JSON block streams as
            // its text.
            ContentBlock::Json { value } => {
                events.push(Ok(StreamEvent::TextDelta {
                    text: value.to_string(),
                }));
                events.push(Ok(StreamEvent::BlockStop));
            }
            _ => {}
        }
    }
    if let Some(tier) = response.service_tier {
        events.push(Ok(StreamEvent::ServiceTier { tier }));
    }
    if let Some(usage) = response.usage {
        events.push(Ok(StreamEvent::Usage(usage)));
    }
    events.push(Ok(StreamEvent::Stop {
        reason: response.stop_reason,
    }));
    let mut stream = ChatStream::from_events(response.served_by, events)
        .with_model(response.model)
        .with_attempts(response.attempts);
    stream.rate_limit = response.rate_limit;
    stream
}

/// The content block being assembled.
enum OpenBlock {
    Text(String),
    Tool {
        id: String,
        name: String,
        json: String,
    },
}

/// Folds stream events into the content blocks of a response.
#[derive(Default)]
struct Assembler {
    content: Vec<ContentBlock>,
    open: Option<OpenBlock>,
    reasoning: Option<Reasoning>,
}

impl Assembler {
    fn close(&mut self) -> Result<(), StreamAssemblyError> {
        match self.open.take() {
            None => {}
            Some(OpenBlock::Text(text)) => self.content.push(ContentBlock::Text { text }),
            Some(OpenBlock::Tool { id, name, json }) => {
                let input = if json.trim().is_empty() {
                    serde_json::Value::Object(serde_json::Map::new())
                } else {
                    serde_json::from_str(&json).map_err(|e| StreamAssemblyError::ToolInput {
                        id: id.clone(),
                        error: e.to_string(),
                    })?
                };
                self.content.push(ContentBlock::ToolUse { id, name, input });
            }
        }
        Ok(())
    }

    fn text(&mut self, text: &str) -> Result<(), StreamAssemblyError> {
        if let Some(OpenBlock::Text(open)) = &mut self.open {
            open.push_str(text);
            return Ok(());
        }
        self.close()?;
        self.open = Some(OpenBlock::Text(text.to_owned()));
        Ok(())
    }

    fn tool_input(&mut self, fragment: &str) -> Result<(), StreamAssemblyError> {
        match &mut self.open {
            Some(OpenBlock::Tool { json, .. }) => {
                json.push_str(fragment);
                Ok(())
            }
            _ => Err(StreamAssemblyError::OrphanToolInput),
        }
    }
}

/// Consumes a stream to its end and assembles the response it describes,
/// with the stream's served-by, model, attempts trail and rate-limit
/// snapshot.
///
/// Text deltas are joined into text blocks and tool inputs parsed into
/// tool-use blocks, in stream order, so a streamed answer assembles to the
/// same [`ChatResponse`] as `complete`; reasoning deltas go to
/// [`ChatResponse::reasoning`], the last usage event wins.
///
/// # Errors
/// The stream's own error; or, with kind [`ErrorKind::Network`], a stream
/// that ends without a stop event (so a truncated answer is never mistaken
/// for a whole one); or, with kind [`ErrorKind::Internal`], a tool input that
/// is not valid JSON or arrives outside a tool use. The reason is the
/// error's [`StreamAssemblyError`] source.
pub async fn collect_stream(stream: ChatStream) -> Result<ChatResponse, ProviderError> {
    let ChatStream {
        served_by,
        model,
        attempts,
        rate_limit,
        mut events,
    } = stream;
    let fail = |kind: ErrorKind, err: StreamAssemblyError| {
        ProviderError::new(kind, err.to_string())
            .with_provider(served_by.clone())
            .with_source(err)
    };
    let mut asm = Assembler::default();
    let mut usage = None;
    let mut stop = None;
    let mut tier = None;
    while let Some(event) = events.next().await {
        let step = match event? {
            StreamEvent::TextDelta { text } => asm.text(&text),
            StreamEvent::ReasoningDelta { text, signature } => {
                let r = asm.reasoning.get_or_insert_with(Reasoning::default);
                r.text.push_str(&text);
                if signature.is_some() {
                    r.signature = signature;
                }
                Ok(())
            }
            StreamEvent::RedactedReasoning { data } => asm.close().map(|()| {
                asm.content.push(ContentBlock::RedactedReasoning { data });
            }),
            StreamEvent::ToolUseStart { id, name } => asm.close().map(|()| {
                asm.open = Some(OpenBlock::Tool {
                    id,
                    name,
                    json: String::new(),
                });
            }),
            StreamEvent::ToolInputDelta { json } => asm.tool_input(&json),
            StreamEvent::BlockStop => asm.close(),
            StreamEvent::Usage(u) => {
                usage = Some(u);
                Ok(())
            }
            StreamEvent::ServiceTier { tier: t } => {
                tier = Some(t);
                Ok(())
            }
            StreamEvent::Stop { reason } => {
                stop = Some(reason);
                Ok(())
            }
        };
        step.map_err(|e| fail(ErrorKind::Internal, e))?;
    }
    let stop_reason = stop.ok_or_else(|| fail(ErrorKind::Network, StreamAssemblyError::NoStop))?;
    asm.close().map_err(|e| fail(ErrorKind::Internal, e))?;
    let mut response = ChatResponse::text(served_by, "", usage);
    response.content = asm.content;
    if let Some(model) = model {
        response.model = model;
    }
    response.reasoning = asm.reasoning;
    response.stop_reason = stop_reason;
    response.service_tier = tier;
    response.attempts = attempts;
    response.rate_limit = rate_limit;
    Ok(response)
}
