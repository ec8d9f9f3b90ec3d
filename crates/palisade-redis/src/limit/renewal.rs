//! `LeaseKeeper`: renews this process's live concurrency leases every third
//! of their TTL, so a lease outlives a slow call but not a crashed process.
//!
//! The limiter hands the store a lease TTL and never renews it itself; without
//! renewal a TTL short enough to recover quickly from a crash would cut long
//! (streaming) calls off, and a TTL long enough for them would keep a crashed
//! instance's slots for minutes. Renewal removes that trade-off: one script
//! call per limit key per renewal period, whatever the number of leases.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use crate::connection::RedisConnection;
use crate::keys::LimitKeys;
use crate::limit::scripts;
use crate::stats::StatsCounters;

/// The live leases of one store, by limit key.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeaseKeeper {
    state: Arc<Mutex<KeeperState>>,
}

#[derive(Debug, Default)]
struct KeeperState {
    by_limit: HashMap<String, HeldLeases>,
    /// Whether a renewal task is running (at most one per keeper).
    renewing: bool,
}

#[derive(Debug)]
struct HeldLeases {
    keys: LimitKeys,
    ttl: Duration,
    members: HashSet<String>,
}

impl LeaseKeeper {
    /// Starts renewing `member` (a lease of limit `name`) until
    /// [`forget`](Self::forget). Starts the renewal task if none runs (it
    /// needs a Tokio runtime; without one the lease simply lives its TTL).
    pub(crate) fn hold(
        &self,
        connection: &RedisConnection,
        name: &str,
        keys: &LimitKeys,
        ttl: Duration,
        member: String,
    ) {
        let mut state = self.lock();
        // Looked up before inserting: the common case (a limit already held)
        // then allocates nothing but the member.
        if !state.by_limit.contains_key(name) {
            let held = HeldLeases {
                keys: keys.clone(),
                ttl,
                members: HashSet::new(),
            };
            state.by_limit.insert(name.to_owned(), held);
        }
        let Some(held) = state.by_limit.get_mut(name) else {
            return;
        };
        // Limiters of one key normally share a TTL; the shortest one wins so
        // that no lease is renewed too late.
        held.ttl = held.ttl.min(ttl);
        held.members.insert(member);
        if !state.renewing
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            state.renewing = true;
            runtime.spawn(renew_until_idle(
                Arc::downgrade(&self.state),
                connection.clone(),
            ));
        }
    }

    /// Stops renewing `member`: it was settled or released (or that failed
    /// and it should now expire).
    pub(crate) fn forget(&self, name: &str, member: &str) {
        let mut state = self.lock();
        if let Some(held) = state.by_limit.get_mut(name) {
            held.members.remove(member);
            if held.members.is_empty() {
                state.by_limit.remove(name);
            }
        }
    }

    /// Leases being renewed.
    pub(crate) fn live(&self) -> usize {
        self.lock().by_limit.values().map(|h| h.members.len()).sum()
    }

    fn lock(&self) -> MutexGuard<'_, KeeperState> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<KeeperState>) -> MutexGuard<'_, KeeperState> {
    // Never held across an await; a poisoned lock still holds valid sets.
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The renewal loop: sleeps a third of the shortest TTL, renews every limit's
/// leases in one call each, and ends when there is nothing left to renew or
/// the store is gone.
async fn renew_until_idle(state: Weak<Mutex<KeeperState>>, connection: RedisConnection) {
    loop {
        let period = {
            let Some(state) = state.upgrade() else { return };
            let mut guard = lock(&state);
            match guard.by_limit.values().map(|h| h.ttl).min() {
                Some(ttl) => (ttl / 3).max(Duration::from_millis(1)),
                None => {
                    guard.renewing = false;
                    return;
                }
            }
        };
        tokio::time::sleep(period).await;
        let batches: Vec<(String, LimitKeys, Duration, Vec<String>)> = {
            let Some(state) = state.upgrade() else { return };
            let guard = lock(&state);
            guard
                .by_limit
                .iter()
                .map(|(name, h)| {
                    let members = h.members.iter().cloned().collect();
                    (name.clone(), h.keys.clone(), h.ttl, members)
                })
                .collect()
        };
        for (name, keys, ttl, members) in batches {
            // On error the connection has logged the outage; the leases are
            // renewed on the next tick if Redis is back before they expire.
            if let Ok(lost) = scripts::renew(&connection, &keys, &members, ttl).await {
                let counters = connection.counters();
                let renewed = members.len().saturating_sub(lost.len());
                StatsCounters::add(&counters.leases_renewed, renewed as u64);
                if !lost.is_empty() {
                    StatsCounters::add(&counters.leases_lost, lost.len() as u64);
                    tracing::warn!(
                        limit = %name,
                        lost = lost.len(),
                        "palisade-redis: concurrency leases expired before renewal \
                         (this process stalled or was cut off longer than the lease TTL); \
                         their slots may have been handed out again"
                    );
                    forget_lost(&state, &name, &lost);
                }
            }
        }
    }
}

/// Stops renewing leases Redis no longer has.
fn forget_lost(state: &Weak<Mutex<KeeperState>>, name: &str, lost: &[String]) {
    let Some(state) = state.upgrade() else { return };
    let mut guard = lock(&state);
    if let Some(held) = guard.by_limit.get_mut(name) {
        for member in lost {
            held.members.remove(member);
        }
        if held.members.is_empty() {
            guard.by_limit.remove(name);
        }
    }
}
