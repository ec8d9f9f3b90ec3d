//! Which limit refused or delayed a request: the name every error, stat and
//! store answer uses.

/// Which limit refused or delayed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LimitKind {
    /// The requests-per-interval quota (GCRA).
    Requests,
    /// The token budget per interval (reserve-then-settle), all tokens
    /// combined.
    Tokens,
    /// The input-tokens-per-interval quota.
    InputTokens,
    /// The output-tokens-per-interval quota.
    OutputTokens,
    /// The tokens-per-day quota (all tokens combined).
    TokensPerDay,
    /// The cap on requests in flight.
    Concurrency,
    /// A provider-imposed pause (`retry_after` of a throttle, adaptive mode).
    Cooldown,
    /// Other requests are queued ahead (only `try_acquire` reports this: it
    /// never jumps the queue).
    Queue,
    /// A shared store (e.g. Redis) that answered "not before".
    Store,
}

impl LimitKind {
    /// A stable snake_case name for logs and stats.
    pub const fn as_str(self) -> &'static str {
        match self {
            LimitKind::Requests => "requests",
            LimitKind::Tokens => "tokens",
            LimitKind::InputTokens => "input_tokens",
            LimitKind::OutputTokens => "output_tokens",
            LimitKind::TokensPerDay => "tokens_per_day",
            LimitKind::Concurrency => "concurrency",
            LimitKind::Cooldown => "cooldown",
            LimitKind::Queue => "queue",
            LimitKind::Store => "store",
        }
    }
}

impl std::fmt::Display for LimitKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
