//! A quota profile written in config ([`QuotaProfileConfig`]).

use palisade_core::{ChatRequest, ProviderId, Usage};
use serde::{Deserialize, Serialize};

use crate::cost::{Cost, CostModel, TokenCounts};

/// Whether a kind of prompt-cache token counts against the input quotas
/// once the call has ended. At admission the whole prompt is reserved: which
/// part the cache will serve is known only from the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheTokens {
    /// They count, as any input token.
    Counted,
    /// Reserved with the prompt, given back when the call settles.
    #[default]
    Released,
}

/// A quota profile written in config: how a provider that Palisade ships no
/// profile for counts a call against each dimension.
///
/// The provider crates ship the profiles of the providers they speak to
/// (`BedrockQuotaProfile`, `BedrockMantleQuotaProfile`,
/// `AnthropicQuotaProfile`, `OpenAiQuotaProfile`); an OpenAI-compatible
/// server, a gateway or a new endpoint is described here instead, in the
/// limiter's `[profile]` table:
///
/// ```toml
/// [profile]
/// output_burndown = 1           # each output token counts this many times (combined tokens)
/// cache_reads = "released"      # or "counted": cache reads count when settled
/// cache_writes = "counted"      # or "released"
/// input_includes_max_tokens = false  # the input quota is checked with max_tokens on top
/// refund_unused = true          # false: a call never counts less than it reserved
/// ```
///
/// A provider's quota accounting, from config.
/// Used as the limiter's cost model when its config has a `profile`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QuotaProfileConfig {
    /// How many times each output token counts against the combined tokens
    /// quotas (per minute and per day), at admission (`max_tokens` times it)
    /// and at settle. Default 1; must be at least 1.
    pub output_burndown: u32,
    /// Cache reads at settle. Default `released`.
    pub cache_reads: CacheTokens,
    /// Cache writes at settle. Default `counted`.
    pub cache_writes: CacheTokens,
    /// Whether the input quota is checked (and reserved) with `max_tokens`
    /// on top of the prompt, as Bedrock's `bedrock-mantle` endpoint does;
    /// given back at settle. Default false.
    pub input_includes_max_tokens: bool,
    /// Whether a call that used less than it reserved gives the rest back
    /// (true, default) or still counts what it reserved, as OpenAI's
    /// tokens-per-minute does.
    pub refund_unused: bool,
}

impl Default for QuotaProfileConfig {
    fn default() -> Self {
        Self {
            output_burndown: 1,
            cache_reads: CacheTokens::Released,
            cache_writes: CacheTokens::Counted,
            input_includes_max_tokens: false,
            refund_unused: true,
        }
    }
}

impl QuotaProfileConfig {
    /// Why the profile cannot be used, as (field, reason).
    pub(crate) fn invalid(&self) -> Option<(&'static str, &'static str)> {
        (self.output_burndown == 0).then_some(("profile.output_burndown", "must be at least 1"))
    }
}

impl CostModel for QuotaProfileConfig {
    fn reserve(&self, _model: &ProviderId, request: &ChatRequest, input_tokens: u32) -> Cost {
        let max_tokens = u64::from(request.max_tokens);
        let mut cost = Cost::input_and_output(
            u64::from(input_tokens),
            max_tokens,
            self.output_burndown.max(1),
        );
        if self.input_includes_max_tokens {
            cost.input_tokens = cost.input_tokens.saturating_add(max_tokens);
        }
        cost
    }

    fn actual(&self, reserved: &Cost, usage: &Usage) -> u64 {
        self.counted(reserved, usage).tokens
    }

    fn counted(&self, reserved: &Cost, usage: &Usage) -> TokenCounts {
        let mut input = u64::from(usage.input_tokens);
        if self.cache_reads == CacheTokens::Counted {
            input = input.saturating_add(u64::from(usage.cache_read_tokens));
        }
        if self.cache_writes == CacheTokens::Counted {
            input = input.saturating_add(u64::from(usage.cache_write_tokens));
        }
        let output = u64::from(usage.output_tokens);
        let counted = TokenCounts {
            tokens: input
                .saturating_add(output.saturating_mul(u64::from(self.output_burndown.max(1)))),
            input,
            output,
        };
        if self.refund_unused {
            counted
        } else {
            let reserved = reserved.counts();
            TokenCounts {
                tokens: counted.tokens.max(reserved.tokens),
                input: counted.input.max(reserved.input),
                output: counted.output.max(reserved.output),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage() -> Usage {
        Usage {
            cache_read_tokens: 4_000,
            cache_write_tokens: 500,
            ..Usage::new(1_000, 200)
        }
    }

    #[test]
    fn the_default_releases_cache_reads_and_refunds_unused_output() {
        let profile = QuotaProfileConfig::default();
        let request = ChatRequest::user("hi").with_max_tokens(1_000);
        let cost = profile.reserve(&ProviderId::new("x/m"), &request, 5_500);
        assert_eq!(
            cost.counts(),
            TokenCounts {
                tokens: 6_500,
                input: 5_500,
                output: 1_000
            }
        );
        assert_eq!(
            profile.counted(&cost, &usage()),
            TokenCounts {
                tokens: 1_700,
                input: 1_500,
                output: 200
            }
        );
    }

    #[test]
    fn every_knob_changes_what_is_counted() {
        let profile: QuotaProfileConfig = toml::from_str(
            "output_burndown = 5\ncache_reads = \"counted\"\ncache_writes = \"released\"\n\
             input_includes_max_tokens = true\nrefund_unused = false\n",
        )
        .unwrap();
        let request = ChatRequest::user("hi").with_max_tokens(1_000);
        let cost = profile.reserve(&ProviderId::new("x/m"), &request, 5_500);
        assert_eq!(
            cost.counts(),
            TokenCounts {
                tokens: 10_500,
                input: 6_500,
                output: 1_000
            }
        );
        // 1,000 input + 4,000 cache reads; output 200 × 5; never below the
        // reservation.
        assert_eq!(
            profile.counted(&cost, &usage()),
            TokenCounts {
                tokens: 10_500,
                input: 6_500,
                output: 1_000
            }
        );
        let refunding = QuotaProfileConfig {
            refund_unused: true,
            ..profile
        };
        assert_eq!(
            refunding.counted(&cost, &usage()),
            TokenCounts {
                tokens: 6_000,
                input: 5_000,
                output: 200
            }
        );
        assert!(toml::from_str::<QuotaProfileConfig>("cache_read = \"counted\"\n").is_err());
        assert_eq!(
            QuotaProfileConfig {
                output_burndown: 0,
                ..QuotaProfileConfig::default()
            }
            .invalid(),
            Some(("profile.output_burndown", "must be at least 1"))
        );
    }
}
