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
        }
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
