//! The real reqwest client against the fake Anthropic server: every answer,
//! error and stream goes over HTTP in the Messages API's wire format.

use std::time::Duration;

use futures_util::StreamExt;
use palisade_anthropic::{AnthropicProvider, ApiKey, ApiVersion, AuthScheme, StructuredOutputMode};
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    CachePoint, CacheTtl, ChatRequest, ChatResponse, ContentBlock, DocumentFormat, ErrorKind,
    ImageFormat, Message, Provider, ProviderError, ProviderId, Reasoning, Role, StopReason,
    StreamEvent, StructuredOutput, Tool, Usage, collect_stream,
};
use palisade_testkit::anthropic::{FakeAnthropic, FakeAnthropicServer, Fault, Quota};
use serde_json::json;

const MODEL: &str = "claude-sonnet-4-5";
const KEY: &str = "sk-ant-api03-TEST-SECRET-0123456789";

async fn serve(model: ScriptedProvider) -> (FakeAnthropicServer, AnthropicProvider) {
    serve_with(model, Quota::default()).await
}

async fn serve_with(
    model: ScriptedProvider,
    quota: Quota,
) -> (FakeAnthropicServer, AnthropicProvider) {
    let server = FakeAnthropic::builder()
        .model_with_quota(MODEL, model, quota)
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let provider = AnthropicProvider::builder(MODEL)
        .base_url(server.base_url())
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    (server, provider)
}

fn respond(response: ChatResponse) -> Outcome {
    Outcome::Respond(response)
}

fn tool_call(id: &str, name: &str, input: serde_json::Value) -> ChatResponse {
    let mut r = ChatResponse::text(ProviderId::new("m"), "", Some(Usage::new(20, 8)));
    r.content = vec![
        ContentBlock::text("Let me check."),
        ContentBlock::ToolUse {
            id: id.into(),
            name: name.into(),
            input,
        },
    ];
    r.stop_reason = StopReason::ToolUse;
    r
}

