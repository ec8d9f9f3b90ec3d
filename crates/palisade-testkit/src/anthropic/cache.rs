//! A small prompt cache, so `cache_control` behaves as on the API: the first
//! call with a prefix writes it (`cache_creation_input_tokens`, split by
//! lifetime), an identical prefix later reads it (`cache_read_input_tokens`).
//!
//! The prefix is everything up to the request's last cache point, in the
//! API's order: tools, system, messages. Entries never expire (tests run in
//! far less than five minutes).

use palisade_core::{CacheTtl, ChatRequest, ContentBlock, Usage};
use serde_json::json;

use super::state::ServerState;

/// The prefix a request caches.
pub(super) struct CachedPrefix {
    pub(super) key: String,
    pub(super) tokens: u32,
    pub(super) ttl: CacheTtl,
}

/// The request's cacheable prefix, or `None` without cache points.
pub(super) fn prefix(state: &ServerState, req: &ChatRequest) -> Option<CachedPrefix> {
    let last_message_point = req.messages.iter().enumerate().rev().find_map(|(i, m)| {
        m.content
            .iter()
            .enumerate()
            .rev()
            .find_map(|(j, b)| match b {
                ContentBlock::CachePoint { ttl } => Some((i, j, *ttl)),
                _ => None,
            })
    });
    let (key, ttl) = if let Some((i, j, ttl)) = last_message_point {
        let mut messages: Vec<_> = req.messages[..i].to_vec();
        let mut last = req.messages[i].clone();
        last.content.truncate(j);
        messages.push(last);
        (
            json!({ "tools": req.tools, "system": req.system, "messages": messages }),
            ttl,
        )
    } else if let Some(p) = req.system_cache_point {
        (json!({ "tools": req.tools, "system": req.system }), p.ttl)
    } else if let Some(p) = req.tools_cache_point {
        (json!({ "tools": req.tools }), p.ttl)
    } else {
        return None;
    };
    let key = key.to_string();
    let tokens = state.estimator.estimate_text(&key);
    Some(CachedPrefix { key, tokens, ttl })
}

/// Looks the prefix up (writing it when new) and moves its tokens out of
/// the answer's plain input into cache read or cache write.
pub(super) fn settle(state: &ServerState, prefix: &CachedPrefix, mut usage: Usage) -> Usage {
    let hit = state.cache_hit(&prefix.key);
    let cached = prefix.tokens.min(usage.input_tokens).max(1);
    usage.input_tokens = usage.input_tokens.saturating_sub(cached);
    if hit {
        usage.cache_read_tokens = cached;
    } else {
        usage.cache_write_tokens = cached;
        if prefix.ttl == CacheTtl::OneHour {
            usage.cache_write_1h_tokens = cached;
        }
    }
    usage
}
