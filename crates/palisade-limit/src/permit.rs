//! The permit: an admitted request's claim on capacity, until it is settled
//! or dropped.

use std::sync::Arc;

use palisade_core::Usage;

use crate::cost::{Cost, TokenCounts};
use crate::limits::Stamps;
use crate::shared::{Shared, settled};
use crate::store::{Lease, Settled};

/// An admitted request's reservation: one request, its reserved tokens, and
/// a concurrency slot.
///
/// Finish it with [`settle`](Permit::settle) once the provider reported usage:
/// unused tokens are refunded (the bucket is left as if only the actual cost
/// had been reserved), an overrun is charged as debt that delays later
/// admissions. Dropping it unsettled (the call failed, was cancelled, the
/// caller panicked) releases the slot and gives back what the limiter's
/// [`DropRule`](crate::DropRule) says (by default the whole token reservation). The request
/// itself stays counted against the requests-per-interval limit either way:
/// it was sent.
#[must_use = "dropping a permit releases it at once"]
pub struct Permit {
    shared: Option<Arc<Shared>>,
    cost: Cost,
    stamps: Stamps,
    lease: Option<Lease>,
}

impl std::fmt::Debug for Permit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Permit")
            .field("limiter", &self.shared.as_ref().map(|s| &*s.name))
            .field("cost", &self.cost)
            .field("lease", &self.lease)
            .finish()
    }
}

impl Permit {
    pub(crate) fn local(shared: Arc<Shared>, cost: Cost, stamps: Stamps) -> Self {
        Self {
            shared: Some(shared),
            cost,
            stamps,
            lease: None,
        }
    }

    pub(crate) fn remote(shared: Arc<Shared>, cost: Cost, lease: Lease) -> Self {
        Self {
            shared: Some(shared),
            cost,
            stamps: Stamps::default(),
            lease: Some(lease),
        }
    }

    /// What was reserved.
    pub fn cost(&self) -> Cost {
        self.cost
    }

    /// Tokens reserved.
    pub fn reserved_tokens(&self) -> u64 {
        self.cost.tokens
    }

    /// The name of the limiter that issued it.
    pub fn limiter_name(&self) -> &str {
        self.shared.as_ref().map_or("", |s| &s.name)
    }

    /// Settles with the usage the provider reported, priced by the limiter's
    /// cost model (output counted with the reservation's burndown, cache
    /// reads free).
    pub fn settle(mut self, usage: Usage) -> Settled {
        let actual = match &self.shared {
            Some(shared) => shared.cost_model.counted(&self.cost, &usage),
            None => TokenCounts::ZERO,
        };
        self.finish(Some(actual))
    }

    /// Settles with an actual token cost computed by the caller, against the
    /// combined tokens quotas; the input and output dimensions keep what they
    /// reserved (use [`settle_counts`](Permit::settle_counts) to settle them
    /// too).
    #[inline]
    pub fn settle_tokens(mut self, actual_tokens: u64) -> Settled {
        let counts = self.cost.counts();
        self.finish(Some(TokenCounts {
            tokens: actual_tokens,
            ..counts
        }))
    }

    /// Settles every token dimension with counts computed by the caller.
    pub fn settle_counts(mut self, actual: TokenCounts) -> Settled {
        self.finish(Some(actual))
    }

    /// Charges `extra` on top of the reservation now, as debt: a call that
    /// is running past what it reserved (a stream longer than its output
    /// reservation) pays as it goes rather than only when it settles. The
    /// reservation grows by `extra`, so settling later refunds or charges
    /// against the new total. Returns false, charging nothing, for a
    /// permit of a shared store (the store settles the overrun at the end).
    pub fn charge_more(&mut self, extra: TokenCounts) -> bool {
        let Some(shared) = &self.shared else {
            return false;
        };
        if self.lease.is_some() {
            return false;
        }
        if extra.is_zero() {
            return true;
        }
        self.cost.tokens = self.cost.tokens.saturating_add(extra.tokens);
        self.cost.input_tokens = self.cost.input_tokens.saturating_add(extra.input);
        self.cost.output_tokens = self.cost.output_tokens.saturating_add(extra.output);
        let now = shared.clock.now();
        let mut core = shared.core.lock();
        core.limits.charge_extra(now, extra);
        let c = &mut core.counters;
        c.tokens_reserved = c.tokens_reserved.saturating_add(extra.tokens);
        drop(core);
        tracing::debug!(
            limiter = %shared.name, tokens = extra.tokens, output = extra.output,
            "charged past the reservation"
        );
        true
    }

    /// Undoes the admission as if it never happened (the request was not
    /// sent): the request, its tokens and its slot all come back. Used to
    /// roll back a multi-limiter acquire.
    pub(crate) fn rollback(mut self) {
        let Some(shared) = self.shared.take() else {
            return;
        };
        if self.lease.is_some() {
            self.shared = Some(shared);
            self.finish(None);
            return;
        }
        let now = shared.clock.now();
        let mut core = shared.core.lock();
        shared.undo_admission(&mut core, now, self.cost.counts(), self.stamps);
    }

