//! Streaming answers: a boxed stream of events, and the tools to build one from
//! a complete response and to fold one back into a response.

use std::pin::Pin;

use futures_core::Stream;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, ProviderError};
use crate::provider::ProviderId;
use crate::request::ContentBlock;
use crate::response::{ChatResponse, Reasoning, StopReason, Usage};

/// One event of a streamed answer.
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
    /// Token usage, normally once near the end. Layers settle limits from the
    /// last one seen.
    Usage(Usage),
    /// Generation stopped.
    Stop {
        /// Why.
        reason: StopReason,
    },
}

/// A streamed answer: events in order, or an error that ends the stream.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, ProviderError>> + Send>>;

/// Turns a complete response into the stream of events a streaming call would
/// have produced (reasoning, text, usage, stop): for providers that can only
/// answer whole, and for tests.
pub fn stream_from_response(response: ChatResponse) -> ChatStream {
    let mut events = Vec::with_capacity(4);
    if let Some(r) = response.reasoning {
        events.push(Ok(StreamEvent::ReasoningDelta {
            text: r.text,
            signature: r.signature,
        }));
    }
    let text: String = response
        .content
        .iter()
        .filter_map(ContentBlock::as_text)
        .collect();
    if !text.is_empty() {
        events.push(Ok(StreamEvent::TextDelta { text }));
    }
    if let Some(usage) = response.usage {
        events.push(Ok(StreamEvent::Usage(usage)));
    }
    events.push(Ok(StreamEvent::Stop {
        reason: response.stop_reason,
    }));
    Box::pin(futures_util::stream::iter(events))
}

/// Consumes a stream to its end and assembles the response it describes.
///
/// Text deltas are concatenated into one text block, reasoning deltas into
/// [`ChatResponse::reasoning`], the last usage event wins. A stream that ends
/// without a stop event is an error of kind [`ErrorKind::Network`] (the
/// connection was cut), so a truncated answer is never mistaken for a whole one.
pub async fn collect_stream(
    served_by: ProviderId,
    mut stream: ChatStream,
) -> Result<ChatResponse, ProviderError> {
    let mut text = String::new();
    let mut reasoning: Option<Reasoning> = None;
    let mut usage = None;
    let mut stop = None;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::TextDelta { text: t } => text.push_str(&t),
            StreamEvent::ReasoningDelta { text: t, signature } => {
                let r = reasoning.get_or_insert_with(Reasoning::default);
                r.text.push_str(&t);
                if signature.is_some() {
                    r.signature = signature;
                }
            }
            StreamEvent::Usage(u) => usage = Some(u),
            StreamEvent::Stop { reason } => stop = Some(reason),
        }
    }
    let stop_reason = stop.ok_or_else(|| {
        ProviderError::new(ErrorKind::Network, "stream ended without a stop event")
            .with_provider(served_by.clone())
    })?;
    let mut response = ChatResponse::text(served_by, text, usage);
    response.reasoning = reasoning;
    response.stop_reason = stop_reason;
    Ok(response)
}
