//! The key layout: every key of one limit (or one breaker) shares a Redis
//! Cluster hash tag, so a script that touches them all runs on one node.
//!
//! ```text
//! <prefix>:{<limit>}:rate      string  every bucket: a tag byte and eleven doubles (src/limit/state.lua)
//! <prefix>:{<limit>}:leases    zset    concurrency lease id -> expiry, µs
//! <prefix>:{<breaker>}:breaker hash    shared breaker state
//! <prefix>:{<breaker>}:probes  zset    half-open probe id -> expiry, µs
//! <prefix>:{<queue>}:dead_letters      hash  dead letter id -> JSON
//! <prefix>:{<queue>}:dead_letter_order list  dead letter ids, oldest first
//! ```
//!
//! Cluster hashes only what lies between the first `{` and the next `}`, so a
//! name containing braces would split its keys across slots (or merge two
//! names into one slot). Names are therefore escaped: `%` → `%25`, `{` → `%7B`,
//! `}` → `%7D`; every other byte is kept, so keys stay readable in `redis-cli`.
//! The empty name is written `%`, since `{}` is not a hash tag.

use std::fmt;

/// The keys of one shared limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitKeys {
    /// Every bucket: requests and each token dimension (one key: one read
    /// and one write per admission).
    pub rate: String,
    /// Live concurrency leases.
    pub leases: String,
}

impl LimitKeys {
    /// The keys of the limit called `name` under `prefix`.
    pub fn new(prefix: &str, name: &str) -> Self {
        let tag = HashTag::new(prefix, name);
        Self {
            rate: format!("{tag}:rate"),
            leases: format!("{tag}:leases"),
        }
    }
}

/// The keys of one shared circuit breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakerKeys {
    /// State, open-until and counters.
    pub state: String,
    /// Live half-open probe slots.
    pub probes: String,
}

impl BreakerKeys {
    /// The keys of the breaker called `name` under `prefix`.
    pub fn new(prefix: &str, name: &str) -> Self {
        let tag = HashTag::new(prefix, name);
        Self {
            state: format!("{tag}:breaker"),
            probes: format!("{tag}:probes"),
        }
    }
}

/// The keys of one dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterKeys {
    /// Every letter, by id, as JSON.
    pub letters: String,
    /// The ids, oldest first.
    pub order: String,
}

impl DeadLetterKeys {
    /// The keys of the dead-letter queue called `name` under `prefix`.
    pub fn new(prefix: &str, name: &str) -> Self {
        let tag = HashTag::new(prefix, name);
        Self {
            letters: format!("{tag}:dead_letters"),
            order: format!("{tag}:dead_letter_order"),
        }
    }
}

/// `<prefix>:{<escaped name>}`.
struct HashTag<'a> {
    prefix: &'a str,
    name: &'a str,
}

impl<'a> HashTag<'a> {
    fn new(prefix: &'a str, name: &'a str) -> Self {
        Self { prefix, name }
    }
}

impl fmt::Display for HashTag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{{", self.prefix)?;
        // `{}` would not be a hash tag at all; a lone `%` cannot come from
        // escaping, so it stands for the empty name.
        if self.name.is_empty() {
            f.write_str("%")?;
        }
        for c in self.name.chars() {
            match c {
                '%' => f.write_str("%25")?,
                '{' => f.write_str("%7B")?,
                '}' => f.write_str("%7D")?,
                c => fmt::Write::write_char(f, c)?,
            }
        }
        f.write_str("}")
    }
}

/// The part of `key` that Redis Cluster hashes (the whole key when it has no
/// non-empty `{…}` section), as the cluster specification defines it.
pub fn cluster_hash_tag(key: &str) -> &str {
    if let Some(open) = key.find('{')
        && let Some(len) = key[open + 1..].find('}')
        && len > 0
    {
        return &key[open + 1..open + 1 + len];
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_keys_of_a_limit_share_one_hash_tag() {
        let keys = LimitKeys::new("palisade", "bedrock/us.anthropic.claude-sonnet-4:0");
        assert_eq!(
            keys.rate,
            "palisade:{bedrock/us.anthropic.claude-sonnet-4:0}:rate"
        );
        assert_eq!(
            keys.leases,
            "palisade:{bedrock/us.anthropic.claude-sonnet-4:0}:leases"
        );
        let tag = cluster_hash_tag(&keys.rate);
        assert_eq!(cluster_hash_tag(&keys.leases), tag);
    }

    #[test]
    fn braces_in_names_cannot_escape_the_tag() {
        let a = LimitKeys::new("p", "model}x{y");
        assert_eq!(a.rate, "p:{model%7Dx%7By}:rate");
        assert_eq!(cluster_hash_tag(&a.rate), "model%7Dx%7By");
        // Escaping is injective: `%7D` typed by a user is not a brace.
        assert_ne!(LimitKeys::new("p", "a%7D"), LimitKeys::new("p", "a}"));
        let b = BreakerKeys::new("p", "{}");
        assert_eq!(cluster_hash_tag(&b.state), cluster_hash_tag(&b.probes));
        assert_eq!(b.state, "p:{%7B%7D}:breaker");
        let empty = LimitKeys::new("p", "");
        assert_eq!(empty.rate, "p:{%}:rate");
        assert_eq!(
            cluster_hash_tag(&empty.rate),
            cluster_hash_tag(&empty.leases)
        );
    }

    #[test]
    fn hash_tag_follows_the_cluster_rules() {
        assert_eq!(cluster_hash_tag("{user1000}.following"), "user1000");
        assert_eq!(cluster_hash_tag("foo{}{bar}"), "foo{}{bar}");
        assert_eq!(cluster_hash_tag("foo{{bar}}zap"), "{bar");
        assert_eq!(cluster_hash_tag("plain"), "plain");
    }
}
