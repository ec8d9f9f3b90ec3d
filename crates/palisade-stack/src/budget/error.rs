use std::time::Duration;

use palisade_core::{ErrorKind, ProviderError};

/// A request refused because a budget cannot take it: what is spent, what
/// calls in flight hold and this call's worst case would pass the limit.
/// Carried as the source of a [`ProviderError`] of kind
/// [`ErrorKind::QuotaExhausted`] whose `retry_after` is the time until the
/// window resets (none when the call's worst case alone exceeds the limit);
/// find it with [`BudgetExceeded::find`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "budget `{scope}` cannot take this call: ${spent:.4} spent and ${reserved:.4} held by calls in flight of ${limit:.4} in this window, and the call may cost up to ${needed:.4}{}",
    self.when()
)]
pub struct BudgetExceeded {
    /// `total`, or `tag:<tag>` for a per-tag budget.
    pub scope: String,
    /// The limit in USD.
    pub limit: f64,
    /// Spent in the current window, in USD.
    pub spent: f64,
    /// Held by calls in flight (their worst-case cost), in USD.
    pub reserved: f64,
    /// The refused call's worst-case cost, in USD.
    pub needed: f64,
    /// Time until the window resets.
    pub resets_in: Duration,
}

impl BudgetExceeded {
    /// The budget error behind `error`, if a budget layer produced it.
    pub fn find(error: &ProviderError) -> Option<&BudgetExceeded> {
        std::error::Error::source(error)?.downcast_ref()
    }

    /// Whether no window could ever take the call: its worst case alone
    /// exceeds the limit.
    pub fn never_fits(&self) -> bool {
        self.needed > self.limit
    }

    fn when(&self) -> String {
        if self.never_fits() {
            ", more than the whole limit: lower max_tokens or raise the budget".to_owned()
        } else {
            format!("; it resets in {:.0}s", self.resets_in.as_secs_f64())
        }
    }

    pub(crate) fn into_provider_error(self) -> ProviderError {
        let retry_after = (!self.never_fits()).then_some(self.resets_in);
        ProviderError::new(ErrorKind::QuotaExhausted, self.to_string())
            .with_origin(palisade_core::ErrorOrigin::Layer)
            .with_retry_after(retry_after)
            .with_source(self)
    }
}
