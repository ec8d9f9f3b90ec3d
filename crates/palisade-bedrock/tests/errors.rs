//! The error table of `palisade_bedrock::error`, case by case, through the
//! real SDK client and the fake server's wire answers: status,
//! `x-amzn-ErrorType`, message, `Retry-After`, and the request id on every error.

mod common;

use std::time::Duration;

use common::{SONNET, client_at, client_for, serve};
use palisade_bedrock::BedrockProvider;
use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{ChatRequest, ErrorKind, Provider, ProviderError};
use palisade_testkit::bedrock::WireFault;

/// Calls Converse once with `fault` injected and returns the error.
async fn converse_error(fault: WireFault) -> (ProviderError, String) {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    server.inject(SONNET, fault);
    let provider = client_for(&server, SONNET).await;
    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    let request_id = server.last_request().unwrap().request_id;
    (err, request_id)
}

fn assert_classified(
    err: &ProviderError,
    kind: ErrorKind,
    status: u16,
    request_id: &str,
    case: &str,
) {
    assert_eq!(err.kind(), kind, "{case}: {err}");
    assert_eq!(err.status(), Some(status), "{case}: {err}");
    assert_eq!(
        err.request_id(),
        Some(request_id),
        "{case}: request id kept"
    );
    assert_eq!(
        err.provider().map(|p| p.as_str().to_owned()),
        Some(format!("bedrock/{SONNET}")),
        "{case}"
    );
}

#[tokio::test]
async fn modelled_exceptions_map_by_code() {
    let cases = [
        (
            429,
            "ThrottlingException",
            "Too many requests, please wait before trying again.",
            ErrorKind::Throttled,
        ),
        (
            503,
            "ServiceUnavailableException",
            "Service unavailable.",
            ErrorKind::Unavailable,
        ),
        (
            429,
            "ModelNotReadyException",
            "Model is not ready.",
            ErrorKind::Overloaded,
        ),
        (
            408,
            "ModelTimeoutException",
            "Model timed out.",
            ErrorKind::Timeout,
        ),
        (
            500,
            "InternalServerException",
            "Internal failure.",
            ErrorKind::Internal,
        ),
        (
            424,
            "ModelErrorException",
            "The model returned an error.",
            ErrorKind::Internal,
        ),
        (
            403,
            "AccessDeniedException",
            "You don't have access to the model.",
            ErrorKind::Auth,
        ),
        (
            404,
            "ResourceNotFoundException",
            "Model is end of life.",
            ErrorKind::NotFound,
        ),
        (
            400,
            "ValidationException",
            "messages: role must alternate",
            ErrorKind::InvalidRequest,
        ),
    ];
    for (status, code, message, kind) in cases {
        let (err, request_id) = converse_error(WireFault::http(status, Some(code), message)).await;
        assert_classified(&err, kind, status, &request_id, code);
        assert!(
            err.message().contains(message),
            "{code}: message kept: {err}"
        );
    }
}

