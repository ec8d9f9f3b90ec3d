//! One candidate call: the future that runs it, and what is recorded when it
//! ends (stats, cooldown, the attempts trail).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::StreamExt;
use palisade_core::{
    Attempt, AttemptOutcome, ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider,
    ProviderError, StreamEvent,
};
use tokio::time::Instant;
use tracing::Span;

use super::pass::Pass;
use super::{Answer, Candidate, Fallback, context};
use crate::first_event::first_event;
use crate::stats::candidate::CandidateStats;
use crate::telemetry;

type Boxed<'a, T> = Pin<Box<dyn Future<Output = Result<T, ProviderError>> + Send + 'a>>;

/// How an attempt is named in its span.
#[derive(Clone, Copy)]
pub(crate) struct AttemptLabel<'s> {
    /// Its position in the attempts trail (0-based).
    pub(crate) number: usize,
    /// The call's span.
    pub(crate) parent: &'s Span,
    /// Whether it is a hedged call.
    pub(crate) hedge: bool,
}

/// A candidate call in progress: the provider's boxed future, whichever
/// kind of call it is.
enum CallFuture<'a> {
    Complete(Boxed<'a, ChatResponse>),
    Stream(Boxed<'a, ChatStream>),
}

impl Future for CallFuture<'_> {
    type Output = Result<Answer, ProviderError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            CallFuture::Complete(f) => f.as_mut().poll(cx).map_ok(Answer::Response),
            CallFuture::Stream(f) => f.as_mut().poll(cx).map_ok(Answer::Stream),
        }
    }
}

/// One candidate call with everything around it: the attempt span entered,
/// the alternatives visible to the retry layer, the in-flight count held
/// until it ends or is dropped. One future rather than a stack of adapters,
/// because each adapter copies the answer on its way out.
struct AttemptFuture<'a> {
    call: CallFuture<'a>,
    alternatives: context::Alternatives,
    span: Span,
    _in_flight: crate::stats::candidate::InFlightGuard<'a>,
}

impl Future for AttemptFuture<'_> {
    type Output = Result<Answer, ProviderError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        let call = &mut this.call;
        let poll = context::scope_sync(this.alternatives.clone(), || Pin::new(call).poll(cx));
        if let Poll::Ready(Err(error)) = &poll {
            telemetry::record_error(&this.span, error);
        }
        poll
    }
}

