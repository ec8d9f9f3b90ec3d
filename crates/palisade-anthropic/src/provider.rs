//! [`AnthropicProvider`]: the builder and the [`Provider`] implementation.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use palisade_core::http::{RateLimitSnapshot, error_from_response, request_id};
use palisade_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError,
    ProviderId, StructuredOutputSupport, TierSet, validate_for,
};
use reqwest::header::{HeaderMap, HeaderValue};

use crate::config::{
    AnthropicConfig, AnthropicConfigError, ApiVersion, AuthScheme, DEFAULT_BASE_URL,
    StructuredOutputMode,
};
use crate::request::{BodyOptions, MAX_CACHE_POINTS, build_body};
use crate::response::{Structured, from_wire};
use crate::secret::ApiKey;
use crate::wire::WireMessage;

/// The context window assumed when none is set: every current Claude model
/// has at least 200 000 tokens.
pub const DEFAULT_CONTEXT_WINDOW: u32 = 200_000;

/// A [`Provider`] for one model of the Messages API.
///
/// Built with [`AnthropicProvider::builder`]. It never retries on its own
/// (the stack's retry layer is the one retry loop), attaches the
/// `anthropic-ratelimit-*` headers to every answer, stream and error
/// ([`ChatResponse::rate_limit`], [`ChatStream::rate_limit`],
/// [`ProviderError::rate_limit`]), and
/// refuses locally, naming the field, what the API would refuse.
#[derive(Clone)]
pub struct AnthropicProvider {
    id: ProviderId,
    model: String,
    url: String,
    version: ApiVersion,
    auth: AuthScheme,
    key: ApiKey,
    structured: StructuredOutputMode,
    context_window: Option<u32>,
    client: reqwest::Client,
}

impl fmt::Debug for AnthropicProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnthropicProvider")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("version", &self.version)
            .field("auth", &self.auth)
            .field("key", &self.key)
            .field("structured", &self.structured)
            .finish_non_exhaustive()
    }
}

/// Builds an [`AnthropicProvider`].
#[derive(Debug, Clone)]
pub struct AnthropicProviderBuilder {
    model: String,
    id: Option<ProviderId>,
    config: AnthropicConfig,
    key: Option<ApiKey>,
    context_window: Option<u32>,
    client: Option<reqwest::Client>,
    timeout: Option<Duration>,
}

impl AnthropicProvider {
    /// A builder for `model` (e.g. `claude-sonnet-4-5`).
    pub fn builder(model: impl Into<String>) -> AnthropicProviderBuilder {
        AnthropicProviderBuilder {
            model: model.into(),
            id: None,
            config: AnthropicConfig::default(),
            key: None,
            context_window: Some(DEFAULT_CONTEXT_WINDOW),
            client: None,
            timeout: None,
        }
    }

