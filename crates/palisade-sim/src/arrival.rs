//! When requests arrive and what they ask for: the offered load, drawn once
//! from the scenario's seed so every system under test sees the same requests.

use std::time::Duration;

use palisade_core::Priority;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::distribution::Distribution;
use crate::rng::{SimRng, rng_for};

/// How each client spaces its requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArrivalConfig {
    /// Independent requests at a constant average rate (exponential gaps):
    /// an open load that does not slow down when answers do.
    Poisson {
        /// Average requests per client per minute.
        per_client_per_minute: f64,
    },
    /// Evenly spaced requests, each client starting at a random phase.
    Uniform {
        /// Requests per client per minute.
        per_client_per_minute: f64,
    },
}

impl Default for ArrivalConfig {
    fn default() -> Self {
        ArrivalConfig::Poisson {
            per_client_per_minute: 0.275,
        }
    }
}

impl ArrivalConfig {
    /// Average requests per client per minute.
    pub fn per_client_per_minute(&self) -> f64 {
        match *self {
            ArrivalConfig::Poisson {
                per_client_per_minute,
            }
            | ArrivalConfig::Uniform {
                per_client_per_minute,
            } => per_client_per_minute,
        }
    }
}

/// The relative weight of each priority among the requests.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PriorityMix {
    /// Weight of `critical`. Default 0.
    pub critical: f64,
    /// Weight of `high`. Default 0.
    pub high: f64,
    /// Weight of `normal`. Default 1.
    pub normal: f64,
    /// Weight of `low`. Default 0.
    pub low: f64,
}

impl Default for PriorityMix {
    fn default() -> Self {
        Self {
            critical: 0.0,
            high: 0.0,
            normal: 1.0,
            low: 0.0,
        }
    }
}

impl PriorityMix {
    fn weights(&self) -> [(Priority, f64); 4] {
        [
            (Priority::Critical, self.critical),
            (Priority::High, self.high),
            (Priority::Normal, self.normal),
            (Priority::Low, self.low),
        ]
    }

    fn draw(&self, rng: &mut SimRng) -> Priority {
        let total: f64 = self.weights().iter().map(|(_, w)| w).sum();
        let mut x = rng.random::<f64>() * total;
        for (priority, weight) in self.weights() {
            if x < weight {
                return priority;
            }
            x -= weight;
        }
        Priority::Normal
    }

    /// Checks the weights; the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        let weights = self.weights();
        if weights.iter().any(|(_, w)| !(w.is_finite() && *w >= 0.0)) {
            return Err("weights must be finite numbers >= 0".into());
        }
        if weights.iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            return Err("at least one weight must be positive".into());
        }
        Ok(())
    }
}

/// What the requests look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestMix {
    /// Input tokens per request. Default: uniform 500–4,000.
    pub input_tokens: Distribution,
    /// `max_tokens` of every request. Default: 1,024.
    pub max_tokens: u32,
    /// Priorities. Default: all `normal`.
    pub priorities: PriorityMix,
    /// How long a caller waits for an answer before giving up; also the
    /// request's deadline, which the palisade stack plans with. Default: 10 min.
    #[serde(with = "palisade_core::duration")]
    pub deadline: Duration,
}

impl Default for RequestMix {
    fn default() -> Self {
        Self {
            input_tokens: Distribution::Uniform {
                min: 500.0,
                max: 4_000.0,
            },
            max_tokens: 1_024,
            priorities: PriorityMix::default(),
            deadline: Duration::from_secs(600),
        }
    }
}

/// One request of the offered load.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// When it is sent, after the start of the simulation.
    pub at: Duration,
    /// The client that sends it.
    pub client: u32,
    /// Its input size in tokens.
    pub input_tokens: u32,
    /// Its `max_tokens`.
    pub max_tokens: u32,
    /// Its priority.
    pub priority: Priority,
}

/// The whole offered load of `clients` clients over `duration`, sorted by
/// time (ties by client). Each client draws from its own stream, so adding
/// clients leaves the existing clients' requests unchanged.
pub fn offered_load(
    seed: u64,
    clients: u32,
    duration: Duration,
    arrivals: &ArrivalConfig,
    requests: &RequestMix,
) -> Vec<Arrival> {
    let rate_per_sec = arrivals.per_client_per_minute() / 60.0;
    let mut load = Vec::new();
    if rate_per_sec <= 0.0 || !rate_per_sec.is_finite() {
        return load;
    }
    let horizon = duration.as_secs_f64();
    for client in 0..clients {
        let mut rng = rng_for(seed, &format!("arrivals:client:{client}"));
        let mean_gap = 1.0 / rate_per_sec;
        let mut t = match arrivals {
            ArrivalConfig::Poisson { .. } => {
                Distribution::Exponential { mean: mean_gap }.sample(&mut rng)
            }
            ArrivalConfig::Uniform { .. } => rng.random::<f64>() * mean_gap,
        };
        while t < horizon {
            load.push(Arrival {
                at: Duration::from_secs_f64(t),
                client,
                input_tokens: requests.input_tokens.sample_clamped(&mut rng, 1, u32::MAX),
                max_tokens: requests.max_tokens,
                priority: requests.priorities.draw(&mut rng),
            });
            t += match arrivals {
                ArrivalConfig::Poisson { .. } => {
                    Distribution::Exponential { mean: mean_gap }.sample(&mut rng)
                }
                ArrivalConfig::Uniform { .. } => mean_gap,
            };
        }
    }
    load.sort_by_key(|a| (a.at, a.client));
    load
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_load_has_the_configured_rate_and_is_reproducible() {
        let arrivals = ArrivalConfig::Poisson {
            per_client_per_minute: 0.5,
        };
        let hour = Duration::from_secs(3_600);
        let load = offered_load(3, 100, hour, &arrivals, &RequestMix::default());
        // 100 clients × 0.5/min × 60 min = 3,000 expected.
        assert!((2_850..3_150).contains(&load.len()), "{}", load.len());
        assert!(load.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(load.iter().all(|a| (500..=4_000).contains(&a.input_tokens)));
        assert_eq!(
            load,
            offered_load(3, 100, hour, &arrivals, &RequestMix::default())
        );

        // More clients keep the first clients' requests.
        let more = offered_load(3, 101, hour, &arrivals, &RequestMix::default());
        let first: Vec<_> = more.iter().filter(|a| a.client < 100).copied().collect();
        assert_eq!(first, load);
    }

    #[test]
    fn priorities_follow_their_weights() {
        let mix = PriorityMix {
            critical: 0.0,
            high: 1.0,
            normal: 3.0,
            low: 0.0,
        };
        let mut rng = rng_for(1, "t");
        let high = (0..4_000)
            .filter(|_| mix.draw(&mut rng) == Priority::High)
            .count();
        assert!((900..1_100).contains(&high), "{high}");
        assert!(PriorityMix { normal: 0.0, ..mix }.validate().is_ok());
        assert!(
            PriorityMix {
                normal: -1.0,
                ..mix
            }
            .validate()
            .is_err()
        );
    }
}