fn weather_tool() -> Tool {
    Tool::new(
        "get_weather",
        "Weather for a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

#[tokio::test]
async fn complete_answers_with_usage_request_id_and_rate_limit_headers() {
    let (server, provider) = serve(ScriptedProvider::new("m").then_text("Hello there")).await;
    let answer = provider
        .complete(
            ChatRequest::user("Hi")
                .with_system("Be brief")
                .with_temperature(0.2),
        )
        .await
        .unwrap();
    assert_eq!(answer.text_content(), "Hello there");
    assert_eq!(answer.stop_reason, StopReason::EndTurn);
    assert_eq!(answer.usage, Some(Usage::new(10, 5)));
    assert_eq!(answer.model, MODEL);
    assert_eq!(answer.served_by.as_str(), "anthropic/claude-sonnet-4-5");
    assert!(answer.request_id.as_deref().unwrap().starts_with("req_"));
    let rl = answer.rate_limit.expect("rate-limit headers");
    assert_eq!(rl.requests.limit, Some(4_000));
    assert_eq!(rl.requests.remaining, Some(3_999));
    assert_eq!(rl.input_tokens.limit, Some(2_000_000));
    assert!(rl.output_tokens.remaining.is_some());

    let sent = server.last_request().unwrap();
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("x-api-key"), Some(KEY));
    assert_eq!(sent.header("authorization"), None);
    let body = sent.body_json().unwrap();
    assert_eq!(body["model"], MODEL);
    assert_eq!(body["system"], "Be brief");
    assert_eq!(body["max_tokens"], 1024);
    assert!((body["temperature"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    assert!(body.get("stream").is_none());
}

#[tokio::test]
async fn bearer_auth_and_the_2026_version_are_settings() {
    let server = FakeAnthropic::builder()
        .model(MODEL, ScriptedProvider::new("m").then_text("ok"))
        .api_key(KEY)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let provider = AnthropicProvider::builder(MODEL)
        .base_url(server.base_url())
        .api_key(ApiKey::new(KEY))
        .api_version(ApiVersion::V2026_10_21)
        .build()
        .unwrap();
    provider.complete(ChatRequest::user("Hi")).await.unwrap();
    let sent = server.last_request().unwrap();
    assert_eq!(sent.header("anthropic-version"), Some("2026-10-21"));
    assert_eq!(
        sent.header("authorization"),
        Some(format!("Bearer {KEY}").as_str())
    );
    assert_eq!(sent.header("x-api-key"), None);

    // What 2026-10-21 refuses is refused before sending.
    let err = provider
        .complete(ChatRequest::user("Hi").with_temperature(1.0))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.message().contains("temperature"), "{err}");
    assert_eq!(server.requests().len(), 1);

    // The fake server refuses it too, as the API does, when sent anyway.
    let response = reqwest::Client::new()
        .post(format!("{}/v1/messages", server.base_url()))
        .bearer_auth(KEY)
        .header("anthropic-version", "2026-10-21")
        .json(
            &json!({"model": MODEL, "max_tokens": 10, "temperature": 1.0,
                      "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "temperature: Extra inputs are not permitted"
    );
    // x-api-key still works with 2026-10-21 when chosen.
    let x_key = AnthropicProvider::builder(MODEL)
        .base_url(server.base_url())
        .api_key(ApiKey::new(KEY))
        .api_version(ApiVersion::V2026_10_21)
        .auth(AuthScheme::XApiKey)
        .build()
        .unwrap();
    x_key.complete(ChatRequest::user("Hi")).await.unwrap();
    assert_eq!(
        server.last_request().unwrap().header("x-api-key"),
        Some(KEY)
    );
}

#[tokio::test]
async fn stream_yields_deltas_usage_and_stop() {
    let (server, provider) = serve(ScriptedProvider::new("m").then_text("streamed answer")).await;
    let stream = provider.stream(ChatRequest::user("Hi")).await.unwrap();
    let events: Vec<_> = stream.collect().await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    assert!(matches!(
        events.last(),
        Some(StreamEvent::Stop {
            reason: StopReason::EndTurn
        })
    ));
    assert!(events.contains(&StreamEvent::Usage(Usage::new(10, 5))));
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "streamed answer");
    assert_eq!(
        server.last_request().unwrap().body_json().unwrap()["stream"],
        true
    );
}

async fn tool_round_trip(stream: bool) {
    let model = ScriptedProvider::new("m")
        .then(
            Duration::ZERO,
            respond(tool_call(
                "toolu_01",
                "get_weather",
                json!({"city": "Paris"}),
            )),
        )
        .then_text("It is sunny in Paris.");
    let (server, provider) = serve(model).await;
    let req = ChatRequest::user("Weather in Paris?").with_tool(weather_tool());
    let first = if stream {
        collect_stream(provider.stream(req.clone()).await.unwrap())
            .await
            .unwrap()
    } else {
        provider.complete(req.clone()).await.unwrap()
    };
    assert_eq!(first.stop_reason, StopReason::ToolUse);
    let calls: Vec<_> = first.tool_uses().collect();
    assert_eq!(
        calls,
        vec![("toolu_01", "get_weather", &json!({"city": "Paris"}))]
    );

    let follow = req
        .with_message(first.to_message())
        .with_message(Message::new(
            Role::User,
            vec![ContentBlock::tool_result("toolu_01", "sunny, 24 C")],
        ));
    let second = if stream {
        collect_stream(provider.stream(follow).await.unwrap())
            .await
            .unwrap()
    } else {
        provider.complete(follow).await.unwrap()
    };
    assert_eq!(second.text_content(), "It is sunny in Paris.");
    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(body["messages"][1]["content"][1]["type"], "tool_use");
    assert_eq!(body["messages"][2]["content"][0]["type"], "tool_result");
    assert_eq!(body["messages"][2]["content"][0]["tool_use_id"], "toolu_01");
    assert_eq!(body["tools"][0]["name"], "get_weather");
}

#[tokio::test]
async fn tool_round_trip_complete() {
    tool_round_trip(false).await;
}

#[tokio::test]
async fn tool_round_trip_stream() {
    tool_round_trip(true).await;
}

fn thinking_tool_call() -> ChatResponse {
    let mut r = tool_call("toolu_02", "get_weather", json!({"city": "Oslo"}));
    r.reasoning = Some(Reasoning {
        text: "The user wants Oslo's weather; call the tool.".into(),
        signature: None,
    });
    r
}

async fn thinking_round_trip(stream: bool) {
    let model = ScriptedProvider::new("m")
        .then(Duration::ZERO, respond(thinking_tool_call()))
        .then_text("Cold in Oslo.")
        .then(Duration::ZERO, respond(thinking_tool_call()));
    let (server, provider) = serve(model).await;
    let req = ChatRequest::user("Weather in Oslo?")
        .with_tool(weather_tool())
        .with_max_tokens(4096)
        .with_thinking(2048);
    let first = if stream {
        collect_stream(provider.stream(req.clone()).await.unwrap())
            .await
            .unwrap()
    } else {
        provider.complete(req.clone()).await.unwrap()
    };
    let reasoning = first.reasoning.clone().expect("thinking block");
    assert_eq!(
        reasoning.text,
        "The user wants Oslo's weather; call the tool."
    );
    assert!(reasoning.signature.is_some(), "the signature comes back");
    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 2048})
    );

    // Echoed unchanged (signature and all), the server accepts the turn.
    let result = Message::new(
        Role::User,
        vec![ContentBlock::tool_result("toolu_02", "-3 C")],
    );
    let follow = req
        .clone()
        .with_message(first.to_message())
        .with_message(result.clone());
    let second = provider.complete(follow).await.unwrap();
    assert_eq!(second.text_content(), "Cold in Oslo.");
    let sent = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(sent["messages"][1]["content"][0]["type"], "thinking");

    // Tampered, it is refused (as the API refuses it), and not retryable.
    let mut forged = first.to_message();
    if let ContentBlock::Reasoning { text, .. } = &mut forged.content[0] {
        text.push_str(" (edited)");
    }
    let err = provider
        .complete(req.with_message(forged).with_message(result))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.message().contains("signature"), "{err}");
}