    /// The model id sent in each request.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The `anthropic-version` sent.
    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    /// The endpoint, `{base_url}/v1/messages`.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn headers(&self) -> Result<HeaderMap, ProviderError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            "anthropic-version",
            HeaderValue::from_static(self.version.as_str()),
        );
        let value = match self.auth {
            AuthScheme::XApiKey => HeaderValue::from_str(self.key.expose()),
            AuthScheme::Bearer => HeaderValue::from_str(&format!("Bearer {}", self.key.expose())),
        };
        // Checked by the builder; the message never carries the key.
        let mut value = value.map_err(|_| {
            ProviderError::new(ErrorKind::Auth, "the API key cannot be sent in a header")
                .with_provider(self.id.clone())
        })?;
        value.set_sensitive(true);
        let name = match self.auth {
            AuthScheme::XApiKey => "x-api-key",
            AuthScheme::Bearer => "authorization",
        };
        headers.insert(name, value);
        Ok(headers)
    }

    /// Validates and maps the request, sends it, and returns the successful
    /// HTTP answer (or the classified error).
    async fn send(
        &self,
        req: &ChatRequest,
        stream: bool,
    ) -> Result<reqwest::Response, ProviderError> {
        validate_for(req, &self.capabilities())
            .map_err(|e| ProviderError::from(e).with_provider(self.id.clone()))?;
        let body = build_body(
            req,
            BodyOptions {
                model: &self.model,
                version: self.version,
                structured: self.structured,
                stream,
            },
        )
        .map_err(|r| {
            ProviderError::invalid_request(format!("invalid request: {r}"))
                .with_provider(self.id.clone())
                .with_source(r)
        })?;
        tracing::debug!(provider = %self.id, stream, "sending a Messages API request");
        let response = self
            .client
            .post(&self.url)
            .headers(self.headers()?)
            .json(&body)
            .send()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let headers = response.headers().clone();
        let body = response.bytes().await.unwrap_or_default();
        let err = error_from_response(status, &headers, &body).with_provider(self.id.clone());
        tracing::debug!(provider = %self.id, status, kind = %err.kind(), "the Messages API refused");
        Err(err)
    }

    fn transport_error(&self, e: &reqwest::Error) -> ProviderError {
        let kind = if e.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Network
        };
        // reqwest's message names the URL, never a header.
        ProviderError::new(kind, format!("request to {} failed: {e}", self.url))
            .with_provider(self.id.clone())
    }

    fn structured<'a>(&self, req: &'a ChatRequest) -> Option<Structured<'a>> {
        req.structured_output.as_ref().map(|output| Structured {
            output,
            mode: self.structured,
        })
    }
}

impl AnthropicProviderBuilder {
    /// Applies a whole configuration (base URL, version, auth, key variable,
    /// structured-output mode).
    pub fn config(mut self, config: AnthropicConfig) -> Self {
        self.config = config;
        self
    }

    /// The API key. Without one, [`build`](Self::build) reads the
    /// configuration's `api_key_env` (default `ANTHROPIC_API_KEY`).
    pub fn api_key(mut self, key: ApiKey) -> Self {
        self.key = Some(key);
        self
    }

