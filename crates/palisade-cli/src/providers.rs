//! From a stack file's candidates to providers: each candidate's `provider`
//! key (docs/config.md) picks the client, `palisade-stack` builds the layers
//! around it.
//!
//! | `provider` | client | feature | key |
//! |---|---|---|---|
//! | `sim` (default for `sim/…` models) | `palisade-sim`, no network | always | none |
//! | `bedrock` (default otherwise) | `palisade-bedrock` (AWS SDK) | `bedrock` | AWS credentials; `region`, `endpoint_url` / `base_url` |
//! | `openai` | `palisade-openai` | `openai` | `api_key_env`; without it `OPENAI_API_KEY`, which may be unset only when `base_url` names a local server |
//! | `anthropic` | `palisade-anthropic` | `anthropic` | `api_key_env`, default `ANTHROPIC_API_KEY`, required |
//!
//! Keys are read from the environment here, when the stack is built, and
//! handed to the provider as its redacted `ApiKey`; an error names the
//! variable, never its value.

use std::fmt;
use std::sync::Arc;

use palisade_core::SharedProvider;
use palisade_limit::CostModel;
use palisade_stack::{CandidateConfig, ProviderKind, StackConfigError};

/// Why a candidate's provider could not be made.
#[derive(Debug)]
pub(crate) enum SetupError {
    /// The candidate's config is wrong (an unknown `provider`).
    Config(StackConfigError),
    /// This binary was built without the provider's feature.
    NotBuilt {
        /// The candidate.
        id: String,
        /// Its provider.
        kind: ProviderKind,
    },
    /// The variable that should hold the key is unset or empty.
    MissingKey {
        /// The candidate.
        id: String,
        /// Its provider.
        kind: ProviderKind,
        /// The variable read.
        variable: String,
        /// Whether the config named it (`api_key_env`) or it is the default.
        configured: bool,
    },
    /// The provider's builder refused a setting.
    Build {
        /// The candidate.
        id: String,
        /// Its provider.
        kind: ProviderKind,
        /// The builder's message (never a key).
        reason: String,
    },
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SetupError::Config(e) => e.fmt(f),
            SetupError::NotBuilt { id, kind } => write!(
                f,
                "candidate `{id}` has provider = \"{kind}\", and this binary was built without \
                 the `{kind}` feature (rebuild with `--features {kind}`)"
            ),
            SetupError::MissingKey {
                id,
                kind,
                variable,
                configured,
            } => {
                let whence = if *configured {
                    format!("named by `candidates.{id}.api_key_env`")
                } else {
                    format!(
                        "the default for provider = \"{kind}\"; name another with `api_key_env`"
                    )
                };
                write!(
                    f,
                    "candidate `{id}`: no API key: the environment variable `{variable}` ({whence}) \
                     is not set"
                )
            }
            SetupError::Build { id, kind, reason } => {
                write!(f, "candidate `{id}` (provider = \"{kind}\"): {reason}")
            }
        }
    }
}

impl std::error::Error for SetupError {}

impl From<StackConfigError> for SetupError {
    fn from(e: StackConfigError) -> Self {
        SetupError::Config(e)
    }
}

/// Checks, before anything is started, that this binary has a client for
/// the candidate's provider; returns the provider.
pub(crate) fn kind_of(candidate: &CandidateConfig) -> Result<ProviderKind, SetupError> {
    let kind = candidate.provider_kind()?;
    // One arm per feature; with features off it reads like `matches!`.
    #[allow(clippy::match_like_matches_macro)]
    let built = match kind {
        ProviderKind::Bedrock => cfg!(feature = "bedrock"),
        ProviderKind::OpenAi => cfg!(feature = "openai"),
        ProviderKind::Anthropic => cfg!(feature = "anthropic"),
        _ => true,
    };
    if built {
        Ok(kind)
    } else {
        Err(SetupError::NotBuilt {
            id: candidate.id.clone(),
            kind,
        })
    }
}

