//! What the running server shares between its handle and its handlers:
//! providers per model, quotas and their ledgers, context windows, the key,
//! fault states, what was received, and counters.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use palisade_core::{SharedProvider, TokenEstimator};
use tokio::time::Instant;

use super::fault::Fault;
use super::quota::{Exceeded, Ledger, Quota, Report};
use super::recording::ReceivedRequest;

#[derive(Debug, Default)]
pub(super) struct FaultState {
    pub(super) held: Option<Fault>,
    pub(super) queued: VecDeque<Fault>,
}

/// Counts of what the server answered.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) requests: AtomicU64,
    pub(super) rate_limited: AtomicU64,
    pub(super) answered: AtomicU64,
}

pub(super) struct ServerState {
    pub(super) models: BTreeMap<String, SharedProvider>,
    pub(super) any_model: Option<SharedProvider>,
    pub(super) quotas: HashMap<String, Quota>,
    pub(super) ledgers: Mutex<HashMap<String, Ledger>>,
    pub(super) windows: HashMap<String, u32>,
    pub(super) api_key: Option<String>,
    pub(super) estimator: Arc<dyn TokenEstimator>,
    pub(super) faults: Mutex<HashMap<String, FaultState>>,
    pub(super) received: Mutex<Vec<ReceivedRequest>>,
    pub(super) next_request: AtomicU64,
    pub(super) counters: Counters,
}

impl ServerState {
    pub(super) fn provider(&self, model: &str) -> Option<SharedProvider> {
        self.models.get(model).or(self.any_model.as_ref()).cloned()
    }

    /// The fault answering this request, if any: a queued one first, then
    /// the held state.
    pub(super) fn take_fault(&self, model: &str, streaming: bool) -> Option<Fault> {
        let mut faults = self.faults.lock().unwrap_or_else(PoisonError::into_inner);
        let state = faults.get_mut(model)?;
        if let Some(at) = state.queued.iter().position(|f| f.applies_to(streaming)) {
            return state.queued.remove(at);
        }
        state.held.clone().filter(|f| f.applies_to(streaming))
    }

    /// Charges the model's quota (if it has one).
    pub(super) fn admit(&self, model: &str, tokens: u32) -> Result<Report, (Exceeded, Report)> {
        let Some(quota) = self.quotas.get(model) else {
            return Ok(Report::default());
        };
        let now = Instant::now();
        let mut ledgers = self.ledgers.lock().unwrap_or_else(PoisonError::into_inner);
        ledgers
            .entry(model.to_owned())
            .or_insert_with(|| Ledger::new(*quota, now))
            .admit(tokens, now)
    }

    /// The quota's state without charging it.
    pub(super) fn report(&self, model: &str) -> Report {
        let ledgers = self.ledgers.lock().unwrap_or_else(PoisonError::into_inner);
        match (ledgers.get(model), self.quotas.get(model)) {
            (Some(l), _) => l.report(),
            (None, Some(q)) => Ledger::new(*q, Instant::now()).report(),
            (None, None) => Report::default(),
        }
    }

    pub(super) fn record(&self, request: ReceivedRequest) {
        self.received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
    }

    pub(super) fn next_request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        format!("req_fake{n:024x}")
    }
}
