//! A transparent wrapper around each simulated model that records every
//! call it receives into the run's tally — for which request, when it
//! started and ended, whether the model refused it for quota — so retries,
//! fallbacks, waiting time and queue depth are measured the same way for
//! every system under test, whatever that system reports about itself.
//!
//! The driver tags each request `sim:req=<index>`; tags travel through every
//! layer unchanged, so the probe finds the request wherever it is called from.

use async_trait::async_trait;
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, ProviderId,
    Readiness,
};
use tokio::time::Instant;

use crate::tally::SharedTally;

/// The tag prefix that carries a simulated request's index.
pub(crate) const REQUEST_TAG: &str = "sim:req=";

fn request_index(req: &ChatRequest) -> Option<u64> {
    req.metadata
        .tags
        .iter()
        .find_map(|t| t.strip_prefix(REQUEST_TAG)?.parse().ok())
}

/// A model wrapped to record its calls.
pub(crate) struct Probed<P> {
    inner: P,
    model: usize,
    tally: SharedTally,
    epoch: Instant,
}

impl<P> Probed<P> {
    pub(crate) fn new(inner: P, model: usize, tally: SharedTally, epoch: Instant) -> Self {
        Self {
            inner,
            model,
            tally,
            epoch,
        }
    }

    fn start(&self, req: &ChatRequest) -> OpenCall<'_> {
        let index = request_index(req);
        let started = Instant::now();
        self.tally.call_started(
            index,
            self.model,
            started.saturating_duration_since(self.epoch),
        );
        OpenCall {
            tally: &self.tally,
            epoch: self.epoch,
            index,
            started,
            ended: false,
        }
    }
}

/// A call in progress; ending it (or dropping it, when the caller gave up)
/// records its end.
struct OpenCall<'a> {
    tally: &'a SharedTally,
    epoch: Instant,
    index: Option<u64>,
    started: Instant,
    ended: bool,
}

impl OpenCall<'_> {
    fn end<T>(mut self, result: &Result<T, ProviderError>) {
        let throttled = matches!(result, Err(e) if e.kind() == ErrorKind::Throttled);
        self.record(throttled);
    }

    fn record(&mut self, throttled: bool) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        let now = Instant::now();
        self.tally.call_ended(
            self.index,
            now.saturating_duration_since(self.started),
            throttled,
            now.saturating_duration_since(self.epoch),
        );
    }
}

impl Drop for OpenCall<'_> {
    fn drop(&mut self) {
        self.record(false);
    }
}

impl<P> std::fmt::Debug for Probed<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probed")
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<P: Provider> Provider for Probed<P> {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let call = self.start(&req);
        let result = self.inner.complete(req).await;
        call.end(&result);
        result
    }

    /// The call is counted until the stream is returned (the first token).
    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let call = self.start(&req);
        let result = self.inner.stream(req).await;
        call.end(&result);
        result
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
}
