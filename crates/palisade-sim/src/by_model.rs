//! The system under test for a recorded trace: each request names the model
//! it was sent to, so it goes to that model's own client (a naive client or
//! a palisade stack over that one model), never to another.

use async_trait::async_trait;
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, ProviderId,
    SharedProvider,
};

/// The tag prefix that names the model (index in the scenario) a trace's
/// request must go to: `sim:model=1`.
pub(crate) const MODEL_TAG: &str = "sim:model=";

/// Routes each request to the client of the model its tag names.
pub(crate) struct ByModel {
    id: ProviderId,
    clients: Vec<SharedProvider>,
}

impl ByModel {
    pub(crate) fn new(name: &str, clients: Vec<SharedProvider>) -> Self {
        Self {
            id: ProviderId::new(name),
            clients,
        }
    }

    fn client(&self, req: &ChatRequest) -> Result<&SharedProvider, ProviderError> {
        let index = req
            .metadata
            .tags
            .iter()
            .find_map(|t| t.strip_prefix(MODEL_TAG)?.parse::<usize>().ok())
            .unwrap_or(0);
        self.clients.get(index).ok_or_else(|| {
            ProviderError::new(
                ErrorKind::InvalidRequest,
                format!("the trace names model {index}, which the scenario does not have"),
            )
        })
    }
}

impl std::fmt::Debug for ByModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByModel")
            .field("clients", &self.clients.len())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Provider for ByModel {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let client = self.client(&req)?.clone();
        client.complete(req).await
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let client = self.client(&req)?.clone();
        client.stream(req).await
    }
}
