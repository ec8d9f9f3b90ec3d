//! The Claude models callable through Bedrock's Converse API: context window,
//! output limit, list prices and quota burndown, in one place, so the
//! limiter's cost model and the stack's cost table agree.
//!
//! # Source and date
//!
//! Compiled on 2026-11-22 from Anthropic's "Claude on Amazon Bedrock (legacy)"
//! page (the Converse / InvokeModel model table with ARN-versioned ids), the
//! per-model overview pages on platform.claude.com (context, max output,
//! prices, cache prices), the AWS Bedrock model cards, and the Bedrock quotas
//! page (output-token burndown). Prices are on-demand list prices in USD per
//! million tokens; cache writes are the 5-minute TTL rate. Bedrock's regional
//! (`us.`, `eu.`, …) profiles of some models are priced above the `global.`
//! profile; check the Bedrock pricing page before billing from these numbers.
//!
//! Models newer than Claude Opus 4.6 are served on Bedrock through the
//! Messages-API endpoint, not Converse, and are not listed. Retired models
//! (Claude 3.5 Sonnet, which answers 404 end-of-life) are not listed either, so
//! nothing here can become a default that no longer answers.
//!
//! # Burndown
//!
//! Bedrock charges output tokens against the tokens-per-minute quota at a
//! multiple of their count: 5 for Claude 3.7 Sonnet and every later Sonnet and
//! Opus, 1 for the others. A limiter must reserve `max_tokens × burndown`
//! ([`profile`](crate::profile) is how palisade's limiter does). Each model
//! listed carries its own value; [`BURNDOWN_FAMILIES`] states the rule for
//! the families, so a newer Sonnet or Opus id not yet listed here still
//! counts 5×, and a test holds every listed model to its family's rule.

use palisade_core::Price;
use serde::Serialize;

/// Where a model is in Bedrock's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Lifecycle {
    /// Current; a sensible default.
    Active,
    /// Still served but scheduled for retirement: do not start new work on it.
    Legacy,
}

/// The catalog's old price type, before every crate shared
/// [`palisade_core::Price`] (`input` is now `input_per_mtok`, and so on).
#[deprecated(
    since = "0.1.0",
    note = "use `palisade_core::Price` (fields `input_per_mtok`, …)"
)]
pub type Prices = Price;

/// One Claude model on Bedrock.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClaudeModel {
    /// Human name, e.g. `Claude Sonnet 4.5`.
    pub name: &'static str,
    /// The base Bedrock model id, without an inference-profile prefix.
    pub model_id: &'static str,
    /// Context window in tokens (the default one, without beta headers).
    pub context_window: u32,
    /// Largest `max_tokens` the model accepts.
    pub max_output_tokens: u32,
    /// List prices (cache writes at the 5-minute rate; the 1-hour rate is
    /// not listed, so 1-hour writes are charged at it too).
    pub price: Price,
    /// Quota burndown multiplier for output tokens (see the module docs).
    pub output_burndown: u32,
    /// Whether `thinking: {type: enabled, budget_tokens}` is accepted.
    pub extended_thinking: bool,
    /// The service tiers Bedrock offers for it through Converse's `serviceTier`.
    pub service_tiers: palisade_core::TierSet,
    /// Lifecycle state at the catalog's date.
    pub lifecycle: Lifecycle,
}

impl ClaudeModel {
    /// The list price of a call's usage, in USD ([`Price::cost`]).
    pub fn cost_usd(&self, usage: &palisade_core::Usage) -> f64 {
        self.price.cost(usage)
    }
}

const fn prices(input: f64, output: f64, cache_write: f64, cache_read: f64) -> Price {
    Price::new(input, output).with_cache(cache_read, cache_write)
}

/// The tiers the catalog lists for Claude models: standard and priority
/// (flex and reserved capacity are not offered for them).
const CLAUDE_TIERS: palisade_core::TierSet =
    palisade_core::TierSet::DEFAULT_ONLY.with(palisade_core::ServiceTier::Priority);

