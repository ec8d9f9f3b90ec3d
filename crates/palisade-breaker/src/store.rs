//! Sharing breaker state between instances: the [`BreakerStore`] trait and
//! [`InMemoryStore`], its in-process implementation.
//!
//! # What is shared, and what is not
//!
//! Outcomes are counted in-process: every instance keeps its own sliding
//! window and consecutive-failure count, and the closed-state fast path never
//! touches the store. What the fleet shares are the *decisions*:
//!
//! - a trip is published as [`Transition::Open`]; the store keeps the later
//!   of the open-until deadlines it is given, so one instance's trip opens the
//!   circuit for all once they [sync](crate::CircuitBreaker::sync_from_store);
//! - half-open probe slots are fleet-wide: an instance admits a probe only
//!   after [`BreakerStore::try_acquire_probe`] grants a slot, leased for
//!   [`probe_lease`](crate::HalfOpenConfig::probe_lease) so a crashed
//!   instance cannot hold one forever;
//! - closing, isolation and resets are published, so a reset on one instance
//!   (the "reset cooldowns" emergency action) resets the fleet.
//!
//! Times cross the store as durations from *now*, so a store with its own
//! clock (Redis's `TIME`) never compares instants from different machines.
//!
//! A store that fails (Redis unreachable) never blocks calls: the breaker
//! logs the error and goes on with its local state (fail open to local).

use std::collections::HashMap;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use palisade_core::ProviderId;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::open_duration::deadline;
use crate::state::BreakerState;

/// What isolation reports as `retry_after`: it has no end, so routing is told
/// to look again in an hour (a finite value keeps deadline arithmetic safe).
pub const ISOLATED_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// A breaker's state as the fleet sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedState {
    /// The shared state.
    pub state: BreakerState,
    /// For `Open`: time until probes are allowed; for `Isolated`:
    /// [`ISOLATED_RETRY_AFTER`]; otherwise `None`.
    pub retry_after: Option<Duration>,
    /// Openings since the circuit last closed (drives growing durations).
    pub consecutive_opens: u32,
    /// Probe slots leased out fleet-wide.
    pub probes_in_flight: u32,
}

/// A decision an instance publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Open for at least `open_for` from now (the store keeps the later
    /// deadline if it is already open), counting `consecutive_opens`.
    Open {
        /// How long to stay open.
        open_for: Duration,
        /// The instance's count of consecutive openings.
        consecutive_opens: u32,
    },
    /// Enough probes succeeded: closed, probe slots cleared.
    Close,
    /// Forced open until reset.
    Isolate,
    /// Closed and every count cleared.
    Reset,
}

/// The store's answer to a probe request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeGrant {
    /// A fleet-wide probe slot is leased to the caller; release it with
    /// [`BreakerStore::release_probe`].
    Granted,
    /// Every slot is taken.
    Busy,
    /// The fleet's circuit is open (or isolated) for `retry_after` more.
    Open {
        /// Time until probes are allowed.
        retry_after: Duration,
    },
    /// The fleet's circuit is isolated (forced open until reset).
    Isolated,
    /// The fleet's circuit is closed: call without probing.
    Closed,
}

/// A failed store operation (the store is unreachable, a script failed).
#[derive(Debug, thiserror::Error)]
#[error("breaker store: {message}")]
pub struct StoreError {
    message: String,
    #[source]
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl StoreError {
    /// An error with a message saying what failed and for which key.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// Attaches the underlying error.
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(source));
        self
    }
}

/// Where a fleet of instances shares breaker decisions (see the module docs).
///
/// Keys are provider ids; implementations map them to their own key space
/// (`palisade-redis` hash-tags them for Redis Cluster). Every method is one
/// round trip and must be atomic per key.
#[async_trait]
pub trait BreakerStore: Send + Sync + fmt::Debug {
    /// The fleet's state for `key`, `None` if nothing was ever published.
    async fn load(&self, key: &ProviderId) -> Result<Option<SharedState>, StoreError>;

    /// Applies a decision and returns the resulting shared state.
    async fn apply(
        &self,
        key: &ProviderId,
        transition: Transition,
    ) -> Result<SharedState, StoreError>;

    /// Leases a half-open probe slot for `lease` if fewer than `max_probes`
    /// are leased. An open circuit whose deadline has passed turns half-open
    /// here.
    async fn try_acquire_probe(
        &self,
        key: &ProviderId,
        max_probes: u32,
        lease: Duration,
    ) -> Result<ProbeGrant, StoreError>;

