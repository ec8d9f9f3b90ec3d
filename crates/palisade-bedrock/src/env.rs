//! The seed system's environment variables: which models to call, in which
//! order, in which region.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `BEDROCK_MODEL_ID` | the primary model or inference-profile id | [`DEFAULT_MODEL_ID`] |
//! | `BEDROCK_FALLBACK_MODELS` | comma-separated fallback ids, in order; `none` for no fallback | for a catalog model, [`default_fallbacks`] (current Sonnet and Haiku models under the primary's profile prefix); else none |
//! | `BEDROCK_REGION` | AWS region for Bedrock | `AWS_REGION` |
//! | `AWS_REGION` | AWS region | the AWS profile's region |
//! | `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` | endpoint override (read by the SDK) | the regional endpoint |
//!
//! Credentials come from the default AWS chain (`AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`, `AWS_PROFILE`, SSO, roles).

use crate::catalog::{DEFAULT_MODEL_ID, default_fallbacks};
use crate::config::{self, BedrockConfig, BedrockConfigError};
use crate::provider::BedrockProvider;

/// The model list and region read from the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BedrockEnv {
    /// The primary model (`BEDROCK_MODEL_ID`).
    pub model_id: String,
    /// Fallback models in order (`BEDROCK_FALLBACK_MODELS`), without the
    /// primary and without repeats.
    pub fallback_model_ids: Vec<String>,
    /// `BEDROCK_REGION`, else `AWS_REGION`.
    pub region: Option<String>,
}

impl BedrockEnv {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, BedrockConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (for tests and for other sources
    /// than the process environment). Empty values count as unset.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, BedrockConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let model_id = get("BEDROCK_MODEL_ID").unwrap_or_else(|| DEFAULT_MODEL_ID.to_owned());
        config::check_model_id(&model_id).map_err(|e| BedrockConfigError::InvalidVariable {
            variable: "BEDROCK_MODEL_ID",
            message: e.to_string(),
        })?;
        let mut fallback_model_ids: Vec<String> = Vec::new();
        match get("BEDROCK_FALLBACK_MODELS") {
            None => fallback_model_ids = default_fallbacks(&model_id),
            Some(none) if none.eq_ignore_ascii_case("none") => {}
            Some(list) => {
                for (i, id) in list.split(',').map(str::trim).enumerate() {
                    if id.is_empty() {
                        continue;
                    }
                    config::check_model_id(id).map_err(|e| {
                        BedrockConfigError::InvalidVariable {
                            variable: "BEDROCK_FALLBACK_MODELS",
                            message: format!("entry {i}: {e}"),
                        }
                    })?;
                    if id != model_id && !fallback_model_ids.iter().any(|f| f == id) {
                        fallback_model_ids.push(id.to_owned());
                    }
                }
            }
        }
        Ok(Self {
            model_id,
            fallback_model_ids,
            region: get("BEDROCK_REGION").or_else(|| get("AWS_REGION")),
        })
    }

    /// Like [`from_env`](Self::from_env), but `None` when `BEDROCK_MODEL_ID`
    /// is unset or blank (where `from_env` falls back to
    /// [`DEFAULT_MODEL_ID`]): for an application that uses Bedrock only when
    /// the environment names a model.
    pub fn from_env_if_named() -> Result<Option<Self>, BedrockConfigError> {
        Self::from_lookup_if_named(|name| std::env::var(name).ok())
    }

    /// [`from_env_if_named`](Self::from_env_if_named) through `lookup`.
    pub fn from_lookup_if_named(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, BedrockConfigError> {
        if lookup("BEDROCK_MODEL_ID").is_none_or(|v| v.trim().is_empty()) {
            return Ok(None);
        }
        Self::from_lookup(lookup).map(Some)
    }

    /// The primary model, then the fallbacks.
    pub fn model_ids(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.model_id.as_str())
            .chain(self.fallback_model_ids.iter().map(String::as_str))
    }