/// Every model in the catalog, newest first within each family.
pub const MODELS: &[ClaudeModel] = &[
    ClaudeModel {
        name: "Claude Opus 4.6",
        model_id: "anthropic.claude-opus-4-6-v1",
        context_window: 1_000_000,
        max_output_tokens: 128_000,
        price: prices(5.0, 25.0, 6.25, 0.50),
        output_burndown: 5,
        extended_thinking: true,
        service_tiers: CLAUDE_TIERS,
        lifecycle: Lifecycle::Active,
    },
    ClaudeModel {
        name: "Claude Opus 4.5",
        model_id: "anthropic.claude-opus-4-5-20251101-v1:0",
        context_window: 200_000,
        max_output_tokens: 64_000,
        price: prices(5.0, 25.0, 6.25, 0.50),
        output_burndown: 5,
        extended_thinking: true,
        service_tiers: CLAUDE_TIERS,
        lifecycle: Lifecycle::Active,
    },
    ClaudeModel {
        name: "Claude Opus 4.1",
        model_id: "anthropic.claude-opus-4-1-20250805-v1:0",
        context_window: 200_000,
        max_output_tokens: 32_000,
        price: prices(15.0, 75.0, 18.75, 1.50),
        output_burndown: 5,
        extended_thinking: true,
        service_tiers: CLAUDE_TIERS,
        lifecycle: Lifecycle::Active,
    },
    ClaudeModel {
        name: "Claude Sonnet 4.6",
        model_id: "anthropic.claude-sonnet-4-6",
        context_window: 1_000_000,
        max_output_tokens: 64_000,
        price: prices(3.0, 15.0, 3.75, 0.30),
        output_burndown: 5,
        extended_thinking: true,
        service_tiers: CLAUDE_TIERS,
        lifecycle: Lifecycle::Active,
    },
    ClaudeModel {
        name: "Claude Sonnet 4.5",
        model_id: "anthropic.claude-sonnet-4-5-20250929-v1:0",
        context_window: 200_000,
        max_output_tokens: 64_000,
        price: prices(3.0, 15.0, 3.75, 0.30),
        output_burndown: 5,
        extended_thinking: true,
        service_tiers: CLAUDE_TIERS,
        lifecycle: Lifecycle::Active,
    },
    ClaudeModel {
        name: "Claude Sonnet 4",
        model_id: "anthropic.claude-sonnet-4-20250514-v1:0",
        context_window: 200_000,
        max_output_tokens: 64_000,
        price: prices(3.0, 15.0, 3.75, 0.30),
        output_burndown: 5,
        extended_thinking: true,
        service_tiers: CLAUDE_TIERS,
        lifecycle: Lifecycle::Legacy,
    },
    ClaudeModel {
        name: "Claude Sonnet 3.7",
        model_id: "anthropic.claude-3-7-sonnet-20250219-v1:0",
        context_window: 200_000,
        max_output_tokens: 64_000,
        price: prices(3.0, 15.0, 3.75, 0.30),
        output_burndown: 5,
        extended_thinking: true,
        service_tiers: CLAUDE_TIERS,
        lifecycle: Lifecycle::Legacy,
    },
    ClaudeModel {
        name: "Claude Haiku 4.5",
        model_id: "anthropic.claude-haiku-4-5-20251001-v1:0",
        context_window: 200_000,
        max_output_tokens: 64_000,
        price: prices(1.0, 5.0, 1.25, 0.10),
        output_burndown: 1,
        extended_thinking: true,
        service_tiers: CLAUDE_TIERS,
        lifecycle: Lifecycle::Active,
    },
];

/// The model a configuration without `BEDROCK_MODEL_ID` uses: Claude Sonnet
/// 4.6 through the US cross-region inference profile.
pub const DEFAULT_MODEL_ID: &str = "us.anthropic.claude-sonnet-4-6";

/// The fallback chain a primary from this catalog gets when the environment
/// names none (`BEDROCK_FALLBACK_MODELS` unset): current models, most
/// capable first, as base ids. The seed service ran a chain of four; these
/// are the Active Converse models of that chain's families.
pub const DEFAULT_CHAIN: &[&str] = &[
    "anthropic.claude-sonnet-4-6",
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
];

/// The default fallbacks of `primary`: [`DEFAULT_CHAIN`] without the
/// primary's own model, under the primary's inference-profile prefix; none
/// for a model this catalog does not list (a simulated or custom model).
///
/// ```
/// use palisade_bedrock::catalog::default_fallbacks;
///
/// assert_eq!(
///     default_fallbacks("us.anthropic.claude-sonnet-4-6"),
///     ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "us.anthropic.claude-haiku-4-5-20251001-v1:0"]
/// );
/// assert!(default_fallbacks("sim/primary").is_empty());
/// ```
pub fn default_fallbacks(primary: &str) -> Vec<String> {
    if lookup(primary).is_none() {
        return Vec::new();
    }
    let (prefix, base) = split_profile(primary);
    DEFAULT_CHAIN
        .iter()
        .filter(|id| **id != base)
        .map(|id| match prefix {
            Some(p) => format!("{p}.{id}"),
            None => (*id).to_owned(),
        })
        .collect()
}

/// Cross-region inference-profile prefixes Bedrock puts before a model id.
pub const PROFILE_PREFIXES: &[&str] = &["global", "us", "us-gov", "eu", "apac", "jp", "au"];

