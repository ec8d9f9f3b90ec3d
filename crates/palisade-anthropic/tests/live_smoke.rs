//! A smoke test against the real Messages API. It runs only when
//! `ANTHROPIC_API_KEY` is set; otherwise it prints why it was skipped and
//! passes.
//!
//! ```sh
//! ANTHROPIC_API_KEY=sk-ant-... ANTHROPIC_MODEL=claude-haiku-4-5 \
//!   cargo test -p palisade-anthropic --test live_smoke -- --nocapture
//! ```

use futures_util::StreamExt;
use palisade_anthropic::AnthropicProvider;
use palisade_core::{ChatRequest, Provider, StreamEvent};

#[tokio::test]
async fn live_anthropic_complete_and_stream() {
    if std::env::var_os("ANTHROPIC_API_KEY").is_none_or(|v| v.is_empty()) {
        println!("skipping the live Anthropic smoke test: ANTHROPIC_API_KEY is not set");
        return;
    }
    let model = std::env::var("ANTHROPIC_MODEL").unwrap_or_else(|_| "claude-haiku-4-5".into());
    // The key comes from ANTHROPIC_API_KEY (the builder's default variable).
    let provider = AnthropicProvider::builder(model)
        .build()
        .expect("build the provider");
    let req = ChatRequest::user("Reply with the single word: pong").with_max_tokens(16);

    let answer = provider.complete(req.clone()).await.expect("complete");
    println!(
        "{} answered {:?} ({:?}), rate limits {:?}",
        provider.model(),
        answer.text_content(),
        answer.usage,
        answer.rate_limit
    );
    assert!(!answer.text_content().is_empty());
    assert!(
        answer
            .usage
            .is_some_and(|u| u.input_tokens > 0 && u.output_tokens > 0)
    );
    assert!(answer.request_id.is_some());
    assert!(
        answer.rate_limit.is_some(),
        "anthropic-ratelimit-* headers are read"
    );

    let mut stream = provider.stream(req).await.expect("stream");
    let mut saw_stop = false;
    while let Some(event) = stream.next().await {
        if let StreamEvent::Stop { .. } = event.expect("stream event") {
            saw_stop = true;
        }
    }
    assert!(saw_stop);
}
