//! A smoke test against the real OpenAI API. It runs only when
//! `OPENAI_API_KEY` is set; otherwise it prints why it was skipped and
//! passes.
//!
//! ```sh
//! OPENAI_API_KEY=sk-... OPENAI_MODEL=gpt-4o-mini \
//!   cargo test -p palisade-openai --test live_smoke -- --nocapture
//! ```
//!
//! `OPENAI_BASE_URL` points it at a compatible server instead.

use futures_util::StreamExt;
use palisade_core::{ChatRequest, Provider, StreamEvent};
use palisade_openai::OpenAiProvider;

#[tokio::test]
async fn live_openai_complete_and_stream() {
    if std::env::var_os("OPENAI_API_KEY").is_none() {
        println!("skipping the live OpenAI smoke test: OPENAI_API_KEY is not set");
        return;
    }
    let model = std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4o-mini".to_owned());
    let mut builder = OpenAiProvider::builder(model.clone());
    if let Ok(url) = std::env::var("OPENAI_BASE_URL") {
        builder = builder.base_url(url);
    }
    let provider = builder
        .api_key_from_env()
        .expect("OPENAI_API_KEY")
        .build()
        .expect("build the provider");
    let req = ChatRequest::user("Reply with the single word: pong").with_max_tokens(16);

    let answer = provider.complete(req.clone()).await.expect("complete");
    println!(
        "{model} answered {:?} ({:?})",
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
    println!("rate limits: {:?}", answer.rate_limit);

    let mut stream = provider.stream(req).await.expect("stream");
    let (mut text, mut saw_usage, mut saw_stop) = (String::new(), false, false);
    while let Some(event) = stream.next().await {
        match event.expect("stream event") {
            StreamEvent::TextDelta { text: t } => text.push_str(&t),
            StreamEvent::Usage(_) => saw_usage = true,
            StreamEvent::Stop { .. } => saw_stop = true,
            _ => {}
        }
    }
    println!("streamed {text:?}");
    assert!(!text.is_empty() && saw_usage && saw_stop);
}
