//! Where dead letters are kept between a failed batch and its replay: the
//! [`DeadLetterStore`] trait and the in-memory store every executor starts
//! with.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;

use async_trait::async_trait;

use super::DeadLetter;

/// Keeps dead letters, oldest first. Object-safe, so an executor holds an
/// `Arc<dyn DeadLetterStore>`; palisade-redis has one that outlives the
/// process.
///
/// Stores are bounded: past their maximum length the oldest letters go.
#[async_trait]
pub trait DeadLetterStore: Send + Sync + fmt::Debug {
    /// Stores `letter`; a letter with the same id is replaced in place
    /// (keeping its position), which is how a failed replay is recorded.
    async fn put(&self, letter: &DeadLetter) -> Result<(), DeadLetterStoreError>;

    /// Up to `limit` letters, oldest first.
    async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DeadLetterStoreError>;

    /// Removes and returns the letter `id`, if it is there.
    async fn take(&self, id: &str) -> Result<Option<DeadLetter>, DeadLetterStoreError>;

    /// Removes the letter `id`; whether it was there.
    async fn remove(&self, id: &str) -> Result<bool, DeadLetterStoreError> {
        Ok(self.take(id).await?.is_some())
    }

    /// How many letters are kept.
    async fn len(&self) -> Result<usize, DeadLetterStoreError>;

    /// Whether no letter is kept.
    async fn is_empty(&self) -> Result<bool, DeadLetterStoreError> {
        Ok(self.len().await? == 0)
    }
}

/// A dead-letter store operation that could not be completed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DeadLetterStoreError {
    /// The store's backend failed (unreachable, refused, answered oddly).
    #[error("dead-letter store {store} could not {operation}: {reason}")]
    Backend {
        /// The store, e.g. `redis at 127.0.0.1:6379` (never credentials).
        store: String,
        /// What it was doing, e.g. `put`.
        operation: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// A stored letter could not be encoded or decoded.
    #[error("dead letter {id} in {store} could not be {operation}: {reason}")]
    Codec {
        /// The store.
        store: String,
        /// The letter's id.
        id: String,
        /// `encoded` or `decoded`.
        operation: &'static str,
        /// The serializer's complaint.
        reason: String,
    },
}

/// The most letters a [`MemoryDeadLetterStore::new`] keeps.
pub const DEFAULT_MAX_DEAD_LETTERS: usize = 10_000;

/// Dead letters in this process's memory (lost with it), oldest first, at
/// most `max_len` of them.
pub struct MemoryDeadLetterStore {
    letters: Mutex<VecDeque<DeadLetter>>,
    max_len: usize,
}

impl fmt::Debug for MemoryDeadLetterStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryDeadLetterStore")
            .field("len", &self.lock().len())
            .field("max_len", &self.max_len)
            .finish()
    }
}

impl Default for MemoryDeadLetterStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryDeadLetterStore {
    /// A store keeping at most [`DEFAULT_MAX_DEAD_LETTERS`].
    pub fn new() -> Self {
        Self::with_max_len(DEFAULT_MAX_DEAD_LETTERS)
    }

    /// A store keeping at most `max_len` letters (at least 1).
    pub fn with_max_len(max_len: usize) -> Self {
        Self {
            letters: Mutex::new(VecDeque::new()),
            max_len: max_len.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<DeadLetter>> {
        // A panic elsewhere while holding the lock leaves a valid queue.
        self.letters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl DeadLetterStore for MemoryDeadLetterStore {
    async fn put(&self, letter: &DeadLetter) -> Result<(), DeadLetterStoreError> {
        let mut letters = self.lock();
        if let Some(kept) = letters.iter_mut().find(|l| l.id == letter.id) {
            *kept = letter.clone();
            return Ok(());
        }
        letters.push_back(letter.clone());
        while letters.len() > self.max_len {
            letters.pop_front();
        }
        Ok(())
    }

    async fn list(&self, limit: usize) -> Result<Vec<DeadLetter>, DeadLetterStoreError> {
        Ok(self.lock().iter().take(limit).cloned().collect())
    }

    async fn take(&self, id: &str) -> Result<Option<DeadLetter>, DeadLetterStoreError> {
        let mut letters = self.lock();
        let position = letters.iter().position(|l| l.id == id);
        Ok(position.and_then(|p| letters.remove(p)))
    }

    async fn len(&self) -> Result<usize, DeadLetterStoreError> {
        Ok(self.lock().len())
    }
}
