//! A simulated model's prompt cache (issue 14): prefixes up to cache points
//! are written, then read within their lifetime, and the token quota counts
//! the reads as the model's `cache_reads` setting says. Paused tokio time.

use std::time::Duration;

use palisade_core::{ChatRequest, HeuristicEstimator, Provider, TokenEstimator, Usage};
use palisade_sim::{
    AgentWorkload, CacheReadQuota, Conversation, Distribution, LatencyConfig, PromptCacheConfig,
    SimulatedModelConfig, SimulatedProvider,
};

/// 100 ms to the first token, 10 ms a token, 10 tokens out, no burndown;
/// a token quota large enough never to refuse.
fn model(cache: Option<CacheReadQuota>) -> SimulatedProvider {
    let mut config = SimulatedModelConfig::new("sim/cached")
        .with_quota(1_000, 10_000_000, 1.0)
        .with_output_tokens(Distribution::fixed(10.0))
        .with_latency(LatencyConfig {
            time_to_first_token_ms: Distribution::fixed(100.0),
            per_output_token_ms: Distribution::fixed(10.0),
            rejection_ms: 0.0,
        });
    if let Some(cache_reads) = cache {
        config = config.with_prompt_cache(PromptCacheConfig {
            enabled: true,
            cache_reads,
            ..PromptCacheConfig::default()
        });
    }
    SimulatedProvider::new(config, 1).unwrap()
}

/// An agent's second turn: stable prefix, one tool call and its result,
/// with cache points.
fn agent_request() -> ChatRequest {
    let mut conversation = Conversation::start(&AgentWorkload::default(), 0);
    conversation.push_tool_turn(80, 600);
    conversation.request().with_max_tokens(100)
}

async fn prompt_of(req: &ChatRequest) -> u32 {
    HeuristicEstimator.input_tokens(req).await
}

async fn usage(model: &SimulatedProvider, req: ChatRequest) -> Usage {
    model.complete(req).await.unwrap().usage.unwrap()
}

#[tokio::test(start_paused = true)]
async fn the_first_call_writes_its_prefix_and_an_identical_one_reads_it() {
    let model = model(Some(CacheReadQuota::Counted));
    let req = agent_request();
    let prompt = prompt_of(&req).await;
    let first = usage(&model, req.clone()).await;
    assert_eq!(first.cache_read_tokens, 0);
    assert!(first.cache_write_tokens > 4_000, "{first:?}");
    assert_eq!(first.total_input(), u64::from(prompt));
    let second = usage(&model, req).await;
    assert_eq!(second.cache_read_tokens, first.cache_write_tokens);
    assert_eq!(second.cache_write_tokens, 0);
    assert_eq!(second.total_input(), u64::from(prompt));
}

#[tokio::test(start_paused = true)]
async fn the_next_turn_reads_the_previous_turn_and_writes_only_what_is_new() {
    let model = model(Some(CacheReadQuota::Counted));
    let workload = AgentWorkload::default();
    let mut conversation = Conversation::start(&workload, 3);
    let first = usage(&model, conversation.request()).await;
    conversation.push_tool_turn(first.output_tokens, 700);
    let req = conversation.request();
    let prompt = prompt_of(&req).await;
    let second = usage(&model, req).await;
    assert_eq!(second.cache_read_tokens, first.cache_write_tokens);
    assert!(second.cache_write_tokens >= 700, "{second:?}");
    assert_eq!(second.total_input(), u64::from(prompt));

    // Another conversation shares only the tools and the system prompt.
    let other = usage(&model, Conversation::start(&workload, 4).request()).await;
    assert!(other.cache_read_tokens > 0);
    assert!(other.cache_read_tokens < first.cache_write_tokens);
    assert!(other.cache_write_tokens > 0);
}

#[tokio::test(start_paused = true)]
async fn a_prefix_unused_for_its_lifetime_is_written_again() {
    let model = model(Some(CacheReadQuota::Counted));
    let req = agent_request();
    let first = usage(&model, req.clone()).await;
    tokio::time::advance(Duration::from_secs(299)).await;
    assert!(usage(&model, req.clone()).await.cache_read_tokens > 0);
    // Read at 299 s: refreshed, so still there 299 s later.
    tokio::time::advance(Duration::from_secs(299)).await;
    assert!(usage(&model, req.clone()).await.cache_read_tokens > 0);
    tokio::time::advance(Duration::from_secs(301)).await;
    let expired = usage(&model, req).await;
    assert_eq!(expired.cache_read_tokens, 0);
    assert_eq!(expired.cache_write_tokens, first.cache_write_tokens);
}

#[tokio::test(start_paused = true)]
async fn a_model_without_prompt_caching_bills_cache_points_as_input() {
    let model = model(None);
    let req = agent_request();
    let prompt = prompt_of(&req).await;
    for _ in 0..2 {
        let u = usage(&model, req.clone()).await;
        assert_eq!((u.cache_read_tokens, u.cache_write_tokens), (0, 0));
        assert_eq!(u.input_tokens, prompt);
    }
}

/// Two identical calls, the second served from the cache: what the quota
/// counts while the second is in flight, and once it is settled.
async fn quota_in_flight_and_settled(mode: CacheReadQuota) -> (u64, u64, u32, u32) {
    let model = model(Some(mode));
    let req = agent_request();
    let prompt = prompt_of(&req).await;
    usage(&model, req.clone()).await;
    let second = {
        let model = model.clone();
        let req = req.clone();
        tokio::spawn(async move { usage(&model, req).await })
    };
    // Admitted, not yet answered (first token at 100 ms).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let in_flight = model.quota_tokens_in_window();
    let read = second.await.unwrap().cache_read_tokens;
    let settled = model.quota_tokens_in_window();
    (in_flight, settled, prompt, read)
}

#[tokio::test(start_paused = true)]
async fn the_quota_counts_cache_reads_as_the_model_is_set_to() {
    // The first call settled at prompt + 10 output tokens; the second
    // reserves its prompt + 100 (max_tokens) and settles at prompt + 10.
    let (in_flight, settled, p, read) = quota_in_flight_and_settled(CacheReadQuota::Counted).await;
    let p = u64::from(p);
    assert!(read > 0);
    assert_eq!(in_flight, (p + 10) + (p + 100));
    assert_eq!(settled, (p + 10) + (p + 10));

    // Bedrock: reserved with the input, given back at settlement.
    let (in_flight, settled, _, read) =
        quota_in_flight_and_settled(CacheReadQuota::ReleasedAtSettle).await;
    let read = u64::from(read);
    assert_eq!(in_flight, (p + 10) + (p + 100));
    assert_eq!(settled, (p + 10) + (p - read + 10));

    // Anthropic: never counted.
    let (in_flight, settled, _, _) = quota_in_flight_and_settled(CacheReadQuota::NotCounted).await;
    assert_eq!(in_flight, (p + 10) + (p - read + 100));
    assert_eq!(settled, (p + 10) + (p - read + 10));
}
