//! A simulated model's prompt cache: a request whose prefix up to one of its
//! cache points matches the same prefix of an earlier request, within that
//! point's lifetime (5 minutes or 1 hour), is billed for that prefix as
//! cache reads; the part of its prefix up to its last cache point that no
//! earlier request cached is billed as cache writes.
//!
//! Prefixes follow Bedrock's (and Anthropic's) order: tool definitions, then
//! the system prompt, then the messages. A prefix shorter than the model's
//! minimum cacheable length (1,024 tokens for most Claude models) is not
//! cached. Reading a prefix refreshes its lifetime, as on both services.
//!
//! Simplifications, each documented in docs/simulation.md: a prefix is found
//! only at the request's own cache points (Anthropic also looks back up to 20
//! blocks before one; an agent that marks its last two turns, as
//! [`AgentWorkload`](crate::AgentWorkload) does, never needs that), and a
//! written prefix is readable from the moment its call is admitted (the
//! services make it readable when the answer starts, a few hundred
//! milliseconds later).

use palisade_core::{
    CacheTtl, ChatRequest, ContentBlock, HeuristicEstimator, Message, TokenEstimator,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use tokio::time::Instant;

use crate::limits::{MAX_TOKENS, count_within};

/// How a model's tokens-per-minute quota counts prompt tokens read from the
/// cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheReadQuota {
    /// Like every other input token, at admission and at settlement (the
    /// default: it assumes nothing).
    #[default]
    Counted,
    /// Reserved with the rest of the input when the call is admitted, and
    /// given back when it is settled (Bedrock).
    ReleasedAtSettle,
    /// Never counted (Anthropic's input-tokens-per-minute limit).
    NotCounted,
}

impl CacheReadQuota {
    /// The cache-read tokens the quota counts when a call is admitted.
    pub(crate) fn at_admission(self, cache_read: u32) -> u32 {
        match self {
            CacheReadQuota::Counted | CacheReadQuota::ReleasedAtSettle => cache_read,
            CacheReadQuota::NotCounted => 0,
        }
    }

    /// The cache-read tokens the quota counts once the call is settled.
    pub(crate) fn at_settlement(self, cache_read: u32) -> u32 {
        match self {
            CacheReadQuota::Counted => cache_read,
            CacheReadQuota::ReleasedAtSettle | CacheReadQuota::NotCounted => 0,
        }
    }
}

/// A simulated model's prompt cache (`[models.prompt_cache]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromptCacheConfig {
    /// Whether the model caches prompt prefixes at the requests' cache
    /// points. Default: false, so that a front keeping its own cache (the
    /// fake Bedrock server) does not count a prefix twice, and so that
    /// scenarios without cache points run as before.
    pub enabled: bool,
    /// Shortest prefix, in tokens, that is cached. Default: 1,024.
    pub min_tokens: u32,
    /// How the token quota counts cache reads. Default: `counted`.
    pub cache_reads: CacheReadQuota,
}

impl Default for PromptCacheConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            min_tokens: 1_024,
            cache_reads: CacheReadQuota::Counted,
        }
    }
}

impl PromptCacheConfig {
    /// Checks the parameters; the error names the field.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        count_within(self.min_tokens, 1, MAX_TOKENS).map_err(|e| ("min_tokens", e))
    }
}

/// One cache point of a request: the prefix before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CachePrefix {
    /// A hash of the prefix's content (cache points left out).
    key: u64,
    /// Its size in tokens.
    tokens: u32,
    /// The lifetime its cache point asks for.
    ttl: CacheTtl,
}

/// What the cache did for one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CacheUse {
    pub(crate) read: u32,
    pub(crate) write: u32,
    /// Of `write`, the tokens written with the 1-hour lifetime.
    pub(crate) write_1h: u32,
}

