//! Shared test setup: a real SDK client pointed at the in-process fake
//! Bedrock server with static test credentials (no AWS account, no network
//! beyond 127.0.0.1).

#![allow(dead_code, unreachable_pub)]

use palisade_bedrock::BedrockProvider;
use palisade_bedrock::aws::Credentials;
use palisade_core::Provider;
use palisade_testkit::bedrock::{FakeBedrock, FakeBedrockServer};

pub const SONNET: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";
pub const HAIKU: &str = "global.anthropic.claude-haiku-4-5-20251001-v1:0";

/// A fake server serving `provider` as `model_id`.
pub async fn serve(model_id: &str, provider: impl Provider + 'static) -> FakeBedrockServer {
    FakeBedrock::builder()
        .model(model_id, provider)
        .bind("127.0.0.1:0")
        .await
        .expect("bind the fake Bedrock server")
}

/// A Bedrock provider for `model_id` talking to `server`.
pub async fn client_for(server: &FakeBedrockServer, model_id: &str) -> BedrockProvider {
    client_at(&server.endpoint_url(), model_id).await
}

/// A Bedrock provider for `model_id` at an arbitrary endpoint.
pub async fn client_at(endpoint: &str, model_id: &str) -> BedrockProvider {
    BedrockProvider::builder(model_id)
        .region("us-east-1")
        .endpoint_url(endpoint)
        .credentials(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "tests",
        ))
        .build()
        .await
        .expect("build the provider")
}

/// A provider whose `stream` plays a fixed list of events (and whose
/// `complete` folds them), for tests that need a particular event sequence.
#[derive(Debug, Clone)]
pub struct EventsProvider {
    id: palisade_core::ProviderId,
    events: Vec<Result<palisade_core::StreamEvent, palisade_core::ProviderError>>,
}

impl EventsProvider {
    pub fn new(
        events: Vec<Result<palisade_core::StreamEvent, palisade_core::ProviderError>>,
    ) -> Self {
        Self {
            id: palisade_core::ProviderId::new("events"),
            events,
        }
    }
}

#[palisade_core::async_trait]
impl Provider for EventsProvider {
    fn id(&self) -> &palisade_core::ProviderId {
        &self.id
    }
    async fn complete(
        &self,
        req: palisade_core::ChatRequest,
    ) -> Result<palisade_core::ChatResponse, palisade_core::ProviderError> {
        let stream = self.stream(req).await?;
        palisade_core::collect_stream(stream).await
    }
    async fn stream(
        &self,
        _req: palisade_core::ChatRequest,
    ) -> Result<palisade_core::ChatStream, palisade_core::ProviderError> {
        Ok(palisade_core::ChatStream::from_events(
            self.id.clone(),
            self.events.clone(),
        ))
    }
}
