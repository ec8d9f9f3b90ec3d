//! How long to wait before each retry: exponential growth to a cap, with the
//! jitter strategies of AWS's "Exponential Backoff and Jitter" analysis, plus
//! the additive jitter of the seed systems (`min(2^n, 120 s)` + up to 10%).

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How the delay is randomised, so that clients failing together do not
/// retry together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    /// No randomness: exactly the exponential delay.
    None,
    /// Uniform in `[0, d]` (AWS "full jitter"): the least contention.
    #[default]
    Full,
    /// `d/2` plus uniform in `[0, d/2]` (AWS "equal jitter"): never very short.
    Equal,
    /// Uniform in `[base, 3 × previous delay]`, capped (AWS "decorrelated
    /// jitter"): grows from the last delay rather than the attempt number.
    Decorrelated,
    /// `d` plus uniform in `[0, additive_ratio × d]`: the seed systems' policy
    /// (with ratio 0.1). The cap applies to `d`, so a delay may exceed the cap
    /// by the ratio.
    Additive,
}

/// The backoff policy. Defaults: base 500 ms, multiplier 2, cap 20 s, full
/// jitter.
///
/// The un-jittered delay before retry `n` (1 for the first retry) is
/// `min(cap, base × multiplier^(n-1))`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Backoff {
    /// Delay before the first retry. Default 500 ms.
    #[serde(with = "palisade_core::duration")]
    pub base: Duration,
    /// Growth per retry. Default 2.
    pub multiplier: f64,
    /// Upper bound of the un-jittered delay. Default 20 s.
    #[serde(with = "palisade_core::duration")]
    pub cap: Duration,
    /// Randomisation. Default [`Jitter::Full`].
    pub jitter: Jitter,
    /// For [`Jitter::Additive`]: the most added, as a share of the delay.
    /// Default 0.1.
    pub additive_ratio: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(500),
            multiplier: 2.0,
            cap: Duration::from_secs(20),
            jitter: Jitter::Full,
            additive_ratio: 0.1,
        }
    }
}

impl Backoff {
    /// The seed systems' policy: `min(2^(n-1) s, 120 s)` plus up to 10%.
    pub fn seed() -> Self {
        Self {
            base: Duration::from_secs(1),
            multiplier: 2.0,
            cap: Duration::from_secs(120),
            jitter: Jitter::Additive,
            additive_ratio: 0.1,
        }
    }

    /// Exponential without jitter: exact, for tests and for single clients.
    pub fn exponential(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            jitter: Jitter::None,
            ..Self::default()
        }
    }

    /// Returns a copy with `jitter`.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The un-jittered delay before retry `retry` (1-based), capped.
    pub fn exponential_delay(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(1024) as i32;
        let factor = self.multiplier.max(1.0).powi(exponent);
        let secs = self.base.as_secs_f64() * factor;
        if !secs.is_finite() || secs >= self.cap.as_secs_f64() {
            self.cap
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The delay before retry `retry` (1-based), given the previous delay
    /// (used by decorrelated jitter; pass [`Backoff::base`] before the first).
    pub fn delay(&self, retry: u32, previous: Duration, rng: &mut impl Rng) -> Duration {
        let d = self.exponential_delay(retry);
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => uniform(rng, Duration::ZERO, d),
            Jitter::Equal => d / 2 + uniform(rng, Duration::ZERO, d / 2),
            Jitter::Decorrelated => {
                let high = previous.max(self.base).saturating_mul(3).min(self.cap);
                uniform(rng, self.base.min(high), high)
            }
            Jitter::Additive => {
                let ratio = self.additive_ratio.clamp(0.0, 10.0);
                d + uniform(rng, Duration::ZERO, d.mul_f64(ratio))
            }
        }
    }

    /// The longest delay [`delay`](Backoff::delay) can return.
    pub fn max_delay(&self) -> Duration {
        match self.jitter {
            Jitter::Additive => self
                .cap
                .saturating_add(self.cap.mul_f64(self.additive_ratio.clamp(0.0, 10.0))),
            _ => self.cap,
        }
    }
}

fn uniform(rng: &mut impl Rng, low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    let (lo, hi) = (
        low.as_nanos() as u64,
        high.as_nanos().min(u64::MAX as u128) as u64,
    );
    Duration::from_nanos(rng.random_range(lo..=hi))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn seed_policy_doubles_to_the_cap() {
        let b = Backoff::seed().with_jitter(Jitter::None);
        let secs: Vec<u64> = (1..=9).map(|n| b.exponential_delay(n).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 64, 120, 120]);
    }

    fn any_jitter() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            Just(Jitter::Decorrelated),
            Just(Jitter::Additive),
        ]
    }

    proptest! {
        /// Every delay lies in the policy's bounds: never above the cap (plus
        /// the additive share), never below what the jitter promises.
        #[test]
        fn delays_stay_within_bounds(
            base_ms in 1u64..5_000,
            cap_ms in 1u64..200_000,
            multiplier in 1.0f64..4.0,
            jitter in any_jitter(),
            retries in 1u32..40,
            seed in any::<u64>(),
        ) {
            let b = Backoff {
                base: Duration::from_millis(base_ms),
                multiplier,
                cap: Duration::from_millis(cap_ms),
                jitter,
                additive_ratio: 0.1,
            };
            let mut rng = StdRng::seed_from_u64(seed);
            let mut previous = b.base;
            for n in 1..=retries {
                let d = b.delay(n, previous, &mut rng);
                let exp = b.exponential_delay(n);
                prop_assert!(d <= b.max_delay(), "{d:?} above {:?}", b.max_delay());
                prop_assert!(exp <= b.cap);
                match jitter {
                    Jitter::None => prop_assert_eq!(d, exp),
                    Jitter::Full => prop_assert!(d <= exp),
                    Jitter::Equal => prop_assert!(d >= exp / 2 && d <= exp),
                    Jitter::Additive => prop_assert!(d >= exp && d <= exp + exp.mul_f64(0.1)),
                    Jitter::Decorrelated => prop_assert!(d >= b.base.min(b.cap) && d <= b.cap),
                }
                previous = d;
            }
        }
    }
}
