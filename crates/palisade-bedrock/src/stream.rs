//! A ConverseStream answer as a core [`ChatStream`].
//!
//! Bedrock sends `messageStop` (the stop reason) before `metadata` (the
//! usage); the core convention ends a stream with its stop event, so the stop
//! is held back until the usage is out (or the body ends).
//!
//! The stream is read up to its first content event before the call returns:
//! an exception that arrives in its first frames (a `throttlingException`
//! right after `messageStart` is common under load) is then an `Err` of
//! [`Provider::stream`](palisade_core::Provider::stream), where retry and
//! fallback can still act, instead of a broken stream.

use std::collections::VecDeque;

use aws_sdk_bedrockruntime::primitives::event_stream::EventReceiver;
use aws_sdk_bedrockruntime::types::error::ConverseStreamOutputError;
use aws_sdk_bedrockruntime::types::{
    ContentBlockDelta, ContentBlockStart, ConverseStreamOutput as WireEvent,
    ReasoningContentBlockDelta,
};
use palisade_core::{ChatStream, ProviderError, ProviderId, StopReason, StreamEvent};
use tracing::Span;

use crate::error::from_sdk_error;
use crate::response::{service_tier, stop_reason, usage};
use crate::telemetry;

type Receiver = EventReceiver<WireEvent, ConverseStreamOutputError>;

struct StreamState {
    receiver: Receiver,
    ready: VecDeque<StreamEvent>,
    held_stop: Option<StopReason>,
    finished: bool,
    provider: ProviderId,
    request_id: Option<String>,
    span: Span,
}

/// Reads the stream up to its first event and returns it as a [`ChatStream`].
pub(crate) async fn open(
    receiver: Receiver,
    provider: ProviderId,
    request_id: Option<String>,
    span: Span,
) -> Result<ChatStream, ProviderError> {
    let mut state = StreamState {
        receiver,
        ready: VecDeque::new(),
        held_stop: None,
        finished: false,
        provider,
        request_id,
        span,
    };
    state.fill().await?;
    let served_by = state.provider.clone();
    Ok(ChatStream::new(
        served_by,
        futures_util::stream::unfold(state, |mut state| async move {
            state.next().await.map(|item| (item, state))
        }),
    ))
}

impl StreamState {
    async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        if let Some(event) = self.ready.pop_front() {
            return Some(Ok(event));
        }
        if self.finished {
            return None;
        }
        match self.fill().await {
            Ok(()) => self.ready.pop_front().map(Ok),
            Err(err) => Some(Err(err)),
        }
    }

    /// Reads frames until a core event is ready or the stream is over.
    async fn fill(&mut self) -> Result<(), ProviderError> {
        while self.ready.is_empty() && !self.finished {
            match self.receiver.recv().await {
                Ok(Some(event)) => self.accept(event),
                Ok(None) => {
                    self.finished = true;
                    self.release_stop();
                }
                Err(err) => {
                    self.finished = true;
                    let err = from_sdk_error(err, &self.provider, self.request_id.as_deref());
                    telemetry::record_error(&self.span, &err);
                    return Err(err);
                }
            }
        }
        Ok(())
    }

    fn accept(&mut self, event: WireEvent) {
        match event {
            WireEvent::ContentBlockDelta(delta) => match delta.delta() {
                Some(ContentBlockDelta::Text(text)) => {
                    self.ready
                        .push_back(StreamEvent::TextDelta { text: text.clone() });
                }
                Some(ContentBlockDelta::ReasoningContent(ReasoningContentBlockDelta::Text(
                    text,
                ))) => {
                    self.ready.push_back(StreamEvent::ReasoningDelta {
                        text: text.clone(),
                        signature: None,
                    });
                }
                Some(ContentBlockDelta::ReasoningContent(
                    ReasoningContentBlockDelta::Signature(signature),
                )) => {
                    self.ready.push_back(StreamEvent::ReasoningDelta {
                        text: String::new(),
                        signature: Some(signature.clone()),
                    });
                }
                Some(ContentBlockDelta::ReasoningContent(
                    ReasoningContentBlockDelta::RedactedContent(data),
                )) => {
                    use base64::Engine as _;
                    self.ready.push_back(StreamEvent::RedactedReasoning {
                        data: base64::engine::general_purpose::STANDARD.encode(data.as_ref()),
                    });
                }
                Some(ContentBlockDelta::ToolUse(tool)) => {
                    self.ready.push_back(StreamEvent::ToolInputDelta {
                        json: tool.input().to_owned(),
                    });
                }
                // Citations, images and tool-result deltas: no core form.
                _ => {}
            },
            WireEvent::ContentBlockStart(start) => {
                if let Some(ContentBlockStart::ToolUse(tool)) = start.start() {
                    self.ready.push_back(StreamEvent::ToolUseStart {
                        id: tool.tool_use_id().to_owned(),
                        name: tool.name().to_owned(),
                    });
                }
            }
            WireEvent::ContentBlockStop(_) => self.ready.push_back(StreamEvent::BlockStop),
            WireEvent::MessageStop(stop) => {
                let reason = stop_reason(stop.stop_reason());
                telemetry::record_stop(&self.span, reason);
                self.held_stop = Some(reason);
            }
            WireEvent::Metadata(metadata) => {
                if let Some(tier) = metadata.service_tier().and_then(service_tier) {
                    self.ready.push_back(StreamEvent::ServiceTier { tier });
                }
                if let Some(usage) = metadata.usage().and_then(usage) {
                    telemetry::record_usage(&self.span, usage);
                    self.ready.push_back(StreamEvent::Usage(usage));
                }
                self.release_stop();
            }
            // messageStart and newer events carry
            // nothing a core stream holds.
            _ => {}
        }
    }

    fn release_stop(&mut self) {
        if let Some(reason) = self.held_stop.take() {
            self.ready.push_back(StreamEvent::Stop { reason });
        }
    }
}
