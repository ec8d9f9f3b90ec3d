//! The baseline: a client with no limiter and no breaker that retries the way
//! the AWS SDKs' `standard` retry mode does.
//!
//! Standard mode, as the SDKs document it: at most 3 attempts; a retryable
//! error (throttling, transient 5xx, timeouts) waits
//! `random(0, 1) × min(initial_backoff × 2^(attempt − 1), max_backoff)`
//! (exponential backoff with full jitter; 1 s and 20 s in the Rust SDK);
//! every retry spends from a client-wide retry quota (500 to start, 5 per
//! retry, 10 per retry after a timeout; each first-try success puts 1 back,
//! a success after retries puts back what it spent), and when the quota is
//! empty the error is returned without retrying. The SDK ignores Bedrock's
//! (absent) retry-after.
//!
//! Beyond the SDK, the naive client moves on to the next model when the SDK
//! gives up on one (configurable): the fallback loop an application writes by
//! hand, so the comparison is with a fair baseline rather than a strawman.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use palisade_core::{
    ChatRequest, ChatResponse, ChatStream, ErrorKind, Provider, ProviderError, ProviderId,
    SharedProvider, stream_from_response,
};
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::limits::{MAX_ATTEMPTS, MAX_BACKOFF, count_within, duration_from_secs, duration_within};
use crate::rng::{SimRng, rng_for};

/// The naive client's settings (the AWS SDK's standard-mode defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NaiveConfig {
    /// Attempts per model, the first included. Default: 3.
    pub max_attempts: u32,
    /// Backoff base. Default: 1 s.
    #[serde(with = "palisade_core::duration")]
    pub initial_backoff: Duration,
    /// Backoff cap. Default: 20 s.
    #[serde(with = "palisade_core::duration")]
    pub max_backoff: Duration,
    /// Whether the client-wide retry quota applies. Default: true.
    pub retry_quota: bool,
    /// Whether to try the next model after the SDK gives up on one. Default: true.
    pub fallback: bool,
}

impl Default for NaiveConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(20),
            retry_quota: true,
            fallback: true,
        }
    }
}

impl NaiveConfig {
    /// Checks the settings; the error is `(field, what is wrong)`.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        count_within(self.max_attempts, 1, MAX_ATTEMPTS).map_err(|e| ("max_attempts", e))?;
        duration_within(self.initial_backoff, MAX_BACKOFF, true)
            .map_err(|e| ("initial_backoff", e))?;
        duration_within(self.max_backoff, MAX_BACKOFF, true).map_err(|e| ("max_backoff", e))
    }
}

/// The SDK's retry quota (a token bucket of retry permissions).
#[derive(Debug)]
struct RetryQuota {
    available: u32,
}

const RETRY_QUOTA_CAPACITY: u32 = 500;
const RETRY_COST: u32 = 5;
const TIMEOUT_RETRY_COST: u32 = 10;
const NO_RETRY_INCREMENT: u32 = 1;

#[derive(Debug)]
struct State {
    quota: RetryQuota,
    rng: SimRng,
}

