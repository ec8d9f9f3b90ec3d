//! The fake server's builder and its running handle (its shared state is
//! in `state`).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use palisade_core::{HeuristicEstimator, Provider, SharedProvider, TokenEstimator};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::fault::WireFault;
use super::limits::ModelLimits;
use super::recording::ReceivedRequest;
use super::routes;
use super::state::ServerState;

/// Entry point: `FakeBedrock::builder()`.
#[derive(Debug, Clone, Copy)]
pub struct FakeBedrock;

impl FakeBedrock {
    /// A builder with no models, serving CountTokens with the
    /// [`HeuristicEstimator`].
    pub fn builder() -> FakeBedrockBuilder {
        FakeBedrockBuilder {
            models: BTreeMap::new(),
            any_model: None,
            limits: BTreeMap::new(),
            estimator: Arc::new(HeuristicEstimator),
        }
    }
}

/// Configures which provider answers for which model id.
pub struct FakeBedrockBuilder {
    models: BTreeMap<String, SharedProvider>,
    any_model: Option<SharedProvider>,
    limits: BTreeMap<String, ModelLimits>,
    estimator: Arc<dyn TokenEstimator>,
}

impl fmt::Debug for FakeBedrockBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeBedrockBuilder")
            .field("models", &self.models.keys().collect::<Vec<_>>())
            .field(
                "any_model",
                &self.any_model.as_ref().map(|p| p.id().clone()),
            )
            .finish_non_exhaustive()
    }
}

impl FakeBedrockBuilder {
    /// Serves `model_id` (a model id, inference-profile id or ARN, matched
    /// exactly after percent-decoding) with `provider`.
    pub fn model(mut self, model_id: impl Into<String>, provider: impl Provider + 'static) -> Self {
        self.models.insert(model_id.into(), Arc::new(provider));
        self
    }

    /// Serves every model id not registered with [`model`](Self::model) with
    /// `provider`. Without it, such ids get Bedrock's answer to an unknown
    /// model: 400 ValidationException "The provided model identifier is invalid."
    pub fn any_model(mut self, provider: impl Provider + 'static) -> Self {
        self.any_model = Some(Arc::new(provider));
        self
    }

    /// What `model_id` accepts (service tiers, image size); a request
    /// beyond it gets Bedrock's 400 ValidationException before the model is
    /// called. Models without limits set take [`ModelLimits::default`].
    pub fn model_limits(mut self, model_id: impl Into<String>, limits: ModelLimits) -> Self {
        self.limits.insert(model_id.into(), limits);
        self
    }

    /// Counts CountTokens requests with `estimator` instead of the heuristic.
    pub fn token_estimator(mut self, estimator: impl TokenEstimator + 'static) -> Self {
        self.estimator = Arc::new(estimator);
        self
    }

    /// Binds `addr` (use `127.0.0.1:0` for a free port) and starts serving on
    /// the current tokio runtime.
    pub async fn bind(self, addr: impl ToSocketAddrs) -> io::Result<FakeBedrockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(ServerState {
            models: self.models,
            any_model: self.any_model,
            limits: self.limits,
            estimator: self.estimator,
            faults: Mutex::new(HashMap::new()),
            received: Mutex::new(Vec::new()),
            next_request: AtomicU64::new(1),
            prefix_cache: Mutex::new(std::collections::HashSet::new()),
        });
        let (shutdown, signal) = oneshot::channel::<()>();
        let app = routes::router(state.clone());
        let task = tokio::spawn(async move {
            let graceful = async move {
                // A dropped sender is a shutdown request too.
                let _ = signal.await;
            };
            if let Err(err) = axum::serve(listener, app)
                .with_graceful_shutdown(graceful)
                .await
            {
                tracing::warn!(error = %err, "fake bedrock server stopped with an error");
            }
        });
        tracing::debug!(%addr, "fake bedrock server listening");
        Ok(FakeBedrockServer {
            addr,
            state,
            shutdown: Some(shutdown),
            task: Some(task),
        })
    }
}

/// A running fake Bedrock Runtime server. Dropping it shuts it down (without
/// waiting); [`shutdown`](Self::shutdown) waits for in-flight calls to end.
pub struct FakeBedrockServer {
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for FakeBedrockServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeBedrockServer")
            .field("addr", &self.addr)
            .field("models", &self.state.models.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl FakeBedrockServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT`: the endpoint URL to give a Bedrock Runtime client.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues `fault` to answer the next request for `model_id` it applies to
    /// (see [`WireFault`]). Faults for one model fire in the order queued.
    pub fn inject(&self, model_id: &str, fault: WireFault) {
        self.state
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(model_id.to_owned())
            .or_default()
            .push_back(fault);
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
        self.state
            .received
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last()
            .cloned()
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

impl Drop for FakeBedrockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
