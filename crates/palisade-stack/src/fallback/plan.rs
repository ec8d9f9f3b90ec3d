//! Where a request is served soonest: the choice a fallback makes before
//! each call when it routes by expected wait (see
//! [`OverloadConfig`](super::OverloadConfig)). Pure, so its rules are tested
//! without providers or time.

use std::time::Duration;

use tokio::time::Instant;

use super::OverloadConfig;

/// What one candidate said about a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    /// Time until the candidate could start the call (rounds of a
    /// concurrency cap already turned into time).
    pub(crate) wait: Duration,
    /// How long its calls take once started.
    pub(crate) latency: Duration,
    /// It can never serve the request.
    pub(crate) never: bool,
}

impl Estimate {
    /// The time the call itself needs: its latency × `latency_headroom`.
    pub(crate) fn room(&self, config: &OverloadConfig) -> Duration {
        self.latency.mul_f64(config.latency_headroom)
    }

    /// Wait plus the room the call itself needs.
    fn finish(&self, config: &OverloadConfig) -> Duration {
        self.wait.saturating_add(self.room(config))
    }

    /// Whether the candidate can serve a request with `deadline` at `now`.
    pub(crate) fn can_serve(
        &self,
        now: Instant,
        deadline: Option<Instant>,
        config: &OverloadConfig,
    ) -> bool {
        !self.never
            && deadline.is_none_or(|d| d.saturating_duration_since(now) >= self.finish(config))
    }

    /// The last instant its call can start and still finish by `deadline`.
    pub(crate) fn last_start(
        &self,
        now: Instant,
        deadline: Option<Instant>,
        config: &OverloadConfig,
    ) -> Option<Instant> {
        deadline.map(|d| d.checked_sub(self.room(config)).unwrap_or(now))
    }
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Choice {
    /// Call the candidate at this position of the estimates, starting the
    /// call no later than `start_by` (then it moves on, or gives up).
    Call {
        at: usize,
        start_by: Option<Instant>,
    },
    /// No candidate can serve the request before its deadline.
    Unreachable {
        /// Time until the soonest candidate could start it, and its
        /// position; `None` when none ever can.
        soonest: Option<(usize, Duration)>,
    },
}

/// Chooses among `estimates` (in routing order) for a request with
/// `deadline`, at `now`.
///
/// A candidate can serve when it is not `never` and its wait plus
/// `latency_headroom` × its latency fits before the deadline. The chosen one
/// is the first in routing order whose wait is within `prefer_within` of
/// the soonest that can serve. Its `start_by` is when the next best could
/// have served the request (plus `prefer_within`), and never later than the
/// last moment its call could still finish.
pub(crate) fn choose(
    estimates: &[Estimate],
    now: Instant,
    deadline: Option<Instant>,
    config: &OverloadConfig,
) -> Choice {
    let can_serve = |e: &Estimate| e.can_serve(now, deadline, config);
    let soonest = estimates
        .iter()
        .filter(|e| can_serve(e))
        .map(|e| e.wait)
        .min();
    let Some(soonest) = soonest else {
        let soonest = estimates
            .iter()
            .enumerate()
            .filter(|(_, e)| !e.never)
            .min_by_key(|(_, e)| e.wait)
            .map(|(i, e)| (i, e.wait));
        return Choice::Unreachable { soonest };
    };
    let preferred = soonest.saturating_add(config.prefer_within);
    let Some(at) = estimates
        .iter()
        .position(|e| can_serve(e) && e.wait <= preferred)
    else {
        // Unreachable: the soonest one qualifies.
        return Choice::Unreachable { soonest: None };
    };
    let chosen = estimates[at];
    let next_best = estimates
        .iter()
        .enumerate()
        .filter(|&(i, e)| i != at && can_serve(e))
        .map(|(_, e)| e.wait)
        .min();
    let hop = next_best.map(|w| now + w.max(chosen.wait).saturating_add(config.prefer_within));
    let last_start = chosen.last_start(now, deadline, config);
    let start_by = match (hop, last_start) {
        (Some(h), Some(l)) => Some(h.min(l)),
        (h, l) => h.or(l),
    };
    Choice::Call { at, start_by }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn est(wait_ms: u64, latency_ms: u64) -> Estimate {
        Estimate {
            wait: Duration::from_millis(wait_ms),
            latency: Duration::from_millis(latency_ms),
            never: false,
        }
    }

    fn config(prefer_ms: u64) -> OverloadConfig {
        OverloadConfig {
            prefer_within: Duration::from_millis(prefer_ms),
            latency_headroom: 1.0,
            ..OverloadConfig::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_preferred_candidate_wins_within_the_tolerance() {
        let now = Instant::now();
        let c = config(1_000);
        // The first waits 800 ms, the second none: within 1 s, stay first,
        // but leave when the second could have served it (+ the tolerance).
        let choice = choose(&[est(800, 100), est(0, 100)], now, None, &c);
        assert_eq!(
            choice,
            Choice::Call {
                at: 0,
                start_by: Some(now + Duration::from_millis(1_800)),
            }
        );
        // Past the tolerance the second serves.
        let choice = choose(&[est(1_500, 100), est(0, 100)], now, None, &c);
        assert!(matches!(choice, Choice::Call { at: 1, .. }), "{choice:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_starts_only_if_it_can_finish() {
        let now = Instant::now();
        let deadline = Some(now + Duration::from_secs(10));
        let c = config(0);
        // 9 s of wait + 2 s of call does not fit 10 s; the second does.
        let choice = choose(&[est(9_000, 2_000), est(5_000, 2_000)], now, deadline, &c);
        assert_eq!(
            choice,
            Choice::Call {
                at: 1,
                start_by: Some(now + Duration::from_secs(8)),
            }
        );
        // Neither fits: unreachable, the soonest named.
        let choice = choose(&[est(9_000, 2_000), est(9_500, 2_000)], now, deadline, &c);
        assert_eq!(
            choice,
            Choice::Unreachable {
                soonest: Some((0, Duration::from_secs(9)))
            }
        );
        // Never-servable candidates are no one's soonest.
        let never = Estimate {
            never: true,
            ..est(0, 0)
        };
        assert_eq!(
            choose(&[never], now, deadline, &c),
            Choice::Unreachable { soonest: None }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_deadline_everything_servable_can_serve() {
        let now = Instant::now();
        let choice = choose(&[est(60_000, 2_000)], now, None, &config(0));
        assert_eq!(
            choice,
            Choice::Call {
                at: 0,
                start_by: None
            }
        );
    }
}
