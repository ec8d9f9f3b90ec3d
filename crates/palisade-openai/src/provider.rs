//! The `Provider` impl (thin: the work is in `request`, `response`, `stream`
//! and `error`) and its builder.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use palisade_core::http::{RateLimitSnapshot, request_id};
use palisade_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, ErrorKind, ProviderError, ProviderId,
    ServiceTier, StructuredOutputSupport, TierSet, ValidationRules, validate_for_with,
};
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};

use crate::config::{AzureConfig, MaxTokensField, OpenAiConfig};
use crate::secret::ApiKey;
use crate::{catalog, error, request, response, stream};

/// OpenAI's ranges where they are wider than the common set: `temperature`
/// 0.0 ..= 2.0 (Chat Completions' documented range).
const OPENAI_RULES: ValidationRules = ValidationRules {
    max_temperature: 2.0,
};

/// Why a provider could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// An extra header's name or value is not valid in HTTP.
    InvalidHeader(String),
    /// The base URL does not parse or is not http(s).
    InvalidBaseUrl(String),
    /// The Azure deployment name has characters a URL path segment cannot
    /// hold as is.
    InvalidDeployment(String),
    /// The environment variable named for the key is not set (or not UTF-8).
    MissingApiKey(String),
    /// The HTTP client could not be built (TLS roots).
    Client(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::InvalidHeader(h) => write!(f, "extra_headers: `{h}` is not a valid header"),
            BuildError::InvalidBaseUrl(u) => write!(f, "base_url: `{u}` is not an http(s) URL"),
            BuildError::InvalidDeployment(d) => write!(
                f,
                "azure.deployment: `{d}` may hold only letters, digits, `-`, `_` and `.`"
            ),
            BuildError::MissingApiKey(var) => {
                write!(f, "api key: the environment variable `{var}` is not set")
            }
            BuildError::Client(e) => write!(f, "the HTTP client could not be built: {e}"),
        }
    }
}

impl std::error::Error for BuildError {}

/// Builds an [`OpenAiProvider`]: `OpenAiProvider::builder("gpt-4o-mini")`.
#[derive(Debug)]
pub struct OpenAiProviderBuilder {
    model: String,
    id: Option<ProviderId>,
    config: OpenAiConfig,
    api_key: Option<ApiKey>,
    client: Option<reqwest::Client>,
    capabilities: Option<Capabilities>,
    context_window: Option<u32>,
}

impl OpenAiProviderBuilder {
    /// Replaces the whole config (base URL, headers, Azure mode, …).
    #[must_use]
    pub fn config(mut self, config: OpenAiConfig) -> Self {
        self.config = config;
        self
    }

