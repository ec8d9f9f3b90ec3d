//! What the fake server received, kept for assertions: the raw body exactly
//! as the client sent it, and the [`ChatRequest`] it translated to.

use std::fmt;

use bytes::Bytes;
use palisade_core::ChatRequest;

/// A Bedrock Runtime operation the fake server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// `POST /model/{modelId}/converse`
    Converse,
    /// `POST /model/{modelId}/converse-stream`
    ConverseStream,
    /// `POST /model/{modelId}/count-tokens`
    CountTokens,
}

impl Operation {
    /// The operation's name in the Bedrock API reference.
    pub const fn as_str(self) -> &'static str {
        match self {
            Operation::Converse => "Converse",
            Operation::ConverseStream => "ConverseStream",
            Operation::CountTokens => "CountTokens",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request the fake server received, whatever it answered.
#[derive(Debug, Clone)]
pub struct ReceivedRequest {
    /// The `x-amzn-RequestId` the server answered with.
    pub request_id: String,
    /// Which operation was called.
    pub operation: Operation,
    /// The model id from the path, percent-decoded.
    pub model_id: String,
    /// The request headers (names lowercase), in the order received.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: Bytes,
    /// The body translated into a core request; `None` when it was malformed
    /// (the server answered 400 ValidationException).
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
