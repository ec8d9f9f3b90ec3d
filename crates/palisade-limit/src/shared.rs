//! The state every clone of a limiter and every permit share, and what is
//! done under its one lock: admitting now, granting queued waiters, settling
//! and undoing admissions.
//!
//! Everything above it ([`Limiter`](crate::Limiter), the permits, the waiting
//! tickets) reaches the limits through these operations only, so admission
//! and settlement are written once.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use crate::clock::{Clock, Nanos};
use crate::config::{DropRule, LimiterConfig};
use crate::cost::{Cost, CostModel, TokenCounts};
use crate::error::LimitError;
use crate::kind::LimitKind;
use crate::limits::{Blocked, Impossible, Limits, Settlement, Stamps};
use crate::queue::WaitQueue;
use crate::stats::{Counters, LocklessCounters};
use crate::store::{LimitStore, Settled, StoreError, StoreLimits};

/// State shared by a limiter's clones and its permits.
pub(crate) struct Shared {
    pub(crate) name: Arc<str>,
    pub(crate) config: LimiterConfig,
    pub(crate) clock: Clock,
    /// On cache lines of its own (see [`Padded`]).
    pub(crate) core: Padded<Mutex<Core>>,
    pub(crate) cost_model: Arc<dyn CostModel>,
    pub(crate) max_wait: Nanos,
    pub(crate) aging: Nanos,
    /// Whether permits have a slot or tokens to give back (if not, dropping
    /// one never takes the lock).
    pub(crate) permits_return: bool,
    /// Settles and drops of permits that skip the lock (see `permits_return`).
    pub(crate) lockless: LocklessCounters,
    pub(crate) remote: Option<Remote>,
}

/// A value aligned to its own pair of cache lines (the adjacent-line
/// prefetcher pulls lines in pairs): the lock word every admission writes
/// then shares no line with the `Arc`'s reference count (written by every
/// owned permit) or with the fields read before taking the lock (the clock,
/// the flags), so two threads admitting at once pass one line between them,
/// not three.
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub(crate) T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;

    #[inline(always)]
    fn deref(&self) -> &T {
        &self.0
    }
}

/// A shared store the counting is delegated to.
pub(crate) struct Remote {
    pub(crate) store: Arc<dyn LimitStore>,
    pub(crate) key: String,
    pub(crate) lease_ttl: Duration,
    /// The configured limits, only to refuse a cost no store could ever
    /// admit without a round trip (the store does the counting).
    pub(crate) capacity: Limits,
}

/// Everything under the limiter's one lock.
#[derive(Debug)]
pub(crate) struct Core {
    pub(crate) limits: Limits,
    pub(crate) queue: WaitQueue,
    pub(crate) counters: Counters,
    /// Remote mode: a local permit came back, so the head should ask the
    /// store again now rather than at its "not before".
    pub(crate) kicked: bool,
    /// The latest time seen under the lock. Settling a refund with it is
    /// exact (a bucket refunded "as of" an earlier instant is clamped to full
    /// the same way), so the common settle needs no clock read.
    pub(crate) last_now: Nanos,
}

impl Core {
    /// A core with the given limits and nothing admitted or queued.
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            queue: WaitQueue::default(),
            counters: Counters::default(),
            kicked: false,
            last_now: 0,
        }
    }
}

/// The outcome of charging `charged` against a reservation of `reserved`.
#[inline]
pub(crate) fn settled(reserved: u64, charged: u64) -> Settled {
    Settled {
        refunded: reserved.saturating_sub(charged),
        debt: charged.saturating_sub(reserved),
    }
}

