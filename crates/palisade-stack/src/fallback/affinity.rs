//! Prompt-cache affinity: a conversation whose prefix (everything before its
//! last cache point) was cached by one candidate goes back to that
//! candidate while it can serve in time, because the cache lives in one
//! place and a cache read costs a tenth of a fresh prompt.
//!
//! The table maps a hash of the prefix to the candidate that last answered
//! it, and a request is looked up at the prefix of each of its cache points,
//! longest first: an agent moves its cache points every turn, so the prefix
//! its previous turn ended with is one of the earlier points. The table is
//! bounded (`fallback.overload.cache_affinity` entries, the oldest forgotten
//! first), so a fleet of conversations cannot grow it without limit.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hasher};
use std::io;
use std::sync::Mutex;

use palisade_core::{ChatRequest, ContentBlock};

/// Prefix hash → (candidate index, last use).
#[derive(Debug, Default)]
pub(crate) struct Affinity {
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<u64, (usize, u64)>,
    uses: u64,
}

impl Affinity {
    /// The candidate that last answered this prefix, if remembered.
    pub(crate) fn lookup(&self, key: u64) -> Option<usize> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.uses += 1;
        let now = t.uses;
        t.entries.get_mut(&key).map(|(index, used)| {
            *used = now;
            *index
        })
    }

    /// Remembers that `index` answered the prefix `key`, keeping at most
    /// `capacity` entries (when full, the older half is forgotten at once:
    /// one scan per `capacity / 2` new prefixes).
    pub(crate) fn record(&self, key: u64, index: usize, capacity: usize) {
        if capacity == 0 {
            return;
        }
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.uses += 1;
        let now = t.uses;
        if t.entries.len() >= capacity && !t.entries.contains_key(&key) {
            let mut stamps: Vec<u64> = t.entries.values().map(|(_, used)| *used).collect();
            let middle = stamps.len() / 2;
            let (_, cut, _) = stamps.select_nth_unstable(middle);
            let cut = *cut;
            t.entries.retain(|_, (_, used)| *used > cut);
        }
        t.entries.insert(key, (index, now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.lock().unwrap().entries.len()
    }
}

/// The hashes of the request's prefixes at each of its cache points,
/// shortest first (tools, system prompt, then the messages' points in
/// order); empty when it has none (nothing of it is cached anywhere).
///
/// Cache points are left out of what is hashed, so the same text is the
/// same prefix wherever the points sit: an agent marks the end of its last
/// turns and moves the marks every turn, so the prefix one turn answered
/// ends at the next turn's second-to-last point, not at its last. The
/// fallback records the last key of an answered request and looks a new one
/// up at every key, longest first.
pub(crate) fn prefix_keys(req: &ChatRequest) -> Vec<u64> {
    let mut keys = Vec::new();
    let points = usize::from(req.tools_cache_point.is_some())
        + usize::from(req.system_cache_point.is_some())
        + req
            .messages
            .iter()
            .flat_map(|m| &m.content)
            .filter(|b| matches!(b, ContentBlock::CachePoint { .. }))
            .count();
    if points == 0 {
        return keys;
    }
    keys.reserve_exact(points);
    // Tools come first in the prefix the providers cache, then the system
    // prompt, then the conversation. Each part ends with a separator, so
    // that text moved across a boundary is a different prefix.
    let mut hasher = HashWriter(DefaultHasher::new());
    if serde_json::to_writer(&mut hasher, &req.tools).is_err() {
        return Vec::new();
    }
    hasher.0.write_u8(0xff);
    if req.tools_cache_point.is_some() {
        keys.push(hasher.0.clone().finish());
    }
    hasher
        .0
        .write(req.system.as_deref().unwrap_or("").as_bytes());
    hasher.0.write_u8(0xff);
    if req.system_cache_point.is_some() {
        keys.push(hasher.0.clone().finish());
    }
    for message in &req.messages {
        if serde_json::to_writer(&mut hasher, &message.role).is_err() {
            return Vec::new();
        }
        for block in &message.content {
            if matches!(block, ContentBlock::CachePoint { .. }) {
                keys.push(hasher.0.clone().finish());
            } else if serde_json::to_writer(&mut hasher, block).is_err() {
                return Vec::new();
            }
        }
        hasher.0.write_u8(0xff);
    }
    keys
}

/// Feeds serialized bytes to a hasher without building the text.
struct HashWriter(DefaultHasher);

impl io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use palisade_core::{CachePoint, Message, Role};

    use super::*;

    fn conversation(turns: &[&str], cached_up_to: usize) -> ChatRequest {
        let mut req = ChatRequest::user(turns[0]);
        for (i, t) in turns.iter().enumerate().skip(1) {
            let role = if i % 2 == 1 {
                Role::Assistant
            } else {
                Role::User
            };
            req.messages
                .push(Message::new(role, vec![ContentBlock::text(*t)]));
        }
        req.messages[cached_up_to]
            .content
            .push(ContentBlock::CachePoint {
                ttl: Default::default(),
            });
        req
    }

    #[test]
    fn the_same_prefix_hashes_the_same_whatever_follows() {
        let a = conversation(&["hello", "hi", "more"], 1);
        let b = conversation(&["hello", "hi", "something else"], 1);
        assert_eq!(last(&a), last(&b));
        let c = conversation(&["hello", "bye", "more"], 1);
        assert_ne!(last(&a), last(&c));
        assert!(prefix_keys(&ChatRequest::user("no cache point")).is_empty());
        let system = ChatRequest::user("x")
            .with_system("you are terse")
            .with_system_cache_point(CachePoint::default());
        let other = ChatRequest::user("y")
            .with_system("you are terse")
            .with_system_cache_point(CachePoint::default());
        assert_eq!(last(&system), last(&other));
    }

    fn last(req: &ChatRequest) -> Option<u64> {
        prefix_keys(req).last().copied()
    }

    #[test]
    fn a_moved_cache_point_keeps_the_key_of_the_text_before_it() {
        // Turn one marks its last user message; turn two marks its own last
        // user message too, and the first one's point moves with the
        // window: the prefix turn one cached is still a key of turn two.
        let one = conversation(&["hello", "hi", "result 1"], 2);
        let mut two = conversation(&["hello", "hi", "result 1", "call 2", "result 2"], 4);
        assert!(!prefix_keys(&two).contains(&last(&one).unwrap()));
        two.messages[2].content.push(ContentBlock::CachePoint {
            ttl: Default::default(),
        });
        let keys = prefix_keys(&two);
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0], last(&one).unwrap());
        assert_ne!(keys[1], keys[0]);
        // A point left on an earlier message does not change later keys.
        let mut marked = two.clone();
        marked.messages[0].content.push(ContentBlock::CachePoint {
            ttl: Default::default(),
        });
        assert_eq!(prefix_keys(&marked)[1..], keys[..]);
    }

    #[test]
    fn the_table_is_bounded_and_keeps_recent_entries() {
        let a = Affinity::default();
        for key in 0..1_000u64 {
            a.record(key, (key % 3) as usize, 100);
            assert!(a.len() <= 100);
        }
        assert_eq!(a.lookup(999), Some(0));
        assert_eq!(a.lookup(0), None);
    }
}
