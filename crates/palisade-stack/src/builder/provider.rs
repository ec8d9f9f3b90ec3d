//! Which client serves a candidate (`provider = "…"` in its table) and the
//! settings that only make sense for some clients (`base_url`,
//! `api_key_env`, `region`, `endpoint_url`).
//!
//! The stack itself never reads them: it calls whatever provider the
//! application binds to the candidate's id. They are for applications that
//! make providers from the config, as `palisade chat` does; checking them
//! here means a stack file with a typo'd provider or a key in the wrong
//! place fails at build time, naming the candidate, whichever application
//! reads it. palisade-stack depends on no provider crate: this is only the
//! names.

use std::fmt;

use super::StackConfigError;
use super::config::CandidateConfig;

/// The model ids a candidate with no `provider` is simulated for.
const SIMULATED_PREFIX: &str = "sim/";

/// The client a candidate names with `provider`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProviderKind {
    /// `"bedrock"`: AWS Bedrock Converse (`palisade-bedrock`), AWS
    /// credentials from the default chain.
    Bedrock,
    /// `"openai"`: Chat Completions (`palisade-openai`): OpenAI or any
    /// compatible server at `base_url`.
    OpenAi,
    /// `"anthropic"`: the Messages API (`palisade-anthropic`).
    Anthropic,
    /// `"sim"`: a simulated model (`palisade-sim`), no network.
    Simulated,
}

impl ProviderKind {
    /// Every kind, in the order the docs list them.
    pub const ALL: [ProviderKind; 4] = [
        ProviderKind::Bedrock,
        ProviderKind::OpenAi,
        ProviderKind::Anthropic,
        ProviderKind::Simulated,
    ];