    /// The URL `/chat/completions` is appended to.
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = url.into();
        self
    }

    /// The API key (sent as `Authorization: Bearer`, or `api-key` in Azure mode).
    #[must_use]
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Reads the key from the config's `api_key_env` variable
    /// (`OPENAI_API_KEY` by default).
    ///
    /// # Errors
    /// [`BuildError::MissingApiKey`] when the variable is not set.
    pub fn api_key_from_env(mut self) -> Result<Self, BuildError> {
        let var = &self.config.api_key_env;
        match std::env::var(var) {
            Ok(key) if !key.is_empty() => {
                self.api_key = Some(ApiKey::from(key));
                Ok(self)
            }
            _ => Err(BuildError::MissingApiKey(var.clone())),
        }
    }

    /// A header sent with every request.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.extra_headers.insert(name.into(), value.into());
        self
    }

    /// Azure OpenAI mode.
    #[must_use]
    pub fn azure(mut self, azure: AzureConfig) -> Self {
        self.config.azure = Some(azure);
        self
    }

    /// Which body field carries `max_tokens`.
    #[must_use]
    pub fn max_tokens_field(mut self, field: MaxTokensField) -> Self {
        self.config.max_tokens_field = field;
        self
    }

    /// Uses this client (its pool, proxy and timeouts). Its retry policy is
    /// the caller's: a client built here has reqwest's retries off.
    #[must_use]
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// The provider id (default `openai/MODEL`, `azure-openai/DEPLOYMENT`).
    #[must_use]
    pub fn id(mut self, id: impl Into<ProviderId>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// What the server accepts, for compatible servers that take less than
    /// OpenAI (no tiers, no images, …); default [`OpenAiProvider::openai_capabilities`].
    #[must_use]
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.capabilities = Some(capabilities);
        self
    }

    /// The model's context window (default: the [`catalog`]'s, if it knows the model).
    #[must_use]
    pub fn context_window(mut self, tokens: u32) -> Self {
        self.context_window = Some(tokens);
        self
    }

    /// Builds the provider.
    ///
    /// # Errors
    /// A [`BuildError`] naming the bad setting.
    pub fn build(self) -> Result<OpenAiProvider, BuildError> {
        let base = self.config.base_url.trim();
        let parsed =
            reqwest::Url::parse(base).map_err(|_| BuildError::InvalidBaseUrl(base.to_owned()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(BuildError::InvalidBaseUrl(base.to_owned()));
        }
        if let Some(azure) = &self.config.azure {
            let ok = !azure.deployment.is_empty()
                && azure
                    .deployment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
            if !ok {
                return Err(BuildError::InvalidDeployment(azure.deployment.clone()));
            }
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &self.config.extra_headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| BuildError::InvalidHeader(name.clone()))?;
            let v = HeaderValue::from_str(value)
                .map_err(|_| BuildError::InvalidHeader(name.clone()))?;
            headers.insert(n, v);
        }
        if let Some(key) = &self.api_key {
            let (name, value) = match self.config.azure {
                Some(_) => (HeaderName::from_static("api-key"), key.expose().to_owned()),
                None => (AUTHORIZATION, format!("Bearer {}", key.expose())),
            };
            // Not named: a header value would echo the key.
            let mut value = HeaderValue::from_str(&value)
                .map_err(|_| BuildError::InvalidHeader(name.as_str().to_owned()))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = match self.client {
            Some(c) => c,
            None => reqwest::Client::builder()
                // The stack is the one retry loop.
                .retry(reqwest::retry::never())
                .build()
                .map_err(|e| BuildError::Client(e.to_string()))?,
        };
        let id = self.id.unwrap_or_else(|| match &self.config.azure {
            Some(azure) => ProviderId::new(format!("azure-openai/{}", azure.deployment)),
            None => ProviderId::new(format!("openai/{}", self.model)),
        });
        let context_window = self
            .context_window
            .or_else(|| catalog::context_window(&self.model));
        Ok(OpenAiProvider {
            inner: Arc::new(Inner {
                id,
                url: self.config.chat_completions_url(),
                model: self.model,
                config: self.config,
                api_key: self.api_key,
                headers,
                client,
                capabilities: self
                    .capabilities
                    .unwrap_or_else(OpenAiProvider::openai_capabilities),
                context_window,
            }),
        })
    }
}

struct Inner {
    id: ProviderId,
    model: String,
    url: String,
    config: OpenAiConfig,
    api_key: Option<ApiKey>,
    headers: HeaderMap,
    client: reqwest::Client,
    capabilities: Capabilities,
    context_window: Option<u32>,
}

/// A [`Provider`](palisade_core::Provider) for one model over Chat
/// Completions. Cheap to clone (shared client and settings).
#[derive(Clone)]
pub struct OpenAiProvider {
    inner: Arc<Inner>,
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Headers are left out: they hold the key.
        f.debug_struct("OpenAiProvider")
            .field("id", &self.inner.id)
            .field("model", &self.inner.model)
            .field("url", &self.inner.url)
            .field("api_key", &self.inner.api_key)
            .field("extra_headers", &self.inner.config.extra_headers.keys())
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// A builder for `model` (the body's `model`: `gpt-4o-mini`, a vLLM
    /// model path, an Ollama tag, an OpenRouter `vendor/model`).
    pub fn builder(model: impl Into<String>) -> OpenAiProviderBuilder {
        OpenAiProviderBuilder {
            model: model.into(),
            id: None,
            config: OpenAiConfig::default(),
            api_key: None,
            client: None,
            capabilities: None,
            context_window: None,
        }
    }

