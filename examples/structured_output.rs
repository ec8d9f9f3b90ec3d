//! Structured output through the canonical stack (`StackBuilder`) and a
//! Bedrock provider, against the in-process fake Bedrock server (the real SDK
//! client, the real wire protocol). Converse has no native JSON-schema mode,
//! so palisade-bedrock emulates one: a single forced tool whose input schema
//! is the schema. The fake's model is scripted to call that tool; the caller
//! gets the tool input back as `ChatResponse::structured`, parsed and checked
//! against the schema, and never sees the tool.
//!
//! ```sh
//! cargo run --example structured_output --features bedrock,sim
//! ```

use std::sync::Arc;
use std::time::Duration;

use palisade::bedrock::BedrockProvider;
use palisade::bedrock::aws::Credentials;
use palisade::stack::{CandidateConfig, StackBuilder, StackConfig};
use palisade::testkit::bedrock::FakeBedrock;
use palisade::testkit::{Outcome, ScriptedProvider};
use palisade::{
    ChatRequest, ChatResponse, ContentBlock, Provider, ProviderId, SharedProvider, StopReason,
    StructuredOutput, Usage,
};
use serde_json::json;

const MODEL: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut schema = StructuredOutput::new(
        "weather_report",
        json!({
            "type": "object",
            "properties": {
                "city": { "type": "string" },
                "celsius": { "type": "number" },
                "sky": { "enum": ["sunny", "cloudy", "rain", "snow"] }
            },
            "required": ["city", "celsius", "sky"],
            "additionalProperties": false
        }),
    );
    schema.description = Some("Today's weather in one city".to_owned());

    // The scripted model answers as Claude does under a forced tool choice:
    // one tool use, named after the schema, whose input is the value.
    let mut forced = ChatResponse::text(ProviderId::new("claude"), "", Some(Usage::new(120, 30)));
    forced.content = vec![ContentBlock::ToolUse {
        id: "toolu_01".into(),
        name: schema.name.clone(),
        input: json!({ "city": "Lisbon", "celsius": 22, "sky": "sunny" }),
    }];
    forced.stop_reason = StopReason::ToolUse;
    let model =
        ScriptedProvider::new("claude").then(Duration::from_millis(10), Outcome::Respond(forced));
    let fake = FakeBedrock::builder()
        .model(MODEL, model.clone())
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
        name: "structured".to_owned(),
        ..StackConfig::default()
    };
    config.candidates.push(CandidateConfig::new(MODEL));
    let shared: SharedProvider = Arc::new(bedrock);
    let stack = StackBuilder::new(config)
        .shared_provider(MODEL, shared)
        .build()?;

    let request = ChatRequest::user("What's the weather in Lisbon today?")
        .with_structured_output(schema.clone());
    let answer = stack.complete(request).await?;

    // What went over the wire: the schema as the one tool, forced.
    if let Some(sent) = model.calls().first() {
        let tools: Vec<&str> = sent.request.tools.iter().map(|t| t.name.as_str()).collect();
        println!(
            "sent tools:  {tools:?}, tool_choice: {:?}",
            sent.request.tool_choice
        );
    }
    let value = answer
        .structured
        .as_ref()
        .ok_or("the response carries no structured value")?;
    // palisade-bedrock has already checked it; checking again shows the API.
    schema.check(value)?;
    println!("structured:  {value}");
    println!(
        "checked:     matches `{}` (city={}, celsius={}, sky={})",
        schema.name, value["city"], value["celsius"], value["sky"]
    );
    println!(
        "tool uses visible to the caller: {}, stop reason: {:?}",
        answer.tool_uses().count(),
        answer.stop_reason
    );
    let trail: Vec<String> = answer
        .attempts
        .iter()
        .map(|a| format!("{}: {}", a.provider, a.outcome))
        .collect();
    println!("attempts:    {}", trail.join(" -> "));
    Ok(())
}
