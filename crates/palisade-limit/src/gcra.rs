//! The generic cell rate algorithm (GCRA), in integer nanoseconds.
//!
//! GCRA is a token bucket written as one number: the *theoretical arrival
//! time* (`tat`), the instant at which the bucket would be full again if
//! nothing else were admitted. Admitting `n` units pushes `tat` forward by
//! `n × unit`; a request fits while `tat − now` stays within the bucket's
//! tolerance (`capacity × unit`). Hence in any window of one period at most
//! `quota + capacity` units are admitted.
//!
//! One state word makes the two operations a token budget needs beyond
//! governor's `check()` trivial and exact:
//!
//! - **refund** moves `tat` back (never before now: a bucket can't be fuller
//!   than full), and
//! - **debt** moves it forward without a check, so an overrun delays later
//!   admissions by exactly the time the bucket needs to refill it.
//!
//! The same type counts requests (1 unit each) and tokens.

use crate::clock::Nanos;
use crate::slack::SlackHistory;

/// One GCRA bucket.
#[derive(Debug, Clone)]
pub(crate) struct Gcra {
    /// Nanoseconds one unit takes to refill at the configured rate (rounded
    /// up, so rounding never admits more than the quota).
    base_unit: Nanos,
    /// `base_unit` scaled by the adaptive rate (equal to it when not adapting).
    unit: Nanos,
    /// The most units the bucket holds as configured (its burst): the
    /// largest admission it ever takes.
    base_capacity: u64,
    /// The most units the bucket holds now: `base_capacity` scaled down by
    /// the calibration (a provider's smaller limit has a smaller bucket).
    capacity: u64,
    /// `capacity × unit`: how far `tat` may run ahead of now.
    tolerance: Nanos,
    /// Theoretical arrival time; at or before now means the bucket is full.
    tat: Nanos,
    /// Clamp points, for refunds that give back no more than is due.
    history: SlackHistory,
    /// The adaptive rate fraction (1 when not adapting).
    adaptive: f64,
    /// The fraction of the configured rate the provider's limit allows (1
    /// until a provider says less).
    calibrated: f64,
    /// Drain a provider's report added beyond our own accounting, given back
    /// at `forgive_at` (the report's reset): a stale `remaining: 0` empties
    /// the bucket until its reset, never for a whole refill.
    forgive: Nanos,
    /// When `forgive` is given back (`Nanos::MAX`: nothing pending).
    forgive_at: Nanos,
}

impl Gcra {
    /// A full bucket of `capacity` units refilling `quota` units per `period_ns`.
    pub(crate) fn new(quota: u64, period_ns: Nanos, capacity: u64) -> Self {
        let base_unit = period_ns.div_ceil(quota.max(1)).max(1);
        let capacity = capacity.max(1);
        Self {
            base_unit,
            unit: base_unit,
            base_capacity: capacity,
            capacity,
            tolerance: capacity.saturating_mul(base_unit),
            tat: 0,
            history: SlackHistory::new(),
            adaptive: 1.0,
            calibrated: 1.0,
            forgive: 0,
            forgive_at: Nanos::MAX,
        }
    }

    /// The most units one admission can ever take (the configured burst: a
    /// calibrated, smaller bucket still takes it when full, as the provider's
    /// own bucket would).
    #[inline]
    pub(crate) fn max_cost(&self) -> u64 {
        self.base_capacity
    }

    /// Gives back a provider report's drain once its reset has come. Called
    /// before every use of the state.
    #[inline]
    pub(crate) fn expire(&mut self, now: Nanos) {
        if now >= self.forgive_at {
            self.expire_now(now);
        }
    }

    #[cold]
    fn expire_now(&mut self, now: Nanos) {
        let cut = self.forgive.min(self.tat.saturating_sub(now));
        self.tat -= cut;
        self.forgive = 0;
        self.forgive_at = Nanos::MAX;
    }

