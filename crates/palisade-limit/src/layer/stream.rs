//! [`LimitedStream`]: holds a call's permits until its stream ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use palisade_core::{ProviderError, StreamEvent, Usage};

use super::error::is_provider_throttle;
use super::settle::{Ending, settle};
use crate::cost::CostModel;
use crate::set::{LimiterSet, PermitSet};

pin_project_lite::pin_project! {
    /// A provider's stream with the call's permits attached.
    ///
    /// The permits are held while events flow (a stream occupies a
    /// concurrency slot until it ends), then settled from the last
    /// [`StreamEvent::Usage`] seen when the stream ends, errors, or is
    /// dropped. Without usage, a stream that ran to its end keeps its
    /// reservation and one that failed or was dropped follows the limiter's
    /// drop rule.
    pub struct LimitedStream<S> {
        #[pin]
        inner: S,
        permits: Option<PermitSet>,
        usage: Option<Usage>,
        limiters: LimiterSet,
        cost_model: Option<Arc<dyn CostModel>>,
    }

    impl<S> PinnedDrop for LimitedStream<S> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            finish(this.permits, this.usage, this.cost_model, Ending::Cut);
        }
    }
}

impl<S> LimitedStream<S> {
    /// Attaches `permits` to `inner`.
    pub fn new(
        inner: S,
        permits: PermitSet,
        limiters: LimiterSet,
        cost_model: Option<Arc<dyn CostModel>>,
    ) -> Self {
        Self {
            inner,
            permits: Some(permits),
            usage: None,
            limiters,
            cost_model,
        }
    }

    /// Whether the permits are still held (the stream has not ended).
    pub fn holds_permits(&self) -> bool {
        self.permits.is_some()
    }
}

impl<S: std::fmt::Debug> std::fmt::Debug for LimitedStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitedStream")
            .field("inner", &self.inner)
            .field("permits", &self.permits)
            .field("usage", &self.usage)
            .finish_non_exhaustive()
    }
}

/// Settles the permits once, when the stream ends, fails or is dropped.
fn finish(
    permits: &mut Option<PermitSet>,
    usage: &Option<Usage>,
    cost_model: &Option<Arc<dyn CostModel>>,
    ending: Ending,
) {
    if let Some(permits) = permits.take() {
        settle(permits, *usage, cost_model.as_ref(), ending);
    }
}

impl<S> Stream for LimitedStream<S>
where
    S: Stream<Item = Result<StreamEvent, ProviderError>>,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.project();
        let item = std::task::ready!(this.inner.poll_next(cx));
        match &item {
            Some(Ok(StreamEvent::Usage(u))) => *this.usage = Some(*u),
            Some(Ok(_)) => {}
            Some(Err(err)) => {
                if let Some(snapshot) = err.rate_limit() {
                    this.limiters.observe_rate_limit(snapshot);
                }
                if is_provider_throttle(err) {
                    this.limiters.record_throttle(err.retry_after());
                }
                finish(this.permits, this.usage, this.cost_model, Ending::Cut);
            }
            None => finish(this.permits, this.usage, this.cost_model, Ending::Completed),
        }
        Poll::Ready(item)
    }
}