impl Fallback {
    /// Calls one candidate, counted and traced.
    ///
    /// Built from the provider's own (already boxed) future without an async
    /// block, so this future stays small: every layer above boxes and moves
    /// the futures it holds, and their size is most of a call's overhead.
    pub(crate) fn call<'a>(
        &'a self,
        candidate: &'a Candidate,
        req: ChatRequest,
        streaming: bool,
        alternatives: context::Alternatives,
        label: AttemptLabel<'_>,
    ) -> impl Future<Output = Result<Answer, ProviderError>> + Send + 'a {
        let mut req = req;
        if let Some(tier) = candidate.tier() {
            req.service_tier = Some(tier);
        }
        let in_flight = candidate.stats.start_call();
        let provider: &'a dyn Provider = &**candidate.provider();
        let span = telemetry::attempt_span(
            label.parent,
            candidate.id(),
            candidate.model(),
            label.number + 1,
            label.hedge,
        );
        let call = if streaming {
            CallFuture::Stream(Box::pin(async move {
                first_event(provider.stream(req).await).await
            }))
        } else {
            CallFuture::Complete(provider.complete(req))
        };
        AttemptFuture {
            call,
            alternatives,
            span,
            _in_flight: in_flight,
        }
    }

    pub(crate) fn succeeded(
        &self,
        candidate: &Candidate,
        answer: Answer,
        started: Instant,
        trail: &mut Vec<Attempt>,
    ) -> Answer {
        let elapsed = started.elapsed();
        candidate.stats.record_latency(elapsed);
        if !trail.is_empty() {
            CandidateStats::bump(&candidate.stats.fallbacks_in);
        }
        match answer {
            Answer::Response(mut response) => {
                // One id per candidate: the answer says which candidate served
                // it; `model` keeps what the provider named.
                response.served_by = candidate.id().clone();
                trail.push(
                    Attempt::new(candidate.id().clone(), AttemptOutcome::Succeeded, elapsed)
                        .with_model(response.model.clone()),
                );
                let cost = response
                    .usage
                    .as_ref()
                    .and_then(|u| candidate.price().map(|p| p.cost(u)));
                candidate
                    .stats
                    .record_success(response.usage.as_ref(), cost);
                telemetry::attempt_finished(
                    candidate.id(),
                    Ok(response.usage.as_ref()),
                    elapsed,
                    cost,
                );
                merge_trail(trail, &mut response.attempts);
                Answer::Response(response)
            }
            Answer::Stream(mut stream) => {
                trail.push(
                    Attempt::new(candidate.id().clone(), AttemptOutcome::Succeeded, elapsed)
                        .with_model(stream.model()),
                );
                merge_trail(trail, stream.attempts_mut());
                let stream = stream.with_served_by(candidate.id().clone());
                candidate.stats.record_success(None, None);
                telemetry::attempt_finished(candidate.id(), Ok(None), elapsed, None);
                let stats = Arc::clone(&candidate.stats);
                let price = candidate.price().copied();
                Answer::Stream(stream.map_events(|events| {
                    events.inspect(move |item| {
                        if let Ok(StreamEvent::Usage(u)) = item {
                            stats.record_usage(u, price.map(|p| p.cost(u)));
                        }
                    })
                }))
            }
        }
    }

    /// Records a failed call; returns the error when it ends the request.
    pub(crate) fn on_failure(
        &self,
        index: usize,
        req: &ChatRequest,
        error: ProviderError,
        started: Instant,
        trail: &mut Vec<Attempt>,
        pass: &mut Pass,
    ) -> Option<ProviderError> {
        let candidate = &self.candidates[index];
        let elapsed = started.elapsed();
        let stats = &candidate.stats;
        stats.record_latency(elapsed);
        stats.record_failure(error.kind(), error.origin());
        if error.origin() == palisade_core::ErrorOrigin::Provider {
            pass.reached_provider = true;
        }
        telemetry::attempt_finished(candidate.id(), Err(error.kind()), elapsed, None);
        // One id per candidate: the error names the candidate it came from.
        let error = error.with_provider(candidate.id().clone());
        trail.push(
            Attempt::new(
                candidate.id().clone(),
                AttemptOutcome::Failed {
                    kind: error.kind(),
                    message: error.message().to_owned(),
                },
                elapsed,
            )
            .with_model(candidate.model()),
        );
        match self.recovery_of(candidate, &error) {
            Some(recovery) => {
                if self.config.cooldown.enabled {
                    stats.cool_down(recovery.min(self.config.cooldown.max));
                }
                pass.recovers_in(recovery);
            }
            // Healthy, only full: neither cooled down nor left out.
            None => match self.slot_wait(index, req, &error) {
                Some(wait) => pass.recovers_in(wait),
                None => pass.dead.push(index),
            },
        }
        let moves_on = error.is_fallback_eligible()
            || (self.config.content_policy_fallback && error.kind() == ErrorKind::ContentFiltered);
        if !moves_on {
            return Some(error);
        }
        CandidateStats::bump(&stats.fallbacks_out);
        telemetry::fell_back(&pass.span, candidate.id(), &error);
        pass.last_error = Some(error);
        None
    }

    /// When a candidate that a local limit refused without saying when (a
    /// concurrency cap: a slot frees when a call ends, which no clock
    /// predicts, so the refusal has no `retry_after`) can expect a slot:
    /// its expected wait with each round at its call latency, at least a
    /// tenth of that latency (so a wait that reads zero while the limiter
    /// still refuses polls at most ten times a call). `None` until a call
    /// latency is known (measured by the candidate's rate-limit layer, or
    /// `overload.initial_latency`): until then the refusal ends the
    /// candidate's part in the request, as before.
    fn slot_wait(
        &self,
        index: usize,
        req: &ChatRequest,
        error: &ProviderError,
    ) -> Option<Duration> {
        let full = error.origin() == palisade_core::ErrorOrigin::Layer
            && error.kind() == ErrorKind::Throttled
            && error.retry_after().is_none();
        if !full {
            return None;
        }
        // The limit layer's latency of admitted calls, not the fallback's
        // average of attempts: that one counts these refusals too.
        let expected = self.candidates[index].provider().expected_wait(req);
        let initial = self.config.overload.initial_latency;
        let latency = expected
            .call_latency
            .or((!initial.is_zero()).then_some(initial))?;
        (!expected.never).then(|| expected.total(latency).max(latency / 10))
    }

    /// When a failed candidate is expected to take calls again, if known.
    fn recovery_of(&self, candidate: &Candidate, error: &ProviderError) -> Option<Duration> {
        if !error.is_retryable() {
            return None;
        }
        let pausing = matches!(
            error.kind(),
            ErrorKind::Throttled | ErrorKind::Overloaded | ErrorKind::Unavailable
        );
        // The candidate's own cooldown first: the seed systems cool the
        // primary down longer than its fallbacks.
        let default = candidate.cooldown().unwrap_or(self.config.cooldown.default);
        match error.retry_after() {
            Some(after) => Some(after),
            None if pausing && !default.is_zero() => Some(default),
            None => None,
        }
    }
}

/// Puts the trail so far in front of an answer's own (a nested fallback's),
/// whose entries replace our last one (the nested fallback as a whole), and
/// leaves the whole trail in `answer`.
fn merge_trail(trail: &mut Vec<Attempt>, answer: &mut Vec<Attempt>) {
    if !answer.is_empty() {
        trail.pop();
        trail.append(answer);
    }
    *answer = std::mem::take(trail);
}