impl Shared {
    /// The admission behind `try_acquire` and `try_acquire_ref`: now or
    /// never, and never ahead of the queue.
    #[inline]
    pub(crate) fn try_admit_now(&self, cost: Cost) -> Result<Stamps, LimitError> {
        if self.remote.is_some() {
            return Err(LimitError::Store {
                limiter: self.name.to_string(),
                source: StoreError::Unsupported(
                    "try_acquire cannot wait for the store's answer; \
                     use acquire_until with a short deadline",
                ),
            });
        }
        let now = self.clock.now();
        let mut core = self.core.lock();
        core.last_now = core.last_now.max(now);
        self.check_possible(&mut core, cost.counts())?;
        if core.queue.waiting() > 0 {
            core.counters.rejected += 1;
            let not_before = core.queue.head_blocked().map_or(0, |b| b.not_before);
            drop(core);
            return Err(self.rate_limited(
                Blocked {
                    limit: LimitKind::Queue,
                    not_before,
                },
                now,
            ));
        }
        match core.limits.try_admit(now, cost.counts()) {
            Ok(stamps) => {
                core.counters.record_admit(cost.tokens, 0);
                drop(core);
                tracing::trace!(limiter = %self.name, tokens = cost.tokens, "admitted");
                Ok(stamps)
            }
            Err(blocked) => {
                core.counters.rejected += 1;
                drop(core);
                tracing::debug!(
                    limiter = %self.name, tokens = cost.tokens, limit = %blocked.limit,
                    "rejected without waiting"
                );
                Err(self.rate_limited(blocked, now))
            }
        }
    }

    /// Refuses a cost larger than a limit's whole capacity.
    #[inline]
    pub(crate) fn check_possible(
        &self,
        core: &mut Core,
        counts: TokenCounts,
    ) -> Result<(), LimitError> {
        match core.limits.check_possible(counts) {
            Ok(()) => Ok(()),
            Err(imp) => Err(self.impossible(core, imp)),
        }
    }

    #[cold]
    #[inline(never)]
    fn impossible(&self, core: &mut Core, imp: Impossible) -> LimitError {
        core.counters.rejected += 1;
        core.counters.impossible += 1;
        tracing::warn!(
            limiter = %self.name, limit = %imp.limit, cost = imp.cost, capacity = imp.capacity,
            "cost exceeds the whole capacity"
        );
        LimitError::CostExceedsCapacity {
            limiter: self.name.to_string(),
            limit: imp.limit,
            cost: imp.cost,
            capacity: imp.capacity,
        }
    }

    /// The refusal for `blocked`, seen at `now`.
    pub(crate) fn rate_limited(&self, blocked: Blocked, now: Nanos) -> LimitError {
        LimitError::RateLimited {
            limiter: self.name.to_string(),
            limit: blocked.limit,
            retry_after: (blocked.not_before > now)
                .then(|| Duration::from_nanos(blocked.not_before - now)),
        }
    }

    /// The limits sent to the store with every call.
    pub(crate) fn store_limits(&self, remote: &Remote) -> StoreLimits {
        let mut limits = StoreLimits::from_config(&self.config, remote.lease_ttl);
        limits.rate_fraction = self.core.lock().limits.rate_fraction();
        limits
    }

    /// Capacity may have freed up: grant queued waiters from the head while
    /// they fit (waking only those), or in remote mode nudge the head to ask
    /// the store again. `polling` is the waiter running this, if any.
    pub(crate) fn dispatch(&self, core: &mut Core, now: Nanos, polling: Option<u64>) {
        core.last_now = core.last_now.max(now);
        if self.remote.is_some() {
            core.kicked = true;
            if let Some(head) = core.queue.head(now, self.aging)
                && polling != Some(head.id)
            {
                core.queue.wake(head.id);
            }
            return;
        }
        while let Some(head) = core.queue.head(now, self.aging) {
            match core.limits.try_admit(now, head.counts) {
                Ok(stamps) => {
                    let waited = now.saturating_sub(head.enqueued_at);
                    core.counters.record_admit(head.counts.tokens, waited);
                    core.queue.grant(head.id, stamps);
                    tracing::debug!(
                        limiter = %self.name, tokens = head.counts.tokens,
                        waited_secs = waited as f64 / 1e9, "admitted after waiting"
                    );
                }
                Err(blocked) => {
                    core.queue.note_blocked(head.id, blocked, polling);
                    break;
                }
            }
        }
    }

