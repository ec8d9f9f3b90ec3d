//! A [`ChatStream`] as a ConverseStream body: AWS event-stream frames
//! (`application/vnd.amazon.eventstream`), in the order Bedrock sends them.
//!
//! ```text
//! messageStart
//! contentBlockDelta* / contentBlockStop   (reasoning block first, then text)
//! messageStop                             (stop reason)
//! metadata                                (usage, metrics)
//! ```
//!
//! An error from the provider's stream, or an injected mid-stream fault,
//! becomes an exception frame (`:message-type: exception`) and ends the body;
//! the HTTP status stays 200, as with the real service.

use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use futures_util::StreamExt;
use palisade_core::{ChatStream, StreamEvent, Usage};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::exception::AwsException;
use super::response as wire;

/// An exception to send after a number of event frames.
#[derive(Debug, Clone)]
pub(crate) struct MidStreamFault {
    pub(crate) after_events: usize,
    pub(crate) exception_type: String,
    pub(crate) message: String,
}

/// Which kind of content block is open; a switch closes it and opens the next
/// index, as Bedrock numbers blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenBlock {
    Reasoning,
    Text,
    ToolUse,
}

/// The client went away (or a frame could not be written): stop streaming.
struct Stopped;

/// Writes frames to the response body and fires the mid-stream fault when due.
struct FrameWriter {
    tx: mpsc::Sender<Bytes>,
    sent: usize,
    fault: Option<MidStreamFault>,
}

impl FrameWriter {
    async fn event(&mut self, event_type: &'static str, payload: &Value) -> Result<(), Stopped> {
        if let Some(fault) = self.fault.take_if(|f| f.after_events <= self.sent) {
            self.exception(&fault.exception_type, &fault.message).await;
            return Err(Stopped);
        }
        let frame = Message::new(Bytes::from(payload.to_string()))
            .add_header(Header::new(
                ":message-type",
                HeaderValue::String("event".into()),
            ))
            .add_header(Header::new(
                ":event-type",
                HeaderValue::String(event_type.into()),
            ))
            .add_header(Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ));
        self.send(&frame).await?;
        self.sent += 1;
        Ok(())
    }

    /// Sends an exception frame; the caller ends the body after it.
    async fn exception(&mut self, exception_type: &str, message: &str) {
        let payload = json!({ "message": message }).to_string();
        let frame = Message::new(Bytes::from(payload))
            .add_header(Header::new(
                ":message-type",
                HeaderValue::String("exception".into()),
            ))
            .add_header(Header::new(
                ":exception-type",
                HeaderValue::String(exception_type.to_owned().into()),
            ))
            .add_header(Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ));
        let _ = self.send(&frame).await;
    }

    async fn send(&self, frame: &Message) -> Result<(), Stopped> {
        let mut buffer = Vec::new();
        if let Err(err) = aws_smithy_eventstream::frame::write_message_to(frame, &mut buffer) {
            tracing::warn!(error = %err, "fake bedrock: could not encode an event-stream frame");
            return Err(Stopped);
        }
        self.tx.send(Bytes::from(buffer)).await.map_err(|_| Stopped)
    }

    /// Called when the provider's stream ended: a fault still pending fires now.
    async fn finish(&mut self) {
        if let Some(fault) = self.fault.take() {
            self.exception(&fault.exception_type, &fault.message).await;
        }
    }
}

