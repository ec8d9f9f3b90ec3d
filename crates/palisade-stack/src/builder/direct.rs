//! A shared provider as the inner provider of a layer, without the extra
//! boxed future that `Arc<dyn Provider>`'s own `Provider` impl adds.

use std::future::Future;
use std::pin::Pin;

use palisade_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, Provider, ProviderError, ProviderId,
    Readiness, SharedProvider,
};

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// Forwards to the shared provider's own boxed future: layers built over
/// erased providers pay one allocation per call, not two.
pub(crate) struct Direct(pub(crate) SharedProvider);

impl Provider for Direct {
    fn id(&self) -> &ProviderId {
        self.0.id()
    }

    fn complete<'life0, 'async_trait>(
        &'life0 self,
        req: ChatRequest,
    ) -> Boxed<'async_trait, ChatResponse>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (*self.0).complete(req)
    }

    fn stream<'life0, 'async_trait>(
        &'life0 self,
        req: ChatRequest,
    ) -> Boxed<'async_trait, ChatStream>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        (*self.0).stream(req)
    }

    fn readiness(&self) -> Readiness {
        self.0.readiness()
    }

    fn expected_wait(&self, req: &ChatRequest) -> palisade_core::ExpectedWait {
        self.0.expected_wait(req)
    }

    fn context_window(&self) -> Option<u32> {
        self.0.context_window()
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }
}
