//! One pass over the candidates in routing order: skip, call, record, move on.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::{Attempt, ChatRequest, ProviderError, Readiness, SkipReason};
use tokio::time::Instant;
use tracing::Span;

use super::{Answer, AttemptLabel, Fallback, context, skip};
use crate::stats::candidate::CandidateStats;
use crate::telemetry;
use crate::timeout::TimeoutError;

/// How one pass over the candidates ended.
pub(crate) enum PassEnd {
    Answered(Answer),
    /// An error that ends the request.
    Stop(ProviderError),
    /// Nobody answered; `recovery` is when the earliest unavailable candidate
    /// is expected back, `None` when some candidate failed for good.
    Exhausted {
        recovery: Option<Duration>,
    },
    /// Routed by expected wait, no candidate can serve the request before
    /// its deadline: refuse it now. `soonest` is the candidate (index) that
    /// could start it first, and when.
    Shed {
        time_left: Duration,
        soonest: Option<(usize, Duration)>,
    },
}

/// What a pass has learned so far.
pub(crate) struct Pass {
    pub(crate) called: bool,
    /// Whether a call reached a provider (answered, or failed with the
    /// provider's error rather than a layer's local refusal): only such
    /// passes count against `max_rounds`.
    pub(crate) reached_provider: bool,
    /// Earliest expected recovery of an unavailable candidate.
    pub(crate) recovery: Option<Duration>,
    /// Candidates (indices) that failed with no recovery in sight during
    /// this request: later passes leave them out.
    pub(crate) dead: Vec<usize>,
    pub(crate) last_error: Option<ProviderError>,
    /// The call's span, parent of the attempts' spans and events.
    pub(crate) span: Span,
}

impl Pass {
    pub(super) fn recovers_in(&mut self, d: Duration) {
        self.recovery = Some(self.recovery.map_or(d, |r| r.min(d)));
    }

    pub(crate) fn end(&self) -> PassEnd {
        PassEnd::Exhausted {
            recovery: self.recovery,
        }
    }
}

impl Fallback {
    pub(super) async fn sequential_pass(
        &self,
        req: &ChatRequest,
        streaming: bool,
        needed: u32,
        order: &[usize],
        trail: &mut Vec<Attempt>,
        pass: &mut Pass,
    ) -> PassEnd {
        for (pos, &index) in order.iter().enumerate() {
            if !self.admit(index, req, needed, trail, pass) {
                continue;
            }
            if let Some(stop) = self.deadline_passed(req, pass) {
                return stop;
            }
            let rest = &order[(pos + 1).min(order.len())..];
            if let Some(end) = self
                .attempt(index, None, req, streaming, needed, rest, None, trail, pass)
                .await
            {
                return end;
            }
        }
        pass.end()
    }

