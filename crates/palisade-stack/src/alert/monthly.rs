//! The month's spend against its alert threshold.

use super::CalendarMonth;

/// Spend in the current calendar month, and whether its alert has fired.
#[derive(Debug)]
pub(super) struct MonthlySpend {
    threshold_usd: f64,
    month: Option<CalendarMonth>,
    spent_usd: f64,
    fired: bool,
}

impl MonthlySpend {
    pub(super) fn new(threshold_usd: f64) -> Self {
        Self {
            threshold_usd,
            month: None,
            spent_usd: 0.0,
            fired: false,
        }
    }

    /// Adds `cost` to `month`'s spend (a new month starts from zero, armed);
    /// the spend and threshold when this is the charge that crosses it.
    pub(super) fn charge(&mut self, month: CalendarMonth, cost: f64) -> Option<(f64, f64)> {
        if self.month != Some(month) {
            self.month = Some(month);
            self.spent_usd = 0.0;
            self.fired = false;
        }
        if cost.is_finite() && cost > 0.0 {
            self.spent_usd += cost;
        }
        if self.fired || self.spent_usd < self.threshold_usd {
            return None;
        }
        self.fired = true;
        Some((self.spent_usd, self.threshold_usd))
    }
}
