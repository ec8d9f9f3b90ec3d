//! Routing: the order in which a fallback tries its candidates, per request.
//!
//! A [`Router`] only orders; the fallback still skips candidates that are
//! unavailable or too small and moves on after failures. The built-in
//! strategies are selected by [`RoutingStrategy`] in config; anything else
//! (the seed's complexity-, context- and cost-aware router, say) is a custom
//! `Router`, see `examples/custom_router.rs`.

mod strategies;

use std::fmt;
use std::sync::Arc;

use palisade_core::ChatRequest;
use serde::{Deserialize, Serialize};

pub use strategies::{CheapestFirst, LeastInFlight, LowestLatency, PriorityOrder, WeightedRandom};

use crate::fallback::Candidate;

/// Orders the candidates of a fallback for one request.
pub trait Router: Send + Sync + fmt::Debug {
    /// Pushes onto `order` the indices into `candidates` to try, first to
    /// last. `order` arrives empty. Indices left out are not tried for this
    /// request; out-of-range and repeated indices are ignored.
    fn route(&self, request: &ChatRequest, candidates: &[Candidate], order: &mut Vec<usize>);
}

impl<R: Router + ?Sized> Router for Arc<R> {
    fn route(&self, request: &ChatRequest, candidates: &[Candidate], order: &mut Vec<usize>) {
        (**self).route(request, candidates, order);
    }
}

/// The built-in strategies, by name in config (`strategy = "least_in_flight"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutingStrategy {
    /// Configuration order (the default): a primary and its fallbacks.
    #[default]
    Priority,
    /// Random order, each candidate first with probability proportional to its weight.
    WeightedRandom,
    /// Fewest calls in flight first.
    LeastInFlight,
    /// Lowest latency moving average first; candidates never called go first.
    LowestLatency,
    /// Lowest price (input + output per million tokens) first; unpriced last.
    CheapestFirst,
}

impl RoutingStrategy {
    /// The router for this strategy.
    pub fn router(self) -> Arc<dyn Router> {
        match self {
            RoutingStrategy::Priority => Arc::new(PriorityOrder),
            RoutingStrategy::WeightedRandom => Arc::new(WeightedRandom),
            RoutingStrategy::LeastInFlight => Arc::new(LeastInFlight),
            RoutingStrategy::LowestLatency => Arc::new(LowestLatency),
            RoutingStrategy::CheapestFirst => Arc::new(CheapestFirst),
        }
    }
}
