//! The waiter queue: FIFO within a priority, higher priorities first, with
//! aging so that no priority starves, and head-of-line admission so that a
//! large request is never overtaken forever by small ones.
//!
//! Only the *head* (the waiter that would be served next) ever tries to get
//! admitted. When capacity frees up, the code that freed it runs
//! `Shared::dispatch` under the lock, which grants waiters from the
//! head while they fit and wakes exactly those it granted, plus the new head
//! if it must arm a timer: no thundering herd. Waiters behind the head sleep
//! until they are granted, become head, or reach their deadline.

use std::collections::VecDeque;
use std::task::Waker;

use crate::clock::Nanos;
use crate::cost::TokenCounts;
use crate::limits::{Blocked, Stamps};

/// One request waiting for admission.
#[derive(Debug)]
struct Waiter {
    id: u64,
    counts: TokenCounts,
    rank: usize,
    enqueued_at: Nanos,
    waker: Option<Waker>,
}

/// What removing a waiter found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Removed {
    /// It was still waiting (and whether it was the head).
    Waiting { was_head: bool },
    /// It had been granted admission but had not collected it yet.
    Granted { counts: TokenCounts, stamps: Stamps },
    /// It was not there (already collected or expired).
    Missing,
}

/// The head of the queue: who is served next and what it costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) id: u64,
    pub(crate) counts: TokenCounts,
    pub(crate) enqueued_at: Nanos,
}

/// Waiters by priority lane (index = `Priority::rank`, 0 = Critical).
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    lanes: [VecDeque<Waiter>; 4],
    waiting: usize,
    /// Granted waiters that have not collected their admission yet.
    granted: Vec<(u64, TokenCounts, Stamps)>,
    next_id: u64,
    /// The head and why it could not be admitted when last tried.
    head_blocked: Option<(u64, Blocked)>,
}

