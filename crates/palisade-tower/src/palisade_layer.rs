//! A palisade [`Layer`](palisade_core::Layer) as a `tower::Layer`, for
//! `ServiceBuilder`.

use palisade_core::ProviderId;

use crate::provider::ServiceProvider;
use crate::service::ProviderService;

/// A palisade [`Layer`](palisade_core::Layer) (limiter, breaker, retry, …)
/// as a `tower::Layer`, so it can sit in a `ServiceBuilder`.
///
/// Wrapping a tower service `S` makes `S` a provider
/// ([`ServiceProvider`], named `id`: limiters and breakers key their state
/// and stats by it), wraps that in the palisade layer, and serves the result
/// as a [`ProviderService`]. Errors cross the boundary once each way; the
/// layer's readiness (an open breaker) reaches `poll_ready`.
///
/// ```
/// use std::time::Duration;
/// use palisade_breaker::{BreakerConfig, CircuitBreaker, CircuitBreakerLayer};
/// use palisade_core::{ChatRequest, ChatResponse, ProviderError};
/// use palisade_tower::PalisadeLayer;
/// use tower::{ServiceBuilder, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = CircuitBreaker::new("echo", BreakerConfig::default()).unwrap();
/// let service = ServiceBuilder::new()
///     .timeout(Duration::from_secs(30))
///     .layer(PalisadeLayer::new("echo", CircuitBreakerLayer::new(breaker)))
///     .service_fn(|_req: ChatRequest| async {
///         Ok::<_, ProviderError>(ChatResponse::text("echo".into(), "pong", None))
///     });
/// let answer = service.oneshot(ChatRequest::user("ping")).await.unwrap();
/// assert_eq!(answer.text_content(), "pong");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct PalisadeLayer<L> {
    id: ProviderId,
    layer: L,
}

impl<L> PalisadeLayer<L> {
    /// `layer` around tower services, which become the provider `id`.
    pub fn new(id: impl Into<ProviderId>, layer: L) -> Self {
        Self {
            id: id.into(),
            layer,
        }
    }

    /// The provider id given to the wrapped services.
    pub fn id(&self) -> &ProviderId {
        &self.id
    }

    /// The palisade layer.
    pub fn get_ref(&self) -> &L {
        &self.layer
    }

    /// The palisade layer, by value.
    pub fn into_inner(self) -> L {
        self.layer
    }
}

impl<S, L> tower::Layer<S> for PalisadeLayer<L>
where
    L: palisade_core::Layer<ServiceProvider<S>>,
{
    type Service = ProviderService<L::Provider>;

    fn layer(&self, inner: S) -> Self::Service {
        ProviderService::new(
            self.layer
                .layer(ServiceProvider::new(self.id.clone(), inner)),
        )
    }
}
