//! `complete` and `stream` through the real reqwest client against the fake
//! server: content, usage with cached tokens, headers, the body as sent.

mod common;

use std::time::Duration;

use common::{KEY, MODEL, provider};
use futures_util::StreamExt;
use palisade_core::{
    ChatRequest, ChatResponse, ContentBlock, ImageFormat, ProviderId, StopReason, StreamEvent,
    StructuredOutput, Usage, collect_stream,
};
use palisade_core::{Provider, ServiceTier};
use palisade_openai::{AzureConfig, MaxTokensField, OpenAiProvider};
use palisade_testkit::openai::{FakeOpenAi, Quota};
use palisade_testkit::{Outcome, ScriptedProvider};
use serde_json::json;

fn cached_answer(text: &str) -> ChatResponse {
    ChatResponse::text(
        ProviderId::new("scripted"),
        text,
        Some(Usage::new(40, 9).with_cache(24, 0)),
    )
}

#[tokio::test]
async fn complete_carries_text_usage_request_id_and_rate_limits() {
    let model = ScriptedProvider::new("mini")
        .then(Duration::ZERO, Outcome::Respond(cached_answer("Paris")));
    let server = FakeOpenAi::builder()
        .model(MODEL, model.clone())
        .quota(MODEL, Quota::new(100, 50_000))
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let req = ChatRequest::user("Capital of France?")
        .with_system("Be brief.")
        .with_max_tokens(64)
        .with_temperature(0.2);
    let answer = provider(&server).complete(req).await.unwrap();

    assert_eq!(answer.text_content(), "Paris");
    assert_eq!(answer.stop_reason, StopReason::EndTurn);
    assert_eq!(answer.model, MODEL);
    assert_eq!(answer.served_by.as_str(), "openai/gpt-4o-mini");
    // prompt_tokens (64) includes the 24 cached ones; core counts them apart.
    let usage = answer.usage.unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.cache_read_tokens,
            usage.output_tokens
        ),
        (40, 24, 9)
    );
    assert!(
        answer
            .request_id
            .as_deref()
            .unwrap()
            .starts_with("req_fake")
    );
    let rl = answer.rate_limit.as_deref().expect("x-ratelimit-* headers");
    assert_eq!(rl.requests.limit, Some(100));
    assert_eq!(rl.requests.remaining, Some(99));
    assert_eq!(rl.tokens.limit, Some(50_000));
    assert!(rl.tokens.remaining.unwrap() < 50_000 - 64);

    let sent = server.last_request().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    let body = sent.body_json().unwrap();
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["max_completion_tokens"], 64);
    assert_eq!(
        body["messages"][0],
        json!({ "role": "system", "content": "Be brief." })
    );
    assert_eq!(body["messages"][1]["role"], "user");
    assert!(body.get("stream").is_none());
    // The model behind the fake saw the same request.
    let seen = &model.calls()[0].request;
    assert_eq!(seen.system.as_deref(), Some("Be brief."));
    assert_eq!(seen.max_tokens, 64);
}

#[tokio::test]
async fn stream_yields_deltas_then_usage_then_stop() {
    let model = ScriptedProvider::new("mini").then(
        Duration::ZERO,
        Outcome::Respond(cached_answer("Hello there")),
    );
    let server = FakeOpenAi::builder()
        .model(MODEL, model)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let provider = OpenAiProvider::builder(MODEL)
        .base_url(server.base_url())
        .build()
        .unwrap();

    let mut stream = provider.stream(ChatRequest::user("Hi")).await.unwrap();
    assert_eq!(stream.model(), MODEL);
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.unwrap());
    }
    assert!(matches!(
        events.first(),
        Some(StreamEvent::ServiceTier {
            tier: ServiceTier::Default
        })
    ));
    assert!(matches!(&events[1], StreamEvent::TextDelta { text } if text == "Hello there"));
    let n = events.len();
    assert!(
        matches!(events[n - 2], StreamEvent::Usage(u) if u.cache_read_tokens == 24 && u.input_tokens == 40)
    );
    assert_eq!(
        events[n - 1],
        StreamEvent::Stop {
            reason: StopReason::EndTurn
        }
    );

    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"], json!({ "include_usage": true }));
    // No key configured: no auth header at all (local servers).
    assert!(
        server
            .last_request()
            .unwrap()
            .header("authorization")
            .is_none()
    );
}