#[tokio::test]
async fn thinking_blocks_are_signed_and_echoed_complete() {
    thinking_round_trip(false).await;
}

#[tokio::test]
async fn thinking_blocks_are_signed_and_echoed_stream() {
    thinking_round_trip(true).await;
}

#[tokio::test]
async fn redacted_thinking_is_echoed_back() {
    let mut answer = tool_call("toolu_03", "get_weather", json!({"city": "Rome"}));
    answer.content.insert(
        0,
        ContentBlock::RedactedReasoning {
            data: "ENCRYPTED==".into(),
        },
    );
    let model = ScriptedProvider::new("m")
        .then(Duration::ZERO, respond(answer))
        .then_text("Warm.");
    let (server, provider) = serve(model).await;
    let req = ChatRequest::user("Rome?")
        .with_tool(weather_tool())
        .with_max_tokens(4096)
        .with_thinking(1024);
    let first = provider.complete(req.clone()).await.unwrap();
    assert_eq!(
        first.content[0],
        ContentBlock::RedactedReasoning {
            data: "ENCRYPTED==".into()
        }
    );
    let follow = req
        .with_message(first.to_message())
        .with_message(Message::new(
            Role::User,
            vec![ContentBlock::tool_result("toolu_03", "30 C")],
        ));
    provider.complete(follow).await.unwrap();
    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        body["messages"][1]["content"][0],
        json!({"type": "redacted_thinking", "data": "ENCRYPTED=="})
    );
}

