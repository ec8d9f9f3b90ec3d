//! Batch executor: bounded concurrency, input order, dead letters, progress,
//! priorities.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, Priority, Provider, ProviderError,
    ProviderId, async_trait,
};
use palisade_stack::{BatchExecutor, BatchProgress, Candidate, Fallback};
use proptest::prelude::*;

/// Fails every request whose token estimate is a multiple of 10; the rest go
/// to the scripted provider (100 ms each).
struct EveryTenthFails(ScriptedProvider);

#[async_trait]
impl Provider for EveryTenthFails {
    fn id(&self) -> &ProviderId {
        self.0.id()
    }
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        if req
            .metadata
            .input_token_estimate
            .unwrap_or(1)
            .is_multiple_of(10)
        {
            return Err(ProviderError::new(ErrorKind::Auth, "denied"));
        }
        self.0.complete(req).await
    }
    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.0.stream(req).await
    }
}

fn numbered(n: u32) -> Vec<ChatRequest> {
    (0..n)
        .map(|i| ChatRequest::user(format!("section {i}")).with_input_token_estimate(i))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_hundred_requests_five_at_a_time_in_order_with_dead_letters() {
    let model = ScriptedProvider::new("m").otherwise(Duration::from_millis(100), Outcome::Echo);
    let stack = Fallback::new([Candidate::new(EveryTenthFails(model.clone()))]);
    let seen: Arc<Mutex<Vec<BatchProgress>>> = Arc::default();
    let log = Arc::clone(&seen);
    let executor = BatchExecutor::new(stack, 5).on_progress(move |p| log.lock().unwrap().push(*p));

    let report = executor.run(numbered(100)).await;

    assert!(
        model.max_in_flight() <= 5,
        "max in flight {}",
        model.max_in_flight()
    );
    assert_eq!(model.max_in_flight(), 5);
    assert!(seen.lock().unwrap().iter().all(|p| p.in_flight <= 5));
    assert_eq!(report.results.len(), 100);
    for (i, result) in report.results.iter().enumerate() {
        match result {
            Ok(answer) => assert_eq!(answer.usage.unwrap().input_tokens, i as u32, "order kept"),
            Err(e) => {
                assert_eq!(i % 10, 0);
                assert_eq!(e.kind(), ErrorKind::Auth);
            }
        }
    }
    let dead: Vec<usize> = report.dead_letters.iter().map(|d| d.index).collect();
    assert_eq!(dead, (0..100).step_by(10).collect::<Vec<_>>());
    assert_eq!(
        report.dead_letters[1].request.messages[0].text(),
        "section 10"
    );
    assert_eq!(
        report.dead_letters[1].attempts.len(),
        1,
        "the fallback's trail is kept"
    );
    let last = *seen.lock().unwrap().last().unwrap();
    assert_eq!(
        (last.done, last.failed, last.in_flight, last.total),
        (90, 10, 0, 100)
    );
    assert!(last.is_complete());
    assert_eq!(report.progress, last);
    assert_eq!(
        last.input_tokens,
        (0..100u64).filter(|i| i % 10 != 0).sum::<u64>()
    );
}

#[tokio::test(start_paused = true)]
async fn higher_priorities_start_first() {
    let model = ScriptedProvider::new("m");
    let executor = BatchExecutor::new(model.clone(), 1);
    let requests = vec![
        ChatRequest::user("low").with_priority(Priority::Low),
        ChatRequest::user("normal"),
        ChatRequest::user("critical").with_priority(Priority::Critical),
        ChatRequest::user("high").with_priority(Priority::High),
    ];
    let report = executor.run(requests).await;
    let order: Vec<String> = model
        .calls()
        .iter()
        .map(|c| c.request.messages[0].text())
        .collect();
    assert_eq!(order, ["critical", "high", "normal", "low"]);
    assert_eq!(report.results.len(), 4);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Whatever the latencies and the concurrency, results come back in input order.
    #[test]
    fn results_are_in_input_order(latencies in proptest::collection::vec(0u64..50, 1..40), concurrency in 1usize..8) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        rt.block_on(async {
            let mut model = ScriptedProvider::new("m");
            for ms in &latencies {
                model = model.then(Duration::from_millis(*ms), Outcome::Echo);
            }
            let executor = BatchExecutor::new(model.clone(), concurrency);
            let report = executor.run(numbered(latencies.len() as u32)).await;
            for (i, r) in report.results.iter().enumerate() {
                prop_assert_eq!(r.as_ref().unwrap().usage.unwrap().input_tokens, i as u32);
            }
            prop_assert!(model.max_in_flight() <= concurrency);
            Ok(())
        })?;
    }
}