/// Splits an inference-profile prefix off a model id:
/// `us.anthropic.claude-…` → `(Some("us"), "anthropic.claude-…")`.
///
/// ARNs (`arn:aws:bedrock:…:inference-profile/us.anthropic.…` or
/// `…:foundation-model/anthropic.…`) are reduced to their last path segment
/// first.
pub fn split_profile(id: &str) -> (Option<&str>, &str) {
    let id = match id.strip_prefix("arn:") {
        Some(arn) => arn.rsplit('/').next().unwrap_or(arn),
        None => id,
    };
    if let Some((prefix, rest)) = id.split_once('.')
        && PROFILE_PREFIXES.contains(&prefix)
    {
        return (Some(prefix), rest);
    }
    (None, id)
}

/// The catalog entry for a model id, inference-profile id or ARN.
///
/// ```
/// use palisade_bedrock::catalog;
///
/// let model = catalog::lookup("us.anthropic.claude-sonnet-4-5-20250929-v1:0").unwrap();
/// assert_eq!(model.name, "Claude Sonnet 4.5");
/// assert_eq!(model.output_burndown, 5);
/// assert!(catalog::lookup("anthropic.claude-3-5-sonnet-20240620-v1:0").is_none()); // retired
/// ```
pub fn lookup(id: &str) -> Option<&'static ClaudeModel> {
    let (_, base) = split_profile(id);
    MODELS.iter().find(|m| m.model_id == base)
}

/// A Claude model Bedrock no longer serves (end-of-life): calls to it answer
/// 404, so nothing should default to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetiredModel {
    /// Human name, e.g. `Claude 3.5 Haiku`.
    pub name: &'static str,
    /// The base Bedrock model id.
    pub model_id: &'static str,
    /// The end-of-life date on Bedrock's model lifecycle page (`YYYY-MM-DD`).
    pub end_of_life: &'static str,
    /// A current model of the same family to move to.
    pub replacement: &'static str,
}

/// Retired Claude models, with the end-of-life dates of their Bedrock model
/// cards (read 2026-12-03).
pub const RETIRED: &[RetiredModel] = &[
    RetiredModel {
        name: "Claude 3.5 Haiku",
        model_id: "anthropic.claude-3-5-haiku-20241022-v1:0",
        end_of_life: "2026-06-19",
        replacement: "anthropic.claude-haiku-4-5-20251001-v1:0",
    },
    RetiredModel {
        name: "Claude 3 Haiku",
        model_id: "anthropic.claude-3-haiku-20240307-v1:0",
        end_of_life: "2026-09-10",
        replacement: "anthropic.claude-haiku-4-5-20251001-v1:0",
    },
];

/// The retired model `id` names (model or inference-profile id, or ARN), if
/// it names one.
///
/// ```
/// use palisade_bedrock::catalog;
///
/// let retired = catalog::retirement("us.anthropic.claude-3-5-haiku-20241022-v1:0").unwrap();
/// assert_eq!(retired.end_of_life, "2026-06-19");
/// assert!(catalog::lookup(retired.replacement).is_some());
/// assert!(catalog::retirement("anthropic.claude-haiku-4-5-20251001-v1:0").is_none());
/// ```
pub fn retirement(id: &str) -> Option<&'static RetiredModel> {
    let (_, base) = split_profile(id);
    RETIRED.iter().find(|m| m.model_id == base)
}

/// Model families whose output tokens count more than once against the
/// token quotas, by base-id prefix (after any inference-profile prefix):
/// Claude 3.7 Sonnet, and every Sonnet and Opus named in the
/// `claude-<family>-<version>` scheme that began with Claude 4. Claude 3 Opus
/// (`anthropic.claude-3-opus-…`) and every Haiku count once.
pub const BURNDOWN_FAMILIES: &[(&str, u32)] = &[
    ("anthropic.claude-3-7-sonnet", 5),
    ("anthropic.claude-sonnet-", 5),
    ("anthropic.claude-opus-", 5),
];

/// The burndown of `id`'s family, if [`BURNDOWN_FAMILIES`] names it.
pub fn family_burndown(id: &str) -> Option<u32> {
    let (_, base) = split_profile(id);
    BURNDOWN_FAMILIES
        .iter()
        .find(|(prefix, _)| base.starts_with(prefix))
        .map(|(_, burndown)| *burndown)
}

/// The output burndown for any model id, inference-profile id or ARN: the
/// catalog's value for a listed model, else its family's, else 1 (the
/// Bedrock default for models without a published multiplier).
pub fn output_burndown(id: &str) -> u32 {
    match lookup(id) {
        Some(model) => model.output_burndown,
        None => family_burndown(id).unwrap_or(1),
    }
}

