//! How the provider talks to the API: base URL, `anthropic-version`, the
//! auth header, and how structured output is served.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The default base URL (the path `/v1/messages` is appended).
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The `anthropic-version` header: which revision of the Messages API's
/// request validation and answer format the server applies.
///
/// The default is [`ApiVersion::V2023_06_01`]: every sampling parameter is
/// accepted and `x-api-key` is the documented auth header. Under
/// [`ApiVersion::V2026_10_21`] (what the 2026 SDK majors send) the API
/// answers 400 to `temperature`, `top_p` and `top_k` (even at their default
/// values) and to document blocks in assistant turns; the provider refuses
/// those locally with `InvalidRequest` naming the field, before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ApiVersion {
    /// `2023-06-01`, the long-standing version (default).
    #[default]
    #[serde(rename = "2023-06-01")]
    V2023_06_01,
    /// `2026-10-21`: no sampling parameters, no documents in assistant turns.
    #[serde(rename = "2026-10-21")]
    V2026_10_21,
}

impl ApiVersion {
    /// The header value.
    pub const fn as_str(self) -> &'static str {
        match self {
            ApiVersion::V2023_06_01 => "2023-06-01",
            ApiVersion::V2026_10_21 => "2026-10-21",
        }
    }

    /// The version for a header value.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "2023-06-01" => Some(ApiVersion::V2023_06_01),
            "2026-10-21" => Some(ApiVersion::V2026_10_21),
            _ => None,
        }
    }

    /// Whether `temperature` / `top_p` / `top_k` are accepted.
    pub const fn accepts_sampling_parameters(self) -> bool {
        matches!(self, ApiVersion::V2023_06_01)
    }

    /// Whether document blocks may appear in assistant turns.
    pub const fn accepts_assistant_documents(self) -> bool {
        matches!(self, ApiVersion::V2023_06_01)
    }

    /// The auth header the version's documentation and SDKs use.
    pub const fn default_auth(self) -> AuthScheme {
        match self {
            ApiVersion::V2023_06_01 => AuthScheme::XApiKey,
            ApiVersion::V2026_10_21 => AuthScheme::Bearer,
        }
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which header carries the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuthScheme {
    /// `x-api-key: KEY` (the 2023-06-01 documentation's header).
    XApiKey,
    /// `Authorization: Bearer KEY` (the 2026 SDKs' header; also what most
    /// gateways and proxies take).
    Bearer,
}

/// How [`StructuredOutput`](palisade_core::StructuredOutput) is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StructuredOutputMode {
    /// `output_config.format` (`json_schema`): constrained decoding, for the
    /// models that have it (Claude 4.5 and later).
    Native,
    /// One forced tool whose input schema is the schema: works with every
    /// tool-capable model, but not together with extended thinking (the API
    /// refuses forced tools then). The default, because it works everywhere.
    #[default]
    ForcedTool,
}

/// The settings of an [`AnthropicProvider`](crate::AnthropicProvider), as a
/// stack configuration file holds them. Every field has a default.
///
/// ```toml
/// base_url = "https://api.anthropic.com" # default; a gateway or a local fake
/// api_version = "2023-06-01"             # default; or "2026-10-21"
/// auth = "x_api_key"                     # default: the version's (x_api_key for 2023-06-01, bearer for 2026-10-21)
/// api_key_env = "ANTHROPIC_API_KEY"      # default
/// structured_output = "forced_tool"      # default; or "native"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnthropicConfig {
    /// Base URL; `/v1/messages` is appended. Default [`DEFAULT_BASE_URL`].
    pub base_url: String,
    /// The `anthropic-version` header. Default `2023-06-01`.
    pub api_version: ApiVersion,
    /// The auth header; `None` is the version's
    /// ([`ApiVersion::default_auth`]).
    pub auth: Option<AuthScheme>,
    /// The environment variable holding the key. Default `ANTHROPIC_API_KEY`.
    pub api_key_env: String,
    /// How structured output is served. Default forced tool.
    pub structured_output: StructuredOutputMode,
}

impl Default for AnthropicConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_version: ApiVersion::default(),
            auth: None,
            api_key_env: "ANTHROPIC_API_KEY".to_owned(),
            structured_output: StructuredOutputMode::default(),
        }
    }
}

/// A configuration that cannot produce a working provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnthropicConfigError {
    /// No API key was given and the variable is unset or empty.
    #[error("no API key: set {variable} or pass one to the builder")]
    NoApiKey {
        /// The variable that was read.
        variable: String,
    },
    /// The base URL is not an absolute http(s) URL.
    #[error("invalid base_url {url:?}: {message}")]
    InvalidBaseUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// A model id that cannot be one (empty, or containing whitespace).
    #[error("invalid model id {id:?}: must be non-empty without whitespace")]
    InvalidModelId {
        /// The id as given.
        id: String,
    },
    /// The key cannot be sent in a header (control characters).
    #[error("the API key contains characters that cannot be sent in a header")]
    InvalidApiKey,
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}
