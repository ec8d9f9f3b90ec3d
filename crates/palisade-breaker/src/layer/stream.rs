//! Recording a streamed call's outcome when the stream ends.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_core::Stream;
use palisade_core::{ProviderError, StreamEvent};
use pin_project_lite::pin_project;

use crate::permit::Permit;

pin_project! {
    /// A stream that reports its call's outcome to the breaker:
    ///
    /// - a success at the `Stop` event, or at the end of a stream without one
    ///   (whichever comes first), so a consumer that stops reading after
    ///   `Stop` still counts a success;
    /// - the error's kind at the first error item;
    /// - nothing when dropped before either: the consumer stopped reading,
    ///   which says nothing about the provider (even with
    ///   `count_dropped_calls_after`, which only covers calls dropped before
    ///   their stream started). A half-open probe slot is freed all the same.
    ///
    /// A slow call is measured from admission to that outcome, so it includes
    /// the time the consumer took to read the stream.
    #[derive(Debug)]
    pub struct BreakerStream<S> {
        #[pin]
        inner: S,
        permit: Option<Permit>,
    }
}

impl<S> BreakerStream<S> {
    /// Wraps `inner`, reporting to `permit`.
    pub fn new(inner: S, mut permit: Permit) -> Self {
        permit.ignore_drop();
        Self {
            inner,
            permit: Some(permit),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the stream; the permit is dropped, so the outcome is ignored.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> Stream for BreakerStream<S>
where
    S: Stream<Item = Result<StreamEvent, ProviderError>>,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let item = ready!(this.inner.poll_next(cx));
        match &item {
            Some(Ok(StreamEvent::Stop { .. })) | None => {
                if let Some(permit) = this.permit.take() {
                    permit.record_success();
                }
            }
            Some(Err(error)) => {
                if let Some(permit) = this.permit.take() {
                    permit.record_error(error);
                }
            }
            Some(Ok(_)) => {}
        }
        Poll::Ready(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}
