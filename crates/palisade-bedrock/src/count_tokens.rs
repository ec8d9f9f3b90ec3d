//! Exact input-token counts from Bedrock's CountTokens API, as a
//! [`TokenEstimator`] the limiter can reserve with.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::types::{ConverseTokensRequest, CountTokensInput};
use palisade_core::{
    ChatRequest, HeuristicEstimator, Provider, ProviderError, ProviderId, TokenEstimator,
};

use crate::catalog::{self, ClaudeModel};
use crate::error::from_sdk_error;
use crate::provider::BedrockProvider;
use crate::request::converse_parts;

impl BedrockProvider {
    /// The exact input tokens of `req` for this model (system, messages and
    /// thinking settings), from CountTokens. Free of charge, but a round trip.
    ///
    /// CountTokens takes base model ids only, so an inference-profile prefix
    /// (`us.`, `global.`, …) or ARN is reduced to the model id first.
    pub async fn count_tokens(&self, req: &ChatRequest) -> Result<u32, ProviderError> {
        count(
            self.client(),
            self.model_id(),
            self.catalog_entry(),
            self.id(),
            req,
        )
        .await
    }

    /// A [`TokenEstimator`] that asks CountTokens for this model and falls
    /// back to the [`HeuristicEstimator`] when the call fails.
    pub fn token_estimator(&self) -> BedrockTokenEstimator {
        BedrockTokenEstimator {
            client: self.client().clone(),
            model_id: Arc::from(self.model_id()),
            model: self.catalog_entry(),
            provider: self.id().clone(),
        }
    }
}

/// Exact request estimates from CountTokens; text estimates (synchronous by
/// the trait's contract) and failed calls use the [`HeuristicEstimator`].
#[derive(Debug, Clone)]
pub struct BedrockTokenEstimator {
    client: Client,
    model_id: Arc<str>,
    model: Option<&'static ClaudeModel>,
    provider: ProviderId,
}

#[async_trait]
impl TokenEstimator for BedrockTokenEstimator {
    fn estimate_text(&self, text: &str) -> u32 {
        HeuristicEstimator.estimate_text(text)
    }

    async fn estimate_request(&self, req: &ChatRequest) -> u32 {
        match count(
            &self.client,
            &self.model_id,
            self.model,
            &self.provider,
            req,
        )
        .await
        {
            Ok(tokens) => tokens,
            Err(err) => {
                tracing::debug!(
                    model = %self.model_id,
                    error = %err,
                    "CountTokens failed; using the heuristic estimate"
                );
                HeuristicEstimator.estimate_request(req).await
            }
        }
    }
}

async fn count(
    client: &Client,
    model_id: &str,
    model: Option<&ClaudeModel>,
    provider: &ProviderId,
    req: &ChatRequest,
) -> Result<u32, ProviderError> {
    let parts = converse_parts(req, model).map_err(|e| e.with_provider(provider.clone()))?;
    let input = ConverseTokensRequest::builder()
        .set_messages(Some(parts.messages))
        .set_system(parts.system)
        .set_additional_model_request_fields(parts.additional_fields)
        .build();
    let (_, base_model) = catalog::split_profile(model_id);
    let output = client
        .count_tokens()
        .model_id(base_model)
        .input(CountTokensInput::Converse(input))
        .send()
        .await
        .map_err(|e| from_sdk_error(e, provider, None))?;
    Ok(u32::try_from(output.input_tokens()).unwrap_or(0))
}
