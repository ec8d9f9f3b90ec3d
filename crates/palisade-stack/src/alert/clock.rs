//! The calendar clock the monthly spend alert reads: which month it is is a
//! wall-clock fact tokio's clock cannot answer, so it is injectable, and a
//! test sets it.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use super::CalendarMonth;

/// A source of "now" as UTC seconds since the Unix epoch. Default: the
/// system clock.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicI64, Ordering};
/// use palisade_stack::alert::{CalendarMonth, UtcClock};
///
/// let now = Arc::new(AtomicI64::new(1_764_547_200)); // 2025-12-01T00:00:00Z
/// let seen = Arc::clone(&now);
/// let clock = UtcClock::from_fn(move || seen.load(Ordering::Relaxed));
/// assert_eq!(clock.month(), CalendarMonth::new(2025, 12));
/// now.store(1_767_225_600, Ordering::Relaxed); // 2026-01-01T00:00:00Z
/// assert_eq!(clock.month(), CalendarMonth::new(2026, 1));
/// ```
#[derive(Clone)]
pub struct UtcClock {
    now: Arc<dyn Fn() -> i64 + Send + Sync>,
}

impl std::fmt::Debug for UtcClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UtcClock").finish_non_exhaustive()
    }
}

impl Default for UtcClock {
    fn default() -> Self {
        Self::system()
    }
}

impl UtcClock {
    /// The system clock.
    pub fn system() -> Self {
        Self::from_fn(|| match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
            Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
        })
    }

    /// A clock reading `now` (UTC seconds since the Unix epoch).
    pub fn from_fn(now: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self { now: Arc::new(now) }
    }

    /// UTC seconds since the Unix epoch.
    pub fn now(&self) -> i64 {
        (self.now)()
    }

    /// The calendar month it is now, in UTC.
    pub fn month(&self) -> CalendarMonth {
        CalendarMonth::at(self.now())
    }
}