    /// The base URL (default [`DEFAULT_BASE_URL`]); `/v1/messages` is appended.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.config.base_url = url.into();
        self
    }

    /// The `anthropic-version` header (default `2023-06-01`).
    pub fn api_version(mut self, version: ApiVersion) -> Self {
        self.config.api_version = version;
        self
    }

    /// The auth header (default: the version's, [`ApiVersion::default_auth`]).
    pub fn auth(mut self, auth: AuthScheme) -> Self {
        self.config.auth = Some(auth);
        self
    }

    /// How structured output is served (default forced tool).
    pub fn structured_output(mut self, mode: StructuredOutputMode) -> Self {
        self.config.structured_output = mode;
        self
    }

    /// The provider id (default `anthropic/{model}`).
    pub fn id(mut self, id: impl Into<ProviderId>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The context window reported to fallback (default
    /// [`DEFAULT_CONTEXT_WINDOW`]); `None` reports none.
    pub fn context_window(mut self, tokens: Option<u32>) -> Self {
        self.context_window = tokens;
        self
    }

    /// A whole-request timeout for the HTTP client the builder makes (none
    /// by default: the stack's timeout layer owns deadlines). Ignored with
    /// [`client`](Self::client).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Uses this client (its pool, proxies, TLS settings) instead of a new
    /// one. reqwest never retries a request on its own.
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// Builds the provider.
    ///
    /// # Errors
    /// No key, a base URL that is not absolute http(s), an empty model id,
    /// a key that cannot be a header value, or a client that cannot be built.
    pub fn build(self) -> Result<AnthropicProvider, AnthropicConfigError> {
        if self.model.is_empty() || self.model.chars().any(char::is_whitespace) {
            return Err(AnthropicConfigError::InvalidModelId { id: self.model });
        }
        let key = match self.key {
            Some(k) => k,
            None => ApiKey::from_env(&self.config.api_key_env).ok_or_else(|| {
                AnthropicConfigError::NoApiKey {
                    variable: self.config.api_key_env.clone(),
                }
            })?,
        };
        if key.expose().is_empty() || HeaderValue::from_str(key.expose()).is_err() {
            return Err(AnthropicConfigError::InvalidApiKey);
        }
        let base = self.config.base_url.trim_end_matches('/');
        let base = if base.is_empty() {
            DEFAULT_BASE_URL
        } else {
            base
        };
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(AnthropicConfigError::InvalidBaseUrl {
                url: self.config.base_url.clone(),
                message: "must start with http:// or https://".into(),
            });
        }
        let url = if base.ends_with("/v1") {
            format!("{base}/messages")
        } else {
            format!("{base}/v1/messages")
        };
        let client = match self.client {
            Some(c) => c,
            None => {
                let mut b = reqwest::Client::builder();
                if let Some(t) = self.timeout {
                    b = b.timeout(t);
                }
                b.build()
                    .map_err(|e| AnthropicConfigError::Client(e.to_string()))?
            }
        };
        let version = self.config.api_version;
        Ok(AnthropicProvider {
            id: self
                .id
                .unwrap_or_else(|| ProviderId::new(format!("anthropic/{}", self.model))),
            model: self.model,
            url,
            version,
            auth: self.config.auth.unwrap_or(version.default_auth()),
            key,
            structured: self.config.structured_output,
            context_window: self.context_window,
            client,
        })
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let response = self.send(&req, false).await?;
        let headers = response.headers().clone();
        let rate_limit = RateLimitSnapshot::from_headers(&headers);
        let req_id = request_id(&headers);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| self.transport_error(&e))?;
        let message: WireMessage = serde_json::from_slice(&bytes).map_err(|e| {
            ProviderError::new(ErrorKind::Internal, format!("unreadable answer: {e}"))
                .with_provider(self.id.clone())
        })?;
        let mut answer =
            from_wire(message, &self.id, &self.model, self.structured(&req)).map_err(|e| {
                match &req_id {
                    Some(id) => e.with_request_id(id.clone()),
                    None => e,
                }
            })?;
        answer.request_id = req_id;
        answer.rate_limit = rate_limit.map(Box::new);
        Ok(answer)
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let response = self.send(&req, true).await?;
        let req_id = request_id(response.headers());
        let rate_limit = RateLimitSnapshot::from_headers(response.headers());
        let structured_tool = match (self.structured, &req.structured_output) {
            (StructuredOutputMode::ForcedTool, Some(o)) => Some(o.name.clone()),
            _ => None,
        };
        let events = crate::stream::events(
            response.bytes_stream(),
            self.id.clone(),
            req_id,
            structured_tool,
        );
        let mut stream = ChatStream::new(self.id.clone(), events).with_model(self.model.clone());
        if let Some(snapshot) = rate_limit {
            stream = stream.with_rate_limit(snapshot);
        }
        Ok(stream)
    }

    fn context_window(&self) -> Option<u32> {
        self.context_window
    }

    fn capabilities(&self) -> Capabilities {
        let tiers = TierSet::EMPTY
            .with(palisade_core::ServiceTier::Default)
            .with(palisade_core::ServiceTier::Priority);
        Capabilities {
            tools: true,
            images: true,
            image_urls: true,
            documents: true,
            caching: true,
            structured_output: match self.structured {
                StructuredOutputMode::Native => StructuredOutputSupport::Native,
                _ => StructuredOutputSupport::ForcedTool,
            },
            thinking: true,
            service_tiers: tiers,
            passthrough: true,
            // The API's limits: 100 images per request of at most 5 MB
            // each, request bodies (and so PDFs) of at most 32 MB.
            max_images: Some(100),
            max_image_bytes: Some(5 * 1024 * 1024),
            max_documents: None,
            max_document_bytes: Some(32 * 1024 * 1024),
            max_cache_points: Some(MAX_CACHE_POINTS),
        }
    }
}
