//! When requests arrive and what they ask for: the offered load, drawn once
//! from the scenario's seed so every system under test sees the same requests.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use palisade_core::Priority;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::distribution::Distribution;
use crate::limits::{MAX_TOKENS, MAX_WEIGHT, duration_from_secs, number_within};
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

    /// Checks the weights; the error is the key and what is wrong.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let named = [
            ("critical", self.critical),
            ("high", self.high),
            ("normal", self.normal),
            ("low", self.low),
        ];
        for (key, weight) in named {
            number_within(weight, 0.0, MAX_WEIGHT).map_err(|e| (key, e))?;
        }
        if self.weights().iter().map(|(_, w)| w).sum::<f64>() <= 0.0 {
            return Err(("normal", "at least one weight must be positive".into()));
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
    /// Tokens of a shared prompt prefix every request carries on top of its
    /// `input_tokens`, served from the model's prompt cache (a system prompt
    /// or document set already cached: each request reads it). Its quota
    /// cost follows the model's `[models.prompt_cache] cache_reads`.
    /// Default: 0.
    pub cached_prefix_tokens: u32,
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
            cached_prefix_tokens: 0,
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
    /// Its input size in tokens (prompt tokens billed at the normal rate).
    pub input_tokens: u32,
    /// Its `max_tokens`.
    pub max_tokens: u32,
    /// Its priority.
    pub priority: Priority,
    /// The model (index in the scenario) it must go to, for a recorded trace;
    /// `None` for a scenario's load, which the system under test routes.
    pub model: Option<usize>,
    /// Its output length when it is known (a recorded trace); `None` lets the
    /// model draw it.
    pub output_tokens: Option<u32>,
    /// Prompt tokens read from the cache.
    pub cache_read_tokens: u32,
    /// Prompt tokens written to the cache.
    pub cache_write_tokens: u32,
}

impl Arrival {
    /// Every prompt token: what the model's quota counts as input.
    pub fn prompt_tokens(&self) -> u32 {
        self.input_tokens
            .saturating_add(self.cache_read_tokens)
            .saturating_add(self.cache_write_tokens)
    }
}

/// The offered load of a scenario, drawn lazily in time order (ties by
/// client): memory is one random stream per client, whatever the duration.
///
/// Each client draws from its own stream, so adding clients leaves the
/// existing clients' requests unchanged, and the same seed gives the same
/// requests.
pub struct Arrivals {
    /// Each client's random stream.
    clients: Vec<SimRng>,
    /// `(next time, the same as a Duration, client)`, earliest first; ties
    /// are broken by the Duration (the order the report sees) then client.
    heap: BinaryHeap<Reverse<(Duration, OrderedTime, u32)>>,
    horizon: f64,
    mean_gap: f64,
    poisson: bool,
    requests: RequestMix,
}

impl std::fmt::Debug for Arrivals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arrivals")
            .field("clients", &self.clients.len())
            .field("pending", &self.heap.len())
            .finish_non_exhaustive()
    }
}

/// A finite, non-negative time in seconds, ordered (the heap's key).
#[derive(Debug, Clone, Copy, PartialEq)]
struct OrderedTime(f64);

impl Eq for OrderedTime {}
impl PartialOrd for OrderedTime {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrderedTime {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// The time to a client's next request.
fn gap(poisson: bool, mean_gap: f64, rng: &mut SimRng) -> f64 {
    if poisson {
        Distribution::Exponential { mean: mean_gap }.sample(rng)
    } else {
        mean_gap
    }
}

impl Arrivals {
    fn schedule(&mut self, t: f64, client: u32) {
        if t < self.horizon {
            self.heap
                .push(Reverse((duration_from_secs(t), OrderedTime(t), client)));
        }
    }
}

impl Iterator for Arrivals {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        let Reverse((at, OrderedTime(t), client)) = self.heap.pop()?;
        let (poisson, mean_gap) = (self.poisson, self.mean_gap);
        let rng = self.clients.get_mut(client as usize)?;
        let arrival = Arrival {
            at,
            client,
            input_tokens: self
                .requests
                .input_tokens
                .sample_clamped(rng, 1, MAX_TOKENS),
            max_tokens: self.requests.max_tokens,
            priority: self.requests.priorities.draw(rng),
            model: None,
            output_tokens: None,
            cache_read_tokens: self.requests.cached_prefix_tokens,
            cache_write_tokens: 0,
        };
        let next = t + gap(poisson, mean_gap, rng);
        self.schedule(next, client);
        Some(arrival)
    }
}

/// What one pass over a load finds: its size and largest request, without
/// keeping the load.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LoadSummary {
    pub(crate) requests: u64,
    /// Prompt tokens of every request.
    pub(crate) prompt_tokens: u64,
    /// Output tokens of the requests that fix theirs (a trace).
    pub(crate) known_output_tokens: u64,
    /// Requests that fix their output.
    pub(crate) known_outputs: u64,
    pub(crate) largest_prompt: u32,
}

impl LoadSummary {
    pub(crate) fn of(load: impl Iterator<Item = Arrival>) -> Self {
        load.fold(Self::default(), |mut s, a| {
            s.requests += 1;
            s.prompt_tokens += u64::from(a.prompt_tokens());
            if let Some(out) = a.output_tokens {
                s.known_output_tokens += u64::from(out);
                s.known_outputs += 1;
            }
            s.largest_prompt = s.largest_prompt.max(a.prompt_tokens());
            s
        })
    }
}

/// The whole offered load of `clients` clients over `duration`, lazily, in
/// time order (ties by client).
pub fn offered_load(
    seed: u64,
    clients: u32,
    duration: Duration,
    arrivals: &ArrivalConfig,
    requests: &RequestMix,
) -> Arrivals {
    let rate_per_sec = arrivals.per_client_per_minute() / 60.0;
    let horizon = duration.as_secs_f64();
    let mut load = Arrivals {
        clients: Vec::new(),
        heap: BinaryHeap::new(),
        horizon,
        mean_gap: 1.0 / rate_per_sec,
        poisson: matches!(arrivals, ArrivalConfig::Poisson { .. }),
        requests: requests.clone(),
    };
    if !(rate_per_sec.is_finite() && rate_per_sec > 0.0 && load.mean_gap.is_finite()) {
        return load;
    }
    load.clients.reserve(clients as usize);
    load.heap.reserve(clients as usize);
    for client in 0..clients {
        let mut rng = rng_for(seed, &format!("arrivals:client:{client}"));
        let first = if load.poisson {
            gap(true, load.mean_gap, &mut rng)
        } else {
            rng.random::<f64>() * load.mean_gap
        };
        load.schedule(first, client);
        load.clients.push(rng);
    }
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
        let load: Vec<_> = offered_load(3, 100, hour, &arrivals, &RequestMix::default()).collect();
        // 100 clients × 0.5/min × 60 min = 3,000 expected.
        assert!((2_850..3_150).contains(&load.len()), "{}", load.len());
        assert!(load.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(load.iter().all(|a| (500..=4_000).contains(&a.input_tokens)));
        let again: Vec<_> = offered_load(3, 100, hour, &arrivals, &RequestMix::default()).collect();
        assert_eq!(load, again);

        // More clients keep the first clients' requests.
        let more: Vec<_> = offered_load(3, 101, hour, &arrivals, &RequestMix::default()).collect();
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
