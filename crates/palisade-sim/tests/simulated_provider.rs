//! SimulatedProvider's quota, latency, failure and determinism semantics,
//! all on paused tokio time.

use std::time::Duration;

use futures_util::StreamExt;
use palisade_core::{ChatRequest, ErrorKind, Provider, StopReason, StreamEvent, collect_stream};
use palisade_sim::{
    Distribution, FailureConfig, LatencyConfig, SimulatedModelConfig, SimulatedProvider, Window,
};
use tokio::time::Instant;

/// A model with fixed latency (100 ms to first token, 10 ms per token) and a
/// fixed output of `output` tokens.
fn model(output: u32) -> SimulatedModelConfig {
    SimulatedModelConfig::new("sim/test")
        .with_output_tokens(Distribution::fixed(f64::from(output)))
        .with_latency(LatencyConfig {
            time_to_first_token_ms: Distribution::fixed(100.0),
            per_output_token_ms: Distribution::fixed(10.0),
            rejection_ms: 0.0,
        })
}

fn request(input: u32, max_tokens: u32) -> ChatRequest {
    ChatRequest::user("hi")
        .with_input_token_estimate(input)
        .with_max_tokens(max_tokens)
}

#[tokio::test(start_paused = true)]
async fn rpm_throttles_the_request_after_the_quota_within_a_minute() {
    let p = SimulatedProvider::new(model(10).with_quota(3, 1_000_000, 1.0), 1).unwrap();
    for _ in 0..3 {
        p.complete(request(100, 100)).await.unwrap();
    }
    let err = p.complete(request(100, 100)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.status(), Some(429));
    assert_eq!(
        err.retry_after(),
        None,
        "Bedrock sends no retry-after by default"
    );
    assert_eq!(p.stats().throttled_rpm, 1);

    tokio::time::sleep(Duration::from_secs(60)).await;
    p.complete(request(100, 100)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn tpm_reserves_max_tokens_times_burndown_and_returns_the_unused_part() {
    // Reservation: 1,000 in + 1,000 max out × 5 = 6,000 of a 10,000 quota.
    // Real cost: 1,000 + 100 × 5 = 1,500.
    let p = SimulatedProvider::new(model(100).with_quota(100, 10_000, 5.0), 1).unwrap();
    let first = tokio::spawn({
        let p = p.clone();
        async move { p.complete(request(1_000, 1_000)).await }
    });
    tokio::task::yield_now().await; // the first call is admitted and in flight
    let second = p.complete(request(1_000, 1_000)).await.unwrap_err();
    assert_eq!(
        second.kind(),
        ErrorKind::Throttled,
        "two reservations exceed the quota"
    );
    assert_eq!(p.stats().throttled_tpm, 1);

    let answer = first.await.unwrap().unwrap();
    assert_eq!(answer.usage.unwrap().output_tokens, 100);
    // Settled at 1,500: 1,500 + 6,000 fits now, within the same minute.
    p.complete(request(1_000, 1_000)).await.unwrap();
    // 3,000 settled + 6,000 reserved fits too; 4,500 + 6,000 does not.
    p.complete(request(1_000, 1_000)).await.unwrap();
    let err = p.complete(request(1_000, 1_000)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(p.stats().completed, 3);
}

#[tokio::test(start_paused = true)]
async fn retry_after_hint_says_when_the_quota_frees_up() {
    let mut config = model(10).with_quota(1, 1_000_000, 1.0);
    config.quota.retry_after_hint = true;
    let p = SimulatedProvider::new(config, 1).unwrap();
    p.complete(request(10, 10)).await.unwrap(); // took 190 ms
    let err = p.complete(request(10, 10)).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(Duration::from_millis(59_810)));
}

#[tokio::test(start_paused = true)]
async fn a_reservation_larger_than_the_whole_quota_is_refused_for_good() {
    let p = SimulatedProvider::new(model(10).with_quota(10, 5_000, 5.0), 1).unwrap();
    let err = p.complete(request(1_000, 1_024)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
}

#[tokio::test(start_paused = true)]
async fn latency_is_time_to_first_token_plus_per_token_time() {
    let p = SimulatedProvider::new(model(101), 1).unwrap();
    let start = Instant::now();
    let answer = p.complete(request(500, 1_024)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100 + 100 * 10));
    assert_eq!(answer.usage.unwrap().input_tokens, 500);
    assert_eq!(answer.stop_reason, StopReason::EndTurn);
    assert_eq!(answer.served_by.as_str(), "sim/test");

    let truncated = p.complete(request(500, 50)).await.unwrap();
    assert_eq!(truncated.usage.unwrap().output_tokens, 50);
    assert_eq!(truncated.stop_reason, StopReason::MaxTokens);
}

#[tokio::test(start_paused = true)]
async fn outage_window_refuses_with_unavailable_then_recovers() {
    let failures = FailureConfig {
        outages: vec![Window {
            from: Duration::from_secs(60),
            to: Duration::from_secs(120),
        }],
        ..FailureConfig::default()
    };
    let p = SimulatedProvider::new(model(10).with_failures(failures), 1).unwrap();
    p.complete(request(10, 10)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    let err = p.complete(request(10, 10)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.status(), Some(503));
    tokio::time::sleep(Duration::from_secs(60)).await;
    p.complete(request(10, 10)).await.unwrap();
    assert_eq!(p.stats().outage_refusals, 1);
}

#[tokio::test(start_paused = true)]
async fn slow_window_stretches_latency() {
    let failures: FailureConfig =
        toml::from_str(r#"slow = [{ from = "0s", to = "1m", factor = 3.0 }]"#).unwrap();
    let p = SimulatedProvider::new(model(1).with_failures(failures), 1).unwrap();
    let start = Instant::now();
    p.complete(request(10, 10)).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn error_rate_injects_server_errors_at_the_configured_rate() {
    let failures = FailureConfig {
        error_rate: 0.2,
        ..FailureConfig::default()
    };
    let p = SimulatedProvider::new(model(1).with_failures(failures), 9).unwrap();
    let mut errors = 0;
    for _ in 0..2_000 {
        if let Err(e) = p.complete(request(10, 10)).await {
            assert_eq!(e.kind(), ErrorKind::Internal);
            assert_eq!(e.status(), Some(500));
            errors += 1;
        }
    }
    assert!(
        (340..460).contains(&errors),
        "{errors} errors of 2,000 at 20%"
    );
    assert_eq!(p.stats().injected_errors, errors);
}

#[tokio::test(start_paused = true)]
async fn same_seed_same_answers_and_different_seed_different_answers() {
    async fn run(seed: u64) -> Vec<(u32, Duration)> {
        let p = SimulatedProvider::new(SimulatedModelConfig::new("sim/test"), seed).unwrap();
        let mut out = Vec::new();
        for _ in 0..20 {
            let start = Instant::now();
            let a = p.complete(request(100, 1_024)).await.unwrap();
            out.push((a.usage.unwrap().output_tokens, start.elapsed()));
        }
        out
    }
    assert_eq!(run(7).await, run(7).await);
    assert_ne!(run(7).await, run(8).await);
}

#[tokio::test(start_paused = true)]
async fn stream_delivers_the_answer_in_chunks_with_usage_and_stop() {
    let p = SimulatedProvider::new(model(40), 1).unwrap();
    let start = Instant::now();
    let stream = p.stream(request(300, 1_024)).await.unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::from_millis(100),
        "returned at the first token"
    );
    let answer = collect_stream(stream).await.unwrap();
    assert_eq!(start.elapsed(), Duration::from_millis(100 + 39 * 10));
    assert_eq!(answer.usage.unwrap().output_tokens, 40);
    assert_eq!(answer.text_content().len(), 160);
    assert_eq!(p.stats().completed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_stream_is_charged_for_what_was_generated() {
    // 1,000 in + 100 max × 5 reserved = 1,500 of 2,000; a second call fits only
    // once the first is settled below 500.
    let p = SimulatedProvider::new(model(100).with_quota(10, 2_000, 5.0), 1).unwrap();
    let mut stream = p.stream(request(1_000, 100)).await.unwrap();
    let first = stream.next().await.unwrap().unwrap();
    assert!(matches!(first, StreamEvent::TextDelta { .. }));
    drop(stream); // 16 tokens generated: charged 1,000 + 80
    assert_eq!(p.stats().cancelled, 1);
    let err = p.complete(request(1_000, 100)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Throttled, "1,080 + 1,500 > 2,000");
    tokio::time::sleep(Duration::from_secs(60)).await;
    p.complete(request(1_000, 100)).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn context_window_is_enforced_and_reported() {
    let mut config = model(10);
    config.context_window = 1_000;
    let p = SimulatedProvider::new(config, 1).unwrap();
    assert_eq!(p.context_window(), Some(1_000));
    let err = p.complete(request(2_000, 10)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ContextWindowExceeded);
}

#[test]
fn a_bad_model_config_is_a_typed_error_naming_the_field() {
    let mut config = model(10);
    config.failures.error_rate = 2.0;
    let err = SimulatedProvider::new(config, 1).unwrap_err();
    assert_eq!(err.field, "failures.error_rate");
}
