//! A [`Provider`] as a `tower::Service<ChatRequest>`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use palisade_core::{ChatRequest, ChatResponse, Provider, ProviderError};
use tower::Service;

use crate::ready::{ReadinessGate, WhenUnavailable};

/// The future [`ProviderService`] returns: the provider's
/// [`complete`](Provider::complete), owning its handle on the provider.
pub type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<ChatResponse, ProviderError>> + Send + 'static>>;

/// A [`Provider`] as a `tower::Service<ChatRequest>`, with
/// `Response = ChatResponse` and `Error = ProviderError`.
///
/// Cheap to clone: the provider sits behind an [`Arc`], so every clone calls
/// the same provider (and the same limiter, breaker, … inside it).
///
/// `poll_ready` follows the provider's [`readiness`](Provider::readiness):
/// ready when it says [`Ready`](palisade_core::Readiness::Ready); while it
/// says unavailable, pending until its `retry_after` has passed
/// ([`WhenUnavailable::Wait`], the default) or an
/// [`Unavailable`](palisade_core::ErrorKind::Unavailable) error
/// ([`WhenUnavailable::Refuse`]). `call` never waits for readiness itself: a
/// caller that skips `poll_ready` gets whatever the provider answers (an
/// open breaker refuses with its own typed error).
///
/// ```
/// use palisade_core::testing::ScriptedProvider;
/// use palisade_core::ChatRequest;
/// use palisade_tower::ProviderService;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let service = ProviderService::new(ScriptedProvider::new("model-a").then_text("hi"));
/// let answer = service.oneshot(ChatRequest::user("hello")).await.unwrap();
/// assert_eq!(answer.text_content(), "hi");
/// # }
/// ```
pub struct ProviderService<P: ?Sized> {
    provider: Arc<P>,
    gate: ReadinessGate,
}

impl<P: Provider> ProviderService<P> {
    /// Serves `provider`, waiting while it is unavailable.
    pub fn new(provider: P) -> Self {
        Self::from_arc(Arc::new(provider))
    }
}

impl<P: Provider + ?Sized> ProviderService<P> {
    /// Serves a provider that is already shared, such as a
    /// [`SharedProvider`](palisade_core::SharedProvider).
    pub fn from_arc(provider: Arc<P>) -> Self {
        Self {
            provider,
            gate: ReadinessGate::new(WhenUnavailable::default()),
        }
    }

    /// Sets what `poll_ready` does while the provider is unavailable.
    pub fn when_unavailable(mut self, mode: WhenUnavailable) -> Self {
        self.gate = ReadinessGate::new(mode);
        self
    }

    /// What `poll_ready` does while the provider is unavailable.
    pub fn unavailable_mode(&self) -> WhenUnavailable {
        self.gate.mode()
    }

    /// The provider.
    pub fn get_ref(&self) -> &P {
        &self.provider
    }

    /// The shared handle on the provider.
    pub fn shared(&self) -> &Arc<P> {
        &self.provider
    }

    /// The shared handle on the provider, by value.
    pub fn into_inner(self) -> Arc<P> {
        self.provider
    }
}

impl<P: Provider + ?Sized + 'static> Service<ChatRequest> for ProviderService<P> {
    type Response = ChatResponse;
    type Error = ProviderError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let provider = &self.provider;
        self.gate.poll(cx, provider.id(), || provider.readiness())
    }

    fn call(&mut self, req: ChatRequest) -> Self::Future {
        let provider = Arc::clone(&self.provider);
        Box::pin(async move { provider.complete(req).await })
    }
}

impl<P: ?Sized> Clone for ProviderService<P> {
    fn clone(&self) -> Self {
        Self {
            provider: Arc::clone(&self.provider),
            gate: self.gate.clone(),
        }
    }
}

impl<P: Provider + ?Sized> fmt::Debug for ProviderService<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderService")
            .field("provider", self.provider.id())
            .field("gate", &self.gate)
            .finish()
    }
}
