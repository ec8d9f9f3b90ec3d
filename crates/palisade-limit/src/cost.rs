//! What a request costs against a token budget, before and after the call.
//!
//! A provider counts a call against its token quota in its own way: some
//! count output at a multiple of its size (an *output burndown*), some leave
//! prompt-cache reads out, some reserve `max_tokens` up front and return the
//! unused part when the call ends. Those facts belong to the provider crates,
//! which implement [`CostModel`] as their quota profile. What this crate ships is provider-neutral: [`DefaultCostModel`]
//! reserves `input + max_tokens × burndown` (burndown 1 unless configured) and
//! settles to every token the provider reported, output times the same
//! burndown.

use std::collections::BTreeMap;
use std::fmt::Debug;

use palisade_core::{ChatRequest, ProviderId, Usage};
use serde::{Deserialize, Serialize};

/// The token cost of one request, as reserved before the call.
///
/// Carries the output burndown so that settling counts real output the same
/// way the reservation counted `max_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Cost {
    /// Tokens to reserve against the token budget (0 for request-only limits).
    pub tokens: u64,
    /// The part of `tokens` that is input (what [`DropRule::KeepInput`]
    /// keeps when a permit is dropped unsettled).
    ///
    /// [`DropRule::KeepInput`]: crate::DropRule::KeepInput
    #[serde(default)]
    pub input_tokens: u64,
    /// The output part, as the output-tokens-per-minute dimension counts it
    /// (`max_tokens`, or a learned reservation; no burndown: providers that
    /// limit output separately count output tokens as they are).
    #[serde(default)]
    pub output_tokens: u64,
    /// How many times each output token counts (1 for most models).
    #[serde(default = "one")]
    pub output_burndown: u32,
    /// The route a learning cost model ([`LearnedOutput`]) files the reply
    /// under when it settles; 0 for none.
    ///
    /// [`LearnedOutput`]: crate::LearnedOutput
    #[serde(default, skip_serializing_if = "is_zero")]
    pub route: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn one() -> u32 {
    1
}

impl Cost {
    /// A request that reserves no tokens (it still counts against the
    /// requests-per-interval and concurrency limits).
    pub const fn request() -> Self {
        Self {
            tokens: 0,
            input_tokens: 0,
            output_tokens: 0,
            output_burndown: 1,
            route: 0,
        }
    }

    /// A request that reserves `tokens` (all counted as input).
    pub const fn tokens(tokens: u64) -> Self {
        Self {
            tokens,
            input_tokens: tokens,
            output_tokens: 0,
            output_burndown: 1,
            route: 0,
        }
    }

    /// A reservation of `input` tokens plus `max_output × burndown`.
    pub const fn input_and_output(input: u64, max_output: u64, burndown: u32) -> Self {
        Self {
            tokens: input.saturating_add(max_output.saturating_mul(burndown as u64)),
            input_tokens: input,
            output_tokens: max_output,
            output_burndown: burndown,
            route: 0,
        }
    }

    /// The input part, never more than the whole reservation.
    pub const fn input_part(&self) -> u64 {
        if self.input_tokens < self.tokens {
            self.input_tokens
        } else {
            self.tokens
        }
    }

    /// What the reservation counts against each token dimension.
    pub const fn counts(&self) -> TokenCounts {
        TokenCounts {
            tokens: self.tokens,
            input: self.input_tokens,
            output: self.output_tokens,
        }
    }

    /// Files the reply under `route` when it settles (see
    /// [`LearnedOutput`](crate::LearnedOutput)).
    pub const fn with_route(mut self, route: u64) -> Self {
        self.route = route;
        self
    }

    /// Sets the output burndown used when settling.
    pub const fn with_output_burndown(mut self, burndown: u32) -> Self {
        self.output_burndown = burndown;
        self
    }
}

