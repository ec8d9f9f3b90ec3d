//! What a request costs against a token budget, before and after the call.
//!
//! Bedrock reserves `max_tokens` when a request starts and, for Claude 3.7 and
//! later, counts every output token five times against the tokens-per-minute
//! quota (the *output burndown rate*); it returns the unused part of the
//! reservation when the request ends. The default model mirrors that: reserve
//! `input + max_tokens × burndown`, settle to `input + output × burndown`.
//! Prompt-cache reads are free (neither Bedrock nor Anthropic count them
//! against TPM); cache writes count like input.

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
    /// How many times each output token counts (1 for most models).
    #[serde(default = "one")]
    pub output_burndown: u32,
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
            output_burndown: 1,
        }
    }

    /// A request that reserves `tokens` (all counted as input).
    pub const fn tokens(tokens: u64) -> Self {
        Self {
            tokens,
            input_tokens: tokens,
            output_burndown: 1,
        }
    }

    /// A reservation of `input` tokens plus `max_output × burndown`.
    pub const fn input_and_output(input: u64, max_output: u64, burndown: u32) -> Self {
        Self {
            tokens: input.saturating_add(max_output.saturating_mul(burndown as u64)),
            input_tokens: input,
            output_burndown: burndown,
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

    /// Sets the output burndown used when settling.
    pub const fn with_output_burndown(mut self, burndown: u32) -> Self {
        self.output_burndown = burndown;
        self
    }
}

/// Computes what requests cost against a token budget.
///
/// Implement it for provider-specific accounting; [`DefaultCostModel`] covers
/// Bedrock and the Anthropic API.
pub trait CostModel: Send + Sync + Debug {
    /// The reservation for `request` sent to `model`, given its estimated
    /// input tokens (the request's own estimate or the estimator's).
    fn reserve(&self, model: &ProviderId, request: &ChatRequest, input_tokens: u32) -> Cost;

    /// What the call really cost, from the usage the provider reported.
    fn actual(&self, reserved: &Cost, usage: &Usage) -> u64;
}

/// Output burndown rates by model; see [`DefaultCostModel`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BurndownConfig {
    /// Burndown for models that match no rule. Default 1.
    pub default: u32,
    /// Burndown by model: a rule applies when the provider id *contains* the
    /// key; the longest matching key wins. Default: empty (the built-in
    /// Bedrock table still applies unless `builtin_bedrock` is off).
    pub models: BTreeMap<String, u32>,
    /// Apply the built-in table for Bedrock (Claude 3.7 and later burn down
    /// 5×, see [`BEDROCK_BURNDOWN`]). Default `true`.
    pub builtin_bedrock: bool,
}

impl Default for BurndownConfig {
    fn default() -> Self {
        Self {
            default: 1,
            models: BTreeMap::new(),
            builtin_bedrock: true,
        }
    }
}

/// Bedrock model-id fragments whose output tokens count 5× against TPM:
/// Claude 3.7 Sonnet and every later Sonnet and Opus. Every other model,
/// Claude Haiku 4.5 included, burns down 1× (the table in
/// `palisade-bedrock`'s catalog agrees). Bedrock ids spell the vendor
/// `anthropic.` with a dot, which the Anthropic API's own ids do not, so these
/// never match that API.
pub const BEDROCK_BURNDOWN: &[(&str, u32)] = &[
    ("anthropic.claude-3-7", 5),
    ("anthropic.claude-sonnet-4", 5),
    ("anthropic.claude-opus-4", 5),
];

impl BurndownConfig {
    /// The burndown for `model`.
    pub fn for_model(&self, model: &str) -> u32 {
        let configured = self
            .models
            .iter()
            .filter(|(key, _)| model.contains(key.as_str()))
            .max_by_key(|(key, _)| key.len())
            .map(|(_, burndown)| *burndown);
        if let Some(b) = configured {
            return b.max(1);
        }
        if self.builtin_bedrock
            && let Some((_, b)) = BEDROCK_BURNDOWN.iter().find(|(key, _)| model.contains(key))
        {
            return *b;
        }
        self.default.max(1)
    }
}

/// The default cost model: reserve `input + max_tokens × burndown`, settle to
/// `input + cache_write + output × burndown`; cache reads are free.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DefaultCostModel {
    /// Output burndown by model.
    pub burndown: BurndownConfig,
}

impl DefaultCostModel {
    /// A model with the given burndown table.
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
        u64::from(usage.input_tokens)
            .saturating_add(u64::from(usage.cache_write_tokens))
            .saturating_add(
                u64::from(usage.output_tokens)
                    .saturating_mul(u64::from(reserved.output_burndown.max(1))),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bedrock_claude_37_burns_down_5x() {
        let model = DefaultCostModel::default();
        let id = ProviderId::new("bedrock/us.anthropic.claude-3-7-sonnet-20250219-v1:0");
        let req = ChatRequest::user("hi").with_max_tokens(1_800);
        let cost = model.reserve(&id, &req, 1_000);
        assert_eq!(cost, Cost::input_and_output(1_000, 1_800, 5));
        assert_eq!(cost.tokens, 10_000);
        let usage = Usage {
            cache_read_tokens: 5_000,
            ..Usage::new(1_000, 300)
        };
        assert_eq!(model.actual(&cost, &usage), 2_500);
    }

    #[test]
    fn bedrock_haiku_burns_down_once_and_later_sonnet_opus_5x() {
        let cfg = BurndownConfig::default();
        for haiku in [
            "bedrock/us.anthropic.claude-haiku-4-5-20251001-v1:0",
            "bedrock/global.anthropic.claude-haiku-4-5-20251001-v1:0",
            "bedrock/anthropic.claude-3-5-haiku-20241022-v1:0",
        ] {
            assert_eq!(cfg.for_model(haiku), 1, "{haiku}");
        }
        for five in [
            "bedrock/us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "bedrock/us.anthropic.claude-opus-4-1-20250805-v1:0",
            "bedrock/anthropic.claude-3-7-sonnet-20250219-v1:0",
        ] {
            assert_eq!(cfg.for_model(five), 5, "{five}");
        }
    }

    #[test]
    fn other_models_burn_down_once_and_config_wins() {
        let mut cfg = BurndownConfig::default();
        assert_eq!(cfg.for_model("anthropic/claude-sonnet-4-5"), 1);
        assert_eq!(cfg.for_model("bedrock/amazon.nova-pro-v1:0"), 1);
        cfg.models.insert("nova".into(), 2);
        cfg.models.insert("anthropic.claude-3-7".into(), 3);
        assert_eq!(cfg.for_model("bedrock/amazon.nova-pro-v1:0"), 2);
        assert_eq!(cfg.for_model("bedrock/anthropic.claude-3-7-sonnet"), 3);
    }
}
