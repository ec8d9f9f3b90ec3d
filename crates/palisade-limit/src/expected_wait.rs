//! "When could you admit this cost?" without admitting it: the limiter's
//! part of [`Provider::expected_wait`](palisade_core::Provider::expected_wait).
//!
//! The answer reads the state under the lock and changes nothing: every
//! quota dimension's schedule (GCRA: when its theoretical arrival time,
//! pushed on by the queue ahead, comes within the bucket's tolerance), token
//! debt (already in that schedule), a provider's cooldown, and a concurrency
//! cap (as rounds of calls to finish: the limiter does not know how long a
//! call takes; the router does). The queue ahead is the waiters of the same
//! and higher priorities. Refunds still to come are not foreseen, so the
//! estimate errs late, never early, for the rate limits.

use std::time::Duration;

use palisade_core::{ExpectedWait, Priority};

use crate::cost::Cost;
use crate::limiter::Limiter;
use crate::set::LimiterSet;

impl Limiter {
    /// When a request costing `cost` at `priority` could be admitted, if it
    /// asked now: nothing is reserved or queued.
    ///
    /// A limiter backed by a shared store answers from the configured
    /// capacity only (a cost no quota can hold is `never`; anything else is
    /// now): the store's state is a round trip away.
    ///
    /// ```
    /// use std::time::Duration;
    /// use palisade_core::Priority;
    /// use palisade_limit::{Cost, Limiter, LimiterConfig, Quota};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let limiter = Limiter::new(
    ///     LimiterConfig::default().with_requests(Quota::per_minute(60).with_burst(1)),
    /// )?;
    /// assert!(limiter.expected_wait(Cost::request(), Priority::Normal).is_now());
    /// let _permit = limiter.try_acquire(Cost::request())?;
    /// // One request a second: the next one fits in a second.
    /// let wait = limiter.expected_wait(Cost::request(), Priority::Normal);
    /// assert_eq!(wait.wait, Duration::from_secs(1));
    /// assert_eq!(wait.reason, Some("requests"));
    /// # Ok(()) }
    /// ```
    pub fn expected_wait(&self, cost: Cost, priority: Priority) -> ExpectedWait {
        let shared = &self.shared;
        let counts = cost.counts();
        if let Some(remote) = &shared.remote {
            return match remote.capacity.check_possible(counts) {
                Ok(()) => ExpectedWait::NOW,
                Err(imp) => ExpectedWait::never(imp.limit.as_str()),
            };
        }
        let now = shared.clock.now();
        let core = shared.core.lock();
        if let Err(imp) = core.limits.check_possible(counts) {
            return ExpectedWait::never(imp.limit.as_str());
        }
        let (ahead, ahead_counts) = core.queue.ahead_of(priority.rank());
        let (at, binding, rounds) = core.limits.expected_at(now, counts, ahead, ahead_counts);
        drop(core);
        let mut wait = match binding {
            Some(limit) => ExpectedWait::after(Duration::from_nanos(at - now), limit.as_str()),
            None => ExpectedWait::NOW,
        };
        if rounds > 0 {
            wait = wait.with_rounds(rounds, "concurrency");
        }
        wait
    }
}

impl LimiterSet {
    /// The longest [`Limiter::expected_wait`] of the set's limiters.
    pub fn expected_wait(&self, cost: Cost, priority: Priority) -> ExpectedWait {
        self.limiters().iter().fold(ExpectedWait::NOW, |w, l| {
            w.and(l.expected_wait(cost, priority))
        })
    }
}
