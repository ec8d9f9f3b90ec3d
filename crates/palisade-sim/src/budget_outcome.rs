//! How a run's palisade stack kept to its budget (`[palisade.budget]`):
//! spent against the limit, requests answered and refused by the budget.
//!
//! The budget reserves each call's worst case before the call and settles it
//! to the real cost, so what the answers cost never exceeds the limit; the
//! gap left is at most about one call's worst case (the next call no longer
//! fits). Spending is what the simulated models billed for their answers, at
//! the prices the budget reserves at.

use std::fmt::Write as _;

use palisade_core::ErrorKind;
use serde::Serialize;

use crate::report::SystemReport;
use crate::scenario::Scenario;

/// A budget's outcome over one run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BudgetOutcome {
    /// The budget's limit per window, USD.
    pub limit_usd: f64,
    /// What the answers cost, USD.
    pub spent_usd: f64,
    /// `spent / limit`, in percent (two decimals).
    pub spent_pct: f64,
    /// Requests answered.
    pub answered: u64,
    /// Requests refused (`quota_exhausted`: the budget had no room for
    /// their worst case).
    pub refused: u64,
}

impl BudgetOutcome {
    /// The outcome of the palisade run `palisade` of `scenario`, when the
    /// scenario's stack has an overall budget limit (`limit_usd`).
    pub fn of(scenario: &Scenario, palisade: &SystemReport) -> Option<Self> {
        let budget = scenario
            .palisade
            .budget
            .as_ref()
            .or_else(|| scenario.palisade.stack.as_ref()?.budget.as_ref())?;
        let limit_usd = budget.limit_usd?;
        let spent_usd = palisade.cost_usd;
        Some(Self {
            limit_usd,
            spent_usd,
            spent_pct: if limit_usd > 0.0 {
                (spent_usd * 10_000.0 / limit_usd).round() / 100.0
            } else {
                0.0
            },
            answered: palisade.completed,
            refused: palisade
                .failed_by_kind
                .get(ErrorKind::QuotaExhausted.as_str())
                .copied()
                .unwrap_or(0),
        })
    }

    /// Whether the answers cost more than the limit.
    pub fn exceeded(&self) -> bool {
        self.spent_usd > self.limit_usd
    }

    /// One line for the report: spent against the limit, answered and
    /// refused.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "budget: spent ${:.4} of ${:.2} ({:.2}%, {}); {} requests answered, {} refused by \
             the budget",
            self.spent_usd,
            self.limit_usd,
            self.spent_pct,
            if self.exceeded() {
                "EXCEEDED"
            } else {
                "never exceeded"
            },
            self.answered,
            self.refused
        );
        out
    }
}
