//! "When could you serve this request?": a provider's, or a layer's, answer
//! without side effects, so a router can send a request where it is served
//! soonest and refuse at once what nobody can serve before its deadline.

use std::time::Duration;

/// How long a provider expects a request to wait before its call starts.
///
/// Two parts, because a router can turn only one of them into time by
/// itself: `wait` is time-based (a rate limit's schedule, a cooldown, an open
/// breaker) and exact as far as the state it was read from goes; `rounds`
/// counts calls in flight that must finish, one after another per
/// concurrency slot, before a slot frees (a concurrency cap and the queue in
/// front of it). A router multiplies `rounds` by the provider's expected call
/// latency, which it learns.
///
/// ```
/// use std::time::Duration;
/// use palisade_core::ExpectedWait;
///
/// let limiter = ExpectedWait::after(Duration::from_secs(2), "requests");
/// let breaker = ExpectedWait::NOW;
/// let both = limiter.and(breaker);
/// assert_eq!(both.wait, Duration::from_secs(2));
/// assert_eq!(both.reason, Some("requests"));
/// assert!(!both.never);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpectedWait {
    /// Time until the time-based limits admit the request.
    pub wait: Duration,
    /// Calls that must finish before a concurrency slot frees, per slot.
    pub rounds: u32,
    /// What binds (`"requests"`, `"tokens"`, `"breaker_open"`, …; the same
    /// names as the errors and stats), `None` when nothing does.
    pub reason: Option<&'static str>,
    /// The request can never be served here (it costs more than a quota holds).
    pub never: bool,
    /// How long a call takes here once it starts, as a layer that sees calls
    /// start and end measured it (a rate-limit layer does: its queue is not
    /// in it); a high estimate rather than the mean, for deadline decisions.
    /// `None` when nothing measured it yet.
    pub call_latency: Option<Duration>,
}

impl ExpectedWait {
    /// Served now.
    pub const NOW: ExpectedWait = ExpectedWait {
        wait: Duration::ZERO,
        rounds: 0,
        reason: None,
        never: false,
        call_latency: None,
    };

    /// Served after `wait`, held back by `reason`.
    pub fn after(wait: Duration, reason: &'static str) -> Self {
        Self {
            wait,
            rounds: 0,
            reason: (!wait.is_zero()).then_some(reason),
            never: false,
            call_latency: None,
        }
    }

    /// Never served here, because of `reason`.
    pub fn never(reason: &'static str) -> Self {
        Self {
            wait: Duration::MAX,
            rounds: 0,
            reason: Some(reason),
            never: true,
            call_latency: None,
        }
    }

    /// Served once `rounds` calls per slot have finished (and after `wait`).
    pub fn with_rounds(mut self, rounds: u32, reason: &'static str) -> Self {
        if rounds > self.rounds {
            self.rounds = rounds;
            if self.reason.is_none() || self.wait.is_zero() {
                self.reason = Some(reason);
            }
        }
        self
    }

    /// What [`Readiness`](crate::Readiness) alone says: now, or after its
    /// `retry_after` (`reason` `"unavailable"`).
    pub fn from_readiness(readiness: crate::Readiness) -> Self {
        match readiness {
            crate::Readiness::Ready => Self::NOW,
            crate::Readiness::Unavailable { retry_after } => {
                Self::after(retry_after, "unavailable")
            }
        }
    }

    /// Both must let the request through: the later of the two waits, the
    /// more rounds, never if either says never. The reason is the one that
    /// binds longer.
    pub fn and(self, other: ExpectedWait) -> ExpectedWait {
        let reason = if other.never && !self.never {
            other.reason
        } else if self.never && !other.never {
            self.reason
        } else if other.wait > self.wait || (self.reason.is_none() && other.rounds > 0) {
            other.reason.or(self.reason)
        } else {
            self.reason.or(other.reason)
        };
        ExpectedWait {
            wait: self.wait.max(other.wait),
            rounds: self.rounds.max(other.rounds),
            reason,
            never: self.never || other.never,
            call_latency: match (self.call_latency, other.call_latency) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// With a measured call latency (see [`call_latency`](Self::call_latency)).
    pub fn with_call_latency(mut self, latency: Option<Duration>) -> Self {
        self.call_latency = latency.or(self.call_latency);
        self
    }

    /// Whether nothing holds the request back.
    pub fn is_now(&self) -> bool {
        !self.never && self.wait.is_zero() && self.rounds == 0
    }

    /// The whole wait in time, with each round costing `call_latency`
    /// (saturating; `Duration::MAX` when never).
    pub fn total(&self, call_latency: Duration) -> Duration {
        if self.never {
            return Duration::MAX;
        }
        self.wait
            .saturating_add(call_latency.saturating_mul(self.rounds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_later_wait_binds_and_never_wins() {
        let a = ExpectedWait::after(Duration::from_secs(1), "requests");
        let b = ExpectedWait::after(Duration::from_secs(3), "tokens");
        assert_eq!(a.and(b).reason, Some("tokens"));
        assert_eq!(b.and(a).reason, Some("tokens"));
        assert_eq!(a.and(b).wait, Duration::from_secs(3));
        let never = ExpectedWait::never("tokens");
        assert!(a.and(never).never);
        assert_eq!(a.and(never).total(Duration::from_secs(1)), Duration::MAX);
        assert!(ExpectedWait::NOW.and(ExpectedWait::NOW).is_now());
        assert_eq!(ExpectedWait::after(Duration::ZERO, "requests").reason, None);
    }

    #[test]
    fn rounds_cost_a_call_latency_each() {
        let w =
            ExpectedWait::after(Duration::from_secs(1), "requests").with_rounds(2, "concurrency");
        assert_eq!(w.total(Duration::from_millis(500)), Duration::from_secs(2));
        assert_eq!(w.reason, Some("requests"));
        let only_rounds = ExpectedWait::NOW.with_rounds(1, "concurrency");
        assert_eq!(only_rounds.reason, Some("concurrency"));
        assert!(!only_rounds.is_now());
        let combined = ExpectedWait::NOW.and(only_rounds);
        assert_eq!(combined.reason, Some("concurrency"));
    }
}
