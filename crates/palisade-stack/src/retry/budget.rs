//! The retry budget: retries may be at most a share of recent requests plus a
//! small floor, so that when a provider is down, retries cannot multiply the
//! load on it (Finagle's and gRPC's answer to retry storms).

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// Retry budget settings. Defaults: enabled, ratio 0.2, floor 10, window 10 s:
/// over any 10 s, retries ≤ 10 + 20% of requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryBudgetConfig {
    /// Whether the budget applies at all. Default `true`.
    pub enabled: bool,
    /// Retries allowed per request seen in the window. Default 0.2.
    pub ratio: f64,
    /// Retries allowed in every window regardless of traffic, so that a
    /// quiet client can still retry. Default 10.
    pub min_retries: u32,
    /// How far back "recent" reaches. Default 10 s.
    #[serde(with = "palisade_core::duration")]
    pub window: Duration,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            ratio: 0.2,
            min_retries: 10,
            window: Duration::from_secs(10),
        }
    }
}

/// The window is kept as this many slots, so old traffic ages out in steps of
/// a tenth of the window instead of all at once.
const SLOTS: usize = 10;

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    requests: u64,
    retries: u64,
}

#[derive(Debug)]
struct Ring {
    slots: [Slot; SLOTS],
    /// Index (in slot lengths since `epoch`) of the newest slot.
    newest: u64,
}

/// A shared retry budget (clones of a [`RetryLayer`](super::RetryLayer) share one).
#[derive(Debug)]
pub struct RetryBudget {
    config: RetryBudgetConfig,
    slot_len: Duration,
    epoch: Instant,
    ring: Mutex<Ring>,
}

impl RetryBudget {
    /// A budget with `config`, its window starting now (tokio time).
    pub fn new(config: RetryBudgetConfig) -> Self {
        let slot_len = (config.window / SLOTS as u32).max(Duration::from_millis(1));
        Self {
            config,
            slot_len,
            epoch: Instant::now(),
            ring: Mutex::new(Ring {
                slots: [Slot::default(); SLOTS],
                newest: 0,
            }),
        }
    }

    /// The settings.
    pub fn config(&self) -> &RetryBudgetConfig {
        &self.config
    }

    /// Counts a new request (a first attempt).
    pub fn deposit(&self) {
        self.deposit_at(Instant::now());
    }

    /// Counts a new request made at `now` (saves a clock read for a caller
    /// that has one).
    pub(crate) fn deposit_at(&self, now: Instant) {
        if self.config.enabled {
            self.current_at(now).slots_mut_newest().requests += 1;
        }
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn try_withdraw(&self) -> bool {
        if !self.config.enabled {
            return true;
        }
        let mut ring = self.current();
        let (requests, retries) = ring
            .0
            .slots
            .iter()
            .fold((0u64, 0u64), |(q, r), s| (q + s.requests, r + s.retries));
        let allowed = self.config.min_retries as f64 + self.config.ratio.max(0.0) * requests as f64;
        if (retries as f64) < allowed.floor() {
            ring.slots_mut_newest().retries += 1;
            true
        } else {
            false
        }
    }

    /// Retries still allowed now.
    pub fn remaining(&self) -> u64 {
        let ring = self.current();
        let (requests, retries) = ring
            .0
            .slots
            .iter()
            .fold((0u64, 0u64), |(q, r), s| (q + s.requests, r + s.retries));
        let allowed = self.config.min_retries as f64 + self.config.ratio.max(0.0) * requests as f64;
        (allowed.floor() as u64).saturating_sub(retries)
    }

    /// Forgets all recent traffic.
    pub fn reset(&self) {
        let mut ring = self.lock();
        ring.slots = [Slot::default(); SLOTS];
    }

    fn lock(&self) -> MutexGuard<'_, Ring> {
        // Counters stay meaningful even if a holder panicked mid-update.
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the ring and ages out the slots that fell out of the window.
    fn current(&self) -> Current<'_> {
        self.current_at(Instant::now())
    }

    fn current_at(&self, now: Instant) -> Current<'_> {
        let mut ring = self.lock();
        let now_slot = (now.saturating_duration_since(self.epoch).as_nanos()
            / self.slot_len.as_nanos().max(1)) as u64;
        let stale = now_slot.saturating_sub(ring.newest);
        for k in 1..=stale.min(SLOTS as u64) {
            let idx = ((ring.newest + k) % SLOTS as u64) as usize;
            ring.slots[idx] = Slot::default();
        }
        ring.newest = ring.newest.max(now_slot);
        Current(ring)
    }
}

struct Current<'a>(MutexGuard<'a, Ring>);

impl Current<'_> {
    fn slots_mut_newest(&mut self) -> &mut Slot {
        let idx = (self.0.newest % SLOTS as u64) as usize;
        &mut self.0.slots[idx]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded_by_floor_plus_ratio_and_age_out() {
        let budget = RetryBudget::new(RetryBudgetConfig {
            ratio: 0.1,
            min_retries: 5,
            ..RetryBudgetConfig::default()
        });
        for _ in 0..100 {
            budget.deposit();
        }
        let granted = (0..1000).filter(|_| budget.try_withdraw()).count();
        assert_eq!(granted, 15);
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(budget.remaining(), 5, "old traffic aged out");
    }
}
