//! The bottom of a built candidate: its provider under the candidate's
//! config id, so every layer above (retry events, timeout and breaker
//! errors, limiter and breaker names) speaks of the candidate by one id.

use std::future::Future;
use std::pin::Pin;

use palisade_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderId,
    Readiness, SharedProvider,
};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// A shared provider answering to another id. Forwards the provider's own
/// boxed futures, so the renaming costs no allocation per call.
pub(crate) struct Named {
    pub(crate) inner: SharedProvider,
    pub(crate) id: ProviderId,
}

impl Provider for Named {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    fn complete<'life0, 'async_trait>(
        &'life0 self,
        req: ChatRequest,
    ) -> Boxed<'async_trait, ChatResponse>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (*self.inner).complete(req)
    }

    fn stream<'life0, 'async_trait>(
        &'life0 self,
        req: ChatRequest,
    ) -> Boxed<'async_trait, ChatStream>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (*self.inner).stream(req)
    }

    fn readiness(&self) -> Readiness {
        self.inner.readiness()
    }

    fn expected_wait(&self, req: &ChatRequest) -> palisade_core::ExpectedWait {
        self.inner.expected_wait(req)
    }

    fn context_window(&self) -> Option<u32> {
        self.inner.context_window()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
}
