//! A small prompt cache, so cache points behave as on Bedrock: the first call
//! with a prefix writes it (`cacheWriteInputTokens`), an identical prefix
//! later reads it (`cacheReadInputTokens`).
//!
//! The prefix is everything up to the request's last cache point, in
//! Bedrock's order: tools, system, messages. Entries never expire (tests run
//! in far less than five minutes).

use palisade_core::{ChatRequest, ContentBlock, Usage};
use serde_json::json;

use super::state::ServerState;

/// The prefix a request caches: its key and its size in tokens.
pub(super) struct CachedPrefix {
    key: String,
    tokens: u32,
}

/// The request's cacheable prefix, or `None` without cache points.
pub(super) fn prefix(state: &ServerState, req: &ChatRequest) -> Option<CachedPrefix> {
    let last_message_point = req.messages.iter().enumerate().rev().find_map(|(i, m)| {
        m.content
            .iter()
            .rposition(|b| matches!(b, ContentBlock::CachePoint { .. }))
            .map(|j| (i, j))
    });
    let key = if let Some((i, j)) = last_message_point {
        let mut messages: Vec<_> = req.messages[..i].to_vec();
        let mut last = req.messages[i].clone();
        last.content.truncate(j);
        messages.push(last);
        json!({ "tools": req.tools, "system": req.system, "messages": messages })
    } else if req.system_cache_point.is_some() {
        json!({ "tools": req.tools, "system": req.system })
    } else if req.tools_cache_point.is_some() {
        json!({ "tools": req.tools })
    } else {
        return None;
    }
    .to_string();
    let tokens = state.estimator.estimate_text(&key);
    Some(CachedPrefix { key, tokens })
}

/// Looks the prefix up (writing it when new) and moves its tokens out of the
/// answer's plain input into cache read or cache write.
pub(super) fn settle(
    state: &ServerState,
    prefix: &CachedPrefix,
    usage: Option<Usage>,
) -> Option<Usage> {
    let mut usage = usage?;
    let hit = !state
        .prefix_cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(prefix.key.clone());
    let cached = prefix.tokens.min(usage.input_tokens).max(1);
    usage.input_tokens = usage.input_tokens.saturating_sub(cached);
    if hit {
        usage.cache_read_tokens = cached;
    } else {
        usage.cache_write_tokens = cached;
    }
    Some(usage)
}
