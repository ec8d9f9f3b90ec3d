//! How long an opening lasts: growth with consecutive openings, the cap, jitter.

use std::time::Duration;

use rand::Rng;

use tokio::time::Instant;

use crate::config::{Growth, OpenDuration};

/// The longest wait the breaker will put a deadline on: an uncapped growth,
/// a server's absurd Retry-After or a store's answer cannot push an instant
/// past what the clock can represent.
pub(crate) const LONGEST_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// `now + wait`, with the wait clamped to [`LONGEST_WAIT`].
pub(crate) fn deadline(now: Instant, wait: Duration) -> Instant {
    now + wait.min(LONGEST_WAIT)
}

impl OpenDuration {
    /// The open duration before jitter for the `opens`-th consecutive opening
    /// (counted from 1) after `failures` consecutive failures, capped at `max`
    /// (and, uncapped, at a year).
    pub fn nominal(&self, opens: u32, failures: u32) -> Duration {
        let factor = match self.growth {
            Growth::Constant => 1.0,
            Growth::Linear => f64::from(opens.max(1)),
            Growth::Exponential { multiplier } => {
                let exponent = i32::try_from(opens.max(1) - 1).unwrap_or(i32::MAX);
                multiplier.powi(exponent)
            }
            Growth::PerFailure => f64::from(failures.max(1)),
        };
        let cap = self.max.unwrap_or(LONGEST_WAIT).min(LONGEST_WAIT);
        // `try_from_secs_f64` fails on overflow (a huge exponent): that is the cap.
        Duration::try_from_secs_f64(self.base.as_secs_f64() * factor).map_or(cap, |d| d.min(cap))
    }

    /// [`nominal`](Self::nominal) shortened by a random fraction up to `jitter`.
    pub fn jittered(&self, opens: u32, failures: u32, rng: &mut impl Rng) -> Duration {
        let nominal = self.nominal(opens, failures);
        if self.jitter <= 0.0 {
            return nominal;
        }
        let cut = rng.random_range(0.0..=self.jitter);
        nominal.mul_f64(1.0 - cut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::SmallRng;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn growth_and_cap() {
        let mut d = OpenDuration {
            base: secs(10),
            growth: Growth::Exponential { multiplier: 2.0 },
            max: Some(secs(60)),
            jitter: 0.0,
        };
        let series: Vec<_> = (1..=5).map(|n| d.nominal(n, 0)).collect();
        assert_eq!(series, [secs(10), secs(20), secs(40), secs(60), secs(60)]);
        assert_eq!(d.nominal(1000, 0), secs(60));
        d.growth = Growth::Linear;
        assert_eq!(d.nominal(3, 0), secs(30));
        d.growth = Growth::Constant;
        assert_eq!(d.nominal(3, 0), secs(10));
        d.growth = Growth::PerFailure;
        d.max = None;
        assert_eq!(d.nominal(1, 5), secs(50));
    }

    #[test]
    fn jitter_only_shortens() {
        let d = OpenDuration {
            base: secs(100),
            growth: Growth::Constant,
            max: None,
            jitter: 0.2,
        };
        let mut rng = SmallRng::seed_from_u64(7);
        for _ in 0..100 {
            let j = d.jittered(1, 0, &mut rng);
            assert!(j <= secs(100) && j >= secs(80), "{j:?}");
        }
    }
}
