//! The hedged pass: the candidate called first gets `delay` to answer; then
//! the next ready candidate is called too, up to `max_hedges` extra calls in
//! flight. The first success wins; the calls still running are dropped,
//! which cancels them and releases their permits, and are recorded in the
//! trail as [`SkipReason::HedgeLost`]. A failure moves on at once (no pause).

use std::pin::pin;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use palisade_core::{Attempt, AttemptOutcome, ChatRequest, ProviderError, SkipReason};
use tokio::time::Instant;
use tracing::Span;

use super::attempt::AttemptLabel;
use super::pass::{Pass, PassEnd};
use super::{Answer, Fallback, HedgeConfig};
use crate::stats::candidate::CandidateStats;

impl Fallback {
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn hedged_pass(
        &self,
        req: &ChatRequest,
        streaming: bool,
        needed: u32,
        order: &[usize],
        trail: &mut Vec<Attempt>,
        pass: &mut Pass,
        hedge: &HedgeConfig,
    ) -> PassEnd {
        let max_in_flight = 1 + hedge.max_hedges as usize;
        let mut next = 0;
        // Candidates called and still running, with when they started.
        let mut running: Vec<(usize, Instant)> = Vec::new();
        let mut calls = FuturesUnordered::new();
        let mut timer = pin!(tokio::time::sleep(hedge.delay));
        loop {
            let launch_hedge = running.is_empty();
            if launch_hedge || (timer.is_elapsed() && running.len() < max_in_flight) {
                match self.next_admitted(req, order, &mut next, needed, trail, pass) {
                    Some(pos) => {
                        if let Some(stop) = self.deadline_passed(req, pass) {
                            return stop;
                        }
                        let index = order[pos];
                        let candidate = &self.candidates[index];
                        let is_hedge = !running.is_empty();
                        if is_hedge {
                            CandidateStats::bump(&candidate.stats.hedges);
                        }
                        pass.called = true;
                        let alternatives = self.alternatives(order, pos, needed);
                        running.push((index, Instant::now()));
                        calls.push(self.launch(
                            index,
                            req.clone(),
                            streaming,
                            alternatives,
                            (trail.len() + running.len() - 1, pass.span.clone(), is_hedge),
                        ));
                        timer.as_mut().reset(Instant::now() + hedge.delay);
                    }
                    None if running.is_empty() => return pass.end(),
                    None => {}
                }
            }
            let hedging_possible = next < order.len() && running.len() < max_in_flight;
            tokio::select! {
                Some((index, result)) = calls.next() => {
                    let Some(slot) = running.iter().position(|(i, _)| *i == index) else {
                        continue;
                    };
                    let (_, started) = running.swap_remove(slot);
                    let candidate = &self.candidates[index];
                    match result {
                        Ok(answer) => {
                            // The losers are dropped with `calls` on return.
                            for (loser, loser_started) in running.drain(..) {
                                let c = &self.candidates[loser];
                                CandidateStats::bump(&c.stats.hedges_lost);
                                trail.push(
                                    Attempt::new(
                                        c.id().clone(),
                                        AttemptOutcome::Skipped(SkipReason::HedgeLost),
                                        loser_started.elapsed(),
                                    )
                                    .with_model(c.model()),
                                );
                            }
                            return PassEnd::Answered(self.succeeded(candidate, answer, started, trail));
                        }
                        Err(error) => {
                            if let Some(stop) = self.on_failure(index, req, error, started, trail, pass) {
                                return PassEnd::Stop(stop);
                            }
                        }
                    }
                }
                () = timer.as_mut(), if hedging_possible && !timer.is_elapsed() => {}
                else => return pass.end(),
            }
        }
    }

    /// The position in `order` of the next candidate that may be called,
    /// recording the skips on the way.
    fn next_admitted(
        &self,
        req: &ChatRequest,
        order: &[usize],
        next: &mut usize,
        needed: u32,
        trail: &mut Vec<Attempt>,
        pass: &mut Pass,
    ) -> Option<usize> {
        while *next < order.len() {
            let pos = *next;
            *next += 1;
            if self.admit(order[pos], req, needed, trail, pass) {
                return Some(pos);
            }
        }
        None
    }

    async fn launch(
        &self,
        index: usize,
        req: ChatRequest,
        streaming: bool,
        alternatives: super::context::Alternatives,
        (number, span, hedge): (usize, Span, bool),
    ) -> (usize, Result<Answer, ProviderError>) {
        let candidate = &self.candidates[index];
        let result = self
            .call(
                candidate,
                req,
                streaming,
                alternatives,
                AttemptLabel {
                    number,
                    parent: &span,
                    hedge,
                },
            )
            .await;
        (index, result)
    }
}
