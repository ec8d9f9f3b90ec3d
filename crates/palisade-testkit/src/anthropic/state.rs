//! What the running server shares between its handle and its handlers.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use palisade_core::{SharedProvider, TokenEstimator};

use super::fault::Fault;
use super::quota::{Quota, QuotaState};
use super::recording::ReceivedRequest;

/// One served model.
pub(super) struct Model {
    pub(super) provider: SharedProvider,
    pub(super) quota: Mutex<QuotaState>,
}

pub(super) struct ServerState {
    pub(super) models: BTreeMap<String, Model>,
    pub(super) any_model: Option<SharedProvider>,
    pub(super) default_quota: Quota,
    /// Quota state of models served by `any_model`, created on first use.
    pub(super) any_quotas: Mutex<HashMap<String, Arc<Mutex<QuotaState>>>>,
    pub(super) api_key: Option<String>,
    pub(super) estimator: Arc<dyn TokenEstimator>,
    pub(super) injected: Mutex<HashMap<String, VecDeque<Fault>>>,
    pub(super) persistent: Mutex<HashMap<String, Vec<Fault>>>,
    pub(super) received: Mutex<Vec<ReceivedRequest>>,
    pub(super) next_request: AtomicU64,
    pub(super) prefix_cache: Mutex<HashSet<String>>,
    pub(super) throttled: AtomicU64,
    pub(super) served: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ServerState {
    pub(super) fn provider(&self, model: &str) -> Option<SharedProvider> {
        self.models
            .get(model)
            .map(|m| m.provider.clone())
            .or_else(|| self.any_model.clone())
    }

    /// Runs `f` on the model's quota state (`None` for an unknown model).
    pub(super) fn with_quota<R>(
        &self,
        model: &str,
        f: impl FnOnce(&mut QuotaState) -> R,
    ) -> Option<R> {
        if let Some(m) = self.models.get(model) {
            return Some(f(&mut lock(&m.quota)));
        }
        self.any_model.as_ref()?;
        let state = lock(&self.any_quotas)
            .entry(model.to_owned())
            .or_insert_with(|| Arc::new(Mutex::new(QuotaState::new(self.default_quota))))
            .clone();
        let mut guard = lock(&state);
        Some(f(&mut guard))
    }

    /// The faults for this call: the persistent ones, then the first
    /// injected one that applies.
    pub(super) fn faults(&self, model: &str, stream: bool) -> Vec<Fault> {
        let mut out: Vec<Fault> = lock(&self.persistent)
            .get(model)
            .map(|v| v.iter().filter(|f| f.applies_to(stream)).cloned().collect())
            .unwrap_or_default();
        let mut injected = lock(&self.injected);
        if let Some(queue) = injected.get_mut(model)
            && let Some(at) = queue.iter().position(|f| f.applies_to(stream))
            && let Some(f) = queue.remove(at)
        {
            out.push(f);
        }
        out
    }

    pub(super) fn record(&self, request: ReceivedRequest) {
        lock(&self.received).push(request);
    }

    pub(super) fn next_request_id(&self) -> String {
        let n = self.next_request.fetch_add(1, Ordering::Relaxed);
        format!("req_fake{n:016x}")
    }

    /// Whether the prefix was cached already (and caches it).
    pub(super) fn cache_hit(&self, key: &str) -> bool {
        !lock(&self.prefix_cache).insert(key.to_owned())
    }

    /// Whether the prefix is cached, without caching it.
    pub(super) fn cache_contains(&self, key: &str) -> bool {
        lock(&self.prefix_cache).contains(key)
    }

    pub(super) fn lock_received(&self) -> std::sync::MutexGuard<'_, Vec<ReceivedRequest>> {
        lock(&self.received)
    }

    pub(super) fn lock_injected(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, VecDeque<Fault>>> {
        lock(&self.injected)
    }

    pub(super) fn lock_persistent(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Fault>>> {
        lock(&self.persistent)
    }
}
