//! Your own HTTP client behind the stack: a reqwest client speaking Chat
//! Completions, made a `Provider` in under 60 lines. `palisade_core::http`
//! does the part every adapter needs and gets wrong: the error kind from the
//! status and the body's code (429 `rate_limit_exceeded` is retried,
//! `insufficient_quota` is not), `Retry-After`, the request id and the
//! `x-ratelimit-*` snapshot. A local fake OpenAI server plays the API.
//!
//! ```sh
//! cargo run --example own_client --features stack,fake-openai
//! ```
//!
//! The first call is answered 429 with `Retry-After: 1`; the stack waits and
//! retries. The answer prints who answered, the attempts trail and the
//! rate-limit snapshot the client read.

use std::time::Duration;

use palisade::http::{RateLimitSnapshot, error_from_response};
use palisade::stack::{CandidateConfig, StackBuilder, StackConfig};
use palisade::testkit::openai::{FakeOpenAi, Fault, Quota};
use palisade::testkit::{Outcome, ScriptedProvider};
use palisade::{ChatRequest, ChatResponse, ErrorKind, Provider, ProviderError, ProviderId, Role};
use palisade::{Usage, async_trait};
use serde_json::{Value, json};

// ---- the adapter: 54 lines (rustfmt-formatted) ----
struct MyClient {
    id: ProviderId,
    http: reqwest::Client,
    url: String,
    key: String,
}

#[async_trait]
impl Provider for MyClient {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let fail = |kind, e: &dyn std::fmt::Display| ProviderError::new(kind, e.to_string());
        let messages: Vec<Value> = (req.messages.iter())
            .map(|m| json!({ "role": if m.role == Role::User { "user" } else { "assistant" }, "content": m.text() }))
            .collect();
        let body = json!({ "model": self.id.as_str(), "messages": messages, "max_completion_tokens": req.max_tokens });
        let sent = self
            .http
            .post(&self.url)
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await;
        let response = sent.map_err(|e| fail(ErrorKind::Network, &e))?;
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        let bytes = response
            .bytes()
            .await
            .map_err(|e| fail(ErrorKind::Network, &e))?;
        if !(200..300).contains(&status) {
            // Kind, message, status, Retry-After, request id, rate-limit snapshot.
            return Err(error_from_response(status, &headers, &bytes));
        }
        let v: Value = serde_json::from_slice(&bytes).map_err(|e| fail(ErrorKind::Internal, &e))?;
        let tokens = |k: &str| {
            v["usage"][k]
                .as_u64()
                .unwrap_or(0)
                .try_into()
                .unwrap_or(u32::MAX)
        };
        let usage = Usage::new(tokens("prompt_tokens"), tokens("completion_tokens"));
        let text = v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap_or_default();
        let mut answer = ChatResponse::text(self.id.clone(), text, Some(usage));
        // The stack's limiter calibrates itself from this.
        answer.rate_limit = RateLimitSnapshot::from_headers(&headers).map(Box::new);
        Ok(answer)
    }
}
// ---- end of the adapter ----

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = FakeOpenAi::builder()
        .model(
            "gpt-4o-mini",
            ScriptedProvider::new("m").otherwise(Duration::ZERO, Outcome::Echo),
        )
        .quota("gpt-4o-mini", Quota::new(500, 200_000))
        .api_key("sk-mine")
        .bind("127.0.0.1:0")
        .await?;
    server.inject(
        "gpt-4o-mini",
        Fault::RateLimited {
            retry_after: Duration::from_secs(1),
        },
    );
    let client = MyClient {
        id: ProviderId::new("gpt-4o-mini"),
        http: reqwest::Client::new(),
        url: format!("{}/chat/completions", server.base_url()),
        key: "sk-mine".into(),
    };
    let config = StackConfig {
        candidates: vec![CandidateConfig::new("mine")],
        ..StackConfig::default()
    };
    let stack = StackBuilder::new(config).provider("mine", client).build()?;
    let request = ChatRequest::user("Hello!")
        .with_max_tokens(32)
        .with_timeout(Duration::from_secs(30));
    let answer = stack.complete(request).await?;
    println!(
        "{:?} answered by {} (model {})",
        answer.text_content(),
        answer.served_by,
        answer.model
    );
    for (i, attempt) in answer.attempts.iter().enumerate() {
        println!("  {}. {}: {}", i + 1, attempt.provider, attempt.outcome);
    }
    let requests = answer.rate_limit.as_deref().map(|s| s.requests);
    println!("rate limit read from the headers: requests {requests:?}");
    let stats = server.stats();
    println!(
        "server: {} requests, {} answered (the first got the 429)",
        stats.requests, stats.answered
    );
    let retries = stack.stats().candidate("mine").map_or(0, |c| c.retries);
    println!("the stack retried {retries} time(s), after the Retry-After");
    Ok(())
}
