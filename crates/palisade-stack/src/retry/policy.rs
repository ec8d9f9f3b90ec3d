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
    /// The seed systems' policy: 5 attempts, `min(2^n s, 120 s)` + up to 10%.
    pub fn seed() -> Self {
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