/// The naive client over a list of models (the first is the primary).
pub struct NaiveClient {
    id: ProviderId,
    models: Vec<SharedProvider>,
    config: NaiveConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for NaiveClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.models.iter().map(|m| m.id().as_str()).collect();
        f.debug_struct("NaiveClient")
            .field("models", &ids)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl NaiveClient {
    /// A naive client over `models`, drawing its jitter from `seed`.
    pub fn new(models: Vec<SharedProvider>, config: NaiveConfig, seed: u64) -> Self {
        Self {
            id: ProviderId::new("naive"),
            models,
            config,
            state: Mutex::new(State {
                quota: RetryQuota {
                    available: RETRY_QUOTA_CAPACITY,
                },
                rng: rng_for(seed, "naive-client"),
            }),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a retry permission (and draws its backoff), or `None` when the
    /// retry quota is spent.
    fn retry_permission(&self, error: ErrorKind, attempt: u32) -> Option<(u32, Duration)> {
        let cost = if error == ErrorKind::Timeout {
            TIMEOUT_RETRY_COST
        } else {
            RETRY_COST
        };
        let mut state = self.state();
        if self.config.retry_quota {
            if state.quota.available < cost {
                return None;
            }
            state.quota.available -= cost;
        }
        let exp = self
            .config
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
            .min(self.config.max_backoff);
        let jitter: f64 = state.rng.random();
        Some((cost, duration_from_secs(exp.as_secs_f64() * jitter)))
    }

    fn on_success(&self, spent: u32) {
        if !self.config.retry_quota {
            return;
        }
        let mut state = self.state();
        let back = if spent == 0 {
            NO_RETRY_INCREMENT
        } else {
            spent
        };
        state.quota.available = (state.quota.available + back).min(RETRY_QUOTA_CAPACITY);
    }

    /// One model with SDK retries.
    async fn call_model(
        &self,
        model: &SharedProvider,
        req: &ChatRequest,
    ) -> Result<ChatResponse, ProviderError> {
        let mut spent = 0;
        let mut attempt = 1;
        loop {
            match model.complete(req.clone()).await {
                Ok(response) => {
                    self.on_success(spent);
                    return Ok(response);
                }
                Err(err) => {
                    if !err.is_retryable() || attempt >= self.config.max_attempts.max(1) {
                        return Err(err);
                    }
                    let Some((cost, backoff)) = self.retry_permission(err.kind(), attempt) else {
                        return Err(err);
                    };
                    spent += cost;
                    tokio::time::sleep(backoff).await;
                    attempt += 1;
                }
            }
        }
    }
}

#[async_trait]
impl Provider for NaiveClient {
    fn id(&self) -> &ProviderId {
        &self.id
    }

    async fn complete(&self, req: ChatRequest) -> Result<ChatResponse, ProviderError> {
        let mut last = ProviderError::new(ErrorKind::InvalidRequest, "no models configured");
        let tried = if self.config.fallback {
            self.models.len()
        } else {
            1
        };
        for model in self.models.iter().take(tried) {
            match self.call_model(model, &req).await {
                Ok(response) => return Ok(response),
                Err(err) => {
                    let move_on = err.is_fallback_eligible();
                    last = err;
                    if !move_on {
                        break;
                    }
                }
            }
        }
        Err(last)
    }

    async fn stream(&self, req: ChatRequest) -> Result<ChatStream, ProviderError> {
        // The naive client answers whole; a stream is the whole answer replayed.
        self.complete(req).await.map(stream_from_response)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use palisade_core::testing::ScriptedProvider;
    use tokio::time::Instant;

    use super::*;

    fn throttled() -> ProviderError {
        ProviderError::throttled("slow down", None)
    }

    #[tokio::test(start_paused = true)]
    async fn three_attempts_with_full_jitter_backoff_then_the_next_model() {
        let primary = ScriptedProvider::new("a").then_errors(5, &throttled());
        let fallback = ScriptedProvider::new("b").then_text("from b");
        let client = NaiveClient::new(
            vec![Arc::new(primary.clone()), Arc::new(fallback.clone())],
            NaiveConfig::default(),
            1,
        );
        let start = Instant::now();
        let answer = client.complete(ChatRequest::user("hi")).await.unwrap();
        assert_eq!(answer.text_content(), "from b");
        assert_eq!(primary.call_count(), 3);
        // Two backoffs: at most 1 s + 2 s.
        assert!(start.elapsed() <= Duration::from_secs(3));
        assert_eq!(client.state().quota.available, 500 - 10 + 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_empty_retry_quota_stops_retrying() {
        let primary = ScriptedProvider::new("a").then_errors(1_000, &throttled());
        let config = NaiveConfig {
            fallback: false,
            ..NaiveConfig::default()
        };
        let client = NaiveClient::new(vec![Arc::new(primary.clone())], config, 1);
        for _ in 0..60 {
            let err = client.complete(ChatRequest::user("hi")).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Throttled);
        }
        // 500 / 5 = 100 retries in all, then single attempts.
        assert_eq!(primary.call_count(), 60 + 100);
    }

    #[tokio::test(start_paused = true)]
    async fn errors_that_are_not_fallback_eligible_end_the_call() {
        let primary = ScriptedProvider::new("a").then_error(ProviderError::invalid_request("bad"));
        let fallback = ScriptedProvider::new("b");
        let client = NaiveClient::new(
            vec![Arc::new(primary), Arc::new(fallback.clone())],
            NaiveConfig::default(),
            1,
        );
        let err = client.complete(ChatRequest::user("hi")).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert_eq!(fallback.call_count(), 0);
    }
}
