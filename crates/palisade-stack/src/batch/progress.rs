use serde::{Deserialize, Serialize};

/// Where a batch stands; passed to the progress callback after every change
/// and returned in the [`BatchReport`](super::BatchReport).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchProgress {
    /// Requests in the batch.
    pub total: usize,
    /// Requests answered.
    pub done: usize,
    /// Requests that ended in an error.
    pub failed: usize,
    /// Requests running now.
    pub in_flight: usize,
    /// Input tokens of the answers so far (cache reads and writes included).
    pub input_tokens: u64,
    /// Output tokens of the answers so far.
    pub output_tokens: u64,
}

impl BatchProgress {
    /// Requests finished, answered or failed.
    pub fn finished(&self) -> usize {
        self.done + self.failed
    }

    /// Whether every request has finished.
    pub fn is_complete(&self) -> bool {
        self.finished() == self.total
    }
}
