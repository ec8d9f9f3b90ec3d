//! tower and palisade in one stack, both ways round.
//!
//! ```text
//! app ─► tower ConcurrencyLimit ─► palisade Fallback ─► per candidate:
//!        palisade CircuitBreaker ─► palisade RateLimit ─► tower Timeout ─► model
//! ```
//!
//! Each candidate is a palisade stack with tower's `Timeout` inside it
//! (`TowerLayer`); the fallback over them is served to the application as a
//! `tower::Service` (`ProviderService`) behind tower's `ConcurrencyLimit`.
//! The primary hangs: tower's timeout gives up on it, the `Elapsed` comes
//! back as `ErrorKind::Timeout`, palisade's breaker counts it and opens, and
//! the fallback moves on to the backup — then skips the primary without
//! calling it.
//!
//! Every layer is preceded by a marker (`tower::util::MapRequestLayer`) that
//! tags the request with the layer's name, so the model that answers can say
//! which layers the call went through.
//!
//! Run it with `cargo run --example tower_interop --features tower,testing`. It uses
//! scripted providers, so it needs no network and no credentials.

use std::time::Duration;

use palisade::breaker::{BreakerConfig, CircuitBreaker, CircuitBreakerLayer, OpenDuration};
use palisade::limit::{Limiter, LimiterConfig, Quota, RateLimitLayer};
use palisade::stack::{Candidate, Fallback};
use palisade::testing::{Outcome, ScriptedProvider};
use palisade::tower::tower::limit::ConcurrencyLimitLayer;
use palisade::tower::tower::timeout::TimeoutLayer;
use palisade::tower::tower::util::MapRequestLayer;
use palisade::tower::tower::{Service, ServiceBuilder, ServiceExt};
use palisade::tower::{ProviderService, TowerLayer};
use palisade::{ChatRequest, ChatResponse, LayerStack, Provider};

/// A tower layer that tags the request with `name`: the trail the model sees.
fn mark(name: &'static str) -> MapRequestLayer<impl Fn(ChatRequest) -> ChatRequest + Clone> {
    MapRequestLayer::new(move |req: ChatRequest| req.with_tag(name))
}

/// One candidate: breaker, then limiter (palisade), then timeout (tower).
fn candidate(
    model: ScriptedProvider,
    breaker: CircuitBreaker,
    limiter: Limiter,
) -> impl Provider + 'static {
    LayerStack::new()
        .push(TowerLayer::new(mark("palisade CircuitBreaker")))
        .push(CircuitBreakerLayer::new(breaker))
        .push(TowerLayer::new(mark("palisade RateLimit")))
        .push(RateLimitLayer::new(limiter))
        .push(TowerLayer::new(mark("tower Timeout")))
        .push(TowerLayer::new(TimeoutLayer::new(Duration::from_millis(
            200,
        ))))
        .wrap(model)
}

fn report(call: &str, answer: &ChatResponse, models: &[&ScriptedProvider]) {
    println!("{call}: served by {}", answer.served_by);
    for attempt in &answer.attempts {
        println!("  {:<8} {}", attempt.provider.as_str(), attempt.outcome);
    }
    let served = models.iter().find(|m| m.id() == &answer.served_by);
    if let Some(last) = served.and_then(|m| m.calls().pop()) {
        println!(
            "  layers:  {} → model",
            last.request.metadata.tags.join(" → ")
        );
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The primary hangs (tower's timeout cuts it off); the backup answers.
    let primary =
        ScriptedProvider::new("primary").otherwise(Duration::from_secs(10), Outcome::Echo);
    let backup =
        ScriptedProvider::new("backup").otherwise(Duration::from_millis(50), Outcome::Echo);

    // Two consecutive failures open a breaker for 30 s.
    let breaker_config = BreakerConfig {
        consecutive_failures: Some(2),
        open_duration: OpenDuration {
            base: Duration::from_secs(30),
            ..OpenDuration::default()
        },
        ..BreakerConfig::default()
    };
    let primary_breaker = CircuitBreaker::new("primary", breaker_config.clone())?;
    let backup_breaker = CircuitBreaker::new("backup", breaker_config)?;
    let limits = |name: &str| {
        Limiter::new(
            LimiterConfig::named(name)
                .with_requests(Quota::per_minute(600))
                .with_max_concurrent(8),
        )
    };
    let (primary_limiter, backup_limiter) = (limits("primary")?, limits("backup")?);

    let fallback = Fallback::new([
        Candidate::new(candidate(
            primary.clone(),
            primary_breaker.clone(),
            primary_limiter.clone(),
        )),
        Candidate::new(candidate(
            backup.clone(),
            backup_breaker.clone(),
            backup_limiter.clone(),
        )),
    ]);

    // The application's view: a tower service, at most 2 calls at once.
    let app = ServiceBuilder::new()
        .layer(mark("tower ConcurrencyLimit"))
        .layer(ConcurrencyLimitLayer::new(2))
        .layer(mark("palisade Fallback"))
        .service(ProviderService::new(fallback));

    let models = [&primary, &backup];
    for i in 1..=3 {
        let answer = app
            .clone()
            .ready()
            .await?
            .call(ChatRequest::user(format!("question {i}")).with_max_tokens(64))
            .await?;
        report(&format!("call {i}"), &answer, &models);
    }

    // A burst of six: tower's ConcurrencyLimit lets two through at a time.
    let burst: Vec<_> = (0..6)
        .map(|i| tokio::spawn(app.clone().oneshot(ChatRequest::user(format!("burst {i}")))))
        .collect();
    for call in burst {
        call.await??;
    }
    println!(
        "burst of 6: all answered by backup, at most {} in flight (tower ConcurrencyLimit 2)",
        backup.max_in_flight()
    );

    println!("\nafterwards:");
    println!(
        "  primary: breaker {:?}, limiter admitted {}, model called {} times",
        primary_breaker.state(),
        primary_limiter.stats().admitted,
        primary.call_count()
    );
    println!(
        "  backup:  breaker {:?}, limiter admitted {}, model called {} times",
        backup_breaker.state(),
        backup_limiter.stats().admitted,
        backup.call_count()
    );
    Ok(())
}