/// What Converse takes for `model` (a catalog entry, or `None` for a model
/// outside the catalog, which is given the benefit of the doubt on thinking
/// and tiers): tools, inline images and documents within Bedrock's limits,
/// up to four cache points, structured output through a forced tool.
pub fn capabilities(model: Option<&ClaudeModel>) -> palisade_core::Capabilities {
    use crate::request::{
        MAX_CACHE_POINTS, MAX_DOCUMENT_BYTES, MAX_DOCUMENTS, MAX_IMAGE_BYTES, MAX_IMAGES,
    };
    let mut caps = palisade_core::Capabilities::all();
    caps.image_urls = false;
    caps.structured_output = palisade_core::StructuredOutputSupport::ForcedTool;
    caps.thinking = model.is_none_or(|m| m.extended_thinking);
    caps.service_tiers = model.map_or(palisade_core::TierSet::ALL, |m| m.service_tiers);
    caps.max_images = Some(MAX_IMAGES);
    caps.max_image_bytes = Some(MAX_IMAGE_BYTES);
    caps.max_documents = Some(MAX_DOCUMENTS);
    caps.max_document_bytes = Some(MAX_DOCUMENT_BYTES);
    caps.max_cache_points = Some(MAX_CACHE_POINTS);
    caps
}

#[cfg(test)]
mod tests {
    use super::*;
    use palisade_core::Usage;

    #[test]
    fn every_profile_prefix_resolves() {
        for prefix in ["us", "eu", "apac", "global", "jp"] {
            let id = format!("{prefix}.anthropic.claude-haiku-4-5-20251001-v1:0");
            assert_eq!(
                lookup(&id).map(|m| m.name),
                Some("Claude Haiku 4.5"),
                "{id}"
            );
        }
        let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-6-v1";
        assert_eq!(lookup(arn).map(|m| m.name), Some("Claude Opus 4.6"));
        assert_eq!(
            split_profile("anthropic.claude-sonnet-4-6"),
            (None, "anthropic.claude-sonnet-4-6")
        );
    }

    #[test]
    fn burndown_is_five_for_sonnet_and_opus_from_3_7_and_one_otherwise() {
        for model in MODELS {
            let expected = if model.name.contains("Haiku") { 1 } else { 5 };
            assert_eq!(model.output_burndown, expected, "{}", model.name);
        }
        assert_eq!(output_burndown("meta.llama3-70b-instruct-v1:0"), 1);
    }

    #[test]
    fn every_listed_model_follows_its_family_rule() {
        for model in MODELS {
            assert_eq!(
                family_burndown(model.model_id).unwrap_or(1),
                model.output_burndown,
                "{}",
                model.name
            );
        }
        // Ids not listed (yet) follow their family.
        assert_eq!(output_burndown("us.anthropic.claude-sonnet-4-7-v1"), 5);
        assert_eq!(output_burndown("anthropic.claude-opus-5-v1"), 5);
        assert_eq!(output_burndown("anthropic.claude-3-opus-20240229-v1:0"), 1);
        assert_eq!(
            output_burndown("anthropic.claude-3-5-haiku-20241022-v1:0"),
            1
        );
    }

    #[test]
    fn the_default_is_active_and_no_retired_id_is_listed() {
        let default = lookup(DEFAULT_MODEL_ID).unwrap();
        assert_eq!(default.lifecycle, Lifecycle::Active);
        for retired in [
            "anthropic.claude-3-5-sonnet-20240620-v1:0",
            "anthropic.claude-3-5-sonnet-20241022-v2:0",
            "anthropic.claude-v2:1",
        ] {
            assert!(lookup(retired).is_none(), "{retired}");
        }
    }

    #[test]
    fn limits_and_prices_are_sane() {
        for model in MODELS {
            assert!(
                model.max_output_tokens < model.context_window,
                "{}",
                model.name
            );
            assert!(
                model.price.output_per_mtok > model.price.input_per_mtok,
                "{}",
                model.name
            );
            assert!(
                model.price.cache_read_per_mtok < model.price.input_per_mtok,
                "{}",
                model.name
            );
            assert!(
                model.price.cache_write_per_mtok > model.price.input_per_mtok,
                "{}",
                model.name
            );
        }
        for model in MODELS {
            assert_eq!(model.price.check(), Ok(()), "{}", model.name);
        }
        let sonnet = lookup("anthropic.claude-sonnet-4-5-20250929-v1:0").unwrap();
        let cost = sonnet.cost_usd(&Usage::new(1_000_000, 100_000));
        assert!((cost - 4.5).abs() < 1e-9, "{cost}");
    }
}
