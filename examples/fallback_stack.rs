//! A fallback stack over three models, built from a TOML config: the primary
//! is throttled, the secondary's breaker opens, the tertiary answers; the
//! attempts trail says why each request ended where it did, and the stats
//! snapshot shows the whole stack.
//!
//! Run it with `cargo run --example fallback_stack --features stack,testing`. It uses
//! scripted providers, so it needs no network and no credentials.

use std::time::Duration;

use palisade::stack::{FallbackError, StackBuilder};
use palisade::testing::{Outcome, ScriptedProvider};
use palisade::{ChatRequest, ErrorKind, Provider, ProviderError};

const CONFIG: &str = r#"
name = "claude"

[retry]
max_attempts = 3
backoff = { base = "50ms", cap = "1s", jitter = "additive", additive_ratio = 0.1 }

[fallback]
pause = "0s"

[breaker]
consecutive_failures = 2
open_duration = { base = "30s" }
policy = ["overloaded", "unavailable", "timeout", "network", "internal"]

[limit]
max_concurrent = 4
max_wait = 1

[prices]
"sonnet" = { input_per_mtok = 3.0, output_per_mtok = 15.0 }
"haiku" = { input_per_mtok = 0.8, output_per_mtok = 4.0 }

[[candidates]]
id = "opus"
price = { input_per_mtok = 15.0, output_per_mtok = 75.0 }

[[candidates]]
id = "sonnet"

[[candidates]]
id = "haiku"
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The primary is throttled twice (asking for 200 ms), then recovers.
    let opus = ScriptedProvider::new("opus")
        .then_errors(
            2,
            &ProviderError::throttled("rate exceeded", Some(Duration::from_millis(200))),
        )
        .otherwise(Duration::from_millis(20), Outcome::Echo);
    // The secondary is down: its breaker opens after two failures.
    let sonnet = ScriptedProvider::new("sonnet").otherwise(
        Duration::from_millis(5),
        Outcome::Fail(ProviderError::new(
            ErrorKind::Unavailable,
            "503 service unavailable",
        )),
    );
    let haiku = ScriptedProvider::new("haiku").otherwise(Duration::from_millis(10), Outcome::Echo);

    let stack = StackBuilder::from_toml(CONFIG)?
        .provider("opus", opus)
        .provider("sonnet", sonnet)
        .provider("haiku", haiku)
        .build()?;

    for i in 1..=5 {
        let request = ChatRequest::user(format!("question {i}")).with_max_tokens(256);
        match stack.complete(request).await {
            Ok(answer) => {
                let trail: Vec<String> = answer
                    .attempts
                    .iter()
                    .map(|a| format!("{}: {}", a.provider, a.outcome))
                    .collect();
                println!(
                    "request {i}: served by {} — {}",
                    answer.served_by,
                    trail.join(", ")
                );
            }
            Err(err) => {
                println!("request {i}: {err}");
                for attempt in FallbackError::attempts_of(&err) {
                    println!("  {} {:?}", attempt.provider, attempt.outcome);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    println!("\nstats:");
    for c in stack.stats().candidates {
        println!(
            "  {:<7} calls {:>2}  ok {:>2}  failures {:?}  retries {}  breaker {}  cost ${:.6}  p50 {:?} ms",
            c.id.as_str(),
            c.calls,
            c.successes,
            c.failures,
            c.retries,
            c.breaker_state.as_deref().unwrap_or("-"),
            c.cost_usd,
            c.latency.p50_ms.map(|ms| ms.round()),
        );
    }
    stack.reset();
    println!("after reset(): breakers closed, cooldowns cleared");
    Ok(())
}