/// Streams the provider's answer into `tx` as event-stream frames.
///
/// Returns when the answer (or an exception) is written, or as soon as the
/// client goes away; dropping `stream` then cancels the provider's call.
/// `started` is when the model was called, for the `metadata` latency.
pub(crate) async fn pump(
    mut stream: ChatStream,
    fault: Option<MidStreamFault>,
    tx: mpsc::Sender<Bytes>,
    started: Instant,
) {
    let mut out = FrameWriter { tx, sent: 0, fault };
    if out
        .event("messageStart", &json!({ "role": "assistant" }))
        .await
        .is_err()
    {
        return;
    }
    let mut index = 0u32;
    let mut open: Option<OpenBlock> = None;
    let mut usage: Option<Usage> = None;
    let mut stopped = false;
    while let Some(item) = stream.next().await {
        let step = match item {
            Ok(StreamEvent::ReasoningDelta { text, signature }) => {
                reasoning(&mut out, &mut index, &mut open, &text, signature.as_deref()).await
            }
            Ok(StreamEvent::TextDelta { text }) => {
                match switch_block(&mut out, &mut index, &mut open, OpenBlock::Text).await {
                    Ok(()) => {
                        out.event("contentBlockDelta", &wire::text_delta(index, &text))
                            .await
                    }
                    Err(stop) => Err(stop),
                }
            }
            Ok(StreamEvent::ToolUseStart { id, name }) => {
                // Every tool use is a block of its own, even right after another.
                if open.is_some() {
                    if close_block(&mut out, index, &mut open).await.is_err() {
                        return;
                    }
                    index += 1;
                }
                match switch_block(&mut out, &mut index, &mut open, OpenBlock::ToolUse).await {
                    Ok(()) => {
                        out.event(
                            "contentBlockStart",
                            &wire::tool_use_start(index, &id, &name),
                        )
                        .await
                    }
                    Err(stop) => Err(stop),
                }
            }
            Ok(StreamEvent::ToolInputDelta { json }) => {
                out.event("contentBlockDelta", &wire::tool_input_delta(index, &json))
                    .await
            }
            Ok(StreamEvent::BlockStop) => {
                // The next block gets the next index.
                let closed = open.is_some();
                match close_block(&mut out, index, &mut open).await {
                    Ok(()) => {
                        if closed {
                            index += 1;
                        }
                        Ok(())
                    }
                    Err(stop) => Err(stop),
                }
            }
            Ok(StreamEvent::Usage(u)) => {
                usage = Some(u);
                Ok(())
            }
            Ok(StreamEvent::Stop { reason }) => {
                stopped = true;
                match close_block(&mut out, index, &mut open).await {
                    Ok(()) => out.event("messageStop", &wire::message_stop(reason)).await,
                    Err(stop) => Err(stop),
                }
            }
            Ok(_) => Ok(()), // a future event kind the wire format has no place for
            Err(err) => {
                let exception = AwsException::from_provider_error(&err);
                out.exception(&exception.stream_exception_type(), &exception.message)
                    .await;
                return;
            }
        };
        if step.is_err() {
            return;
        }
    }
    // Bedrock sends usage in a `metadata` event after `messageStop`; a stream
    // cut short before its stop gets neither, like a dropped connection.
    if stopped
        && out
            .event("metadata", &wire::metadata(usage, started.elapsed()))
            .await
            .is_err()
    {
        return;
    }
    out.finish().await;
}

async fn reasoning(
    out: &mut FrameWriter,
    index: &mut u32,
    open: &mut Option<OpenBlock>,
    text: &str,
    signature: Option<&str>,
) -> Result<(), Stopped> {
    switch_block(out, index, open, OpenBlock::Reasoning).await?;
    if !text.is_empty() {
        out.event(
            "contentBlockDelta",
            &wire::reasoning_text_delta(*index, text),
        )
        .await?;
    }
    if let Some(signature) = signature {
        out.event(
            "contentBlockDelta",
            &wire::reasoning_signature_delta(*index, signature),
        )
        .await?;
    }
    Ok(())
}

/// Makes `kind` the open block, closing a different one first.
async fn switch_block(
    out: &mut FrameWriter,
    index: &mut u32,
    open: &mut Option<OpenBlock>,
    kind: OpenBlock,
) -> Result<(), Stopped> {
    match *open {
        Some(current) if current == kind => return Ok(()),
        Some(_) => {
            close_block(out, *index, open).await?;
            *index += 1;
        }
        None => {}
    }
    *open = Some(kind);
    Ok(())
}

async fn close_block(
    out: &mut FrameWriter,
    index: u32,
    open: &mut Option<OpenBlock>,
) -> Result<(), Stopped> {
    if open.take().is_some() {
        out.event("contentBlockStop", &wire::block_stop(index))
            .await?;
    }
    Ok(())
}
