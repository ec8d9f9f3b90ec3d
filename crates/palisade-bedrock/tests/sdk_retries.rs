//! The SDK's own retries are off unless asked for: with them on, one
//! throttle becomes two HTTP requests under a single `complete`.

mod common;

use std::time::Duration;

use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use common::{SONNET, client_for, serve};
use palisade_bedrock::BedrockProvider;
use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, Provider};
use palisade_testkit::bedrock::WireFault;

#[tokio::test]
async fn the_builder_turns_sdk_retries_off() {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    server.inject(SONNET, WireFault::throttling());
    let provider = client_for(&server, SONNET).await;
    let err = provider
        .complete(ChatRequest::user("hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(
        server.requests().len(),
        1,
        "exactly one attempt reached Bedrock"
    );
}

#[tokio::test]
async fn from_client_turns_them_off_and_from_client_as_is_keeps_them() {
    let server = serve(SONNET, ScriptedProvider::new("sonnet")).await;
    let base = client_for(&server, SONNET).await;
    let retrying = aws_sdk_bedrockruntime::Client::from_conf(
        base.client()
            .config()
            .to_builder()
            .retry_config(
                RetryConfig::standard()
                    .with_max_attempts(3)
                    .with_initial_backoff(Duration::from_millis(1)),
            )
            .build(),
    );

    server.inject(SONNET, WireFault::throttling());
    let as_is = BedrockProvider::from_client_as_is(retrying.clone(), SONNET);
    as_is.complete(ChatRequest::user("hi")).await.unwrap();
    assert_eq!(
        server.requests().len(),
        2,
        "the SDK retried the throttle itself"
    );

    server.inject(SONNET, WireFault::throttling());
    let owned = BedrockProvider::from_client(&retrying, SONNET);
    let err = owned.complete(ChatRequest::user("hi")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(
        server.requests().len(),
        3,
        "no SDK retry: the stack decides"
    );
}
