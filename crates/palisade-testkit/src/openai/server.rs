//! The fake server's builder and its running handle.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::serve::ListenerExt;
use palisade_core::{HeuristicEstimator, Provider, SharedProvider, TokenEstimator};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::fault::Fault;
use super::quota::Quota;
use super::recording::ReceivedRequest;
use super::routes;
use super::state::{Counters, ServerState};

/// Entry point: `FakeOpenAi::builder()`.
#[derive(Debug, Clone, Copy)]
pub struct FakeOpenAi;

impl FakeOpenAi {
    /// A builder with no models, no quotas and no key required.
    pub fn builder() -> FakeOpenAiBuilder {
        FakeOpenAiBuilder {
            models: BTreeMap::new(),
            any_model: None,
            quotas: HashMap::new(),
            windows: HashMap::new(),
            api_key: None,
            estimator: Arc::new(HeuristicEstimator),
        }
    }
}

/// Configures models, quotas, context windows and the key.
pub struct FakeOpenAiBuilder {
    models: BTreeMap<String, SharedProvider>,
    any_model: Option<SharedProvider>,
    quotas: HashMap<String, Quota>,
    windows: HashMap<String, u32>,
    api_key: Option<String>,
    estimator: Arc<dyn TokenEstimator>,
}

impl fmt::Debug for FakeOpenAiBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeOpenAiBuilder")
            .field("models", &self.models.keys().collect::<Vec<_>>())
            .field("quotas", &self.quotas)
            .field("windows", &self.windows)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl FakeOpenAiBuilder {
    /// Serves `model` (the body's `model`, or an Azure deployment name) with `provider`.
    pub fn model(mut self, model: impl Into<String>, provider: impl Provider + 'static) -> Self {
        self.models.insert(model.into(), Arc::new(provider));
        self
    }

    /// Serves every other model with `provider`. Without it, they get
    /// 404 `model_not_found`.
    pub fn any_model(mut self, provider: impl Provider + 'static) -> Self {
        self.any_model = Some(Arc::new(provider));
        self
    }

    /// Enforces a quota on `model`, with `x-ratelimit-*` headers on every answer.
    pub fn quota(mut self, model: impl Into<String>, quota: Quota) -> Self {
        self.quotas.insert(model.into(), quota);
        self
    }

    /// Refuses prompts (estimated) larger than `tokens` with 400 `context_length_exceeded`.
    pub fn context_window(mut self, model: impl Into<String>, tokens: u32) -> Self {
        self.windows.insert(model.into(), tokens);
        self
    }

    /// Requires this key (`Authorization: Bearer KEY`, or `api-key: KEY`).
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Estimates prompt tokens (for quotas and windows) with `estimator`.
    pub fn token_estimator(mut self, estimator: impl TokenEstimator + 'static) -> Self {
        self.estimator = Arc::new(estimator);
        self
    }

    /// Binds `addr` (`127.0.0.1:0` for a free port) and serves on the current runtime.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<FakeOpenAiServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ServerState {
            models: self.models,
            any_model: self.any_model,
            quotas: self.quotas,
            ledgers: Mutex::new(HashMap::new()),
            windows: self.windows,
            api_key: self.api_key,
            estimator: self.estimator,
            faults: Mutex::new(HashMap::new()),
            received: Mutex::new(Vec::new()),
            next_request: AtomicU64::new(1),
            counters: Counters::default(),
        });
        let (shutdown, signal) = oneshot::channel::<()>();
        let app = routes::router(state.clone());
        // Streamed answers are many small writes: without TCP_NODELAY,
        // Nagle's algorithm holds each one on a keep-alive connection until
        // the client's delayed ACK (40 ms a stream on Linux; under a paused
        // tokio clock the runtime sees no I/O meanwhile and jumps to its
        // next timer, hyper's 90 s pool reaper).
        let listener = listener.tap_io(|tcp| {
            if let Err(err) = tcp.set_nodelay(true) {
                tracing::debug!(error = %err, "fake openai server: TCP_NODELAY not set");
            }
        });
        let task = tokio::spawn(async move {
            let graceful = async move {
                let _ = signal.await;
            };
            if let Err(err) = axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
            {
                tracing::warn!(error = %err, "fake openai server stopped with an error");
            }
        });
        Ok(FakeOpenAiServer {
            addr,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }
}

/// Counts of what a fake server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FakeOpenAiStats {
    /// Requests received.
    pub requests: u64,
    /// 429 `rate_limit_exceeded` answers from the quotas.
    pub rate_limited: u64,
    /// Answers the provider gave (200).
    pub answered: u64,
}

/// A running fake OpenAI-compatible server. Dropping it shuts it down.
pub struct FakeOpenAiServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeOpenAiServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeOpenAiServer")
            .field("addr", &self.addr)
            .field("models", &self.state.models.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl FakeOpenAiServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT/v1`: the base URL for an OpenAI client.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://HOST:PORT`: the resource URL for an Azure OpenAI client.
    pub fn azure_endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Puts `model` in a fault state until [`clear_fault`](Self::clear_fault).
    pub fn set_fault(&self, model: &str, fault: Fault) {
        self.faults().entry(model.to_owned()).or_default().held = Some(fault);
    }

    /// Ends `model`'s fault state (queued faults stay).
    pub fn clear_fault(&self, model: &str) {
        if let Some(state) = self.faults().get_mut(model) {
            state.held = None;
        }
    }

    /// Queues `fault` for the next request to `model` it applies to.
    pub fn inject(&self, model: &str, fault: Fault) {
        self.faults()
            .entry(model.to_owned())
            .or_default()
            .queued
            .push_back(fault);
    }

    fn faults(&self) -> std::sync::MutexGuard<'_, HashMap<String, super::state::FaultState>> {
        self.state
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.state
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The most recent request, if any.
    pub fn last_request(&self) -> Option<ReceivedRequest> {
        self.requests().pop()
    }

    /// Counts of what the server answered.
    pub fn stats(&self) -> FakeOpenAiStats {
        let c = &self.state.counters;
        FakeOpenAiStats {
            requests: c.requests.load(Ordering::Relaxed),
            rate_limited: c.rate_limited.load(Ordering::Relaxed),
            answered: c.answered.load(Ordering::Relaxed),
        }
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

impl Drop for FakeOpenAiServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
