//! What the fake server received, for assertions.

use bytes::Bytes;
use palisade_core::ChatRequest;

/// One request the server received, whatever it answered.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// The `request-id` the server answered with.
    pub request_id: String,
    /// The body's `model`, when it had one.
    pub model: Option<String>,
    /// The request headers (names lowercase), in the order received.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Bytes,
    /// The body translated into a core request; `None` when it was refused
    /// as malformed.
    pub chat_request: Option<ChatRequest>,
    /// The HTTP status the server answered with.
    pub status: u16,
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
