//! The LLM behind the workers: palisade-testkit's fake OpenAI-compatible
//! server (the real Chat Completions wire format, reached by the workers'
//! real `OpenAiProvider` over HTTP), serving a model that notes when each
//! call reached it. The submitter runs it, so one clock times every call
//! from both worker processes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use palisade::testkit::openai::{FakeOpenAi, FakeOpenAiServer};
use palisade::{ChatRequest, ChatResponse, Provider, ProviderError, ProviderId, Usage};
use tokio::time::Instant;

use crate::settings::{API_KEY, MODEL_LATENCY};

/// The fake server and the arrival log of its model.
#[derive(Debug)]
pub(crate) struct FakeModel {
    pub(crate) server: FakeOpenAiServer,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    origin: Instant,
}

impl FakeModel {
    pub(crate) async fn start() -> std::io::Result<Self> {
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let analyst = Analyst {
            id: ProviderId::new("analyst"),
            arrivals: arrivals.clone(),
        };
        let server = FakeOpenAi::builder()
            .any_model(analyst)
            .api_key(API_KEY)
            .bind("127.0.0.1:0")
            .await?;
        Ok(Self {
            server,
            arrivals,
            origin: Instant::now(),
        })
    }

    /// When each call reached the model, from the server's start.
    pub(crate) fn arrivals(&self) -> Vec<Duration> {
        let log = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        log.iter().map(|at| *at - self.origin).collect()
    }
}

/// A model that "analyses" a document after [`MODEL_LATENCY`]: its answer
/// names the document's first words and counts them.
#[derive(Debug)]
struct Analyst {
    id: ProviderId,
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

#[async_trait]
impl Provider for Analyst {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        self.arrivals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Instant::now());
        tokio::time::sleep(MODEL_LATENCY).await;
        let text: String = req
            .messages
            .iter()
            .map(|message| message.text())
            .collect::<Vec<_>>()
            .join(" ");
        let words = text.split_whitespace().count() as u32;
        let lead: Vec<&str> = text.split_whitespace().take(4).collect();
        let summary = format!("{words} words; about \"{}…\"", lead.join(" "));
        Ok(ChatResponse::text(
            self.id.clone(),
            summary,
            Some(Usage::new(words * 2, 24)),
        ))
    }
}
