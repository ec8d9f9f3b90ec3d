//! Sliding windows of call outcomes, updated without locks.
//!
//! Both windows answer one question — how many calls, failures and slow calls
//! are in the window now — and both are written from the closed-state fast
//! path, so they use atomics only. Under concurrent writers a reader may see a
//! count that is off by the writes in flight at that instant (each write is two
//! atomic steps); the counts settle as soon as the writes finish. A breaker
//! decides on rates over tens of calls, so that noise cannot trip it alone.

use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::SlidingWindow;

/// What the window holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct WindowCounts {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

impl WindowCounts {
    /// Failures as a percentage of calls, `None` for an empty window.
    pub(crate) fn failure_rate(&self) -> Option<f64> {
        percent(self.failures, self.calls)
    }

    /// Slow calls as a percentage of calls, `None` for an empty window.
    pub(crate) fn slow_rate(&self) -> Option<f64> {
        percent(self.slow, self.calls)
    }
}

fn percent(part: u32, whole: u32) -> Option<f64> {
    (whole > 0).then(|| f64::from(part) * 100.0 / f64::from(whole))
}

/// A counted call's verdict, as stored in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) failed: bool,
    pub(crate) slow: bool,
}

#[derive(Debug)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn new(config: SlidingWindow, origin: Instant) -> Self {
        match config {
            SlidingWindow::Count { size } => Window::Count(CountWindow::new(size)),
            SlidingWindow::Time { length, buckets } => {
                Window::Time(TimeWindow::new(length, buckets, origin))
            }
        }
    }

    /// Whether `record` and `counts` need the current time.
    pub(crate) fn needs_clock(&self) -> bool {
        matches!(self, Window::Time(_))
    }

    pub(crate) fn record(&self, sample: Sample, now: Option<Instant>) {
        match (self, now) {
            (Window::Count(w), _) => w.record(sample),
            (Window::Time(w), Some(now)) => w.record(sample, now),
            // The breaker always passes the time to a time window; without it
            // the sample cannot be placed, and dropping one sample is harmless.
            (Window::Time(_), None) => {}
        }
    }

    /// The counts now; a time window reads the clock when `now` is `None`.
    pub(crate) fn counts(&self, now: Option<Instant>) -> WindowCounts {
        match self {
            Window::Count(w) => w.counts(),
            Window::Time(w) => w.counts(now.unwrap_or_else(Instant::now)),
        }
    }

    pub(crate) fn clear(&self) {
        match self {
            Window::Count(w) => w.clear(),
            Window::Time(w) => w.clear(),
        }
    }
}

const OCCUPIED: u8 = 0b001;
const FAILED: u8 = 0b010;
const SLOW: u8 = 0b100;

/// The last `size` calls: a ring of one-byte verdicts plus running totals.
#[derive(Debug)]
pub(crate) struct CountWindow {
    slots: Box<[AtomicU8]>,
    /// Calls recorded since the last clear; the next slot is `next % size`.
    next: AtomicU64,
    failures: AtomicI64,
    slow: AtomicI64,
}

impl CountWindow {
    fn new(size: u32) -> Self {
        Self {
            slots: (0..size.max(1)).map(|_| AtomicU8::new(0)).collect(),
            next: AtomicU64::new(0),
            failures: AtomicI64::new(0),
            slow: AtomicI64::new(0),
        }
    }