    /// What OpenAI's Chat Completions accepts: tools, images (inline and by
    /// URL, at most 500), PDF documents, caching (automatic: cache points
    /// are accepted and not sent), native structured output, the `flex`,
    /// `default` and `priority` tiers and passthrough fields; no thinking.
    pub const fn openai_capabilities() -> Capabilities {
        let mut c = Capabilities::all();
        c.thinking = false;
        c.structured_output = StructuredOutputSupport::Native;
        c.service_tiers = TierSet::EMPTY
            .with(ServiceTier::Flex)
            .with(ServiceTier::Default)
            .with(ServiceTier::Priority);
        c.max_images = Some(500);
        c
    }

    /// The model id sent in the body.
    pub fn model(&self) -> &str {
        &self.inner.model
    }

    /// The Chat Completions URL requests go to.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// Checks and translates the request: the body that would be sent.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidRequest`] naming the field, before anything is sent.
    pub fn request_body(
        &self,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<serde_json::Value, ProviderError> {
        let inner = &self.inner;
        validate_for_with(req, &inner.capabilities, &OPENAI_RULES)
            .map_err(|e| ProviderError::from(e).with_provider(inner.id.clone()))?;
        request::chat_body(req, &inner.model, inner.config.max_tokens_field, stream)
            .map_err(|e| e.with_provider(inner.id.clone()))
    }

    /// Sends the body; a non-success status is the error it stands for.
    async fn send(&self, body: &serde_json::Value) -> Result<reqwest::Response, ProviderError> {
        let inner = &self.inner;
        let response = inner
            .client
            .post(&inner.url)
            .headers(inner.headers.clone())
            .json(body)
            .send()
            .await
            .map_err(|e| error::from_transport(&inner.id, e))?;
        let status = response.status().as_u16();
        tracing::debug!(provider = %inner.id, status, "openai: answer");
        if response.status().is_success() {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| error::from_transport(&inner.id, e))?;
        Err(error::from_http(
            &inner.id,
            status,
            &headers,
            &body,
            inner.api_key.as_ref(),
        ))
    }
}

#[async_trait]
impl palisade_core::Provider for OpenAiProvider {
    fn id(&self) -> &ProviderId {
        &self.inner.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let body = self.request_body(&req, false)?;
        let response = self.send(&body).await?;
        let inner = &self.inner;
        let rate_limit = RateLimitSnapshot::from_headers(response.headers());
        let request_id = request_id(response.headers());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| error::from_transport(&inner.id, e))?;
        let wire: response::WireCompletion = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::new(
                ErrorKind::Internal,
                format!("the answer is not a chat completion: {e}"),
            )
            .with_provider(inner.id.clone())
        })?;
        let mut answer = response::from_wire(&inner.id, &inner.model, wire)?;
        answer.structured =
            response::structured(&inner.id, req.structured_output.as_ref(), &answer)?;
        answer.request_id = request_id;
        answer.rate_limit = rate_limit.map(Box::new);
        Ok(answer)
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let body = self.request_body(&req, true)?;
        let response = self.send(&body).await?;
        let inner = &self.inner;
        let rate_limit = RateLimitSnapshot::from_headers(response.headers());
        let mut stream =
            ChatStream::new(inner.id.clone(), stream::events(inner.id.clone(), response))
                .with_model(inner.model.clone());
        if let Some(snapshot) = rate_limit {
            stream = stream.with_rate_limit(snapshot);
        }
        Ok(stream)
    }

    fn context_window(&self) -> Option<u32> {
        self.inner.context_window
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities
    }
}
