//! A three-model Bedrock fallback stack with per-model limits from the
//! environment, against real Bedrock when AWS credentials are present and
//! against the in-process fake Bedrock server (the real SDK client, the real
//! wire protocol) when they are not.
//!
//! ```sh
//! # Offline: the fake server plays a throttled primary.
//! cargo run --example bedrock_fallback --features bedrock,fake-bedrock,stack,limit
//!
//! # Real Bedrock (credentials from the default AWS chain):
//! AWS_REGION=us-east-1 \
//! BEDROCK_MODEL_ID=us.anthropic.claude-sonnet-4-6 \
//! BEDROCK_FALLBACK_MODELS=us.anthropic.claude-sonnet-4-5-20250929-v1:0,us.anthropic.claude-haiku-4-5-20251001-v1:0 \
//! MAX_REQUESTS_PER_MINUTE=50 MAX_TOKENS_PER_MINUTE=200000 MAX_TOKENS_PER_MINUTE_2=400000 \
//!   cargo run --example bedrock_fallback --features bedrock,fake-bedrock,stack,limit
//! ```
//!
//! Limits: `MAX_REQUESTS_PER_MINUTE`, `MAX_TOKENS_PER_MINUTE` and
//! `MAX_CONCURRENT_REQUESTS` apply to every model; the same name with a
//! suffix `_0`, `_1`, `_2` (the model's position) overrides it for one model.
//! Each model gets its own limiter, with its output burndown and prices from
//! the `palisade-bedrock` catalog.

use std::time::Duration;

use palisade::bedrock::aws::Credentials;
use palisade::bedrock::{BedrockEnv, BedrockProvider, catalog};
use palisade::limit::{BurndownConfig, LimiterConfig};
use palisade::stack::{CandidateConfig, StackBuilder, StackConfig};
use palisade::testkit::bedrock::{FakeBedrock, FakeBedrockServer, WireFault};
use palisade::testkit::{Outcome, ScriptedProvider};
use palisade::{ChatRequest, Provider, SharedProvider};

/// The three models when the environment names none.
const DEFAULT_MODELS: [&str; 3] = [
    "us.anthropic.claude-sonnet-4-6",
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "us.anthropic.claude-haiku-4-5-20251001-v1:0",
];

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let env = BedrockEnv::from_env()?;
    let mut models: Vec<String> = env.model_ids().map(str::to_owned).collect();
    for default in DEFAULT_MODELS {
        if models.len() < 3 && !models.iter().any(|m| m == default) {
            models.push(default.to_owned());
        }
    }
    models.truncate(3);

    // Real Bedrock when credentials are present, the fake server otherwise.
    let (providers, _fake) = if env
        .config()
        .credentials_available(Duration::from_secs(5))
        .await
    {
        println!("AWS credentials found: calling Amazon Bedrock.");
        let primary = BedrockProvider::builder(models[0].clone())
            .config(env.config())
            .build()
            .await?;
        let providers: Vec<BedrockProvider> =
            models.iter().map(|m| primary.with_model(m)).collect();
        (providers, None)
    } else {
        println!("No AWS credentials: running against the in-process fake Bedrock server.");
        let fake = fake_bedrock(&models).await?;
        let primary = BedrockProvider::builder(models[0].clone())
            .region("us-east-1")
            .endpoint_url(fake.endpoint_url())
            .credentials(Credentials::new(
                "AKIDEXAMPLE",
                "example-secret",
                None,
                None,
                "example",
            ))
            .build()
            .await?;
        let providers: Vec<BedrockProvider> =
            models.iter().map(|m| primary.with_model(m)).collect();
        (providers, Some(fake))
    };

    let mut config = StackConfig {
        name: "bedrock".to_owned(),
        ..StackConfig::default()
    };
    for (i, model) in models.iter().enumerate() {
        let mut candidate = CandidateConfig::new(model.clone());
        candidate.limit = Some(limits_for(i, model)?);
        if let Some(entry) = catalog::lookup(model) {
            candidate.price = Some(entry.price);
        }
        config.candidates.push(candidate);
    }
    let mut builder = StackBuilder::new(config);
    for (model, provider) in models.iter().zip(providers) {
        let shared: SharedProvider = std::sync::Arc::new(provider);
        builder = builder.shared_provider(model.clone(), shared);
    }
    let stack = builder.build()?;

    for i in 1..=4 {
        if i == 3 {
            // Let the primary's Retry-After pass, to see the stack return to it.
            tokio::time::sleep(Duration::from_millis(1100)).await;
        }
        let request = ChatRequest::user(format!("Question {i}: name a prime number."))
            .with_max_tokens(256)
            .with_timeout(Duration::from_secs(60));
        match stack.complete(request).await {
            Ok(answer) => {
                let trail: Vec<String> = answer
                    .attempts
                    .iter()
                    .map(|a| format!("{}: {}", a.provider, a.outcome))
                    .collect();
                println!(
                    "request {i}: {:?} from {}",
                    answer.text_content(),
                    answer.served_by
                );
                println!("  trail: {}", trail.join(" -> "));
            }
            Err(err) => println!("request {i} failed: {err}"),
        }
    }

    println!("\nper model:");
    for c in stack.stats().candidates {
        println!(
            "  {:<60} calls {:>2}  ok {:>2}  failures {:?}  cost ${:.6}",
            c.id.as_str(),
            c.calls,
            c.successes,
            c.failures,
            c.cost_usd,
        );
    }
    Ok(())
}

/// The model's limiter: the shared limit variables, overridden by the
/// position-suffixed ones, and the catalog's output burndown.
fn limits_for(position: usize, model: &str) -> Result<LimiterConfig, Box<dyn std::error::Error>> {
    let lookup = |name: &str| {
        std::env::var(format!("{name}_{position}"))
            .ok()
            .or_else(|| std::env::var(name).ok())
    };
    let mut limit = LimiterConfig::from_lookup(lookup)?;
    limit.name = model.to_owned();
    limit.burndown = BurndownConfig {
        default: catalog::output_burndown(model),
        ..BurndownConfig::default()
    };
    Ok(limit)
}

/// A fake Bedrock serving the three models: the primary is throttled once
/// (Retry-After 1 s) and the secondary is down for a while, so the first
/// request ends on the third model; once the primary's second is up, the
/// stack returns to it.
async fn fake_bedrock(models: &[String]) -> std::io::Result<FakeBedrockServer> {
    let mut builder = FakeBedrock::builder();
    for model in models {
        let name = catalog::lookup(model).map_or(model.as_str(), |m| m.name);
        builder = builder.model(
            model.clone(),
            ScriptedProvider::new(name).otherwise(Duration::from_millis(20), Outcome::Echo),
        );
    }
    let server = builder.bind("127.0.0.1:0").await?;
    server.inject(
        &models[0],
        WireFault::throttling().with_retry_after(Duration::from_secs(1)),
    );
    for _ in 0..3 {
        server.inject(
            &models[1],
            WireFault::http(
                503,
                Some("ServiceUnavailableException"),
                "Service unavailable",
            ),
        );
    }
    Ok(server)
}
