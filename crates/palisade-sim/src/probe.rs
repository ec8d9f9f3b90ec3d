//! A transparent wrapper around each simulated model that records, per
//! simulated request, which models were called in what order — so retries
//! and fallbacks are counted the same way for every system under test,
//! whatever that system reports about itself.
//!
//! The driver tags each request `sim:req=<index>`; tags travel through every
//! layer unchanged, so the probe finds the request wherever it is called from.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderId, Readiness,
};

/// The tag prefix that carries a simulated request's index.
pub(crate) const REQUEST_TAG: &str = "sim:req=";

/// Calls made on behalf of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct CallTrace {
    /// Model index of the latest call.
    last_model: Option<usize>,
    /// Calls to the same model as the call before.
    pub(crate) retries: u32,
    /// Calls to a different model than the call before.
    pub(crate) fallbacks: u32,
    /// All calls.
    pub(crate) calls: u32,
}

/// Traces of every request of one run, indexed by request.
#[derive(Debug, Clone)]
pub(crate) struct CallLog {
    traces: Arc<Mutex<Vec<CallTrace>>>,
}

impl CallLog {
    pub(crate) fn new(requests: usize) -> Self {
        Self {
            traces: Arc::new(Mutex::new(vec![CallTrace::default(); requests])),
        }
    }

    fn record(&self, request: usize, model: usize) {
        let mut traces = self.traces.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(trace) = traces.get_mut(request) {
            match trace.last_model {
                Some(m) if m == model => trace.retries += 1,
                Some(_) => trace.fallbacks += 1,
                None => {}
            }
            trace.calls += 1;
            trace.last_model = Some(model);
        }
    }

    pub(crate) fn traces(&self) -> Vec<CallTrace> {
        self.traces
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A model wrapped to record calls into a [`CallLog`].
pub(crate) struct Probed<P> {
    inner: P,
    model: usize,
    log: CallLog,
}

impl<P> Probed<P> {
    pub(crate) fn new(inner: P, model: usize, log: CallLog) -> Self {
        Self { inner, model, log }
    }

    fn record(&self, req: &ChatRequest) {
        let index = req
            .metadata
            .tags
            .iter()
            .find_map(|t| t.strip_prefix(REQUEST_TAG)?.parse::<usize>().ok());
        if let Some(index) = index {
            self.log.record(index, self.model);
        }
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
        self.record(&req);
        self.inner.complete(req).await
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.record(&req);
        self.inner.stream(req).await
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    fn context_window(&self) -> Option<u32> {
        self.inner.context_window()
    }
}
