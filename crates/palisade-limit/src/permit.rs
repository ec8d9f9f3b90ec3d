//! The permit: an admitted request's claim on capacity, until it is settled
//! or dropped.

use std::sync::Arc;

use palisade_core::Usage;

use crate::config::DropRule;
use crate::cost::Cost;
use crate::limiter::Shared;
use crate::limits::Stamps;
use crate::store::{Lease, Settled};

/// An admitted request's reservation: one request, its reserved tokens, and
/// a concurrency slot.
///
/// Finish it with [`settle`](Permit::settle) once the provider reported usage:
/// unused tokens are refunded (the bucket is left as if only the actual cost
/// had been reserved), an overrun is charged as debt that delays later
/// admissions. Dropping it unsettled (the call failed, was cancelled, the
/// caller panicked) releases the slot and gives back what the limiter's
/// [`DropRule`] says (by default the whole token reservation). The request
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
            Some(shared) => shared.cost_model.actual(&self.cost, &usage),
            None => 0,
        };
        self.finish(Some(actual))
    }

    /// Settles with an actual token cost computed by the caller.
    pub fn settle_tokens(mut self, actual_tokens: u64) -> Settled {
        self.finish(Some(actual_tokens))
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
        core.limits.undo(now, self.cost.tokens, self.stamps);
        core.counters.admitted = core.counters.admitted.saturating_sub(1);
        core.counters.tokens_reserved = core
            .counters
            .tokens_reserved
            .saturating_sub(self.cost.tokens);
        if core.queue.waiting() > 0 {
            shared.dispatch(&mut core, now, None);
        }
    }

    fn finish(&mut self, actual: Option<u64>) -> Settled {
        let Some(shared) = self.shared.take() else {
            return Settled::default();
        };
        let reserved = self.cost.tokens;
        let charged = match actual {
            Some(a) => a,
            None => match shared.config.on_drop {
                DropRule::RefundAll => 0,
                DropRule::KeepInput => self.cost.input_part(),
                DropRule::KeepAll => reserved,
            },
        };
        let outcome = Settled {
            refunded: reserved.saturating_sub(charged),
            debt: charged.saturating_sub(reserved),
        };
        if let Some(lease) = self.lease.take() {
            finish_remote(shared, lease, actual, outcome);
            return outcome;
        }
        if !shared.permits_return {
            // Nothing to give back (requests-only limiter): skip the lock.
            return outcome;
        }
        let mut core = shared.core.lock();
        // Only debt and waiters need the exact time (see `Core::last_now`):
        // the common settle skips the clock read.
        let now = if charged > reserved || core.queue.waiting() > 0 {
            shared.clock.now()
        } else {
            core.last_now
        };
        // The bucket may take back less than `outcome.refunded` (never more
        // than had the request reserved only what it used); callers and stats
        // see the unused part of the reservation.
        let s = core.limits.settle(now, reserved, charged, self.stamps);
        core.limits.release_slot();
        let c = &mut core.counters;
        c.tokens_refunded = c.tokens_refunded.saturating_add(outcome.refunded);
        c.tokens_debt = c.tokens_debt.saturating_add(s.debt);
        if actual.is_some() {
            c.settled += 1;
            c.tokens_settled = c.tokens_settled.saturating_add(charged);
        } else {
            c.dropped_unsettled += 1;
        }
        if core.queue.waiting() > 0 {
            shared.dispatch(&mut core, now, None);
        }
        drop(core);
        if s.debt > 0 {
            tracing::debug!(
                limiter = %shared.name, reserved, actual = charged, debt = s.debt,
                "overrun charged as debt"
            );
        } else if actual.is_none() {
            tracing::debug!(
                limiter = %shared.name, reserved, refunded = outcome.refunded,
                credited = s.refunded, "permit dropped unsettled"
            );
        } else {
            tracing::trace!(
                limiter = %shared.name, reserved, refunded = outcome.refunded,
                credited = s.refunded, "settled"
            );
        }
        outcome
    }
}

/// Settles or releases a store lease in the background: `Drop` cannot await,
/// and the lease's TTL covers a process that dies before this runs.
fn finish_remote(shared: Arc<Shared>, lease: Lease, actual: Option<u64>, outcome: Settled) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        tracing::warn!(
            limiter = %shared.name, lease = lease.id.0,
            "no tokio runtime to return a store lease; it expires with its TTL"
        );
        return;
    };
    handle.spawn(async move {
        let Some(remote) = shared.remote.as_ref() else {
            return;
        };
        let limits = shared.store_limits(remote);
        let result = match actual {
            Some(a) => remote
                .store
                .settle(&remote.key, &limits, lease, a)
                .await
                .map(|_| ()),
            None => {
                remote
                    .store
                    .release(&remote.key, &limits, lease, outcome.refunded)
                    .await
            }
        };
        if let Err(error) = result {
            tracing::warn!(
                limiter = %shared.name, lease = lease.id.0, %error,
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
