//! The smallest Palisade program: a provider, a layer around it, one call.
//!
//! Run it with `cargo run --example quickstart --features testing`. It uses the scripted test
//! provider so it needs no network and no credentials.

use std::time::Duration;

use palisade::testing::ScriptedProvider;
use palisade::{ChatRequest, Identity, Provider, ProviderError, ProviderExt, validate};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ProviderError> {
    // A provider that is throttled once, then answers.
    let model = ScriptedProvider::new("sim/claude")
        .then_error(ProviderError::throttled(
            "rate exceeded",
            Some(Duration::from_secs(2)),
        ))
        .then_text("Hello from a scripted model.");

    // Layers wrap providers in providers; Identity does nothing, the real ones
    // (limits, breakers, retries, fallbacks) live in the other crates.
    let stack = model.clone().layer(Identity);

    let request = ChatRequest::user("Say hello.").with_max_tokens(256);
    validate(&request)?;

    match stack.complete(request.clone()).await {
        Ok(_) => println!("unexpected: the first call should be throttled"),
        Err(err) => println!(
            "first call: {err} (retryable: {}, fallback eligible: {})",
            err.is_retryable(),
            err.is_fallback_eligible()
        ),
    }
    let answer = stack.complete(request).await?;
    println!(
        "second call: {:?} served by {} using {:?}",
        answer.text_content(),
        answer.served_by,
        answer.usage
    );
    println!("the model received {} calls", model.call_count());
    Ok(())
}