    #[inline]
    fn finish(&mut self, actual: Option<TokenCounts>) -> Settled {
        let Some(shared) = self.shared.take() else {
            return Settled::default();
        };
        let charged = shared.charged(&self.cost, actual);
        if let Some(lease) = self.lease.take() {
            let outcome = settled(self.cost.tokens, charged.tokens);
            finish_remote(shared, lease, actual, charged, outcome);
            return outcome;
        }
        shared.finish_local(self.cost.counts(), charged, actual.is_some(), self.stamps)
    }
}

/// An admitted request's reservation that borrows its limiter: what
/// [`Limiter::try_acquire_ref`](crate::Limiter::try_acquire_ref) returns.
///
/// The same claim as a [`Permit`], settled and dropped by the same rules
/// (one shared implementation), for callers that settle within the scope
/// that admitted: it holds a reference to the limiter instead of a clone of
/// its `Arc`, so admitting and settling touch no reference count. Use a
/// [`Permit`] where the reservation must outlive the borrow (a stream, a
/// spawned task).
#[must_use = "dropping a permit releases it at once"]
pub struct PermitRef<'a> {
    shared: &'a Shared,
    cost: Cost,
    stamps: Stamps,
}

impl std::fmt::Debug for PermitRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PermitRef")
            .field("limiter", &&*self.shared.name)
            .field("cost", &self.cost)
            .finish()
    }
}

impl<'a> PermitRef<'a> {
    #[inline]
    pub(crate) fn new(shared: &'a Shared, cost: Cost, stamps: Stamps) -> Self {
        Self {
            shared,
            cost,
            stamps,
        }
    }

    /// What was reserved.
    pub fn cost(&self) -> Cost {
        self.cost
    }

    /// Tokens reserved.
    pub fn reserved_tokens(&self) -> u64 {
        self.cost.tokens
    }

    /// The name of the limiter that issued it.
    pub fn limiter_name(&self) -> &str {
        &self.shared.name
    }

    /// Settles with the usage the provider reported, as
    /// [`Permit::settle`] does.
    pub fn settle(self, usage: Usage) -> Settled {
        let actual = self.shared.cost_model.counted(&self.cost, &usage);
        self.finish(Some(actual))
    }

    /// Settles with an actual token cost computed by the caller, as
    /// [`Permit::settle_tokens`] does.
    #[inline]
    pub fn settle_tokens(self, actual_tokens: u64) -> Settled {
        let counts = self.cost.counts();
        self.finish(Some(TokenCounts {
            tokens: actual_tokens,
            ..counts
        }))
    }

    /// Settles every token dimension, as [`Permit::settle_counts`] does.
    pub fn settle_counts(self, actual: TokenCounts) -> Settled {
        self.finish(Some(actual))
    }

    #[inline]
    fn finish(self, actual: Option<TokenCounts>) -> Settled {
        // Settled here: the destructor must not release it again.
        let this = std::mem::ManuallyDrop::new(self);
        let charged = this.shared.charged(&this.cost, actual);
        this.shared
            .finish_local(this.cost.counts(), charged, actual.is_some(), this.stamps)
    }
}

impl Drop for PermitRef<'_> {
    fn drop(&mut self) {
        let charged = self.shared.charged(&self.cost, None);
        self.shared
            .finish_local(self.cost.counts(), charged, false, self.stamps);
    }
}

/// Settles or releases a store lease in the background: `Drop` cannot await,
/// and the lease's TTL covers a process that dies before this runs.
fn finish_remote(
    shared: Arc<Shared>,
    lease: Lease,
    actual: Option<TokenCounts>,
    charged: TokenCounts,
    outcome: Settled,
) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            limiter = %shared.name, lease = %lease.token,
            "no tokio runtime to return a store lease; it expires with its TTL"
        );
        return;
    };
    handle.spawn(async move {
        let Some(remote) = shared.remote.as_ref() else {
            return;
        };
        let limits = shared.store_limits(remote);
        let token = lease.token.clone();
        let result = match actual {
            Some(a) => remote
                .store
                .settle(&remote.key, &limits, lease, a)
                .await
                .map(|_| ()),
            None => {
                let refund = lease.tokens.saturating_sub(charged);
                remote
                    .store
                    .release(&remote.key, &limits, lease, refund)
                    .await
            }
        };
        if let Err(error) = result {
            tracing::warn!(
                limiter = %shared.name, lease = %token, %error,
                "could not return a store lease; it expires with its TTL"
            );
        }
        let now = shared.clock.now();
        let mut core = shared.core.lock();
        let c = &mut core.counters;
        c.tokens_refunded = c.tokens_refunded.saturating_add(outcome.refunded);
        c.tokens_debt = c.tokens_debt.saturating_add(outcome.debt);
        if actual.is_some() {
            c.settled += 1;
        } else {
            c.dropped_unsettled += 1;
        }
        shared.dispatch(&mut core, now, None);
    });
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.shared.is_some() {
            self.finish(None);
        }
    }
}