    /// The name written in a config file.
    pub const fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Bedrock => "bedrock",
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Simulated => "sim",
        }
    }

    /// The kind a config name stands for (exact, lower case).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CandidateConfig {
    /// The candidate's provider: the one `provider` names; without it, a
    /// simulated model when the model id starts with `sim/`, else Bedrock
    /// (what `palisade chat` did before `provider` existed).
    ///
    /// ```
    /// # use palisade_stack::{CandidateConfig, ProviderKind, StackConfig, StackConfigError};
    /// let config = StackConfig::from_toml(
    ///     "[[candidates]]\nid = \"gpt\"\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\n\
    ///      [[candidates]]\nid = \"sim/a\"\n\
    ///      [[candidates]]\nid = \"sonnet\"\nmodel = \"us.anthropic.claude-sonnet-4-6\"\n",
    /// )?;
    /// let kinds = config
    ///     .candidates
    ///     .iter()
    ///     .map(CandidateConfig::provider_kind)
    ///     .collect::<Result<Vec<_>, _>>()?;
    /// assert_eq!(kinds, [ProviderKind::OpenAi, ProviderKind::Simulated, ProviderKind::Bedrock]);
    ///
    /// let mut typo = CandidateConfig::new("x");
    /// typo.provider = Some("open-ai".into());
    /// let err = typo.provider_kind().unwrap_err();
    /// assert!(err.to_string().contains("candidates.x.provider"), "{err}");
    /// # Ok::<(), StackConfigError>(())
    /// ```
    ///
    /// # Errors
    /// [`StackConfigError::UnknownProvider`] naming the candidate.
    pub fn provider_kind(&self) -> Result<ProviderKind, StackConfigError> {
        match &self.provider {
            Some(name) => {
                ProviderKind::from_name(name).ok_or_else(|| StackConfigError::UnknownProvider {
                    id: self.id.clone(),
                    name: name.clone(),
                })
            }
            None if self.model().starts_with(SIMULATED_PREFIX) => Ok(ProviderKind::Simulated),
            None => Ok(ProviderKind::Bedrock),
        }
    }

    /// Refuses provider settings the candidate's provider does not read, so
    /// a `region` on an OpenAI candidate or a key variable on a Bedrock one
    /// fails loudly instead of being ignored.
    pub(super) fn check_provider_settings(&self) -> Result<(), StackConfigError> {
        let kind = self.provider_kind()?;
        let invalid = |key: &str, problem| {
            Err(StackConfigError::Invalid {
                field: format!("candidates.{}.{key}", self.id),
                problem,
            })
        };
        let bedrock_only = "applies to Bedrock candidates only (`provider = \"bedrock\"`)";
        if self.region.is_some() && kind != ProviderKind::Bedrock {
            return invalid("region", bedrock_only);
        }
        if self.endpoint_url.is_some() && kind != ProviderKind::Bedrock {
            return invalid(
                "endpoint_url",
                "applies to Bedrock candidates only (OpenAI and Anthropic candidates take `base_url`)",
            );
        }
        match kind {
            ProviderKind::Bedrock if self.api_key_env.is_some() => {
                return invalid(
                    "api_key_env",
                    "does not apply to Bedrock candidates (they use AWS credentials)",
                );
            }
            ProviderKind::Bedrock if self.base_url.is_some() && self.endpoint_url.is_some() => {
                return invalid(
                    "endpoint_url",
                    "and `base_url` are the same setting for a Bedrock candidate: keep one",
                );
            }
            ProviderKind::Simulated if self.base_url.is_some() => {
                return invalid("base_url", "does not apply to simulated candidates");
            }
            ProviderKind::Simulated if self.api_key_env.is_some() => {
                return invalid("api_key_env", "does not apply to simulated candidates");
            }
            _ => {}
        }
        let blank = |v: &Option<String>| v.as_deref().is_some_and(|s| s.trim().is_empty());
        for (key, value) in [
            ("base_url", &self.base_url),
            ("endpoint_url", &self.endpoint_url),
            ("region", &self.region),
        ] {
            if blank(value) {
                return invalid(key, "must not be empty");
            }
        }
        if let Some(var) = &self.api_key_env
            && (var.is_empty() || var.contains(['=', '\0']) || var.chars().any(char::is_whitespace))
        {
            return invalid(
                "api_key_env",
                "must be the name of an environment variable (no `=`, spaces or NUL)",
            );
        }
        Ok(())
    }

    /// The Bedrock endpoint override: `endpoint_url`, else `base_url`.
    pub fn bedrock_endpoint(&self) -> Option<&str> {
        self.endpoint_url.as_deref().or(self.base_url.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StackConfig;

    fn check(toml: &str) -> Result<(), StackConfigError> {
        StackConfig::from_toml(toml)?.validate()
    }

    fn field_of(err: StackConfigError) -> String {
        match err {
            StackConfigError::Invalid { field, .. } => field,
            other => panic!("expected Invalid, got {other}"),
        }
    }

    /// The mixed-provider example of docs/config.md parses and validates.
    #[test]
    fn the_documented_mixed_stack_is_valid() {
        let doc = include_str!("../../../../docs/config.md");
        let start = doc
            .find("```toml\nname = \"mixed\"")
            .expect("docs/config.md has the mixed-provider example")
            + "```toml\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let config = StackConfig::from_toml(&doc[start..end]).unwrap();
        config.validate().unwrap();
        let kinds: Vec<ProviderKind> = config
            .candidates
            .iter()
            .map(|c| c.provider_kind().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                ProviderKind::Anthropic,
                ProviderKind::Bedrock,
                ProviderKind::OpenAi
            ]
        );
    }

    #[test]
    fn every_name_round_trips() {
        for kind in ProviderKind::ALL {
            assert_eq!(ProviderKind::from_name(kind.as_str()), Some(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert_eq!(ProviderKind::from_name("OpenAI"), None);
    }

    #[test]
    fn the_provider_keys_parse_and_validate() {
        let config = StackConfig::from_toml(
            r#"
            [[candidates]]
            id = "claude"
            provider = "anthropic"
            model = "claude-haiku-4-5"
            base_url = "http://127.0.0.1:9001"
            api_key_env = "MY_ANTHROPIC_KEY"

            [[candidates]]
            id = "bedrock"
            provider = "bedrock"
            model = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
            region = "eu-west-1"
            endpoint_url = "http://127.0.0.1:9002"

            [[candidates]]
            id = "local"
            provider = "openai"
            model = "llama3.1"
            base_url = "http://localhost:11434/v1"
            "#,
        )
        .unwrap();
        config.validate().unwrap();
        let [claude, bedrock, local] = &config.candidates[..] else {
            panic!("three candidates");
        };
        assert_eq!(claude.provider_kind().unwrap(), ProviderKind::Anthropic);
        assert_eq!(claude.api_key_env.as_deref(), Some("MY_ANTHROPIC_KEY"));
        assert_eq!(bedrock.region.as_deref(), Some("eu-west-1"));
        assert_eq!(bedrock.bedrock_endpoint(), Some("http://127.0.0.1:9002"));
        assert_eq!(local.provider_kind().unwrap(), ProviderKind::OpenAi);
        let again = StackConfig::from_toml(&config.to_toml().unwrap()).unwrap();
        assert_eq!(again, config);
    }

    #[test]
    fn an_unknown_provider_names_the_candidate_and_the_choices() {
        let err = check("[[candidates]]\nid = \"g\"\nprovider = \"gemini\"\n").unwrap_err();
        assert!(
            matches!(&err, StackConfigError::UnknownProvider { id, name } if id == "g" && name == "gemini"),
            "{err}"
        );
        let message = err.to_string();
        assert!(message.contains("candidates.g.provider"), "{message}");
        assert!(message.contains("\"anthropic\""), "{message}");
    }

    #[test]
    fn settings_for_another_provider_are_refused_by_key() {
        let cases = [
            (
                "provider = \"openai\"\nregion = \"us-east-1\"",
                "candidates.c.region",
            ),
            (
                "provider = \"anthropic\"\nendpoint_url = \"http://x\"",
                "candidates.c.endpoint_url",
            ),
            (
                "provider = \"bedrock\"\napi_key_env = \"KEY\"",
                "candidates.c.api_key_env",
            ),
            (
                "base_url = \"http://a\"\nendpoint_url = \"http://b\"",
                "candidates.c.endpoint_url",
            ),
            (
                "model = \"sim/x\"\nbase_url = \"http://a\"",
                "candidates.c.base_url",
            ),
            (
                "provider = \"sim\"\napi_key_env = \"K\"",
                "candidates.c.api_key_env",
            ),
            (
                "provider = \"openai\"\nbase_url = \" \"",
                "candidates.c.base_url",
            ),
            ("region = \"\"", "candidates.c.region"),
            (
                "provider = \"openai\"\napi_key_env = \"MY KEY\"",
                "candidates.c.api_key_env",
            ),
        ];
        for (keys, field) in cases {
            let toml = format!("[[candidates]]\nid = \"c\"\n{keys}\n");
            let err = check(&toml).expect_err(&toml);
            assert_eq!(field_of(err), field, "{toml}");
        }
    }

    #[test]
    fn without_provider_sim_models_are_simulated_and_the_rest_bedrock() {
        assert_eq!(
            CandidateConfig::new("sim/a").provider_kind().unwrap(),
            ProviderKind::Simulated
        );
        let mut c = CandidateConfig::new("a");
        c.model = Some("sim/b".into());
        assert_eq!(c.provider_kind().unwrap(), ProviderKind::Simulated);
        assert_eq!(
            CandidateConfig::new("anthropic.claude-3-haiku")
                .provider_kind()
                .unwrap(),
            ProviderKind::Bedrock
        );
        // A `sim/…` id served by a fake Bedrock is still Bedrock when named.
        let c = CandidateConfig::new("sim/primary").with_provider(ProviderKind::Bedrock);
        assert_eq!(c.provider_kind().unwrap(), ProviderKind::Bedrock);
    }
}
