//! Dead letters: the batch executor puts failures in its store, replay runs
//! them again and removes the ones answered, the in-memory store is bounded,
//! and a letter survives JSON.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_core::testing::{Outcome, ScriptedProvider};
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, ProviderId,
    async_trait,
};
use palisade_stack::{
    BatchExecutor, Candidate, DeadLetter, DeadLetterStore, Fallback, MemoryDeadLetterStore,
};

/// Fails the requests whose token estimate is in `failing` (a throttle);
/// the rest go to the scripted provider (100 ms each).
#[derive(Clone)]
struct Failing {
    model: ScriptedProvider,
    failing: Arc<Mutex<HashSet<u32>>>,
}

impl Failing {
    fn new(failing: &[u32]) -> Self {
        Self {
            model: ScriptedProvider::new("m").otherwise(Duration::from_millis(100), Outcome::Echo),
            failing: Arc::new(Mutex::new(failing.iter().copied().collect())),
        }
    }

    fn heal(&self, n: u32) {
        self.failing.lock().unwrap().remove(&n);
    }
}

#[async_trait]
impl Provider for Failing {
    fn id(&self) -> &ProviderId {
        self.model.id()
    }
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let n = req.metadata.input_token_estimate.unwrap_or(0);
        if self.failing.lock().unwrap().contains(&n) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            return Err(ProviderError::new(
                ErrorKind::Throttled,
                format!("section {n} throttled"),
            ));
        }
        self.model.complete(req).await
    }
    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        self.model.stream(req).await
    }
}

fn numbered(n: u32) -> Vec<ChatRequest> {
    (0..n)
        .map(|i| ChatRequest::user(format!("section {i}")).with_input_token_estimate(i))
        .collect()
}

fn section(letter: &DeadLetter) -> u32 {
    letter.request.metadata.input_token_estimate.unwrap()
}

#[tokio::test(start_paused = true)]
async fn failures_go_to_the_configured_store() {
    let store = Arc::new(MemoryDeadLetterStore::new());
    let provider = Failing::new(&[2, 5, 7]);
    let executor = BatchExecutor::new(provider, 3).dead_letter_store(store.clone());

    let report = executor.run(numbered(10)).await;

    assert!(report.store_errors.is_empty());
    assert_eq!(store.len().await.unwrap(), 3);
    let stored = store.list(10).await.unwrap();
    assert_eq!(
        stored, report.dead_letters,
        "the report lists what was stored"
    );
    assert_eq!(stored.iter().map(section).collect::<Vec<_>>(), [2, 5, 7]);
    assert_eq!(stored[1].error.kind, ErrorKind::Throttled);
    assert_eq!(stored[1].error.message, "section 5 throttled");
    assert_eq!(stored[1].failures, 1);
    assert_eq!(stored[1].first_failed_at_ms, stored[1].last_failed_at_ms);
    let ids: HashSet<&str> = stored.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "ids are unique");
}

#[tokio::test(start_paused = true)]
async fn replay_removes_the_answered_and_keeps_the_failing() {
    let provider = Failing::new(&[2, 5, 7]);
    let executor = BatchExecutor::new(provider.clone(), 2);
    executor.run(numbered(10)).await;
    let before = executor.store().list(10).await.unwrap();
    provider.heal(5);

    let calls_before = provider.model.calls().len();
    let started = tokio::time::Instant::now();
    let replay = executor.replay(100).await.unwrap();

    assert_eq!(
        provider.model.calls().len() - calls_before,
        1,
        "only the healed request reached the model"
    );
    // Concurrency 2: 2 and 5 together (5 takes 100 ms), 7 after 2's 10 ms.
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    let recovered: Vec<u32> = replay
        .recovered
        .iter()
        .map(|r| section(&r.letter))
        .collect();
    assert_eq!(recovered, [5]);
    assert_eq!(
        replay.recovered[0].response.usage.unwrap().input_tokens,
        5,
        "the answer to the replayed request"
    );
    let failing: Vec<u32> = replay.still_failing.iter().map(section).collect();
    assert_eq!(failing, [2, 7]);
    assert!(replay.store_errors.is_empty());
    assert_eq!((replay.progress.done, replay.progress.failed), (1, 2));

    let after = executor.store().list(10).await.unwrap();
    assert_eq!(after, replay.still_failing, "failures put back in place");
    assert_eq!(after[0].id, before[0].id);
    assert_eq!(after[0].failures, 2);
    assert_eq!(after[0].first_failed_at_ms, before[0].first_failed_at_ms);

    provider.heal(2);
    provider.heal(7);
    let replay = executor.replay(1).await.unwrap();
    assert_eq!(replay.recovered.len(), 1, "the limit is honoured");
    assert_eq!(section(&replay.recovered[0].letter), 2, "oldest first");
    assert_eq!(executor.store().len().await.unwrap(), 1);
    executor.replay(10).await.unwrap();
    assert!(executor.store().is_empty().await.unwrap());
}

#[tokio::test(start_paused = true)]
async fn the_fallback_trail_is_kept_and_survives_json() {
    let stack = Fallback::new([Candidate::new(Failing::new(&[0]))]);
    let executor = BatchExecutor::new(stack, 1);
    let report = executor
        .run(vec![
            ChatRequest::user("section 0")
                .with_input_token_estimate(0)
                .with_deadline(tokio::time::Instant::now() + Duration::from_secs(60)),
        ])
        .await;
    let letter = &report.dead_letters[0];
    assert_eq!(letter.attempts.len(), 1);
    assert_eq!(
        letter.request.metadata.deadline, None,
        "a deadline is not replayable"
    );

    let json = serde_json::to_string(letter).unwrap();
    let back: DeadLetter = serde_json::from_str(&json).unwrap();
    assert_eq!(&back, letter);
}

#[tokio::test]
async fn the_memory_store_is_bounded_and_replaces_by_id() {
    let store = MemoryDeadLetterStore::with_max_len(2);
    let error = ProviderError::new(ErrorKind::Unavailable, "down");
    let letters: Vec<DeadLetter> = (0..3)
        .map(|i| DeadLetter::new(i, ChatRequest::user(format!("r{i}")), &error, Vec::new()))
        .collect();
    for letter in &letters {
        store.put(letter).await.unwrap();
    }
    assert_eq!(store.len().await.unwrap(), 2);
    assert_eq!(
        store.list(10).await.unwrap(),
        letters[1..],
        "the oldest went"
    );

    let again = letters[1].clone().failed_again(&error, Vec::new());
    store.put(&again).await.unwrap();
    assert_eq!(
        store.list(10).await.unwrap(),
        [again.clone(), letters[2].clone()]
    );

    assert_eq!(store.take(&again.id).await.unwrap(), Some(again.clone()));
    assert_eq!(store.take(&again.id).await.unwrap(), None);
    assert!(store.remove(&letters[2].id).await.unwrap());
    assert!(!store.remove(&letters[2].id).await.unwrap());
    assert!(store.is_empty().await.unwrap());
    assert!(store.list(0).await.unwrap().is_empty());
}