    /// Undoes an admission that never ran (a rolled-back multi-limiter
    /// acquire, a grant whose waiter left): its request, tokens and slot come
    /// back, the counters forget it, and waiters get the room.
    pub(crate) fn undo_admission(
        &self,
        core: &mut Core,
        now: Nanos,
        counts: TokenCounts,
        stamps: Stamps,
    ) {
        core.limits.undo(now, counts, stamps);
        core.counters.admitted = core.counters.admitted.saturating_sub(1);
        core.counters.tokens_reserved = core.counters.tokens_reserved.saturating_sub(counts.tokens);
        if core.queue.waiting() > 0 {
            self.dispatch(core, now, None);
        }
    }

    /// What a permit of `cost` is charged: the actual cost when settled,
    /// else what the drop rule keeps.
    #[inline]
    pub(crate) fn charged(&self, cost: &Cost, actual: Option<TokenCounts>) -> TokenCounts {
        match actual {
            Some(a) => a,
            None => match self.config.on_drop {
                DropRule::RefundAll => TokenCounts::ZERO,
                DropRule::KeepInput => TokenCounts {
                    tokens: cost.input_part(),
                    input: cost.input_tokens,
                    output: 0,
                },
                DropRule::KeepAll => cost.counts(),
            },
        }
    }

    /// Settles (`settled`) or releases a local permit of `reserved` tokens
    /// charged `charged`: the one implementation behind every local permit.
    #[inline]
    pub(crate) fn finish_local(
        &self,
        reserved_counts: TokenCounts,
        charged_counts: TokenCounts,
        settled_with_usage: bool,
        stamps: Stamps,
    ) -> Settled {
        let (reserved, charged) = (reserved_counts.tokens, charged_counts.tokens);
        let outcome = settled(reserved, charged);
        if !self.permits_return {
            // Nothing to give back (requests-only limiter): skip the lock,
            // but still count the permit.
            self.lockless
                .record_finish(settled_with_usage, charged, outcome.refunded);
            return outcome;
        }
        let mut core = self.core.lock();
        let waiting = core.queue.waiting() > 0;
        // Only debt and waiters need the exact time (see `Core::last_now`):
        // the common settle skips the clock read.
        let overrun = !charged_counts.saturating_sub(reserved_counts).is_zero();
        let now = if overrun || waiting {
            self.clock.now()
        } else {
            core.last_now
        };
        // The bucket may take back less than `outcome.refunded` (never more
        // than had the request reserved only what it used); callers and stats
        // see the unused part of the reservation.
        let s = core
            .limits
            .settle(now, reserved_counts, charged_counts, stamps);
        core.limits.release_slot();
        let c = &mut core.counters;
        c.tokens_refunded = c.tokens_refunded.saturating_add(outcome.refunded);
        if s.debt > 0 {
            c.tokens_debt = c.tokens_debt.saturating_add(s.debt);
        }
        if settled_with_usage {
            c.settled += 1;
            c.tokens_settled = c.tokens_settled.saturating_add(charged);
        } else {
            c.dropped_unsettled += 1;
        }
        if waiting {
            self.dispatch(&mut core, now, None);
        }
        drop(core);
        self.trace_finish(reserved, charged, settled_with_usage, outcome, s);
        outcome
    }

    #[inline]
    fn trace_finish(
        &self,
        reserved: u64,
        charged: u64,
        settled_with_usage: bool,
        outcome: Settled,
        s: Settlement,
    ) {
        if s.debt > 0 {
            tracing::debug!(
                limiter = %self.name, reserved, actual = charged, debt = s.debt,
                "overrun charged as debt"
            );
        } else if !settled_with_usage {
            tracing::debug!(
                limiter = %self.name, reserved, refunded = outcome.refunded,
                credited = s.refunded, "permit dropped unsettled"
            );
        } else {
            tracing::trace!(
                limiter = %self.name, reserved, refunded = outcome.refunded,
                credited = s.refunded, "settled"
            );
        }
    }
}
