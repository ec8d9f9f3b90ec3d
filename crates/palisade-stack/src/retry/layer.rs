use std::sync::Arc;

use palisade_core::{Layer, Provider};

use super::{Retry, RetryBudget, RetryPolicy, RetryStats, Shared};

/// Builds [`Retry`] providers. Providers built by one layer (and its clones)
/// share its retry budget and counters; build one layer per candidate to give
/// each its own.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    shared: Arc<Shared>,
}

impl RetryLayer {
    /// A layer with `policy` and a fresh retry budget.
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            shared: Arc::new(Shared::new(policy, None)),
        }
    }

    /// A layer whose jitter comes from a generator seeded with `seed`, so the
    /// same sequence of failures gives the same delays: for simulations and
    /// for reproducing a run. Without a seed, jitter is drawn from the
    /// thread-local OS-seeded generator.
    ///
    /// ```
    /// use palisade_stack::{RetryLayer, RetryPolicy};
    ///
    /// let layer = RetryLayer::seeded(RetryPolicy::default(), 42);
    /// assert_eq!(layer.policy().max_attempts, RetryPolicy::default().max_attempts);
    /// ```
    pub fn seeded(policy: RetryPolicy, seed: u64) -> Self {
        Self {
            shared: Arc::new(Shared::new(policy, Some(seed))),
        }
    }

    /// Wraps `inner` (same as [`Layer::layer`], without the `Provider` bound).
    pub fn wrap<P>(&self, inner: P) -> Retry<P> {
        Retry::from_shared(inner, Arc::clone(&self.shared))
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.shared.policy
    }

    /// The shared retry budget.
    pub fn budget(&self) -> &RetryBudget {
        &self.shared.budget
    }

    /// Counters of every provider this layer built.
    pub fn stats(&self) -> RetryStats {
        self.shared.stats()
    }
}

impl<P: Provider> Layer<P> for RetryLayer {
    type Provider = Retry<P>;

    fn layer(&self, inner: P) -> Retry<P> {
        self.wrap(inner)
    }
}
