//! CountTokens as an exact estimator, with the heuristic as fallback.

mod common;

use common::{SONNET, client_for};
use palisade_core::testing::ScriptedProvider;
use palisade_core::{ChatRequest, ErrorKind, HeuristicEstimator, TokenEstimator};
use palisade_testkit::bedrock::{FakeBedrock, Operation, WireFault};

/// CountTokens is answered for the base model id, so the fake serves that one.
const SONNET_BASE: &str = "anthropic.claude-sonnet-4-5-20250929-v1:0";

/// An estimator with a recognisable answer, standing in for Bedrock's tokenizer.
#[derive(Debug)]
struct FixedCount(u32);

#[palisade_core::async_trait]
impl TokenEstimator for FixedCount {
    fn estimate_text(&self, _text: &str) -> u32 {
        self.0
    }
    async fn estimate_request(&self, _req: &ChatRequest) -> u32 {
        self.0
    }
}

#[tokio::test]
async fn counts_with_the_base_model_id_and_the_converse_input() {
    let server = FakeBedrock::builder()
        .model(SONNET_BASE, ScriptedProvider::new("sonnet"))
        .token_estimator(FixedCount(1234))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let provider = client_for(&server, SONNET).await;
    let req = ChatRequest::user("How many tokens is this?").with_system("Count carefully.");

    assert_eq!(provider.count_tokens(&req).await.unwrap(), 1234);
    assert_eq!(
        provider.token_estimator().estimate_request(&req).await,
        1234
    );

    let received = server.last_request().unwrap();
    assert_eq!(received.operation, Operation::CountTokens);
    assert_eq!(
        received.model_id, SONNET_BASE,
        "the `us.` profile prefix is stripped"
    );
    let body = received.body_json().unwrap();
    assert_eq!(
        body["input"]["converse"]["system"][0]["text"],
        "Count carefully."
    );
    assert_eq!(
        body["input"]["converse"]["messages"][0]["content"][0]["text"],
        "How many tokens is this?"
    );
}

#[tokio::test]
async fn a_failed_count_falls_back_to_the_heuristic() {
    let server = FakeBedrock::builder()
        .model(SONNET_BASE, ScriptedProvider::new("sonnet"))
        .token_estimator(FixedCount(1234))
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    server.inject(SONNET_BASE, WireFault::throttling());
    server.inject(SONNET_BASE, WireFault::throttling());
    let provider = client_for(&server, SONNET).await;
    let req = ChatRequest::user("a fairly short prompt");

    let err = provider.count_tokens(&req).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);

    let estimate = provider.token_estimator().estimate_request(&req).await;
    assert_eq!(estimate, HeuristicEstimator.estimate_request(&req).await);
}

#[tokio::test]
async fn text_estimates_stay_synchronous_and_heuristic() {
    let server = FakeBedrock::builder().bind("127.0.0.1:0").await.unwrap();
    let provider = client_for(&server, SONNET).await;
    let estimator = provider.token_estimator();
    assert_eq!(
        estimator.estimate_text("abcdefgh"),
        HeuristicEstimator.estimate_text("abcdefgh")
    );
    assert!(server.requests().is_empty());
}
