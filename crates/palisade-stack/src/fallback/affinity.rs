//! Prompt-cache affinity: a conversation whose prefix (everything before its
//! last cache point) was cached by one candidate goes back to that
//! candidate while it can serve in time, because the cache lives in one
//! place and a cache read costs a tenth of a fresh prompt.
//!
//! The table maps a hash of the prefix to the candidate that last answered
//! it; it is bounded (`fallback.overload.cache_affinity` entries, the oldest
//! forgotten first), so a fleet of conversations cannot grow it without
//! limit.

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

/// The hash of everything before the request's last cache point, `None`
/// when it has none (nothing of it is cached anywhere).
pub(crate) fn prefix_key(req: &ChatRequest) -> Option<u64> {
    let last_in_messages = req.messages.iter().enumerate().rev().find_map(|(m, msg)| {
        msg.content
            .iter()
            .rposition(|b| matches!(b, ContentBlock::CachePoint { .. }))
            .map(|b| (m, b))
    });
    if last_in_messages.is_none()
        && req.system_cache_point.is_none()
        && req.tools_cache_point.is_none()
    {
        return None;
    }
    let mut hasher = HashWriter(DefaultHasher::new());
    // Tools come first in the prefix the providers cache, then the system
    // prompt, then the conversation.
    if req.tools_cache_point.is_some()
        || req.system_cache_point.is_some()
        || last_in_messages.is_some()
    {
        serde_json::to_writer(&mut hasher, &req.tools).ok()?;
    }
    if req.system_cache_point.is_some() || last_in_messages.is_some() {
        hasher
            .0
            .write(req.system.as_deref().unwrap_or("").as_bytes());
    }
    if let Some((m, b)) = last_in_messages {
        for msg in &req.messages[..m] {
            serde_json::to_writer(&mut hasher, msg).ok()?;
        }
        let last = &req.messages[m];
        serde_json::to_writer(&mut hasher, &last.role).ok()?;
        serde_json::to_writer(&mut hasher, &last.content[..b]).ok()?;
    }
    Some(hasher.0.finish())
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
        assert_eq!(prefix_key(&a), prefix_key(&b));
        let c = conversation(&["hello", "bye", "more"], 1);
        assert_ne!(prefix_key(&a), prefix_key(&c));
        assert_eq!(prefix_key(&ChatRequest::user("no cache point")), None);
        let system = ChatRequest::user("x")
            .with_system("you are terse")
            .with_system_cache_point(CachePoint::default());
        let other = ChatRequest::user("y")
            .with_system("you are terse")
            .with_system_cache_point(CachePoint::default());
        assert_eq!(prefix_key(&system), prefix_key(&other));
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