/// Tokens counted against each token dimension of a limiter: the combined
/// `tokens` (per minute and per day), `input` (input tokens per minute) and
/// `output` (output tokens per minute). A dimension the limiter does not
/// limit ignores its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TokenCounts {
    /// Against the combined tokens-per-minute and tokens-per-day quotas.
    pub tokens: u64,
    /// Against the input-tokens-per-minute quota.
    #[serde(default)]
    pub input: u64,
    /// Against the output-tokens-per-minute quota.
    #[serde(default)]
    pub output: u64,
}

impl TokenCounts {
    /// Nothing counted anywhere.
    pub const ZERO: TokenCounts = TokenCounts {
        tokens: 0,
        input: 0,
        output: 0,
    };

    /// `tokens` against the combined quotas only.
    pub const fn combined(tokens: u64) -> Self {
        Self {
            tokens,
            input: 0,
            output: 0,
        }
    }

    /// Whether nothing is counted.
    pub const fn is_zero(&self) -> bool {
        self.tokens == 0 && self.input == 0 && self.output == 0
    }

    /// Per dimension, what `self` holds beyond `other` (0 where it holds
    /// less).
    pub const fn saturating_sub(self, other: TokenCounts) -> TokenCounts {
        TokenCounts {
            tokens: self.tokens.saturating_sub(other.tokens),
            input: self.input.saturating_sub(other.input),
            output: self.output.saturating_sub(other.output),
        }
    }
}

/// Computes what requests cost against a token budget: how a provider
/// counts a call against its token quota.
///
/// Implement it for a provider's own accounting (the provider crates do);
/// [`DefaultCostModel`] assumes nothing about the provider.
pub trait CostModel: Send + Sync + Debug {
    /// The reservation for `request` sent to `model`, given its estimated
    /// input tokens (the request's own estimate or the estimator's; the whole
    /// prompt, cached parts included).
    fn reserve(&self, model: &ProviderId, request: &ChatRequest, input_tokens: u32) -> Cost;

    /// What the call really cost against the combined token quotas, from the
    /// usage the provider reported.
    fn actual(&self, reserved: &Cost, usage: &Usage) -> u64;

    /// What the call really cost against every token dimension. The default
    /// takes the combined count from [`actual`](CostModel::actual), counts
    /// input as the input tokens plus cache writes (cache reads are not
    /// counted: Anthropic's input-tokens-per-minute and Bedrock's
    /// Messages-API endpoint leave them out) and output as reported.
    fn counted(&self, reserved: &Cost, usage: &Usage) -> TokenCounts {
        TokenCounts {
            tokens: self.actual(reserved, usage),
            input: u64::from(usage.input_tokens)
                .saturating_add(u64::from(usage.cache_write_tokens)),
            output: u64::from(usage.output_tokens),
        }
    }
}

/// A shared cost model is one: so a profile held behind an `Arc` can be
/// wrapped (for example in [`LearnedOutput`](crate::LearnedOutput)).
impl<C: CostModel + ?Sized> CostModel for std::sync::Arc<C> {
    fn reserve(&self, model: &ProviderId, request: &ChatRequest, input_tokens: u32) -> Cost {
        (**self).reserve(model, request, input_tokens)
    }

    fn actual(&self, reserved: &Cost, usage: &Usage) -> u64 {
        (**self).actual(reserved, usage)
    }

    fn counted(&self, reserved: &Cost, usage: &Usage) -> TokenCounts {
        (**self).counted(reserved, usage)
    }
}

/// Output burndown by model for [`DefaultCostModel`]: 1 unless configured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BurndownConfig {
    /// Burndown for models that match no rule. Default 1.
    pub default: u32,
    /// Burndown by model: a rule applies when the provider id *contains* the
    /// key; the longest matching key wins. Default: empty.
    pub models: BTreeMap<String, u32>,
}

impl Default for BurndownConfig {
    fn default() -> Self {
        Self {
            default: 1,
            models: BTreeMap::new(),
        }
    }
}

