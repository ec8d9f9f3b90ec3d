//! The seed's "analyze 15 document sections in parallel without throttling":
//! a batch through a stack whose limiter allows 5 calls at once, with
//! progress reports, results in section order, and the section that fits no
//! model collected as a dead letter instead of failing the batch.
//!
//! Run it with `cargo run --example batch --features stack,testing`.

use std::time::Duration;

use palisade::stack::{BatchExecutor, StackBuilder};
use palisade::testing::{Outcome, ScriptedProvider};
use palisade::{ChatRequest, Priority};

const CONFIG: &str = r#"
[limit]
max_concurrent = 5
requests = { amount = 100, period = 60 }

[[candidates]]
id = "sonnet"
context_window = 200000

[[candidates]]
id = "haiku"
context_window = 200000
"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sonnet =
        ScriptedProvider::new("sonnet").otherwise(Duration::from_millis(40), Outcome::Echo);
    let haiku = ScriptedProvider::new("haiku").otherwise(Duration::from_millis(20), Outcome::Echo);
    let stack = StackBuilder::from_toml(CONFIG)?
        .provider("sonnet", sonnet.clone())
        .provider("haiku", haiku)
        .build()?;

    let sections: Vec<ChatRequest> = (1..=15)
        .map(|n| {
            let request = ChatRequest::user(format!("Analyze section {n} of the contract."))
                .with_system("You are a careful contract analyst.")
                .with_max_tokens(512)
                .with_tag("job=contract-review");
            match n {
                // The summary section is needed first.
                1 => request.with_priority(Priority::High),
                // An appendix far beyond any context window.
                13 => request.with_input_token_estimate(450_000),
                _ => request,
            }
        })
        .collect();

    let executor = BatchExecutor::new(stack, 5).on_progress(|p| {
        if p.in_flight == 0 || p.finished() % 5 == 0 {
            println!(
                "progress: {}/{} done, {} failed, {} in flight, {} tokens in / {} out",
                p.done, p.total, p.failed, p.in_flight, p.input_tokens, p.output_tokens
            );
        }
    });
    let report = executor.run(sections).await;

    for (n, result) in report.results.iter().enumerate() {
        match result {
            Ok(answer) => println!(
                "section {:>2}: {} ({})",
                n + 1,
                answer.text_content(),
                answer.served_by
            ),
            Err(err) => println!("section {:>2}: failed: {}", n + 1, err.kind()),
        }
    }
    for dead in &report.dead_letters {
        println!(
            "dead letter: section {} — {} (attempts: {})",
            dead.index + 1,
            dead.error,
            dead.attempts.len()
        );
    }
    println!(
        "most calls in flight at once on sonnet: {}",
        sonnet.max_in_flight()
    );
    Ok(())
}
