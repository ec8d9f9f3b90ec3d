//! Sharing decisions with a fleet through a [`BreakerStore`]: fleet-wide
//! probe slots, publishing local transitions, adopting the fleet's state.
//! The semantics are in [`crate::store`].

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::Instant;

use super::{CircuitBreaker, Inner};
use crate::error::BreakerOpen;
use crate::events::TransitionReason;
use crate::open_duration;
use crate::permit::Permit;
use crate::state::BreakerState;
use crate::store::{ISOLATED_RETRY_AFTER, ProbeGrant, SharedState, StoreError, Transition};

impl CircuitBreaker {
    /// Like [`try_acquire`](Self::try_acquire), and with a shared store a
    /// half-open probe also needs a fleet-wide probe slot. In the closed state
    /// it completes without awaiting anything. A store error falls back to the
    /// local decision.
    pub async fn acquire(&self) -> Result<Permit, BreakerOpen> {
        let mut permit = self.try_acquire()?;
        let Some(store) = self.inner.store.as_ref().filter(|_| permit.is_probe()) else {
            return Ok(permit);
        };
        let half_open = &self.inner.config.half_open;
        match store
            .try_acquire_probe(&self.inner.id, half_open.max_probes, half_open.probe_lease)
            .await
        {
            Ok(ProbeGrant::Granted) => {
                permit.hold_store_probe();
                Ok(permit)
            }
            Ok(ProbeGrant::Busy) => {
                Err(self.refusal(BreakerState::HalfOpen, half_open.busy_retry_after))
            }
            Ok(ProbeGrant::Open { retry_after }) => {
                drop(permit);
                self.adopt(SharedState {
                    state: BreakerState::Open,
                    retry_after: Some(retry_after),
                    consecutive_opens: 0,
                    probes_in_flight: 0,
                });
                Err(self.refusal(BreakerState::Open, retry_after))
            }
            Ok(ProbeGrant::Isolated) => {
                drop(permit);
                self.adopt(SharedState {
                    state: BreakerState::Isolated,
                    retry_after: Some(ISOLATED_RETRY_AFTER),
                    consecutive_opens: 0,
                    probes_in_flight: 0,
                });
                Err(self.refusal(BreakerState::Isolated, ISOLATED_RETRY_AFTER))
            }
            Ok(ProbeGrant::Closed) => {
                // Another instance closed the circuit: this probe's generation
                // ends here, and the call goes through as a closed-state call.
                drop(permit);
                self.adopt(SharedState {
                    state: BreakerState::Closed,
                    retry_after: None,
                    consecutive_opens: 0,
                    probes_in_flight: 0,
                });
                self.try_acquire()
            }
            Err(error) => {
                tracing::warn!(
                    target: "palisade_breaker",
                    provider = %self.inner.id,
                    %error,
                    "breaker store unreachable; probing on local state"
                );
                Ok(permit)
            }
        }
    }

    /// Reads the fleet's state from the store and adopts it where it is
    /// stricter than the local one (another instance opened or isolated the
    /// circuit) or ends a local half-open or isolation (another instance
    /// closed or reset it). Without a store, does nothing.
    pub async fn sync_from_store(&self) -> Result<(), StoreError> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        if let Some(shared) = store.load(&self.inner.id).await?
            && self.inner.publishing.load(Ordering::Acquire) == 0
        {
            self.adopt(shared);
        }
        Ok(())
    }

    /// Spawns a task that calls [`sync_from_store`](Self::sync_from_store)
    /// every `period` for as long as a clone of this breaker lives. `None`
    /// without a store or outside a tokio runtime.
    pub fn spawn_store_sync(&self, period: Duration) -> Option<tokio::task::JoinHandle<()>> {
        self.inner.store.as_ref()?;
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        Some(handle.spawn(async move {
            let mut tick = tokio::time::interval(period.max(Duration::from_millis(1)));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let breaker = CircuitBreaker { inner };
                if let Err(error) = breaker.sync_from_store().await {
                    tracing::warn!(target: "palisade_breaker", provider = %breaker.inner.id, %error, "breaker store sync failed");
                }
            }
        }))
    }

    /// Adopts the fleet's state where it should win (see `sync_from_store`).
    fn adopt(&self, shared: SharedState) {
        let now = Instant::now();
        let change = {
            let mut g = self.lock();
            let from = self.word().state();
            match (shared.state, from) {
                (BreakerState::Open, BreakerState::Open) => {
                    // Already open here: keep the later deadline, quietly.
                    let until =
                        open_duration::deadline(now, shared.retry_after.unwrap_or(Duration::ZERO));
                    g.open_until = g.open_until.max(Some(until));
                    g.consecutive_opens = g.consecutive_opens.max(shared.consecutive_opens);
                    None
                }
                (BreakerState::Open, BreakerState::Closed | BreakerState::HalfOpen) => {
                    let until =
                        open_duration::deadline(now, shared.retry_after.unwrap_or(Duration::ZERO));
                    g.open_until = Some(until);
                    g.consecutive_opens = g.consecutive_opens.max(shared.consecutive_opens);
                    g.probes_in_flight = 0;
                    g.probe_successes = 0;
                    self.inner.window.clear();
                    Some(self.set_state(
                        from,
                        BreakerState::Open,
                        TransitionReason::Shared,
                        shared.retry_after,
                    ))
                }
                (BreakerState::Isolated, f) if f != BreakerState::Isolated => {
                    g.open_until = None;
                    g.probes_in_flight = 0;
                    Some(self.set_state(
                        from,
                        BreakerState::Isolated,
                        TransitionReason::Shared,
                        None,
                    ))
                }
                // A local `Open` is not ended by a shared `Closed`: the fleet may
                // simply not have seen this instance's trip yet. It probes the
                // store when its own deadline passes and closes then.
                (BreakerState::Closed, BreakerState::HalfOpen | BreakerState::Isolated) => {
                    self.close(&mut g, TransitionReason::Shared)
                }
                _ => None,
            }
        };
        self.emit(change);
    }

    /// Publishes a decision to the store, if any, without waiting (the caller
    /// may hold the lock, or be in `Drop`).
    pub(super) fn publish(&self, transition: Transition) {
        let Some(store) = self.inner.store.clone() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(target: "palisade_breaker", provider = %self.inner.id, ?transition, "no tokio runtime: breaker decision not shared");
            return;
        };
        self.inner.publishing.fetch_add(1, Ordering::AcqRel);
        let breaker = self.clone();
        handle.spawn(async move {
            let result = store.apply(&breaker.inner.id, transition).await;
            breaker.inner.publishing.fetch_sub(1, Ordering::AcqRel);
            match result {
                // The fleet may hold a later deadline (or an isolation) than ours.
                Ok(shared) => breaker.adopt(shared),
                Err(error) => tracing::warn!(target: "palisade_breaker", provider = %breaker.inner.id, ?transition, %error, "breaker store publish failed"),
            }
        });
    }

    /// Returns a fleet-wide probe slot, without waiting.
    pub(crate) fn release_store_probe(&self) {
        let (Some(store), Ok(handle)) = (
            self.inner.store.clone(),
            tokio::runtime::Handle::try_current(),
        ) else {
            // Without a runtime the slot's lease expires on its own.
            return;
        };
        let id = self.inner.id.clone();
        handle.spawn(async move {
            if let Err(error) = store.release_probe(&id).await {
                tracing::warn!(target: "palisade_breaker", provider = %id, %error, "breaker store probe release failed; the lease will expire");
            }
        });
    }
}
