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

/// One GCRA bucket.
#[derive(Debug, Clone)]
pub(crate) struct Gcra {
    /// Nanoseconds one unit takes to refill at the configured rate (rounded
    /// up, so rounding never admits more than the quota).
    base_unit: Nanos,
    /// `base_unit` scaled by the adaptive rate (equal to it when not adapting).
    unit: Nanos,
    /// The most units the bucket holds (its burst).
    capacity: u64,
    /// `capacity × unit`: how far `tat` may run ahead of now.
    tolerance: Nanos,
    /// Theoretical arrival time; at or before now means the bucket is full.
    tat: Nanos,
}

impl Gcra {
    /// A full bucket of `capacity` units refilling `quota` units per `period_ns`.
    pub(crate) fn new(quota: u64, period_ns: Nanos, capacity: u64) -> Self {
        let base_unit = period_ns.div_ceil(quota.max(1)).max(1);
        let capacity = capacity.max(1);
        Self {
            base_unit,
            unit: base_unit,
            capacity,
            tolerance: capacity.saturating_mul(base_unit),
            tat: 0,
        }
    }

    /// The most units one admission can ever take.
    #[inline]
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// Whether `n` units fit now: `Ok(new_tat)` to pass to [`commit`], or
    /// `Err(not_before)`, the earliest instant they could fit.
    ///
    /// `n` must not exceed the capacity (callers reject such costs up front).
    ///
    /// [`commit`]: Gcra::commit
    #[inline]
    pub(crate) fn check(&self, now: Nanos, n: u64) -> Result<Nanos, Nanos> {
        let new_tat = self
            .tat
            .max(now)
            .saturating_add(n.saturating_mul(self.unit));
        if new_tat - now <= self.tolerance {
            Ok(new_tat)
        } else {
            Err(new_tat - self.tolerance)
        }
    }

    /// Applies a successful [`check`](Gcra::check).
    #[inline]
    pub(crate) fn commit(&mut self, new_tat: Nanos) {
        self.tat = new_tat;
    }

    /// Gives `n` units back, as far as the bucket has room for them (a
    /// bucket never holds more than its capacity).
    #[inline]
    pub(crate) fn refund(&mut self, now: Nanos, n: u64) {
        if self.tat > now {
            self.tat = self
                .tat
                .saturating_sub(n.saturating_mul(self.unit))
                .max(now);
        }
    }

    /// Charges `n` units without a check: an overrun becomes debt that later
    /// admissions wait out.
    pub(crate) fn charge(&mut self, now: Nanos, n: u64) {
        self.tat = self
            .tat
            .max(now)
            .saturating_add(n.saturating_mul(self.unit));
    }

    /// Units that fit now (negative while in debt).
    pub(crate) fn available(&self, now: Nanos) -> i64 {
        let used = self.tat.saturating_sub(now);
        let free = i128::from(self.tolerance) - i128::from(used);
        i64::try_from(free / i128::from(self.unit)).unwrap_or(if free < 0 {
            i64::MIN
        } else {
            i64::MAX
        })
    }

    /// Lowers what the bucket holds to at most `remaining` units (a provider
    /// reported less capacity left than we think).
    pub(crate) fn clamp_available(&mut self, now: Nanos, remaining: u64) {
        let used_units = self.capacity.saturating_sub(remaining);
        let floor = now.saturating_add(used_units.saturating_mul(self.unit));
        self.tat = self.tat.max(floor);
    }

    /// Scales the refill rate to `fraction` of the configured one (adaptive
    /// mode), keeping the units already used: a slower rate must not make the
    /// bucket look fuller than it is.
    pub(crate) fn set_rate_fraction(&mut self, now: Nanos, fraction: f64) {
        let fraction = fraction.clamp(1e-6, 1.0);
        // Float only here, on the rare rate change; admissions stay integer.
        let unit = ((self.base_unit as f64) / fraction).ceil();
        let unit = if unit >= u64::MAX as f64 {
            u64::MAX
        } else {
            (unit as u64).max(1)
        };
        if unit == self.unit {
            return;
        }
        if self.tat > now {
            let used = (self.tat - now) as f64 * (unit as f64 / self.unit as f64);
            self.tat = now.saturating_add(used.min(u64::MAX as f64) as u64);
        }
        self.unit = unit;
        self.tolerance = self.capacity.saturating_mul(unit);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Nanos = 1_000_000_000;

    #[test]
    fn admits_burst_then_paces() {
        let mut g = Gcra::new(60, 60 * SEC, 3);
        for _ in 0..3 {
            let t = g.check(0, 1).unwrap();
            g.commit(t);
        }
        assert_eq!(g.check(0, 1), Err(SEC));
        let t = g.check(SEC, 1).unwrap();
        g.commit(t);
    }

    #[test]
    fn refund_never_overfills_and_debt_delays() {
        let mut g = Gcra::new(100, 100 * SEC, 100);
        let t = g.check(0, 60).unwrap();
        g.commit(t);
        assert_eq!(g.available(0), 40);
        g.refund(0, 80);
        assert_eq!(g.available(0), 100);
        g.charge(0, 150);
        assert_eq!(g.available(0), -50);
        assert_eq!(g.check(0, 0), Err(50 * SEC));
    }

    #[test]
    fn slower_rate_keeps_used_units() {
        let mut g = Gcra::new(100, 100 * SEC, 100);
        let t = g.check(0, 50).unwrap();
        g.commit(t);
        g.set_rate_fraction(0, 0.5);
        assert_eq!(g.available(0), 50);
        assert_eq!(g.check(0, 51).unwrap_err(), 2 * SEC);
    }
}
