//! One pass routed by expected wait (see
//! [`OverloadConfig`](super::OverloadConfig)): before each call the
//! candidates not yet tried say when they could start the request, and it
//! goes where it is served soonest within the routing order's preference,
//! queueing there only until another could have served it.

use std::time::Duration;

use palisade_core::{Attempt, ChatRequest};
use tokio::time::Instant;

use super::Fallback;
use super::affinity::prefix_keys;
use super::plan::{Choice, Estimate, choose};
use crate::fallback::pass::{Pass, PassEnd};

impl Fallback {
    pub(super) async fn routed_pass(
        &self,
        req: &ChatRequest,
        streaming: bool,
        needed: u32,
        order: &[usize],
        trail: &mut Vec<Attempt>,
        pass: &mut Pass,
    ) -> PassEnd {
        let capacity = self.config.overload.cache_affinity;
        // Every cache point's prefix is looked up, longest first (the one the
        // conversation's previous turn ended with is usually its
        // second-to-last); the last one is what an answer records.
        let keys = if capacity > 0 {
            prefix_keys(req)
        } else {
            Vec::new()
        };
        let prefix = keys.last().copied();
        let remembered = || keys.iter().rev().find_map(|&key| self.affinity.lookup(key));
        // The common case first, without allocating: the first candidate in
        // routing order can start the call now (and no other one holds the
        // conversation's cache), so nothing is sooner.
        let mut start = 0;
        let mut first_checked = false;
        let sticky = remembered();
        if let Some(&first) = order.first()
            && sticky.is_none_or(|s| s == first)
        {
            if !self.admit(first, req, needed, trail, pass) {
                start = 1;
            } else {
                first_checked = true;
                let now = Instant::now();
                let e = self.estimate(first, req);
                let overload = &self.config.overload;
                let deadline = req.metadata.deadline;
                if e.wait.is_zero() && e.can_serve(now, deadline, overload) {
                    let start_by = e.last_start(now, deadline, overload);
                    if let Some(end) = self
                        .attempt(
                            first,
                            start_by,
                            req,
                            streaming,
                            needed,
                            &order[1..],
                            prefix,
                            trail,
                            pass,
                        )
                        .await
                    {
                        return end;
                    }
                    start = 1;
                    first_checked = false;
                }
            }
        }
        let mut left: Vec<usize> = order[start.min(order.len())..].to_vec();
        // Which of `left` passed the skips (context window, capabilities,
        // open breakers): each is checked once per pass, and only when the
        // choice gets to it, so the trail records skips as routing order
        // would.
        let mut checked = vec![false; left.len()];
        if first_checked && start == 0 && !checked.is_empty() {
            checked[0] = true;
        }
        let mut estimates = Vec::with_capacity(left.len());
        while !left.is_empty() {
            if let Some(stop) = self.deadline_passed(req, pass) {
                return stop;
            }
            let now = Instant::now();
            let deadline = req.metadata.deadline;
            let sticky = remembered();
            let choice = self.choose(
                req,
                needed,
                sticky,
                (&mut left, &mut checked),
                now,
                deadline,
                &mut estimates,
                (trail, pass),
            );
            if left.is_empty() {
                break;
            }
            let (at, start_by) = match choice {
                Choice::Call { at, start_by } => (at, start_by),
                Choice::Unreachable { soonest }
                    if self.config.overload.shed && deadline.is_some() =>
                {
                    let time_left =
                        deadline.map_or(Duration::ZERO, |d| d.saturating_duration_since(now));
                    return PassEnd::Shed {
                        time_left,
                        soonest: soonest.map(|(at, wait)| (left[at], wait)),
                    };
                }
                // Not shedding: the first in order waits its deadline out.
                Choice::Unreachable { .. } => (0, None),
            };
            let index = left.remove(at);
            checked.remove(at);
            if let Some(end) = self
                .attempt(
                    index, start_by, req, streaming, needed, &left, prefix, trail, pass,
                )
                .await
            {
                return end;
            }
        }
        pass.end()
    }

    /// Asks the candidates `left` and chooses. The first one answering "now"
    /// is taken without asking the others: nothing is sooner, and it is
    /// first in routing order.
    ///
    /// Candidates not checked yet are checked first; those skipped leave
    /// `left` (recorded in the trail), so positions in the choice are
    /// positions in `left` as it is afterwards.
    #[allow(clippy::too_many_arguments)]
    fn choose(
        &self,
        req: &ChatRequest,
        needed: u32,
        sticky: Option<usize>,
        (left, checked): (&mut Vec<usize>, &mut Vec<bool>),
        now: Instant,
        deadline: Option<Instant>,
        estimates: &mut Vec<Estimate>,
        (trail, pass): (&mut Vec<Attempt>, &mut Pass),
    ) -> Choice {
        estimates.clear();
        // The candidate holding the conversation's cached prefix serves it
        // whenever it can in time.
        if let Some(at) = sticky.and_then(|s| left.iter().position(|&i| i == s)) {
            let fits_checks = checked[at] || self.admit(left[at], req, needed, trail, pass);
            if fits_checks {
                checked[at] = true;
                let e = self.estimate(left[at], req);
                let overload = &self.config.overload;
                if e.can_serve(now, deadline, overload) {
                    return Choice::Call {
                        at,
                        start_by: e.last_start(now, deadline, overload),
                    };
                }
            } else {
                left.remove(at);
                checked.remove(at);
            }
        }
        let mut i = 0;
        while i < left.len() {
            let index = left[i];
            if !checked[i] {
                if !self.admit(index, req, needed, trail, pass) {
                    left.remove(i);
                    checked.remove(i);
                    continue;
                }
                checked[i] = true;
            }
            i += 1;
            let e = self.estimate(index, req);
            let overload = &self.config.overload;
            if estimates.is_empty() && e.wait.is_zero() && e.can_serve(now, deadline, overload) {
                return Choice::Call {
                    at: i - 1,
                    start_by: e.last_start(now, deadline, overload),
                };
            }
            estimates.push(e);
        }
        choose(estimates, now, deadline, &self.config.overload)
    }

    /// One candidate's [`Estimate`] for `req`.
    fn estimate(&self, index: usize, req: &ChatRequest) -> Estimate {
        let candidate = &self.candidates[index];
        let expected = candidate.provider().expected_wait(req);
        let latency = expected
            .call_latency
            .or_else(|| candidate.latency_ewma())
            .unwrap_or(self.config.overload.initial_latency);
        Estimate {
            wait: expected.total(latency),
            latency,
            never: expected.never,
        }
    }
}
