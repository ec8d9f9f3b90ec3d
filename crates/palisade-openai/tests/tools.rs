//! Tool round trips, complete and stream: the model asks for a tool, the
//! caller answers with a tool result, the model answers.

mod common;

use std::time::Duration;

use common::{MODEL, provider, tool_call};
use palisade_core::{
    ChatRequest, ContentBlock, Message, Provider, Role, StopReason, Tool, ToolChoice,
    collect_stream,
};
use palisade_testkit::openai::FakeOpenAi;
use palisade_testkit::{Outcome, ScriptedProvider};
use serde_json::json;

fn weather_tool() -> Tool {
    Tool::new(
        "get_weather",
        "Current weather for a city",
        json!({ "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }),
    )
}

async fn round_trip(streaming: bool) {
    let model = ScriptedProvider::new("mini")
        .then(
            Duration::ZERO,
            Outcome::Respond(tool_call(
                "call_abc",
                "get_weather",
                json!({ "city": "Paris" }),
            )),
        )
        .then_text("It is 21 °C in Paris.");
    let server = FakeOpenAi::builder()
        .model(MODEL, model.clone())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let p = provider(&server);
    let req = ChatRequest::user("Weather in Paris?")
        .with_tool(weather_tool())
        .with_tool_choice(ToolChoice::Auto);
    let call = |req: ChatRequest| {
        let p = p.clone();
        async move {
            if streaming {
                collect_stream(p.stream(req).await.unwrap()).await.unwrap()
            } else {
                p.complete(req).await.unwrap()
            }
        }
    };

    let first = call(req.clone()).await;
    assert_eq!(first.stop_reason, StopReason::ToolUse);
    let uses: Vec<_> = first.tool_uses().collect();
    assert_eq!(
        uses,
        [("call_abc", "get_weather", &json!({ "city": "Paris" }))]
    );

    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(body["tools"][0]["type"], "function");
    assert_eq!(body["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(body["tool_choice"], "auto");

    let follow_up = req
        .with_message(first.to_message())
        .with_message(Message::new(
            Role::User,
            vec![ContentBlock::tool_result("call_abc", "21 °C")],
        ));
    let second = call(follow_up).await;
    assert_eq!(second.text_content(), "It is 21 °C in Paris.");

    let body = server.last_request().unwrap().body_json().unwrap();
    let messages = body["messages"].as_array().unwrap();
    assert_eq!(messages[1]["role"], "assistant");
    assert_eq!(messages[1]["tool_calls"][0]["id"], "call_abc");
    assert_eq!(
        messages[1]["tool_calls"][0]["function"]["arguments"],
        r#"{"city":"Paris"}"#
    );
    assert_eq!(
        messages[2],
        json!({ "role": "tool", "tool_call_id": "call_abc", "content": "21 °C" })
    );
    // The fake translated it back into a core tool result the model saw.
    let seen = &model.calls()[1].request;
    assert!(
        matches!(&seen.messages[2].content[0], ContentBlock::ToolResult { tool_use_id, .. } if tool_use_id == "call_abc")
    );
}

#[tokio::test]
async fn tool_round_trip_complete() {
    round_trip(false).await;
}

#[tokio::test]
async fn tool_round_trip_stream() {
    round_trip(true).await;
}

#[tokio::test]
async fn a_forced_tool_is_sent_as_a_named_function() {
    let model = ScriptedProvider::new("mini").then(
        Duration::ZERO,
        Outcome::Respond(tool_call(
            "call_1",
            "get_weather",
            json!({ "city": "Oslo" }),
        )),
    );
    let server = FakeOpenAi::builder()
        .model(MODEL, model)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let req = ChatRequest::user("Weather in Oslo?")
        .with_tool(weather_tool())
        .with_tool_choice(ToolChoice::Tool {
            name: "get_weather".into(),
        });
    provider(&server).complete(req).await.unwrap();
    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        body["tool_choice"],
        json!({ "type": "function", "function": { "name": "get_weather" } })
    );
}
