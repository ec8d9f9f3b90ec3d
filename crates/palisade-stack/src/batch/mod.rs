//! Running many requests through a stack: bounded concurrency, higher
//! priorities first, results in input order, progress reports, and failures
//! collected as dead letters instead of aborting the batch.
//!
//! Dead letters go to a [`DeadLetterStore`] (in memory unless one is
//! configured; palisade-redis has one that outlives the process), and
//! [`BatchExecutor::replay`] runs them again, removing the ones that succeed.
//!
//! ```
//! # use std::sync::Arc;
//! # use palisade_core::{ChatRequest, testing::ScriptedProvider};
//! # use palisade_stack::batch::{BatchExecutor, DeadLetterStore, MemoryDeadLetterStore};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let stack = ScriptedProvider::new("m");
//! let store = Arc::new(MemoryDeadLetterStore::with_max_len(1_000));
//! let executor = BatchExecutor::new(stack, 8).dead_letter_store(store.clone());
//! let report = executor.run(vec![ChatRequest::user("summarise section 1")]).await;
//! assert_eq!(store.len().await?, report.dead_letters.len());
//! // Later (with a Redis store: in any process): run the failures again.
//! let replay = executor.replay(100).await?;
//! assert_eq!(store.len().await?, replay.still_failing.len());
//! # Ok(())
//! # }
//! ```
//!
//! A [`DeadLetter`] is serde: the request (without its deadline, a tokio
//! instant of the failed process), the error's kind, message, provider,
//! status and request id, the attempts trail, the failure count and
//! wall-clock timestamps (records for people, never used for timing).
//!
//! The executor runs its requests as futures inside the calling task, so it
//! needs no spawning and borrows the provider; the concurrency bound is the
//! number of requests in flight at once.

mod dead_letter;
mod progress;
mod replay;
mod store;

use std::fmt;
use std::sync::Arc;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use palisade_core::{ChatRequest, ChatResponse, Provider, ProviderError};

pub use dead_letter::{DeadLetter, FailureRecord};
pub use progress::BatchProgress;
pub use replay::{Recovered, ReplayReport};
pub use store::{
    DEFAULT_MAX_DEAD_LETTERS, DeadLetterStore, DeadLetterStoreError, MemoryDeadLetterStore,
};

use crate::fallback::FallbackError;

type ProgressFn = dyn Fn(&BatchProgress) + Send + Sync;

/// Runs batches of requests through a provider (normally a whole stack).
pub struct BatchExecutor<P> {
    provider: P,
    concurrency: usize,
    on_progress: Option<Arc<ProgressFn>>,
    store: Arc<dyn DeadLetterStore>,
}

impl<P> fmt::Debug for BatchExecutor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchExecutor")
            .field("concurrency", &self.concurrency)
            .field("on_progress", &self.on_progress.is_some())
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// The outcome of a batch.
#[derive(Debug)]
pub struct BatchReport {
    /// One result per request, in input order.
    pub results: Vec<Result<ChatResponse, ProviderError>>,
    /// The failed requests, in input order (each also put in the store).
    pub dead_letters: Vec<DeadLetter>,
    /// Dead letters the store could not keep: they are still in
    /// `dead_letters` above, but not in the store.
    pub store_errors: Vec<DeadLetterStoreError>,
    /// Final counts.
    pub progress: BatchProgress,
}

impl BatchReport {
    /// The answers, in input order, skipping failures.
    pub fn responses(&self) -> impl Iterator<Item = &ChatResponse> {
        self.results.iter().filter_map(|r| r.as_ref().ok())
    }
}

impl<P: Provider> BatchExecutor<P> {
    /// An executor running at most `concurrency` requests at once (at least 1).
    pub fn new(provider: P, concurrency: usize) -> Self {
        Self {
            provider,
            concurrency: concurrency.max(1),
            on_progress: None,
            store: Arc::new(MemoryDeadLetterStore::new()),
        }
    }

    /// Keeps dead letters in `store` instead of this executor's own
    /// in-memory one.
    pub fn dead_letter_store(mut self, store: Arc<dyn DeadLetterStore>) -> Self {
        self.store = store;
        self
    }

    /// The store dead letters go to.
    pub fn store(&self) -> &Arc<dyn DeadLetterStore> {
        &self.store
    }

    /// Calls `callback` after every start and every finish.
    pub fn on_progress(
        mut self,
        callback: impl Fn(&BatchProgress) + Send + Sync + 'static,
    ) -> Self {
        self.on_progress = Some(Arc::new(callback));
        self
    }

    /// The provider.
    pub fn get_ref(&self) -> &P {
        &self.provider
    }

    /// Runs every request; returns when all have finished. Failed requests
    /// are put in the dead-letter store as they are collected.
    ///
    /// Requests start in priority order (highest first, input order among
    /// equals); results come back in input order either way.
    pub async fn run(&self, requests: Vec<ChatRequest>) -> BatchReport {
        let (results, progress) = self.execute(&requests).await;
        let mut dead_letters = Vec::new();
        let mut store_errors = Vec::new();
        for (index, (request, result)) in requests.into_iter().zip(&results).enumerate() {
            let Err(error) = result else { continue };
            let mut request = request;
            request.metadata.deadline = None;
            let letter = DeadLetter::new(
                index,
                request,
                error,
                FallbackError::attempts_of(error).to_vec(),
            );
            if let Err(err) = self.store.put(&letter).await {
                tracing::warn!(error = %err, index, "dead letter not stored");
                store_errors.push(err);
            }
            dead_letters.push(letter);
        }
        BatchReport {
            results,
            dead_letters,
            store_errors,
            progress,
        }
    }

    /// Runs `requests` under the concurrency bound and priorities; results
    /// in input order.
    async fn execute(
        &self,
        requests: &[ChatRequest],
    ) -> (Vec<Result<ChatResponse, ProviderError>>, BatchProgress) {
        let total = requests.len();
        let mut start_order: Vec<usize> = (0..total).collect();
        start_order.sort_by_key(|&i| std::cmp::Reverse(requests[i].metadata.priority));
        let mut progress = BatchProgress {
            total,
            ..BatchProgress::default()
        };
        let mut results: Vec<Option<Result<ChatResponse, ProviderError>>> =
            (0..total).map(|_| None).collect();
        let mut running = FuturesUnordered::new();
        let mut queue = start_order.into_iter();
        loop {
            while running.len() < self.concurrency {
                let Some(index) = queue.next() else { break };
                let request = requests[index].clone();
                running.push(async move { (index, self.provider.complete(request).await) });
                progress.in_flight += 1;
                self.report(&progress);
            }
            let Some((index, result)) = running.next().await else {
                break;
            };
            progress.in_flight -= 1;
            match &result {
                Ok(response) => {
                    progress.done += 1;
                    if let Some(u) = &response.usage {
                        progress.input_tokens += u64::from(u.input_tokens)
                            + u64::from(u.cache_read_tokens)
                            + u64::from(u.cache_write_tokens);
                        progress.output_tokens += u64::from(u.output_tokens);
                    }
                }
                Err(_) => progress.failed += 1,
            }
            results[index] = Some(result);
            self.report(&progress);
        }
        let results: Vec<_> = results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| {
                    Err(ProviderError::new(
                        palisade_core::ErrorKind::Internal,
                        "batch request never ran",
                    ))
                })
            })
            .collect();
        (results, progress)
    }

    fn report(&self, progress: &BatchProgress) {
        if let Some(callback) = &self.on_progress {
            callback(progress);
        }
    }
}
