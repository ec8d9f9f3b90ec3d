//! How much of a reservation a refund may still give back.
//!
//! Giving a refund back "as of now" over-credits: while the reservation was
//! held, the bucket may have been at (or near) full, and the refill it could
//! not hold then is gone — had the request reserved only what it used, that
//! refill would have been capped away too. So the limiter refunds *as if the
//! request had reserved only its actual cost from the start*, which is what
//! keeps "at most `amount + burst` in any window of one period" true of the
//! real usage, refunds included.
//!
//! In GCRA terms, a reservation's effect on the state (`tat`) can only shrink
//! at the points where `tat` was clamped to a constant (`max(tat, now)` at an
//! admission or a charge, a provider-reported floor): at each such point, by
//! at most the *slack* `tat − now` there was. So the most a refund may give
//! back is the smallest slack recorded since the reservation was made. This
//! history keeps those slacks as suffix minima: a short, increasing stack
//! where the first entry after a reservation's stamp is the minimum since.
//! Refunds lower the later slacks in turn (they are part of what later
//! refunds must not count twice). The stack is bounded; reservations older
//! than what it holds fall back to a floor that only errs towards refunding
//! less.

use std::collections::VecDeque;

use crate::clock::Nanos;

/// Entries kept; older history folds into `floor`.
const KEEP: usize = 64;

/// The clamp points of one bucket since its oldest live reservation.
#[derive(Debug, Clone)]
pub(crate) struct SlackHistory {
    /// Stamp of the latest recorded point.
    seq: u64,
    /// `(stamp, slack)`, stamps and slacks both increasing.
    minima: VecDeque<(u64, Nanos)>,
    /// Every point at or before this stamp has been folded into `floor`.
    horizon: u64,
    /// A lower bound of every slack folded away.
    floor: Nanos,
}

impl SlackHistory {
    pub(crate) fn new() -> Self {
        Self {
            seq: 0,
            minima: VecDeque::with_capacity(KEEP),
            horizon: 0,
            floor: Nanos::MAX,
        }
    }

    /// The latest stamp.
    #[cfg(test)]
    fn stamp(&self) -> u64 {
        self.seq
    }

    /// Records a clamp point with `slack`; returns its stamp.
    #[inline]
    pub(crate) fn record(&mut self, slack: Nanos) -> u64 {
        self.seq += 1;
        while self.minima.back().is_some_and(|&(_, s)| s >= slack) {
            self.minima.pop_back();
        }
        if self.minima.len() == KEEP
            && let Some((seq, s)) = self.minima.pop_front()
        {
            self.horizon = seq;
            self.floor = self.floor.min(s);
        }
        self.minima.push_back((self.seq, slack));
        self.seq
    }

    /// Index of the first entry recorded after `stamp`.
    #[inline]
    fn first_after(&self, stamp: u64) -> usize {
        // Common case: nothing recorded since (a settle right after its
        // admission), without a binary search.
        match self.minima.back() {
            None => 0,
            Some(&(seq, _)) if seq <= stamp => self.minima.len(),
            Some(_) => self.minima.partition_point(|&(seq, _)| seq <= stamp),
        }
    }

    /// The smallest slack recorded after `stamp` (`Nanos::MAX` if none).
    #[cfg(test)]
    fn min_since(&self, stamp: u64) -> Nanos {
        self.min_from(self.first_after(stamp), stamp)
    }

    #[inline]
    fn min_from(&self, first: usize, stamp: u64) -> Nanos {
        let recent = self.minima.get(first).map_or(Nanos::MAX, |&(_, s)| s);
        if stamp < self.horizon {
            recent.min(self.floor)
        } else {
            recent
        }
    }

    /// A reservation stamped `stamp` wants up to `want` back: returns what is
    /// due (no more than the smallest slack since it), and lowers every slack
    /// recorded after it by that much, as it was in truth.
    #[inline]
    pub(crate) fn take(&mut self, stamp: u64, want: Nanos) -> Nanos {
        let first = self.first_after(stamp);
        let due = want.min(self.min_from(first, stamp));
        if due == 0 {
            return 0;
        }
        if first < self.minima.len() {
            for entry in self.minima.range_mut(first..) {
                entry.1 = entry.1.saturating_sub(due);
            }
            // Entries before the lowered ones that are no longer minima of
            // their suffix go.
            let lowered = self.minima[first].1;
            let mut i = first;
            while i > 0 && self.minima[i - 1].1 >= lowered {
                self.minima.remove(i - 1);
                i -= 1;
            }
        }
        if stamp < self.horizon {
            self.floor = self.floor.saturating_sub(due);
        }
        due
    }

    /// The bucket's refill rate changed: time slacks scale with it.
    pub(crate) fn scale(&mut self, ratio: f64) {
        let scale = |s: Nanos| {
            if s == Nanos::MAX {
                s
            } else {
                (s as f64 * ratio).min(Nanos::MAX as f64 - 1.0) as Nanos
            }
        };
        for entry in &mut self.minima {
            entry.1 = scale(entry.1);
        }
        self.floor = scale(self.floor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_since_a_stamp() {
        let mut h = SlackHistory::new();
        let a = h.record(50);
        assert_eq!(h.min_since(0), 50);
        h.record(80);
        assert_eq!(h.min_since(a), 80);
        let b = h.record(30);
        h.record(70);
        assert_eq!(h.min_since(0), 30);
        assert_eq!(h.min_since(a), 30);
        assert_eq!(h.min_since(b), 70);
        assert_eq!(h.min_since(h.stamp()), Nanos::MAX);
    }

    #[test]
    fn refunds_lower_later_slacks() {
        let mut h = SlackHistory::new();
        let a = h.record(40);
        h.record(60);
        assert_eq!(h.take(a, 25), 25);
        assert_eq!(h.min_since(a), 35);
        assert_eq!(h.min_since(0), 35);
        assert_eq!(h.take(a, 100), 35);
        assert_eq!(h.min_since(a), 0);
    }

    #[test]
    fn folded_history_errs_low() {
        let mut h = SlackHistory::new();
        let old = h.record(5);
        for i in 0..200 {
            h.record(10 + i);
        }
        assert!(h.min_since(old) <= 10);
        assert_eq!(h.min_since(h.stamp() - 1), 209);
    }
}