#[tokio::test]
async fn service_quota_exceeded_is_matched_by_code_although_unmodelled() {
    let (err, request_id) = converse_error(WireFault::service_quota_exceeded()).await;
    assert_classified(
        &err,
        ErrorKind::QuotaExhausted,
        400,
        &request_id,
        "ServiceQuotaExceededException",
    );
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn on_demand_throughput_not_supported_is_not_found_and_fallback_eligible() {
    let (err, request_id) = converse_error(WireFault::on_demand_not_supported()).await;
    assert_classified(&err, ErrorKind::NotFound, 400, &request_id, "on-demand");
    assert!(err.is_fallback_eligible());
}

#[tokio::test]
async fn context_length_validation_errors_are_context_window_exceeded() {
    for message in [
        "Input is too long for requested model.",
        "Too many input tokens. Max input tokens: 200000, request input token count: 231000",
        "input length and `max_tokens` exceed context limit: 197626 + 8192 > 200000",
    ] {
        let (err, request_id) =
            converse_error(WireFault::http(400, Some("ValidationException"), message)).await;
        assert_classified(
            &err,
            ErrorKind::ContextWindowExceeded,
            400,
            &request_id,
            message,
        );
    }
}

#[tokio::test]
async fn unknown_codes_fall_back_to_the_http_status() {
    let (err, id) = converse_error(WireFault::http(
        429,
        Some("BrandNewLimitException"),
        "slow down",
    ))
    .await;
    assert_classified(&err, ErrorKind::Throttled, 429, &id, "unknown code on 429");
    let (err, id) = converse_error(WireFault::http(429, None, "slow down")).await;
    assert_classified(&err, ErrorKind::Throttled, 429, &id, "no code on 429");
    let (err, id) = converse_error(WireFault::http(503, None, "down")).await;
    assert_classified(&err, ErrorKind::Unavailable, 503, &id, "no code on 503");
    let (err, id) = converse_error(WireFault::http(502, None, "bad gateway")).await;
    assert_classified(&err, ErrorKind::Unavailable, 502, &id, "no code on 502");
}

#[tokio::test]
async fn retry_after_is_kept() {
    let (err, id) =
        converse_error(WireFault::throttling().with_retry_after(Duration::from_secs(7))).await;
    assert_classified(
        &err,
        ErrorKind::Throttled,
        429,
        &id,
        "throttled with Retry-After",
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
}

#[tokio::test]
async fn provider_errors_round_trip_through_the_wire() {
    let cases = [
        ProviderError::throttled("quota", Some(Duration::from_millis(1500))),
        ProviderError::new(ErrorKind::Unavailable, "down"),
        ProviderError::new(ErrorKind::Overloaded, "busy"),
        ProviderError::new(ErrorKind::Timeout, "slow"),
        ProviderError::new(ErrorKind::ContextWindowExceeded, "prompt is 300000 tokens"),
        ProviderError::new(ErrorKind::QuotaExhausted, "monthly quota"),
        ProviderError::new(ErrorKind::InvalidRequest, "bad field"),
        ProviderError::new(ErrorKind::Auth, "denied"),
        ProviderError::new(ErrorKind::NotFound, "no such model"),
        ProviderError::new(ErrorKind::Internal, "boom"),
    ];
    let mut model = ScriptedProvider::new("sonnet");
    for err in &cases {
        model = model.then_error(err.clone());
    }
    let server = serve(SONNET, model).await;
    let provider = client_for(&server, SONNET).await;
    for sent in cases {
        let got = provider
            .complete(ChatRequest::user("hi"))
            .await
            .unwrap_err();
        assert_eq!(got.kind(), sent.kind(), "{sent} came back as {got}");
        assert!(got.request_id().is_some(), "{got}");
        if sent.kind() == ErrorKind::Throttled {
            // Retry-After travels in whole seconds, rounded up.
            assert_eq!(got.retry_after(), Some(Duration::from_secs(2)));
        }
    }
}

#[tokio::test]
async fn an_unknown_model_id_is_not_found() {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    let provider = client_for(&server, "us.anthropic.claude-does-not-exist-v1:0").await;
    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert!(err.is_fallback_eligible());
}

#[tokio::test]
async fn stream_errors_before_the_first_event_are_classified_too() {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    server.inject(SONNET, WireFault::throttling());
    let provider = client_for(&server, SONNET).await;
    let err = match provider.stream(ChatRequest::user("hi")).await {
        Err(err) => err,
        Ok(_) => panic!("expected a throttling error"),
    };
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.status(), Some(429));
    assert!(err.request_id().is_some());
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error() {
    // Bind a port, then free it: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let provider = client_at(&endpoint, SONNET).await;
    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(err.is_retryable());
    assert_eq!(err.status(), None);
}

#[tokio::test]
async fn an_sdk_timeout_is_a_timeout() {
    // A model that never answers, and a client with a short operation timeout.
    let hanging =
        ScriptedProvider::new("sonnet").otherwise(Duration::from_secs(3600), Outcome::Echo);
    let server = serve(SONNET, hanging).await;
    let base = client_for(&server, SONNET).await;
    let config = base
        .client()
        .config()
        .to_builder()
        .timeout_config(
            aws_sdk_bedrockruntime::config::timeout::TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(200))
                .build(),
        )
        .build();
    let provider =
        BedrockProvider::from_client(&aws_sdk_bedrockruntime::Client::from_conf(config), SONNET);
    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
}

#[tokio::test]
async fn missing_credentials_are_an_auth_error() {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    let creds = aws_sdk_bedrockruntime::config::SharedCredentialsProvider::new(NoCredentials);
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(aws_sdk_bedrockruntime::config::BehaviorVersion::latest())
        .region(aws_sdk_bedrockruntime::config::Region::new("us-east-1"))
        .endpoint_url(server.endpoint_url())
        .credentials_provider(creds)
        .build();
    let provider =
        BedrockProvider::from_client(&aws_sdk_bedrockruntime::Client::from_conf(config), SONNET);
    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(
        server.requests().is_empty(),
        "an unsigned request must not be sent"
    );
}

/// A credentials provider that never has any (no profile, no role, no env).
#[derive(Debug)]
struct NoCredentials;

impl aws_sdk_bedrockruntime::config::ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            aws_credential_types::provider::error::CredentialsError::not_loaded(
                "no credentials in this test",
            ),
        ))
    }
}