impl BurndownConfig {
    /// The burndown for `model` (never below 1).
    pub fn for_model(&self, model: &str) -> u32 {
        self.models
            .iter()
            .filter(|(key, _)| model.contains(key.as_str()))
            .max_by_key(|(key, _)| key.len())
            .map_or(self.default, |(_, burndown)| *burndown)
            .max(1)
    }

    /// Adds a rule: models whose id contains `fragment` burn down `burndown`×.
    pub fn with_model(mut self, fragment: impl Into<String>, burndown: u32) -> Self {
        self.models.insert(fragment.into(), burndown);
        self
    }
}

/// The provider-neutral cost model: reserve `input + max_tokens × burndown`,
/// settle to every token the provider reported (input, cache writes, cache
/// reads) plus `output × burndown`. The burndown is 1 unless the
/// [`BurndownConfig`] says otherwise for the model.
///
/// It assumes nothing a provider did not say: no multiplier on output, every
/// cached token counted. Providers that count differently ship their own
/// [`CostModel`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DefaultCostModel {
    /// Output burndown by model.
    pub burndown: BurndownConfig,
}

impl DefaultCostModel {
    /// A model with the given burndown rules.
    pub fn new(burndown: BurndownConfig) -> Self {
        Self { burndown }
    }
}

impl CostModel for DefaultCostModel {
    fn reserve(&self, model: &ProviderId, request: &ChatRequest, input_tokens: u32) -> Cost {
        let burndown = self.burndown.for_model(model.as_str());
        Cost::input_and_output(
            u64::from(input_tokens),
            u64::from(request.max_tokens),
            burndown,
        )
    }

    fn actual(&self, reserved: &Cost, usage: &Usage) -> u64 {
        let output = u64::from(usage.output_tokens)
            .saturating_mul(u64::from(reserved.output_burndown.max(1)));
        u64::from(usage.input_tokens)
            .saturating_add(u64::from(usage.cache_write_tokens))
            .saturating_add(u64::from(usage.cache_read_tokens))
            .saturating_add(output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserves_input_plus_max_tokens_and_counts_every_reported_token() {
        let model = DefaultCostModel::default();
        let id = ProviderId::new("any/model");
        let req = ChatRequest::user("hi").with_max_tokens(1_800);
        let cost = model.reserve(&id, &req, 1_000);
        assert_eq!(cost, Cost::input_and_output(1_000, 1_800, 1));
        assert_eq!(cost.tokens, 2_800);
        let usage = Usage {
            cache_read_tokens: 5_000,
            cache_write_tokens: 200,
            ..Usage::new(1_000, 300)
        };
        assert_eq!(model.actual(&cost, &usage), 6_500);
    }

    #[test]
    fn configured_burndown_applies_to_reservation_and_settle() {
        let model = DefaultCostModel::new(BurndownConfig::default().with_model("big-model", 3));
        let req = ChatRequest::user("hi").with_max_tokens(100);
        let cost = model.reserve(&ProviderId::new("vendor/big-model-v2"), &req, 50);
        assert_eq!(cost.tokens, 350);
        assert_eq!(model.actual(&cost, &Usage::new(50, 10)), 80);
        let other = model.reserve(&ProviderId::new("vendor/small"), &req, 50);
        assert_eq!(other.tokens, 150);
    }

    #[test]
    fn longest_rule_wins_and_burndown_is_at_least_one() {
        let cfg = BurndownConfig {
            default: 0,
            ..BurndownConfig::default()
        }
        .with_model("nova", 2)
        .with_model("nova-pro", 4)
        .with_model("zero", 0);
        assert_eq!(cfg.for_model("vendor/nova-lite"), 2);
        assert_eq!(cfg.for_model("vendor/nova-pro-v1"), 4);
        assert_eq!(cfg.for_model("vendor/zero"), 1);
        assert_eq!(cfg.for_model("vendor/other"), 1);
    }
}