    /// Returns a probe slot leased by [`try_acquire_probe`](Self::try_acquire_probe).
    async fn release_probe(&self, key: &ProviderId) -> Result<(), StoreError>;
}

/// The in-process [`BreakerStore`]: shares decisions between breakers of one
/// process (several stacks over one model, tests), and is the reference
/// semantics for distributed stores. Uses tokio time.
#[derive(Debug, Default)]
pub struct InMemoryStore {
    entries: Mutex<HashMap<ProviderId, Entry>>,
}

#[derive(Debug, Clone)]
struct Entry {
    state: BreakerState,
    open_until: Option<Instant>,
    consecutive_opens: u32,
    /// Lease expiries of the probe slots out.
    probes: Vec<Instant>,
}

impl Default for Entry {
    fn default() -> Self {
        Self {
            state: BreakerState::Closed,
            open_until: None,
            consecutive_opens: 0,
            probes: Vec::new(),
        }
    }
}

impl Entry {
    fn shared(&self, now: Instant) -> SharedState {
        let retry_after = match self.state {
            BreakerState::Open => self.open_until.map(|t| t.saturating_duration_since(now)),
            BreakerState::Isolated => Some(ISOLATED_RETRY_AFTER),
            _ => None,
        };
        SharedState {
            state: self.state,
            retry_after,
            consecutive_opens: self.consecutive_opens,
            probes_in_flight: u32::try_from(self.probes.len()).unwrap_or(u32::MAX),
        }
    }
}

impl InMemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_entry<T>(&self, key: &ProviderId, f: impl FnOnce(&mut Entry, Instant) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(key.clone()).or_default();
        let now = Instant::now();
        entry.probes.retain(|expiry| *expiry > now);
        f(entry, now)
    }
}

#[async_trait]
impl BreakerStore for InMemoryStore {
    async fn load(&self, key: &ProviderId) -> Result<Option<SharedState>, StoreError> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        Ok(entries.get(key).map(|e| e.shared(Instant::now())))
    }

    async fn apply(
        &self,
        key: &ProviderId,
        transition: Transition,
    ) -> Result<SharedState, StoreError> {
        Ok(self.with_entry(key, |entry, now| {
            match transition {
                Transition::Open {
                    open_for,
                    consecutive_opens,
                } => {
                    if entry.state != BreakerState::Isolated {
                        let until = deadline(now, open_for);
                        let keep_later = entry.state == BreakerState::Open
                            && entry.open_until.is_some_and(|t| t > until);
                        if !keep_later {
                            entry.open_until = Some(until);
                        }
                        entry.state = BreakerState::Open;
                        entry.consecutive_opens = entry.consecutive_opens.max(consecutive_opens);
                        entry.probes.clear();
                    }
                }
                Transition::Close => {
                    if entry.state != BreakerState::Isolated {
                        *entry = Entry::default();
                    }
                }
                Transition::Isolate => {
                    entry.state = BreakerState::Isolated;
                    entry.open_until = None;
                    entry.probes.clear();
                }
                Transition::Reset => *entry = Entry::default(),
            }
            entry.shared(now)
        }))
    }

    async fn try_acquire_probe(
        &self,
        key: &ProviderId,
        max_probes: u32,
        lease: Duration,
    ) -> Result<ProbeGrant, StoreError> {
        Ok(self.with_entry(key, |entry, now| {
            if entry.state == BreakerState::Open {
                match entry.open_until {
                    Some(until) if until > now => {
                        return ProbeGrant::Open {
                            retry_after: until - now,
                        };
                    }
                    _ => {
                        entry.state = BreakerState::HalfOpen;
                        entry.probes.clear();
                    }
                }
            }
            match entry.state {
                BreakerState::Closed => ProbeGrant::Closed,
                BreakerState::Isolated => ProbeGrant::Isolated,
                _ if entry.probes.len() < max_probes as usize => {
                    entry.probes.push(deadline(now, lease));
                    ProbeGrant::Granted
                }
                _ => ProbeGrant::Busy,
            }
        }))
    }

    async fn release_probe(&self, key: &ProviderId) -> Result<(), StoreError> {
        self.with_entry(key, |entry, _| {
            // Leases are interchangeable; dropping the one closest to expiry
            // keeps the longest-lived slots for calls still running.
            if let Some(i) = (0..entry.probes.len()).min_by_key(|i| entry.probes[*i]) {
                entry.probes.swap_remove(i);
            }
        });
        Ok(())
    }
}
