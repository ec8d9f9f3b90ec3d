//! What the fake server received, kept for assertions.

use bytes::Bytes;
use palisade_core::ChatRequest;

/// One request the fake server received, whatever it answered.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// The `x-request-id` the server answered with.
    pub request_id: String,
    /// The request path and query.
    pub path: String,
    /// The model (the body's `model`, or the Azure deployment); empty when
    /// the body could not be read.
    pub model: String,
    /// The request headers (names lowercase), in the order received.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Bytes,
    /// Whether the body asked for a stream.
    pub streaming: bool,
    /// The body translated into a core request; `None` when it was refused
    /// as malformed (400).
    pub chat_request: Option<ChatRequest>,
}

impl ReceivedRequest {
    /// The body parsed as JSON, if it is JSON.
    pub fn body_json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}