/// The prefixes of `req` at its cache points, shortest first.
pub(crate) async fn prefixes(req: &ChatRequest) -> Vec<CachePrefix> {
    let mut points = Vec::new();
    let tools_only = ChatRequest {
        tools: req.tools.clone(),
        ..ChatRequest::new(Vec::new())
    };
    if let Some(point) = req.tools_cache_point {
        points.push((tools_only.clone(), point.ttl));
    }
    let with_system = ChatRequest {
        system: req.system.clone(),
        ..tools_only
    };
    if let Some(point) = req.system_cache_point {
        points.push((with_system.clone(), point.ttl));
    }
    for (i, message) in req.messages.iter().enumerate() {
        for (j, block) in message.content.iter().enumerate() {
            if let ContentBlock::CachePoint { ttl } = block {
                let mut messages = req.messages[..i].to_vec();
                messages.push(Message::new(message.role, message.content[..j].to_vec()));
                let prefix = ChatRequest {
                    messages,
                    ..with_system.clone()
                };
                points.push((prefix, *ttl));
            }
        }
    }
    let mut out = Vec::with_capacity(points.len());
    for (prefix, ttl) in points {
        let tokens = HeuristicEstimator.estimate_request(&prefix).await;
        out.push(CachePrefix {
            key: key_of(&prefix),
            tokens,
            ttl,
        });
    }
    out
}

/// The prefix's content without its cache points: the same text with its
/// cache points elsewhere (an agent moves its last one every turn) is the
/// same prefix.
fn key_of(prefix: &ChatRequest) -> u64 {
    let messages: Vec<Message> = prefix
        .messages
        .iter()
        .map(|m| {
            let content = m
                .content
                .iter()
                .filter(|b| !matches!(b, ContentBlock::CachePoint { .. }))
                .cloned()
                .collect();
            Message::new(m.role, content)
        })
        .collect();
    let content = serde_json::json!({
        "tools": prefix.tools,
        "system": prefix.system,
        "messages": messages,
    });
    // `DefaultHasher::new` has fixed keys: the same prefix hashes the same
    // in every run, so the simulation stays deterministic.
    let mut hasher = DefaultHasher::new();
    content.to_string().hash(&mut hasher);
    hasher.finish()
}

/// The cached prefixes of one model and when each expires.
#[derive(Debug, Default)]
pub(crate) struct PromptCache {
    expires: HashMap<u64, Instant>,
}

impl PromptCache {
    /// What a call with `prefixes` (at most `prompt` tokens in all) would
    /// read and write now. Changes nothing but dropping expired entries.
    pub(crate) fn lookup(
        &mut self,
        now: Instant,
        prefixes: &[CachePrefix],
        config: &PromptCacheConfig,
        prompt: u32,
    ) -> CacheUse {
        self.expires.retain(|_, at| *at > now);
        let eligible = || {
            prefixes
                .iter()
                .filter(|p| p.tokens >= config.min_tokens)
                .map(|p| CachePrefix {
                    tokens: p.tokens.min(prompt),
                    ..*p
                })
        };
        let read = eligible()
            .filter(|p| self.expires.contains_key(&p.key))
            .map(|p| p.tokens)
            .max()
            .unwrap_or(0);
        // Each stretch between two cache points is written with the
        // lifetime of the point that ends it.
        let mut usage = CacheUse {
            read,
            ..CacheUse::default()
        };
        let mut covered = read;
        for p in eligible() {
            if p.tokens > covered {
                let stretch = p.tokens - covered;
                usage.write += stretch;
                if p.ttl == CacheTtl::OneHour {
                    usage.write_1h += stretch;
                }
                covered = p.tokens;
            }
        }
        usage
    }

