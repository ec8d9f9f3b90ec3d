//! What the running server shares between its handle and its request
//! handlers: which provider serves which model id, the injected faults
//! waiting to fire, and what was received.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use palisade_core::{SharedProvider, TokenEstimator};

use super::fault::WireFault;
use super::limits::ModelLimits;
use super::recording::{Operation, ReceivedRequest};

/// Shared between the handle and the request handlers.
pub(super) struct ServerState {
    pub(super) models: BTreeMap<String, SharedProvider>,
    pub(super) any_model: Option<SharedProvider>,
    /// What each model accepts; models not listed take the defaults.
    pub(super) limits: BTreeMap<String, ModelLimits>,
    pub(super) estimator: Arc<dyn TokenEstimator>,
    pub(super) faults: Mutex<HashMap<String, VecDeque<WireFault>>>,
    pub(super) received: Mutex<Vec<ReceivedRequest>>,
    pub(super) next_request: AtomicU64,
    /// Prompt prefixes written to the fake prompt cache (see [`super::cache`]).
    pub(super) prefix_cache: Mutex<std::collections::HashSet<String>>,
}

impl ServerState {
    pub(super) fn provider(&self, model_id: &str) -> Option<SharedProvider> {
        self.models
            .get(model_id)
            .or(self.any_model.as_ref())
            .cloned()
    }

    /// What `model_id` accepts.
    pub(super) fn limits(&self, model_id: &str) -> ModelLimits {
        self.limits.get(model_id).copied().unwrap_or_default()
    }

    /// Takes the first queued fault for `model_id` that applies to `operation`.
    pub(super) fn take_fault(&self, model_id: &str, operation: Operation) -> Option<WireFault> {
        let mut faults = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let queue = faults.get_mut(model_id)?;
        let at = queue.iter().position(|f| f.applies_to(operation))?;
        queue.remove(at)
    }

    pub(super) fn record(&self, request: ReceivedRequest) {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
    }

    /// A fresh request id in the UUID shape Bedrock uses.
    pub(super) fn next_request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        format!("fa4eb0c2-0000-4000-8000-{n:012x}")
    }
}