impl WaitQueue {
    /// Requests waiting (not counting granted ones not yet collected).
    #[inline]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    /// Adds a waiter at the back of its priority lane; returns its id.
    pub(crate) fn push(
        &mut self,
        counts: TokenCounts,
        rank: usize,
        now: Nanos,
        waker: &Waker,
    ) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        let lane = rank.min(self.lanes.len() - 1);
        self.lanes[lane].push_back(Waiter {
            id,
            counts,
            rank: lane,
            enqueued_at: now,
            waker: Some(waker.clone()),
        });
        self.waiting += 1;
        id
    }

    /// The waiter served next: the lowest effective rank among the lane
    /// fronts, where every `aging` waited lowers a rank by one; ties go to
    /// the one that came first.
    pub(crate) fn head(&self, now: Nanos, aging: Nanos) -> Option<Head> {
        self.lanes
            .iter()
            .filter_map(|lane| lane.front())
            .min_by_key(|w| {
                let promoted = now
                    .saturating_sub(w.enqueued_at)
                    .checked_div(aging)
                    .map_or(0, |n| usize::try_from(n).unwrap_or(usize::MAX));
                (w.rank.saturating_sub(promoted), w.id)
            })
            .map(|w| Head {
                id: w.id,
                counts: w.counts,
                enqueued_at: w.enqueued_at,
            })
    }

    /// Why the head was last refused, if it was.
    pub(crate) fn head_blocked(&self) -> Option<Blocked> {
        self.head_blocked.map(|(_, b)| b)
    }

    /// Marks the head `id` granted: moves it out of its lane and wakes it.
    pub(crate) fn grant(&mut self, id: u64, stamps: Stamps) {
        if let Some(waiter) = self.take_waiting(id) {
            self.granted.push((id, waiter.counts, stamps));
            if let Some(w) = waiter.waker {
                w.wake();
            }
        }
        if self.head_blocked.is_some_and(|(head, _)| head == id) {
            self.head_blocked = None;
        }
    }

    /// Records that the head `id` does not fit, and wakes it (unless it is the
    /// one polling) when this is news to it and it must arm a timer.
    pub(crate) fn note_blocked(&mut self, id: u64, blocked: Blocked, polling: Option<u64>) {
        let news = self.head_blocked != Some((id, blocked));
        self.head_blocked = Some((id, blocked));
        // A head that only waits for a concurrency slot needs no timer: the
        // release that frees the slot grants it directly.
        if news
            && blocked.not_before > 0
            && polling != Some(id)
            && let Some(w) = self.find_mut(id).and_then(|w| w.waker.as_ref())
        {
            w.wake_by_ref();
        }
    }

    /// Wakes `id` (remote mode: the head should ask the store again).
    pub(crate) fn wake(&mut self, id: u64) {
        if let Some(w) = self.find_mut(id).and_then(|w| w.waker.as_ref()) {
            w.wake_by_ref();
        }
    }

    /// Collects a grant for `id`, if there is one.
    pub(crate) fn take_granted(&mut self, id: u64) -> Option<Stamps> {
        let i = self.granted.iter().position(|(g, _, _)| *g == id)?;
        Some(self.granted.swap_remove(i).2)
    }

    /// Stores the waker to wake `id` with.
    pub(crate) fn set_waker(&mut self, id: u64, waker: &Waker) {
        if let Some(w) = self.find_mut(id) {
            match &mut w.waker {
                Some(old) if old.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
    }

    /// Removes `id` wherever it is.
    pub(crate) fn remove(&mut self, id: u64, now: Nanos, aging: Nanos) -> Removed {
        if let Some(i) = self.granted.iter().position(|(g, _, _)| *g == id) {
            let (_, counts, stamps) = self.granted.swap_remove(i);
            return Removed::Granted { counts, stamps };
        }
        let was_head = self.head(now, aging).is_some_and(|h| h.id == id);
        match self.take_waiting(id) {
            Some(_) => {
                if self.head_blocked.is_some_and(|(head, _)| head == id) {
                    self.head_blocked = None;
                }
                Removed::Waiting { was_head }
            }
            None => Removed::Missing,
        }
    }

    fn take_waiting(&mut self, id: u64) -> Option<Waiter> {
        let (lane, i) = self.locate(id)?;
        self.waiting -= 1;
        self.lanes[lane].remove(i)
    }

    fn find_mut(&mut self, id: u64) -> Option<&mut Waiter> {
        let (lane, i) = self.locate(id)?;
        self.lanes[lane].get_mut(i)
    }

    /// Where `id` waits: its lane and index. Ids only grow and a waiter only
    /// ever joins the back of its lane, so every lane is sorted by id and a
    /// binary search finds it: a queue of tens of thousands of waiters (a
    /// model far over its quota) no longer costs a linear scan on every
    /// poll, grant and removal.
    fn locate(&self, id: u64) -> Option<(usize, usize)> {
        self.lanes.iter().enumerate().find_map(|(lane, waiters)| {
            waiters
                .binary_search_by_key(&id, |w| w.id)
                .ok()
                .map(|i| (lane, i))
        })
    }
}

/// Side-effect-free look-ahead, for [`Limiter::expected_wait`](crate::Limiter::expected_wait).
impl WaitQueue {
    /// The waiters served before a new request of priority `rank` (those of
    /// its own and higher priorities; aging is ignored), and what they cost
    /// together.
    pub(crate) fn ahead_of(&self, rank: usize) -> (u64, TokenCounts) {
        let lanes = &self.lanes[..=rank.min(self.lanes.len() - 1)];
        lanes
            .iter()
            .flatten()
            .fold((0, TokenCounts::default()), |(n, sum), w| {
                (
                    n + 1,
                    TokenCounts {
                        tokens: sum.tokens.saturating_add(w.counts.tokens),
                        input: sum.input.saturating_add(w.counts.input),
                        output: sum.output.saturating_add(w.counts.output),
                    },
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use std::task::Waker;

    use super::*;

    /// Waiters pushed into different lanes, interleaved, are found and
    /// removed by id wherever they are, front, middle or back: the binary
    /// search relies on each lane being sorted by id, which pushes keep.
    #[test]
    fn waiters_are_found_by_id_in_every_lane_after_removals() {
        let mut queue = WaitQueue::default();
        let waker = Waker::noop();
        let ids: Vec<(u64, usize)> = (0..40)
            .map(|n| {
                let rank = n % 3;
                (
                    queue.push(TokenCounts::combined(n as u64), rank, 0, waker),
                    rank,
                )
            })
            .collect();
        for &(id, _) in ids.iter().skip(5).step_by(4) {
            assert!(matches!(queue.remove(id, 0, 0), Removed::Waiting { .. }));
            assert_eq!(queue.remove(id, 0, 0), Removed::Missing);
        }
        let removed = ids.iter().skip(5).step_by(4).count();
        assert_eq!(queue.waiting(), ids.len() - removed);
        for (n, &(id, rank)) in ids.iter().enumerate() {
            let gone = n >= 5 && (n - 5) % 4 == 0;
            match queue.find_mut(id) {
                Some(w) => {
                    assert!(!gone, "{id} was removed");
                    assert_eq!((w.id, w.counts.tokens, w.rank), (id, n as u64, rank));
                }
                None => assert!(gone, "{id} not found"),
            }
        }
        assert!(queue.find_mut(0).is_none());
        assert!(queue.find_mut(1_000).is_none());
    }
}
