//! An OpenAI-compatible server behind the canonical stack (retry, breaker,
//! fallback), with a tool round trip: a local fake server plays the
//! provider (the real reqwest client, the real Chat Completions wire
//! format), so it runs offline. Point `base_url` at vLLM, Ollama, a LiteLLM
//! proxy, OpenRouter or OpenAI itself to use a real one.
//!
//! ```sh
//! cargo run --example openai_compatible --features openai,fake-openai,stack
//! ```
//!
//! The primary (`gpt-4o`) answers the first call with 429 and a
//! Retry-After, so the stack moves to `gpt-4o-mini`, which asks for the
//! weather tool; once the Retry-After has passed, the follow-up with the
//! tool's result goes back to the primary. Each answer prints who answered and the attempts trail.

use std::time::Duration;

use palisade::openai::OpenAiProvider;
use palisade::stack::{CandidateConfig, StackBuilder, StackConfig};
use palisade::testkit::openai::{FakeOpenAi, Fault, Quota};
use palisade::testkit::{Outcome, ScriptedProvider};
use palisade::{
    ChatRequest, ChatResponse, ContentBlock, Message, Provider, ProviderId, Role, StopReason, Tool,
    Usage,
};
use serde_json::json;

const KEY: &str = "sk-local-example";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = fake_server().await?;
    println!("fake OpenAI-compatible server at {}", server.base_url());

    let models = ["gpt-4o", "gpt-4o-mini"];
    let config = StackConfig {
        name: "openai-compatible".to_owned(),
        candidates: models.iter().map(|m| CandidateConfig::new(*m)).collect(),
        ..StackConfig::default()
    };
    let mut builder = StackBuilder::new(config);
    for model in models {
        let provider = OpenAiProvider::builder(model)
            .base_url(server.base_url())
            .api_key(KEY)
            .build()?;
        builder = builder.provider(model, provider);
    }
    let stack = builder.build()?;

    let weather = Tool::new(
        "get_weather",
        "Current weather for a city",
        json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }),
    );
    let request = ChatRequest::user("What's the weather in Paris?")
        .with_tool(weather)
        .with_max_tokens(256)
        .with_timeout(Duration::from_secs(30));

    let first = stack.complete(request.clone()).await?;
    report("question", &first);
    let Some((id, name, input)) = first.tool_uses().next() else {
        return Err("the model was expected to call the tool".into());
    };
    println!("  tool call: {name}({input}) [{id}]");
    let result = ContentBlock::tool_result(id, "21 °C, sunny");

    let follow_up = request
        .with_message(first.to_message())
        .with_message(Message::new(Role::User, vec![result]));
    // Let the primary's Retry-After pass, to see the stack return to it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = stack.complete(follow_up).await?;
    report("tool result", &second);

    let stats = server.stats();
    println!(
        "\nserver: {} requests, {} answered, {} rate-limited by quota",
        stats.requests, stats.answered, stats.rate_limited
    );
    Ok(())
}

fn report(label: &str, answer: &ChatResponse) {
    let trail: Vec<String> = answer
        .attempts
        .iter()
        .map(|a| format!("{}: {}", a.provider, a.outcome))
        .collect();
    println!(
        "{label}: {:?} (stop {:?}) answered by {} ({})",
        answer.text_content(),
        answer.stop_reason,
        answer.served_by,
        answer.model
    );
    println!("  trail: {}", trail.join(" -> "));
}

/// Two models on one fake server: the primary is rate-limited once, the
/// fallback asks for the tool.
async fn fake_server() -> std::io::Result<palisade::testkit::openai::FakeOpenAiServer> {
    let mut tool_call = ChatResponse::text(ProviderId::new("mini"), "", Some(Usage::new(42, 12)));
    tool_call.content = vec![ContentBlock::ToolUse {
        id: "call_weather_1".to_owned(),
        name: "get_weather".to_owned(),
        input: json!({ "city": "Paris" }),
    }];
    tool_call.stop_reason = StopReason::ToolUse;
    let server = FakeOpenAi::builder()
        .model(
            "gpt-4o",
            ScriptedProvider::new("gpt-4o").then_text("It is 21 °C and sunny in Paris."),
        )
        .model(
            "gpt-4o-mini",
            ScriptedProvider::new("gpt-4o-mini").then(Duration::ZERO, Outcome::Respond(tool_call)),
        )
        .quota("gpt-4o", Quota::new(500, 200_000))
        .quota("gpt-4o-mini", Quota::new(500, 200_000))
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await?;
    server.inject(
        "gpt-4o",
        Fault::RateLimited {
            retry_after: Duration::from_secs(1),
        },
    );
    Ok(server)
}
