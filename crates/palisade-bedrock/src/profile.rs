//! How Bedrock counts a call against each of its quota dimensions, so a
//! limiter can reserve what Bedrock itself will count.
//!
//! | dimension | counted when the call starts | corrected when it ends |
//! |---|---|---|
//! | requests per minute | 1 | — |
//! | tokens per minute, tokens per day | input + cache writes + cache reads + `max_tokens` × burndown | input + cache writes + output × burndown: the unused output reservation and the cache reads are given back |
//!
//! The burndown is the model's from the [`catalog`] (its
//! family's rule for ids not listed there): 5 for Claude 3.7 Sonnet and every
//! later Sonnet and Opus, 1 otherwise. At admission the input is the
//! request's estimate, which covers the whole prompt, cached parts included:
//! Bedrock cannot know before the call which of it the cache will serve.
//!
//! With the `limit` feature, [`BedrockQuotaProfile`] is a
//! [`palisade_limit::CostModel`], to hand to `Limiter::with_cost_model` or
//! `RateLimitLayer::with_cost_model`:
//!
//! ```
//! # #[cfg(feature = "limit")] {
//! use std::sync::Arc;
//!
//! use palisade_bedrock::BedrockQuotaProfile;
//! use palisade_limit::{Limiter, LimiterConfig, Quota};
//!
//! let limiter = Limiter::with_cost_model(
//!     LimiterConfig::named("claude-sonnet-4-5").with_tokens(Quota::per_minute(200_000)),
//!     Arc::new(BedrockQuotaProfile::new()),
//! )?;
//! # let _ = limiter;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use palisade_core::Usage;

use crate::catalog;

/// The prefix of a [`BedrockProvider`](crate::BedrockProvider)'s id before
/// its model id.
const PROVIDER_ID_PREFIX: &str = "bedrock/";

/// Bedrock's quota accounting (see the [module docs](self)).
///
/// [`new`](BedrockQuotaProfile::new) reads the model from the id it is asked
/// about (a provider id `bedrock/<model>`, a model or inference-profile id,
/// an ARN); [`for_model`](BedrockQuotaProfile::for_model) fixes it, for a
/// limiter that guards one model whatever its callers are called.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BedrockQuotaProfile {
    /// A fixed burndown, when the profile is for one model.
    fixed_burndown: Option<u32>,
}

impl BedrockQuotaProfile {
    /// The profile of whichever model a call is for.
    pub const fn new() -> Self {
        Self {
            fixed_burndown: None,
        }
    }

    /// The profile of `model_id` (model or inference-profile id, or ARN),
    /// whatever id a call comes with.
    pub fn for_model(model_id: &str) -> Self {
        Self {
            fixed_burndown: Some(catalog::output_burndown(model_of(model_id))),
        }
    }

    /// How many times each output token of `model` counts against the token
    /// quotas.
    pub fn output_burndown(&self, model: &str) -> u32 {
        self.fixed_burndown
            .unwrap_or_else(|| catalog::output_burndown(model_of(model)))
    }

    /// Tokens Bedrock counts when a call to `model` starts: the whole
    /// prompt's estimate plus `max_tokens × burndown`.
    pub fn reserved_tokens(&self, model: &str, input_tokens: u32, max_tokens: u32) -> u64 {
        u64::from(input_tokens).saturating_add(
            u64::from(max_tokens).saturating_mul(u64::from(self.output_burndown(model))),
        )
    }

    /// Tokens a finished call counts, from its usage: input, cache writes and
    /// `output × burndown`; cache reads are given back.
    pub fn settled_tokens(&self, usage: &Usage, burndown: u32) -> u64 {
        u64::from(usage.input_tokens)
            .saturating_add(u64::from(usage.cache_write_tokens))
            .saturating_add(
                u64::from(usage.output_tokens).saturating_mul(u64::from(burndown.max(1))),
            )
    }
}

/// The model id inside a provider id (`bedrock/<model>`), or the id itself.
fn model_of(id: &str) -> &str {
    id.strip_prefix(PROVIDER_ID_PREFIX).unwrap_or(id)
}

#[cfg(feature = "limit")]
impl palisade_limit::CostModel for BedrockQuotaProfile {
    fn reserve(
        &self,
        model: &palisade_core::ProviderId,
        request: &palisade_core::ChatRequest,
        input_tokens: u32,
    ) -> palisade_limit::Cost {
        palisade_limit::Cost::input_and_output(
            u64::from(input_tokens),
            u64::from(request.max_tokens),
            self.output_burndown(model.as_str()),
        )
    }

    fn actual(&self, reserved: &palisade_limit::Cost, usage: &Usage) -> u64 {
        self.settled_tokens(usage, reserved.output_burndown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burndown_is_the_catalogs_for_every_model_and_every_way_of_naming_it() {
        let profile = BedrockQuotaProfile::new();
        for model in catalog::MODELS {
            let mut names = vec![
                model.model_id.to_owned(),
                format!("{PROVIDER_ID_PREFIX}{}", model.model_id),
            ];
            for prefix in catalog::PROFILE_PREFIXES {
                names.push(format!("{PROVIDER_ID_PREFIX}{prefix}.{}", model.model_id));
            }
            for name in names {
                assert_eq!(
                    profile.output_burndown(&name),
                    model.output_burndown,
                    "{name}"
                );
                assert_eq!(
                    BedrockQuotaProfile::for_model(&name).output_burndown("anything"),
                    model.output_burndown,
                    "{name}"
                );
            }
        }
        assert_eq!(
            profile.output_burndown("bedrock/us.anthropic.claude-sonnet-4-7-v1"),
            5
        );
        assert_eq!(profile.output_burndown("bedrock/amazon.nova-pro-v1:0"), 1);
    }

    #[test]
    fn reserves_max_tokens_times_burndown_and_gives_cache_reads_back() {
        let profile = BedrockQuotaProfile::new();
        let sonnet = "bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0";
        assert_eq!(profile.reserved_tokens(sonnet, 1_000, 1_800), 10_000);
        let haiku = "bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0";
        assert_eq!(profile.reserved_tokens(haiku, 1_000, 1_800), 2_800);
        let usage = Usage {
            cache_read_tokens: 5_000,
            cache_write_tokens: 200,
            ..Usage::new(1_000, 300)
        };
        assert_eq!(profile.settled_tokens(&usage, 5), 2_700);
        assert_eq!(profile.settled_tokens(&usage, 1), 1_500);
    }

    #[cfg(feature = "limit")]
    #[test]
    fn as_a_limiters_cost_model_it_reserves_and_settles_like_bedrock() {
        use std::sync::Arc;

        use palisade_core::{ChatRequest, ProviderId};
        use palisade_limit::{CostModel, Limiter, LimiterConfig, Quota};

        let profile = BedrockQuotaProfile::new();
        let id = ProviderId::new("bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0");
        let request = ChatRequest::user("hi").with_max_tokens(1_800);
        let cost = profile.reserve(&id, &request, 1_000);
        assert_eq!((cost.tokens, cost.output_burndown), (10_000, 5));

        let limiter = Limiter::with_cost_model(
            LimiterConfig::default().with_tokens(Quota::per_minute(10_000)),
            Arc::new(profile),
        )
        .unwrap();
        assert_eq!(limiter.cost_of(&id, &request, 1_000), cost);
        let permit = limiter.try_acquire(cost).unwrap();
        let usage = Usage {
            cache_read_tokens: 5_000,
            ..Usage::new(1_000, 300)
        };
        let settled = permit.settle(usage);
        assert_eq!(settled.refunded, 10_000 - 2_500);
    }
}