    fn record(&self, sample: Sample) {
        let size = self.slots.len() as u64;
        // A full window of plain successes stays exactly that when one more
        // success evicts one: nothing to write, so a healthy breaker's window
        // costs three shared loads and its cache lines never bounce between
        // cores. (Not advancing the ring is harmless: every slot it would
        // have passed holds the same verdict.)
        if !sample.failed
            && !sample.slow
            && self.failures.load(Ordering::Relaxed) == 0
            && self.slow.load(Ordering::Relaxed) == 0
            && self.next.load(Ordering::Relaxed) >= size
        {
            return;
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % size;
        let new =
            OCCUPIED | if sample.failed { FAILED } else { 0 } | if sample.slow { SLOW } else { 0 };
        let slot = &self.slots[index as usize];
        // The same verdict already there: skipping the write keeps the
        // slot's cache line shared. (Were another writer to replace the slot
        // meanwhile, it evicts the same verdict either way.)
        if slot.load(Ordering::Relaxed) == new {
            return;
        }
        // The swap hands us exactly the verdict we evict, so the totals stay
        // exact however writers interleave.
        let old = slot.swap(new, Ordering::AcqRel);
        adjust(&self.failures, old & FAILED, new & FAILED);
        adjust(&self.slow, old & SLOW, new & SLOW);
    }

    fn counts(&self) -> WindowCounts {
        let size = self.slots.len() as u64;
        let calls = self.next.load(Ordering::Relaxed).min(size) as u32;
        WindowCounts {
            calls,
            failures: clamp(self.failures.load(Ordering::Relaxed), calls),
            slow: clamp(self.slow.load(Ordering::Relaxed), calls),
        }
    }

    fn clear(&self) {
        self.next.store(0, Ordering::Relaxed);
        for slot in self.slots.iter() {
            slot.store(0, Ordering::Relaxed);
        }
        self.failures.store(0, Ordering::Relaxed);
        self.slow.store(0, Ordering::Relaxed);
    }
}

fn adjust(total: &AtomicI64, old: u8, new: u8) {
    match (old != 0, new != 0) {
        (false, true) => {
            total.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            total.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
}

fn clamp(total: i64, calls: u32) -> u32 {
    total.clamp(0, i64::from(calls)) as u32
}

/// The calls of the last `length`, in buckets of `length / buckets`.
///
/// Each bucket holds its slice number (`epoch`) and three 21-bit counters in
/// one word, so a write is one `fetch_add`. The writer that first reaches a
/// bucket in a new slice claims it with a compare-and-swap and zeroes it; a
/// write racing that claim may be lost (an undercount of at most the writers
/// in flight at a slice boundary).
#[derive(Debug)]
pub(crate) struct TimeWindow {
    origin: Instant,
    bucket_nanos: u64,
    buckets: Box<[Bucket]>,
}

#[derive(Debug, Default)]
struct Bucket {
    /// The slice this bucket holds, counted from 1 (0: never used).
    epoch: AtomicU64,
    /// calls | failures << 21 | slow << 42.
    packed: AtomicU64,
}

const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
/// A bucket's counters saturate here (two million calls in one slice, far
/// beyond any provider's quota); the breaker stops counting into a full bucket.
const FIELD_MAX: u64 = FIELD_MASK;

impl TimeWindow {
    fn new(length: Duration, buckets: u32, origin: Instant) -> Self {
        let buckets = buckets.max(1);
        let bucket_nanos = (length.as_nanos() / u128::from(buckets)).max(1);
        Self {
            origin,
            bucket_nanos: u64::try_from(bucket_nanos).unwrap_or(u64::MAX),
            buckets: (0..buckets).map(|_| Bucket::default()).collect(),
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let since = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(since / u128::from(self.bucket_nanos))
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    fn record(&self, sample: Sample, now: Instant) {
        let epoch = self.epoch(now);
        let bucket = &self.buckets[(epoch % self.buckets.len() as u64) as usize];
        let seen = bucket.epoch.load(Ordering::Acquire);
        if seen != epoch {
            if seen > epoch {
                // A writer stalled past its slice: the sample has aged out.
                return;
            }
            if bucket
                .epoch
                .compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                bucket.packed.store(0, Ordering::Release);
            }
        }
        if bucket.packed.load(Ordering::Relaxed) & FIELD_MASK >= FIELD_MAX {
            return;
        }
        let delta =
            1 | u64::from(sample.failed) << FIELD_BITS | u64::from(sample.slow) << (2 * FIELD_BITS);
        bucket.packed.fetch_add(delta, Ordering::AcqRel);
    }

    fn counts(&self, now: Instant) -> WindowCounts {
        let current = self.epoch(now);
        let span = self.buckets.len() as u64;
        let (mut calls, mut failures, mut slow) = (0u64, 0u64, 0u64);
        for bucket in self.buckets.iter() {
            let epoch = bucket.epoch.load(Ordering::Acquire);
            if epoch == 0 || epoch > current || current - epoch >= span {
                continue;
            }
            let packed = bucket.packed.load(Ordering::Acquire);
            calls += packed & FIELD_MASK;
            failures += (packed >> FIELD_BITS) & FIELD_MASK;
            slow += (packed >> (2 * FIELD_BITS)) & FIELD_MASK;
        }
        let calls = u32::try_from(calls).unwrap_or(u32::MAX);
        WindowCounts {
            calls,
            failures: u32::try_from(failures).unwrap_or(u32::MAX).min(calls),
            slow: u32::try_from(slow).unwrap_or(u32::MAX).min(calls),
        }
    }

    fn clear(&self) {
        for bucket in self.buckets.iter() {
            bucket.epoch.store(0, Ordering::Release);
            bucket.packed.store(0, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: Sample = Sample {
        failed: false,
        slow: false,
    };
    const FAIL: Sample = Sample {
        failed: true,
        slow: false,
    };
    const SLOW_OK: Sample = Sample {
        failed: false,
        slow: true,
    };

    #[test]
    fn count_window_evicts_the_oldest() {
        let w = CountWindow::new(3);
        w.record(FAIL);
        w.record(SLOW_OK);
        w.record(OK);
        assert_eq!(
            w.counts(),
            WindowCounts {
                calls: 3,
                failures: 1,
                slow: 1
            }
        );
        w.record(OK); // evicts the failure
        w.record(OK); // evicts the slow call
        assert_eq!(
            w.counts(),
            WindowCounts {
                calls: 3,
                failures: 0,
                slow: 0
            }
        );
        w.clear();
        assert_eq!(w.counts(), WindowCounts::default());
    }

    #[tokio::test(start_paused = true)]
    async fn time_window_drops_whole_buckets() {
        let origin = Instant::now();
        let w = TimeWindow::new(Duration::from_secs(10), 10, origin);
        w.record(FAIL, origin);
        w.record(OK, origin + Duration::from_millis(1500));
        let at = |s: f64| origin + Duration::from_secs_f64(s);
        assert_eq!(w.counts(at(2.0)).calls, 2);
        assert_eq!(w.counts(at(9.9)).failures, 1);
        // The first bucket [0, 1) s leaves the window at 10 s.
        assert_eq!(
            w.counts(at(10.0)),
            WindowCounts {
                calls: 1,
                failures: 0,
                slow: 0
            }
        );
        assert_eq!(w.counts(at(11.0)), WindowCounts::default());
        // A bucket reused for a later slice starts from zero.
        w.record(OK, at(20.5));
        assert_eq!(w.counts(at(20.5)).calls, 1);
    }
}