    /// Whether `n` units fit now: `Ok(new_tat)` to pass to [`commit`], or
    /// `Err(not_before)`, the earliest instant they could fit.
    ///
    /// `n` must not exceed the capacity (callers reject such costs up front).
    ///
    /// [`commit`]: Gcra::commit
    #[inline]
    pub(crate) fn check(&self, now: Nanos, n: u64) -> Result<Nanos, Nanos> {
        let cost = n.saturating_mul(self.unit);
        let new_tat = self.tat.max(now).saturating_add(cost);
        // A cost above a calibrated bucket (but within the configured one)
        // fits a full bucket, as in the provider's.
        let tolerance = self.tolerance.max(cost);
        if new_tat - now <= tolerance {
            Ok(new_tat)
        } else {
            Err(self.not_before(new_tat - tolerance))
        }
    }

    /// `at`, or earlier when a pending report's drain is given back first.
    #[inline]
    fn not_before(&self, at: Nanos) -> Nanos {
        if self.forgive_at < at {
            at.saturating_sub(self.forgive).max(self.forgive_at).min(at)
        } else {
            at
        }
    }

    /// Applies a successful [`check`](Gcra::check) made at `now`; returns the
    /// reservation's stamp, which a later [`refund`](Gcra::refund) needs.
    #[inline]
    pub(crate) fn commit(&mut self, now: Nanos, new_tat: Nanos) -> u64 {
        let stamp = self.history.record(self.tat.saturating_sub(now));
        self.tat = new_tat;
        stamp
    }

    /// Gives back up to `n` units of the reservation stamped `stamp`: as
    /// many as had it reserved `n` fewer from the start (see
    /// [`SlackHistory`]), never making the bucket fuller than full. Returns
    /// the units credited.
    #[inline]
    pub(crate) fn refund(&mut self, now: Nanos, n: u64, stamp: u64) -> u64 {
        self.expire(now);
        let full = n.saturating_mul(self.unit);
        let want = full.min(self.tat.saturating_sub(now));
        if want == 0 {
            return 0;
        }
        let due = self.history.take(stamp, want);
        self.tat -= due;
        // All of it (the common refund) needs no division.
        if due == full && full != u64::MAX {
            n
        } else {
            due / self.unit
        }
    }

    /// Charges `n` units without a check: an overrun becomes debt that later
    /// admissions wait out.
    pub(crate) fn charge(&mut self, now: Nanos, n: u64) {
        self.expire(now);
        self.history.record(self.tat.saturating_sub(now));
        self.tat = self
            .tat
            .max(now)
            .saturating_add(n.saturating_mul(self.unit));
    }

    /// Units that fit now (negative while in debt).
    pub(crate) fn available(&self, now: Nanos) -> i64 {
        let mut used = self.tat.saturating_sub(now);
        if now >= self.forgive_at {
            used -= self.forgive.min(used);
        }
        let free = i128::from(self.tolerance) - i128::from(used);
        i64::try_from(free / i128::from(self.unit)).unwrap_or(if free < 0 {
            i64::MIN
        } else {
            i64::MAX
        })
    }

    /// Lowers what the bucket holds to at most `remaining` units (a provider
    /// reported less capacity left than we think). With the report's `reset`
    /// (time until the provider's bucket is full), the drain this adds
    /// beyond our own accounting lasts until the reset at most: a provider
    /// whose window restores sooner than our bucket would refill (a fixed
    /// window, a stale report) never holds us back for longer than it said.
    pub(crate) fn clamp_available(&mut self, now: Nanos, remaining: u64, reset: Option<Nanos>) {
        self.expire(now);
        let used_units = self.capacity.saturating_sub(remaining);
        let floor = now.saturating_add(used_units.saturating_mul(self.unit));
        // A clamp point: had an earlier reservation taken less, the floor
        // might have bound (see `slack.rs`).
        self.history.record(self.tat.saturating_sub(floor));
        if floor <= self.tat {
            return;
        }
        if let Some(reset) = reset {
            let reset_at = now.saturating_add(reset);
            let excess = floor.saturating_sub(self.tat.max(reset_at));
            if excess > 0 {
                // Several reports pending: the latest reset gives all back.
                self.forgive = self.forgive.saturating_add(excess);
                self.forgive_at = if self.forgive_at == Nanos::MAX {
                    reset_at
                } else {
                    self.forgive_at.max(reset_at)
                };
            }
        }
        self.tat = floor;
    }

    /// Scales the refill rate to `fraction` of the configured one (adaptive
    /// mode), keeping the units already used: a slower rate must not make the
    /// bucket look fuller than it is.
    pub(crate) fn set_rate_fraction(&mut self, now: Nanos, fraction: f64) {
        self.adaptive = fraction.clamp(1e-6, 1.0);
        self.rescale(now);
    }

