use std::cmp::Ordering;
use std::time::Duration;

use palisade_core::ChatRequest;
use rand::Rng;

use super::Router;
use crate::cost::per_token_sum;
use crate::fallback::Candidate;

/// Configuration order.
#[derive(Debug, Clone, Copy, Default)]
pub struct PriorityOrder;

impl Router for PriorityOrder {
    fn route(&self, _: &ChatRequest, candidates: &[Candidate], order: &mut Vec<usize>) {
        order.extend(0..candidates.len());
    }
}

/// A weighted random permutation: each candidate comes first with
/// probability `weight / total weight`, and so on down the list
/// (Efraimidis–Spirakis keys `u^(1/w)`). Weight-0 candidates go last.
#[derive(Debug, Clone, Copy, Default)]
pub struct WeightedRandom;

impl Router for WeightedRandom {
    fn route(&self, _: &ChatRequest, candidates: &[Candidate], order: &mut Vec<usize>) {
        let mut rng = rand::rng();
        let mut keyed: Vec<(f64, usize)> = candidates
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = c.weight();
                let key = if w > 0.0 {
                    rng.random::<f64>().powf(1.0 / w)
                } else {
                    -1.0
                };
                (key, i)
            })
            .collect();
        keyed.sort_by(|a, b| b.0.total_cmp(&a.0));
        order.extend(keyed.into_iter().map(|(_, i)| i));
    }
}

/// Fewest calls in flight first; ties in configuration order.
#[derive(Debug, Clone, Copy, Default)]
pub struct LeastInFlight;

impl Router for LeastInFlight {
    fn route(&self, _: &ChatRequest, candidates: &[Candidate], order: &mut Vec<usize>) {
        order.extend(0..candidates.len());
        order.sort_by_key(|&i| candidates[i].in_flight());
    }
}

/// Lowest latency EWMA first; candidates never called first of all (so each
/// gets measured), ties in configuration order.
#[derive(Debug, Clone, Copy, Default)]
pub struct LowestLatency;

impl Router for LowestLatency {
    fn route(&self, _: &ChatRequest, candidates: &[Candidate], order: &mut Vec<usize>) {
        order.extend(0..candidates.len());
        order.sort_by_key(|&i| candidates[i].latency_ewma().unwrap_or(Duration::ZERO));
    }
}

/// Lowest price per token first; candidates without a price last, ties in
/// configuration order.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheapestFirst;

impl Router for CheapestFirst {
    fn route(&self, _: &ChatRequest, candidates: &[Candidate], order: &mut Vec<usize>) {
        order.extend(0..candidates.len());
        order.sort_by(
            |&a, &b| match (candidates[a].price(), candidates[b].price()) {
                (Some(x), Some(y)) => per_token_sum(x).total_cmp(&per_token_sum(y)),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        );
    }
}
