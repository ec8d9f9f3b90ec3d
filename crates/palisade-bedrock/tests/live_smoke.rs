//! A smoke test against real Bedrock. It runs only when
//! `PALISADE_LIVE_BEDROCK=1` and AWS credentials are present; otherwise it
//! prints why it was skipped and passes.
//!
//! ```sh
//! PALISADE_LIVE_BEDROCK=1 AWS_REGION=us-east-1 \
//!   BEDROCK_MODEL_ID=us.anthropic.claude-haiku-4-5-20251001-v1:0 \
//!   cargo test -p palisade-bedrock --test live_smoke -- --nocapture
//! ```

use futures_util::StreamExt;
use palisade_bedrock::{BedrockEnv, BedrockProvider};
use palisade_core::{ChatRequest, Provider, StreamEvent};

/// Why the live test cannot run here, if it cannot.
fn skip_reason() -> Option<&'static str> {
    if std::env::var("PALISADE_LIVE_BEDROCK").as_deref() != Ok("1") {
        return Some("PALISADE_LIVE_BEDROCK is not 1");
    }
    let has_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    let has_profile = std::env::var_os("AWS_PROFILE").is_some()
        || std::env::var_os("AWS_WEB_IDENTITY_TOKEN_FILE").is_some()
        || std::env::var_os("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI").is_some();
    if !has_keys && !has_profile {
        return Some("no AWS credentials in the environment");
    }
    None
}

#[tokio::test]
async fn live_bedrock_complete_stream_and_count() {
    if let Some(reason) = skip_reason() {
        println!("skipping the live Bedrock smoke test: {reason}");
        return;
    }
    let env = BedrockEnv::from_env().expect("read the Bedrock environment");
    let provider = BedrockProvider::builder(env.model_id.clone())
        .config(env.config())
        .build()
        .await
        .expect("build the provider");
    let req = ChatRequest::user("Reply with the single word: pong").with_max_tokens(16);

    let answer = provider.complete(req.clone()).await.expect("Converse");
    println!(
        "{} answered {:?} ({:?})",
        provider.model_id(),
        answer.text_content(),
        answer.usage
    );
    assert!(!answer.text_content().is_empty());
    assert!(
        answer
            .usage
            .is_some_and(|u| u.input_tokens > 0 && u.output_tokens > 0)
    );
    assert!(answer.request_id.is_some());

    let mut stream = provider.stream(req.clone()).await.expect("ConverseStream");
    let mut saw_usage = false;
    while let Some(event) = stream.next().await {
        if let StreamEvent::Usage(u) = event.expect("stream event") {
            saw_usage = u.output_tokens > 0;
        }
    }
    assert!(saw_usage, "the stream reports usage");

    match provider.count_tokens(&req).await {
        Ok(n) => println!("CountTokens: {n}"),
        // CountTokens is not offered for every model in every region.
        Err(err) => println!("CountTokens unavailable here: {err}"),
    }
}