#[tokio::test]
async fn the_second_identical_call_reads_the_cache() {
    let long_system = "You are a meticulous assistant. ".repeat(200);
    let (server, provider) = serve(ScriptedProvider::new("m")).await;
    let req = ChatRequest::user("Summarise.")
        .with_system(long_system)
        .with_system_cache_point(CachePoint {
            ttl: CacheTtl::OneHour,
        });
    let first = provider.complete(req.clone()).await.unwrap().usage.unwrap();
    assert!(first.cache_write_tokens > 0, "{first:?}");
    assert_eq!(first.cache_write_1h_tokens, first.cache_write_tokens);
    assert_eq!(first.cache_read_tokens, 0);
    let second = provider.complete(req).await.unwrap().usage.unwrap();
    assert_eq!(second.cache_read_tokens, first.cache_write_tokens);
    assert_eq!(second.cache_write_tokens, 0);
    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        body["system"][0]["cache_control"],
        json!({"type": "ephemeral", "ttl": "1h"})
    );

    // Streams report the same split.
    let streamed = collect_stream(
        provider
            .stream(
                ChatRequest::user("Again.")
                    .with_system("x ".repeat(300))
                    .with_system_cache_point(CachePoint::default()),
            )
            .await
            .unwrap(),
    )
    .await
    .unwrap();
    let u = streamed.usage.unwrap();
    assert!(
        u.cache_write_tokens > 0 && u.cache_write_1h_tokens == 0,
        "{u:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn throttled_with_headers_then_served_after_retry_after() {
    let (server, provider) =
        serve_with(ScriptedProvider::new("m"), Quota::new(2, 100_000, 10_000)).await;
    provider.complete(ChatRequest::user("one")).await.unwrap();
    provider.complete(ChatRequest::user("two")).await.unwrap();
    let err = provider
        .complete(ChatRequest::user("three"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.status(), Some(429));
    let wait = err.retry_after().expect("retry-after");
    assert!(
        wait >= Duration::from_secs(1) && wait <= Duration::from_secs(30),
        "{wait:?}"
    );
    let rl = err.rate_limit().expect("headers on the 429");
    assert_eq!(rl.requests.limit, Some(2));
    assert_eq!(rl.requests.remaining, Some(0));
    assert!(rl.requests.reset.is_some());
    assert_eq!(server.throttled_count(), 1);

    tokio::time::advance(wait).await;
    let answer = provider.complete(ChatRequest::user("three")).await.unwrap();
    assert_eq!(answer.text_content(), "ok");
}

#[tokio::test]
async fn cache_reads_do_not_count_toward_input_tokens_per_minute() {
    let big = "cached context ".repeat(400);
    let (_server, provider) =
        serve_with(ScriptedProvider::new("m"), Quota::new(100, 2_500, 10_000)).await;
    let req = ChatRequest::user("q")
        .with_system(big)
        .with_system_cache_point(CachePoint::default());
    let first = provider.complete(req.clone()).await.unwrap();
    let written = first.usage.unwrap().cache_write_tokens;
    assert!(written > 1_200, "{written}");
    let after_write = first.rate_limit.unwrap().input_tokens.remaining.unwrap();
    // Two more reads of the same prefix would not fit if reads counted.
    for _ in 0..2 {
        let again = provider.complete(req.clone()).await.unwrap();
        assert!(again.usage.unwrap().cache_read_tokens > 0);
        let remaining = again.rate_limit.unwrap().input_tokens.remaining.unwrap();
        assert!(
            remaining + 50 >= after_write,
            "{remaining} vs {after_write}"
        );
    }
}

#[tokio::test]
async fn overloaded_529_is_retryable_overload() {
    let (server, provider) = serve(ScriptedProvider::new("m")).await;
    server.inject(MODEL, Fault::overloaded());
    let err = provider
        .complete(ChatRequest::user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.status(), Some(529));
    assert!(err.is_retryable());
    assert!(err.request_id().is_some());
    // The fault fired once.
    provider.complete(ChatRequest::user("Hi")).await.unwrap();
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_a_network_error_after_the_first_events() {
    let (server, provider) = serve(ScriptedProvider::new("m").then_text("a long answer")).await;
    server.inject(MODEL, Fault::CutStream { after_events: 4 });
    let mut stream = provider.stream(ChatRequest::user("Hi")).await.unwrap();
    let mut got_text = false;
    let err = loop {
        match stream.next().await.expect("ends with an error") {
            Ok(StreamEvent::TextDelta { .. }) => got_text = true,
            Ok(_) => {}
            Err(e) => break e,
        }
    };
    assert!(got_text, "the events before the cut arrive");
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn an_error_event_mid_stream_is_a_typed_error() {
    let (server, provider) = serve(ScriptedProvider::new("m").then_text("partial")).await;
    server.inject(MODEL, Fault::overloaded_event(3));
    let stream = provider.stream(ChatRequest::user("Hi")).await.unwrap();
    let err = collect_stream(stream).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.message(), "Overloaded");
    assert!(err.request_id().is_some());

    // A provider failing mid-stream reaches the client as an error event too.
    let model = ScriptedProvider::new("m").then(
        Duration::ZERO,
        Outcome::FailMidStream(
            "half".into(),
            ProviderError::new(ErrorKind::Throttled, "slow down"),
        ),
    );
    let (_server, provider) = serve(model).await;
    let err = collect_stream(provider.stream(ChatRequest::user("Hi")).await.unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
}

#[tokio::test]
async fn malformed_requests_are_refused_locally() {
    let (server, provider) = serve(ScriptedProvider::new("m")).await;
    // A tool result answering no tool use.
    let orphan = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![ContentBlock::tool_result("toolu_missing", "42")],
    )]);
    let err = provider.complete(orphan).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    // Five cache points (the API takes four).
    let mut blocks = Vec::new();
    for i in 0..5 {
        blocks.push(ContentBlock::text(format!("part {i}")));
        blocks.push(ContentBlock::cache_point());
    }
    let err = provider
        .complete(ChatRequest::new(vec![Message::new(Role::User, blocks)]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.message().contains("cache"), "{err}");
    // A thinking budget under the API's minimum.
    let err = provider
        .complete(
            ChatRequest::user("x")
                .with_max_tokens(4000)
                .with_thinking(500),
        )
        .await
        .unwrap_err();
    assert!(err.message().contains("thinking.budget_tokens"), "{err}");
    // A tier the API does not offer.
    let err = provider
        .complete(ChatRequest::user("x").with_service_tier(palisade_core::ServiceTier::Flex))
        .await
        .unwrap_err();
    assert!(err.message().contains("service_tier"), "{err}");
    // A passthrough key the provider sets itself.
    let err = provider
        .complete(ChatRequest::user("x").with_passthrough("model", json!("other")))
        .await
        .unwrap_err();
    assert!(err.message().contains("passthrough.model"), "{err}");
    assert!(server.requests().is_empty(), "nothing was sent");
    // The stream path refuses the same way, before any event.
    let err = provider
        .stream(
            ChatRequest::user("x")
                .with_max_tokens(4000)
                .with_thinking(10),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn the_server_refuses_what_it_would_refuse() {
    // Sent raw (bypassing the provider's checks), a tool_result without a
    // preceding tool_use gets the API's 400 invalid_request_error.
    let (server, _) = serve(ScriptedProvider::new("m")).await;
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/v1/messages", server.base_url()))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({
            "model": MODEL, "max_tokens": 10,
            "messages": [{"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_x", "content": "1"}
            ]}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert!(
        response
            .headers()
            .contains_key("anthropic-ratelimit-requests-remaining")
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    // An unknown field.
    let response = client
        .post(format!("{}/v1/messages", server.base_url()))
        .header("x-api-key", KEY)
        .header("anthropic-version", "2023-06-01")
        .json(&json!({"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}], "bogus": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("bogus"));
}

#[tokio::test]
async fn a_wrong_key_is_an_auth_error_that_never_shows_the_key() {
    let (server, _) = serve(ScriptedProvider::new("m")).await;
    let wrong = "sk-ant-api03-WRONG-KEY-should-never-leak";
    let provider = AnthropicProvider::builder(MODEL)
        .base_url(server.base_url())
        .api_key(ApiKey::new(wrong))
        .build()
        .unwrap();
    let err = provider
        .complete(ChatRequest::user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.status(), Some(401));
    assert!(!err.is_retryable());
    for text in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{provider:?}"),
    ] {
        assert!(!text.contains(wrong), "the key leaked: {text}");
        assert!(!text.contains("WRONG-KEY"), "the key leaked: {text}");
    }
}

#[tokio::test]
async fn the_key_never_reaches_debug_or_logs() {
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .with_writer(move || writer.clone())
            .with_ansi(false),
    );
    let _guard = tracing::subscriber::set_default(subscriber);

    let (server, provider) = serve(ScriptedProvider::new("m")).await;
    provider.complete(ChatRequest::user("Hi")).await.unwrap();
    server.inject(MODEL, Fault::auth_failure());
    let err = provider
        .complete(ChatRequest::user("Hi"))
        .await
        .unwrap_err();
    let logs = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("Messages API"),
        "the test captured the provider's logs: {logs}"
    );
    for text in [
        logs,
        format!("{err:?}"),
        format!("{provider:?}"),
        format!("{:?}", ApiKey::new(KEY)),
    ] {
        assert!(!text.contains(KEY), "the key leaked: {text}");
    }
}

#[tokio::test]
async fn structured_output_by_forced_tool_is_parsed_and_checked() {
    let schema = json!({"type": "object", "properties": {"celsius": {"type": "number"}}, "required": ["celsius"]});
    let mut good = tool_call("toolu_s", "weather", json!({"celsius": 21.5}));
    good.content.remove(0);
    let mut bad = tool_call("toolu_s", "weather", json!({"celsius": "warm"}));
    bad.content.remove(0);
    let model = ScriptedProvider::new("m")
        .then(Duration::ZERO, respond(good))
        .then(Duration::ZERO, respond(bad));
    let (server, provider) = serve(model).await;
    let req = ChatRequest::user("Paris?")
        .with_structured_output(StructuredOutput::new("weather", schema));
    let answer = provider.complete(req.clone()).await.unwrap();
    assert_eq!(answer.structured, Some(json!({"celsius": 21.5})));
    assert_eq!(answer.stop_reason, StopReason::EndTurn);
    assert!(
        answer.tool_uses().next().is_none(),
        "the forced tool is hidden"
    );
    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "weather"})
    );
    let err = provider.complete(req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Internal);
    assert!(err.message().contains("celsius"), "{err}");
}

