//! The seed's complexity-, context- and cost-aware router as a custom
//! `Router`: simple short questions go to the cheapest model, long contexts to
//! the models that hold them, hard questions to the strongest model first —
//! and a tenant on a tight budget never reaches the most expensive one. The
//! fallback still skips unavailable candidates and moves on after failures.
//!
//! Run it with `cargo run --example custom_router --features stack,testing`.

use palisade::stack::{Candidate, Fallback, Price, Router};
use palisade::testing::ScriptedProvider;
use palisade::{ChatRequest, HeuristicEstimator, Provider, TokenEstimator};

/// Candidate indices, in configuration order.
const OPUS: usize = 0;
const SONNET: usize = 1;
const HAIKU: usize = 2;

#[derive(Debug)]
struct ComplexityRouter;

impl ComplexityRouter {
    /// 0 (trivial) to 3 (hard), from the words and the size of the request.
    fn complexity(request: &ChatRequest, tokens: u32) -> u32 {
        let text: String = request
            .messages
            .iter()
            .map(|m| m.text().to_lowercase())
            .collect();
        let hard_words = ["prove", "architecture", "trade-off", "derive", "root cause"];
        let medium_words = ["analyze", "compare", "explain", "refactor"];
        let mut score = if hard_words.iter().any(|w| text.contains(w)) {
            3
        } else if medium_words.iter().any(|w| text.contains(w)) {
            2
        } else {
            0
        };
        if tokens > 2_000 {
            score += 1;
        }
        score.min(3)
    }
}

impl Router for ComplexityRouter {
    fn route(&self, request: &ChatRequest, candidates: &[Candidate], order: &mut Vec<usize>) {
        let tokens = request.metadata.input_token_estimate.unwrap_or_else(|| {
            HeuristicEstimator.estimate_text(
                &request
                    .messages
                    .iter()
                    .map(|m| m.text())
                    .collect::<String>(),
            )
        });
        let tight_budget = request.metadata.tags.iter().any(|t| t == "budget=low");
        let mut preferred = match Self::complexity(request, tokens) {
            3 => vec![OPUS, SONNET, HAIKU],
            2 => vec![SONNET, OPUS, HAIKU],
            _ => vec![HAIKU, SONNET, OPUS],
        };
        if tight_budget {
            preferred.retain(|&i| i != OPUS);
        }
        // Context: never route a long request to a model that cannot hold it
        // (the fallback would skip it anyway; leaving it out keeps the trail short).
        preferred.retain(|&i| {
            candidates[i]
                .context_window()
                .is_none_or(|w| tokens + request.max_tokens <= w)
        });
        order.extend(preferred);
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let fallback = Fallback::new([
        Candidate::new(ScriptedProvider::new("opus").with_context_window(200_000))
            .with_price(Price::new(15.0, 75.0)),
        Candidate::new(ScriptedProvider::new("sonnet").with_context_window(200_000))
            .with_price(Price::new(3.0, 15.0)),
        Candidate::new(ScriptedProvider::new("haiku").with_context_window(48_000))
            .with_price(Price::new(0.8, 4.0)),
    ])
    .with_router(ComplexityRouter);

    let requests = [
        (
            "What is the capital of France?",
            ChatRequest::user("What is the capital of France?"),
        ),
        (
            "compare two designs",
            ChatRequest::user("Compare these two API designs."),
        ),
        (
            "architecture question",
            ChatRequest::user("Derive the architecture trade-off between queues and streams."),
        ),
        (
            "hard, tight budget",
            ChatRequest::user("Prove this invariant holds.").with_tag("budget=low"),
        ),
        (
            "long document",
            ChatRequest::user("Summarize this report.").with_input_token_estimate(120_000),
        ),
    ];
    for (label, request) in requests {
        let answer = fallback
            .complete(request)
            .await
            .expect("scripted models answer");
        let cost = answer
            .usage
            .zip(
                fallback
                    .candidates()
                    .iter()
                    .find(|c| c.id() == &answer.served_by)
                    .and_then(|c| c.price().copied()),
            )
            .map(|(u, p)| p.cost(&u))
            .unwrap_or(0.0);
        println!("{label:<24} → {:<6} (${cost:.6})", answer.served_by);
    }
}
