//! `RedisDeadLetterStore`: palisade-stack's [`DeadLetterStore`] on Redis, so
//! a batch's failures outlive the process that ran it and any instance can
//! replay them.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use palisade_stack::batch::{
    DEFAULT_MAX_DEAD_LETTERS, DeadLetter, DeadLetterStore, DeadLetterStoreError,
};
use redis::{FromRedisValue, Script};

use crate::connection::RedisConnection;
use crate::error::RedisStoreError;
use crate::keys::DeadLetterKeys;

static DEAD_LETTERS: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("dead_letters.lua")));

/// The queue name [`RedisDeadLetterStore::new`] uses.
pub const DEFAULT_DEAD_LETTER_QUEUE: &str = "batch";

/// A [`DeadLetterStore`] keeping one queue of dead letters in Redis: a hash
/// of id → JSON and a list of ids, oldest first, under the connection's key
/// prefix and one hash tag (`<prefix>:{<queue>}:dead_letters` and
/// `…:dead_letter_order`). Every operation is one `EVALSHA`.
///
/// The queue is bounded ([`with_max_len`](Self::with_max_len), 10 000 by
/// default: past it the oldest letters go) and may expire
/// ([`with_ttl`](Self::with_ttl): the whole queue is dropped when no letter
/// has been put for that long).
///
/// A letter holds the request as submitted: whatever the prompt contains is
/// stored in Redis. Provider credentials are never part of a request, so
/// they are never stored.
#[derive(Debug, Clone)]
pub struct RedisDeadLetterStore {
    connection: RedisConnection,
    keys: DeadLetterKeys,
    max_len: usize,
    ttl: Option<Duration>,
}

impl RedisDeadLetterStore {
    /// The queue [`DEFAULT_DEAD_LETTER_QUEUE`] over `connection`.
    pub fn new(connection: RedisConnection) -> Self {
        Self::named(connection, DEFAULT_DEAD_LETTER_QUEUE)
    }

    /// The queue called `queue` over `connection` (one per batch job kind,
    /// say).
    pub fn named(connection: RedisConnection, queue: &str) -> Self {
        let keys = DeadLetterKeys::new(&connection.config().key_prefix, queue);
        Self {
            connection,
            keys,
            max_len: DEFAULT_MAX_DEAD_LETTERS,
            ttl: None,
        }
    }

    /// Keeps at most `max_len` letters (at least 1), dropping the oldest.
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len.max(1);
        self
    }

    /// Drops the whole queue when no letter has been put for `ttl`
    /// (millisecond resolution, at least 1 ms).
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The connection.
    pub fn connection(&self) -> &RedisConnection {
        &self.connection
    }

    /// The keys of this queue.
    pub fn keys(&self) -> &DeadLetterKeys {
        &self.keys
    }

    async fn run<T: FromRedisValue>(
        &self,
        operation: &'static str,
        args: &[String],
    ) -> Result<T, DeadLetterStoreError> {
        let mut invocation = DEAD_LETTERS.prepare_invoke();
        invocation.key(&self.keys.letters).key(&self.keys.order);
        for arg in args {
            invocation.arg(arg);
        }
        let mut link = self.connection.link();
        self.connection
            .call(operation, async move {
                invocation.invoke_async(&mut link).await
            })
            .await
            .map_err(|err| self.backend(operation, &err))
    }

    fn backend(&self, operation: &'static str, err: &RedisStoreError) -> DeadLetterStoreError {
        DeadLetterStoreError::Backend {
            store: self.name(),
            operation,
            reason: err.to_string(),
        }
    }

    fn name(&self) -> String {
        format!(
            "redis {} at {}",
            self.keys.letters,
            self.connection.server()
        )
    }

    fn decode(&self, json: &str) -> Result<DeadLetter, DeadLetterStoreError> {
        serde_json::from_str(json).map_err(|err| DeadLetterStoreError::Codec {
            store: self.name(),
            id: serde_json::from_str::<serde_json::Value>(json)
                .ok()
                .and_then(|v| v.get("id").and_then(|id| id.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "(unknown)".to_owned()),
            operation: "decoded",
            reason: err.to_string(),
        })
    }
}

#[async_trait]
impl DeadLetterStore for RedisDeadLetterStore {
    async fn put(&self, letter: &DeadLetter) -> Result<(), DeadLetterStoreError> {
        let json = serde_json::to_string(letter).map_err(|err| DeadLetterStoreError::Codec {
            store: self.name(),
            id: letter.id.clone(),
            operation: "encoded",
            reason: err.to_string(),
        })?;
        let ttl_ms = self.ttl.map_or(0, |ttl| {
            u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
        });
        let dropped: u64 = self
            .run(
                "dead letter put",
                &[
                    "put".into(),
                    letter.id.clone(),
                    json,
                    self.max_len.to_string(),
                    ttl_ms.to_string(),
                ],
            )
            .await?;
        if dropped > 0 {
            tracing::info!(
                queue = %self.keys.letters,
                dropped,
                max_len = self.max_len,
                "oldest dead letters dropped for the queue's bound"
            );
        }
        Ok(())
    }

    async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DeadLetterStoreError> {
        if limit == 0 {
            // LRANGE 0 -1 would mean "all".
            return Ok(Vec::new());
        }
        let jsons: Vec<String> = self
            .run("dead letter list", &["list".into(), limit.to_string()])
            .await?;
        jsons.iter().map(|json| self.decode(json)).collect()
    }

    async fn take(&self, id: &str) -> Result<Option<DeadLetter>, DeadLetterStoreError> {
        let json: Option<String> = self
            .run("dead letter take", &["take".into(), id.to_owned()])
            .await?;
        json.map(|json| self.decode(&json)).transpose()
    }

    async fn len(&self) -> Result<usize, DeadLetterStoreError> {
        let len: u64 = self.run("dead letter count", &["len".into()]).await?;
        Ok(usize::try_from(len).unwrap_or(usize::MAX))
    }
}
