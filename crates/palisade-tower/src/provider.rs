//! Any `tower::Service<ChatRequest, Response = ChatResponse>` as a [`Provider`].

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use palisade_core::{
    Capabilities, ChatRequest, ChatResponse, Provider, ProviderError, ProviderId, Readiness,
    SharedProvider,
};
use tower::{BoxError, Service, ServiceExt};

use crate::error::provider_error_from_box;

/// A `tower::Service<ChatRequest, Response = ChatResponse>` as a [`Provider`].
///
/// A provider is called through `&self` by many callers at once, a tower
/// service through `&mut self` after `poll_ready`. Each call therefore clones
/// the service and drives the clone with [`ServiceExt::oneshot`] (wait for
/// ready, then call), which is what tower documents for shared use: state the
/// service shares between clones (a `ConcurrencyLimit`'s semaphore, a
/// `Buffer`'s channel) is shared by every call. The service sits behind a
/// mutex held only while cloning, so it needs to be `Send` but not `Sync`
/// (`BoxCloneService` works).
///
/// Errors come back as [`ProviderError`]s by the table in
/// [`crate::error`]: a `ProviderError` inside the `BoxError` is returned as
/// is, tower's `Elapsed` becomes `Timeout`, `Overloaded` stays `Overloaded`,
/// anything else is `Internal` with the original error as its source.
///
/// [`stream`](Provider::stream) is the core's default: the whole answer from
/// `complete`, as one stream. Readiness is [`Readiness::Ready`] (a tower
/// service's back-pressure is awaited inside the call), and the context window
/// and capabilities are what the builder methods state, unless the service
/// was made by [`TowerLayer`](crate::TowerLayer), which forwards all three to
/// the provider it wraps.
///
/// ```
/// use palisade_core::{ChatRequest, ChatResponse, ErrorKind, Provider, ProviderError};
/// use palisade_tower::ServiceProvider;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let service = tower::service_fn(|req: ChatRequest| async move {
///     if req.max_tokens > 1_000 {
///         return Err(ProviderError::invalid_request("max_tokens above 1000"));
///     }
///     Ok(ChatResponse::text("echo".into(), "pong", None))
/// });
/// let provider = ServiceProvider::new("echo", service);
/// let answer = provider.complete(ChatRequest::user("ping").with_max_tokens(10)).await.unwrap();
/// assert_eq!(answer.text_content(), "pong");
/// let refused = provider.complete(ChatRequest::user("ping").with_max_tokens(5_000)).await;
/// assert_eq!(refused.unwrap_err().kind(), ErrorKind::InvalidRequest);
/// # }
/// ```
pub struct ServiceProvider<S> {
    id: ProviderId,
    service: Mutex<S>,
    facts: Facts,
}

/// Where readiness, context window and capabilities come from.
enum Facts {
    /// Stated by the caller (a service made outside palisade).
    Stated {
        context_window: Option<u32>,
        capabilities: Capabilities,
    },
    /// The provider a [`TowerLayer`](crate::TowerLayer) wrapped.
    Inner(SharedProvider),
}

impl<S> ServiceProvider<S> {
    /// `service` as the provider `id`, stating no context window and every
    /// capability (the core's default for a provider that states nothing).
    pub fn new(id: impl Into<ProviderId>, service: S) -> Self {
        Self {
            id: id.into(),
            service: Mutex::new(service),
            facts: Facts::Stated {
                context_window: None,
                capabilities: Capabilities::all(),
            },
        }
    }

    /// `service` built by tower layers around `inner`: readiness, context
    /// window and capabilities are `inner`'s.
    pub(crate) fn around(service: S, inner: SharedProvider) -> Self {
        Self {
            id: inner.id().clone(),
            service: Mutex::new(service),
            facts: Facts::Inner(inner),
        }
    }

    /// States the model's context window, so fallback can skip it for a
    /// request that does not fit. Replaces forwarded facts, if any.
    pub fn with_context_window(mut self, tokens: u32) -> Self {
        let capabilities = self.capabilities_now();
        self.facts = Facts::Stated {
            context_window: Some(tokens),
            capabilities,
        };
        self
    }

    /// States what the service accepts, so routing can skip it for a
    /// request it cannot serve. Replaces forwarded facts, if any.
    pub fn with_capabilities(mut self, capabilities: Capabilities) -> Self {
        let context_window = self.context_window_now();
        self.facts = Facts::Stated {
            context_window,
            capabilities,
        };
        self
    }

    /// The tower service, by value.
    pub fn into_inner(self) -> S {
        self.service
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn service(&self) -> MutexGuard<'_, S> {
        // The lock is held only to clone; a clone that panicked left the
        // original as it was.
        self.service
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn context_window_now(&self) -> Option<u32> {
        match &self.facts {
            Facts::Stated { context_window, .. } => *context_window,
            Facts::Inner(inner) => inner.context_window(),
        }
    }

    fn capabilities_now(&self) -> Capabilities {
        match &self.facts {
            Facts::Stated { capabilities, .. } => *capabilities,
            Facts::Inner(inner) => inner.capabilities(),
        }
    }
}

#[async_trait]
impl<S> Provider for ServiceProvider<S>
where
    S: Service<ChatRequest, Response = ChatResponse> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        // Clone-then-ready: the clone is this call's own, so `&self` is enough.
        let service = self.service().clone();
        service
            .oneshot(req)
            .await
            .map_err(|err| provider_error_from_box(err.into(), &self.id))
    }

    fn readiness(&self) -> Readiness {
        match &self.facts {
            Facts::Stated { .. } => Readiness::Ready,
            Facts::Inner(inner) => inner.readiness(),
        }
    }

    fn expected_wait(&self, req: &ChatRequest) -> palisade_core::ExpectedWait {
        match &self.facts {
            Facts::Stated { .. } => palisade_core::ExpectedWait::NOW,
            Facts::Inner(inner) => inner.expected_wait(req),
        }
    }

    fn context_window(&self) -> Option<u32> {
        self.context_window_now()
    }

    fn capabilities(&self) -> Capabilities {
        self.capabilities_now()
    }
}

impl<S> fmt::Debug for ServiceProvider<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let facts = match &self.facts {
            Facts::Stated { .. } => "stated",
            Facts::Inner(_) => "inner provider",
        };
        f.debug_struct("ServiceProvider")
            .field("id", &self.id)
            .field("facts", &facts)
            .finish_non_exhaustive()
    }
}