#[tokio::test]
async fn native_structured_output_sends_output_config() {
    let schema =
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
    let (server, _) = serve(ScriptedProvider::new("m").then_text("{\"n\": 7}")).await;
    let provider = AnthropicProvider::builder(MODEL)
        .base_url(server.base_url())
        .api_key(ApiKey::new(KEY))
        .structured_output(StructuredOutputMode::Native)
        .build()
        .unwrap();
    let answer = provider
        .complete(
            ChatRequest::user("n?")
                .with_structured_output(StructuredOutput::new("n", schema.clone())),
        )
        .await
        .unwrap();
    assert_eq!(answer.structured, Some(json!({"n": 7})));
    let body = server.last_request().unwrap().body_json().unwrap();
    assert_eq!(
        body["output_config"]["format"],
        json!({"type": "json_schema", "schema": schema})
    );
    assert!(body.get("tools").is_none());
}

#[tokio::test]
async fn a_refusal_is_a_content_filtered_stop() {
    let model = ScriptedProvider::new("m")
        .then_error(ProviderError::new(ErrorKind::ContentFiltered, "declined"))
        .then_error(ProviderError::new(ErrorKind::ContentFiltered, "declined"));
    let (_server, provider) = serve(model).await;
    let answer = provider.complete(ChatRequest::user("bad")).await.unwrap();
    assert_eq!(answer.stop_reason, StopReason::ContentFiltered);
    let streamed = collect_stream(provider.stream(ChatRequest::user("bad")).await.unwrap())
        .await
        .unwrap();
    assert_eq!(streamed.stop_reason, StopReason::ContentFiltered);
}

