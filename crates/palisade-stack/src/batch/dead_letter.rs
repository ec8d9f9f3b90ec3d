//! A failed batch request kept for later: the request, why it failed, and
//! when. Serde, so a store can keep it outside the process.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use palisade_core::{Attempt, ChatRequest, ErrorKind, ProviderError, ProviderId};
use serde::{Deserialize, Serialize};

/// A request that ended in an error, with everything known about why.
///
/// The request is kept as submitted, except its
/// [`deadline`](palisade_core::RequestMetadata::deadline), which is a tokio
/// instant of the process that failed and means nothing to a replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// Unique id (128 random bits, hex), the key in a
    /// [`DeadLetterStore`](super::DeadLetterStore).
    pub id: String,
    /// Its position in the batch that first failed it.
    pub index: usize,
    /// The request, as submitted.
    pub request: ChatRequest,
    /// The last error.
    pub error: FailureRecord,
    /// The candidates tried or skipped in the last run, when a fallback was
    /// involved.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// How many runs have failed it: 1 for a fresh dead letter, one more per
    /// failed replay.
    pub failures: u32,
    /// When it first failed, milliseconds since the Unix epoch (wall clock:
    /// a record for people, never used for timing).
    pub first_failed_at_ms: u64,
    /// When it last failed, milliseconds since the Unix epoch.
    pub last_failed_at_ms: u64,
}

impl DeadLetter {
    /// A fresh dead letter for the request at `index` that failed with
    /// `error`, stamped now.
    pub fn new(
        index: usize,
        request: ChatRequest,
        error: &ProviderError,
        attempts: Vec<Attempt>,
    ) -> Self {
        let now = unix_ms_now();
        Self {
            id: format!("{:032x}", rand::random::<u128>()),
            index,
            request,
            error: FailureRecord::from(error),
            attempts,
            failures: 1,
            first_failed_at_ms: now,
            last_failed_at_ms: now,
        }
    }

    /// The same letter after one more failed run: new error and attempts,
    /// one more failure, stamped now; id, request and first failure kept.
    pub fn failed_again(mut self, error: &ProviderError, attempts: Vec<Attempt>) -> Self {
        self.error = FailureRecord::from(error);
        self.attempts = attempts;
        self.failures = self.failures.saturating_add(1);
        self.last_failed_at_ms = unix_ms_now().max(self.last_failed_at_ms);
        self
    }
}

/// The parts of a [`ProviderError`] that survive serialization (its source
/// chain does not: it is flattened into nothing more than the message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// The error's kind.
    pub kind: ErrorKind,
    /// The error's message.
    pub message: String,
    /// The provider that returned it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<ProviderId>,
    /// The HTTP status, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The provider's request id, for its support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl From<&ProviderError> for FailureRecord {
    fn from(error: &ProviderError) -> Self {
        Self {
            kind: error.kind(),
            message: error.message().to_owned(),
            provider: error.provider().cloned(),
            status: error.status(),
            request_id: error.request_id().map(str::to_owned),
        }
    }
}

impl fmt::Display for FailureRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(p) = &self.provider {
            write!(f, " from {p}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(status) = self.status {
            write!(f, " (HTTP {status})")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}
