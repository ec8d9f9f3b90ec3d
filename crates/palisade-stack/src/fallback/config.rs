use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How a [`Fallback`](super::Fallback) moves between candidates. Every field
/// has a default, so `FallbackConfig::default()` (or an empty TOML table) is
/// a working fallback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FallbackConfig {
    /// Pause before calling the next candidate after one failed (the seed
    /// systems use 5 s). Not applied to hedged calls. Default 0.
    #[serde(with = "palisade_core::duration")]
    pub pause: Duration,
    /// Move on when a candidate's content policy refuses (`ContentFiltered`);
    /// otherwise that error is returned at once. Default `false`.
    pub content_policy_fallback: bool,
    /// Skip candidates whose context window is smaller than the request's
    /// estimated input tokens plus `max_tokens`. Default `true`.
    pub context_window_fallback: bool,
    /// When every candidate is unavailable and the request has no deadline,
    /// how long (from the first wait) to wait for candidates to recover.
    /// Default 30 s.
    #[serde(with = "palisade_core::duration")]
    pub max_wait: Duration,
    /// Passes over the candidates that call at least one of them, per request.
    /// Default 3.
    pub max_rounds: u32,
    /// The fallback's own memory of candidates that asked for a pause.
    pub cooldown: CooldownConfig,
    /// Hedged requests; off when absent.
    pub hedge: Option<HedgeConfig>,
    /// Routing by expected wait and shedding what cannot make its deadline.
    pub overload: OverloadConfig,
}

impl Default for FallbackConfig {
    fn default() -> Self {
        Self {
            pause: Duration::ZERO,
            content_policy_fallback: false,
            context_window_fallback: true,
            max_wait: Duration::from_secs(30),
            max_rounds: 3,
            cooldown: CooldownConfig::default(),
            hedge: None,
            overload: OverloadConfig::default(),
        }
    }
}

/// How a [`Fallback`](super::Fallback) decides between waiting for a
/// candidate and moving on, and when it refuses at once (docs/limits.md,
/// "Overload and deadlines").
///
/// Before each call the fallback asks every candidate when it could start
/// the request ([`Provider::expected_wait`](palisade_core::Provider::expected_wait):
/// its limiters' schedule for what the request would reserve and the queue
/// ahead of it, an open breaker) and how long its calls take once started
/// (learned per candidate by its rate-limit layer). A candidate *can serve*
/// a request when its expected wait plus `latency_headroom` × its call
/// latency fits in what is left of the request's deadline. Among those that
/// can, the request goes to the first in routing order whose wait is within
/// `prefer_within` of the soonest; it queues there only until another
/// candidate could have served it (then it moves on), and never so late that
/// the call could not finish. When none can serve it in time, `shed`
/// refuses the request at once with
/// [`FallbackError::DeadlineUnreachable`](super::FallbackError::DeadlineUnreachable),
/// which carries when the soonest candidate could start it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OverloadConfig {
    /// Route by expected wait as above. `false` calls the candidates in
    /// routing order, each queueing up to its limiter's `max_wait` (the
    /// behaviour before this setting existed). Default `true`.
    pub enabled: bool,
    /// How much longer a request waits for a candidate earlier in the
    /// routing order (preferred by priority or price) than for the one that
    /// could serve it soonest. Default 1 s.
    #[serde(with = "palisade_core::duration")]
    pub prefer_within: Duration,
    /// How many times its learned call latency a call must have left before
    /// the deadline to be started. Default 1.5: the learned latency is the
    /// mean plus two mean deviations (about the 90th percentile of the
    /// log-normal latencies LLM calls show), and a call started with less
    /// than that left is cut by its deadline about one time in ten; 1.5 ×
    /// makes it about one in a hundred.
    pub latency_headroom: f64,
    /// The call latency assumed for a candidate nothing has measured yet.
    /// Default 0 s (assume a call can finish until calls are measured).
    #[serde(with = "palisade_core::duration")]
    pub initial_latency: Duration,
    /// Refuse a request at once when no candidate can serve it before its
    /// deadline (fail fast); `false` lets it wait its deadline out in the
    /// candidates' queues. Default `true`.
    pub shed: bool,
    /// Prompt-cache affinity: how many conversation prefixes (everything
    /// before a request's last cache point, hashed) to remember with the
    /// candidate that answered them. A request whose prefix at any of its
    /// cache points is remembered (the longest first: an agent's previous
    /// turn ended at what is now its second-to-last point) goes back to
    /// that candidate whenever it can serve in time, because its cache
    /// lives there. 0 turns it off. Default 10,000.
    pub cache_affinity: usize,
}

impl Default for OverloadConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            prefer_within: Duration::from_secs(1),
            latency_headroom: 1.5,
            initial_latency: Duration::ZERO,
            shed: true,
            cache_affinity: 10_000,
        }
    }
}

impl OverloadConfig {
    /// The first key whose value cannot work, with why.
    pub fn invalid(&self) -> Option<(&'static str, &'static str)> {
        if !self.latency_headroom.is_finite() || self.latency_headroom < 0.0 {
            return Some(("latency_headroom", "must be a finite number of at least 0"));
        }
        if self.latency_headroom > 1000.0 {
            return Some(("latency_headroom", "must be at most 1000"));
        }
        None
    }
}

/// A cooldown: after a candidate fails with a retryable error that carries
/// `retry_after` (Throttled, Unavailable, …), or with Throttled, Overloaded
/// or Unavailable without one when `default` or the candidate's own
/// ([`Candidate::with_cooldown`](super::Candidate::with_cooldown)) is set,
/// the fallback skips it without calling it until that time has passed, for
/// every request. Tracked in tokio time; cleared by `reset()`.
///
/// Bedrock's throttling errors carry no Retry-After, so a Bedrock stack
/// wants a `default` (the systems Palisade replaces use 60 s, 30 s for
/// fallbacks: `THROTTLE_COOLDOWN_SECONDS`; docs/config.md's seed example
/// writes it out). The default stays 0 so that existing stacks keep their
/// behaviour: with a cooldown, a request whose every candidate is throttled
/// waits for the first to cool down instead of failing at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CooldownConfig {
    /// Whether cooldowns are kept at all. Default `true`.
    pub enabled: bool,
    /// Cooldown after a Throttled, Overloaded or Unavailable error that has no
    /// `retry_after`, for candidates without their own. Default 0 (none).
    #[serde(with = "palisade_core::duration")]
    pub default: Duration,
    /// The longest cooldown, whatever the provider asked. Default 5 min.
    #[serde(with = "palisade_core::duration")]
    pub max: Duration,
}

impl Default for CooldownConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            default: Duration::ZERO,
            max: Duration::from_secs(300),
        }
    }
}

/// Hedging: when the candidate called hasn't answered within `delay`, the
/// next ready candidate is called too; the first success wins and the others
/// are cancelled (dropped, which releases their permits).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HedgeConfig {
    /// How long to wait for an answer before hedging.
    #[serde(with = "palisade_core::duration")]
    pub delay: Duration,
    /// Extra calls at most in flight beside the first. Default 1.
    #[serde(default = "one")]
    pub max_hedges: u32,
}

fn one() -> u32 {
    1
}

impl HedgeConfig {
    /// Hedge after `delay`, with one extra call at most.
    pub fn after(delay: Duration) -> Self {
        Self {
            delay,
            max_hedges: 1,
        }
    }
}
