//! A model goes down for a minute: its breaker opens, refuses calls without
//! reaching the model, probes, and closes again; the health snapshot is what a
//! health endpoint would serve. Runs on tokio's paused clock, so the minute
//! passes at once.
//!
//! `cargo run -p palisade-breaker --example model_outage`

use std::time::Duration;

use palisade_breaker::{BreakerConfig, HealthRegistry, OpenDuration};
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError, ProviderExt};

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().without_time().init();

    let config = BreakerConfig::default().open_duration(
        OpenDuration::default()
            .base(Duration::from_secs(20))
            .jitter(0.0),
    );
    let registry = HealthRegistry::new(config)?.with_listener(|change| {
        println!(
            "  -> {} became {} ({})",
            change.provider, change.to, change.reason
        );
    });

    // Down (503) for its first six calls, then healthy.
    let model = ScriptedProvider::new("bedrock/model-a")
        .then_errors(
            6,
            &ProviderError::new(ErrorKind::Unavailable, "503 from the model"),
        )
        .otherwise(Duration::from_millis(300), Outcome::Echo);
    let guarded = model.clone().layer(registry.layer("bedrock/model-a"));

    // One call a second for 90 s; print when what happens changes.
    let mut last = String::new();
    for second in 0..90 {
        let calls_before = model.call_count();
        let what = match guarded.complete(ChatRequest::user("hello")).await {
            Ok(_) => "answered".to_owned(),
            Err(e) if model.call_count() > calls_before => format!("model failed: {}", e.kind()),
            Err(e) => format!(
                "refused by the breaker, retry after {:?}",
                e.retry_after().unwrap_or_default()
            ),
        };
        if what.split(',').next() != last.split(',').next() {
            println!("t={second:>2}s {what}");
        }
        last = what;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    println!("the model was called {} times in 90 s", model.call_count());
    println!("{}", serde_json::to_string_pretty(&registry.snapshot())?);
    Ok(())
}
