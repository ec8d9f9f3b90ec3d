//! The fake server's builder and its running handle.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use palisade_core::{HeuristicEstimator, Provider, SharedProvider, TokenEstimator};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::fault::Fault;
use super::quota::{Quota, QuotaState};
use super::recording::ReceivedRequest;
use super::routes;
use super::state::{Model, ServerState};

/// Entry point: `FakeAnthropic::builder()`.
#[derive(Debug, Clone, Copy)]
pub struct FakeAnthropic;

impl FakeAnthropic {
    /// A builder with no models, no required key and the default quota.
    pub fn builder() -> FakeAnthropicBuilder {
        FakeAnthropicBuilder {
            models: BTreeMap::new(),
            any_model: None,
            default_quota: Quota::default(),
            api_key: None,
            estimator: Arc::new(HeuristicEstimator),
        }
    }
}

/// Configures models, quotas and the key the server accepts.
pub struct FakeAnthropicBuilder {
    models: BTreeMap<String, (SharedProvider, Option<Quota>)>,
    any_model: Option<SharedProvider>,
    default_quota: Quota,
    api_key: Option<String>,
    estimator: Arc<dyn TokenEstimator>,
}

impl fmt::Debug for FakeAnthropicBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAnthropicBuilder")
            .field("models", &self.models.keys().collect::<Vec<_>>())
            .field("default_quota", &self.default_quota)
            .field("api_key", &self.api_key.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

impl FakeAnthropicBuilder {
    /// Serves `model` (the body's `model`, matched exactly) with `provider`
    /// and the default quota.
    pub fn model(mut self, model: impl Into<String>, provider: impl Provider + 'static) -> Self {
        self.models.insert(model.into(), (Arc::new(provider), None));
        self
    }

    /// Serves `model` with `provider` under `quota`.
    pub fn model_with_quota(
        mut self,
        model: impl Into<String>,
        provider: impl Provider + 'static,
        quota: Quota,
    ) -> Self {
        self.models
            .insert(model.into(), (Arc::new(provider), Some(quota)));
        self
    }

    /// Serves every other model id with `provider` (each with its own
    /// default quota). Without it such ids get 404 `not_found_error`.
    pub fn any_model(mut self, provider: impl Provider + 'static) -> Self {
        self.any_model = Some(Arc::new(provider));
        self
    }

    /// The quota of models registered without one (default [`Quota::default`]).
    pub fn default_quota(mut self, quota: Quota) -> Self {
        self.default_quota = quota;
        self
    }

    /// Accepts only this key (in `x-api-key` or `Authorization: Bearer`);
    /// others get 401 `authentication_error`. Without it any non-empty key
    /// is accepted.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Counts prompt tokens with `estimator` (quotas, context windows,
    /// cache prefixes) instead of the heuristic.
    pub fn token_estimator(mut self, estimator: impl TokenEstimator + 'static) -> Self {
        self.estimator = Arc::new(estimator);
        self
    }

    /// Binds `addr` (`127.0.0.1:0` for a free port) and serves on the
    /// current tokio runtime (IO enabled).
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<FakeAnthropicServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let default_quota = self.default_quota;
        let models = self
            .models
            .into_iter()
            .map(|(id, (provider, quota))| {
                let quota = QuotaState::new(quota.unwrap_or(default_quota));
                (
                    id,
                    Model {
                        provider,
                        quota: Mutex::new(quota),
                    },
                )
            })
            .collect();
        let state = Arc::new(ServerState {
            models,
            any_model: self.any_model,
            default_quota,
            any_quotas: Mutex::new(HashMap::new()),
            api_key: self.api_key,
            estimator: self.estimator,
            injected: Mutex::new(HashMap::new()),
            persistent: Mutex::new(HashMap::new()),
            received: Mutex::new(Vec::new()),
            next_request: AtomicU64::new(1),
            prefix_cache: Mutex::new(HashSet::new()),
            throttled: AtomicU64::new(0),
            served: AtomicU64::new(0),
        });
        let (shutdown, signal) = oneshot::channel::<()>();
        let app = routes::router(state.clone());
        let task = tokio::spawn(async move {
            let graceful = async move {
                let _ = signal.await;
            };
            if let Err(err) = axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
            {
                tracing::warn!(error = %err, "fake anthropic server stopped with an error");
            }
        });
        tracing::debug!(%addr, "fake anthropic server listening");
        Ok(FakeAnthropicServer {
            addr,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }
}

/// A running fake Anthropic server. Dropping it shuts it down (without
/// waiting); [`shutdown`](Self::shutdown) waits for open calls.
pub struct FakeAnthropicServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeAnthropicServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeAnthropicServer")
            .field("addr", &self.addr)
            .field("models", &self.state.models.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl FakeAnthropicServer {
    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`: the base URL for a Messages API client (the
    /// route is `/v1/messages`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues `fault` for the next request to `model` it applies to.
    pub fn inject(&self, model: &str, fault: Fault) {
        self.state
            .lock_injected()
            .entry(model.to_owned())
            .or_default()
            .push_back(fault);
    }

    /// Applies `fault` to every request to `model` until
    /// [`clear_faults`](Self::clear_faults).
    pub fn set_fault(&self, model: &str, fault: Fault) {
        self.state
            .lock_persistent()
            .entry(model.to_owned())
            .or_default()
            .push(fault);
    }

    /// Removes the faults set (and queued) for `model`.
    pub fn clear_faults(&self, model: &str) {
        self.state.lock_persistent().remove(model);
        self.state.lock_injected().remove(model);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.state.lock_received().clone()
    }

    /// The most recent request.
    pub fn last_request(&self) -> Option<ReceivedRequest> {
        self.state.lock_received().last().cloned()
    }

    /// Requests answered 429 because a quota was exceeded (not injected faults).
    pub fn throttled_count(&self) -> u64 {
        self.state.throttled.load(Ordering::Relaxed)
    }

    /// Requests answered with a model's reply (status 200).
    pub fn served_count(&self) -> u64 {
        self.state.served.load(Ordering::Relaxed)
    }

    /// Stops accepting connections and waits until open ones are done.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for FakeAnthropicServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
