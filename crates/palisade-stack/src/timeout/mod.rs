//! Time limits: per attempt, and the request's overall deadline.
//!
//! A call that runs out of time is dropped, which cancels it and releases the
//! permits the layers beneath hold (a limiter's concurrency slot, a breaker's
//! half-open probe); the caller gets a [`ProviderError`] of kind
//! [`Timeout`](palisade_core::ErrorKind::Timeout) whose source is a
//! [`TimeoutError`].

mod error;
mod layer;
mod stream;

use std::time::Duration;

use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderId, Readiness,
    async_trait,
};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

pub use error::TimeoutError;
pub use layer::TimeoutLayer;

use crate::first_event::first_event;
use stream::DeadlineStream;

/// Time limits. Defaults: 60 s per attempt, no overall limit (the request's
/// own deadline still applies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TimeoutConfig {
    /// Longest one call may take (for a stream: until its first event).
    #[serde(with = "palisade_core::duration::option")]
    pub per_attempt: Option<Duration>,
    /// A deadline set on requests that carry none, this long after they
    /// arrive. The deadline then bounds everything inside: retries, fallback,
    /// waiting for recovery, and a stream to its last event.
    #[serde(with = "palisade_core::duration::option")]
    pub overall: Option<Duration>,
}

impl Default for TimeoutConfig {
    fn default() -> Self {
        Self {
            per_attempt: Some(Duration::from_secs(60)),
            overall: None,
        }
    }
}

/// A provider whose calls end at a time limit.
#[derive(Debug, Clone)]
pub struct Timeout<P> {
    inner: P,
    config: TimeoutConfig,
}

/// When the call must end, and which limit that is.
enum Limit {
    None,
    Attempt(Instant, Duration),
    Deadline(Instant),
}

impl<P> Timeout<P> {
    /// Wraps `inner`.
    pub fn new(inner: P, config: TimeoutConfig) -> Self {
        Self { inner, config }
    }

    /// The wrapped provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// Unwraps the provider.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// The settings.
    pub fn config(&self) -> &TimeoutConfig {
        &self.config
    }

    /// Stamps the overall deadline and works out which limit comes first.
    fn limit(&self, req: &mut ChatRequest) -> Limit {
        let now = Instant::now();
        if req.metadata.deadline.is_none() {
            req.metadata.deadline = self.config.overall.map(|d| now + d);
        }
        let attempt = self.config.per_attempt.map(|d| (now + d, d));
        match (attempt, req.metadata.deadline) {
            (None, None) => Limit::None,
            (Some((at, d)), None) => Limit::Attempt(at, d),
            (None, Some(deadline)) => Limit::Deadline(deadline),
            (Some((at, d)), Some(deadline)) if at < deadline => Limit::Attempt(at, d),
            (Some(_), Some(deadline)) => Limit::Deadline(deadline),
        }
    }
}

impl<P: Provider> Timeout<P> {
    fn elapsed(&self, limit: &Limit) -> ProviderError {
        let provider = self.inner.id().clone();
        match *limit {
            Limit::Attempt(_, after) => TimeoutError::AttemptTimedOut { provider, after },
            _ => TimeoutError::DeadlineElapsed { provider },
        }
        .into_provider_error()
    }
}

#[async_trait]
impl<P: Provider> Provider for Timeout<P> {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }

    async fn complete(&self, mut req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let limit = self.limit(&mut req);
        let at = match limit {
            Limit::None => return self.inner.complete(req).await,
            Limit::Attempt(at, _) | Limit::Deadline(at) => at,
        };
        if at <= Instant::now() {
            return Err(self.elapsed(&limit));
        }
        match tokio::time::timeout_at(at, self.inner.complete(req)).await {
            Ok(result) => result,
            Err(_) => Err(self.elapsed(&limit)),
        }
    }

    async fn stream(&self, mut req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let limit = self.limit(&mut req);
        let deadline = req.metadata.deadline;
        let opened = match limit {
            Limit::None => first_event(self.inner.stream(req).await).await?,
            Limit::Attempt(at, _) | Limit::Deadline(at) => {
                if at <= Instant::now() {
                    return Err(self.elapsed(&limit));
                }
                let open = async { first_event(self.inner.stream(req).await).await };
                match tokio::time::timeout_at(at, open).await {
                    Ok(result) => result?,
                    Err(_) => return Err(self.elapsed(&limit)),
                }
            }
        };
        Ok(match deadline {
            Some(deadline) => {
                let id = self.inner.id().clone();
                opened.map_events(|events| DeadlineStream::new(events, id, deadline))
            }
            None => opened,
        })
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    fn expected_wait(&self, req: &ChatRequest) -> palisade_core::ExpectedWait {
        self.inner.expected_wait(req)
    }

    fn context_window(&self) -> Option<u32> {
        self.inner.context_window()
    }

    // Fallback skips a candidate by what its provider accepts; a layer
    // that hid it would make every candidate look able to serve anything.
    fn capabilities(&self) -> palisade_core::Capabilities {
        self.inner.capabilities()
    }
}
