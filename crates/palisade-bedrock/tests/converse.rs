//! `complete` over Converse against the fake Bedrock server: what comes
//! back (text, reasoning, usage, stop reason, request id) and exactly what
//! the SDK put on the wire.

mod common;

use std::time::Duration;

use common::{HAIKU, SONNET, client_for, serve};
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ContentBlock, ErrorKind, Message, Provider, ProviderId, Reasoning,
    Role, StopReason, Usage,
};
use serde_json::json;

fn answer_with_reasoning() -> ChatResponse {
    let mut response = ChatResponse::text(
        ProviderId::new("sonnet"),
        "The answer is 42.",
        Some(Usage {
            input_tokens: 120,
            output_tokens: 48,
            cache_read_tokens: 1000,
            cache_write_tokens: 200,
            cache_write_1h_tokens: 0,
        }),
    );
    response.reasoning = Some(Reasoning {
        text: "Six times seven.".into(),
        signature: Some("sig-abc".into()),
    });
    response.stop_reason = StopReason::MaxTokens;
    response
}

#[tokio::test]
async fn success_carries_text_reasoning_usage_and_request_id() {
    let model = ScriptedProvider::new("sonnet")
        .then(Duration::ZERO, Outcome::Respond(answer_with_reasoning()));
    let server = serve(SONNET, model).await;
    let provider = client_for(&server, SONNET).await;

    let answer = provider
        .complete(ChatRequest::user("What is six times seven?"))
        .await
        .unwrap();

    assert_eq!(answer.text_content(), "The answer is 42.");
    let reasoning = answer.reasoning.clone().unwrap();
    assert_eq!(reasoning.text, "Six times seven.");
    assert_eq!(reasoning.signature.as_deref(), Some("sig-abc"));
    assert_eq!(
        answer.usage,
        Some(Usage {
            input_tokens: 120,
            output_tokens: 48,
            cache_read_tokens: 1000,
            cache_write_tokens: 200,
            cache_write_1h_tokens: 0,
        })
    );
    assert_eq!(answer.stop_reason, StopReason::MaxTokens);
    assert_eq!(answer.served_by.as_str(), format!("bedrock/{SONNET}"));
    assert_eq!(answer.model, SONNET);
    let received = server.last_request().unwrap();
    assert_eq!(
        answer.request_id.as_deref(),
        Some(received.request_id.as_str())
    );
    assert_eq!(received.model_id, SONNET);
    // The real SDK signed the request with the static test credentials.
    let auth = received.header("authorization").unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/"),
        "{auth}"
    );
}

#[tokio::test]
async fn all_zero_usage_is_reported_as_unknown() {
    // The fake omits `usage` when the provider reports none; the SDK fills
    // zeros, which must not read as "this call cost nothing".
    let silent = ChatResponse::text(ProviderId::new("haiku"), "hi", None);
    let model = ScriptedProvider::new("haiku").then(Duration::ZERO, Outcome::Respond(silent));
    let server = serve(HAIKU, model).await;
    let provider = client_for(&server, HAIKU).await;
    let answer = provider.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.usage, None);
    assert_eq!(
        server.last_request().unwrap().body_json().unwrap()["messages"][0]["role"],
        "user"
    );
}

#[tokio::test]
async fn the_request_body_is_what_bedrock_expects() {
    let model = ScriptedProvider::new("sonnet");
    let handle = model.clone();
    let server = serve(SONNET, model).await;
    let provider = client_for(&server, SONNET).await;
    let mut req = ChatRequest::new(vec![
        Message::user("First question"),
        Message {
            role: Role::Assistant,
            content: vec![
                ContentBlock::Reasoning {
                    text: "earlier thought".into(),
                    signature: Some("sig-1".into()),
                },
                ContentBlock::text("First answer"),
            ],
        },
        Message::user("Second question"),
    ])
    .with_system("You are terse.")
    .with_max_tokens(4096)
    .with_thinking(2048);
    req.top_p = Some(1.0);
    req.stop_sequences = vec!["\n\nHuman:".into()];

    provider.complete(req.clone()).await.unwrap();

    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(body["system"], json!([{ "text": "You are terse." }]));
    assert_eq!(
        body["inferenceConfig"],
        json!({ "maxTokens": 4096, "topP": 1.0, "stopSequences": ["\n\nHuman:"] })
    );
    assert_eq!(
        body["additionalModelRequestFields"],
        json!({ "thinking": { "type": "enabled", "budget_tokens": 2048 } })
    );
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({ "reasoningContent": { "reasoningText": { "text": "earlier thought", "signature": "sig-1" } } })
    );
    assert_eq!(
        body["messages"][2],
        json!({ "role": "user", "content": [{ "text": "Second question" }] })
    );
    // And the model behind the fake saw the same request.
    let seen = &handle.calls()[0].request;
    assert_eq!(seen.system, req.system);
    assert_eq!(seen.messages, req.messages);
    assert_eq!(seen.thinking, req.thinking);
    assert_eq!(seen.max_tokens, 4096);
}

#[tokio::test]
async fn invalid_thinking_is_refused_before_sending() {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    let provider = client_for(&server, SONNET).await;
    let req = ChatRequest::user("hi")
        .with_max_tokens(4096)
        .with_thinking(2048)
        .with_temperature(0.2);
    let err = provider.complete(req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.message().contains("temperature"), "{err}");
    assert_eq!(
        err.provider().map(ProviderId::as_str),
        Some(provider.id().as_str())
    );
    assert!(server.requests().is_empty(), "nothing may reach Bedrock");
}

#[tokio::test]
async fn the_catalog_gives_the_context_window() {
    let server = serve(HAIKU, ScriptedProvider::new("haiku")).await;
    let provider = client_for(&server, HAIKU).await;
    assert_eq!(provider.context_window(), Some(200_000));
    assert_eq!(provider.catalog_entry().map(|m| m.output_burndown), Some(1));
    let unknown = provider
        .with_model("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc");
    assert_eq!(unknown.context_window(), None);
}

#[tokio::test]
async fn an_inference_profile_arn_reaches_the_server_whole() {
    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0";
    let server = serve(arn, ScriptedProvider::new("sonnet").then_text("via arn")).await;
    let provider = client_for(&server, arn).await;
    let answer = provider.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.text_content(), "via arn");
    assert_eq!(server.last_request().unwrap().model_id, arn);
    assert_eq!(
        provider.context_window(),
        Some(200_000),
        "the catalog sees through the ARN"
    );
}
