//! Several limiters acquired together: a per-model limiter and the shared
//! account-level limiter above it, say.

use std::sync::Arc;

use palisade_core::{Priority, Readiness, Usage};
use tokio::time::Instant;

use crate::cost::Cost;
use crate::error::LimitError;
use crate::limiter::Limiter;
use crate::permit::Permit;
use crate::store::Settled;

/// Limiters that must all admit a request (model, provider, account …).
///
/// Permits are taken one limiter after the other in a fixed global order (so
/// two sets sharing limiters cannot deadlock), and if one limiter refuses,
/// the permits already taken are rolled back whole, as if never taken.
/// While a later limiter is waited for, earlier ones hold their reservation.
#[derive(Debug, Clone, Default)]
pub struct LimiterSet {
    limiters: Vec<Limiter>,
}

impl LimiterSet {
    /// An empty set (admits everything).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a limiter (a clone of one already in the set is ignored).
    pub fn with(mut self, limiter: Limiter) -> Self {
        self.push(limiter);
        self
    }

    /// Adds a limiter (a clone of one already in the set is ignored).
    pub fn push(&mut self, limiter: Limiter) {
        if self.limiters.iter().any(|l| l.same_as(&limiter)) {
            return;
        }
        self.limiters.push(limiter);
        // A global order (by state address) for deadlock-free acquisition.
        self.limiters
            .sort_by_key(|l| Arc::as_ptr(&l.shared).cast::<()>() as usize);
    }

    /// The limiters, in acquisition order.
    pub fn limiters(&self) -> &[Limiter] {
        &self.limiters
    }

    /// Admits now in every limiter, or in none.
    pub fn try_acquire(&self, cost: Cost) -> Result<PermitSet, LimitError> {
        let mut permits = PermitSet::with_capacity(self.limiters.len());
        for limiter in &self.limiters {
            match limiter.try_acquire(cost) {
                Ok(p) => permits.permits.push(p),
                Err(e) => {
                    permits.rollback();
                    return Err(e);
                }
            }
        }
        Ok(permits)
    }

    /// Waits for every limiter in turn, up to each one's `max_wait` and the
    /// deadline; on failure the permits already taken are rolled back.
    pub async fn acquire_until(
        &self,
        cost: Cost,
        priority: Priority,
        deadline: Option<Instant>,
    ) -> Result<PermitSet, LimitError> {
        let mut permits = PermitSet::with_capacity(self.limiters.len());
        for limiter in &self.limiters {
            match limiter.acquire_until(cost, priority, deadline).await {
                Ok(p) => permits.permits.push(p),
                Err(e) => {
                    permits.rollback();
                    return Err(e);
                }
            }
        }
        Ok(permits)
    }

    /// Waits for every limiter in turn, up to each one's `max_wait`.
    pub async fn acquire(&self, cost: Cost, priority: Priority) -> Result<PermitSet, LimitError> {
        self.acquire_until(cost, priority, None).await
    }

    /// Reports a provider throttle to every limiter (adaptive mode).
    pub fn record_throttle(&self, retry_after: Option<std::time::Duration>) {
        for l in &self.limiters {
            l.record_throttle(retry_after);
        }
    }

    /// Calibrates every limiter from a provider's rate-limit headers (see
    /// [`Limiter::observe_rate_limit`]). The headers describe the quota of the
    /// key the call was made under, and every limiter of the set admitted
    /// that call, so each is told; a limiter shared by several keys (an
    /// account-wide one) is then held to the most recent key's report, which
    /// errs towards admitting less.
    pub fn observe_rate_limit(&self, snapshot: &palisade_core::http::RateLimitSnapshot) {
        for l in &self.limiters {
            l.observe_rate_limit(snapshot);
        }
    }

    /// The least ready of the limiters.
    pub fn readiness(&self) -> Readiness {
        self.limiters
            .iter()
            .fold(Readiness::Ready, |r, l| r.and(l.readiness()))
    }
}

impl From<Limiter> for LimiterSet {
    fn from(limiter: Limiter) -> Self {
        Self::new().with(limiter)
    }
}

impl FromIterator<Limiter> for LimiterSet {
    fn from_iter<I: IntoIterator<Item = Limiter>>(iter: I) -> Self {
        let mut set = Self::new();
        for l in iter {
            set.push(l);
        }
        set
    }
}

/// Permits from every limiter of a [`LimiterSet`]; settle or drop them
/// together.
#[derive(Debug, Default)]
#[must_use = "dropping permits releases them at once"]
pub struct PermitSet {
    permits: Vec<Permit>,
}

impl PermitSet {
    fn with_capacity(n: usize) -> Self {
        Self {
            permits: Vec::with_capacity(n),
        }
    }

    fn rollback(&mut self) {
        for p in self.permits.drain(..).rev() {
            p.rollback();
        }
    }

    /// The permits, one per limiter.
    pub fn permits(&self) -> &[Permit] {
        &self.permits
    }

    /// Settles every permit with the reported usage; returns the first
    /// limiter's outcome (all share one cost).
    pub fn settle(mut self, usage: Usage) -> Settled {
        let mut first = None;
        for p in self.permits.drain(..) {
            let s = p.settle(usage);
            first.get_or_insert(s);
        }
        first.unwrap_or_default()
    }

    /// Charges `extra` on top of every permit's reservation now (see
    /// [`Permit::charge_more`]); returns whether every permit took it.
    pub fn charge_more(&mut self, extra: crate::cost::TokenCounts) -> bool {
        let mut all = true;
        for p in &mut self.permits {
            all &= p.charge_more(extra);
        }
        all
    }

    /// Settles every permit with caller-computed counts for every token
    /// dimension.
    pub fn settle_counts(mut self, actual: crate::cost::TokenCounts) -> Settled {
        let mut first = None;
        for p in self.permits.drain(..) {
            let s = p.settle_counts(actual);
            first.get_or_insert(s);
        }
        first.unwrap_or_default()
    }

    /// Settles every permit with a caller-computed token cost (the combined
    /// dimension; see [`Permit::settle_tokens`]).
    pub fn settle_tokens(mut self, actual_tokens: u64) -> Settled {
        let mut first = None;
        for p in self.permits.drain(..) {
            let s = p.settle_tokens(actual_tokens);
            first.get_or_insert(s);
        }
        first.unwrap_or_default()
    }
}
