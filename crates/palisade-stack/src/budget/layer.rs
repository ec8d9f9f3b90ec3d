use std::sync::Arc;

use palisade_core::{Layer, Provider, TokenEstimator};

use super::{Budget, BudgetConfig, BudgetSnapshot, Ledger};
use crate::cost::PriceTable;

/// Builds [`Budget`] providers; clones and the providers they build share one
/// ledger (one budget).
#[derive(Debug, Clone)]
pub struct BudgetLayer {
    ledger: Arc<Ledger>,
}

impl BudgetLayer {
    /// A budget with `config`, pricing answers with `prices`.
    pub fn new(config: BudgetConfig, prices: PriceTable) -> Self {
        Self {
            ledger: Arc::new(Ledger::new(config, prices)),
        }
    }

    /// Counts input tokens for reservations with `estimator` instead of the
    /// heuristic (for every clone of this layer: they share one budget).
    pub fn with_estimator(self, estimator: Arc<dyn TokenEstimator>) -> Self {
        self.ledger.set_estimator(estimator);
        self
    }

    /// Spending in the current window.
    pub fn snapshot(&self) -> BudgetSnapshot {
        self.ledger.snapshot()
    }

    /// Starts a new window now, forgetting what was spent.
    pub fn reset(&self) {
        self.ledger.reset();
    }
}

impl<P: Provider> Layer<P> for BudgetLayer {
    type Provider = Budget<P>;

    fn layer(&self, inner: P) -> Budget<P> {
        Budget::from_ledger(inner, Arc::clone(&self.ledger))
    }
}
