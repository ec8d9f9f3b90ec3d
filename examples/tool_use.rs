//! A two-turn weather-tool conversation through the canonical stack
//! (`StackBuilder`) and a Bedrock provider, against the in-process fake
//! Bedrock server (the real SDK client, the real wire protocol). The fake's
//! model is scripted to call the tool first and answer with its result next.
//!
//! ```sh
//! cargo run --example tool_use --features bedrock,sim
//! ```

use std::sync::Arc;
use std::time::Duration;

use palisade::bedrock::BedrockProvider;
use palisade::bedrock::aws::Credentials;
use palisade::stack::{CandidateConfig, StackBuilder, StackConfig};
use palisade::testkit::bedrock::FakeBedrock;
use palisade::testkit::{Outcome, ScriptedProvider};
use palisade::{
    ChatRequest, ChatResponse, ContentBlock, Message, Provider, ProviderId, Role, SharedProvider,
    StopReason, Tool, Usage,
};
use serde_json::json;

const MODEL: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The scripted model: a tool call, then the final answer.
    let mut call = ChatResponse::text(
        ProviderId::new("claude"),
        "Let me look that up.",
        Some(Usage::new(80, 25)),
    );
    call.content.push(ContentBlock::ToolUse {
        id: "toolu_01".into(),
        name: "get_weather".into(),
        input: json!({ "city": "Lisbon" }),
    });
    call.stop_reason = StopReason::ToolUse;
    let model = ScriptedProvider::new("claude")
        .then(Duration::from_millis(10), Outcome::Respond(call))
        .then_text("It is 22 °C and sunny in Lisbon.");
    let fake = FakeBedrock::builder()
        .model(MODEL, model)
        .bind("127.0.0.1:0")
        .await?;

    let bedrock = BedrockProvider::builder(MODEL)
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
    let mut config = StackConfig {
        name: "tools".to_owned(),
        ..StackConfig::default()
    };
    config.candidates.push(CandidateConfig::new(MODEL));
    let shared: SharedProvider = Arc::new(bedrock);
    let stack = StackBuilder::new(config)
        .shared_provider(MODEL, shared)
        .build()?;

    let weather = Tool::new(
        "get_weather",
        "The current weather in a city",
        json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }),
    );
    let question = ChatRequest::user("What's the weather in Lisbon?").with_tool(weather);

    let first = stack.complete(question.clone()).await?;
    let (id, name, input) = first
        .tool_uses()
        .next()
        .map(|(id, name, input)| (id.to_owned(), name.to_owned(), input.clone()))
        .ok_or("the model did not call the tool")?;
    println!("tool call:   {name}({input}) id={id}");
    print_trail(&first);

    let result = format!(
        "{{\"city\": {}, \"celsius\": 22, \"sky\": \"sunny\"}}",
        input["city"]
    );
    println!("tool result: {result}");
    let follow_up = question
        .with_message(first.to_message())
        .with_message(Message::new(
            Role::User,
            vec![ContentBlock::tool_result(id, result)],
        ));
    let answer = stack.complete(follow_up).await?;
    println!("answer:      {}", answer.text_content());
    print_trail(&answer);
    Ok(())
}

fn print_trail(response: &ChatResponse) {
    let trail: Vec<String> = response
        .attempts
        .iter()
        .map(|a| format!("{}: {}", a.provider, a.outcome))
        .collect();
    println!("  attempts:  {}", trail.join(" -> "));
}