#[tokio::test]
async fn images_and_pdf_documents_go_as_base64_sources() {
    let (server, provider) = serve(ScriptedProvider::new("m")).await;
    let png = [
        0x89u8, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R', 0,
        0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0,
    ];
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![
            ContentBlock::image(ImageFormat::Png, &png),
            ContentBlock::document("report", DocumentFormat::Pdf, b"%PDF-1.4 /Type /Page"),
            ContentBlock::document("notes", DocumentFormat::Md, b"# Notes"),
            ContentBlock::text("Describe both."),
        ],
    )]);
    provider.complete(req).await.unwrap();
    let body = server.last_request().unwrap().body_json().unwrap();
    let content = &body["messages"][0]["content"];
    assert_eq!(content[0]["source"]["type"], "base64");
    assert_eq!(content[0]["source"]["media_type"], "image/png");
    assert_eq!(content[1]["source"]["media_type"], "application/pdf");
    assert_eq!(content[1]["title"], "report");
    assert_eq!(
        content[2]["source"],
        json!({"type": "text", "media_type": "text/plain", "data": "# Notes"})
    );
    // Formats the API cannot read are refused locally, naming the block.
    let err = provider
        .complete(ChatRequest::new(vec![Message::new(
            Role::User,
            vec![ContentBlock::document("sheet", DocumentFormat::Xlsx, b"PK")],
        )]))
        .await
        .unwrap_err();
    assert!(err.message().contains("messages[0].content[0]"), "{err}");
}