    /// The client settings these variables imply.
    pub fn config(&self) -> BedrockConfig {
        BedrockConfig {
            region: self.region.clone(),
            ..BedrockConfig::default()
        }
    }

    /// One provider per model, primary first, sharing one client built from
    /// the default credential chain.
    pub async fn providers(&self) -> Result<Vec<BedrockProvider>, BedrockConfigError> {
        let client = self.config().client().await?;
        let primary = BedrockProvider::from_client_as_is(client, &*self.model_id);
        let mut providers = vec![primary.clone()];
        providers.extend(
            self.fallback_model_ids
                .iter()
                .map(|id| primary.with_model(id)),
        );
        Ok(providers)
    }
}

impl BedrockProvider {
    /// The provider for `BEDROCK_MODEL_ID` in `BEDROCK_REGION` / `AWS_REGION`
    /// with the default credential chain; see [`BedrockEnv`] for fallbacks.
    pub async fn from_env() -> Result<Self, BedrockConfigError> {
        let env = BedrockEnv::from_env()?;
        Self::builder(env.model_id.clone())
            .config(env.config())
            .build()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> Result<BedrockEnv, BedrockConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        BedrockEnv::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn reads_the_seed_variables() {
        let e = env(&[
            ("BEDROCK_MODEL_ID", "us.anthropic.claude-sonnet-4-6"),
            (
                "BEDROCK_FALLBACK_MODELS",
                " us.anthropic.claude-sonnet-4-5-20250929-v1:0, ,us.anthropic.claude-haiku-4-5-20251001-v1:0,us.anthropic.claude-sonnet-4-6,us.anthropic.claude-haiku-4-5-20251001-v1:0",
            ),
            ("AWS_REGION", "us-west-2"),
        ])
        .unwrap();
        assert_eq!(
            e.model_ids().collect::<Vec<_>>(),
            [
                "us.anthropic.claude-sonnet-4-6",
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "us.anthropic.claude-haiku-4-5-20251001-v1:0",
            ]
        );
        assert_eq!(e.region.as_deref(), Some("us-west-2"));
    }

    #[test]
    fn bedrock_region_wins_and_defaults_apply() {
        let e = env(&[
            ("BEDROCK_REGION", "eu-central-1"),
            ("AWS_REGION", "us-east-1"),
        ])
        .unwrap();
        assert_eq!(e.region.as_deref(), Some("eu-central-1"));
        assert_eq!(e.model_id, DEFAULT_MODEL_ID);
        // A catalog primary with no fallbacks named gets the default chain;
        // `none` opts out.
        assert_eq!(
            e.fallback_model_ids,
            [
                "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                "us.anthropic.claude-haiku-4-5-20251001-v1:0"
            ]
        );
        let alone = env(&[("BEDROCK_FALLBACK_MODELS", "None")]).unwrap();
        assert!(alone.fallback_model_ids.is_empty());
        let vars = |name: &str| (name == "BEDROCK_MODEL_ID").then(|| "  ".to_owned());
        assert_eq!(BedrockEnv::from_lookup_if_named(vars).unwrap(), None);
        let named = BedrockEnv::from_lookup_if_named(|name| match name {
            "BEDROCK_MODEL_ID" => Some("sim/primary".to_owned()),
            "BEDROCK_FALLBACK_MODELS" => Some("sim/secondary".to_owned()),
            _ => None,
        })
        .unwrap()
        .unwrap();
        assert_eq!(
            named.model_ids().collect::<Vec<_>>(),
            ["sim/primary", "sim/secondary"]
        );
        let e = env(&[("BEDROCK_MODEL_ID", "  ")]).unwrap();
        assert_eq!(e.model_id, DEFAULT_MODEL_ID);
    }

    #[test]
    fn bad_ids_name_the_variable() {
        let err = env(&[("BEDROCK_FALLBACK_MODELS", "a.b,bad id")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("BEDROCK_FALLBACK_MODELS: entry 1"),
            "{err}"
        );
    }
}
