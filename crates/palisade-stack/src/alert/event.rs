//! What an alert says: which threshold was crossed, what was observed, and
//! over which month or window.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A threshold crossed. Serialized with a `kind` tag (`monthly_spend`,
/// `failures`), so a callback can forward it as JSON as it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Alert {
    /// The month's spend reached `alerts.monthly_spend_usd`.
    MonthlySpend {
        /// The stack's name.
        stack: String,
        /// The calendar month (UTC) the spend is summed over.
        month: CalendarMonth,
        /// The threshold, in USD.
        threshold_usd: f64,
        /// Spent this month when it was crossed, in USD.
        spent_usd: f64,
    },
    /// `alerts.failures.count` failed calls fell within its window.
    Failures {
        /// The stack's name.
        stack: String,
        /// The count that raises the alert.
        threshold: u32,
        /// Failed calls within the window when it was crossed.
        observed: u32,
        /// The sliding window they were counted over.
        #[serde(with = "palisade_core::duration")]
        window: Duration,
    },
    /// One candidate failed `alerts.failures.count` calls within its window
    /// (`per_candidate = true`), whether or not the stack then answered from
    /// another.
    CandidateFailures {
        /// The stack's name.
        stack: String,
        /// The candidate's id.
        candidate: String,
        /// The count that raises the alert.
        threshold: u32,
        /// The candidate's failed calls within the window when it was crossed.
        observed: u32,
        /// The sliding window they were counted over.
        #[serde(with = "palisade_core::duration")]
        window: Duration,
    },
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Alert::MonthlySpend {
                stack,
                month,
                threshold_usd,
                spent_usd,
            } => write!(
                f,
                "stack `{stack}` spent ${spent_usd:.2} in {month}, reaching its monthly alert of ${threshold_usd:.2}"
            ),
            Alert::Failures {
                stack,
                threshold,
                observed,
                window,
            } => write!(
                f,
                "stack `{stack}` failed {observed} calls within {}, reaching its alert of {threshold}",
                palisade_core::duration::format(*window)
            ),
            Alert::CandidateFailures {
                stack,
                candidate,
                threshold,
                observed,
                window,
            } => write!(
                f,
                "candidate `{candidate}` of stack `{stack}` failed {observed} calls within {}, reaching its alert of {threshold}",
                palisade_core::duration::format(*window)
            ),
        }
    }
}

/// A calendar month in UTC; written `2026-12`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct CalendarMonth {
    year: i32,
    month: u8,
}

impl CalendarMonth {
    /// `month` (1–12, clamped) of `year`.
    pub fn new(year: i32, month: u8) -> Self {
        Self {
            year,
            month: month.clamp(1, 12),
        }
    }

    /// The month (UTC) that `unix_seconds` falls in; instants beyond the
    /// calendar's range (±9999 years) count as the epoch's month.
    pub fn at(unix_seconds: i64) -> Self {
        let at = time::OffsetDateTime::from_unix_timestamp(unix_seconds)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Self::new(at.year(), u8::from(at.month()))
    }

    /// The year.
    pub fn year(&self) -> i32 {
        self.year
    }

    /// The month, 1–12.
    pub fn month(&self) -> u8 {
        self.month
    }
}

impl fmt::Display for CalendarMonth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl From<CalendarMonth> for String {
    fn from(month: CalendarMonth) -> String {
        month.to_string()
    }
}

/// A month that is not written `YYYY-MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("calendar month {0:?}: expected YYYY-MM with a month of 01 to 12")]
pub struct CalendarMonthError(String);

impl TryFrom<String> for CalendarMonth {
    type Error = CalendarMonthError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        let parsed = text.rsplit_once('-').and_then(|(year, month)| {
            let year = year.parse::<i32>().ok()?;
            let month = month.parse::<u8>().ok().filter(|m| (1..=12).contains(m))?;
            Some(Self { year, month })
        });
        parsed.ok_or_else(|| CalendarMonthError(text.chars().take(32).collect()))
    }
}
