//! The breaker around a [`Provider`]: [`CircuitBreakerLayer`] wraps a provider
//! in a [`Breaker`].
//!
//! - While the circuit refuses calls, the inner provider is not called: the
//!   call fails at once with a [`ProviderError`] of kind `Unavailable`,
//!   `retry_after` = time until half-open, source [`BreakerOpen`].
//! - `complete` records its result when it returns. A call dropped before it
//!   returns (the caller gave up, a timeout layer outside fired) is ignored.
//! - `stream` records an error returned before the first event at once, and
//!   otherwise wraps the stream in a [`BreakerStream`], which records at the
//!   stream's end (see there, including what a mid-stream drop counts as).
//! - [`readiness`](Provider::readiness) is the breaker's combined with the
//!   inner provider's, so fallback skips an open candidate without calling it.

#[allow(clippy::module_inception)] // the layer module's `layer.rs`, as in every Palisade layer
mod layer;
mod stream;

pub use crate::error::BreakerOpen;
pub use layer::CircuitBreakerLayer;
pub use stream::BreakerStream;

use async_trait::async_trait;
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderId, Readiness,
};

use crate::breaker::CircuitBreaker;
use crate::permit::ClosedCall;

/// A provider guarded by a circuit breaker. Built by [`CircuitBreakerLayer`].
///
/// Named like the other wrappers (`RateLimit`, `Retry`, `Timeout`,
/// `Budget`); the state machine it consults is the [`CircuitBreaker`].
#[derive(Debug, Clone)]
pub struct Breaker<P> {
    inner: P,
    breaker: CircuitBreaker,
}

/// The old name of [`Breaker`].
#[deprecated(
    since = "0.1.0",
    note = "renamed to `Breaker`, like `RateLimit`, `Retry`, `Timeout`"
)]
pub type BreakerProvider<P> = Breaker<P>;

impl<P> Breaker<P> {
    /// Guards `inner` with `breaker`.
    pub fn new(inner: P, breaker: CircuitBreaker) -> Self {
        Self { inner, breaker }
    }

    /// The guarded provider.
    pub fn get_ref(&self) -> &P {
        &self.inner
    }

    /// The guarded provider, mutably.
    pub fn get_mut(&mut self) -> &mut P {
        &mut self.inner
    }

    /// Unwraps the guarded provider.
    pub fn into_inner(self) -> P {
        self.inner
    }

    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<P: Provider> Breaker<P> {
    fn refuse(&self, open: BreakerOpen) -> ProviderError {
        open.into_provider_error()
            .with_provider(self.inner.id().clone())
    }
}

#[async_trait]
impl<P: Provider> Provider for Breaker<P> {
    fn id(&self) -> &ProviderId {
        self.inner.id()
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        if let Some(admission) = self.breaker.admit_closed() {
            let call = ClosedCall::new(&self.breaker, admission);
            let result = self.inner.complete(req).await;
            call.record_result(&result);
            return result;
        }
        let permit = self.breaker.acquire().await.map_err(|o| self.refuse(o))?;
        let result = self.inner.complete(req).await;
        permit.record_result(&result);
        result
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        let permit = self.breaker.acquire().await.map_err(|o| self.refuse(o))?;
        match self.inner.stream(req).await {
            Ok(stream) => Ok(stream.map_events(|events| BreakerStream::new(events, permit))),
            Err(error) => {
                permit.record_error(&error);
                Err(error)
            }
        }
    }

    fn readiness(&self) -> Readiness {
        self.breaker.readiness().and(self.inner.readiness())
    }

    fn expected_wait(&self, req: &ChatRequest) -> palisade_core::ExpectedWait {
        self.breaker
            .expected_wait()
            .and(self.inner.expected_wait(req))
    }

    fn context_window(&self) -> Option<u32> {
        self.inner.context_window()
    }

    // Fallback skips a candidate by what its provider accepts; a layer
    // that hid it would make every candidate look able to serve anything.
    fn capabilities(&self) -> palisade_core::Capabilities {
        self.inner.capabilities()
    }
}
