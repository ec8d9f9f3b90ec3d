//! [`AnthropicQuotaProfile`]: the Anthropic API's rate-limit accounting, as a
//! [`palisade_limit::CostModel`] (feature `limit`).

use palisade_core::{ChatRequest, ProviderId, Usage};
use palisade_limit::{Cost, CostModel, TokenCounts};

/// Model ids (or fragments) whose cache reads count against the
/// input-tokens-per-minute limit: the Claude 3 family, marked so on
/// Anthropic's rate-limits page.
const CACHE_READS_COUNTED: [&str; 1] = ["claude-3-"];

/// [`AnthropicQuotaProfile`]: how the Anthropic API counts a call against
/// its rate limits, as a [`palisade_limit::CostModel`] (feature `limit`).
///
/// | dimension | counted when the call starts | corrected when it ends |
/// |---|---|---|
/// | requests per minute | 1 | — |
/// | input tokens per minute | the prompt estimate (Anthropic cannot tell before the call which of it the cache will serve) | input + cache writes; cache reads given back (counted for Claude 3.x models) |
/// | output tokens per minute | `max_tokens` (Anthropic's own estimate) | the output reported |
/// | tokens per minute, combined (when configured) | prompt estimate + `max_tokens` | input + cache writes + output |
///
/// Anthropic documents its limits as token buckets refilled continuously,
/// one per dimension, and says the output limit is estimated from
/// `max_tokens` when a request starts and adjusted to the real output when
/// it ends. Cache reads do not count against the input limit for current
/// models; the rate-limits page marks older models (the Claude 3 family)
/// whose cache reads do count. No output burndown: output tokens count as
/// they are.
///
/// The Anthropic API's rate-limit accounting.
///
/// [`new`](AnthropicQuotaProfile::new) (the default) is the accounting of
/// current models, whose cache reads are free of the input limit;
/// [`for_model`](AnthropicQuotaProfile::for_model) picks the model's rule,
/// for a limiter that guards one model.
///
/// ```
/// use std::sync::Arc;
/// use palisade_anthropic::AnthropicQuotaProfile;
/// use palisade_limit::{Limiter, LimiterConfig, Quota};
///
/// // Tier 1 for Sonnet: 50 requests, 30,000 input and 8,000 output tokens
/// // a minute.
/// let limiter = Limiter::with_cost_model(
///     LimiterConfig::named("claude-sonnet-4-5")
///         .with_requests(Quota::per_minute(50))
///         .with_input_tokens(Quota::per_minute(30_000))
///         .with_output_tokens(Quota::per_minute(8_000)),
///     Arc::new(AnthropicQuotaProfile::for_model("claude-sonnet-4-5")),
/// )?;
/// # let _ = limiter;
/// # Ok::<(), palisade_limit::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AnthropicQuotaProfile {
    /// Whether cache reads count against the input limit.
    cache_reads_counted: bool,
}

impl AnthropicQuotaProfile {
    /// The accounting of current models (cache reads not counted).
    pub const fn new() -> Self {
        Self {
            cache_reads_counted: false,
        }
    }

    /// The accounting of `model` (a model id, or a provider id containing
    /// it).
    pub fn for_model(model: &str) -> Self {
        Self {
            cache_reads_counted: Self::counts_cache_reads(model),
        }
    }

    /// Whether cache reads of `model` count against the input limit.
    pub fn counts_cache_reads(model: &str) -> bool {
        CACHE_READS_COUNTED.iter().any(|m| model.contains(m))
    }
}

impl CostModel for AnthropicQuotaProfile {
    fn reserve(&self, _model: &ProviderId, request: &ChatRequest, input_tokens: u32) -> Cost {
        Cost::input_and_output(u64::from(input_tokens), u64::from(request.max_tokens), 1)
    }

    fn actual(&self, reserved: &Cost, usage: &Usage) -> u64 {
        self.counted(reserved, usage).tokens
    }

    fn counted(&self, _reserved: &Cost, usage: &Usage) -> TokenCounts {
        let mut input =
            u64::from(usage.input_tokens).saturating_add(u64::from(usage.cache_write_tokens));
        if self.cache_reads_counted {
            input = input.saturating_add(u64::from(usage.cache_read_tokens));
        }
        let output = u64::from(usage.output_tokens);
        TokenCounts {
            tokens: input.saturating_add(output),
            input,
            output,
        }
    }
}

#[cfg(test)]
mod tests {
    use palisade_limit::{LimitError, LimitKind, Limiter, LimiterConfig, Quota};

    use super::*;

    fn usage() -> Usage {
        Usage {
            cache_read_tokens: 9_000,
            cache_write_tokens: 200,
            ..Usage::new(1_000, 300)
        }
    }

    #[test]
    fn reserves_the_prompt_and_max_tokens_and_settles_without_cache_reads() {
        let profile = AnthropicQuotaProfile::for_model("claude-sonnet-4-5-20250929");
        let id = ProviderId::new("anthropic/claude-sonnet-4-5-20250929");
        let cost = profile.reserve(&id, &ChatRequest::user("hi").with_max_tokens(2_000), 10_200);
        assert_eq!(
            cost.counts(),
            TokenCounts {
                tokens: 12_200,
                input: 10_200,
                output: 2_000
            }
        );
        assert_eq!(
            profile.counted(&cost, &usage()),
            TokenCounts {
                tokens: 1_500,
                input: 1_200,
                output: 300
            }
        );
        let old = AnthropicQuotaProfile::for_model("claude-3-5-haiku-20241022");
        assert_eq!(old.counted(&cost, &usage()).input, 10_200);
        assert_eq!(
            AnthropicQuotaProfile::new(),
            AnthropicQuotaProfile::default()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_limiter_with_split_limits_admits_cached_prompts_by_what_they_count() {
        let limiter = Limiter::with_cost_model(
            LimiterConfig::named("sonnet")
                .with_input_tokens(Quota::per_minute(30_000))
                .with_output_tokens(Quota::per_minute(8_000)),
            std::sync::Arc::new(AnthropicQuotaProfile::new()),
        )
        .unwrap();
        let id = ProviderId::new("anthropic/claude-sonnet-4-5");
        let request = ChatRequest::user("hi").with_max_tokens(2_000);
        // Three 10k-token prompts, 9k of them cached: each settles to 1.2k
        // input, so the fourth fits where the reservations alone would not.
        for _ in 0..3 {
            let permit = limiter
                .try_acquire(limiter.cost_of(&id, &request, 10_200))
                .unwrap();
            permit.settle(usage());
        }
        let stats = limiter.stats();
        assert_eq!(stats.input_tokens_available, Some(30_000 - 3 * 1_200));
        assert_eq!(stats.output_tokens_available, Some(8_000 - 3 * 300));
        let held = limiter
            .try_acquire(limiter.cost_of(&id, &request, 10_200))
            .unwrap();
        // Output: 7,100 left, 2,000 held; three more 2,000 reservations fill it.
        let more: Vec<_> = (0..2)
            .map(|_| {
                limiter
                    .try_acquire(limiter.cost_of(&id, &request, 100))
                    .unwrap()
            })
            .collect();
        match limiter.try_acquire(limiter.cost_of(&id, &request, 100)) {
            Err(LimitError::RateLimited { limit, .. }) => {
                assert_eq!(limit, LimitKind::OutputTokens);
            }
            other => panic!("expected the output limit to refuse, got {other:?}"),
        }
        drop((held, more));
    }
}
