//! `RedisDeadLetterStore` against a real redis-server: a batch's failures
//! survive a new executor and store over the same Redis, replay removes the
//! answered and keeps the failing, the queue is bounded and may be given a TTL, and
//! an unreachable Redis is reported, not hidden.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, ProviderId,
    async_trait,
};
use palisade_redis::keys::cluster_hash_tag;
use palisade_redis::testing::RedisServer;
use palisade_redis::{RedisConfig, RedisConnection, RedisDeadLetterStore};
use palisade_stack::{BatchExecutor, DeadLetter, DeadLetterStore};

/// Answers at once, except the requests whose token estimate is in
/// `failing`, which are throttled.
#[derive(Clone)]
struct Failing {
    id: ProviderId,
    failing: Arc<Mutex<HashSet<u32>>>,
    calls: Arc<Mutex<Vec<u32>>>,
}

impl Failing {
    fn new(failing: &[u32]) -> Self {
        Self {
            id: ProviderId::new("m"),
            failing: Arc::new(Mutex::new(failing.iter().copied().collect())),
            calls: Arc::default(),
        }
    }
}

#[async_trait]
impl Provider for Failing {
    fn id(&self) -> &ProviderId {
        &self.id
    }
    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let n = req.metadata.input_token_estimate.unwrap_or(0);
        self.calls.lock().unwrap().push(n);
        if self.failing.lock().unwrap().contains(&n) {
            return Err(ProviderError::new(
                ErrorKind::Throttled,
                format!("section {n} throttled"),
            ));
        }
        Ok(ChatResponse::text(
            self.id.clone(),
            format!("answer {n}"),
            None,
        ))
    }
    async fn stream(&self, _req: ChatRequest) -> Result<ChatStream, ProviderError> {
        Err(ProviderError::new(ErrorKind::Internal, "not streamed here"))
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

async fn connection(server: &RedisServer) -> RedisConnection {
    let config = RedisConfig {
        command_timeout: Duration::from_millis(300),
        retry_interval: Duration::from_millis(100),
        ..RedisConfig::with_url(server.url())
    };
    RedisConnection::connect(config).await.unwrap()
}

#[tokio::test]
async fn failures_survive_a_new_executor_and_replay_removes_the_answered() {
    let Some(server) = RedisServer::start_or_skip("failures_survive_a_new_executor") else {
        return;
    };
    let first_run = {
        let store = RedisDeadLetterStore::named(connection(&server).await, "reports");
        let executor =
            BatchExecutor::new(Failing::new(&[1, 4, 6]), 3).dead_letter_store(Arc::new(store));
        let report = executor.run(numbered(8)).await;
        assert!(report.store_errors.is_empty(), "{:?}", report.store_errors);
        report.dead_letters
        // The executor, its store and its connection end here.
    };

    let store = Arc::new(RedisDeadLetterStore::named(
        connection(&server).await,
        "reports",
    ));
    assert_eq!(store.len().await.unwrap(), 3);
    assert_eq!(
        store.list(100).await.unwrap(),
        first_run,
        "every field comes back"
    );
    assert!(
        RedisDeadLetterStore::named(connection(&server).await, "other")
            .is_empty()
            .await
            .unwrap(),
        "queues are separate"
    );

    // Section 4 is answered now; 1 and 6 still fail.
    let provider = Failing::new(&[1, 6]);
    let executor = BatchExecutor::new(provider.clone(), 2).dead_letter_store(store.clone());
    let replay = executor.replay(100).await.unwrap();
    let mut called = provider.calls.lock().unwrap().clone();
    called.sort_unstable();
    assert_eq!(called, [1, 4, 6], "only the dead letters ran");
    let recovered: Vec<u32> = replay
        .recovered
        .iter()
        .map(|r| section(&r.letter))
        .collect();
    assert_eq!(recovered, [4]);
    assert_eq!(replay.recovered[0].response.text_content(), "answer 4");
    assert!(replay.store_errors.is_empty(), "{:?}", replay.store_errors);

    let left = RedisDeadLetterStore::named(connection(&server).await, "reports")
        .list(100)
        .await
        .unwrap();
    assert_eq!(left.iter().map(section).collect::<Vec<_>>(), [1, 6]);
    assert_eq!(left, replay.still_failing);
    assert_eq!(left[0].id, first_run[0].id, "a failed replay keeps the id");
    assert_eq!(left[0].failures, 2);
    assert_eq!(left[0].first_failed_at_ms, first_run[0].first_failed_at_ms);
}

#[tokio::test]
async fn the_queue_is_bounded_oldest_first() {
    let Some(server) = RedisServer::start_or_skip("the_queue_is_bounded") else {
        return;
    };
    let store = RedisDeadLetterStore::new(connection(&server).await).with_max_len(3);
    let error = ProviderError::new(ErrorKind::Unavailable, "down");
    let letters: Vec<DeadLetter> = (0..5)
        .map(|i| DeadLetter::new(i, ChatRequest::user(format!("r{i}")), &error, Vec::new()))
        .collect();
    for letter in &letters {
        store.put(letter).await.unwrap();
    }
    assert_eq!(store.len().await.unwrap(), 3);
    assert_eq!(store.list(10).await.unwrap(), letters[2..]);
    assert_eq!(store.list(2).await.unwrap(), letters[2..4]);
    assert!(store.list(0).await.unwrap().is_empty());

    // Putting a kept letter again replaces it in place and drops nothing.
    let again = letters[2].clone().failed_again(&error, Vec::new());
    store.put(&again).await.unwrap();
    let kept = store.list(10).await.unwrap();
    assert_eq!(kept.len(), 3);
    assert_eq!(kept[0], again);

    assert_eq!(
        store.take(&letters[3].id).await.unwrap().as_ref(),
        Some(&letters[3])
    );
    assert_eq!(store.take(&letters[3].id).await.unwrap(), None);
    assert!(store.remove(&letters[4].id).await.unwrap());
    assert!(!store.remove(&letters[4].id).await.unwrap());
    assert_eq!(store.list(10).await.unwrap(), [again]);
}

#[tokio::test]
async fn the_queue_gets_the_configured_ttl() {
    let Some(server) = RedisServer::start_or_skip("the_queue_gets_the_configured_ttl") else {
        return;
    };
    let keys = RedisDeadLetterStore::new(connection(&server).await)
        .keys()
        .clone();
    assert_eq!(
        cluster_hash_tag(&keys.letters),
        cluster_hash_tag(&keys.order),
        "one hash tag, one cluster slot"
    );
    assert_eq!(keys.letters, "palisade:{batch}:dead_letters");

    let store =
        RedisDeadLetterStore::new(connection(&server).await).with_ttl(Duration::from_millis(200));
    let error = ProviderError::new(ErrorKind::Unavailable, "down");
    store
        .put(&DeadLetter::new(
            0,
            ChatRequest::user("r"),
            &error,
            Vec::new(),
        ))
        .await
        .unwrap();
    assert_eq!(store.len().await.unwrap(), 1);
    // Redis expires keys on its own clock; what this store controls is the
    // TTL it sets, read back here rather than waited for.
    let client = redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    for key in [&keys.letters, &keys.order] {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!((1..=200).contains(&ttl), "{key} expires in {ttl} ms");
    }
    let untimed = RedisDeadLetterStore::named(connection(&server).await, "untimed");
    untimed
        .put(&DeadLetter::new(
            0,
            ChatRequest::user("r"),
            &error,
            Vec::new(),
        ))
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&untimed.keys().letters)
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(ttl, -1, "no TTL unless asked");
}

#[tokio::test]
async fn an_unreachable_redis_is_reported_and_the_letters_kept_in_the_report() {
    let Some(mut server) = RedisServer::start_or_skip("an_unreachable_redis_is_reported") else {
        return;
    };
    let store = RedisDeadLetterStore::new(connection(&server).await);
    server.stop();
    let executor = BatchExecutor::new(Failing::new(&[0, 2]), 2).dead_letter_store(Arc::new(store));

    let report = executor.run(numbered(3)).await;

    assert_eq!(report.dead_letters.len(), 2);
    assert_eq!(report.store_errors.len(), 2);
    let message = report.store_errors[0].to_string();
    assert!(message.contains("dead letter put"), "{message}");
    assert!(
        message.contains("palisade:{batch}:dead_letters"),
        "{message}"
    );
    assert!(executor.replay(10).await.is_err(), "a replay cannot list");
}