    /// Caches (or refreshes) every cacheable prefix of an admitted call.
    pub(crate) fn store(
        &mut self,
        now: Instant,
        prefixes: &[CachePrefix],
        config: &PromptCacheConfig,
    ) {
        for p in prefixes.iter().filter(|p| p.tokens >= config.min_tokens) {
            let until = now + p.ttl.duration();
            let entry = self.expires.entry(p.key).or_insert(until);
            *entry = (*entry).max(until);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use palisade_core::{CachePoint, Role, Tool};

    use super::*;
    use crate::text::filler;

    fn config() -> PromptCacheConfig {
        PromptCacheConfig {
            enabled: true,
            ..PromptCacheConfig::default()
        }
    }

    fn request(turns: usize) -> ChatRequest {
        let mut req = ChatRequest::user(filler(500))
            .with_system(filler(2_000))
            .with_tool(Tool::new(
                "search",
                "Searches",
                serde_json::json!({"type": "object"}),
            ))
            .with_system_cache_point(CachePoint::default());
        for t in 0..turns {
            req = req.with_message(Message::assistant(filler(100 + t as u32)));
            req = req.with_message(Message::new(
                Role::User,
                vec![ContentBlock::text(filler(700)), ContentBlock::cache_point()],
            ));
        }
        req
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_call_writes_the_prefix_and_the_next_reads_it() {
        let cfg = config();
        let mut cache = PromptCache::default();
        let req = request(1);
        let points = prefixes(&req).await;
        assert_eq!(points.len(), 2);
        assert!(points[0].tokens < points[1].tokens);
        let prompt = HeuristicEstimator.estimate_request(&req).await;
        let now = Instant::now();
        let first = cache.lookup(now, &points, &cfg, prompt);
        assert_eq!(first.read, 0);
        assert_eq!(first.write, points[1].tokens);
        cache.store(now, &points, &cfg);
        let again = cache.lookup(now, &points, &cfg, prompt);
        assert_eq!(again.read, points[1].tokens);
        assert_eq!(again.write, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_grown_conversation_reads_the_old_prefix_even_though_its_cache_point_moved() {
        let cfg = config();
        let mut cache = PromptCache::default();
        let now = Instant::now();
        let before = prefixes(&request(1)).await;
        cache.store(now, &before, &cfg);
        // The next turn drops the point the previous turn ended with only if
        // it keeps the last two; here it keeps both, and the earlier one's
        // prefix (same text, same place) is found.
        let grown = request(2);
        let after = prefixes(&grown).await;
        let prompt = HeuristicEstimator.estimate_request(&grown).await;
        let usage = cache.lookup(now, &after, &cfg, prompt);
        assert_eq!(usage.read, before[1].tokens);
        assert_eq!(usage.write, after[2].tokens - before[1].tokens);
    }

    #[tokio::test(start_paused = true)]
    async fn an_entry_expires_after_its_lifetime_and_a_read_refreshes_it() {
        let cfg = config();
        let mut cache = PromptCache::default();
        let req = request(0);
        let points = prefixes(&req).await;
        let prompt = HeuristicEstimator.estimate_request(&req).await;
        let t0 = Instant::now();
        cache.store(t0, &points, &cfg);
        let four_min = t0 + Duration::from_secs(240);
        assert!(cache.lookup(four_min, &points, &cfg, prompt).read > 0);
        cache.store(four_min, &points, &cfg);
        // Eight minutes after the write, four after the refresh: still there.
        let eight_min = t0 + Duration::from_secs(480);
        assert!(cache.lookup(eight_min, &points, &cfg, prompt).read > 0);
        // Over five minutes after the last use: gone.
        let late = four_min + Duration::from_secs(301);
        assert_eq!(cache.lookup(late, &points, &cfg, prompt).read, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_prefix_below_the_minimum_is_not_cached() {
        let cfg = PromptCacheConfig {
            min_tokens: 100_000,
            ..config()
        };
        let mut cache = PromptCache::default();
        let req = request(1);
        let points = prefixes(&req).await;
        let now = Instant::now();
        cache.store(now, &points, &cfg);
        assert_eq!(
            cache.lookup(now, &points, &cfg, 50_000),
            CacheUse::default()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn one_hour_points_write_one_hour_tokens() {
        let cfg = config();
        let mut cache = PromptCache::default();
        let req = request(0).with_system_cache_point(CachePoint {
            ttl: CacheTtl::OneHour,
        });
        let points = prefixes(&req).await;
        let usage = cache.lookup(Instant::now(), &points, &cfg, u32::MAX);
        assert_eq!(usage.write, points[0].tokens);
        assert_eq!(usage.write_1h, usage.write);
    }

    #[test]
    fn quota_modes_count_cache_reads_as_documented() {
        assert_eq!(CacheReadQuota::Counted.at_admission(10), 10);
        assert_eq!(CacheReadQuota::Counted.at_settlement(10), 10);
        assert_eq!(CacheReadQuota::ReleasedAtSettle.at_admission(10), 10);
        assert_eq!(CacheReadQuota::ReleasedAtSettle.at_settlement(10), 0);
        assert_eq!(CacheReadQuota::NotCounted.at_admission(10), 0);
        assert_eq!(CacheReadQuota::NotCounted.at_settlement(10), 0);
    }
}