/// The provider of a Bedrock, OpenAI or Anthropic candidate.
pub(crate) async fn remote(candidate: &CandidateConfig) -> Result<SharedProvider, SetupError> {
    match kind_of(candidate)? {
        // Boxed: loading the AWS config is a large future.
        ProviderKind::Bedrock => Box::pin(bedrock(candidate)).await,
        ProviderKind::OpenAi => openai(candidate),
        ProviderKind::Anthropic => anthropic(candidate),
        kind => Err(SetupError::Build {
            id: candidate.id.clone(),
            kind,
            reason: "not a network provider".into(),
        }),
    }
}

/// How the candidate's limiter counts a call against its token quota: the
/// provider's own quota profile where its crate ships one (Bedrock: input +
/// `max_tokens` × the model's burndown, cache reads given back; OpenAI:
/// `max_tokens` stays charged), else the provider-neutral default (`None`).
pub(crate) fn cost_model(candidate: &CandidateConfig) -> Option<Arc<dyn CostModel>> {
    match candidate.provider_kind().ok()? {
        #[cfg(feature = "bedrock")]
        ProviderKind::Bedrock => Some(Arc::new(palisade_bedrock::BedrockQuotaProfile::for_model(
            candidate.model(),
        ))),
        #[cfg(feature = "openai")]
        ProviderKind::OpenAi => Some(Arc::new(palisade_openai::OpenAiQuotaProfile)),
        #[cfg(feature = "anthropic")]
        ProviderKind::Anthropic => Some(Arc::new(
            palisade_anthropic::AnthropicQuotaProfile::for_model(candidate.model()),
        )),
        _ => None,
    }
}

/// The key in the variable the candidate names, or in `default` when it
/// names none. `Ok(None)`: unset and allowed to be.
#[cfg_attr(not(any(feature = "openai", feature = "anthropic")), allow(dead_code))]
fn api_key(
    candidate: &CandidateConfig,
    kind: ProviderKind,
    default: &str,
    required: bool,
) -> Result<Option<String>, SetupError> {
    let (variable, configured) = match &candidate.api_key_env {
        Some(v) => (v.as_str(), true),
        None => (default, false),
    };
    match std::env::var(variable) {
        Ok(key) if !key.is_empty() => Ok(Some(key)),
        _ if required || configured => Err(SetupError::MissingKey {
            id: candidate.id.clone(),
            kind,
            variable: variable.to_owned(),
            configured,
        }),
        _ => Ok(None),
    }
}

#[cfg(feature = "bedrock")]
async fn bedrock(candidate: &CandidateConfig) -> Result<SharedProvider, SetupError> {
    let mut builder = palisade_bedrock::BedrockProvider::builder(candidate.model());
    if let Some(region) = &candidate.region {
        builder = builder.region(region.trim());
    }
    if let Some(url) = candidate.bedrock_endpoint() {
        builder = builder.endpoint_url(url.trim());
    }
    match builder.build().await {
        Ok(p) => Ok(std::sync::Arc::new(p)),
        Err(e) => Err(SetupError::Build {
            id: candidate.id.clone(),
            kind: ProviderKind::Bedrock,
            reason: e.to_string(),
        }),
    }
}

#[cfg(not(feature = "bedrock"))]
async fn bedrock(candidate: &CandidateConfig) -> Result<SharedProvider, SetupError> {
    Err(SetupError::NotBuilt {
        id: candidate.id.clone(),
        kind: ProviderKind::Bedrock,
    })
}

