//! [`BedrockProvider`]: one Bedrock model (or inference profile) as a
//! Palisade [`Provider`], over Converse and ConverseStream.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::Credentials;
use aws_sdk_bedrockruntime::operation::RequestId;
use palisade_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderId,
};
use tracing::Instrument;

use crate::catalog::{self, ClaudeModel};
use crate::config::{self, BedrockConfig, BedrockConfigError};
use crate::error::from_sdk_error;
use crate::request::converse_parts;
use crate::response::chat_response;
use crate::{stream, telemetry};

/// A Bedrock model as a [`Provider`]: `complete` calls Converse, `stream`
/// calls ConverseStream, and every failure is classified (see [`crate::error`]).
///
/// The provider id is `bedrock/{model_id}`. Cloning is cheap and shares the
/// client; [`with_model`](Self::with_model) makes a provider for another model
/// on the same client, which is how a fallback list shares one connection pool.
#[derive(Clone)]
pub struct BedrockProvider {
    client: Client,
    model_id: Arc<str>,
    id: ProviderId,
    model: Option<&'static ClaudeModel>,
}

impl fmt::Debug for BedrockProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BedrockProvider")
            .field("model_id", &self.model_id)
            .field("catalog", &self.model.map(|m| m.name))
            .finish_non_exhaustive()
    }
}

impl BedrockProvider {
    /// Starts configuring a provider for `model_id` (a model id such as
    /// `anthropic.claude-haiku-4-5-20251001-v1:0`, an inference-profile id
    /// such as `us.anthropic.claude-sonnet-4-6`, or an ARN).
    pub fn builder(model_id: impl Into<String>) -> BedrockProviderBuilder {
        BedrockProviderBuilder {
            model_id: model_id.into(),
            config: BedrockConfig::default(),
            credentials: None,
        }
    }

    /// A provider on an existing client, with the SDK's retries turned off
    /// (on a copy of its configuration; the connection pool is shared).
    pub fn from_client(client: &Client, model_id: impl Into<String>) -> Self {
        Self::new(config::without_sdk_retries(client), model_id.into())
    }

    /// A provider on an existing client exactly as it is configured,
    /// retries included.
    pub fn from_client_as_is(client: Client, model_id: impl Into<String>) -> Self {
        Self::new(client, model_id.into())
    }

    fn new(client: Client, model_id: String) -> Self {
        let id = ProviderId::new(format!("bedrock/{model_id}"));
        let model = catalog::lookup(&model_id);
        Self {
            client,
            model_id: Arc::from(model_id),
            id,
            model,
        }
    }

    /// A provider for another model on the same client.
    pub fn with_model(&self, model_id: impl Into<String>) -> Self {
        Self::new(self.client.clone(), model_id.into())
    }

    /// The model id (or inference-profile id, or ARN) this provider calls.
    pub fn model_id(&self) -> &str {
        &self.model_id
    }

    /// The model's catalog entry, when the id is a known Claude model.
    pub fn catalog_entry(&self) -> Option<&'static ClaudeModel> {
        self.model
    }

    /// The underlying SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    fn invalid(&self, err: ProviderError, span: &tracing::Span) -> ProviderError {
        let err = err.with_provider(self.id.clone());
        telemetry::record_error(span, &err);
        err
    }
}

#[async_trait]
impl Provider for BedrockProvider {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let span = telemetry::call_span("Converse", &self.model_id, &req);
        let parts = converse_parts(&req, self.model).map_err(|e| self.invalid(e, &span))?;
        let call = self
            .client
            .converse()
            .model_id(&*self.model_id)
            .set_messages(Some(parts.messages))
            .set_system(parts.system)
            .inference_config(parts.inference)
            .set_additional_model_request_fields(parts.additional_fields)
            .set_tool_config(parts.tool_config)
            .set_service_tier(parts.service_tier)
            .send()
            .instrument(span.clone())
            .await;
        match call {
            Ok(output) => {
                let response = chat_response(
                    &output,
                    &self.id,
                    &self.model_id,
                    req.structured_output.as_ref(),
                )?;
                telemetry::record_response(&span, &response);
                Ok(response)
            }
            Err(err) => {
                let err = from_sdk_error(err, &self.id, None);
                telemetry::record_error(&span, &err);
                Err(err)
            }
        }
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let span = telemetry::call_span("ConverseStream", &self.model_id, &req);
        let parts = converse_parts(&req, self.model).map_err(|e| self.invalid(e, &span))?;
        let call = self
            .client
            .converse_stream()
            .model_id(&*self.model_id)
            .set_messages(Some(parts.messages))
            .set_system(parts.system)
            .inference_config(parts.inference)
            .set_additional_model_request_fields(parts.additional_fields)
            .set_tool_config(parts.tool_config)
            .set_service_tier(parts.service_tier)
            .send()
            .instrument(span.clone())
            .await;
        match call {
            Ok(output) => {
                let request_id = output.request_id().map(str::to_owned);
                telemetry::record_request_id(&span, request_id.as_deref());
                stream::open(output.stream, self.id.clone(), request_id, span).await
            }
            Err(err) => {
                let err = from_sdk_error(err, &self.id, None);
                telemetry::record_error(&span, &err);
                Err(err)
            }
        }
    }

    fn context_window(&self) -> Option<u32> {
        self.model.map(|m| m.context_window)
    }

    fn capabilities(&self) -> Capabilities {
        crate::catalog::capabilities(self.model)
    }
}

/// Configures a [`BedrockProvider`]; see [`BedrockConfig`] for the defaults.
#[derive(Debug, Clone)]
pub struct BedrockProviderBuilder {
    model_id: String,
    config: BedrockConfig,
    credentials: Option<Credentials>,
}

impl BedrockProviderBuilder {
    /// Uses all settings of `config`.
    pub fn config(mut self, config: BedrockConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the AWS region.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.config.region = Some(region.into());
        self
    }

    /// Sends requests to this endpoint (a VPC endpoint, a local fake).
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.config.endpoint_url = Some(url.into());
        self
    }

    /// Uses this AWS profile for credentials and region.
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.config.profile = Some(profile.into());
        self
    }

    /// Uses these credentials instead of the default AWS chain.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Keeps (`true`) or disables (`false`, the default) the SDK's own retries.
    pub fn sdk_retries(mut self, keep: bool) -> Self {
        self.config.sdk_retries = keep;
        self
    }

    /// Builds the client and the provider. Loading the default credential
    /// chain is lazy: a missing credential shows up as an [`Auth`] error on
    /// the first call, not here.
    ///
    /// [`Auth`]: palisade_core::ErrorKind::Auth
    pub async fn build(self) -> Result<BedrockProvider, BedrockConfigError> {
        config::check_model_id(&self.model_id)?;
        if let Some(retired) = crate::catalog::retirement(&self.model_id) {
            // Not an error: a model's end of life differs by Region and
            // account, and Bedrock's own 404 is the authority. But say so
            // before the first call fails.
            tracing::warn!(
                model = %self.model_id, end_of_life = retired.end_of_life,
                replacement = retired.replacement,
                "{} reached end-of-life on Bedrock; calls to it will fail", retired.name
            );
        }
        let client = match self.credentials {
            Some(credentials) => self.config.client_with_credentials(credentials).await?,
            None => self.config.client().await?,
        };
        Ok(BedrockProvider::new(client, self.model_id))
    }
}
