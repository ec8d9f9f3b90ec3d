//! Routing strategies order the candidates; a custom router replaces them.

use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatRequest, Provider};
use palisade_stack::routing::{CheapestFirst, LeastInFlight, LowestLatency, WeightedRandom};
use palisade_stack::{Candidate, Fallback, Price, Router, RoutingStrategy};

async fn served(fallback: &Fallback) -> String {
    fallback
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap()
        .served_by
        .to_string()
}

#[tokio::test(start_paused = true)]
async fn cheapest_first_prefers_the_lowest_price_and_unpriced_last() {
    let fallback = Fallback::new([
        Candidate::new(ScriptedProvider::new("unpriced")),
        Candidate::new(ScriptedProvider::new("opus")).with_price(Price::new(15.0, 75.0)),
        Candidate::new(ScriptedProvider::new("haiku")).with_price(Price::new(0.8, 4.0)),
    ])
    .with_router(CheapestFirst);
    assert_eq!(served(&fallback).await, "haiku");
    let mut order = Vec::new();
    CheapestFirst.route(&ChatRequest::user("x"), fallback.candidates(), &mut order);
    assert_eq!(order, [2, 1, 0]);
}

#[tokio::test(start_paused = true)]
async fn lowest_latency_measures_each_then_prefers_the_fastest() {
    let slow = ScriptedProvider::new("slow").otherwise(Duration::from_millis(800), Outcome::Echo);
    let fast = ScriptedProvider::new("fast").otherwise(Duration::from_millis(100), Outcome::Echo);
    let fallback = Fallback::new([Candidate::new(slow.clone()), Candidate::new(fast.clone())])
        .with_router(LowestLatency);
    assert_eq!(served(&fallback).await, "slow", "unmeasured goes first");
    assert_eq!(served(&fallback).await, "fast", "then the other unmeasured");
    for _ in 0..5 {
        assert_eq!(served(&fallback).await, "fast");
    }
}

#[tokio::test(start_paused = true)]
async fn least_in_flight_spreads_concurrent_calls() {
    let a = ScriptedProvider::new("a").otherwise(Duration::from_secs(1), Outcome::Echo);
    let b = ScriptedProvider::new("b").otherwise(Duration::from_secs(1), Outcome::Echo);
    let fallback = Fallback::new([Candidate::new(a.clone()), Candidate::new(b.clone())])
        .with_router(LeastInFlight);
    let calls = (0..10).map(|_| fallback.complete(ChatRequest::user("hi")));
    futures_util::future::join_all(calls).await;
    assert_eq!((a.call_count(), b.call_count()), (5, 5));
}

#[tokio::test(start_paused = true)]
async fn weighted_random_follows_the_weights() {
    let a = ScriptedProvider::new("a");
    let b = ScriptedProvider::new("b");
    let fallback = Fallback::new([
        Candidate::new(a.clone()).with_weight(3.0),
        Candidate::new(b.clone()).with_weight(1.0),
    ])
    .with_router(WeightedRandom);
    for _ in 0..4000 {
        fallback.complete(ChatRequest::user("hi")).await.unwrap();
    }
    let share = a.call_count() as f64 / 4000.0;
    assert!((share - 0.75).abs() < 0.04, "share of a: {share}");
}

/// Routes long prompts to the large model, everything else cheapest first.
#[derive(Debug)]
struct LongToLarge;

impl Router for LongToLarge {
    fn route(
        &self,
        request: &ChatRequest,
        candidates: &[palisade_stack::Candidate],
        order: &mut Vec<usize>,
    ) {
        let long = request.metadata.input_token_estimate.unwrap_or(0) > 1000;
        if long {
            order.extend((0..candidates.len()).rev());
        } else {
            order.extend(0..candidates.len());
        }
        order.push(99); // out of range: ignored
        order.push(0); // repeated: ignored
    }
}

#[tokio::test(start_paused = true)]
async fn a_custom_router_decides_per_request() {
    let small = ScriptedProvider::new("small");
    let large = ScriptedProvider::new("large");
    let fallback = Fallback::new([Candidate::new(small.clone()), Candidate::new(large.clone())])
        .with_router(LongToLarge);
    let short = fallback.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(short.served_by.as_str(), "small");
    let long = fallback
        .complete(ChatRequest::user("doc").with_input_token_estimate(5000))
        .await
        .unwrap();
    assert_eq!(long.served_by.as_str(), "large");
    assert_eq!(long.attempts.len(), 1);
}

#[test]
fn strategies_have_config_names() {
    let s: RoutingStrategy = serde_json::from_str("\"least_in_flight\"").unwrap();
    assert_eq!(s, RoutingStrategy::LeastInFlight);
    assert_eq!(
        format!("{:?}", RoutingStrategy::default().router()),
        "PriorityOrder"
    );
}
