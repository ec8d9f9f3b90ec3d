//! Tools, media, cache points, structured output and service tiers over
//! Converse / ConverseStream, through the real SDK against the fake Bedrock
//! server: what the served model received and what came back.

mod common;

use std::time::Duration;

use common::{SONNET, client_for, serve};
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    CachePoint, ChatRequest, ChatResponse, ContentBlock, DocumentFormat, ErrorKind, ImageFormat,
    Message, Provider, ProviderId, Role, ServiceTier, StopReason, StreamEvent, StructuredOutput,
    Tool, Usage,
};
use serde_json::json;

fn weather_tool() -> Tool {
    Tool::new(
        "get_weather",
        "Current weather for a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

fn tool_call() -> ChatResponse {
    let mut response = ChatResponse::text(
        ProviderId::new("m"),
        "Let me check.",
        Some(Usage::new(50, 20)),
    );
    response.content.push(ContentBlock::ToolUse {
        id: "tu-1".into(),
        name: "get_weather".into(),
        input: json!({"city": "Paris"}),
    });
    response.stop_reason = StopReason::ToolUse;
    response
}

fn second_turn(first: &ChatResponse) -> ChatRequest {
    ChatRequest::user("Weather in Paris?")
        .with_tool(weather_tool())
        .with_message(first.to_message())
        .with_message(Message::new(
            Role::User,
            vec![ContentBlock::tool_result("tu-1", "18 °C, sunny")],
        ))
}

#[tokio::test]
async fn a_tool_conversation_round_trips_non_streaming() {
    let model = ScriptedProvider::new("m")
        .then(Duration::ZERO, Outcome::Respond(tool_call()))
        .then_text("It is 18 °C and sunny in Paris.");
    let server = serve(SONNET, model.clone()).await;
    let provider = client_for(&server, SONNET).await;

    let first = provider
        .complete(ChatRequest::user("Weather in Paris?").with_tool(weather_tool()))
        .await
        .unwrap();
    assert_eq!(first.stop_reason, StopReason::ToolUse);
    let uses: Vec<_> = first.tool_uses().collect();
    assert_eq!(uses, [("tu-1", "get_weather", &json!({"city": "Paris"}))]);

    let answer = provider.complete(second_turn(&first)).await.unwrap();
    assert_eq!(answer.text_content(), "It is 18 °C and sunny in Paris.");

    let calls = model.calls();
    assert_eq!(calls[0].request.tools, [weather_tool()]);
    let sent = &calls[1].request.messages;
    assert!(matches!(&sent[1].content[1], ContentBlock::ToolUse { id, .. } if id == "tu-1"));
    assert_eq!(
        sent[2].content[0],
        ContentBlock::tool_result("tu-1", "18 °C, sunny")
    );
}

#[tokio::test]
async fn a_tool_call_streams_as_start_input_deltas_and_stop() {
    let model = ScriptedProvider::new("m").then(Duration::ZERO, Outcome::Respond(tool_call()));
    let server = serve(SONNET, model).await;
    let provider = client_for(&server, SONNET).await;

    let stream = provider
        .stream(ChatRequest::user("Weather in Paris?").with_tool(weather_tool()))
        .await
        .unwrap();
    let mut events = stream.into_events();
    let mut seen = Vec::new();
    while let Some(event) = futures_util::StreamExt::next(&mut events).await {
        seen.push(event.unwrap());
    }
    assert!(seen.contains(&StreamEvent::ToolUseStart {
        id: "tu-1".into(),
        name: "get_weather".into()
    }));
    let input: String = seen
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolInputDelta { json } => Some(json.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&input).unwrap(),
        json!({"city": "Paris"})
    );
    assert!(seen.contains(&StreamEvent::BlockStop));
    assert_eq!(
        seen.last(),
        Some(&StreamEvent::Stop {
            reason: StopReason::ToolUse
        })
    );
}

#[tokio::test]
async fn a_tool_result_without_its_tool_use_is_a_validation_error() {
    let server = serve(SONNET, ScriptedProvider::new("m").then_text("x")).await;
    let provider = client_for(&server, SONNET).await;
    let req = ChatRequest::new(vec![
        Message::user("hi"),
        Message::assistant("hello"),
        Message::new(Role::User, vec![ContentBlock::tool_result("nope", "r")]),
    ])
    .with_tool(weather_tool());
    let err = provider.complete(req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
}

#[tokio::test]
async fn images_and_pdfs_reach_the_model() {
    let model = ScriptedProvider::new("m")
        .then_text("a cat")
        .then_text("a report");
    let server = serve(SONNET, model.clone()).await;
    let provider = client_for(&server, SONNET).await;
    let png = [0x89, b'P', b'N', b'G', 1, 2, 3];
    let pdf = b"%PDF-1.7 fake";
    let image = ContentBlock::image(ImageFormat::Png, &png);
    let document = ContentBlock::document("report", DocumentFormat::Pdf, pdf);
    for block in [image.clone(), document.clone()] {
        let req = ChatRequest::new(vec![Message::new(
            Role::User,
            vec![block, ContentBlock::text("What is this?")],
        )]);
        provider.complete(req).await.unwrap();
    }
    let calls = model.calls();
    assert_eq!(calls[0].request.messages[0].content[0], image);
    assert_eq!(calls[1].request.messages[0].content[0], document);
}

#[tokio::test]
async fn an_identical_cached_prefix_is_read_on_the_second_call() {
    let model = ScriptedProvider::new("m")
        .then(
            Duration::ZERO,
            Outcome::Respond(ChatResponse::text(
                ProviderId::new("m"),
                "one",
                Some(Usage::new(500, 5)),
            )),
        )
        .then(
            Duration::ZERO,
            Outcome::Respond(ChatResponse::text(
                ProviderId::new("m"),
                "two",
                Some(Usage::new(500, 5)),
            )),
        );
    let server = serve(SONNET, model).await;
    let provider = client_for(&server, SONNET).await;
    let req = ChatRequest::user("Summarise the handbook.")
        .with_system("You are a careful assistant. ".repeat(50))
        .with_system_cache_point(CachePoint::default());
    let first = provider.complete(req.clone()).await.unwrap().usage.unwrap();
    let second = provider.complete(req).await.unwrap().usage.unwrap();
    assert!(
        first.cache_write_tokens > 0 && first.cache_read_tokens == 0,
        "{first:?}"
    );
    assert!(second.cache_read_tokens > 0, "{second:?}");
    assert_eq!(second.cache_read_tokens, first.cache_write_tokens);
}

#[tokio::test]
async fn structured_output_is_a_forced_tool_parsed_and_hidden() {
    let schema = StructuredOutput::new(
        "weather_report",
        json!({"type": "object", "properties": {"celsius": {"type": "number"}}, "required": ["celsius"]}),
    );
    let mut forced = ChatResponse::text(ProviderId::new("m"), "", Some(Usage::new(30, 10)));
    forced.content = vec![ContentBlock::ToolUse {
        id: "tu-9".into(),
        name: "weather_report".into(),
        input: json!({"celsius": 21.5}),
    }];
    forced.stop_reason = StopReason::ToolUse;
    let model = ScriptedProvider::new("m").then(Duration::ZERO, Outcome::Respond(forced));
    let server = serve(SONNET, model.clone()).await;
    let provider = client_for(&server, SONNET).await;

    let answer = provider
        .complete(ChatRequest::user("Weather?").with_structured_output(schema))
        .await
        .unwrap();
    assert_eq!(answer.structured, Some(json!({"celsius": 21.5})));
    assert_eq!(answer.tool_uses().count(), 0);
    assert_eq!(answer.stop_reason, StopReason::EndTurn);
    let sent = &model.calls()[0].request;
    assert_eq!(sent.tools[0].name, "weather_report");
    assert_eq!(
        sent.tool_choice,
        Some(palisade_core::ToolChoice::Tool {
            name: "weather_report".into()
        })
    );
}

#[tokio::test]
async fn a_tier_the_model_does_not_offer_is_refused_naming_the_field() {
    let model = ScriptedProvider::new("m").then_text("x");
    let server = serve(SONNET, model.clone()).await;
    let provider = client_for(&server, SONNET).await;
    let err = provider
        .complete(ChatRequest::user("hi").with_service_tier(ServiceTier::Flex))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.message().contains("service_tier"), "{err}");
    assert_eq!(model.call_count(), 0);
    // A tier it offers goes through, and the fake sees it.
    let model2 = ScriptedProvider::new("m").then_text("y");
    let server2 = serve(SONNET, model2.clone()).await;
    let provider2 = client_for(&server2, SONNET).await;
    provider2
        .complete(ChatRequest::user("hi").with_service_tier(ServiceTier::Priority))
        .await
        .unwrap();
    assert_eq!(
        model2.calls()[0].request.service_tier,
        Some(ServiceTier::Priority)
    );
}
