//! Server-sent events: a [`ChatStream`] written out as one provider's event
//! frames, as the stream runs. The frames themselves are each dialect's
//! ([`Frames`]); this file only drives them and frames the bytes.
//!
//! Dropping the body (the client went away) drops the stack's stream, which
//! releases its permits and refunds its reservations.

use std::convert::Infallible;

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream;
use palisade_core::{ChatStream, ProviderError, StreamEvent};
use serde_json::Value;

/// How a dialect writes a stream: its opening frames, one event's frames,
/// the closing frames, and an error that ends the stream.
pub(super) trait Frames: Send + 'static {
    /// Frames before the first event (a role chunk, `message_start`).
    fn start(&mut self) -> Vec<Bytes>;
    /// The frames of one event (often none: usage is held for the end).
    fn event(&mut self, event: StreamEvent) -> Vec<Bytes>;
    /// The frames after the last event.
    fn finish(&mut self) -> Vec<Bytes>;
    /// The frames of an error that cut the stream; nothing follows them.
    fn error(&mut self, error: &ProviderError) -> Vec<Bytes>;
}

/// `data: JSON` and a blank line (OpenAI's frames carry no event name).
pub(super) fn data(json: &Value) -> Bytes {
    Bytes::from(format!("data: {json}\n\n"))
}

/// `event: NAME`, `data: JSON` and a blank line (Anthropic's frames).
pub(super) fn named(event: &str, json: &Value) -> Bytes {
    Bytes::from(format!("event: {event}\ndata: {json}\n\n"))
}

/// A 200 `text/event-stream` answer that writes `stream` through `frames`.
pub(super) fn response(stream: ChatStream, mut frames: impl Frames) -> Response {
    let opening = frames.start();
    let events = stream.into_events();
    let rest = stream::unfold(Some((events, frames)), |state| async move {
        let (mut events, mut frames) = state?;
        Some(match events.next().await {
            Some(Ok(event)) => (frames.event(event), Some((events, frames))),
            Some(Err(error)) => {
                tracing::warn!(error = %error, "stream failed after its first event");
                (frames.error(&error), None)
            }
            None => (frames.finish(), None),
        })
    });
    let body = stream::iter([opening])
        .chain(rest)
        .flat_map(|chunks| stream::iter(chunks.into_iter().map(Ok::<_, Infallible>)));
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}
