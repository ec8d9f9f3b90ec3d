//! Shared setup: a fake OpenAI-compatible server and a provider pointed at it.

#![allow(dead_code, unreachable_pub)]

use palisade_core::{ChatResponse, ContentBlock, ProviderId, StopReason, Usage};
use palisade_openai::OpenAiProvider;
use palisade_testkit::openai::FakeOpenAiServer;

pub const MODEL: &str = "gpt-4o-mini";
pub const KEY: &str = "sk-test-0123456789abcdef";

/// A provider for `MODEL` at the server, with the right key.
pub fn provider(server: &FakeOpenAiServer) -> OpenAiProvider {
    OpenAiProvider::builder(MODEL)
        .base_url(server.base_url())
        .api_key(KEY)
        .build()
        .expect("build the provider")
}

/// An answer asking for one tool call.
pub fn tool_call(id: &str, name: &str, input: serde_json::Value) -> ChatResponse {
    let mut answer = ChatResponse::text(ProviderId::new("scripted"), "", Some(Usage::new(20, 7)));
    answer.content = vec![ContentBlock::ToolUse {
        id: id.to_owned(),
        name: name.to_owned(),
        input,
    }];
    answer.stop_reason = StopReason::ToolUse;
    answer
}
