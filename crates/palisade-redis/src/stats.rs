//! Counters every store keeps, and the snapshot `stats()` returns.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

/// What the stores sharing one [`RedisConnection`](crate::RedisConnection)
/// have done since it was created. Counters only grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RedisStats {
    /// Whether the last attempt to reach Redis succeeded.
    pub available: bool,
    /// Script calls Redis answered.
    pub calls: u64,
    /// Calls that failed to reach Redis (refused, reset, timed out).
    pub unreachable: u64,
    /// Calls not sent because Redis was down and the retry interval had not
    /// passed (they went straight to the failure policy).
    pub skipped_while_down: u64,
    /// Replies the store did not understand (wrong key type, foreign script).
    pub unexpected_replies: u64,
    /// Decisions made by the local fallback store under `fail_open`.
    pub served_locally: u64,
    /// Calls refused with `Unavailable` (policy `fail_closed`, or
    /// `fail_open` without a fallback).
    pub refused_unavailable: u64,
    /// Times Redis went from reachable to unreachable.
    pub outages: u64,
    /// Times it came back.
    pub recoveries: u64,
    /// Concurrency leases and probe slots renewed.
    pub leases_renewed: u64,
    /// Leases found expired when renewing them (the holder stalled longer
    /// than `lease_ttl`; its slot may have been given to someone else).
    pub leases_lost: u64,
}

#[derive(Debug, Default)]
pub(crate) struct StatsCounters {
    pub(crate) available: AtomicBool,
    pub(crate) calls: AtomicU64,
    pub(crate) unreachable: AtomicU64,
    pub(crate) skipped_while_down: AtomicU64,
    pub(crate) unexpected_replies: AtomicU64,
    pub(crate) served_locally: AtomicU64,
    pub(crate) refused_unavailable: AtomicU64,
    pub(crate) outages: AtomicU64,
    pub(crate) recoveries: AtomicU64,
    pub(crate) leases_renewed: AtomicU64,
    pub(crate) leases_lost: AtomicU64,
}

impl StatsCounters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> RedisStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisStats {
            available: self.available.load(Ordering::Relaxed),
            calls: get(&self.calls),
            unreachable: get(&self.unreachable),
            skipped_while_down: get(&self.skipped_while_down),
            unexpected_replies: get(&self.unexpected_replies),
            served_locally: get(&self.served_locally),
            refused_unavailable: get(&self.refused_unavailable),
            outages: get(&self.outages),
            recoveries: get(&self.recoveries),
            leases_renewed: get(&self.leases_renewed),
            leases_lost: get(&self.leases_lost),
        }
    }
}