#[tokio::test]
async fn a_prompt_over_the_context_window_is_context_window_exceeded() {
    let (server, provider) = serve(ScriptedProvider::new("m")).await;
    server.set_fault(MODEL, Fault::ContextWindow(50));
    let err = provider
        .complete(ChatRequest::user("word ".repeat(500)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextWindowExceeded);
    assert!(err.is_fallback_eligible());
    provider.complete(ChatRequest::user("short")).await.unwrap();
}

#[tokio::test]
async fn down_and_billing_map_to_their_kinds() {
    let (server, provider) = serve(ScriptedProvider::new("m")).await;
    server.inject(MODEL, Fault::down());
    server.inject(MODEL, Fault::billing());
    let down = provider
        .complete(ChatRequest::user("Hi"))
        .await
        .unwrap_err();
    assert!(
        down.is_retryable() && down.is_fallback_eligible(),
        "{down:?}"
    );
    let billing = provider
        .complete(ChatRequest::user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(billing.kind(), ErrorKind::QuotaExhausted);
    assert!(!billing.is_retryable());
}

#[tokio::test]
async fn a_closed_port_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let provider = AnthropicProvider::builder(MODEL)
        .base_url(format!("http://{addr}"))
        .api_key(ApiKey::new(KEY))
        .build()
        .unwrap();
    let err = provider
        .complete(ChatRequest::user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(!format!("{err:?}").contains(KEY));
}

#[tokio::test(start_paused = true)]
async fn a_slow_server_delays_the_answer_on_tokio_time() {
    let (server, provider) = serve(ScriptedProvider::new("m")).await;
    server.set_fault(MODEL, Fault::Slow(Duration::from_secs(30)));
    let started = tokio::time::Instant::now();
    provider.complete(ChatRequest::user("Hi")).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    // A caller's deadline shorter than the latency fires first.
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        provider.complete(ChatRequest::user("Hi")),
    )
    .await;
    assert!(err.is_err(), "still slow");
    server.clear_faults(MODEL);
    let started = tokio::time::Instant::now();
    provider.complete(ChatRequest::user("Hi")).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
}
