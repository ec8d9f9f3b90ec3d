//! The distributions a scenario draws numbers from: request sizes, output
//! lengths, latencies.
//!
//! The samplers are written out here (inverse transform, Box–Muller) rather
//! than taken from `rand_distr`, so a seed yields the same numbers whatever
//! version of a sampling crate the lockfile picks.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::limits::{MAX_SIGMA, number_within};
use crate::rng::{SimRng, rng_for};

/// A distribution of non-negative numbers.
///
/// In TOML: `{ kind = "uniform", min = 500, max = 4000 }`,
/// `{ kind = "log_normal", median = 300, sigma = 0.6 }`,
/// `{ kind = "exponential", mean = 2.5 }`, `{ kind = "fixed", value = 15 }`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Distribution {
    /// Always `value`.
    Fixed {
        /// The value.
        value: f64,
    },
    /// Uniform on `[min, max]`.
    Uniform {
        /// Smallest value.
        min: f64,
        /// Largest value.
        max: f64,
    },
    /// Log-normal: half the draws fall below `median`; `sigma` is the standard
    /// deviation of the underlying normal (0.3 is a tight spread, 1.0 a long tail).
    LogNormal {
        /// The median.
        median: f64,
        /// Shape (spread) of the tail.
        sigma: f64,
    },
    /// Exponential with the given mean (memoryless waits).
    Exponential {
        /// The mean.
        mean: f64,
    },
}

impl Distribution {
    /// A fixed value.
    pub const fn fixed(value: f64) -> Self {
        Distribution::Fixed { value }
    }

    /// The distribution's mean (before the clamp at zero, which only a
    /// `Uniform` with a negative `min` would change).
    pub fn mean(&self) -> f64 {
        match *self {
            Distribution::Fixed { value } => value,
            Distribution::Uniform { min, max } => (min + max) / 2.0,
            Distribution::LogNormal { median, sigma } => median * (sigma * sigma / 2.0).exp(),
            Distribution::Exponential { mean } => mean,
        }
    }

    /// Draws one value (never negative).
    pub fn sample(&self, rng: &mut SimRng) -> f64 {
        let x = match *self {
            Distribution::Fixed { value } => value,
            Distribution::Uniform { min, max } => min + (max - min) * rng.random::<f64>(),
            Distribution::LogNormal { median, sigma } => {
                median * (sigma * standard_normal(rng)).exp()
            }
            Distribution::Exponential { mean } => {
                // 1 - u is in (0, 1], so the log is finite.
                -mean * (1.0 - rng.random::<f64>()).ln()
            }
        };
        x.max(0.0)
    }

    /// Draws one value rounded to a whole number clamped to `[min, max]`.
    pub fn sample_clamped(&self, rng: &mut SimRng, min: u32, max: u32) -> u32 {
        let x = self.sample(rng).round();
        // `as` saturates for out-of-range floats; the clamp does the rest.
        (x as u32).clamp(min, max.max(min))
    }

    /// The mean of [`sample_clamped`](Self::sample_clamped) under the same
    /// bounds, estimated from a fixed-seed sample, so capacity figures that use
    /// it are as reproducible as the simulation.
    pub fn mean_clamped(&self, min: u32, max: u32) -> f64 {
        const SAMPLES: u32 = 20_000;
        let mut rng = rng_for(0, "distribution-mean");
        let total: u64 = (0..SAMPLES)
            .map(|_| u64::from(self.sample_clamped(&mut rng, min, max)))
            .sum();
        total as f64 / f64::from(SAMPLES)
    }

    /// Checks the parameters against `max`, the largest value the quantity
    /// may take (token counts, milliseconds); the error is the parameter's
    /// key and what is wrong with it.
    pub fn validate(&self, max: f64) -> Result<(), (&'static str, String)> {
        let within = |key: &'static str, v: f64| number_within(v, 0.0, max).map_err(|e| (key, e));
        match *self {
            Distribution::Fixed { value } => within("value", value),
            Distribution::Uniform { min, max: top } => {
                within("min", min)?;
                within("max", top)?;
                if min > top {
                    return Err(("min", format!("({min}) must not exceed `max` ({top})")));
                }
                Ok(())
            }
            Distribution::LogNormal { median, sigma } => {
                within("median", median)?;
                number_within(sigma, 0.0, MAX_SIGMA).map_err(|e| ("sigma", e))
            }
            Distribution::Exponential { mean } => within("mean", mean),
        }
    }
}

/// One standard normal draw (Box–Muller, cosine branch).
fn standard_normal(rng: &mut SimRng) -> f64 {
    let u1 = 1.0 - rng.random::<f64>(); // (0, 1]: ln is finite
    let u2 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_have_the_documented_centre() {
        let mut rng = rng_for(1, "t");
        let n = 20_000;
        let mut draws: Vec<f64> = (0..n)
            .map(|_| {
                Distribution::LogNormal {
                    median: 300.0,
                    sigma: 0.6,
                }
                .sample(&mut rng)
            })
            .collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[n / 2];
        assert!((median - 300.0).abs() < 15.0, "median {median}");

        let mean: f64 = (0..n)
            .map(|_| Distribution::Exponential { mean: 2.0 }.sample(&mut rng))
            .sum::<f64>()
            / n as f64;
        assert!((mean - 2.0).abs() < 0.1, "mean {mean}");

        let u = Distribution::Uniform {
            min: 500.0,
            max: 4000.0,
        };
        assert!((u.mean_clamped(0, u32::MAX) - 2250.0).abs() < 30.0);
    }

    #[test]
    fn clamping_and_validation() {
        let mut rng = rng_for(1, "t");
        let d = Distribution::fixed(5000.0);
        assert_eq!(d.sample_clamped(&mut rng, 1, 1024), 1024);
        assert_eq!(
            Distribution::Uniform { min: 5.0, max: 1.0 }
                .validate(10.0)
                .unwrap_err()
                .0,
            "min"
        );
        assert!(
            Distribution::Exponential { mean: f64::NAN }
                .validate(10.0)
                .is_err()
        );
        assert_eq!(
            Distribution::fixed(11.0).validate(10.0).unwrap_err().0,
            "value"
        );
        assert!(Distribution::fixed(0.0).validate(10.0).is_ok());
    }

    #[test]
    fn reads_from_toml() {
        #[derive(Deserialize)]
        struct W {
            d: Distribution,
        }
        let w: W =
            toml::from_str(r#"d = { kind = "log_normal", median = 300, sigma = 0.5 }"#).unwrap();
        assert_eq!(
            w.d,
            Distribution::LogNormal {
                median: 300.0,
                sigma: 0.5
            }
        );
    }
}
