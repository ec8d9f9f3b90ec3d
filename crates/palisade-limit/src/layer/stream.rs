//! [`LimitedStream`]: holds a call's permits until its stream ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;
use palisade_core::{ProviderError, StreamEvent, TokenEstimator, Usage};

use super::error::is_provider_throttle;
use super::settle::{Ending, settle};
use crate::cost::{CostModel, TokenCounts};
use crate::set::{LimiterSet, PermitSet};

/// Output tokens charged at a time once a stream runs past its reservation:
/// one lock per this many tokens, not per delta.
const OVERRUN_STEP: u64 = 64;

/// A stream's output against its output reservation: once the deltas (their
/// heuristic token estimate) pass what the permits hold for output, the
/// excess is charged as it comes, in steps of [`OVERRUN_STEP`], so a long
/// reply pays against the quota while it runs instead of only when it
/// settles. Only for reservations with an output part
/// (`Cost::output_tokens > 0`); settling corrects to the real usage.
#[derive(Debug, Clone, Copy)]
struct Overrun {
    /// Output tokens the permits cover now (reserved plus charged).
    covered: u64,
    /// Output tokens the deltas so far are estimated at.
    seen: u64,
    /// How many times each output token counts against `tokens`.
    burndown: u64,
}

impl Overrun {
    fn new(permits: &PermitSet) -> Self {
        let cost = permits
            .permits()
            .first()
            .map(|p| p.cost())
            .unwrap_or_default();
        Self {
            covered: cost.output_tokens,
            seen: 0,
            burndown: u64::from(cost.output_burndown.max(1)),
        }
    }

    fn saw(&mut self, text: &str, permits: &mut PermitSet) {
        if self.covered == 0 {
            return;
        }
        let tokens = palisade_core::HeuristicEstimator.estimate_text(text);
        self.seen = self.seen.saturating_add(u64::from(tokens));
        if self.seen <= self.covered {
            return;
        }
        let extra = (self.seen - self.covered).div_ceil(OVERRUN_STEP) * OVERRUN_STEP;
        self.covered += extra;
        permits.charge_more(TokenCounts {
            tokens: extra.saturating_mul(self.burndown),
            input: 0,
            output: extra,
        });
    }
}

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
        // Output seen so far (estimated from the deltas), and how much of
        // it the permits have reserved or been charged for.
        streamed: Overrun,
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
        let streamed = Overrun::new(&permits);
        Self {
            inner,
            permits: Some(permits),
            usage: None,
            limiters,
            cost_model,
            streamed,
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
            Some(Ok(
                StreamEvent::TextDelta { text }
                | StreamEvent::ReasoningDelta { text, .. }
                | StreamEvent::ToolInputDelta { json: text },
            )) => {
                if let Some(permits) = this.permits.as_mut() {
                    this.streamed.saw(text, permits);
                }
            }
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