    /// Runs the bucket at `fraction` of its configured rate and size (a
    /// provider's limit below the configured one), keeping the units already
    /// used.
    pub(crate) fn set_calibration(&mut self, now: Nanos, fraction: f64) {
        let fraction = fraction.clamp(1e-9, 1.0);
        if fraction == self.calibrated {
            return;
        }
        self.calibrated = fraction;
        self.rescale(now);
    }

    /// The fraction of the configured rate the calibration allows.
    pub(crate) fn calibration(&self) -> f64 {
        self.calibrated
    }

    /// The slowest unit the bucket runs at: a provider's limit of 0 (or
    /// all but 0) asks for a rate so slow that the largest admission
    /// (`base_capacity` units) would overflow `Nanos`. A saturated `tat` or
    /// cost breaks every operation towards admitting more: `check` admits
    /// any cost (cost and tolerance both `Nanos::MAX`), a refund gives the
    /// whole bucket back, a rescale keeps fewer units than were used. At this
    /// unit a burst plus several bursts more of slack or debt still fit (a
    /// configured burst refills in about 73 years: stopped, in effect), and
    /// the arithmetic stays exact. Never faster than configured.
    fn slowest_unit(&self) -> Nanos {
        (Nanos::MAX / 8 / self.base_capacity).max(self.base_unit)
    }

    fn rescale(&mut self, now: Nanos) {
        self.expire(now);
        // Float only here, on the rare rate change; admissions stay integer.
        let unit = ((self.base_unit as f64) / (self.adaptive * self.calibrated)).ceil();
        let unit = if unit >= self.slowest_unit() as f64 {
            self.slowest_unit()
        } else {
            (unit as u64).max(1)
        };
        // The tiny epsilon keeps 360 × (1/3) at 120, not 119.
        let capacity = ((self.base_capacity as f64 * self.calibrated) + 1e-6).floor() as u64;
        self.capacity = capacity.clamp(1, self.base_capacity);
        if unit != self.unit {
            let ratio = unit as f64 / self.unit as f64;
            let scale = |t: Nanos| (t as f64 * ratio).min(u64::MAX as f64) as Nanos;
            if self.tat > now {
                self.tat = now.saturating_add(scale(self.tat - now));
            }
            self.forgive = scale(self.forgive);
            self.history.scale(ratio);
            self.unit = unit;
        }
        self.tolerance = self.capacity.saturating_mul(self.unit);
    }
}