#[cfg(feature = "openai")]
fn openai(candidate: &CandidateConfig) -> Result<SharedProvider, SetupError> {
    use palisade_openai::{DEFAULT_API_KEY_ENV, OpenAiProvider};

    let kind = ProviderKind::OpenAi;
    // OpenAI itself needs a key; a local server (vLLM, Ollama) may not.
    let required = candidate.base_url.is_none();
    let key = api_key(candidate, kind, DEFAULT_API_KEY_ENV, required)?;
    let mut builder = OpenAiProvider::builder(candidate.model());
    if let Some(url) = &candidate.base_url {
        builder = builder.base_url(url.trim());
    }
    if let Some(key) = key {
        builder = builder.api_key(key);
    }
    if let Some(tokens) = candidate.context_window {
        builder = builder.context_window(tokens);
    }
    match builder.build() {
        Ok(p) => Ok(std::sync::Arc::new(p)),
        Err(e) => Err(SetupError::Build {
            id: candidate.id.clone(),
            kind,
            reason: e.to_string(),
        }),
    }
}

#[cfg(not(feature = "openai"))]
fn openai(candidate: &CandidateConfig) -> Result<SharedProvider, SetupError> {
    Err(SetupError::NotBuilt {
        id: candidate.id.clone(),
        kind: ProviderKind::OpenAi,
    })
}

#[cfg(feature = "anthropic")]
fn anthropic(candidate: &CandidateConfig) -> Result<SharedProvider, SetupError> {
    use palisade_anthropic::{AnthropicConfig, AnthropicProvider, ApiKey};

    let kind = ProviderKind::Anthropic;
    let default_var = AnthropicConfig::default().api_key_env;
    let key = api_key(candidate, kind, &default_var, true)?.unwrap_or_default();
    let mut builder = AnthropicProvider::builder(candidate.model()).api_key(ApiKey::new(key));
    if let Some(url) = &candidate.base_url {
        builder = builder.base_url(url.trim());
    }
    if candidate.context_window.is_some() {
        builder = builder.context_window(candidate.context_window);
    }
    match builder.build() {
        Ok(p) => Ok(std::sync::Arc::new(p)),
        Err(e) => Err(SetupError::Build {
            id: candidate.id.clone(),
            kind,
            reason: e.to_string(),
        }),
    }
}

#[cfg(not(feature = "anthropic"))]
fn anthropic(candidate: &CandidateConfig) -> Result<SharedProvider, SetupError> {
    Err(SetupError::NotBuilt {
        id: candidate.id.clone(),
        kind: ProviderKind::Anthropic,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(toml: &str) -> CandidateConfig {
        let config =
            palisade_stack::StackConfig::from_toml(&format!("[[candidates]]\n{toml}\n")).unwrap();
        config.candidates.into_iter().next().unwrap()
    }

    #[test]
    fn a_missing_configured_key_names_the_variable_and_the_candidate() {
        let c = candidate(
            "id = \"c\"\nprovider = \"openai\"\nbase_url = \"http://127.0.0.1:1\"\n\
             api_key_env = \"PALISADE_TEST_SURELY_UNSET_KEY\"",
        );
        let err = api_key(&c, ProviderKind::OpenAi, "UNUSED", false).unwrap_err();
        let message = err.to_string();
        assert!(
            message.contains("`PALISADE_TEST_SURELY_UNSET_KEY`"),
            "{message}"
        );
        assert!(message.contains("candidates.c.api_key_env"), "{message}");
    }

    #[test]
    fn an_unset_default_key_is_allowed_only_when_not_required() {
        let c = candidate("id = \"c\"\nprovider = \"openai\"");
        let var = "PALISADE_TEST_SURELY_UNSET_DEFAULT";
        assert!(matches!(
            api_key(&c, ProviderKind::OpenAi, var, false),
            Ok(None)
        ));
        let err = api_key(&c, ProviderKind::OpenAi, var, true).unwrap_err();
        assert!(
            matches!(
                &err,
                SetupError::MissingKey {
                    configured: false,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_provider_is_the_stack_configs_error() {
        let mut c = CandidateConfig::new("x");
        c.provider = Some("gemini".into());
        let err = kind_of(&c).unwrap_err();
        assert!(matches!(
            err,
            SetupError::Config(StackConfigError::UnknownProvider { .. })
        ));
    }
}
