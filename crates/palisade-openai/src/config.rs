//! Where the provider sends requests and how it authenticates: OpenAI,
//! Azure OpenAI, or any OpenAI-compatible server.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// OpenAI's own endpoint.
pub const OPENAI_BASE_URL: &str = "https://api.openai.com/v1";

/// The environment variable the key is read from by default.
pub const DEFAULT_API_KEY_ENV: &str = "OPENAI_API_KEY";

/// The Azure OpenAI data-plane API version sent when none is configured
/// (the current GA version of the Chat Completions API on Azure).
pub const DEFAULT_AZURE_API_VERSION: &str = "2024-10-21";

/// The client settings, as a stack TOML file or the environment gives them.
/// The key itself is never part of it: [`api_key_env`](Self::api_key_env)
/// names the variable that holds it.
///
/// | field | default | meaning |
/// |---|---|---|
/// | `base_url` | `https://api.openai.com/v1` | prefix of `/chat/completions` (vLLM: `http://host:8000/v1`, Ollama: `http://localhost:11434/v1`, OpenRouter: `https://openrouter.ai/api/v1`, a LiteLLM proxy: its URL); in Azure mode the resource URL `https://NAME.openai.azure.com` |
/// | `api_key_env` | `OPENAI_API_KEY` | the variable holding the key; a missing variable means no auth header (local servers) |
/// | `extra_headers` | none | sent with every request (OpenRouter's `HTTP-Referer`, `OpenAI-Organization`, a proxy's tenant header) |
/// | `azure` | off | Azure OpenAI mode: deployment URL, `api-version` query, `api-key` header |
/// | `max_tokens_field` | `max_completion_tokens` | which body field carries `max_tokens` (`max_tokens` for servers that only know the old name) |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpenAiConfig {
    /// The URL `/chat/completions` is appended to (no trailing slash needed).
    pub base_url: String,
    /// The environment variable holding the API key.
    pub api_key_env: String,
    /// Headers sent with every request.
    pub extra_headers: BTreeMap<String, String>,
    /// Azure OpenAI mode, when set.
    pub azure: Option<AzureConfig>,
    /// The body field that carries `max_tokens`.
    pub max_tokens_field: MaxTokensField,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        Self {
            base_url: OPENAI_BASE_URL.to_owned(),
            api_key_env: DEFAULT_API_KEY_ENV.to_owned(),
            extra_headers: BTreeMap::new(),
            azure: None,
            max_tokens_field: MaxTokensField::default(),
        }
    }
}

/// Azure OpenAI: `POST {base_url}/openai/deployments/{deployment}/chat/completions?api-version=…`
/// with the key in an `api-key` header (not `Authorization: Bearer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AzureConfig {
    /// The deployment name (Azure routes by it; the body's `model` is the
    /// provider's model id, which Azure ignores).
    pub deployment: String,
    /// The `api-version` query parameter.
    #[serde(default = "default_api_version")]
    pub api_version: String,
}

fn default_api_version() -> String {
    DEFAULT_AZURE_API_VERSION.to_owned()
}

impl AzureConfig {
    /// A deployment with the [`DEFAULT_AZURE_API_VERSION`].
    pub fn new(deployment: impl Into<String>) -> Self {
        Self {
            deployment: deployment.into(),
            api_version: default_api_version(),
        }
    }

    /// Sets the `api-version`.
    #[must_use]
    pub fn with_api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }
}

/// Which body field carries the request's `max_tokens`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// `max_completion_tokens`: OpenAI's current name, required by reasoning
    /// models (the default).
    #[default]
    MaxCompletionTokens,
    /// `max_tokens`: the deprecated name some compatible servers still want.
    MaxTokens,
}

impl MaxTokensField {
    /// The field name.
    pub const fn as_str(self) -> &'static str {
        match self {
            MaxTokensField::MaxCompletionTokens => "max_completion_tokens",
            MaxTokensField::MaxTokens => "max_tokens",
        }
    }
}

impl OpenAiConfig {
    /// The Chat Completions URL, with `api-version` in Azure mode.
    pub fn chat_completions_url(&self) -> String {
        let base = self.base_url.trim_end_matches('/');
        match &self.azure {
            None => format!("{base}/chat/completions"),
            Some(azure) => format!(
                "{base}/openai/deployments/{}/chat/completions?api-version={}",
                azure.deployment, azure.api_version
            ),
        }
    }
}