    /// Calls candidate `index` (starting by `start_by`), with `rest` the
    /// candidates it could move on to, after the fallback's `pause` when an
    /// earlier call of the pass failed; a success records the conversation's
    /// `prefix` for cache affinity. `Some` when the call ends the pass.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn attempt(
        &self,
        index: usize,
        start_by: Option<Instant>,
        req: &ChatRequest,
        streaming: bool,
        needed: u32,
        rest: &[usize],
        prefix: Option<u64>,
        trail: &mut Vec<Attempt>,
        pass: &mut Pass,
    ) -> Option<PassEnd> {
        let candidate = &self.candidates[index];
        if pass.called && !self.config.pause.is_zero() {
            let until = Instant::now() + self.config.pause;
            let deadline = req.metadata.deadline;
            Box::pin(tokio::time::sleep_until(
                deadline.map_or(until, |d| d.min(until)),
            ))
            .await;
            if let Some(stop) = self.deadline_passed(req, pass) {
                return Some(stop);
            }
        }
        pass.called = true;
        let mut call = req.clone();
        call.metadata.start_by = match (req.metadata.start_by, start_by) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let started = Instant::now();
        let result = self
            .call(
                candidate,
                call,
                streaming,
                self.alternatives_among(rest, needed),
                AttemptLabel {
                    number: trail.len(),
                    parent: &pass.span,
                    hedge: false,
                },
            )
            .await;
        match result {
            Ok(answer) => {
                if let Some(key) = prefix {
                    self.affinity
                        .record(key, index, self.config.overload.cache_affinity);
                }
                Some(PassEnd::Answered(
                    self.succeeded(candidate, answer, started, trail),
                ))
            }
            Err(error) => self
                .on_failure(index, req, error, started, trail, pass)
                .map(PassEnd::Stop),
        }
    }

    /// Whether `candidate` may be called; records the skip when not.
    pub(crate) fn admit(
        &self,
        index: usize,
        req: &ChatRequest,
        needed: u32,
        trail: &mut Vec<Attempt>,
        pass: &mut Pass,
    ) -> bool {
        if pass.dead.contains(&index) {
            return false;
        }
        let candidate = &self.candidates[index];
        // A tier pool below the tier the request asks for may not serve it.
        if !candidate.serves_tier(req.service_tier) {
            CandidateStats::bump(&candidate.stats.skipped_unsupported);
            telemetry::skipped(&pass.span, candidate.id(), "unsupported", None);
            trail.push(skip(
                candidate,
                SkipReason::Unsupported {
                    feature: palisade_core::Feature::ServiceTier,
                    field: "service_tier".to_owned(),
                },
            ));
            return false;
        }
        // A candidate that cannot carry a field the request uses would
        // refuse it (or drop it): pass it over, saying which field. A tier
        // pool is checked with its own tier, the one its calls carry.
        let checked = match candidate.tier() {
            Some(tier) if req.service_tier != Some(tier) => {
                let mut pinned = req.clone();
                pinned.service_tier = Some(tier);
                candidate.provider().capabilities().check(&pinned)
            }
            _ => candidate.provider().capabilities().check(req),
        };
        if let Err(unsupported) = checked {
            CandidateStats::bump(&candidate.stats.skipped_unsupported);
            telemetry::skipped(&pass.span, candidate.id(), "unsupported", None);
            trail.push(skip(
                candidate,
                SkipReason::Unsupported {
                    feature: unsupported.feature,
                    field: unsupported.field,
                },
            ));
            return false;
        }
        if let Some(window) = candidate.context_window()
            && self.config.context_window_fallback
            && needed > window
        {
            CandidateStats::bump(&candidate.stats.skipped_context_window);
            telemetry::skipped(&pass.span, candidate.id(), "context_window", None);
            trail.push(skip(
                candidate,
                SkipReason::ContextWindowTooSmall { needed, window },
            ));
            return false;
        }
        if let Readiness::Unavailable { retry_after } = candidate.readiness() {
            let (counter, reason) = if candidate.cooldown_remaining().is_some() {
                (&candidate.stats.skipped_cooldown, "cooldown")
            } else {
                (&candidate.stats.skipped_unavailable, "unavailable")
            };
            CandidateStats::bump(counter);
            telemetry::skipped(&pass.span, candidate.id(), reason, Some(retry_after));
            trail.push(skip(candidate, SkipReason::Unavailable { retry_after }));
            pass.recovers_in(retry_after);
            return false;
        }
        true
    }

    /// The candidates after position `pos` of `order`, for the retry layer
    /// to check if the call fails.
    pub(crate) fn alternatives(
        &self,
        order: &[usize],
        pos: usize,
        needed: u32,
    ) -> context::Alternatives {
        self.alternatives_among(&order[(pos + 1).min(order.len())..], needed)
    }

    /// The candidates `rest`, for the retry layer to check if the call fails.
    pub(crate) fn alternatives_among(&self, rest: &[usize], needed: u32) -> context::Alternatives {
        let rest = if self.candidates.len() <= 64 {
            context::Rest::Mask(rest.iter().fold(0, |mask, &i| mask | (1 << i)))
        } else {
            context::Rest::List(rest.to_vec())
        };
        context::Alternatives {
            candidates: Arc::clone(&self.candidates),
            rest,
            needed,
        }
    }

    pub(super) fn deadline_passed(&self, req: &ChatRequest, pass: &mut Pass) -> Option<PassEnd> {
        let deadline = req.metadata.deadline?;
        if Instant::now() < deadline {
            return None;
        }
        Some(PassEnd::Stop(pass.last_error.take().unwrap_or_else(|| {
            TimeoutError::DeadlineElapsed {
                provider: self.id.clone(),
            }
            .into_provider_error()
        })))
    }
}
