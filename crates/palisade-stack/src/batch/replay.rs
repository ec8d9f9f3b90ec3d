//! Replaying dead letters: run the stored requests again, remove the ones
//! that succeed, record one more failure on the rest.

use palisade_core::{ChatResponse, Provider};

use super::{BatchExecutor, BatchProgress, DeadLetter, DeadLetterStoreError};
use crate::fallback::FallbackError;

/// A dead letter that succeeded on replay (and is gone from the store).
#[derive(Debug)]
pub struct Recovered {
    /// The letter as it was stored.
    pub letter: DeadLetter,
    /// The answer.
    pub response: ChatResponse,
}

/// The outcome of [`BatchExecutor::replay`].
#[derive(Debug)]
pub struct ReplayReport {
    /// Letters answered this time, oldest first; removed from the store
    /// (unless their removal is in `store_errors`).
    pub recovered: Vec<Recovered>,
    /// Letters that failed again, oldest first, as now stored (one more
    /// failure, the new error).
    pub still_failing: Vec<DeadLetter>,
    /// Removals and updates the store refused: a recovered letter whose
    /// removal failed will be replayed again (replay is at-least-once).
    pub store_errors: Vec<DeadLetterStoreError>,
    /// Counts of the replay run.
    pub progress: BatchProgress,
}

impl<P: Provider> BatchExecutor<P> {
    /// Runs up to `limit` of the store's oldest dead letters again, under
    /// the executor's concurrency bound, priorities and progress callback.
    /// Each one answered is removed from the store; each one that fails is
    /// put back in place with one more failure and the new error.
    ///
    /// Two replays of one store at once may both run a letter: replay is
    /// at-least-once, like the batch that failed it.
    ///
    /// # Errors
    ///
    /// When the store cannot list its letters (nothing has run then).
    pub async fn replay(&self, limit: usize) -> Result<ReplayReport, DeadLetterStoreError> {
        let letters = self.store.list(limit).await?;
        let requests: Vec<_> = letters.iter().map(|l| l.request.clone()).collect();
        let (results, progress) = self.execute(&requests).await;
        let mut report = ReplayReport {
            recovered: Vec::new(),
            still_failing: Vec::new(),
            store_errors: Vec::new(),
            progress,
        };
        for (letter, result) in letters.into_iter().zip(results) {
            match result {
                Ok(response) => {
                    if let Err(err) = self.store.remove(&letter.id).await {
                        tracing::warn!(error = %err, id = %letter.id, "replayed dead letter not removed");
                        report.store_errors.push(err);
                    }
                    report.recovered.push(Recovered { letter, response });
                }
                Err(error) => {
                    let attempts = FallbackError::attempts_of(&error).to_vec();
                    let letter = letter.failed_again(&error, attempts);
                    if let Err(err) = self.store.put(&letter).await {
                        tracing::warn!(error = %err, id = %letter.id, "failed replay not recorded");
                        report.store_errors.push(err);
                    }
                    report.still_failing.push(letter);
                }
            }
        }
        Ok(report)
    }
}