#[tokio::test]
async fn images_go_as_data_urls_and_urls() {
    let model = ScriptedProvider::new("mini").then_text("a cat");
    let server = FakeOpenAi::builder()
        .model(MODEL, model.clone())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let png = [0x89, b'P', b'N', b'G', 0, 1, 2, 3];
    let req = ChatRequest::new(vec![palisade_core::Message::new(
        palisade_core::Role::User,
        vec![
            ContentBlock::text("What is this?"),
            ContentBlock::image(ImageFormat::Png, &png),
            ContentBlock::Image {
                format: ImageFormat::Jpeg,
                source: palisade_core::MediaSource::Url {
                    url: "https://example.com/cat.jpg".into(),
                },
            },
        ],
    )]);
    let answer = provider(&server).complete(req).await.unwrap();
    assert_eq!(answer.text_content(), "a cat");
    let body = server.last_request().unwrap().body_json().unwrap();
    let parts = &body["messages"][0]["content"];
    assert_eq!(parts[1]["type"], "image_url");
    assert!(
        parts[1]["image_url"]["url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert_eq!(parts[2]["image_url"]["url"], "https://example.com/cat.jpg");
    // The fake decoded both back into image blocks.
    let seen = &model.calls()[0].request.messages[0].content;
    assert!(matches!(
        seen[1],
        ContentBlock::Image {
            format: ImageFormat::Png,
            ..
        }
    ));
    assert!(matches!(
        seen[2],
        ContentBlock::Image {
            format: ImageFormat::Jpeg,
            ..
        }
    ));
}

#[tokio::test]
async fn structured_output_sends_json_schema_and_parses_the_reply() {
    let model = ScriptedProvider::new("mini").then_text(r#"{"celsius": 21.5}"#);
    let server = FakeOpenAi::builder()
        .model(MODEL, model.clone())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let schema = json!({
        "type": "object",
        "properties": { "celsius": { "type": "number" } },
        "required": ["celsius"]
    });
    let req = ChatRequest::user("Weather?")
        .with_structured_output(StructuredOutput::new("weather", schema.clone()))
        .with_service_tier(ServiceTier::Flex);
    let answer = provider(&server).complete(req).await.unwrap();
    assert_eq!(answer.structured, Some(json!({ "celsius": 21.5 })));
    assert_eq!(answer.service_tier, Some(ServiceTier::Flex));
    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(body["response_format"]["type"], "json_schema");
    assert_eq!(body["response_format"]["json_schema"]["name"], "weather");
    assert_eq!(body["response_format"]["json_schema"]["schema"], schema);
    assert_eq!(body["service_tier"], "flex");
    assert_eq!(
        model.calls()[0]
            .request
            .structured_output
            .as_ref()
            .unwrap()
            .name,
        "weather"
    );
}

#[tokio::test]
async fn a_reply_breaking_the_schema_is_an_error() {
    let model = ScriptedProvider::new("mini").then_text(r#"{"celsius": "warm"}"#);
    let server = FakeOpenAi::builder()
        .model(MODEL, model)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let schema = json!({ "type": "object", "properties": { "celsius": { "type": "number" } } });
    let req = ChatRequest::user("Weather?")
        .with_structured_output(StructuredOutput::new("weather", schema));
    let err = provider(&server).complete(req).await.unwrap_err();
    assert_eq!(err.kind(), palisade_core::ErrorKind::Internal);
    assert!(err.message().contains("weather"), "{err}");
}

#[tokio::test]
async fn azure_mode_uses_the_deployment_url_api_version_and_api_key() {
    let model = ScriptedProvider::new("deployed").then_text("from azure");
    let server = FakeOpenAi::builder()
        .model("my-gpt4o", model)
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let provider = OpenAiProvider::builder("gpt-4o")
        .base_url(server.azure_endpoint())
        .azure(AzureConfig::new("my-gpt4o").with_api_version("2024-10-21"))
        .api_key(KEY)
        .max_tokens_field(MaxTokensField::MaxTokens)
        .build()
        .unwrap();
    assert_eq!(provider.id().as_str(), "azure-openai/my-gpt4o");
    let answer = provider.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(answer.text_content(), "from azure");
    let sent = server.last_request().unwrap();
    assert_eq!(
        sent.path,
        "/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(sent.header("api-key"), Some(KEY));
    assert!(sent.header("authorization").is_none());
    let body = sent.body_json().unwrap();
    assert_eq!(body["max_tokens"], 1024);
    assert!(body.get("max_completion_tokens").is_none());
}

#[tokio::test]
async fn extra_headers_and_passthrough_fields_are_sent() {
    let server = FakeOpenAi::builder()
        .any_model(ScriptedProvider::new("any").then_text("ok"))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let provider = OpenAiProvider::builder("meta-llama/llama-3.1-8b-instruct")
        .base_url(server.base_url())
        .header("HTTP-Referer", "https://example.com")
        .build()
        .unwrap();
    assert_eq!(provider.context_window(), None);
    let req = ChatRequest::user("hi").with_passthrough("seed", json!(7));
    provider.complete(req).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.header("http-referer"), Some("https://example.com"));
    assert_eq!(sent.body_json().unwrap()["seed"], 7);
    assert_eq!(sent.chat_request.unwrap().passthrough["seed"], 7);
}

#[tokio::test]
async fn a_streamed_answer_assembles_like_a_complete_one() {
    let model = ScriptedProvider::new("mini")
        .then(Duration::ZERO, Outcome::Respond(cached_answer("same")))
        .then(Duration::ZERO, Outcome::Respond(cached_answer("same")));
    let server = FakeOpenAi::builder()
        .model(MODEL, model)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let p = provider(&server);
    let whole = p.complete(ChatRequest::user("x")).await.unwrap();
    let streamed = collect_stream(p.stream(ChatRequest::user("x")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(whole.content, streamed.content);
    assert_eq!(whole.usage, streamed.usage);
    assert_eq!(whole.stop_reason, streamed.stop_reason);
}

#[tokio::test(start_paused = true)]
async fn streams_on_a_kept_alive_connection_arrive_without_delay() {
    // The fake server sets TCP_NODELAY: without it, Nagle's algorithm held
    // each small SSE write on a reused connection until the client's
    // delayed ACK, and the paused clock jumped 90 s (hyper's pool timer)
    // for every stream after the first.
    let server = FakeOpenAi::builder()
        .model(
            MODEL,
            ScriptedProvider::new("mini").otherwise(Duration::ZERO, Outcome::Echo),
        )
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let p = provider(&server);
    let started = tokio::time::Instant::now();
    for _ in 0..3 {
        let answer = p
            .stream(ChatRequest::user("hi"))
            .await
            .unwrap()
            .into_response()
            .await
            .unwrap();
        assert_eq!(answer.text_content(), "ok");
        p.complete(ChatRequest::user("hi")).await.unwrap();
    }
    assert_eq!(started.elapsed(), Duration::ZERO, "no timer had to fire");
}

#[test]
fn temperature_follows_openais_range_not_the_common_one() {
    let provider = OpenAiProvider::builder(MODEL)
        .base_url("http://127.0.0.1:9")
        .api_key(KEY)
        .build()
        .unwrap();
    let warm = ChatRequest::user("hi").with_temperature(1.5);
    let body = provider.request_body(&warm, false).unwrap();
    assert_eq!(body["temperature"], json!(1.5));
    // The common rule (Anthropic, Bedrock) refuses it.
    assert!(palisade_core::validate(&warm).is_err());
    let err = provider
        .request_body(&ChatRequest::user("hi").with_temperature(2.5), false)
        .unwrap_err();
    assert!(err.to_string().contains("temperature"), "{err}");
    assert!(err.to_string().contains("2.0"), "{err}");
}
