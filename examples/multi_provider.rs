//! One stack over three providers: Anthropic first, Bedrock next, an
//! OpenAI-compatible server last, from one stack TOML whose candidates name
//! their `provider`. Three in-process fake servers play the providers (the
//! real reqwest and AWS SDK clients, the real wire formats), so it runs
//! offline.
//!
//! ```sh
//! cargo run --example multi_provider \
//!   --features anthropic,bedrock,openai,fake-anthropic,fake-bedrock,fake-openai,stack
//! ```
//!
//! Anthropic is down for the whole run (500 `api_error`). The first question
//! falls back to Bedrock, which answers; for the second, Bedrock throttles
//! once and the OpenAI-compatible server answers. Each answer prints who
//! answered and the attempts trail. `palisade chat --config stack.toml`
//! reads the same file (docs/config.md).

use std::time::Duration;

use palisade::anthropic::{AnthropicProvider, ApiKey};
use palisade::bedrock::BedrockProvider;
use palisade::bedrock::aws::Credentials;
use palisade::openai::OpenAiProvider;
use palisade::stack::{CandidateConfig, ProviderKind, StackBuilder, StackConfig};
use palisade::testkit::anthropic::{FakeAnthropic, Fault};
use palisade::testkit::bedrock::{FakeBedrock, WireFault};
use palisade::testkit::openai::FakeOpenAi;
use palisade::testkit::{Outcome, ScriptedProvider};
use palisade::{ChatRequest, ChatResponse, Provider, ProviderId, SharedProvider, Usage};

const CLAUDE: &str = "claude-haiku-4-5";
const BEDROCK: &str = "us.anthropic.claude-haiku-4-5-20251001-v1:0";
const LOCAL: &str = "llama3.1:8b";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let anthropic = FakeAnthropic::builder()
        .model(CLAUDE, answering(CLAUDE))
        .bind("127.0.0.1:0")
        .await?;
    anthropic.set_fault(CLAUDE, Fault::down());
    let bedrock = FakeBedrock::builder()
        .model(BEDROCK, answering(BEDROCK))
        .bind("127.0.0.1:0")
        .await?;
    let openai = FakeOpenAi::builder()
        .model(LOCAL, answering(LOCAL))
        .bind("127.0.0.1:0")
        .await?;

    // What a stack.toml holds; the URLs are the fakes' ports. One attempt
    // per candidate keeps the trail short (the default retries 500s).
    let toml = format!(
        r#"
name = "multi"
retry = {{ max_attempts = 1 }}

[[candidates]]
id = "claude"
provider = "anthropic"
model = "{CLAUDE}"
base_url = "{}"
api_key_env = "ANTHROPIC_API_KEY"

[[candidates]]
id = "bedrock"
provider = "bedrock"
model = "{BEDROCK}"
region = "us-east-1"
endpoint_url = "{}"

[[candidates]]
id = "local"
provider = "openai"
model = "{LOCAL}"
base_url = "{}"
"#,
        anthropic.base_url(),
        bedrock.endpoint_url(),
        openai.base_url()
    );
    let config = StackConfig::from_toml(&toml)?;
    let mut builder = StackBuilder::new(config.clone());
    for candidate in &config.candidates {
        builder = builder.shared_provider(&candidate.id, provider_for(candidate).await?);
    }
    let stack = builder.build()?;

    let first = stack.complete(question("Which provider are you?")).await?;
    report("first", &first);
    bedrock.inject(BEDROCK, WireFault::throttling());
    let second = stack.complete(question("And now?")).await?;
    report("second", &second);
    Ok(())
}

/// The client a candidate names, configured from its table: what
/// `palisade chat` does for each candidate.
async fn provider_for(c: &CandidateConfig) -> Result<SharedProvider, Box<dyn std::error::Error>> {
    // A real deployment refuses to start without its key; the fakes take any.
    let key = |var: &str| std::env::var(var).unwrap_or_else(|_| "local-example-key".into());
    Ok(match c.provider_kind()? {
        ProviderKind::Anthropic => {
            let var = c.api_key_env.as_deref().unwrap_or("ANTHROPIC_API_KEY");
            let mut b = AnthropicProvider::builder(c.model()).api_key(ApiKey::new(key(var)));
            if let Some(url) = &c.base_url {
                b = b.base_url(url);
            }
            std::sync::Arc::new(b.build()?)
        }
        ProviderKind::Bedrock => {
            let mut b = BedrockProvider::builder(c.model())
                // Example credentials: the fake Bedrock does not check them.
                .credentials(Credentials::new(
                    "AKIDEXAMPLE",
                    "example",
                    None,
                    None,
                    "example",
                ));
            if let Some(region) = &c.region {
                b = b.region(region);
            }
            if let Some(url) = c.bedrock_endpoint() {
                b = b.endpoint_url(url);
            }
            std::sync::Arc::new(b.build().await?)
        }
        ProviderKind::OpenAi => {
            let mut b = OpenAiProvider::builder(c.model());
            if let Some(url) = &c.base_url {
                b = b.base_url(url);
            }
            if let Some(var) = &c.api_key_env {
                b = b.api_key(key(var));
            }
            std::sync::Arc::new(b.build()?)
        }
        other => return Err(format!("candidate {}: no client for {other}", c.id).into()),
    })
}

/// A model that always answers with its own name.
fn answering(model: &str) -> ScriptedProvider {
    let answer = ChatResponse::text(
        ProviderId::new(model),
        format!("Hello from {model}."),
        Some(Usage::new(12, 6)),
    );
    ScriptedProvider::new(model).otherwise(Duration::ZERO, Outcome::Respond(answer))
}

fn question(text: &str) -> ChatRequest {
    ChatRequest::user(text)
        .with_max_tokens(64)
        .with_timeout(Duration::from_secs(30))
}

fn report(label: &str, answer: &ChatResponse) {
    println!(
        "{label}: {:?} answered by {} (model {})",
        answer.text_content(),
        answer.served_by,
        answer.model
    );
    for (i, attempt) in answer.attempts.iter().enumerate() {
        println!("  {}. {}: {}", i + 1, attempt.provider, attempt.outcome);
    }
}
