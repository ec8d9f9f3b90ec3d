//! A `tower::Layer` as a palisade [`Layer`](palisade_core::Layer), for
//! `ProviderExt::layer` and `LayerStack`.

use std::sync::Arc;

use palisade_core::{ChatRequest, ChatResponse, Provider, SharedProvider};
use tower::{BoxError, Service};

use crate::provider::ServiceProvider;
use crate::service::ProviderService;

/// A `tower::Layer` (`Timeout`, `ConcurrencyLimit`, tower-http, …) as a
/// palisade [`Layer`](palisade_core::Layer), so it can sit in a palisade
/// stack.
///
/// Wrapping a provider `P` serves it as a [`ProviderService`], wraps that in
/// the tower layer, and makes the result a provider again
/// ([`ServiceProvider`]) with `P`'s id. Readiness, context window and
/// capabilities are forwarded from `P`, so a breaker inside still makes
/// fallback skip the candidate. The tower layer's errors come back as
/// [`ProviderError`](palisade_core::ProviderError) kinds (`Elapsed` →
/// `Timeout`, `Overloaded` → `Overloaded`, `P`'s own errors unchanged).
///
/// A tower service answers whole responses, so a `stream` call through this
/// layer is `complete` through the tower layer, returned as one stream: the
/// tower middleware applies to streams too, but they are not incremental.
///
/// ```
/// use std::time::Duration;
/// use palisade_core::testing::ScriptedProvider;
/// use palisade_core::{ChatRequest, Provider, ProviderExt};
/// use palisade_tower::TowerLayer;
/// use tower::limit::ConcurrencyLimitLayer;
/// use tower::timeout::TimeoutLayer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let model = ScriptedProvider::new("model-a")
///     .layer(TowerLayer::new(TimeoutLayer::new(Duration::from_secs(30))))
///     .layer(TowerLayer::new(ConcurrencyLimitLayer::new(4)));
/// assert_eq!(model.id().as_str(), "model-a");
/// let answer = model.complete(ChatRequest::user("hi")).await.unwrap();
/// assert_eq!(answer.text_content(), "ok");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TowerLayer<L> {
    layer: L,
}

impl<L> TowerLayer<L> {
    /// `layer` around providers.
    pub fn new(layer: L) -> Self {
        Self { layer }
    }

    /// The tower layer.
    pub fn get_ref(&self) -> &L {
        &self.layer
    }

    /// The tower layer, by value.
    pub fn into_inner(self) -> L {
        self.layer
    }
}

impl<P, L> palisade_core::Layer<P> for TowerLayer<L>
where
    P: Provider + 'static,
    L: tower::Layer<ProviderService<P>>,
    L::Service: Service<ChatRequest, Response = ChatResponse> + Clone + Send + 'static,
    <L::Service as Service<ChatRequest>>::Error: Into<BoxError>,
    <L::Service as Service<ChatRequest>>::Future: Send + 'static,
{
    type Provider = ServiceProvider<L::Service>;

    fn layer(&self, inner: P) -> Self::Provider {
        let inner = Arc::new(inner);
        let facts: SharedProvider = inner.clone();
        ServiceProvider::around(self.layer.layer(ProviderService::from_arc(inner)), facts)
    }
}
