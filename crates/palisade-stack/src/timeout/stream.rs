use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use palisade_core::{EventStream, ProviderError, ProviderId, StreamEvent};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::TimeoutError;

pin_project! {
    /// A stream cut off at the request's deadline: past it, the stream yields
    /// one Timeout error and ends, dropping (and so releasing) the inner stream.
    pub(crate) struct DeadlineStream {
        inner: Option<EventStream>,
        provider: ProviderId,
        #[pin]
        sleep: Sleep,
    }
}

impl DeadlineStream {
    pub(crate) fn new(inner: EventStream, provider: ProviderId, deadline: Instant) -> Self {
        Self {
            inner: Some(inner),
            provider,
            sleep: tokio::time::sleep_until(deadline),
        }
    }
}

impl Stream for DeadlineStream {
    type Item = Result<StreamEvent, ProviderError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        if let Poll::Ready(item) = inner.as_mut().poll_next(cx) {
            if item.is_none() {
                *this.inner = None;
            }
            return Poll::Ready(item);
        }
        if this.sleep.poll(cx).is_ready() {
            *this.inner = None;
            let error = TimeoutError::DeadlineElapsed {
                provider: this.provider.clone(),
            };
            return Poll::Ready(Some(Err(error.into_provider_error())));
        }
        Poll::Pending
    }
}
