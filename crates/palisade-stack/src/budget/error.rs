use std::time::Duration;

use palisade_core::{ErrorKind, ProviderError};

/// A request refused because a budget is spent. Carried as the source of a
/// [`ProviderError`] of kind [`ErrorKind::QuotaExhausted`] whose `retry_after`
/// is the time until the window resets; find it with [`BudgetExceeded::find`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "budget `{scope}` spent: ${spent:.4} of ${limit:.4} in this window; it resets in {:.0}s",
    resets_in.as_secs_f64()
)]
pub struct BudgetExceeded {
    /// `total`, or `tag:<tag>` for a per-tag budget.
    pub scope: String,
    /// The limit in USD.
    pub limit: f64,
    /// Spent in the current window, in USD.
    pub spent: f64,
    /// Time until the window resets.
    pub resets_in: Duration,
}

impl BudgetExceeded {
    /// The budget error behind `error`, if a budget layer produced it.
    pub fn find(error: &ProviderError) -> Option<&BudgetExceeded> {
        std::error::Error::source(error)?.downcast_ref()
    }

    pub(crate) fn into_provider_error(self) -> ProviderError {
        ProviderError::new(ErrorKind::QuotaExhausted, self.to_string())
            .with_origin(palisade_core::ErrorOrigin::Layer)
            .with_retry_after(Some(self.resets_in))
            .with_source(self)
    }
}
