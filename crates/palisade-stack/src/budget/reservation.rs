//! What a call admitted by a budget holds until it is answered: its
//! worst-case cost, counted against every budget it falls under so that
//! concurrent calls cannot all pass a check that only one of them fits.

use std::sync::Arc;

use super::Ledger;

/// A call's hold on its budgets. Settling charges the real cost and frees
/// the hold; dropping it unsettled (an error, a cancelled call, a stream
/// that ended without usage) frees the hold and charges nothing.
#[derive(Debug)]
pub(crate) struct Reservation {
    ledger: Arc<Ledger>,
    /// The budgeted tags the call carries.
    tags: Vec<String>,
    /// USD held: the most the call can cost.
    amount: f64,
    settled: bool,
}

impl Reservation {
    pub(crate) fn new(ledger: Arc<Ledger>, tags: Vec<String>, amount: f64) -> Self {
        Self {
            ledger,
            tags,
            amount,
            settled: false,
        }
    }

    /// Frees the hold and charges `cost` in its place.
    pub(crate) fn settle(mut self, cost: f64) {
        self.settle_in_place(cost);
    }

    /// [`settle`](Reservation::settle) for a hold kept in a stream's state;
    /// a second call charges nothing.
    pub(crate) fn settle_in_place(&mut self, cost: f64) {
        if self.settled {
            return;
        }
        self.settled = true;
        if cost > self.amount + 1e-12 {
            // The estimate fell short (an estimator that counts low, or a
            // model priced above the table). The real cost is charged all
            // the same, so what follows is refused until the window resets.
            tracing::warn!(
                target: "palisade_stack::budget",
                reserved_usd = self.amount,
                cost_usd = cost,
                "a call cost more than its budget reservation"
            );
        }
        self.ledger.settle(&self.tags, self.amount, cost);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.settled {
            self.settled = true;
            self.ledger.settle(&self.tags, self.amount, 0.0);
        }
    }
}
