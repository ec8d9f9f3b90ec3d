//! Clones of a `ProviderService` share one provider; a `ServiceProvider`
//! takes concurrent calls through `&self`.

use std::sync::Arc;
use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatRequest, Provider, ProviderExt};
use palisade_limit::{Limiter, LimiterConfig, RateLimitLayer};
use palisade_tower::{ProviderService, ServiceProvider};
use tower::limit::ConcurrencyLimitLayer;
use tower::{Layer, ServiceExt};

#[tokio::test(start_paused = true)]
async fn clones_share_the_provider_and_its_limiter() {
    let model = ScriptedProvider::new("m").otherwise(Duration::from_millis(500), Outcome::Echo);
    let limiter = Limiter::new(LimiterConfig::named("m").with_max_concurrent(2)).unwrap();
    let service = ProviderService::new(model.clone().layer(RateLimitLayer::new(limiter.clone())));

    let calls: Vec<_> = (0..10)
        .map(|i| {
            let service = service.clone();
            tokio::spawn(service.oneshot(ChatRequest::user(format!("question {i}"))))
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap().unwrap().text_content(), "ok");
    }
    assert_eq!(model.call_count(), 10);
    assert_eq!(model.max_in_flight(), 2, "clones did not share the limiter");
    assert_eq!(limiter.stats().admitted, 10);
}

#[tokio::test(start_paused = true)]
async fn a_service_provider_takes_concurrent_calls_and_shares_tower_state() {
    let model = ScriptedProvider::new("m").otherwise(Duration::from_secs(1), Outcome::Echo);
    let service = ConcurrencyLimitLayer::new(3).layer(ProviderService::new(model.clone()));
    let provider = Arc::new(ServiceProvider::new("m", service));

    let started = tokio::time::Instant::now();
    let calls: Vec<_> = (0..12)
        .map(|i| {
            let provider = provider.clone();
            tokio::spawn(async move { provider.complete(ChatRequest::user(format!("{i}"))).await })
        })
        .collect();
    for call in calls {
        assert!(call.await.unwrap().is_ok());
    }
    assert_eq!(model.call_count(), 12);
    // Every per-call clone waited on the one semaphore.
    assert_eq!(model.max_in_flight(), 3);
    assert_eq!(started.elapsed(), Duration::from_secs(4));
}
