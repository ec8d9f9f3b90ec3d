//! How Bedrock's `bedrock-mantle` endpoint (the one that serves the
//! Anthropic Messages API, and OpenAI's Chat Completions and Responses APIs,
//! on Bedrock) counts a call, so a limiter can reserve what it will count.
//! Its quotas are apart from the `bedrock-runtime` endpoint's
//! ([`BedrockQuotaProfile`](crate::BedrockQuotaProfile)): per model and
//! Region, input tokens per minute and output tokens per minute, and no
//! requests-per-minute quota.
//!
//! | dimension | counted when the call starts | corrected when it ends |
//! |---|---|---|
//! | input tokens per minute | input + `max_tokens` (AWS checks both against it) | input + cache writes: cache reads are not counted, the `max_tokens` part is given back |
//! | output tokens per minute | `max_tokens` (AWS counts output as it is generated; reserving it keeps a limiter from starting calls the quota cannot finish) | the output reported |
//! | tokens per minute, combined (when configured) | input + `max_tokens` | input + cache writes + output |
//!
//! No output burndown applies on this endpoint. An unset `max_tokens`
//! counts as the model's maximum, which is what a request that leaves it
//! unset reserves here too (the request model always carries one).
//!
//! ```
//! # #[cfg(feature = "limit")] {
//! use std::sync::Arc;
//!
//! use palisade_bedrock::BedrockMantleQuotaProfile;
//! use palisade_limit::{Limiter, LimiterConfig, Quota};
//!
//! let limiter = Limiter::with_cost_model(
//!     LimiterConfig::named("claude-sonnet-4-5")
//!         .with_input_tokens(Quota::per_minute(2_000_000))
//!         .with_output_tokens(Quota::per_minute(400_000)),
//!     Arc::new(BedrockMantleQuotaProfile),
//! )?;
//! # let _ = limiter;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

/// The `bedrock-mantle` endpoint's quota accounting (see the
/// [module docs](self)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BedrockMantleQuotaProfile;

#[cfg(feature = "limit")]
impl palisade_limit::CostModel for BedrockMantleQuotaProfile {
    fn reserve(
        &self,
        _model: &palisade_core::ProviderId,
        request: &palisade_core::ChatRequest,
        input_tokens: u32,
    ) -> palisade_limit::Cost {
        let max_tokens = u64::from(request.max_tokens);
        let mut cost =
            palisade_limit::Cost::input_and_output(u64::from(input_tokens), max_tokens, 1);
        // The input quota is checked with `max_tokens` on top.
        cost.input_tokens = cost.input_tokens.saturating_add(max_tokens);
        cost
    }

    fn actual(&self, reserved: &palisade_limit::Cost, usage: &palisade_core::Usage) -> u64 {
        self.counted(reserved, usage).tokens
    }

    fn counted(
        &self,
        _reserved: &palisade_limit::Cost,
        usage: &palisade_core::Usage,
    ) -> palisade_limit::TokenCounts {
        let input =
            u64::from(usage.input_tokens).saturating_add(u64::from(usage.cache_write_tokens));
        let output = u64::from(usage.output_tokens);
        palisade_limit::TokenCounts {
            tokens: input.saturating_add(output),
            input,
            output,
        }
    }
}

#[cfg(all(test, feature = "limit"))]
mod tests {
    use palisade_core::{ChatRequest, ProviderId, Usage};
    use palisade_limit::{CostModel, TokenCounts};

    use super::*;

    #[test]
    fn checks_input_with_max_tokens_and_settles_without_cache_reads() {
        let profile = BedrockMantleQuotaProfile;
        let id = ProviderId::new("bedrock/anthropic.claude-sonnet-4-5-20250929-v1:0");
        let cost = profile.reserve(&id, &ChatRequest::user("hi").with_max_tokens(4_000), 6_000);
        assert_eq!(
            cost.counts(),
            TokenCounts {
                tokens: 10_000,
                input: 10_000,
                output: 4_000
            }
        );
        let usage = Usage {
            cache_read_tokens: 5_000,
            cache_write_tokens: 100,
            ..Usage::new(900, 350)
        };
        assert_eq!(
            profile.counted(&cost, &usage),
            TokenCounts {
                tokens: 1_350,
                input: 1_000,
                output: 350
            }
        );
        assert_eq!(profile.actual(&cost, &usage), 1_350);
    }
}
