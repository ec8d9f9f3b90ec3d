//! How a call's permits are finished, for a plain call and a stream alike:
//! settled from the usage the provider reported, kept at the reservation
//! when a call ran without saying what it cost, or left to the drop rule
//! when it was cut short.

use std::sync::Arc;

use palisade_core::Usage;

use crate::cost::CostModel;
use crate::set::PermitSet;

/// How the call ended, for settling without usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// It ran to its end (a response, a stream's last event).
    Completed,
    /// It failed, or was dropped, before its end.
    Cut,
}

/// Finishes `permits`: with `usage`, settled by `cost_model` when the layer
/// has one (the limiters' own models otherwise); without usage, a completed
/// call keeps its reservation (no refund, no debt) and a cut one follows the
/// limiters' [`DropRule`](crate::DropRule).
pub(crate) fn settle(
    permits: PermitSet,
    usage: Option<Usage>,
    cost_model: Option<&Arc<dyn CostModel>>,
    ending: Ending,
) {
    match (usage, cost_model, permits.permits().first()) {
        (Some(usage), Some(model), Some(first)) => {
            let actual = model.counted(&first.cost(), &usage);
            permits.settle_counts(actual);
        }
        (Some(usage), _, _) => {
            permits.settle(usage);
        }
        (None, _, _) if ending == Ending::Completed => {
            let reserved = permits
                .permits()
                .first()
                .map_or(crate::cost::TokenCounts::ZERO, |p| p.cost().counts());
            permits.settle_counts(reserved);
        }
        (None, _, _) => drop(permits),
    }
}
