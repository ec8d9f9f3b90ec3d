//! When to retry: how many attempts, for how long, with which backoff, under
//! which budget.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::backoff::Backoff;
use super::budget::RetryBudgetConfig;

/// The retry policy. Defaults: 3 attempts within 60 s, [`Backoff::default`],
/// [`RetryBudgetConfig::default`], deferring to a fallback.
///
/// Only errors whose kind [`is_retryable`](palisade_core::ErrorKind::is_retryable)
/// are retried, never sooner than the error's `retry_after`, and never past
/// `max_total_time` or the request's deadline: when the next attempt could not
/// start in time, the last error is returned at once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 disables retries). Default 3.
    pub max_attempts: u32,
    /// Time from the first attempt after which no retry starts. Default 60 s.
    #[serde(with = "palisade_core::duration::option")]
    pub max_total_time: Option<Duration>,
    /// Delays between attempts.
    pub backoff: Backoff,
    /// The cap on retries relative to traffic.
    pub budget: RetryBudgetConfig,
    /// Inside a [`Fallback`](crate::fallback::Fallback): when the error is
    /// Throttled, Overloaded or Unavailable and another candidate was ready
    /// when this one was called, return at once so the fallback moves on
    /// instead of waiting here. Default `true`.
    pub defer_to_fallback: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_total_time: Some(Duration::from_secs(60)),
            backoff: Backoff::default(),
            budget: RetryBudgetConfig::default(),
            defer_to_fallback: true,
        }
    }
}

impl RetryPolicy {
    /// The systems Palisade replaces: 3 attempts (their `MAX_RETRIES = 3`
    /// calls), waiting 1 s then 2 s between them (`2^n` s: the 4 s they
    /// sleep after the third failure delays nothing, so it is left out),
    /// within 60 s. [`Backoff::seed`] (`min(2^(n-1) s, 120 s)` + up to 10%),
    /// so raising `max_attempts` goes on 4 s, 8 s, … .
    ///
    /// Before issue 22 this was 5 attempts within 300 s, which no replaced
    /// system used; that policy is [`RetryPolicy::seed_patient`].
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use palisade_stack::RetryPolicy;
    /// let policy = RetryPolicy::seed();
    /// assert_eq!(policy.max_attempts, 3);
    /// let delays: Vec<_> = (1..policy.max_attempts)
    ///     .map(|retry| policy.backoff.exponential_delay(retry))
    ///     .collect();
    /// assert_eq!(delays, [Duration::from_secs(1), Duration::from_secs(2)]);
    /// ```
    pub fn seed() -> Self {
        Self {
            max_attempts: 3,
            max_total_time: Some(Duration::from_secs(60)),
            backoff: Backoff::seed(),
            ..Self::default()
        }
    }

    /// The longer form of the seed's backoff: 5 attempts within 300 s,
    /// `min(2^(n-1) s, 120 s)` + up to 10% (what [`seed`](RetryPolicy::seed)
    /// was before issue 22).
    pub fn seed_patient() -> Self {
        Self {
            max_attempts: 5,
            max_total_time: Some(Duration::from_secs(300)),
            backoff: Backoff::seed(),
            ..Self::default()
        }
    }

    /// No retries: one attempt.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Returns a copy with `max_attempts`.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// Returns a copy with `backoff`.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// Returns a copy with `max_total_time`.
    pub fn with_max_total_time(mut self, max_total_time: Option<Duration>) -> Self {
        self.max_total_time = max_total_time;
        self
    }

    /// Returns a copy with the retry budget `budget`.
    pub fn with_budget(mut self, budget: RetryBudgetConfig) -> Self {
        self.budget = budget;
        self
    }
}