/// Side-effect-free look-ahead, for [`Limiter::expected_wait`](crate::Limiter::expected_wait).
impl Gcra {
    /// The earliest instant `n` units would fit if `ahead` units (the queue
    /// in front) were admitted first; `now` when they fit now. Ignores
    /// refunds to come, so it errs late.
    pub(crate) fn fits_at(&self, now: Nanos, ahead: u64, n: u64) -> Nanos {
        let cost = n.saturating_mul(self.unit);
        let new_tat = self
            .tat
            .max(now)
            .saturating_add(ahead.saturating_mul(self.unit))
            .saturating_add(cost);
        let tolerance = self.tolerance.max(cost);
        match new_tat.saturating_sub(tolerance) {
            at if at <= now => now,
            at => self.not_before(at).max(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Nanos = 1_000_000_000;

    #[test]
    fn refunds_what_would_not_have_been_capped() {
        // 10 units of 1 s, full. A reserves 7 at 0; at 3 s (3 refilled, the
        // bucket at 6 of 10) B takes 6; A then gives its 7 back at 3 s.
        let mut g = Gcra::new(10, 10 * SEC, 10);
        let a = g.commit(0, g.check(0, 7).unwrap());
        g.commit(3 * SEC, g.check(3 * SEC, 6).unwrap());
        assert_eq!(g.available(3 * SEC), 0);
        // Had A reserved nothing the bucket would have been full at 3 s (the
        // 3 s of refill capped) and hold 4 now: only 4 come back, not 7.
        assert_eq!(g.refund(3 * SEC, 7, a), 4);
        assert_eq!(g.available(3 * SEC), 4);
    }

    #[test]
    fn admits_burst_then_paces() {
        let mut g = Gcra::new(60, 60 * SEC, 3);
        for _ in 0..3 {
            let t = g.check(0, 1).unwrap();
            g.commit(0, t);
        }
        assert_eq!(g.check(0, 1), Err(SEC));
        let t = g.check(SEC, 1).unwrap();
        g.commit(SEC, t);
    }

    #[test]
    fn refund_never_overfills_and_debt_delays() {
        let mut g = Gcra::new(100, 100 * SEC, 100);
        let t = g.check(0, 60).unwrap();
        let stamp = g.commit(0, t);
        assert_eq!(g.available(0), 40);
        assert_eq!(g.refund(0, 80, stamp), 60);
        assert_eq!(g.available(0), 100);
        g.charge(0, 150);
        assert_eq!(g.available(0), -50);
        assert_eq!(g.check(0, 0), Err(50 * SEC));
    }

    #[test]
    fn a_reports_drain_is_given_back_at_its_reset() {
        // 60 units of 1 s, full; a report says 0 left, full again in 2 s.
        let mut g = Gcra::new(60, 60 * SEC, 60);
        g.clamp_available(0, 0, Some(2 * SEC));
        assert_eq!(g.available(0), 0);
        // One unit refills in 1 s; the rest comes back at the reset.
        assert_eq!(g.check(0, 1), Err(SEC));
        assert_eq!(g.check(0, 10), Err(2 * SEC));
        let t = g.check(SEC, 1).unwrap();
        g.commit(SEC, t);
        g.expire(2 * SEC);
        // Our own admission since the report still counts.
        assert_eq!(g.available(2 * SEC), 59);

        // Without a reset the cap lasts until the bucket refills.
        let mut g = Gcra::new(60, 60 * SEC, 60);
        g.clamp_available(0, 0, None);
        assert_eq!(g.check(0, 10), Err(10 * SEC));
        assert_eq!(g.available(30 * SEC), 30);
    }

    #[test]
    fn calibration_shrinks_rate_and_burst_keeping_used_units() {
        let mut g = Gcra::new(360, 60 * SEC, 360);
        let t = g.check(0, 20).unwrap();
        g.commit(0, t);
        g.set_calibration(0, 1.0 / 3.0);
        assert_eq!(g.available(0), 100);
        // 120 a minute: one unit per 0.5 s (a hair more: the unit is rounded
        // up, never admitting more than the rate).
        assert_eq!(g.available(SEC), 101);
        assert_eq!(g.available(SEC + SEC / 1_000), 102);
        // The configured burst still fits a full bucket.
        assert_eq!(g.max_cost(), 360);
        assert!(g.check(1_000 * SEC, 300).is_ok());
    }

    #[test]
    fn a_provider_limit_of_zero_stops_admissions_without_overflow() {
        // 2009 units per 50 s, burst 2129; A takes 1000 and B 600 at 0. A
        // provider's limit of 0 calibrates to the smallest fraction, whose
        // unit (2.5e16 ns) once overflowed `tat`: the saturated bucket
        // admitted any cost, and A's refund gave the whole bucket back.
        let mut g = Gcra::new(2009, 50 * SEC, 2129);
        let a = g.commit(0, g.check(0, 1000).unwrap());
        g.commit(0, g.check(0, 600).unwrap());
        g.set_calibration(0, 1e-9);
        assert!(g.available(0) <= -1598, "{}", g.available(0));
        assert!(g.check(0, 1000).is_err());
        assert!(g.check(1_000 * SEC, 1).is_err());
        // (Rescaled slacks round down: a refund errs towards less.)
        assert!((999..=1000).contains(&g.refund(0, 1000, a)));
        // Back at the configured rate, B's units are still used.
        g.set_calibration(0, 1.0);
        assert!(
            (1528..=1529).contains(&g.available(0)),
            "{}",
            g.available(0)
        );
        assert!(g.check(0, 1530).is_err());
    }

    #[test]
    fn slower_rate_keeps_used_units() {
        let mut g = Gcra::new(100, 100 * SEC, 100);
        let t = g.check(0, 50).unwrap();
        g.commit(0, t);
        g.set_rate_fraction(0, 0.5);
        assert_eq!(g.available(0), 50);
        assert_eq!(g.check(0, 51).unwrap_err(), 2 * SEC);
    }
}