/// A fake serving SONNET with `limits`, a client for it, and the model
/// behind it (to check it was never called).
async fn limited(
    limits: palisade_testkit::bedrock::ModelLimits,
) -> (
    palisade_testkit::bedrock::FakeBedrockServer,
    BedrockProvider,
    ScriptedProvider,
) {
    let model = ScriptedProvider::new("sonnet").then_text("unused");
    let server = palisade_testkit::bedrock::FakeBedrock::builder()
        .model(SONNET, model.clone())
        .model_limits(SONNET, limits)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let provider = client_for(&server, SONNET).await;
    (server, provider, model)
}

/// The answer was Bedrock's 400 ValidationException, on the wire.
fn assert_wire_validation(
    server: &palisade_testkit::bedrock::FakeBedrockServer,
    err: &ProviderError,
) {
    let request_id = server.last_request().unwrap().request_id;
    assert_classified(
        err,
        ErrorKind::InvalidRequest,
        400,
        &request_id,
        "validation",
    );
    assert!(err.message().contains("ValidationException"), "{err}");
}

#[tokio::test]
async fn a_tool_schema_the_model_rejects_is_invalid_request_naming_the_tool() {
    let (server, provider, model) = limited(Default::default()).await;
    let ok_tool = palisade_core::Tool::new("ok", "fine", serde_json::json!({"type": "object"}));
    // An object schema (so local validation passes) that is not a JSON
    // schema: `strin` is no type.
    let bad_tool = palisade_core::Tool::new(
        "lookup",
        "broken schema",
        serde_json::json!({"type": "object", "properties": {"q": {"type": "strin"}}}),
    );
    let err = provider
        .complete(
            ChatRequest::user("hi")
                .with_tool(ok_tool)
                .with_tool(bad_tool),
        )
        .await
        .unwrap_err();
    assert_wire_validation(&server, &err);
    assert!(
        err.message().starts_with("tools[1].input_schema: "),
        "{err}"
    );
    assert_eq!(model.call_count(), 0);
}

#[tokio::test]
async fn an_image_too_large_is_invalid_request_naming_the_block() {
    use palisade_core::{ContentBlock, ImageFormat, Message, Role};
    // Under the client's 3.75 MB check, over this model's limit: only the
    // service can say so.
    let limits = palisade_testkit::bedrock::ModelLimits::default().max_image_bytes(1_000);
    let (server, provider, model) = limited(limits).await;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.resize(2_000, 0);
    let req = ChatRequest::new(vec![Message::new(
        Role::User,
        vec![
            ContentBlock::text("what is this?"),
            ContentBlock::image(ImageFormat::Png, &png),
        ],
    )]);
    let err = provider.complete(req).await.unwrap_err();
    assert_wire_validation(&server, &err);
    assert!(
        err.message().starts_with("messages[0].content[1]: "),
        "{err}"
    );
    assert!(err.message().contains("image exceeds"), "{err}");
    assert_eq!(model.call_count(), 0);
}

#[tokio::test]
async fn an_unsupported_tier_is_invalid_request_naming_service_tier() {
    use palisade_core::{ServiceTier, TierSet};
    // The catalog says Sonnet 4.5 offers priority; this endpoint does not,
    // so the refusal comes from the service.
    let limits =
        palisade_testkit::bedrock::ModelLimits::default().service_tiers(TierSet::DEFAULT_ONLY);
    let (server, provider, model) = limited(limits).await;
    let err = provider
        .complete(ChatRequest::user("hi").with_service_tier(ServiceTier::Priority))
        .await
        .unwrap_err();
    assert_wire_validation(&server, &err);
    assert!(err.message().starts_with("service_tier: "), "{err}");
    assert_eq!(model.call_count(), 0);
    // The same refusal through ConverseStream, before the first event.
    let err = match provider
        .stream(ChatRequest::user("hi").with_service_tier(ServiceTier::Priority))
        .await
    {
        Err(err) => err,
        Ok(_) => panic!("the stream was opened"),
    };
    assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    assert!(err.message().starts_with("service_tier: "), "{err}");
}
