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

use crate::clock::Nanos;

/// Entries kept (a power of two); older history folds into `floor`.
const KEEP: usize = 64;

/// The clamp points of one bucket since its oldest live reservation.
///
/// The entries live in a fixed ring inside the bucket (no allocation, no
/// capacity checks, index arithmetic by mask): recording one is on every
/// admission's path.
#[derive(Debug, Clone)]
pub(crate) struct SlackHistory {
    /// Stamp of the latest recorded point.
    seq: u64,
    /// Entries in use, oldest first from `head` (wrapping): `(stamp, slack)`,
    /// stamps and slacks both increasing.
    ring: [(u64, Nanos); KEEP],
    /// Where the oldest entry is.
    head: usize,
    /// How many entries are in use.
    len: usize,
    /// Every point at or before this stamp has been folded into `floor`.
    horizon: u64,
    /// A lower bound of every slack folded away.
    floor: Nanos,
}

impl SlackHistory {
    pub(crate) fn new() -> Self {
        Self {
            seq: 0,
            ring: [(0, 0); KEEP],
            head: 0,
            len: 0,
            horizon: 0,
            floor: Nanos::MAX,
        }
    }

    /// The latest stamp.
    #[cfg(test)]
    fn stamp(&self) -> u64 {
        self.seq
    }

    /// The `i`-th entry, oldest first (`i < len`).
    #[inline]
    fn at(&self, i: usize) -> (u64, Nanos) {
        self.ring[(self.head + i) & (KEEP - 1)]
    }

    #[inline]
    fn at_mut(&mut self, i: usize) -> &mut (u64, Nanos) {
        &mut self.ring[(self.head + i) & (KEEP - 1)]
    }

    /// Records a clamp point with `slack`; returns its stamp.
    #[inline]
    pub(crate) fn record(&mut self, slack: Nanos) -> u64 {
        self.seq += 1;
        if slack == 0 {
            // The bucket was full: nothing recorded before can be refunded
            // past this point, and every entry is at least 0.
            self.len = 0;
        } else {
            while self.len > 0 && self.at(self.len - 1).1 >= slack {
                self.len -= 1;
            }
            if self.len == KEEP {
                let (seq, s) = self.at(0);
                self.horizon = seq;
                self.floor = self.floor.min(s);
                self.head = (self.head + 1) & (KEEP - 1);
                self.len -= 1;
            }
        }
        let entry = (self.seq, slack);
        *self.at_mut(self.len) = entry;
        self.len += 1;
        self.seq
    }

    /// Index of the first entry recorded after `stamp`.
    #[inline]
    fn first_after(&self, stamp: u64) -> usize {
        // Common case: nothing recorded since (a settle right after its
        // admission), without a binary search.
        if self.len == 0 || self.at(self.len - 1).0 <= stamp {
            return self.len;
        }
        // Binary search: the entries' stamps increase.
        let (mut lo, mut hi) = (0, self.len - 1);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.at(mid).0 <= stamp {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// The smallest slack recorded after `stamp` (`Nanos::MAX` if none).
    #[cfg(test)]
    fn min_since(&self, stamp: u64) -> Nanos {
        self.min_from(self.first_after(stamp), stamp)
    }

    #[inline]
    fn min_from(&self, first: usize, stamp: u64) -> Nanos {
        let recent = if first < self.len {
            self.at(first).1
        } else {
            Nanos::MAX
        };
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
        // Common case: nothing recorded since the reservation (a settle right
        // after its admission), so nothing limits the refund or is lowered.
        if stamp >= self.horizon && (self.len == 0 || self.at(self.len - 1).0 <= stamp) {
            return want;
        }
        self.take_after(stamp, want)
    }

    /// [`take`](SlackHistory::take) when points were recorded since `stamp`.
    #[inline(never)]
    fn take_after(&mut self, stamp: u64, want: Nanos) -> Nanos {
        let first = self.first_after(stamp);
        let due = want.min(self.min_from(first, stamp));
        if due == 0 {
            return 0;
        }
        if first < self.len {
            self.lower_from(first, due);
        }
        if stamp < self.horizon {
            self.floor = self.floor.saturating_sub(due);
        }
        due
    }

    /// Lowers the slacks of entries `first..` by `due`, then drops the
    /// entries before them that are no longer minima of their suffix.
    fn lower_from(&mut self, first: usize, due: Nanos) {
        for i in first..self.len {
            let entry = self.at_mut(i);
            entry.1 = entry.1.saturating_sub(due);
        }
        let lowered = self.at(first).1;
        let mut keep = first;
        while keep > 0 && self.at(keep - 1).1 >= lowered {
            keep -= 1;
        }
        let gone = first - keep;
        if gone > 0 {
            // Shift the `keep` older entries up over the gone ones.
            for i in (0..keep).rev() {
                let entry = self.at(i);
                *self.at_mut(i + gone) = entry;
            }
            self.head = (self.head + gone) & (KEEP - 1);
            self.len -= gone;
        }
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
        for i in 0..self.len {
            let entry = self.at_mut(i);
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
