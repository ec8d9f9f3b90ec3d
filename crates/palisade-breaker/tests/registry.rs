//! `HealthRegistry`: breakers by id, serde snapshots, reset of one or all.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use palisade_breaker::{BreakerConfig, BreakerState, CircuitBreaker, HealthRegistry, Outcome};
use palisade_core::{ErrorKind, ProviderError};

fn config() -> BreakerConfig {
    let mut c = BreakerConfig {
        consecutive_failures: Some(2),
        ..BreakerConfig::default()
    };
    c.open_duration.jitter = 0.0;
    c.open_duration.base = Duration::from_secs(30);
    c
}

fn throttle(b: &CircuitBreaker) {
    b.try_acquire()
        .unwrap()
        .record_error(&ProviderError::throttled(
            "429",
            Some(Duration::from_secs(45)),
        ));
}

#[tokio::test(start_paused = true)]
async fn snapshots_serialize_for_a_health_endpoint() {
    let registry = HealthRegistry::new(config()).unwrap();
    let a = registry.breaker("bedrock/model-a");
    let b = registry.breaker("bedrock/model-b");
    assert_eq!(
        registry.breaker("bedrock/model-a").id(),
        a.id(),
        "same breaker"
    );
    b.try_acquire().unwrap().record(Outcome::Success);
    throttle(&a);
    throttle(&a);

    let health = registry.snapshot();
    assert_eq!(health.len(), 2);
    let json = serde_json::to_value(&health).unwrap();
    assert_eq!(
        json[0],
        serde_json::json!({
            "provider": "bedrock/model-a",
            "state": "open",
            "calls": 0,
            "failures": 0,
            "slow_calls": 0,
            "failure_rate": null,
            "slow_call_rate": null,
            "consecutive_failures": 2,
            "consecutive_opens": 1,
            "probes_in_flight": 0,
            "retry_after_ms": 45000,
            "last_error_kind": "throttled"
        })
    );
    assert_eq!(json[1]["state"], "closed");
    assert_eq!(json[1]["calls"], 1);
    assert_eq!(json[1]["failure_rate"], 0.0);
}

#[tokio::test(start_paused = true)]
async fn reset_one_or_all() {
    let registry = HealthRegistry::new(config()).unwrap();
    for id in ["a", "b", "c"] {
        let b = registry.breaker(id);
        throttle(&b);
        throttle(&b);
    }
    registry.isolate("d");
    assert!(registry.reset("a"));
    assert!(!registry.reset("unknown"));
    assert_eq!(registry.get("a").unwrap().state(), BreakerState::Closed);
    assert_eq!(registry.get("b").unwrap().state(), BreakerState::Open);
    assert_eq!(registry.reset_all(), 4);
    assert!(
        registry
            .snapshot()
            .iter()
            .all(|s| s.state == BreakerState::Closed && s.consecutive_failures == 0)
    );
}

#[tokio::test(start_paused = true)]
async fn the_listener_and_custom_breakers() {
    let changes = Arc::new(AtomicUsize::new(0));
    let count = changes.clone();
    let registry = HealthRegistry::new(config())
        .unwrap()
        .with_listener(move |_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
    let a = registry.breaker("a");
    throttle(&a);
    throttle(&a);
    registry.reset_all();
    assert_eq!(changes.load(Ordering::Relaxed), 2);

    let custom = CircuitBreaker::new("special", BreakerConfig::seed()).unwrap();
    assert!(registry.insert(custom).is_none());
    let special = registry.get("special").unwrap();
    assert_eq!(special.config(), &BreakerConfig::seed());
    for _ in 0..5 {
        special
            .try_acquire()
            .unwrap()
            .record_error(&ProviderError::new(ErrorKind::Internal, "500"));
    }
    assert_eq!(registry.snapshot()[1].retry_after_ms, Some(300_000));
    let layer = registry.layer("special");
    assert_eq!(layer.breaker().state(), BreakerState::Open);
}

#[test]
fn an_invalid_config_is_refused() {
    let mut c = BreakerConfig::default();
    c.half_open.successes_to_close = 0;
    assert_eq!(
        HealthRegistry::new(c).unwrap_err().field(),
        "half_open.successes_to_close"
    );
}
