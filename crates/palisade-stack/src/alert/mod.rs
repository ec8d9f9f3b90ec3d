//! Alert-only thresholds: spend per calendar month (UTC) and failed calls per
//! window. An alert never refuses a call (that is the [`budget`](crate::budget)'s
//! job); it tells someone, once per crossing, through every callback given to
//! [`StackBuilder::on_alert`](crate::StackBuilder::on_alert) and a `warn`
//! event on target `palisade_stack::alert`.
//!
//! - **Monthly spend** (`monthly_spend_usd`, the replaced sidecar's
//!   `MONTHLY_BUDGET_ALERT`): answers are priced the way the budget prices
//!   them (the same table: `[prices]` plus each candidate's own `price`), and
//!   summed per calendar month in UTC, read from a [`UtcClock`]. The alert
//!   fires when the month's spend reaches the threshold, and re-arms when the
//!   month changes.
//! - **Failures** (`failures = { count, window }`): a failure is a stack call
//!   that returned an error after its retries and fallbacks (a budget refusal
//!   is not one: the budget logs its own). The window slides, in tokio time:
//!   the alert fires when `count` failures fall within `window`, and re-arms
//!   once fewer than `count` do. With `per_candidate = true`, each
//!   candidate's failed calls (from the attempts trail, after that
//!   candidate's retries) are counted the same way, one window per candidate.
//!
//! The state lives in the process, as the budget's does.

mod clock;
mod event;
mod failures;
mod monthly;
mod watch;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use clock::UtcClock;
pub use event::{Alert, CalendarMonth, CalendarMonthError};
pub use watch::AlertSink;
pub(crate) use watch::Alerts;

/// `[alerts]`: thresholds that alert and never refuse. Default: none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertConfig {
    /// USD spent in one calendar month (UTC) that raises
    /// [`Alert::MonthlySpend`]. Default: none.
    pub monthly_spend_usd: Option<f64>,
    /// Failed calls per window that raise [`Alert::Failures`]. Default: none.
    pub failures: Option<FailureThreshold>,
}

impl AlertConfig {
    /// Whether no threshold is set (nothing to watch).
    pub fn is_empty(&self) -> bool {
        self.monthly_spend_usd.is_none() && self.failures.is_none()
    }
}

/// `failures = { count = 10, window = "1h" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureThreshold {
    /// Failed calls within `window` that raise the alert (at least 1).
    pub count: u32,
    /// The sliding window they are counted over.
    #[serde(with = "palisade_core::duration")]
    pub window: Duration,
    /// Also count each candidate's failed calls (after its retries, from
    /// the attempts trail, whether or not another candidate then answered)
    /// against the same threshold, raising [`Alert::CandidateFailures`].
    /// Default `false`.
    #[serde(default)]
    pub per_candidate: bool,
}
